"""Text from Azure is inert everywhere (docs/reference.md, "Text from Azure"): no control, bidi or other
acting character from a name, tag, setting, error message, caller or event reaches a terminal, a report,
a card, an email or a log line raw; only the table's own colours are escape sequences. JSON keeps the
exact values, escaped by json.dumps."""

from __future__ import annotations

import codecs
import csv
import email.message
import io
import json
import logging
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import CIS, WORKSPACE, every_channel, run_cli

from auditor.cli import main
from auditor.inert import inert
from auditor.model import (
    ActorType,
    Change,
    ChangeSource,
    Finding,
    Fixes,
    Remediation,
    RemediationAction,
    RemediationMode,
    RemediationResult,
    Severity,
    Status,
)
from auditor.notify import cards
from auditor.notify.email import compose
from auditor.notify.notices import Notice, NoticeKind
from auditor.reactions import Disposition, Outcome
from auditor.report.document import ScanResult
from auditor.report.render import render, render_outcomes
from auditor.report.table import COLOURS, render_table
from auditor.settings import SmtpSettings
from azsim import Fault
from azsim.events import setting_changed
from azsim.samples import HOSTILE, hostile_tenant

# What the issue names, one by one: C0 (tab, line breaks, ESC, BEL), DEL, C1 (CSI U+009B, OSC U+009D, ST),
# the bidi embeddings, overrides, isolates and marks, the line and paragraph separators.
NAMED = (
    [chr(c) for c in range(0x20)]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c", "\u2028", "\u2029", "\u200b", "\ufeff", "\U000e0041", "\ud800"]
)
_ACTING = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_JOINERS = "\u200c\u200d"
OWN_COLOURS = re.compile("|".join(re.escape(f"\x1b[{code}m") for code in COLOURS.values()) + r"|\x1b\[0m")


def acting(text: str, allowed: str = "") -> list[str]:
    """Every character of `text` that acts (control, format, separator, surrogate) and is not allowed."""
    return [c for c in text if unicodedata.category(c) in _ACTING and c not in _JOINERS and c not in allowed]


# The two joiners are format characters that ordinary text needs: inert keeps them (drawn, they fail the test).
hostile_char = st.sampled_from(NAMED) | st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Cs")).filter(
    lambda c: c not in _JOINERS
)
plain_char = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))
hostile_text = st.lists(
    st.one_of(plain_char, hostile_char, st.sampled_from(["\x1b[32m", "\x1b]0;t\x07"])), max_size=24
).map("".join)
FEW = settings(max_examples=50, deadline=None)


# --- the sanitiser --------------------------------------------------------------------------------


@FEW
@given(hostile_text)
def test_no_acting_character_survives_and_a_second_pass_changes_nothing(text: str):
    once = inert(text)
    assert acting(once) == []
    assert not set(NAMED) & set(once)
    assert inert(once) == once
    once.encode("utf-8")  # even a lone surrogate is spelled out: the text can be written


@FEW
@given(st.text(plain_char | st.sampled_from(_JOINERS)))
def test_ordinary_text_of_any_script_passes_unchanged(text: str):
    assert inert(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "rg-analytics-münchen",
        "東京-本番",
        "Contoso Ελλάδα",
        "\u0646\u0631\u0645\u200c\u0627\u0641\u0632\u0627\u0631",
        "👩\u200d💻 platform",
        r"C:\x1b\path",
    ],
)
def test_names_people_write_stay_readable(text: str):
    assert inert(text) == text


@FEW
@given(st.text(plain_char, max_size=8), hostile_char, st.text(plain_char, max_size=8))
def test_each_character_is_spelled_out_where_it_stood_as_python_would_read_it_back(before, character, after):
    made = inert(before + character + after)
    spelled = made[len(before) : len(made) - len(after)]
    assert (made[: len(before)], made[len(made) - len(after) :]) == (before, after)
    assert spelled.startswith("\\")
    assert spelled.isascii()
    assert spelled.isprintable()
    assert codecs.decode(spelled, "unicode_escape") == character  # visible, and unambiguous


# --- every renderer, fed hostile text directly ------------------------------------------------------

SUBSCRIPTION = "6f2b7c1e-4a3d-4b8e-9f10-2c5d8e7a1b01"
RESOURCE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{{group}}/providers/Microsoft.ContainerService/managedClusters/"
)
RESOURCE += "{name}"


def finding(text: str, status: Status = Status.FAIL) -> Finding:
    """A failing finding whose every field from Azure is `text`, with a change, a remediation and fixes."""
    written = text.replace("\n", "\\n")
    return Finding(
        resource_id=RESOURCE.format(group=f"rg{text}", name=f"aks{text}"),
        subscription_id=SUBSCRIPTION,
        resource_group=f"rg{text}",
        name=f"aks{text}",
        location=f"westeurope{text}",
        status=status,
        missing_categories=("kube-audit",),
        reasons=(f"setting audit{text} does not export kube-audit", f"ARM answered 400 BadRequest: {text}"),
        evidence=(),
        portal_url=f"https://portal.azure.com/#resource{RESOURCE.format(group='rg', name=f'aks{text}')}",
        remediation=Remediation(
            RemediationMode.DRY_RUN, RemediationAction.CREATE, f"fix{text}", ("kube-audit",), RemediationResult.PLANNED
        ),
        severity=Severity.HIGH,
        change=Change(
            "Microsoft.Insights/diagnosticSettings/delete",
            ChangeSource.EVENT,
            setting=f"audit{text}",
            actor=f"mallory{text}@contoso.com",
            actor_type=ActorType.USER,
            client_ip=f"203.0.113.7{text}",
            at=datetime(2026, 12, 1, 11, 58, tzinfo=UTC),
        ),
        # fixes.py writes a name's line breaks escaped inside Bicep and Terraform strings (\n), never raw
        fixes=Fixes(
            f"az monitor diagnostic-settings create --name 'aks{text}'", f"// {written}\nx\n", f"# {written}\n"
        ),
    )


def scan(text: str) -> ScanResult:
    findings = [finding(text), finding(text, Status.ERROR), finding(text, Status.PASS)]
    return ScanResult(CIS, datetime(2026, 12, 2, 9, 0, tzinfo=UTC), findings, subscriptions=1)


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so the table colours its STATUS cells."""

    def isatty(self) -> bool:
        return True


def strings(document: Any) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [s for key, value in document.items() for s in [key, *strings(value)]]
    if isinstance(document, list):
        return [s for item in document for s in strings(item)]
    return []


def mail_parts(message: email.message.EmailMessage) -> str:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    return (plain.get_content() + html.get_content()).replace("\r\n", "\n")  # SMTP line ends


def outputs(text: str) -> dict[str, str]:
    """Every output for people or tools of a scan (and an event outcome) whose Azure text is `text`."""
    result, names = scan(text), {SUBSCRIPTION: f"Contoso{text}"}
    notices = [Notice(f, NoticeKind.NEW) for f in result.findings if f.status is not Status.PASS]
    sarif = json.loads(render("sarif", result, names, None))
    smtp = SmtpSettings("127.0.0.1", 587, "", None, True, "auditor@contoso.com", ("secops@contoso.com",))
    digest = cards.digest_messages(notices, result.summary(), result.scanned_at, names, CIS)
    outcome = Outcome(Disposition.CHECKED, f"setting audit{text} deleted", f"event{text}", result.findings[0])
    return {
        "table": render("table", result, names, None),
        "coloured table": OWN_COLOURS.sub("", render_table(result, names, colour=True, width=None)),
        "csv": render("csv", result, names, None).replace("\r\n", "\n"),
        "html": render("html", result, names, None),
        "json": render("json", result, names, None),
        "sarif results": "".join(strings(sarif["runs"][0]["results"])),
        "outcomes": render_outcomes([outcome], "table", Terminal()).replace("\x1b[31;1m", "").replace("\x1b[0m", ""),
        "card": "".join(strings([cards.notice_card(n, CIS, names[SUBSCRIPTION]) for n in notices])),
        "digest": "".join(strings(digest)),
        "email": mail_parts(compose(notices, smtp, names, CIS)),
    }


@FEW
@given(hostile_text.filter(acting))
def test_no_output_carries_an_acting_character_from_azure(text: str):
    tame = outputs("x")
    for name, shown in outputs(text).items():
        assert acting(shown, allowed="\n") == [], name
        assert shown.count("\n") == tame[name].count("\n"), name  # no line break of Azure's is kept


def test_json_keeps_the_exact_values_escaped_by_json_dumps():
    result = scan(HOSTILE)
    text = render("json", result, {}, None)
    assert acting(text, allowed="\n") == []  # ensure_ascii: every control, C1 and bidi character as \uXXXX
    assert json.loads(text)["findings"][0]["name"] == f"aks{HOSTILE}"


def test_the_table_keeps_its_own_colours_and_its_columns():
    table = render_table(scan(HOSTILE), {}, colour=True, width=None)
    assert table.count("\x1b[31;1mFAIL") == 1
    assert table.count("\x1b[32mPASS  ") == 1  # ours; Azure's PASS is text
    assert f"aks{inert(HOSTILE)}" in table
    assert len(table.splitlines()) == 1 + 3 + 2  # header, one line per finding, blank, summary


def test_csv_cells_read_back_as_the_inert_text():
    rows = list(csv.DictReader(io.StringIO(render("csv", scan(HOSTILE), {}, None))))
    assert rows[0]["name"] == f"aks{inert(HOSTILE)}"
    assert rows[0]["reasons"].split("\n")[1] == f"ARM answered 400 BadRequest: {inert(HOSTILE)}"


def test_the_auditor_logger_makes_records_inert_tracebacks_included(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("auditor")
    with caplog.at_level(logging.INFO, logger="auditor"):
        logger.warning("C-0254 %s (scan): %s", f"aks{HOSTILE}", HOSTILE)
        try:
            raise ValueError(HOSTILE)
        except ValueError as exc:
            logger.error("C-0254 unexpected failure judging %s", f"aks{HOSTILE}", exc_info=exc)
    assert [acting(record.getMessage()) for record in caplog.records] == [[], []]
    assert acting(caplog.text, allowed="\n") == []
    assert f"ValueError: {inert(HOSTILE)}" in caplog.text
    assert caplog.records[0].getMessage() == f"C-0254 aks{inert(HOSTILE)} (scan): {inert(HOSTILE)}"


# --- end to end: the CLI on a hostile tenant, every channel ------------------------------------------

UNREADABLE = "managedClusters/aks-unreadable/providers/microsoft.insights/diagnosticSettings"


@pytest.fixture
def hostile(simulate, smtp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The hostile tenant (azsim.samples) served with an ARM error message that carries HOSTILE too, with
    Teams, Event Grid and email configured."""
    tenant, caller = hostile_tenant(WORKSPACE)
    sim = simulate(tenant)
    sim.add_fault(Fault(match=UNREADABLE, status=400, message=f"bad request{HOSTILE}"))
    for name, value in every_channel(sim, smtp, tmp_path / "trust.pem", "platform-security@contoso.com").items():
        monkeypatch.setenv(name, value)
    return sim, tenant, caller


def said(sim, smtp) -> str:
    """Everything the channels people read carried: Teams cards, both parts of every email."""
    return "".join(strings(sim.sinks.teams_posts)) + "".join(mail_parts(m) for m in smtp.messages)


@pytest.mark.parametrize("output", ["table", "csv", "sarif", "html", "json"])
def test_a_scan_of_a_hostile_tenant_writes_nothing_that_acts(hostile, smtp, output: str):
    sim, _, _ = hostile
    code, out, err = run_cli("-v", "scan", "--output", output)
    assert code == 1
    assert acting(out.replace("\r\n", "\n"), allowed="\n") == []
    assert acting(err, allowed="\n") == []  # the log lines (-v) and the CLI's own
    assert "C-0254" in err
    if output != "json":
        assert "rg-analytics-münchen" in out or "rg-analytics-m%C3%BCnchen" in out  # non-ASCII stays readable
    assert sim.sinks.teams_posts
    assert len(smtp.messages) == 1
    assert acting(said(sim, smtp), allowed="\n") == []
    assert inert(HOSTILE) in said(sim, smtp).replace("\\\\", "\\").replace("\\[", "[").replace("\\]", "]")


def test_the_table_on_a_terminal_colours_status_only(hostile):
    out, err = Terminal(), io.StringIO()
    assert main(["scan"], stdout=out, stderr=err) == 1
    table = out.getvalue()
    assert acting(OWN_COLOURS.sub("", table), allowed="\n") == []
    assert "\x1b[35;1mERROR" in table
    assert "\x1b[32mPASS" in table
    assert len(table.splitlines()) == 1 + 5 + 2  # a name's line breaks made no line of their own


def test_an_event_from_a_hostile_caller_reaches_the_outcome_table_cards_and_email_inert(hostile, smtp, tmp_path: Path):
    sim, tenant, caller = hostile
    (cluster,) = [c for c in tenant.clusters if c.name == "aks-dropped"]
    cluster.delete_setting("audit-to-law", by=caller)
    event = setting_changed(cluster.id, "audit-to-law", deleted=True, tenant_id=tenant.tenant_id, caller=caller)
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event]))
    code, out, err = run_cli("-v", "handle-event", str(path))
    assert code == 1
    assert acting(out, allowed="\n") == []
    assert acting(err, allowed="\n") == []
    assert f"event {event['id']}: checked" in out
    assert f"by mallory{inert(HOSTILE)}@contoso.com" in out  # the caller, named, inert
    assert len(out.splitlines()) == 2
    assert acting(said(sim, smtp), allowed="\n") == []
    assert f"mallory{inert(HOSTILE)}@contoso.com" in "".join(mail_parts(m) for m in smtp.messages)
