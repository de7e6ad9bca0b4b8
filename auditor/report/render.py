"""Scans and event outcomes in the formats people and tools read, for the CLI and the demo alike."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TextIO

from auditor.inert import shown
from auditor.model import Finding
from auditor.reactions import Outcome
from auditor.report.csv_report import render_csv
from auditor.report.document import ScanResult
from auditor.report.html import render_html
from auditor.report.sarif import pipeline_run, render_sarif
from auditor.report.table import COLOURS, detail, render_table

SCAN_OUTPUTS = ("table", "json", "csv", "sarif", "html")
EVENT_OUTPUTS = ("table", "json")


def render(output: str, result: ScanResult, names: Mapping[str, str], terminal: TextIO | None) -> str:
    """The scan in one of SCAN_OUTPUTS; `terminal` (when writing to one) enables colour and width. SARIF
    names the Azure Pipelines run it comes from when the process runs in one."""
    if output == "json":
        return json.dumps(result.to_json(), indent=2) + "\n"
    if output == "csv":
        return render_csv(result, names)
    if output == "sarif":
        return json.dumps(render_sarif(result, pipeline_run(os.environ)), indent=2) + "\n"
    if output == "html":
        return render_html(result, names)
    colour = terminal is not None and colour_enabled(terminal)
    width = shutil.get_terminal_size().columns if terminal is not None and terminal.isatty() else None
    return render_table(result, names, colour=colour, width=width)


def render_outcomes(outcomes: Sequence[Outcome], output: str, terminal: TextIO | None) -> str:
    """What became of each event: one JSON document, or two lines per event for people."""
    if output == "json":
        document = [
            {
                "id": outcome.event_id,
                "result": str(outcome.result),
                "detail": outcome.detail,
                "finding": outcome.finding.to_json() if outcome.finding else None,
            }
            for outcome in outcomes
        ]
        return json.dumps({"events": document}, indent=2) + "\n"
    lines = []
    for outcome in map(shown, outcomes):  # the event's own text and the finding's, inert
        lines.append(f"event {outcome.event_id}: {outcome.result}: {outcome.detail}")
        if outcome.finding is not None:
            lines.append(
                f"  {status_cell(outcome.finding, terminal)} {outcome.finding.name}: {detail(outcome.finding)}"
            )
    return "".join(f"{line}\n" for line in lines)


def status_cell(finding: Finding, terminal: TextIO | None) -> str:
    text = str(finding.status).upper()
    return (
        f"\x1b[{COLOURS[finding.status]}m{text}\x1b[0m" if terminal is not None and colour_enabled(terminal) else text
    )


def colour_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal, and never against NO_COLOR or TERM=dumb."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
