"""What Azure Monitor delivers for the simulated tenant: the audit records each destination holds.

Nothing is stored per record; the newest record of each (cluster, category) at a destination
follows from the tenant's state, as it would in Azure:

- a setting sends each category it enables (groups expanded) to each destination it names,
  from its creation on, with an ingestion latency (Azure docs, "Log data ingestion time in
  Azure Monitor": typically 20 seconds to 3 minutes; 3 minutes here);
- into a workspace's resource-specific tables (AKSAudit, AKSAuditAdmin, AKSControlPlane) when the
  setting's logAnalyticsDestinationType is Dedicated, else into AzureDiagnostics;
- nothing arrives from a cluster after `silent_since` (stopped, or a delivery outage), nor at a
  workspace after its ingestion stopped (daily cap), nor at a destination that no longer exists.

A workspace's `records` add older rows the settings cannot explain (what a since-deleted setting sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from azsim.categories import exported_log_categories
from azsim.destinations import SimWorkspace
from azsim.tenant import SimCluster, Tenant, resource_key

INGESTION_LATENCY = timedelta(minutes=3)
_DEDICATED_TABLES = {"kube-audit": "AKSAudit", "kube-audit-admin": "AKSAuditAdmin"}
_DESTINATION_FIELDS = {"workspace": "workspaceId", "storage": "storageAccountId"}


@dataclass(frozen=True, slots=True)
class Newest:
    """The newest record of one category from one cluster at one destination."""

    cluster: SimCluster
    category: str  # lower case, as Azure Monitor writes it
    table: str  # the workspace table, or "" for a storage account
    time: datetime


def newest(tenant: Tenant, kind: str, destination_id: str, now: datetime) -> list[Newest]:
    """Every (cluster, category) a destination has received, with its newest record's time."""
    key = resource_key(destination_id)
    field = _DESTINATION_FIELDS[kind]
    destination = tenant.find_destination(destination_id)
    stopped = destination.stopped_since if isinstance(destination, SimWorkspace) and destination.stopped_since else None
    found: dict[tuple[str, str, str], Newest] = {}
    for cluster in tenant.clusters:
        for name, properties in cluster.settings.items():
            target = properties.get(field)
            times = cluster.times(name)
            if not isinstance(target, str) or not target or resource_key(target) != key or times is None:
                continue
            dedicated = str(properties.get("logAnalyticsDestinationType") or "").lower() == "dedicated"
            ends = [now - INGESTION_LATENCY] + [t for t in (cluster.silent_since, stopped) if t is not None]
            last = min(ends)
            if last < times[0] + INGESTION_LATENCY:
                continue
            for category in exported_log_categories(properties.get("logs") or []):
                table = "" if kind == "storage" else _table(category, dedicated)
                entry = (cluster.id.lower(), category, table)
                if entry not in found or found[entry].time < last:
                    found[entry] = Newest(cluster, category, table, last)
    return list(found.values())


def _table(category: str, dedicated: bool) -> str:
    if not dedicated:
        return "AzureDiagnostics"
    return _DEDICATED_TABLES.get(category, "AKSControlPlane")
