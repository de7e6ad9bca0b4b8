"""The table people read after `scan`: what needs action first, coloured on a terminal."""

from __future__ import annotations

from collections.abc import Mapping

from auditor.attribution import sentence
from auditor.inert import shown
from auditor.model import Finding, Remediation, RemediationAction, Status
from auditor.report.document import ScanResult, reading_order
from auditor.rule import NON_ASCII_NOTE

COLOURS = {Status.FAIL: "31;1", Status.ERROR: "35;1", Status.EXEMPT: "36", Status.PASS: "32"}
_HEADERS = ("STATUS", "CLUSTER", "RESOURCE GROUP", "SUBSCRIPTION", "DETAIL")


def render_table(result: ScanResult, subscription_names: Mapping[str, str], colour: bool, width: int | None) -> str:
    """Text from Azure is inert (auditor/inert.py); the only escape sequences are the STATUS colours."""
    ordered = [shown(finding) for finding in sorted(result.findings, key=reading_order)]
    subscription_names = shown(subscription_names)
    rows = [
        (
            str(finding.status).upper(),
            finding.name,
            finding.resource_group or "-",
            subscription_names.get(finding.subscription_id, finding.subscription_id),
            detail(finding),
        )
        for finding in ordered
    ]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(_HEADERS[:-1])]
    lines = [_line(_HEADERS, widths, width)]
    for finding, row in zip(ordered, rows, strict=True):
        line = _line(row, widths, width)
        if colour:
            status_cell = row[0].ljust(widths[0])
            line = line.replace(status_cell, f"\x1b[{COLOURS[finding.status]}m{status_cell}\x1b[0m", 1)
        lines.append(line)
    lines.append("")
    lines.append(_summary_line(result))
    return "\n".join(lines) + "\n"


def _line(cells: tuple[str, ...], widths: list[int], width: int | None) -> str:
    text = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])) + "  " + cells[-1]
    text = text.rstrip()
    if width is not None and len(text) > width:
        text = text[: max(width - 1, 0)] + "…"
    return text


def detail(finding: Finding) -> str:
    text = _verdict(finding)
    if finding.status in (Status.FAIL, Status.ERROR) and (who := sentence(finding, None)):
        text += f" [{who}]"
    if finding.remediation is not None:
        text += f" [remediation {finding.remediation.mode}: {remediation_line(finding.remediation)}]"
    return text


def remediation_line(fix: Remediation) -> str:
    """One line for people: `applied: create setting aks-audit-logs to enable kube-audit (why)`."""
    what = f"{fix.action} setting {fix.setting}" if fix.action is not RemediationAction.NONE else "no change"
    why = f" ({fix.reason})" if fix.reason else ""
    return f"{fix.result}: {what} to enable {', '.join(fix.categories)}{why}"


def _verdict(finding: Finding) -> str:
    if finding.status is Status.FAIL:
        if NON_ASCII_NOTE in finding.reasons:  # the one fact that explains all the others
            return f"missing {', '.join(finding.missing_categories)}: {NON_ASCII_NOTE}"
        first = next((r for r in finding.reasons if "not exported" in r or "no diagnostic" in r), finding.reasons[0])
        return f"missing {', '.join(finding.missing_categories)}: {first}"
    if finding.status is Status.PASS:
        return "; ".join(finding.reasons)
    return finding.reasons[0] if finding.reasons else ""


def _summary_line(result: ScanResult) -> str:
    summary = result.summary()
    text = (
        f"{summary['clusters']} clusters in {summary['subscriptions']} subscriptions: "
        f"{summary['pass']} pass, {summary['fail']} fail, {summary['exempt']} exempt, {summary['error']} error"
    )
    notes = []
    if result.skipped_subscriptions:
        notes.append(f"{result.skipped_subscriptions} disabled or deleted subscriptions skipped")
    if result.unregistered_subscriptions:
        notes.append(f"{result.unregistered_subscriptions} without the AKS resource provider, so no clusters")
    return text + (f" ({'; '.join(notes)})" if notes else "")
