"""When people are told, and what kind of message they get. Pure.

With recorded state (docs/reference.md, "Notifications"), Teams and email speak on changes only: a new failure
(or a failure whose reasons changed), a reminder after AUDITOR_RENOTIFY_HOURS, and a
resolution. Without state (a CLI run), every failing finding is a notice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from auditor.attribution import sentence
from auditor.model import Finding, FindingRecord, RemediationResult, Status

NEEDS_ACTION = frozenset({Status.FAIL, Status.ERROR})


class NoticeKind(StrEnum):
    """The three things people are told about a cluster."""

    NEW = "new"  # newly failing (or erroring), or failing for new reasons
    REMINDER = "reminder"  # still failing, last told AUDITOR_RENOTIFY_HOURS ago or more
    RESOLVED = "resolved"  # was failing, now passes (or is exempt)


@dataclass(frozen=True, slots=True)
class Notice:
    """One message-worthy change of one cluster, for Teams and email."""

    finding: Finding
    kind: NoticeKind
    first_failed_at: datetime | None = None  # when the current failure started, if known


def reasons_hash(finding: Finding) -> str:
    """Same status, same missing categories, same reasons: nothing new to say. A fix held back
    because it was undone is news of its own (the fix belongs in someone's code)."""
    parts = [str(finding.status), *finding.missing_categories, *finding.reasons]
    if finding.remediation is not None and finding.remediation.result is RemediationResult.HELD_BACK:
        parts.append(str(RemediationResult.HELD_BACK))
    text = "\n".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def next_notice(
    previous: FindingRecord | None, finding: Finding, now: datetime, renotify_hours: float, speaks: bool = True
) -> tuple[FindingRecord, Notice | None]:
    """The cluster's new record and the notice its finding deserves, if any. When nobody is told
    (`speaks` False: no Teams, no email) only what was seen is recorded, so people configured later
    still hear of failures that are already there."""
    before = previous or FindingRecord()
    failing = finding.status in NEEDS_ACTION
    was_failing = before.status in NEEDS_ACTION
    first_failed = None
    if failing:
        first_failed = before.first_failed_at if was_failing and before.first_failed_at else now
    seen = replace(before, status=str(finding.status), first_failed_at=first_failed)
    if not speaks:
        return seen, None
    told_failing = before.notified_status in NEEDS_ACTION
    digest = reasons_hash(finding)
    kind: NoticeKind | None = None
    if failing and (not told_failing or before.notified_hash != digest):
        kind = NoticeKind.NEW
    elif failing and (
        before.last_notified_at is None or now - before.last_notified_at >= timedelta(hours=renotify_hours)
    ):
        kind = NoticeKind.REMINDER
    elif not failing and told_failing:
        kind = NoticeKind.RESOLVED
    if kind is None:
        return seen, None
    told = replace(seen, notified_status=str(finding.status), notified_hash=digest, last_notified_at=now)
    return told, Notice(finding, kind, first_failed)


def who_changed(notice: Notice, now: datetime | None) -> str:
    """Who made the change behind a failure, in one sentence ("" when not known, or resolved)."""
    return "" if notice.kind is NoticeKind.RESOLVED else sentence(notice.finding, now)
