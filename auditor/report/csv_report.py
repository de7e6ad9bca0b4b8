"""`scan --output csv`: one row per finding, for spreadsheets and ticket imports.

A cell lists several values in two ways. `missingCategories` joins category names with `;`
(ARM category names hold none). `reasons` puts one reason per line: a line break inside a
quoted cell is plain RFC 4180 and reads back unchanged, spreadsheets show it as lines of one
cell, and no reason holds one, because text from Azure is inert (auditor/inert.py: a line
break inside a reason reads `\\n`). A `; ` would not do: reasons themselves say "…; setting x
lists it but disabled".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping

from auditor.inert import shown
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
REASON_SEPARATOR = "\n"

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP "CSV Injection",
# owasp.org/www-community/attacks/CSV_Injection), and as a precaution the full-width forms an East
# Asian input method types, which Unicode NFKC normalisation turns into the ASCII ones.
FORMULA_CHARACTERS = "=+-@\t\r\n\uff1d\uff0b\uff0d\uff20"
# Where a spreadsheet may start a cell inside ours: OWASP warns that a field separator (`,`, or
# `;` where it is the list separator, as in most of Europe, where Excel splits a comma-separated
# file at `;`), tabs and line breaks start a new cell, and that quotes may stand before the
# formula character. A `'` put at such a start makes the spreadsheet show the rest as text.
_FORMULA_AT_CELL_START = re.compile(rf"(?:^|(?<=[,;\t\r\n]))(?=\"*[{re.escape(FORMULA_CHARACTERS)}])")


def render_csv(result: ScanResult, subscription_names: Mapping[str, str]) -> str:
    """RFC 4180 text (CRLF line ends, quoted where needed), header first, findings in reading order.

    `subscriptionName` is empty when the name is unknown: the ID has its own column.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    names = shown(subscription_names)
    for finding in sorted(result.findings, key=reading_order):
        writer.writerow([defuse(cell) for cell in _cells(shown(finding), names)])
    return out.getvalue()


def defuse(cell: str) -> str:
    """Put a `'` wherever a spreadsheet could start a cell that it would run as a formula.

    Names, tags, reasons and subscription names come from Azure, where anyone with write
    access to a resource chooses them. A display name such as `=HYPERLINK("https://evil",
    "fix")`, `@SUM(...)` or `Contoso Lab;=1+1` would run when a reviewer opens the CSV in a
    spreadsheet app (CSV/formula injection). The apostrophe makes the app show the text as
    text; a program reading the CSV sees it and can strip it. Nothing else changes.
    """
    return _FORMULA_AT_CELL_START.sub("'", cell)


def _cells(finding: Finding, subscription_names: Mapping[str, str]) -> tuple[str, ...]:
    return (
        str(finding.status),
        finding.name,
        finding.resource_group,
        finding.subscription_id,
        subscription_names.get(finding.subscription_id, ""),
        finding.location,
        ";".join(finding.missing_categories),
        REASON_SEPARATOR.join(finding.reasons),
        finding.portal_url,
        finding.resource_id,
    )
