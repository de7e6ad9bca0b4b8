"""ARM's rules for diagnostic settings, written once: what a setting sends, where, and what ARM refuses.

The rule (what passes) and the remediation planner (what may be written) both read settings
through these functions, so they can never disagree on what a setting exports. Pure data in,
plain answers out; docs/reference.md ("The verdict", "Remediation") states them in prose.

- A log entry sends a category when it is enabled and names it, or names a category group
  that contains it. Group membership comes from the resource type's
  `diagnosticSettingsCategories` API (each category lists its `categoryGroups`); `allLogs`
  contains every category, so it needs no lookup.
- A setting's destinations are its non-empty `workspaceId`, `storageAccountId`,
  `marketplacePartnerId` and `eventHubAuthorizationRuleId` (the REST API answers `""` for an
  unset workspace). Two settings share a sink when the same kind points at the same resource
  (IDs compare case-insensitively; an Event Hub also by hub name).
- ARM refuses one category to one sink from two settings of a resource (409), categories and
  category groups mixed in one setting (400), and a sixth setting on a resource (400).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditor.model import Destination, DiagnosticSetting, LogEntry
from auditor.resource_id import resource_key

ALL_LOGS = "alllogs"
MAX_SETTINGS = 5  # diagnostic settings ARM allows per resource

# category (lower-case) -> the category groups (lower-case) that contain it, as the
# resource type's diagnosticSettingsCategories API reports them.
CategoryGroups = Mapping[str, frozenset[str]]
Sink = tuple[Destination, str]  # a destination's kind and its case-folded identity


@dataclass(frozen=True, slots=True)
class Coverage:
    """The log categories some entries send, as far as ARM's answers let anyone know."""

    categories: frozenset[str] = frozenset()  # lower-case
    everything: bool = False  # an allLogs entry
    unresolved: frozenset[str] = frozenset()  # groups named whose members are unknown (no category map)

    def sends(self, category: str) -> bool:
        """Certainly sent."""
        return self.everything or category in self.categories

    def may_send(self, category: str) -> bool:
        """Sent, or possibly sent through a group that could not be resolved: the worst case."""
        return self.sends(category) or bool(self.unresolved)


def coverage(entries: Iterable[LogEntry], groups: CategoryGroups | None) -> Coverage:
    """What `entries` send, whether enabled or not (filter them first)."""
    categories: set[str] = set()
    unresolved: set[str] = set()
    everything = False
    for entry in entries:
        if entry.category:
            categories.add(entry.category.lower())
        elif entry.category_group:
            group = entry.category_group.lower()
            if group == ALL_LOGS:
                everything = True
            elif groups is None:
                unresolved.add(entry.category_group)
            else:
                categories |= {category for category, member_of in groups.items() if group in member_of}
    return Coverage(frozenset(categories), everything, frozenset(unresolved))


def exported(setting: DiagnosticSetting, groups: CategoryGroups | None) -> Coverage:
    """What the setting really sends: its enabled entries (metrics never count)."""
    return coverage((entry for entry in setting.logs if entry.enabled), groups)


def disabled(setting: DiagnosticSetting, groups: CategoryGroups | None) -> Coverage:
    """What the setting names only in disabled entries (a common near miss, worth saying)."""
    return coverage((entry for entry in setting.logs if not entry.enabled), groups)


def needs_category_groups(settings: Sequence[DiagnosticSetting]) -> bool:
    """True when some enabled entry names a group other than allLogs, whose members only ARM knows."""
    return any(exported(setting, None).unresolved for setting in settings)


def uses_category_groups(setting: DiagnosticSetting) -> bool:
    """ARM refuses categories and groups mixed in one setting: such a setting cannot take a category."""
    return any(entry.category_group for entry in setting.logs)


def destinations(setting: DiagnosticSetting) -> dict[Destination, str]:
    """The sinks the setting sends to, by kind, as ARM spelled them."""
    candidates = {
        Destination.WORKSPACE: setting.workspace_id,
        Destination.STORAGE: setting.storage_account_id,
        Destination.PARTNER: setting.marketplace_partner_id,
        Destination.EVENTHUB: setting.event_hub_authorization_rule_id,
    }
    return {kind: value for kind, value in candidates.items() if value and value.strip()}


def sinks(setting: DiagnosticSetting) -> frozenset[Sink]:
    """The setting's destinations as identities that compare equal when ARM would call them one sink."""
    found: set[Sink] = set()
    for kind, target in destinations(setting).items():
        key = resource_key(target)
        if kind is Destination.EVENTHUB:
            key = f"{key}|{setting.event_hub_name.lower()}"
        found.add((kind, key))
    return frozenset(found)
