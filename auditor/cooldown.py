"""The remediation cool-down: do not fight whoever undoes a fix. Pure.

A fix that is undone soon after it was written (the next `terraform apply` or Bicep deployment
removes the category, or a person reverts it) means the setting is owned somewhere the auditor
cannot see. Writing it again would start a loop: drift event, fix, apply, drift event. So a
cluster that fails again within AUDITOR_REMEDIATION_COOLDOWN_HOURS of its last fix is not
written again in that window; the finding says how often the fix was undone and that the fix
belongs in the owner's infrastructure-as-code. Each cluster's FixHistory is kept in the state
table `auditorremediations` (auditor/azure/state.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FixHistory:
    """What the auditor remembers of its fixes to one cluster."""

    fixed_at: datetime | None = None  # the last write that was verified
    setting: str = ""  # the setting it wrote
    undone: int = 0  # fixes undone within the cool-down, one after the other
    undone_at: datetime | None = None  # when the last fix was seen undone

    @property
    def last_fix_undone(self) -> bool:
        return self.fixed_at is not None and self.undone_at is not None and self.undone_at >= self.fixed_at


def undone_within(history: FixHistory | None, now: datetime, hours: float) -> FixHistory | None:
    """The history with this undo counted, when the last fix was undone within the cool-down
    (so no write now); None when a write may go ahead."""
    if history is None or history.fixed_at is None or hours <= 0:
        return None
    if now - history.fixed_at >= timedelta(hours=hours):
        return None
    if history.last_fix_undone:
        return history  # the same undo, seen again: counted once
    return replace(history, undone=history.undone + 1, undone_at=now)


def after_fix(history: FixHistory | None, setting: str, now: datetime) -> FixHistory:
    """The history after a verified write. A run of undone fixes continues when the previous fix
    was undone; a previous fix that held ends it."""
    undone = history.undone if history is not None and history.last_fix_undone else 0
    return FixHistory(now, setting, undone, history.undone_at if undone and history else None)


def held_back_reason(history: FixHistory, hours: float) -> str:
    """The notice's words for a fix the auditor will not write again yet."""
    assert history.fixed_at is not None
    times = "once" if history.undone == 1 else f"{history.undone} times"
    until = history.fixed_at + timedelta(hours=hours)
    return (
        f"remediation was undone {times} within {hours:g} h of being applied (last written to setting "
        f"{history.setting} at {history.fixed_at:%Y-%m-%d %H:%M} UTC); the setting is probably owned by "
        "infrastructure-as-code: fix it there. The auditor does not write it "
        f"again before {until:%Y-%m-%d %H:%M} UTC"
    )
