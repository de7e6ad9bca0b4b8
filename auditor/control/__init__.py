"""What a control is: its identity, the words every surface uses for it, its profiles. Pure data.

Every surface (the JSON document, SARIF, the HTML report, Teams cards, email, the demo) reads a
control's id, title, help link and sentences from its definition here, never from a copy of
its own. One small module per control (c0254.py) holds the definition; the judgement that
goes with it is in auditor/rule.py. A sentence that names log categories takes them from the
run's settings (`AppliedControl.categories`), since AUDITOR_REQUIRED_CATEGORIES and the
profile can change them.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of required categories, and why an organisation would choose it."""

    name: str
    categories: tuple[str, ...]
    why: str


@dataclass(frozen=True, slots=True)
class Control:
    """One benchmark control as the auditor reports it."""

    id: str  # "C-0254"
    benchmark: str  # "CIS AKS 1.2.0"
    item: str  # "2.1.1"
    title: str  # the benchmark's own title
    rule_name: str  # a PascalCase name for SARIF
    severity: str  # "Medium", as the benchmark (Kubescape) rates it
    security_severity: str  # the CVSS-like score GitHub code scanning sorts by
    help_url: str
    event_type: str  # the CloudEvents `type` of a finding of this control
    subject: str  # what the control is about, for headings: "AKS control-plane audit logs"
    requirement: str  # what a resource must do, with {categories} to fill in
    rationale: str  # why it matters, with {categories} to fill in
    fix: str  # what to do, with {categories} to fill in
    fix_command: str  # a command that does it, with {name}, {resource}, {workspace} and {logs} (shell words) to fill in
    profiles: Mapping[str, Profile]
    default_profile: str
    attack_technique: str = ""  # the MITRE ATT&CK technique a failure of the control may evidence
    attack_technique_name: str = ""

    @property
    def label(self) -> str:
        """The one line that names the control everywhere: benchmark, item and id."""
        return f"{self.benchmark} {self.item} · Kubescape {self.id}"


@dataclass(frozen=True, slots=True)
class AppliedControl:
    """A control as one run applies it: the definition, the profile and the categories required."""

    control: Control
    profile: str  # a profile name, or "custom" when AUDITOR_REQUIRED_CATEGORIES overrides it
    categories: tuple[str, ...]

    @property
    def category_text(self) -> str:
        return join_names(self.categories)

    def requirement(self) -> str:
        return self.control.requirement.format(categories=self.category_text)

    def rationale(self) -> str:
        return self.control.rationale.format(categories=self.category_text)

    def why_it_matters(self) -> str:
        """The rationale with the control it comes from, for people who read one notice alone."""
        return f"{self.rationale()} ({self.control.label})"

    def fix(self) -> str:
        return self.control.fix.format(categories=self.category_text)

    def fix_command(self) -> str:
        """The command for any cluster, what differs between clusters in angle brackets."""
        return self.control.fix_command.format(
            name="aks-audit-logs",
            resource="<cluster resource ID>",
            workspace="<Log Analytics workspace resource ID>",
            logs=logs_argument(self.categories),
        )

    def to_json(self) -> dict[str, Any]:
        c = self.control
        return {
            "id": c.id,
            "benchmark": c.benchmark,
            "item": c.item,
            "title": c.title,
            "profile": self.profile,
            "requiredCategories": list(self.categories),
        }


CUSTOM_PROFILE = "custom"


def logs_argument(categories: Sequence[str]) -> str:
    """The log entries that enable `categories`, as JSON quoted for a POSIX shell (the CLI's --logs)."""
    return shlex.quote(json.dumps([{"category": category, "enabled": True} for category in categories]))


def join_names(names: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`: how prose names categories."""
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
