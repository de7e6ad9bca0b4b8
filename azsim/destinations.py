"""The resources diagnostic settings send to: Log Analytics workspaces, storage accounts, Event Hubs, partners.

Each is a plain object whose attributes tests may change at any time (a workspace hitting its
daily cap, a lifecycle rule, a 403). The tenant keeps them by resource ID, apart from its
subscriptions: a central security workspace usually lives in a subscription the scanning
identity does not list, where it holds only a reader role on that one workspace.

Shapes follow the REST API specs (Azure/azure-rest-api-specs): Microsoft.OperationalInsights
2025-02-01 (WorkspacesGet.json, TablesGet.json; `workspaceCapping` with `dailyQuotaGb`,
`quotaNextResetTime`, `dataIngestionStatus`), Microsoft.Storage 2023-05-01
(StorageAccountGetProperties.json, StorageAccountGetManagementPolicy.json), Microsoft.EventHub
2024-01-01 (namespaces and their authorizationRules).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# dataIngestionStatus values (WorkspaceCapping, Microsoft.OperationalInsights spec).
INGESTION_STATES = (
    "RespectQuota",
    "ForceOn",
    "ForceOff",
    "OverQuota",
    "SubscriptionSuspended",
    "ApproachingQuota",
)
STOPPED = frozenset({"ForceOff", "OverQuota", "SubscriptionSuspended"})
# Standard tables every workspace has, whether or not data ever arrived (Azure Monitor table reference).
AUDIT_TABLES = ("AKSAudit", "AKSAuditAdmin", "AKSControlPlane", "AzureDiagnostics")


@dataclass
class AuditRecord:
    """A record a workspace holds beyond what the tenant's settings deliver (an old one, say)."""

    cluster_id: str
    category: str
    time: datetime
    table: str = "AKSAudit"


@dataclass
class SimWorkspace:
    """A Log Analytics workspace. `ingestion` is its dataIngestionStatus; `tables` overrides a table's
    (interactive, total) retention in days; `query_answer` is "ok", "partial" or "forbidden"."""

    id: str
    location: str = "westeurope"
    customer_id: str = ""
    retention_days: int = 30
    daily_quota_gb: float = -1.0
    ingestion: str = "RespectQuota"
    quota_next_reset: str = ""
    stopped_since: datetime | None = None  # when ingestion stopped (OverQuota and the like)
    provisioning_state: str = "Succeeded"
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    forbidden: bool = False  # ARM GET answers 403 (no role on the workspace)
    query_answer: str = "ok"
    records: list[AuditRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.customer_id:
            self.customer_id = str(uuid.UUID(hashlib.md5(self.id.lower().encode()).hexdigest()))

    @property
    def name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    def cap(self, status: str = "OverQuota", hours_ago: float = 2.0, resets_in_hours: float = 6.0) -> None:
        """Stop ingestion the way a daily cap does: nothing arrives from `hours_ago` until the reset."""
        if status not in STOPPED:
            raise ValueError(f"status must be one of {sorted(STOPPED)}, not {status!r}")
        now = datetime.now(UTC)
        self.ingestion = status
        self.daily_quota_gb = 1.0 if status == "OverQuota" else self.daily_quota_gb
        self.stopped_since = now - timedelta(hours=hours_ago)
        reset = (now + timedelta(hours=resets_in_hours)).replace(minute=0, second=0, microsecond=0)
        self.quota_next_reset = reset.strftime("%a, %d %b %Y %H:%M:%S GMT")

    def retention(self, table: str) -> tuple[int, int]:
        return self.tables.get(table, (self.retention_days, self.retention_days))

    def ingesting(self) -> bool:
        return self.ingestion not in STOPPED

    def to_json(self) -> dict[str, Any]:
        return {
            "properties": {
                "customerId": self.customer_id,
                "provisioningState": self.provisioning_state,
                "sku": {"name": "PerGB2018"},
                "retentionInDays": self.retention_days,
                "workspaceCapping": {
                    "dailyQuotaGb": self.daily_quota_gb,
                    "quotaNextResetTime": self.quota_next_reset,
                    "dataIngestionStatus": self.ingestion,
                },
                "publicNetworkAccessForQuery": "Enabled",
                "publicNetworkAccessForIngestion": "Enabled",
            },
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.OperationalInsights/workspaces",
            "location": self.location,
        }

    def table_json(self, table: str) -> dict[str, Any]:
        interactive, total = self.retention(table)
        defaults = table not in self.tables
        return {
            "properties": {
                "retentionInDays": interactive,
                "totalRetentionInDays": total,
                "archiveRetentionInDays": total - interactive,
                "retentionInDaysAsDefault": defaults,
                "totalRetentionInDaysAsDefault": defaults,
                "plan": "Analytics",
                "provisioningState": "Succeeded",
                "schema": {"name": table, "tableType": "Microsoft", "columns": [], "standardColumns": []},
            },
            "id": f"{self.id}/tables/{table}",
            "name": table,
        }


@dataclass
class SimStorageAccount:
    """A storage account. `lifecycle_rules` is the `default` management policy's rules (None: no policy);
    `blob_access` is "ok" or "denied" (its blob service answers 403 to the identity)."""

    id: str
    location: str = "westeurope"
    provisioning_state: str = "Succeeded"
    lifecycle_rules: list[dict[str, Any]] | None = None
    forbidden: bool = False
    blob_access: str = "ok"

    @property
    def name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    def delete_after(self, days: int, prefix: str = "", blob_types: tuple[str, ...] = ("appendBlob",)) -> None:
        """Add an enabled lifecycle rule deleting base blobs `days` after their last modification."""
        filters: dict[str, Any] = {"blobTypes": list(blob_types)}
        if prefix:
            filters["prefixMatch"] = [prefix]
        rules = self.lifecycle_rules if self.lifecycle_rules is not None else []
        rules.append(
            {
                "enabled": True,
                "name": f"delete-after-{days}d" + (f"-{len(rules)}" if rules else ""),
                "type": "Lifecycle",
                "definition": {
                    "filters": filters,
                    "actions": {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": days}}},
                },
            }
        )
        self.lifecycle_rules = rules

    def to_json(self, blob_front: str) -> dict[str, Any]:
        """As ARM answers it; `blob_front` is the simulation's blob service, standing in for
        https://<name>.blob.core.windows.net/."""
        return {
            "id": self.id,
            "kind": "StorageV2",
            "location": self.location,
            "name": self.name,
            "properties": {
                "creationTime": "2023-06-01T02:42:41.7633306Z",
                "primaryEndpoints": {"blob": f"{blob_front}/{self.name}/"},
                "primaryLocation": self.location,
                "provisioningState": self.provisioning_state,
                "statusOfPrimary": "available",
                "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2",
                "allowSharedKeyAccess": False,
            },
            "sku": {"name": "Standard_GRS", "tier": "Standard"},
            "tags": {},
            "type": "Microsoft.Storage/storageAccounts",
        }

    def policy_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.id}/managementPolicies/default",
            "name": "DefaultManagementPolicy",
            "type": "Microsoft.Storage/storageAccounts/managementPolicies",
            "properties": {
                "policy": {"rules": list(self.lifecycle_rules or [])},
                "lastModifiedTime": "2024-06-08T03:01:55.7168089Z",
            },
        }


@dataclass
class SimResource:
    """Any other destination: an Event Hubs authorization rule or a partner solution's resource.
    `api_versions` are what its provider lists for its type (for a partner, the only way to learn one)."""

    id: str
    resource_type: str
    api_versions: tuple[str, ...] = ("2024-01-01",)
    location: str = "westeurope"
    forbidden: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.id.rstrip("/").rsplit("/", 1)[-1],
            "type": self.resource_type,
            "location": self.location,
            "properties": {"provisioningState": "Succeeded"},
        }


Destination = SimWorkspace | SimStorageAccount | SimResource
