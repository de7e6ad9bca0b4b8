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
        if self.remediation is not None:
            document["remediation"] = self.remediation.to_json()
        document["portalUrl"] = self.portal_url
        return document


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """What the auditor remembers of one cluster between runs (one table row per cluster).

    `status` and `first_failed_at` follow what was seen; the `notified_*` fields follow what
    people were told, so a notice that could not be delivered is decided again next time.
    """

    status: str = ""
    first_failed_at: datetime | None = None
    notified_status: str = ""
    notified_hash: str = ""
    last_notified_at: datetime | None = None
