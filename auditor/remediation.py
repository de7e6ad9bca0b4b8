"""The remediation planner: the smallest change that makes a failing cluster pass. Pure.

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

from auditor import arm_rules
from auditor.arm_rules import MAX_SETTINGS, CategoryGroups
from auditor.model import (
    Cluster,
    DiagnosticSetting,
    Finding,
    Remediation,
    RemediationAction,
    RemediationMode,
    RemediationResult,
    Status,
)
from auditor.resource_id import resource_key

UNTOUCHABLE_STATES = frozenset({"deleting", "failed"})


@dataclass(frozen=True, slots=True)
class Target:
    """Where remediation sends audit logs and what it may touch (from the settings)."""

    workspace_id: str
    setting_name: str
    subscriptions: frozenset[str]  # empty = every subscription in scope


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's answer, before any mode applies: a change to make, or why there is none."""

    action: RemediationAction
    setting: str
    categories: tuple[str, ...]
    result: RemediationResult  # PLANNED when there is a change to make; FAILED or SKIPPED with `reason` otherwise
    reason: str = ""

    def record(
        self, mode: RemediationMode, result: RemediationResult | None = None, reason: str | None = None
    ) -> Remediation:
        """The finding's remediation record: this plan, as it turned out in `mode`."""
        return Remediation(
            mode,
            self.action,
            self.setting,
            self.categories,
            result or self.result,
            reason if reason is not None else self.reason,
        )


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
            RemediationAction.NONE,
            target.setting_name,
            missing,
            RemediationResult.FAILED,
            "remediation cannot help: Azure diagnostic settings do not support resources whose IDs hold non-ASCII "
            "characters; the cluster has to be recreated in a resource group with an ASCII name",
        )
    workspace = resource_key(target.workspace_id)
    to_workspace = [s for s in settings if resource_key(s.workspace_id) == workspace]
    own = next((s for s in settings if s.name.lower() == target.setting_name.lower()), None)
    candidates = sorted(to_workspace, key=lambda s: s is not own)  # the auditor's own setting first
    refusals: list[str] = []
    for candidate in candidates:
        if arm_rules.uses_category_groups(candidate):
            refusals.append(
                f"setting {candidate.name} uses category groups, which ARM does not let mix with categories"
            )
            continue
        clash = _sink_clash(candidate, settings, missing, groups)
        if clash is None:
            return Plan(RemediationAction.UPDATE, candidate.name, missing, RemediationResult.PLANNED)
        refusals.append(clash)
    if own is not None and own not in to_workspace:
        reason = f"setting {own.name} exists but sends elsewhere; remediation never changes a destination"
        return Plan(RemediationAction.NONE, own.name, missing, RemediationResult.FAILED, "; ".join([*refusals, reason]))
    if len(settings) >= MAX_SETTINGS:
        reason = f"the cluster already has {MAX_SETTINGS} diagnostic settings and none can take the categories"
        return Plan(
            RemediationAction.NONE,
            target.setting_name,
            missing,
            RemediationResult.FAILED,
            "; ".join([*refusals, reason]),
        )
    return Plan(RemediationAction.CREATE, target.setting_name, missing, RemediationResult.PLANNED)


def _skip(target: Target, missing: tuple[str, ...], reason: str) -> Plan:
    return Plan(RemediationAction.NONE, target.setting_name, missing, RemediationResult.SKIPPED, reason)


def _sink_clash(
    candidate: DiagnosticSetting,
    settings: Sequence[DiagnosticSetting],
    categories: tuple[str, ...],
    groups: CategoryGroups | None,
) -> str | None:
    """Why enabling `categories` in `candidate` would break ARM's one-category-one-sink rule, or None.

    A group whose members are unknown is assumed to send everything: the worst case."""
    ours = arm_rules.sinks(candidate)
    for other in settings:
        if other is candidate:
            continue
        shared = ours & arm_rules.sinks(other)
        if not shared:
            continue
        sent = arm_rules.exported(other, groups)
        overlap = {category for category in categories if sent.may_send(category)}
        if overlap:
            kinds = ", ".join(sorted(str(kind) for kind, _ in shared))
            sent_there = ", ".join(sorted(overlap))
            return f"setting {other.name} already sends {sent_there} to the same {kinds} as {candidate.name}"
    return None
