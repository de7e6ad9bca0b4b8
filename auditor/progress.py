"""A live progress line on stderr for long scans (only on a terminal, only after a moment)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from auditor.model import Finding, Status

_SHOW_AFTER = 1.0  # seconds: short scans stay quiet
_REFRESH = 0.1
_BAR = 24


class Progress:
    """The progress line on stderr during a long scan on a terminal."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._last = 0.0
        self._counts: Counter[Status] = Counter()
        self._shown = False

    def update(self, finding: Finding, subscriptions_listed: int, subscriptions_total: int) -> None:
        self._counts[finding.status] += 1
        now = time.monotonic()
        if not self._enabled or now - self._started < _SHOW_AFTER or now - self._last < _REFRESH:
            return
        self._last = now
        done = subscriptions_listed / subscriptions_total if subscriptions_total else 1.0
        filled = int(done * _BAR)
        checked = sum(self._counts.values())
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {subscriptions_listed}/{subscriptions_total} subscriptions"
            f" · {checked} clusters · {self._counts[Status.FAIL]} fail · {self._counts[Status.ERROR]} error"
            f" · {checked / (now - self._started):.0f}/s\x1b[K"
        )
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
