"""Plain data shared by the rule, the adapters and the outputs.

Nothing here talks to Azure or imports an SDK: adapters translate SDK objects into these
types at the edge, so the rule can be tested as a pure function of data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The four verdicts, exactly as every output spells them."""

    PASS = "pass"
    FAIL = "fail"
    EXEMPT = "exempt"
    ERROR = "error"


class Severity(StrEnum):
    """How serious a failing finding is, by what happened (docs/reference.md, "Attribution")."""

    HIGH = "high"  # audit logging was removed or narrowed on a cluster that passed
    MEDIUM = "medium"  # a cluster that never passed (new, or first seen failing)
    LOW = "low"  # the verdict could not be reached (`error`)


class ActorType(StrEnum):
    """Who made a change, as far as the caller's token says."""

    USER = "user"
    SERVICE_PRINCIPAL = "servicePrincipal"
    MANAGED_IDENTITY = "managedIdentity"
    UNKNOWN = "unknown"


class ChangeSource(StrEnum):
    """Where the auditor learnt who made a change."""

    EVENT = "event"  # the Event Grid event of the change
    ACTIVITY_LOG = "activityLog"  # looked up afterwards, for a failure a scan found


@dataclass(frozen=True, slots=True)
class Change:
    """The change behind a failing finding and who made it: for reporting only, never for a decision.

    Names and addresses are empty when AUDITOR_ATTRIBUTION=id; there is no Change at all when it is off.
    """

    operation: str  # e.g. Microsoft.Insights/diagnosticSettings/delete
    source: ChangeSource
    at: datetime | None = None
    setting: str = ""  # the diagnostic setting changed, when the change was one
    actor: str = ""  # UPN, display name or app name
    actor_type: ActorType = ActorType.UNKNOWN
    object_id: str = ""
    app_id: str = ""
    client_ip: str = ""
    correlation_id: str = ""
    note: str = ""  # what could not be attributed, and why

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "operation": self.operation,
            "source": str(self.source),
            "at": self.at.isoformat().replace("+00:00", "Z") if self.at else None,
            "actorType": str(self.actor_type),
        }
        for key, value in (
            ("setting", self.setting),
            ("actor", self.actor),
            ("objectId", self.object_id),
            ("appId", self.app_id),
            ("clientIp", self.client_ip),
            ("correlationId", self.correlation_id),
            ("note", self.note),
        ):
            if value:
                document[key] = value
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Change:
        """The inverse of to_json, for what the auditor stored itself (a queue message, a state record)."""
        at = document.get("at")
        return cls(
            operation=str(document.get("operation") or ""),
            source=ChangeSource(document.get("source") or ChangeSource.EVENT),
            at=datetime.fromisoformat(at.replace("Z", "+00:00")) if isinstance(at, str) and at else None,
            setting=str(document.get("setting") or ""),
            actor=str(document.get("actor") or ""),
            actor_type=ActorType(document.get("actorType") or ActorType.UNKNOWN),
            object_id=str(document.get("objectId") or ""),
            app_id=str(document.get("appId") or ""),
            client_ip=str(document.get("clientIp") or ""),
            correlation_id=str(document.get("correlationId") or ""),
            note=str(document.get("note") or ""),
        )


class Destination(StrEnum):
    """Kinds of diagnostic-setting sink, named as in AUDITOR_ACCEPTED_DESTINATIONS."""

    WORKSPACE = "workspace"
    STORAGE = "storage"
    PARTNER = "partner"
    EVENTHUB = "eventhub"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a setting's `logs`: either a category or a category group."""

    category: str | None
    category_group: str | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class DiagnosticSetting:
    """A diagnostic setting of one resource. Empty strings mean "no such destination"
    (what it sends, and where, is read through arm_rules.py)."""

    name: str
    logs: tuple[LogEntry, ...] = ()
    workspace_id: str = ""
    storage_account_id: str = ""
    event_hub_authorization_rule_id: str = ""
    event_hub_name: str = ""
    marketplace_partner_id: str = ""
    dedicated: bool = False  # logAnalyticsDestinationType Dedicated: resource-specific tables
    created_at: datetime | None = None  # systemData.createdAt, when ARM says


@dataclass(frozen=True, slots=True)
class Cluster:
    """A managed cluster as listed by ARM; `resource_id` keeps ARM's spelling and case."""

    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    location: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    provisioning_state: str = ""
    power_state: str = ""  # properties.powerState.code: Running, Stopped

    @property
    def stopped(self) -> bool:
        return self.power_state.lower() == "stopped"


@dataclass(frozen=True, slots=True)
class DestinationEvidence:
    """What was checked of one destination, and what Azure said about it."""

    resource_id: str
    kind: Destination
    result: str  # "ok", "lost" or "unverified" (the worst over the categories it was judged for)
    said: str  # what Azure answered
    detail: str = ""  # why it does not count, or what is worth knowing although it does

    def to_json(self) -> dict[str, Any]:
        document = {"resourceId": self.resource_id, "kind": str(self.kind), "result": self.result, "said": self.said}
        if self.detail:
            document["detail"] = self.detail
        return document


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one setting contributes: where it sends and which required categories it exports."""

    setting: str
    destinations: tuple[str, ...]
    exported: tuple[str, ...]
    checks: tuple[DestinationEvidence, ...] = ()  # only when destinations were read

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "setting": self.setting,
            "destinations": list(self.destinations),
            "exported": list(self.exported),
        }
        if self.checks:
            document["checks"] = [check.to_json() for check in self.checks]
        return document


class RemediationMode(StrEnum):
    """How far remediation may go (AUDITOR_REMEDIATION_MODE)."""

    OFF = "off"
    DRY_RUN = "dry-run"
    APPLY = "apply"


class RemediationAction(StrEnum):
    """What remediation does to a setting."""

    CREATE = "create"
    UPDATE = "update"
    NONE = "none"


class RemediationResult(StrEnum):
    """How a remediation turned out."""

    PLANNED = "planned"  # dry-run: what apply would do
    APPLIED = "applied"  # written, read back and verified
    FAILED = "failed"  # no safe change exists, or the write or its verification failed
    SKIPPED = "skipped"  # a guard kept the auditor's hands off
    HELD_BACK = "held-back"  # the last fix was undone within the cool-down: fix it where the setting is owned


@dataclass(frozen=True, slots=True)
class Remediation:
    """What remediation did (or would do) for one finding; only `applied` counts as fixed."""

    mode: RemediationMode
    action: RemediationAction
    setting: str
    categories: tuple[str, ...]
    result: RemediationResult
    reason: str = ""

    @property
    def fixed(self) -> bool:
        return self.result is RemediationResult.APPLIED

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "mode": str(self.mode),
            "action": str(self.action),
            "setting": self.setting,
            "categories": list(self.categories),
            "result": str(self.result),
        }
        if self.reason:
            document["reason"] = self.reason
        return document


@dataclass(frozen=True, slots=True)
class Fixes:
    """The missing diagnostic setting of a failing cluster, ready to paste (auditor/fixes.py)."""

    az: str  # an Azure CLI command for a POSIX shell
    bicep: str  # a Bicep file for the cluster's resource group
    terraform: str  # an azurerm_monitor_diagnostic_setting resource

    def to_json(self) -> dict[str, str]:
        return {"az": self.az, "bicep": self.bicep, "terraform": self.terraform}


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one cluster, as every output publishes it (docs/reference.md, "JSON")."""

    resource_id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str
    status: Status
    missing_categories: tuple[str, ...]
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    portal_url: str
    remediation: Remediation | None = None
    severity: Severity | None = None  # failing findings only, once their history is known
    change: Change | None = None  # the change behind a failure and who made it, when known
    fixes: Fixes | None = None  # failing findings only: what the owner can paste

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "resourceId": self.resource_id,
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "name": self.name,
            "location": self.location,
            "status": str(self.status),
            "missingCategories": list(self.missing_categories),
            "reasons": list(self.reasons),
            "evidence": [item.to_json() for item in self.evidence],
        }
        if self.severity is not None:
            document["severity"] = str(self.severity)
        if self.change is not None:
            document["change"] = self.change.to_json()
        if self.remediation is not None:
            document["remediation"] = self.remediation.to_json()
        if self.fixes is not None:
            document["fixes"] = self.fixes.to_json()
        document["portalUrl"] = self.portal_url
        return document


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """What the auditor remembers of one cluster between runs (one table row per cluster).

    `status` and `first_failed_at` follow what was seen; the `notified_*` fields follow what
    people were told, so a notice that could not be delivered is decided again next time. The
    `pending_*` fields are a notice claimed but not yet delivered: committed to `notified_*` after
    delivery, taken over by a later run once its lease (notices.NOTICE_LEASE) has passed.
    """

    status: str = ""
    first_failed_at: datetime | None = None
    notified_status: str = ""
    notified_hash: str = ""
    last_notified_at: datetime | None = None
    severity: str = ""  # of the current failure: a reminder keeps it
    change: str = ""  # JSON of the Change behind the current failure, when known
    pending_status: str = ""
    pending_hash: str = ""
    pending_at: datetime | None = None
