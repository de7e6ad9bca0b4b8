"""The C-0254 judgement (its definition: auditor/control/c0254.py; in prose: docs/reference.md).

A pure function of data: no I/O, no SDKs, no clock (the caller passes `today`). A cluster
passes when every required category is exported, by at least one enabled log entry, by a
setting with an accepted destination. Settings may split the categories between them. What
a setting exports and where it sends are ARM's rules, read through arm_rules.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from auditor import arm_rules
from auditor.arm_rules import CategoryGroups
from auditor.destinations import (
    DestinationCheck,
    DestinationState,
    Expectations,
    Health,
    Records,
    Sender,
    judge,
)
from auditor.model import Cluster, Destination, DestinationEvidence, DiagnosticSetting, Evidence, Finding, Status
from auditor.resource_id import path_of, resource_key

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the organisation accepts; built once from the settings."""

    required_categories: tuple[str, ...]
    accepted_destinations: frozenset[Destination]
    allowed_workspaces: frozenset[str]  # resource_key() of each; empty = any workspace
    exempt_tag: str
    portal_url: str
    expectations: Expectations = field(default_factory=Expectations)  # what a destination must prove


@dataclass(frozen=True, slots=True)
class Trail:
    """What the destination readers learned for one cluster, for the rule to weigh."""

    states: Mapping[str, DestinationState]  # by resource_key of the destination
    records: Mapping[str, Records]  # delivery, by resource_key of the destination
    now: datetime


@dataclass(frozen=True, slots=True)
class Exemption:
    """What the exemption tag says, and the note that explains it."""

    active: bool
    note: str  # why the tag does or does not exempt; "" when the tag is absent


def exemption_of(cluster: Cluster, policy: Policy, today: date) -> Exemption:
    """Read the exemption tag: `true`, or an ISO date that is today or later."""
    wanted = policy.exempt_tag.lower()
    raw = next((value for key, value in cluster.tags.items() if key.lower() == wanted), None)
    if raw is None:
        return Exemption(False, "")
    value = str(raw).strip()
    if value.lower() == "true":
        return Exemption(True, f"exempt by tag {policy.exempt_tag}=true")
    until = _iso_date(value)
    if until is None:
        return Exemption(
            False, f"tag {policy.exempt_tag}={value!r} is neither 'true' nor a YYYY-MM-DD date, so it is ignored"
        )
    if until >= today:
        return Exemption(True, f"exempt by tag {policy.exempt_tag} until {until.isoformat()}")
    return Exemption(False, f"exemption {policy.exempt_tag}={until.isoformat()} lapsed; judged normally")


def _iso_date(value: str) -> date | None:
    """Only the documented YYYY-MM-DD form (fromisoformat alone would also take 20261231)."""
    if not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def portal_url(policy: Policy, resource_id: str) -> str:
    """The cluster's diagnostic-settings blade; non-ASCII names are percent-encoded so the link is a URI."""
    return f"{policy.portal_url}/#resource{path_of(resource_id)}/diagnostics"


NON_ASCII_NOTE = (
    "Azure diagnostic settings do not support resources whose IDs hold non-ASCII characters, so this "
    "cluster's audit logs cannot be exported as it is: recreate it in a resource group with an ASCII name"
)


def evaluate(
    cluster: Cluster,
    settings: Sequence[DiagnosticSetting],
    groups: CategoryGroups | None,
    policy: Policy,
    today: date,
    notes: Sequence[str] = (),
    trail: Trail | None = None,
    groups_problem: str = "",
) -> Finding:
    """Judge one cluster from its diagnostic settings.

    `groups` may be None when the category API could not be read (`groups_problem` says why);
    a verdict that would depend on an unresolved group then becomes `error`, never a guess. `notes` are facts the
    readers learned that explain the verdict (a re-read, an unregistered provider); they
    follow the verdict's own reasons. With a `trail`, a destination counts only when what was
    read of it proves that it keeps the category (destinations.py); without one, naming an
    accepted destination is enough.
    """
    tally = _Tally(cluster, policy, groups, trail)
    for setting in settings:
        tally.add(setting)
    status, reasons = _verdict(cluster, bool(settings), policy, today, tally, groups_problem)
    return _finding(cluster, policy, status, tally.missing(), [*reasons, *tally.warnings, *notes], tally.evidence)


def _verdict(
    cluster: Cluster, has_settings: bool, policy: Policy, today: date, tally: _Tally, groups_problem: str
) -> tuple[Status, list[str]]:
    missing = tally.missing()
    exemption = exemption_of(cluster, policy, today)
    reasons: list[str] = [exemption.note] if exemption.note else []
    if exemption.active:
        if missing:
            reasons.append("would otherwise fail: missing " + ", ".join(missing))
        return Status.EXEMPT, reasons
    if missing and tally.unresolved:
        groups = ", ".join(sorted(tally.unresolved))
        why = f" ({groups_problem})" if groups_problem else ""
        reasons.append(
            f"could not resolve category group(s) {groups} because the diagnosticSettingsCategories API "
            f"was not readable{why}"
        )
        return Status.ERROR, reasons
    doubts = [f"{category}: {doubt}" for category in missing for doubt in tally.doubts[category]]
    if doubts:  # strict: a destination that could not be verified is no verdict
        return Status.ERROR, [*reasons, *doubts]
    if missing:
        if not has_settings:
            reasons.append("the cluster has no diagnostic settings")
        for category in missing:
            detail = "; ".join(tally.shortfalls[category])
            if category in tally.lost:
                reason = f"{category} is exported, but no accepted destination keeps it"
            else:
                reason = f"{category} is not exported to an accepted destination"
            reasons.append(f"{reason} ({detail})" if detail else reason)
        if not cluster.resource_id.isascii():
            reasons.append(NON_ASCII_NOTE)
        return Status.FAIL, reasons
    by_settings: dict[tuple[str, ...], list[str]] = {}
    for category in policy.required_categories:
        by_settings.setdefault(tuple(tally.covered[category]), []).append(category)
    reasons.extend(f"{', '.join(cats)} exported by {', '.join(names)}" for names, cats in by_settings.items())
    return Status.PASS, reasons


class _Tally:
    """Every setting weighed per required category: what counts, what does not and why, what was read."""

    def __init__(self, cluster: Cluster, policy: Policy, groups: CategoryGroups | None, trail: Trail | None) -> None:
        self._cluster = cluster
        self._policy = policy
        self._groups = groups
        self._trail = trail
        required = policy.required_categories
        self.covered: dict[str, list[str]] = {category: [] for category in required}  # settings exporting it
        self.shortfalls: dict[str, list[str]] = {category: [] for category in required}  # why near misses fail
        self.doubts: dict[str, list[str]] = {category: [] for category in required}  # unverifiable, under strict
        self.lost: set[str] = set()  # categories some accepted destination received but does not keep
        self.unresolved: set[str] = set()
        self.warnings: list[str] = []
        self.evidence: list[Evidence] = []

    def missing(self) -> tuple[str, ...]:
        return tuple(category for category in self._policy.required_categories if not self.covered[category])

    def add(self, setting: DiagnosticSetting) -> None:
        sent = arm_rules.exported(setting, self._groups)
        self.unresolved |= sent.unresolved
        named_off = arm_rules.disabled(setting, self._groups)
        destinations = arm_rules.destinations(setting)
        sender = Sender(
            self._cluster.resource_id, self._cluster.stopped, setting.name, setting.dedicated, setting.created_at
        )
        checks: dict[str, DestinationEvidence] = {}
        exported = []
        for category in self._policy.required_categories:
            if sent.sends(category):
                exported.append(category)
                if self._counts(setting.name, category, destinations, sender, checks):
                    self.covered[category].append(setting.name)
            elif named_off.sends(category):
                self.shortfalls[category].append(f"setting {setting.name} lists it but disabled")
        kinds = tuple(str(kind) for kind in destinations)
        self.evidence.append(Evidence(setting.name, kinds, tuple(sorted(exported)), tuple(checks.values())))

    def _counts(
        self,
        name: str,
        category: str,
        destinations: Mapping[Destination, str],
        sender: Sender,
        checks: dict[str, DestinationEvidence],
    ) -> bool:
        """True when some destination of the setting keeps `category`; otherwise the shortfalls say why."""
        if not destinations:
            self.shortfalls[category].append(f"setting {name} has no destination")
            return False
        counted = False
        for kind, target in destinations.items():
            allowed = self._policy.allowed_workspaces
            if kind not in self._policy.accepted_destinations:
                self.shortfalls[category].append(
                    f"setting {name} sends it to {kind}, which is not an accepted destination"
                )
            elif kind is Destination.WORKSPACE and allowed and resource_key(target) not in allowed:
                self.shortfalls[category].append(f"setting {name} sends it to workspace {target}, which is not allowed")
            else:
                counted |= self._keeps(name, category, kind, target, sender, checks)
        return counted

    def _keeps(
        self,
        name: str,
        category: str,
        kind: Destination,
        target: str,
        sender: Sender,
        checks: dict[str, DestinationEvidence],
    ) -> bool:
        """Whether an accepted destination keeps the category, as far as the trail shows (without one, it does)."""
        key = resource_key(target)
        state = self._trail.states.get(key) if self._trail is not None else None
        if self._trail is None or state is None:
            return True
        expect = self._policy.expectations
        strict = expect.check is DestinationCheck.STRICT
        verdict = judge(state, self._trail.records.get(key), category, sender, expect, self._trail.now)
        unverified = verdict.health is Health.UNVERIFIED
        doubtful = unverified and (strict or verdict.decisive)
        for note in (verdict.warning, verdict.reason if unverified and not doubtful else ""):
            if note and note not in self.warnings:
                self.warnings.append(note)
        if verdict.health is Health.LOST:
            self.lost.add(category)
            self.shortfalls[category].append(f"setting {name} sends it to {verdict.reason}")
        elif doubtful:
            self.doubts[category].append(verdict.reason)
        detail = verdict.reason or verdict.warning
        _record(checks, key, DestinationEvidence(target, kind, str(verdict.health), state.said, detail))
        # An unverified destination neither passes nor fails by itself: unless strict (or a requested delivery
        # check could not run), it counts as configured.
        return verdict.health is Health.KEEPS or (unverified and not doubtful)


_WORST_LAST = [str(Health.KEEPS), str(Health.UNVERIFIED), str(Health.LOST)]


def _record(checks: dict[str, DestinationEvidence], key: str, check: DestinationEvidence) -> None:
    """Keep the worst result per destination over the categories it was judged for."""
    earlier = checks.get(key)
    if earlier is None or _WORST_LAST.index(check.result) > _WORST_LAST.index(earlier.result):
        checks[key] = check


def unreadable(cluster: Cluster, reason: str, policy: Policy, today: date) -> Finding:
    """The settings could not be read: `error`, unless a tag exempts the cluster anyway."""
    exemption = exemption_of(cluster, policy, today)
    if exemption.active:
        return _finding(cluster, policy, Status.EXEMPT, (), [exemption.note, f"settings not read: {reason}"], [])
    reasons = [exemption.note, reason] if exemption.note else [reason]
    if not cluster.resource_id.isascii():
        reasons.append(NON_ASCII_NOTE)
    return _finding(cluster, policy, Status.ERROR, (), reasons, [])


def unlisted(subscription_id: str, resource_id: str, name: str, problem: str, returned: str, policy: Policy) -> Finding:
    """Something a cluster listing returned that could not be read: its own `error`, so it hides no neighbour."""
    return Finding(
        resource_id=resource_id,
        subscription_id=subscription_id,
        resource_group="",
        name=name,
        location="",
        status=Status.ERROR,
        missing_categories=(),
        reasons=(problem, f"ARM returned: {returned}"),
        evidence=(),
        portal_url=f"{policy.portal_url}/#resource/subscriptions/{subscription_id}/overview",
    )


def subscription_unreadable(subscription_id: str, display_name: str, reason: str, policy: Policy) -> Finding:
    """Clusters that could not even be listed must not vanish from the report: one `error` stands for them."""
    resource_id = f"/subscriptions/{subscription_id}"
    return Finding(
        resource_id=resource_id,
        subscription_id=subscription_id,
        resource_group="",
        name=display_name or subscription_id,
        location="",
        status=Status.ERROR,
        missing_categories=(),
        reasons=(f"could not list the subscription's clusters: {reason}",),
        evidence=(),
        portal_url=f"{policy.portal_url}/#resource{resource_id}/overview",
    )


def _finding(
    cluster: Cluster,
    policy: Policy,
    status: Status,
    missing: Sequence[str],
    reasons: Sequence[str],
    evidence: Sequence[Evidence],
) -> Finding:
    return Finding(
        resource_id=cluster.resource_id,
        subscription_id=cluster.subscription_id,
        resource_group=cluster.resource_group,
        name=cluster.name,
        location=cluster.location,
        status=status,
        missing_categories=tuple(missing),
        reasons=tuple(reasons),
        evidence=tuple(evidence),
        portal_url=portal_url(policy, cluster.resource_id),
    )
