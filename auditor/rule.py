"""The C-0254 judgement (its definition: auditor/control/c0254.py; in prose: docs/reference.md).

A pure function of data: no I/O, no SDKs, no clock (the caller passes `today`). A cluster
passes when every required category is exported, by at least one enabled log entry, by a
setting with an accepted destination. Settings may split the categories between them. What
a setting exports and where it sends are ARM's rules, read through arm_rules.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from auditor import arm_rules
from auditor.arm_rules import CategoryGroups
from auditor.model import Cluster, Destination, DiagnosticSetting, Evidence, Finding, Status
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
) -> Finding:
    """Judge one cluster from its diagnostic settings.

    `groups` may be None when the category API could not be read; a verdict that would
    depend on an unresolved group then becomes `error`, never a guess. `notes` are facts the
    readers learned that explain the verdict (a re-read, an unregistered provider); they
    follow the verdict's own reasons.
    """
    required = policy.required_categories
    covered: dict[str, list[str]] = {category: [] for category in required}  # category -> settings exporting it
    shortfalls: dict[str, list[str]] = {category: [] for category in required}  # why near misses do not count
    unresolved: set[str] = set()
    evidence: list[Evidence] = []

    for setting in settings:
        sent = arm_rules.exported(setting, groups)
        unresolved |= sent.unresolved
        named_off = arm_rules.disabled(setting, groups)
        exported = {category for category in required if sent.sends(category)}
        disabled = {category for category in required if named_off.sends(category)}
        destinations = arm_rules.destinations(setting)
        evidence.append(Evidence(setting.name, tuple(str(kind) for kind in destinations), tuple(sorted(exported))))
        rejection = _destination_problem(setting.name, destinations, policy)
        for category in required:
            if category in exported:
                if rejection is None:
                    covered[category].append(setting.name)
                else:
                    shortfalls[category].append(rejection)
            elif category in disabled:
                shortfalls[category].append(f"setting {setting.name} lists it but disabled")

    missing = tuple(category for category in required if not covered[category])
    exemption = exemption_of(cluster, policy, today)
    reasons: list[str] = [exemption.note] if exemption.note else []

    if exemption.active:
        status = Status.EXEMPT
        if missing:
            reasons.append("would otherwise fail: missing " + ", ".join(missing))
    elif missing and unresolved:
        status = Status.ERROR
        reasons.append(
            "could not resolve category group(s) "
            + ", ".join(sorted(unresolved))
            + " because the diagnosticSettingsCategories API was not readable"
        )
    elif missing:
        status = Status.FAIL
        if not settings:
            reasons.append("the cluster has no diagnostic settings")
        for category in missing:
            detail = "; ".join(shortfalls[category])
            reason = f"{category} is not exported to an accepted destination"
            reasons.append(f"{reason} ({detail})" if detail else reason)
        if not cluster.resource_id.isascii():
            reasons.append(NON_ASCII_NOTE)
    else:
        status = Status.PASS
        by_settings: dict[tuple[str, ...], list[str]] = {}
        for category in required:
            by_settings.setdefault(tuple(covered[category]), []).append(category)
        reasons.extend(f"{', '.join(cats)} exported by {', '.join(names)}" for names, cats in by_settings.items())

    return _finding(cluster, policy, status, missing, [*reasons, *notes], evidence)


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


def _destination_problem(setting_name: str, destinations: Mapping[Destination, str], policy: Policy) -> str | None:
    """None when some destination of the setting is accepted, else why none is."""
    if not destinations:
        return f"setting {setting_name} has no destination"
    problems: list[str] = []
    for kind, target in destinations.items():
        if kind not in policy.accepted_destinations:
            problems.append(f"setting {setting_name} sends it to {kind}, which is not an accepted destination")
        elif (
            kind is Destination.WORKSPACE
            and policy.allowed_workspaces
            and resource_key(target) not in policy.allowed_workspaces
        ):
            problems.append(f"setting {setting_name} sends it to workspace {target}, which is not allowed")
        else:
            return None
    return "; ".join(problems)
