"""The scan document: the control as applied, time, findings, summary (docs/reference.md, "JSON")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.control import AppliedControl
from auditor.model import Finding, Status

# The order people want to read: what needs action first.
SEVERITY_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.EXEMPT: 2, Status.PASS: 3}


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One scan's findings and scope: what every report and the exit code are made from."""

    control: AppliedControl
    scanned_at: datetime
    findings: Sequence[Finding]
    subscriptions: int
    skipped_subscriptions: int = 0
    unregistered_subscriptions: int = 0  # scanned, but Microsoft.ContainerService is not registered: no clusters

    def counts(self) -> Counter[Status]:
        return Counter(finding.status for finding in self.findings)

    def failing(self) -> bool:
        """Exit 1 territory: a fail that was not remediated (applied and verified), or an error."""
        return any(
            finding.status is Status.ERROR
            or (finding.status is Status.FAIL and not (finding.remediation and finding.remediation.fixed))
            for finding in self.findings
        )

    def summary(self) -> dict[str, int]:
        counts = self.counts()
        summary = {"clusters": len(self.findings)}
        summary.update({str(status): counts[status] for status in Status})
        summary["subscriptions"] = self.subscriptions
        summary["skippedSubscriptions"] = self.skipped_subscriptions
        summary["unregisteredSubscriptions"] = self.unregistered_subscriptions
        return summary

    def to_json(self) -> dict[str, Any]:
        return {
            "control": self.control.to_json(),
            "scannedAt": self.scanned_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "findings": [finding.to_json() for finding in sorted(self.findings, key=_stable_order)],
            "summary": self.summary(),
        }


def _stable_order(finding: Finding) -> str:
    return finding.resource_id.lower()


def reading_order(finding: Finding) -> tuple[int, str, str, str]:
    return (
        SEVERITY_ORDER[finding.status],
        finding.subscription_id,
        finding.resource_group.lower(),
        finding.name.lower(),
    )
