"""Plain data shared by the rule, the adapters and the outputs.

Nothing here talks to Azure or imports an SDK: adapters translate SDK objects into these
types at the edge, so the rule can be tested as a pure function of data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
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
    """A diagnostic setting of one resource. Empty strings mean "no such destination"."""

    name: str
    logs: tuple[LogEntry, ...] = ()
    workspace_id: str = ""
    storage_account_id: str = ""
    event_hub_authorization_rule_id: str = ""
    event_hub_name: str = ""
    marketplace_partner_id: str = ""

    def destinations(self) -> dict[Destination, str]:
        """The sinks this setting sends to, by kind (ARM returns "" for an unset workspace)."""
        candidates = {
            Destination.WORKSPACE: self.workspace_id,
            Destination.STORAGE: self.storage_account_id,
            Destination.PARTNER: self.marketplace_partner_id,
            Destination.EVENTHUB: self.event_hub_authorization_rule_id,
        }
        return {kind: value for kind, value in candidates.items() if value and value.strip()}


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


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one setting contributes: where it sends and which required categories it exports."""

    setting: str
    destinations: tuple[str, ...]
    exported: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "destinations": list(self.destinations), "exported": list(self.exported)}


@dataclass(frozen=True, slots=True)
class Finding:
    """The verdict on one cluster, shaped as CONTRACT §4 publishes it."""

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
    remediation: Mapping[str, Any] | None = None

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
            document["remediation"] = dict(self.remediation)
        document["portalUrl"] = self.portal_url
        return document
