"""When people are told, and what kind of message they get. Pure.

With recorded state (CONTRACT §6), Teams and email speak on changes only: a new failure
(or a failure whose reasons changed), a reminder after AUDITOR_RENOTIFY_HOURS, and a
resolution. Without state (a CLI run), every failing finding is a notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from auditor.model import Finding, Status

NEEDS_ACTION = frozenset({Status.FAIL, Status.ERROR})


class NoticeKind(StrEnum):
    NEW = "new"  # newly failing (or erroring), or failing for new reasons
    REMINDER = "reminder"  # still failing, last told AUDITOR_RENOTIFY_HOURS ago or more
    RESOLVED = "resolved"  # was failing, now passes (or is exempt)


@dataclass(frozen=True, slots=True)
class Notice:
    finding: Finding
    kind: NoticeKind
    first_failed_at: datetime | None = None  # when the current failure started, if known
