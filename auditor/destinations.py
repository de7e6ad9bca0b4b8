"""Whether a destination really keeps the audit trail: judged from what Azure said about it. Pure.

A setting that names a destination is configuration; the trail exists only if the destination
exists, accepts data, keeps it long enough and receives it. The adapters (auditor/azure/
destinations.py, auditor/azure/delivery.py) read each destination once per scan; this module
turns what they read into a verdict per destination and category, with the words for the
finding (docs/reference.md, "Destinations").

- A workspace or storage account that answers 404 is gone: nothing it was sent is kept.
- A workspace whose `workspaceCapping.dataIngestionStatus` is OverQuota, ForceOff or
  SubscriptionSuspended ingests nothing until the cap resets (`quotaNextResetTime`): the audit
  records of that time are lost. ApproachingQuota only warns.
- A destination the identity may not read (403, or any other failure to read it) is not
  verified: under `lenient` it neither passes nor fails the cluster by itself (the finding says
  so); under `strict` it makes the cluster `error`.
- Retention (when a minimum is set): a workspace keeps a category as long as its table's total
  retention (interactive plus long-term); a storage account as long as no lifecycle rule deletes
  the category's blobs sooner.
- Delivery (when a lookback is set): the destination must hold a record of the category from
  the cluster newer than the lookback's start; a stopped cluster and a setting younger than the
  lookback are not expected to have sent one. A delivery check that cannot run (the query fails
  or answers in part) makes the cluster `error` whatever the mode: it was asked for; only a
  storage account on which the identity holds no data role is noted as not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from auditor.model import Destination

# dataIngestionStatus values of a workspace that mean "nothing is ingested now"
# (Microsoft.OperationalInsights workspaces, WorkspaceCapping; REST API specs).
STOPPED_INGESTION = frozenset({"overquota", "forceoff", "subscriptionsuspended"})
APPROACHING_QUOTA = "approachingquota"
# Where AKS resource logs land in a workspace: resource-specific tables when the setting's
# logAnalyticsDestinationType is Dedicated, AzureDiagnostics otherwise (Azure docs, "Monitor AKS":
# AKSAudit, AKSAuditAdmin, AKSControlPlane for the other control-plane categories).
DEDICATED_TABLES = {"kube-audit": "AKSAudit", "kube-audit-admin": "AKSAuditAdmin"}
CONTROL_PLANE_TABLE = "AKSControlPlane"
LEGACY_TABLE = "AzureDiagnostics"


class DestinationCheck(StrEnum):
    """How far unverifiable destinations are trusted (AUDITOR_DESTINATION_CHECK)."""

    OFF = "off"  # configuration only: a named destination counts
    LENIENT = "lenient"  # gone or stopped destinations fail; unreadable ones are noted, not judged
    STRICT = "strict"  # an unreadable destination makes the cluster `error`


class Health(StrEnum):
    """What one destination means for one category."""

    KEEPS = "ok"  # exists, ingests, keeps long enough, receives
    LOST = "lost"  # gone, not ingesting, too short, or silent: the category does not count here
    UNVERIFIED = "unverified"  # could not be read: not judged by itself


def blob_prefix(cluster_id: str, category: str) -> str:
    """Where a cluster's records of a category land in a storage account: container, then the upper-cased
    resource ID (Azure docs, "Send Azure resource logs to storage": insights-logs-<category>/resourceId=/...)."""
    return f"insights-logs-{category}/resourceId={cluster_id.strip().rstrip('/').upper()}/"


def table_for(category: str, dedicated: bool) -> str:
    """The workspace table a category's records land in."""
    if not dedicated:
        return LEGACY_TABLE
    return DEDICATED_TABLES.get(category, CONTROL_PLANE_TABLE)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a table keeps data, and which number decided."""

    days: int
    source: str  # e.g. "table AKSAudit: 90 days interactive + 640 long-term"


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """A storage lifecycle rule that deletes blobs: which prefixes it covers and after how long."""

    name: str
    prefixes: tuple[str, ...]  # empty: every blob of the account
    days: int


@dataclass(frozen=True, slots=True)
class DestinationState:
    """What reading one destination resource found (one read per destination per scan)."""

    resource_id: str
    kind: Destination
    exists: bool = True
    readable: bool = True  # False: a 403 or another failure: the destination is not verified
    said: str = ""  # what Azure answered, in a phrase, for the finding's evidence
    ingestion: str = ""  # workspace: dataIngestionStatus
    quota_reset: str = ""  # workspace: quotaNextResetTime
    provisioning: str = ""  # provisioningState
    customer_id: str = ""  # workspace: the ID the query API takes
    blob_endpoint: str = ""  # storage: where its blobs are listed
    default_retention: int | None = None  # workspace: retentionInDays
    tables: Mapping[str, Retention] = field(default_factory=dict)  # workspace: table -> retention
    lifecycle: tuple[LifecycleRule, ...] = ()  # storage: rules that delete


@dataclass(frozen=True, slots=True)
class Records:
    """The newest audit record of each (cluster, category) a destination holds, as far as it could be read."""

    since: datetime  # the lookback's start: older records do not count
    newest: Mapping[tuple[str, str], datetime] = field(default_factory=dict)  # (cluster key, category) -> time
    failure: str = ""  # the query could not run: no conclusion
    partial: str = ""  # the query answered with a partial error: absent rows prove nothing
    denied: bool = False  # the identity holds no data role on the storage account: delivery is not checked


@dataclass(frozen=True, slots=True)
class Judgement:
    """One destination's meaning for one category of one cluster."""

    health: Health
    reason: str = ""  # why it does not count, or why it was not verified
    warning: str = ""  # worth saying though it counts (approaching the cap, provisioning state)
    decisive: bool = False  # unverified because a requested check could not run: `error` in any mode


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the organisation asks of a destination (from the settings)."""

    check: DestinationCheck = DestinationCheck.OFF
    min_retention_days: int = 0  # 0: not checked
    lookback_hours: float = 0.0  # 0: delivery not checked


@dataclass(frozen=True, slots=True)
class Sender:
    """The cluster and setting on whose behalf a destination is judged."""

    cluster_id: str
    stopped: bool
    setting: str
    dedicated: bool
    created_at: datetime | None


def judge(
    state: DestinationState,
    records: Records | None,
    category: str,
    sender: Sender,
    expect: Expectations,
    now: datetime,
) -> Judgement:
    """Does `state` keep `category` for this sender? Health, then retention, then delivery."""
    name = f"{state.kind} {state.resource_id}"
    if not state.readable:
        return Judgement(Health.UNVERIFIED, f"{name} was not verified: {state.said}")
    if not state.exists:
        return Judgement(Health.LOST, f"{name}, which no longer exists ({state.said})")
    ingestion = state.ingestion.lower()
    if ingestion in STOPPED_INGESTION:
        reset = f"; the cap resets at {state.quota_reset}" if state.quota_reset else ""
        return Judgement(
            Health.LOST, f"{name}, which is not ingesting data (dataIngestionStatus {state.ingestion}{reset})"
        )
    warnings = []
    if ingestion == APPROACHING_QUOTA:
        warnings.append(f"{name} is approaching its daily cap (ApproachingQuota): ingestion stops when it is reached")
    if state.provisioning and state.provisioning.lower() != "succeeded":
        warnings.append(f"{name} is in provisioning state {state.provisioning}")
    warning = "; ".join(warnings)
    if expect.min_retention_days:
        short = _retention_problem(state, category, sender, expect.min_retention_days)
        if short:
            return Judgement(Health.LOST, f"{name}, {short}", warning)
    if expect.lookback_hours and state.kind in (Destination.WORKSPACE, Destination.STORAGE):
        return _delivery(state, records, category, sender, expect, now, name, warning)
    return Judgement(Health.KEEPS, warning=warning)


def _retention_problem(state: DestinationState, category: str, sender: Sender, minimum: int) -> str:
    """Why the destination keeps `category` for less than `minimum` days ("" when it keeps it long enough)."""
    if state.kind is Destination.WORKSPACE:
        table = table_for(category, sender.dedicated)
        retention = state.tables.get(table)
        if retention is None and state.default_retention is not None:
            retention = Retention(state.default_retention, f"the workspace default of {state.default_retention} days")
        if retention is None:
            return ""  # nothing was said about retention: not judged (the read's evidence shows it)
        if retention.days < minimum:
            return f"which keeps {category} {retention.days} days ({retention.source}); {minimum} required"
        return ""
    if state.kind is Destination.STORAGE:
        blobs = blob_prefix(sender.cluster_id, category)
        for rule in sorted(state.lifecycle, key=lambda r: r.days):
            # A rule covers the cluster's blobs when one of its prefixes is a prefix of theirs, or narrower
            # within them (then it deletes some of them).
            applies = not rule.prefixes or any(blobs.startswith(p) or p.startswith(blobs) for p in rule.prefixes)
            if applies and rule.days < minimum:
                container = blobs.split("/", 1)[0]
                return (
                    f"whose lifecycle rule {rule.name} deletes {container} blobs after {rule.days} days; "
                    f"{minimum} required"
                )
    return ""


def _delivery(
    state: DestinationState,
    records: Records | None,
    category: str,
    sender: Sender,
    expect: Expectations,
    now: datetime,
    name: str,
    warning: str,
) -> Judgement:
    if sender.stopped:
        return Judgement(
            Health.KEEPS, warning=_join(warning, "the cluster is stopped, so no audit records are expected")
        )
    if sender.created_at is not None and (now - sender.created_at).total_seconds() < expect.lookback_hours * 3600:
        young = (
            f"setting {sender.setting} is younger than the {expect.lookback_hours:g} h lookback, "
            "so its records are not yet expected"
        )
        return Judgement(Health.KEEPS, warning=_join(warning, young))
    # Delivery was asked for: a check that cannot run makes the cluster `error`, unless the identity simply
    # holds no data role on a storage account (then delivery there is noted as not checked).
    if records is None:
        return Judgement(Health.UNVERIFIED, f"delivery to {name} could not be checked", warning, decisive=True)
    if records.failure:
        reason = f"delivery to {name} could not be checked: {records.failure}"
        return Judgement(Health.UNVERIFIED, reason, warning, decisive=not records.denied)
    newest = records.newest.get((sender.cluster_id.strip().rstrip("/").lower(), category))
    if newest is not None:
        return Judgement(Health.KEEPS, warning=warning)
    if records.partial:
        return Judgement(
            Health.UNVERIFIED,
            f"delivery to {name} could not be checked: the query answered in part ({records.partial})",
            decisive=True,
        )
    since = records.since.strftime("%Y-%m-%d %H:%M UTC")
    return Judgement(Health.LOST, f"{name}, but no {category} record has reached it since {since}", warning)


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def newest_records(rows: Sequence[tuple[str, str, datetime]]) -> dict[tuple[str, str], datetime]:
    """Rows of (cluster ID, category, time) as the newest time per (cluster key, category)."""
    newest: dict[tuple[str, str], datetime] = {}
    for cluster_id, category, moment in rows:
        key = (cluster_id.strip().rstrip("/").lower(), category.lower())
        if key not in newest or moment > newest[key]:
            newest[key] = moment
    return newest
