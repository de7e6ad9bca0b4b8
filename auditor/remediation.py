"""The remediation planner (CONTRACT §7): the smallest change that makes a failing cluster pass. Pure.

A remediation that breaks someone's logging is worse than none, so the planner only ever
adds: it enables the missing categories in the auditor's own setting when that setting
already sends to the target workspace, else in another setting that does (ARM refuses one
category to one sink from two settings, and categories mixed with category groups in one
setting), else it creates the auditor's setting with only
the missing categories. It never deletes a setting, never disables a category and never
touches a destination. Every plan also respects ARM's sink rule for the chosen setting's
other sinks, and a cluster with five settings and none usable gets a `failed` plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from auditor.model import Cluster, DiagnosticSetting, Finding, Status
from auditor.resource_id import resource_key
from auditor.rule import ALL_LOGS, CategoryGroups

MAX_SETTINGS = 5  # ARM's limit of diagnostic settings per resource
UNTOUCHABLE_STATES = frozenset({"deleting", "failed"})


class Mode(StrEnum):
    OFF = "off"
    DRY_RUN = "dry-run"
    APPLY = "apply"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    NONE = "none"


class Result(StrEnum):
    PLANNED = "planned"  # dry-run: what apply would do
    APPLIED = "applied"  # written, read back and verified
    FAILED = "failed"  # no safe change exists, or the write or its verification failed
    SKIPPED = "skipped"  # a guard kept the auditor's hands off


@dataclass(frozen=True, slots=True)
class Target:
    """Where remediation sends audit logs and what it may touch (from the settings)."""

    workspace_id: str
    setting_name: str
    subscriptions: frozenset[str]  # empty = every subscription in scope


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    setting: str
    categories: tuple[str, ...]
    result: Result  # PLANNED when there is a change to make; FAILED or SKIPPED with `reason` otherwise
    reason: str = ""

    def to_json(self, mode: Mode, result: Result | None = None, reason: str | None = None) -> dict[str, object]:
        document: dict[str, object] = {
            "mode": str(mode),
            "action": str(self.action),
            "setting": self.setting,
            "categories": list(self.categories),
            "result": str(result or self.result),
        }
        if reason or self.reason:
            document["reason"] = reason if reason is not None else self.reason
        return document


def plan(
    cluster: Cluster,
    finding: Finding,
    settings: Sequence[DiagnosticSetting],
    groups: CategoryGroups | None,
    target: Target,
) -> Plan | None:
    """None when there is nothing to remediate (only `fail` findings are)."""
    if finding.status is not Status.FAIL or not finding.missing_categories:
        return None
    missing = finding.missing_categories
    if target.subscriptions and cluster.subscription_id.lower() not in target.subscriptions:
        return _skip(target, missing, "subscription is not in AUDITOR_REMEDIATION_SUBSCRIPTIONS")
    if cluster.provisioning_state.lower() in UNTOUCHABLE_STATES:
        return _skip(target, missing, f"cluster is in provisioning state {cluster.provisioning_state}; left alone")
    if not cluster.resource_id.isascii():
        return Plan(
            Action.NONE,
            target.setting_name,
            missing,
            Result.FAILED,
            "remediation cannot help: Azure diagnostic settings do not support resources whose IDs hold non-ASCII "
            "characters; the cluster has to be recreated in a resource group with an ASCII name",
        )
    workspace = resource_key(target.workspace_id)
    to_workspace = [s for s in settings if resource_key(s.workspace_id) == workspace]
    own = next((s for s in settings if s.name.lower() == target.setting_name.lower()), None)
    candidates = sorted(to_workspace, key=lambda s: s is not own)  # the auditor's own setting first
    refusals: list[str] = []
    for candidate in candidates:
        if any(entry.category_group for entry in candidate.logs):
            refusals.append(
                f"setting {candidate.name} uses category groups, which ARM does not let mix with categories"
            )
            continue
        clash = _sink_clash(candidate, settings, missing, groups)
        if clash is None:
            return Plan(Action.UPDATE, candidate.name, missing, Result.PLANNED)
        refusals.append(clash)
    if own is not None and own not in to_workspace:
        reason = f"setting {own.name} exists but sends elsewhere; remediation never changes a destination"
        return Plan(Action.NONE, own.name, missing, Result.FAILED, "; ".join([*refusals, reason]))
    if len(settings) >= MAX_SETTINGS:
        reason = f"the cluster already has {MAX_SETTINGS} diagnostic settings and none can take the categories"
        return Plan(Action.NONE, target.setting_name, missing, Result.FAILED, "; ".join([*refusals, reason]))
    return Plan(Action.CREATE, target.setting_name, missing, Result.PLANNED)


def _skip(target: Target, missing: tuple[str, ...], reason: str) -> Plan:
    return Plan(Action.NONE, target.setting_name, missing, Result.SKIPPED, reason)


def _sinks(setting: DiagnosticSetting) -> set[tuple[str, str]]:
    sinks = set()
    if setting.workspace_id:
        sinks.add(("workspace", resource_key(setting.workspace_id)))
    if setting.storage_account_id:
        sinks.add(("storage", resource_key(setting.storage_account_id)))
    if setting.event_hub_authorization_rule_id:
        sinks.add(
            ("eventhub", f"{resource_key(setting.event_hub_authorization_rule_id)}|{setting.event_hub_name.lower()}")
        )
    if setting.marketplace_partner_id:
        sinks.add(("partner", resource_key(setting.marketplace_partner_id)))
    return sinks


def _enabled(setting: DiagnosticSetting, groups: CategoryGroups | None) -> set[str] | None:
    """Categories the setting sends (None when a group cannot be resolved: assume the worst)."""
    enabled: set[str] = set()
    for entry in setting.logs:
        if not entry.enabled:
            continue
        if entry.category:
            enabled.add(entry.category.lower())
        elif entry.category_group:
            group = entry.category_group.lower()
            if group == ALL_LOGS:
                return None
            if groups is None:
                return None
            enabled |= {category for category, member in groups.items() if group in member}
    return enabled


def _sink_clash(
    candidate: DiagnosticSetting,
    settings: Sequence[DiagnosticSetting],
    categories: tuple[str, ...],
    groups: CategoryGroups | None,
) -> str | None:
    """Why enabling `categories` in `candidate` would break ARM's one-category-one-sink rule, or None."""
    ours = _sinks(candidate)
    for other in settings:
        if other is candidate:
            continue
        shared = ours & _sinks(other)
        if not shared:
            continue
        sent = _enabled(other, groups)
        overlap = set(categories) if sent is None else sent & set(categories)
        if overlap:
            kinds = ", ".join(sorted(kind for kind, _ in shared))
            sent_there = ", ".join(sorted(overlap))
            return f"setting {other.name} already sends {sent_there} to the same {kinds} as {candidate.name}"
    return None
