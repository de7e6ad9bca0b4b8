"""`scan --output csv`: one row per finding, for spreadsheets and ticket imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from auditor.model import Finding
from auditor.report.document import ScanResult, reading_order

COLUMNS = (
    "status",
    "name",
    "resourceGroup",
    "subscriptionId",
    "subscriptionName",
    "location",
    "missingCategories",
    "reasons",
    "portalUrl",
    "resourceId",
)

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def render_csv(result: ScanResult, subscription_names: Mapping[str, str]) -> str:
    """RFC 4180 text (CRLF line ends, quoted where needed), header first, findings in reading order.

    `subscriptionName` is empty when the name is unknown: the ID has its own column.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for finding in sorted(result.findings, key=reading_order):
        writer.writerow([defuse(cell) for cell in _cells(finding, subscription_names)])
    return out.getvalue()


def defuse(cell: str) -> str:
    """Prefix a `'` to a cell a spreadsheet would run as a formula.

    Names, tags, reasons and subscription names come from Azure, where anyone with write
    access to a resource chooses them. A display name such as `=HYPERLINK("https://evil",
    "fix")` or `@SUM(...)` would run when a reviewer opens the CSV in a spreadsheet app
    (CSV/formula injection). The leading apostrophe makes the app show the text as text;
    a program reading the CSV sees the apostrophe and can strip it.
    """
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _cells(finding: Finding, subscription_names: Mapping[str, str]) -> tuple[str, ...]:
    return (
        str(finding.status),
        finding.name,
        finding.resource_group,
        finding.subscription_id,
        subscription_names.get(finding.subscription_id, ""),
        finding.location,
        ";".join(finding.missing_categories),
        "; ".join(finding.reasons),
        finding.portal_url,
        finding.resource_id,
    )
