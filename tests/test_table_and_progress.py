"""What people see: the table (colours, order, width) and the progress line."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime

from support import CIS

from auditor.model import Cluster, Finding, Status
from auditor.progress import Progress
from auditor.report.document import ScanResult
from auditor.report.table import render_table
from auditor.rule import unreadable
from auditor.settings import Settings

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
POLICY = Settings().policy()


def finding(name: str, status: Status) -> Finding:
    cluster = Cluster(
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}",
        name,
        SUB,
        "rg",
    )
    base = unreadable(cluster, "forbidden", POLICY, datetime(2026, 11, 26, tzinfo=UTC).date())
    return dataclasses.replace(base, status=status)


RESULT = ScanResult(
    CIS,
    datetime(2026, 11, 26, tzinfo=UTC),
    [finding("aks-ok", Status.PASS), finding("aks-bad", Status.FAIL), finding("aks-err", Status.ERROR)],
    subscriptions=1,
)


def test_colour_marks_each_status_on_a_terminal():
    table = render_table(RESULT, {SUB: "Production"}, colour=True, width=None)
    assert "\x1b[31;1mFAIL  \x1b[0m" in table
    assert "\x1b[35;1mERROR \x1b[0m" in table
    assert "\x1b[32mPASS  \x1b[0m" in table


def test_rows_are_cut_to_the_terminal_width_and_name_the_subscription():
    table = render_table(RESULT, {SUB: "Production"}, colour=False, width=40)
    rows = table.splitlines()
    assert all(len(row) <= 40 for row in rows[:4])
    assert rows[1].startswith("FAIL    aks-bad")
    assert "Production" in render_table(RESULT, {SUB: "Production"}, colour=False, width=None)


def test_progress_line_appears_only_when_enabled_and_is_cleared():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    progress._started -= 5  # a long scan
    progress.update(finding("aks-bad", Status.FAIL), subscriptions_listed=1, subscriptions_total=2)
    progress.close()
    text = stream.getvalue()
    assert "1/2 subscriptions · 1 clusters · 1 fail · 0 error" in text
    assert text.endswith("\r\x1b[K")

    quiet = io.StringIO()
    silent = Progress(quiet, enabled=False)
    silent.update(finding("aks-bad", Status.FAIL), 1, 2)
    silent.close()
    assert quiet.getvalue() == ""
