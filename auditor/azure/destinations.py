"""Reading the destinations of diagnostic settings: once per destination per scan, shared by every cluster.

Each read is one GET on ARM (plus, when a minimum retention is set, the workspace's audit
tables or the storage account's lifecycle policy), through the scan's own pipeline: the same
credential, retries, pacing and read-only guard. What it finds becomes a DestinationState,
which auditor/destinations.py judges. A failure to read is never a verdict: a 403 (typically a
central security workspace in another subscription) or an answer that cannot be read leaves the
destination unverified, saying why.

API versions: Microsoft.OperationalInsights workspaces and tables 2025-02-01, Microsoft.Storage
2023-05-01, Microsoft.EventHub 2024-01-01 (stable versions of the REST API specs). A partner
solution's resource type is not known in advance: its provider's newest stable API version is
read once per namespace (`GET /subscriptions/{id}/providers/{namespace}`, resourceTypes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from auditor.azure.connection import ArmConnection
from auditor.azure.errors import describe, error_code
from auditor.azure.listing import text
from auditor.destinations import DestinationState, LifecycleRule, Retention, table_for
from auditor.model import Destination
from auditor.resource_id import parse_resource_path, parse_workspace_id, resource_key

WORKSPACES_API_VERSION = "2025-02-01"
STORAGE_API_VERSION = "2023-05-01"
EVENTHUB_API_VERSION = "2024-01-01"
PROVIDERS_API_VERSION = "2021-04-01"

# What grants the read (infra/: the auditor's read role, or the built-in role with useBuiltInRoles).
_GRANT = {
    Destination.WORKSPACE: "name it in AUDITOR_VERIFIED_WORKSPACE_IDS to grant the identity the auditor's read role "
    "there (Log Analytics Reader with built-in roles)",
    Destination.STORAGE: "name it in AUDITOR_VERIFIED_STORAGE_ACCOUNT_IDS to grant the identity the auditor's read "
    "role there (Reader with built-in roles)",
    Destination.EVENTHUB: "grant the identity Reader on it",
    Destination.PARTNER: "grant the identity Reader on it",
}


class DestinationReader:
    """Destination states for one scan, read at most once each; concurrent callers share the read."""

    def __init__(self, connection: ArmConnection, categories: Iterable[str], min_retention_days: int) -> None:
        self._connection = connection
        # The tables the required categories land in, in either destination mode (Dedicated or not).
        self._tables = sorted({table_for(c, dedicated) for c in categories for dedicated in (True, False)})
        self._retention = min_retention_days > 0
        self._reads: dict[str, asyncio.Task[DestinationState]] = {}
        self._versions: dict[str, asyncio.Task[str]] = {}

    def state(self, kind: Destination, resource_id: str) -> Awaitable[DestinationState]:
        key = resource_key(resource_id)
        if key not in self._reads:
            self._reads[key] = asyncio.ensure_future(self._read(kind, resource_id))
        return self._reads[key]

    async def _read(self, kind: Destination, resource_id: str) -> DestinationState:
        try:
            if kind is Destination.WORKSPACE:
                return await self._workspace(resource_id)
            if kind is Destination.STORAGE:
                return await self._storage(resource_id)
            path = parse_resource_path(resource_id)
            version = EVENTHUB_API_VERSION if kind is Destination.EVENTHUB else await self._version(path)
            body, said = await self._get(f"{path}?api-version={version}")
            return DestinationState(resource_id, kind, exists=body is not None, said=said)
        except ValueError as exc:
            return DestinationState(
                resource_id, kind, readable=False, said=f"not a resource ID the auditor can read ({exc})"
            )
        except Exception as exc:
            return DestinationState(resource_id, kind, readable=False, said=_failure(kind, exc, self._timeout))

    @property
    def _timeout(self) -> float:
        return self._connection.http_timeout_seconds

    async def _get(self, path: str) -> tuple[dict[str, Any] | None, str]:
        """The resource's JSON (None when ARM says 404) and what ARM said, in a phrase; other failures raise."""
        response = await self._connection.clusters().send_request(HttpRequest("GET", path))
        if response.status_code == 404:
            return None, f"404 {error_code(HttpResponseError(response=response)) or 'ResourceNotFound'}"
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise HttpResponseError(message="ARM answered with a body that is not a JSON object", response=response)
        return body, "200"

    async def _workspace(self, resource_id: str) -> DestinationState:
        path = parse_workspace_id(resource_id).path
        body, said = await self._get(f"{path}?api-version={WORKSPACES_API_VERSION}")
        if body is None:
            return DestinationState(resource_id, Destination.WORKSPACE, exists=False, said=said)
        properties = _object(body.get("properties"))
        capping = _object(properties.get("workspaceCapping"))
        provisioning = text(properties.get("provisioningState"))
        ingestion = text(capping.get("dataIngestionStatus"))
        retention = properties.get("retentionInDays")
        words = [
            said,
            f"provisioningState {provisioning or 'unknown'}",
            f"dataIngestionStatus {ingestion or 'unknown'}",
        ]
        tables: dict[str, Retention] = {}
        if self._retention:
            tables = await self._table_retention(path)
            words.append(f"retention {retention if isinstance(retention, int) else 'unknown'} days")
        return DestinationState(
            resource_id,
            Destination.WORKSPACE,
            said=", ".join(words),
            ingestion=ingestion,
            quota_reset=text(capping.get("quotaNextResetTime")),
            provisioning=provisioning,
            customer_id=text(properties.get("customerId")),
            default_retention=retention if isinstance(retention, int) and not isinstance(retention, bool) else None,
            tables=tables,
        )

    async def _table_retention(self, workspace_path: str) -> dict[str, Retention]:
        """Retention of each audit table; a table that cannot be read falls back to the workspace default."""

        async def one(table: str) -> tuple[str, Retention | None]:
            try:
                body, _ = await self._get(f"{workspace_path}/tables/{table}?api-version={WORKSPACES_API_VERSION}")
            except Exception:
                return table, None
            return table, _retention(table, _object((body or {}).get("properties")))

        found = await asyncio.gather(*(one(table) for table in self._tables))
        return {table: retention for table, retention in found if retention is not None}

    async def _storage(self, resource_id: str) -> DestinationState:
        path = parse_resource_path(resource_id)
        body, said = await self._get(f"{path}?api-version={STORAGE_API_VERSION}")
        if body is None:
            return DestinationState(resource_id, Destination.STORAGE, exists=False, said=said)
        properties = _object(body.get("properties"))
        blob = text(_object(properties.get("primaryEndpoints")).get("blob"))
        rules: tuple[LifecycleRule, ...] = ()
        words = [said, f"provisioningState {text(properties.get('provisioningState')) or 'unknown'}"]
        if self._retention:
            policy, _ = await self._get(f"{path}/managementPolicies/default?api-version={STORAGE_API_VERSION}")
            rules = _lifecycle(policy or {})
            words.append("no lifecycle policy" if policy is None else f"{len(rules)} lifecycle rule(s) that delete")
        return DestinationState(
            resource_id,
            Destination.STORAGE,
            said=", ".join(words),
            provisioning=text(properties.get("provisioningState")),
            blob_endpoint=blob,
            lifecycle=rules,
        )

    async def _version(self, path: str) -> str:
        """The newest stable API version the provider offers for the resource's type (read once per namespace)."""
        segments = path.strip("/").split("/")
        subscription, namespace = segments[1], segments[5]
        resource_type = "/".join(segments[6::2])
        key = f"{subscription}/{namespace}".lower()
        if key not in self._versions:
            self._versions[key] = asyncio.ensure_future(self._provider(subscription, namespace))
        versions = await self._versions[key]
        chosen = _newest_stable(versions, resource_type)
        if not chosen:
            raise ValueError(f"the provider {namespace} lists no stable API version for {resource_type}")
        return chosen

    async def _provider(self, subscription: str, namespace: str) -> Any:
        body, _ = await self._get(
            f"/subscriptions/{subscription}/providers/{namespace}?api-version={PROVIDERS_API_VERSION}"
        )
        return (body or {}).get("resourceTypes") or []


def _newest_stable(resource_types: Any, resource_type: str) -> str:
    for entry in resource_types if isinstance(resource_types, list) else []:
        if isinstance(entry, dict) and text(entry.get("resourceType")).lower() == resource_type.lower():
            stable = sorted(v for v in entry.get("apiVersions") or [] if isinstance(v, str) and "preview" not in v)
            return stable[-1] if stable else ""
    return ""


def _retention(table: str, properties: Mapping[str, Any]) -> Retention | None:
    """A table's total retention (interactive plus long-term), and which numbers made it."""
    interactive, total = properties.get("retentionInDays"), properties.get("totalRetentionInDays")
    if not isinstance(total, int) or isinstance(total, bool):
        total = interactive
    if not isinstance(total, int) or isinstance(total, bool):
        return None
    archive = total - interactive if isinstance(interactive, int) and not isinstance(interactive, bool) else 0
    if archive > 0:
        return Retention(total, f"table {table}: {interactive} days interactive + {archive} long-term")
    return Retention(total, f"table {table}: {total} days")


def _lifecycle(policy: Mapping[str, Any]) -> tuple[LifecycleRule, ...]:
    """The enabled lifecycle rules that delete base blobs, with the earliest day they do."""
    rules = _object(_object(policy.get("properties")).get("policy")).get("rules")
    found = []
    for raw in rules if isinstance(rules, list) else []:
        rule = _object(raw)
        definition = _object(rule.get("definition"))
        filters = _object(definition.get("filters"))
        if rule.get("enabled") is False or text(rule.get("type")) not in ("", "Lifecycle"):
            continue
        if filters.get("blobIndexMatch"):  # only blobs carrying index tags: resource logs carry none
            continue
        # Resource logs are append blobs; a rule whose blobTypes leave them out never deletes them. The spec
        # makes blobTypes required; a rule without it is read as covering every type (the cautious reading).
        types = filters.get("blobTypes")
        if isinstance(types, list) and not any(str(t).lower() == "appendblob" for t in types):
            continue
        # actions.baseBlob.delete holds one or more conditions: days after modification, creation or last access.
        delete = _object(_object(_object(definition.get("actions")).get("baseBlob")).get("delete"))
        days = [
            value
            for condition in _DELETE_AFTER
            if isinstance(value := delete.get(condition), int | float) and not isinstance(value, bool)
        ]
        if days:
            prefixes = tuple(p for p in filters.get("prefixMatch") or [] if isinstance(p, str))
            found.append(LifecycleRule(text(rule.get("name")) or "(unnamed)", prefixes, int(min(days))))
    return tuple(found)


_DELETE_AFTER = (
    "daysAfterModificationGreaterThan",
    "daysAfterCreationGreaterThan",
    "daysAfterLastAccessTimeGreaterThan",
)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _failure(kind: Destination, exc: BaseException, timeout: float) -> str:
    reason = describe(exc, timeout)
    if isinstance(exc, HttpResponseError) and exc.status_code == 403:
        return (
            f"forbidden (403 {error_code(exc) or 'AuthorizationFailed'}): the identity may not read it; {_GRANT[kind]}"
        )
    return reason
