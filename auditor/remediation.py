"""The remediation planner: the smallest change that makes a failing cluster pass. Pure.

A remediation that breaks someone's logging is worse than none, and one that fights
infrastructure-as-code over a setting it does not own is worse still: the next `terraform
apply` removes the category, the drift event brings the auditor back, forever. So the
planner writes only the auditor's own setting (AUDITOR_REMEDIATION_SETTING_NAME): it adds
the missing categories to it, or creates it with just those. ARM refuses one category to one
sink from two settings (not two settings to one sink), so that is possible unless the
cluster already has five settings, or another setting already sends that very category to
the target workspace (then the fix is that setting owner's: nothing here can help). Only
with AUDITOR_REMEDIATION_EDIT_EXISTING=true may it enable the categories in another setting
that already sends to the target workspace, and the plan names the setting. It never
deletes a setting, never disables a category and never touches a destination; it refuses
to mix categories with category groups in one setting (ARM does).
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
DESTINATION_TYPE = "Dedicated"  # of a setting remediation creates: resource-specific tables AKSAudit / AKSAuditAdmin


@dataclass(frozen=True, slots=True)
class Target:
    """Where remediation sends audit logs and what it may touch (from the settings)."""

    workspace_id: str
    setting_name: str
    subscriptions: frozenset[str]  # empty = every subscription in scope
    edit_existing: bool = False  # AUDITOR_REMEDIATION_EDIT_EXISTING: may enable categories in others' settings


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
    own = next((s for s in settings if s.name.lower() == target.setting_name.lower()), None)
    if own is not None:
        return _into_own(own, settings, missing, groups, target)
    ours = DiagnosticSetting(target.setting_name, workspace_id=target.workspace_id)
    clash = _sink_clash(ours, settings, missing, groups)
    if clash is not None:
        reason = f"{clash}: ARM refuses a second setting for it, so the fix belongs to that setting's owner"
        return Plan(RemediationAction.NONE, target.setting_name, missing, RemediationResult.FAILED, reason)
    refusals: list[str] = []
    if target.edit_existing:
        workspace = resource_key(target.workspace_id)
        for candidate in (s for s in settings if resource_key(s.workspace_id) == workspace):
            refusal = _refusal(candidate, settings, missing, groups)
            if refusal is None:
                return Plan(RemediationAction.UPDATE, candidate.name, missing, RemediationResult.PLANNED)
            refusals.append(refusal)
    if len(settings) >= MAX_SETTINGS:
        others = "" if target.edit_existing else "; AUDITOR_REMEDIATION_EDIT_EXISTING=true lets it edit one of them"
        reason = (
            f"the cluster already has {MAX_SETTINGS} diagnostic settings, so the auditor cannot add its own{others}"
        )
        return Plan(
            RemediationAction.NONE,
            target.setting_name,
            missing,
            RemediationResult.FAILED,
            "; ".join([*refusals, reason]),
        )
    return Plan(RemediationAction.CREATE, target.setting_name, missing, RemediationResult.PLANNED)


def _into_own(
    own: DiagnosticSetting,
    settings: Sequence[DiagnosticSetting],
    missing: tuple[str, ...],
    groups: CategoryGroups | None,
    target: Target,
) -> Plan:
    """Add the categories to the auditor's own setting, unless that cannot work."""
    if resource_key(own.workspace_id) != resource_key(target.workspace_id):
        reason = f"setting {own.name} exists but sends elsewhere; remediation never changes a destination"
        return Plan(RemediationAction.NONE, own.name, missing, RemediationResult.FAILED, reason)
    refusal = _refusal(own, settings, missing, groups)
    if refusal is not None:
        return Plan(RemediationAction.NONE, own.name, missing, RemediationResult.FAILED, refusal)
    return Plan(RemediationAction.UPDATE, own.name, missing, RemediationResult.PLANNED)


def _refusal(
    candidate: DiagnosticSetting,
    settings: Sequence[DiagnosticSetting],
    missing: tuple[str, ...],
    groups: CategoryGroups | None,
) -> str | None:
    """Why `candidate` cannot take the categories (None when it can)."""
    if arm_rules.uses_category_groups(candidate):
        return f"setting {candidate.name} uses category groups, which ARM does not let mix with categories"
    return _sink_clash(candidate, settings, missing, groups)


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
