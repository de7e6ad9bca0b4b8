"""When people are told, and what kind of message they get. Pure.

With recorded state (docs/reference.md, "Notifications"), Teams and email speak on changes only: a new failure
(or a failure whose reasons changed), a reminder after AUDITOR_RENOTIFY_HOURS, and a
resolution. Without state (a CLI run), every failing finding is a notice.

A notice is recorded in two phases, so none is lost: deciding it writes a pending claim
(`pending_*`, with the time it was made), delivering it commits the claim to what people were
told (`delivered`), failing to deliver it drops the claim (`undelivered`). A claim whose run
died is taken over once NOTICE_LEASE has passed, so the notice is sent at least once; if the
run died after delivering but before committing, it is sent twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from auditor.attribution import sentence
from auditor.model import Finding, FindingRecord, RemediationResult, Status

NEEDS_ACTION = frozenset({Status.FAIL, Status.ERROR})
# How long a claimed notice is left to the run that claimed it: longer than a run takes from claiming
# to delivering (a scan of the tenant, then Teams and SMTP), shorter than the hourly scan schedule's
# two runs, so a dead run's notice goes out on the run after next at the latest.
NOTICE_LEASE = timedelta(minutes=45)


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
    if before.pending_at is not None and now - before.pending_at < NOTICE_LEASE:
        return seen, None  # another run claimed a notice of this cluster and is delivering it
    seen = replace(seen, pending_status="", pending_hash="", pending_at=None)  # a dead run's claim, if any
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
    claimed = replace(seen, pending_status=str(finding.status), pending_hash=digest, pending_at=now)
    return claimed, Notice(finding, kind, first_failed)


def _holds(record: FindingRecord | None, claim: FindingRecord) -> bool:
    """The record still carries this claim (no later run took it over after its lease)."""
    return record is not None and (record.pending_hash, record.pending_at) == (claim.pending_hash, claim.pending_at)


def delivered(record: FindingRecord | None, claim: FindingRecord) -> FindingRecord | None:
    """The record once the notice claimed in `claim` was delivered: the claim becomes what people were
    told. None (nothing to write) when the claim is no longer there."""
    if record is None or not _holds(record, claim):
        return None
    return replace(
        record,
        notified_status=record.pending_status,
        notified_hash=record.pending_hash,
        last_notified_at=record.pending_at,
        pending_status="",
        pending_hash="",
        pending_at=None,
    )


def undelivered(record: FindingRecord | None, claim: FindingRecord) -> FindingRecord | None:
    """The record once the notice claimed in `claim` could not be delivered: the claim is dropped, so the
    next run decides it again at once. None when the claim is no longer there."""
    if record is None or not _holds(record, claim):
        return None
    return replace(record, pending_status="", pending_hash="", pending_at=None)


def who_changed(notice: Notice, now: datetime | None) -> str:
    """Who made the change behind a failure, in one sentence ("" when not known, or resolved)."""
    return "" if notice.kind is NoticeKind.RESOLVED else sentence(notice.finding, now)
