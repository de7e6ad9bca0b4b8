"""Teams cards: valid Adaptive Cards 1.4, under Teams' size limit, Azure text shown literally,
and rendered by the official renderer (npm `adaptivecards`) in headless Chromium."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft6Validator
from playwright.sync_api import sync_playwright
from support import CHROMIUM, CHROMIUM_ARGS, CIS, WORKSPACE

from auditor import fixes
from auditor.model import (
    Evidence,
    Finding,
    Remediation,
    RemediationAction,
    RemediationMode,
    RemediationResult,
    Status,
)
from auditor.notify.cards import (
    BUTTON_TITLE,
    FIX_TITLE,
    MAX_MESSAGE_BYTES,
    digest_messages,
    message_size,
    notice_card,
    teams_message,
)
from auditor.notify.notices import Notice, NoticeKind

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests/fixtures/adaptive-card-schema-1.4.json").read_text())
HARNESS = ROOT / "tests/render/harness.html"
HOST_CONFIG = json.loads((ROOT / "tests/render/host-config.json").read_text())
RENDERER = ROOT / "node_modules/adaptivecards/dist/adaptivecards.min.js"

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NAMES = {SUB: "Contoso Production"}
SCANNED = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SUMMARY = {"clusters": 14, "pass": 8, "fail": 4, "exempt": 1, "error": 1, "subscriptions": 4, "skippedSubscriptions": 0}
INJECTION = "*bold* [x](https://evil) <script>alert(1)</script> _i_ `c` &lt; {{DATE(2026-01-01T00:00:00Z)}}"
NOT_EXPORTED = "kube-audit-admin is not exported to an accepted destination"
PLANNED = Remediation(
    RemediationMode.DRY_RUN,
    RemediationAction.CREATE,
    "aks-audit-logs",
    ("kube-audit-admin",),
    RemediationResult.PLANNED,
)


def finding(
    name: str = "aks-orders-prod-weu",
    status: Status = Status.FAIL,
    missing: tuple[str, ...] = ("kube-audit-admin",),
    reasons: tuple[str, ...] = (NOT_EXPORTED,),
    resource_group: str = "rg-orders-prod",
    location: str = "westeurope",
    remediation: Remediation | None = None,
) -> Finding:
    resource_id = (
        f"/subscriptions/{SUB}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
    return Finding(
        resource_id=resource_id,
        subscription_id=SUB,
        resource_group=resource_group,
        name=name,
        location=location,
        status=status,
        missing_categories=missing,
        reasons=reasons,
        evidence=(Evidence("audit-to-law", ("workspace",), ("kube-audit",)),),
        portal_url=f"https://portal.azure.com/#resource{resource_id}/diagnostics",
        remediation=remediation,
    )


PASSING = finding("aks-search-prod-weu", Status.PASS, (), ("kube-audit, kube-audit-admin exported by audit-to-law",))
FORBIDDEN = (
    "forbidden (403 AuthorizationFailed): the identity lacks Microsoft.Insights/diagnosticSettings/read there "
    "(docs/deploy.md, 'What the identity may do', names the role that grants it)"
)
NOTICES = {
    "new": Notice(finding(), NoticeKind.NEW),
    "reminder": Notice(finding(), NoticeKind.REMINDER, SINCE),
    "reminder-since-unknown": Notice(finding(), NoticeKind.REMINDER),
    "resolved": Notice(PASSING, NoticeKind.RESOLVED),
    "resolved-exempt": Notice(
        finding("aks-poc-gpu-weu", Status.EXEMPT, (), ("exempt by tag aks-audit-exempt until 2099-12-31",)),
        NoticeKind.RESOLVED,
    ),
    "error": Notice(finding("aks-reporting-prod-neu", Status.ERROR, (), (FORBIDDEN,)), NoticeKind.NEW),
    "unlistable-subscription": Notice(
        finding("Contoso Legacy", Status.ERROR, (), ("could not list the subscription's clusters: timeout",), "", ""),
        NoticeKind.REMINDER,
        SINCE,
    ),
    "remediation": Notice(finding(remediation=PLANNED), NoticeKind.NEW),
    "injection": Notice(finding(INJECTION, resource_group="rg_(weird)*"), NoticeKind.NEW),
    "fixes": Notice(
        fixes.attach(finding(resource_group="rg-orders(prod)"), "aks-audit-logs", WORKSPACE), NoticeKind.NEW
    ),
}


def texts(element: Any) -> list[str]:
    """Every TextBlock text and fact of a card, in order."""
    if isinstance(element, list):
        return [text for item in element for text in texts(item)]
    if not isinstance(element, dict):
        return []
    found = [element["text"]] if element.get("type") == "TextBlock" else []
    found += [f"{fact['title']}: {fact['value']}" for fact in element.get("facts", [])]
    for key in ("body", "items"):
        found += texts(element.get(key, []))
    return found


def unescape(markdown: str) -> str:
    """CommonMark's backslash escapes: what a markdown host displays for escaped text."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def schema_errors(card: dict[str, Any]) -> list[str]:
    """The official schema's complaints, after stripping what only Teams knows (the `msteams` property)."""
    plain = copy.deepcopy(card)
    plain.pop("msteams", None)
    return [error.message for error in Draft6Validator(SCHEMA).iter_errors(plain)]


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    [attachment] = message["attachments"]
    return attachment["content"]


def long_failures(count: int) -> list[Notice]:
    """Realistic worst cases: names and groups at Azure's length limits, three long reasons each."""
    kinds = [NoticeKind.NEW, NoticeKind.NEW, NoticeKind.REMINDER, NoticeKind.NEW, NoticeKind.RESOLVED]
    notices = []
    for i in range(count):
        name = f"aks-{i:03d}-payments-platform-shared-services-prod-westeurope-a"[:63]
        group = f"rg-{i:03d}-payments-platform-shared-services-production-westeurope-networking-and-compute"[:90]
        reasons = (
            f"kube-audit is not exported to an accepted destination (setting stream-to-siem-{i} sends it to eventhub, "
            "which is not an accepted destination; setting audit-paused lists it but disabled)",
            f"kube-audit-admin is not exported to an accepted destination (setting law-{i} sends it to workspace "
            f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/"
            "la-unapproved-team-workspace, which is not allowed)",
            "could not resolve category group(s) audit because the diagnosticSettingsCategories API was not readable",
        )
        kind = kinds[i % len(kinds)]
        status = Status.PASS if kind is NoticeKind.RESOLVED else Status.FAIL
        notices.append(Notice(finding(name, status, ("kube-audit", "kube-audit-admin"), reasons, group), kind, SINCE))
    return notices


def digest_names(messages: list[dict[str, Any]]) -> list[str]:
    """Cluster names as the digest links them (`**[name](url)**`), unescaped, across all parts."""
    link = re.compile(r"^\*\*\[((?:\\.|[^\\\]])*)\]\(([^)\s]*)\)\*\*")
    return [
        unescape(match[1]) for message in messages for text in texts(card_of(message)) if (match := link.match(text))
    ]


# Structure and content


@pytest.mark.parametrize("case", sorted(NOTICES))
def test_every_card_is_valid_adaptive_card_1_4(case: str):
    notice = NOTICES[case]
    card = notice_card(notice, CIS, "Contoso Production")
    assert schema_errors(card) == []
    assert card["version"] == "1.4"
    assert card["msteams"] == {"width": "Full"}
    [button] = card["actions"]
    assert button == {**button, "type": "Action.OpenUrl", "title": BUTTON_TITLE, "url": notice.finding.portal_url}


def test_digest_parts_are_valid_adaptive_card_1_4():
    messages = digest_messages([*NOTICES.values(), *long_failures(60)], SUMMARY, SCANNED, NAMES, CIS)
    assert len(messages) > 1
    for message in messages:
        assert schema_errors(card_of(message)) == []


def test_the_schema_check_rejects_what_teams_would_not_render():
    card = notice_card(NOTICES["new"], CIS)
    unstripped = Draft6Validator(SCHEMA).iter_errors(card)
    assert any("msteams" in error.message for error in unstripped)
    too_new = copy.deepcopy(card)
    too_new["body"].append({"type": "TextBlock", "text": "x", "style": "heading"})  # a 1.5 property
    assert schema_errors(too_new) != []


def test_teams_message_is_the_workflows_envelope():
    card = notice_card(NOTICES["new"], CIS)
    assert teams_message(card) == {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    assert message_size(teams_message(card)) == len(json.dumps(teams_message(card)).encode())


def test_new_failure_card_says_what_is_wrong_where_and_why_it_matters():
    card = notice_card(NOTICES["new"], CIS, "Contoso Production")
    header = card["body"][0]
    assert header["style"] == "attention"
    shown = texts(card)
    assert "New failure: audit logs not exported" in shown
    assert "aks-orders-prod-weu" in shown
    for line in (
        "Status: **fail**",
        "Missing: kube-audit-admin",
        "Subscription: Contoso Production",
        "Resource group: rg-orders-prod",
        "Location: westeurope",
        f"• {NOT_EXPORTED}",
    ):
        assert line in shown
    why = " ".join(shown[shown.index("Why it matters") :])
    words = ("kube-audit and kube-audit-admin", "persistent store", "RBAC", "secrets", "CIS AKS 1.2.0 2.1.1", "C-0254")
    assert all(word in why for word in words)


@pytest.mark.parametrize(
    ("case", "style", "headline"),
    [
        ("new", "attention", "New failure: audit logs not exported"),
        ("reminder", "warning", "Reminder: still failing"),
        ("resolved", "good", "Resolved: audit logs exported"),
        ("resolved-exempt", "good", "Resolved: the cluster is now exempt"),
        ("error", "attention", "Cannot check audit logs"),
        ("unlistable-subscription", "warning", "Reminder: still cannot be checked"),
    ],
)
def test_header_colour_and_headline_follow_the_kind(case: str, style: str, headline: str):
    header = notice_card(NOTICES[case], CIS)["body"][0]
    assert header["style"] == style
    assert headline in texts(header)


def test_reminder_says_since_when_it_fails_when_known():
    assert "Failing since 2026-11-20 09:30 UTC" in texts(notice_card(NOTICES["reminder"], CIS))
    assert not any("since" in text for text in texts(notice_card(NOTICES["reminder-since-unknown"], CIS)))


def test_subscription_id_stands_in_for_a_missing_name_and_empty_fields_are_left_out():
    shown = texts(notice_card(NOTICES["unlistable-subscription"], CIS))
    assert f"Subscription: {SUB}" in shown
    assert not any(text.startswith(("Resource group:", "Location:")) for text in shown)


def test_error_card_says_the_settings_could_not_be_read_and_why():
    shown = texts(notice_card(NOTICES["error"], CIS, "Contoso Production"))
    assert "Status: **error**" in shown
    assert "Missing: unknown (settings not read)" in shown
    assert any("could not read this cluster's diagnostic settings" in text for text in shown)
    assert unescape(shown[shown.index("Why it could not be checked") + 1]) == f"• {FORBIDDEN}"


def test_resolved_card_says_what_is_exported_now_and_skips_the_warning():
    shown = texts(notice_card(NOTICES["resolved"], CIS))
    assert "Missing: nothing" in shown
    assert shown[shown.index("Now") + 1] == "• kube-audit, kube-audit-admin exported by audit-to-law"
    assert "Why it matters" not in shown


@pytest.mark.parametrize(
    ("result", "mode", "expected"),
    [
        ("planned", "dry-run", "Dry run: would create diagnostic setting aks-audit-logs to export kube-audit-admin."),
        ("applied", "apply", "Fixed: created diagnostic setting aks-audit-logs exporting kube-audit-admin, verified"),
        (
            "failed",
            "apply",
            "Remediation failed: could not create diagnostic setting aks-audit-logs for kube-audit-admin",
        ),
        (
            "skipped",
            "apply",
            "Remediation (apply): create diagnostic setting aks-audit-logs for kube-audit-admin: skipped",
        ),
    ],
)
def test_remediation_says_what_was_or_would_be_changed(result: str, mode: str, expected: str):
    remediation = dataclasses.replace(PLANNED, mode=RemediationMode(mode), result=RemediationResult(result))
    card = notice_card(Notice(finding(remediation=remediation), NoticeKind.NEW), CIS)
    shown = texts(card)
    assert unescape(shown[shown.index("Remediation") + 1]).startswith(expected)
    assert schema_errors(card) == []
    digest = digest_messages([Notice(finding(remediation=remediation), NoticeKind.NEW)], SUMMARY, SCANNED, NAMES, CIS)
    assert any(expected in unescape(text) for text in texts(card_of(digest[0])))


def test_a_card_with_hundreds_of_long_reasons_stays_under_the_limit():
    reasons = tuple(f"reason {i}: " + "setting law-archive sends it nowhere useful; " * 60 for i in range(300))
    card = notice_card(Notice(finding(reasons=reasons), NoticeKind.NEW), CIS)
    assert message_size(teams_message(card)) <= MAX_MESSAGE_BYTES
    shown = texts(card)
    listed = [text for text in shown if text.startswith("• ")]
    assert 0 < len(listed) < len(reasons)
    assert all(len(text) <= 1_100 and text.endswith("…") for text in listed)
    assert f"… and {len(reasons) - len(listed)} more" in shown
    assert "aks-orders-prod-weu" in shown
    assert card["actions"][0]["title"] == BUTTON_TITLE


def test_a_failure_with_fixes_shows_the_az_command_whole_in_monospace_and_where_the_others_are():
    notice = NOTICES["fixes"]
    assert notice.finding.fixes is not None
    card = notice_card(notice, CIS, "Contoso Production")
    shown = texts(card)
    command = shown[shown.index(FIX_TITLE) + 1]
    assert unescape(command) == notice.finding.fixes.az
    [monospace] = [block for block in card["body"] if block.get("fontType") == "Monospace"]
    assert monospace["text"] == command
    assert "Bicep and Terraform versions are in the finding's fixes" in shown[shown.index(FIX_TITLE) + 2]
    assert shown.index(FIX_TITLE) < shown.index("Why it matters")
    assert schema_errors(card) == []
    assert FIX_TITLE not in texts(notice_card(NOTICES["new"], CIS))


def test_an_az_command_too_long_for_a_card_is_pointed_to_never_cut_short():
    long = dataclasses.replace(NOTICES["fixes"].finding, missing_categories=tuple(f"c{i:03d}" for i in range(60)))
    notice = Notice(fixes.attach(long, "aks-audit-logs", WORKSPACE), NoticeKind.NEW)
    assert notice.finding.fixes is not None
    card = notice_card(notice, CIS)
    shown = texts(card)
    assert shown[shown.index(FIX_TITLE) + 1].startswith("Too long for a card: the command")
    assert not any(block.get("fontType") == "Monospace" for block in card["body"])
    assert not any("diagnostic-settings create" in text for text in shown)
    assert message_size(teams_message(card)) <= MAX_MESSAGE_BYTES
    assert schema_errors(card) == []


# Escaping


def test_markdown_and_html_in_names_are_escaped_for_teams():
    shown = texts(notice_card(NOTICES["injection"], CIS, "Team *A* [x](https://evil)"))
    name = shown[shown.index("New failure: audit logs not exported") + 1]
    assert name != INJECTION
    assert unescape(name) == INJECTION
    assert "Subscription: Team \\*A\\* \\[x\\](https\\://evil)" in shown
    assert "Resource group: rg\\_(weird)\\*" in shown
    # No markdown or HTML syntax is left unescaped.
    assert not re.search(r"(?<!\\)[*_\[\]<>`&{}]", name)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), max_size=200).filter(str.strip))
def test_any_name_displays_as_written(name: str):
    card = notice_card(Notice(finding(name), NoticeKind.NEW), CIS)
    shown = texts(card)
    displayed = shown[shown.index("New failure: audit logs not exported") + 1]
    assert unescape(displayed) == " ".join(name.split())
    digest = digest_messages([Notice(finding(name), NoticeKind.NEW)], SUMMARY, SCANNED, NAMES, CIS)
    assert digest_names(digest) == [" ".join(name.split())]


def test_line_start_markers_in_reasons_cannot_make_lists_or_headings():
    reasons = ("- not a list", "# not a heading", "1. not numbered", "  > not quoted\nsecond line")
    shown = texts(notice_card(Notice(finding(reasons=reasons), NoticeKind.NEW), CIS))
    bullets = [text for text in shown if text.startswith("• ")]
    # The line break is spelled out (docs/reference.md, "Text from Azure"), its backslash escaped for markdown.
    quoted = "• \\> not quoted\\\\nsecond line"
    assert bullets == ["• \\- not a list", "• \\# not a heading", "• 1\\. not numbered", quoted]


# The digest


def test_digest_lists_new_failures_then_reminders_then_resolutions_with_portal_links():
    notices = [NOTICES["resolved"], NOTICES["reminder"], NOTICES["error"], NOTICES["new"]]
    [message] = digest_messages(notices, SUMMARY, SCANNED, NAMES, CIS)
    card = card_of(message)
    shown = texts(card)
    assert shown[1] == "C-0254 audit-log scan: 4 failing, 1 cannot be checked"
    assert "Scanned 2026-11-26 21:00 UTC" in shown
    assert card["body"][1]["type"] == "FactSet"
    assert {"title": "Fail", "value": "4"} in card["body"][1]["facts"]
    headings = [text for text in shown if re.match(r"(New failures|Still failing|Resolved) \(", text)]
    assert headings == ["New failures (2)", "Still failing (1)", "Resolved (1)"]
    new, reminded, resolved = (
        ["aks-orders-prod-weu", "aks-reporting-prod-neu"],
        ["aks-orders-prod-weu"],
        ["aks-search-prod-weu"],
    )
    assert digest_names([message]) == [*new, *reminded, *resolved]
    assert (
        f"(https://portal.azure.com/#resource/subscriptions/{SUB}/resourceGroups/rg-orders-prod/"
        in shown[shown.index("New failures (2)") + 1]
    )
    assert any("failing since 2026-11-20 09:30 UTC" in text for text in shown)
    assert "actions" not in card


def test_digest_link_targets_survive_parentheses_in_resource_groups():
    [message] = digest_messages(
        [Notice(finding(resource_group="rg(prod) x"), NoticeKind.NEW)], SUMMARY, SCANNED, {}, CIS
    )
    text = next(text for text in texts(card_of(message)) if text.startswith("**["))
    target = re.match(r"\*\*\[.*?\]\(([^)\s]*)\)\*\*", text)
    assert target is not None
    assert "/resourceGroups/rg%28prod%29%20x/" in target[1]


def test_a_quiet_scan_is_one_message_that_says_so():
    [message] = digest_messages([], {**SUMMARY, "fail": 0, "error": 0}, SCANNED, NAMES, CIS)
    card = card_of(message)
    assert card["body"][0]["style"] == "good"
    assert "C-0254 audit-log scan: 0 need action" in texts(card)
    assert "No cluster started failing, is due a reminder or was fixed." in texts(card)


@pytest.mark.parametrize(
    ("failing", "unreadable", "title"),
    [
        (0, 0, "0 need action"),
        (1, 0, "1 failing"),
        (2, 0, "2 failing"),
        (0, 1, "1 cannot be checked"),
        (0, 3, "3 cannot be checked"),
        (2, 1, "2 failing, 1 cannot be checked"),
        (1, 2, "1 failing, 2 cannot be checked"),
    ],
)
def test_digest_title_counts_unreadable_clusters_apart_from_failures(failing: int, unreadable: int, title: str):
    [message] = digest_messages([], {**SUMMARY, "fail": failing, "error": unreadable}, SCANNED, NAMES, CIS)
    card = card_of(message)
    assert texts(card)[1] == f"C-0254 audit-log scan: {title}"
    assert card["body"][0]["style"] == ("attention" if failing or unreadable else "good")
    assert schema_errors(card) == []


def test_600_failures_split_into_numbered_parts_under_the_limit_and_none_is_lost():
    notices = long_failures(600)
    messages = digest_messages(notices, {**SUMMARY, "clusters": 600}, SCANNED, NAMES, CIS)
    sizes = [message_size(message) for message in messages]
    assert max(sizes) <= MAX_MESSAGE_BYTES
    assert min(sizes[:-1]) > MAX_MESSAGE_BYTES - 2_000  # packed, not one item per message
    names = digest_names(messages)
    assert sorted(names) == sorted(notice.finding.name for notice in notices)  # each exactly once
    total = len(messages)
    for number, message in enumerate(messages, start=1):
        title = texts(card_of(message))[1]
        assert title == f"C-0254 audit-log scan: 4 failing, 1 cannot be checked (part {number} of {total})"
    kinds_in_order = [next(n.kind for n in notices if n.finding.name == name) for name in names]
    assert kinds_in_order == sorted(
        kinds_in_order, key=[NoticeKind.NEW, NoticeKind.REMINDER, NoticeKind.RESOLVED].index
    )
    continued = [t for m in messages[1:] for t in texts(card_of(m)) if t.endswith("(continued)")]
    assert len(continued) >= total - 3


@pytest.mark.parametrize("char", ["x", "漢", "*"])  # ASCII; \uXXXX in JSON; escaped, then \\ in JSON
def test_an_item_too_large_alone_is_shortened_never_dropped(char: str):
    reasons = tuple(char * 5_000 + f" reason {i}" for i in range(200))
    huge = Notice(finding(char * 300, reasons=reasons, resource_group=char * 300), NoticeKind.NEW)
    messages = digest_messages([NOTICES["new"], huge, NOTICES["resolved"]], SUMMARY, SCANNED, NAMES, CIS)
    assert all(message_size(message) <= MAX_MESSAGE_BYTES for message in messages)
    names = ["aks-orders-prod-weu", char * 255 + "…", "aks-search-prod-weu"]
    assert sorted(digest_names(messages)) == sorted(names)
    details = [unescape(t) for m in messages for t in texts(card_of(m)) if unescape(t).startswith(char * 3)]
    assert len(details) == 1
    assert details[0].endswith("…")
    assert len(details[0]) <= 500


# Rendering with the official renderer


@dataclass
class Harness:
    """tests/render/harness.html in Chromium, and what went wrong there (console errors, blocked requests)."""

    page: Any
    problems: list[str]

    def render(self, card: dict[str, Any]) -> Any:
        renderer_messages = self.page.evaluate("([card, host]) => renderCard(card, host)", [card, HOST_CONFIG])
        assert renderer_messages == []
        assert self.problems == []
        return self.page.locator("#frame")

    def picture(self, card: dict[str, Any], path: Path) -> None:
        """The rendered card with a margin of the page around it, so its shadow and corners show."""
        box = self.render(card).bounding_box()
        margin = 16
        clip = {"x": box["x"] - margin, "y": box["y"] - margin}
        self.page.screenshot(
            path=path, clip={**clip, "width": box["width"] + 2 * margin, "height": box["height"] + 2 * margin}
        )


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """Only local files may load: any other request is blocked and counts as a problem."""
    if not RENDERER.is_file():
        pytest.fail(f"{RENDERER} is missing: run `bash scripts/bootstrap --with-test-tools` (npm ci)")
    if not CHROMIUM.is_file():
        pytest.fail("/usr/bin/chromium is missing: run `bash scripts/bootstrap --with-test-tools` (apt chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(device_scale_factor=2)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        page.on("requestfailed", lambda request: problems.append(f"blocked {request.url}"))
        page.goto(HARNESS.as_uri())
        yield Harness(page, problems)
        browser.close()


def test_rendered_card_shows_cluster_missing_categories_and_button(harness: Harness):
    frame = harness.render(notice_card(NOTICES["new"], CIS, "Contoso Production"))
    text = frame.inner_text()
    for expected in ("aks-orders-prod-weu", "kube-audit-admin", "Contoso Production", "Why it matters"):
        assert expected in text
    button = frame.locator(".ac-pushButton")  # Action.OpenUrl: a button with the role of a link
    assert button.inner_text() == BUTTON_TITLE
    assert button.is_visible()
    assert frame.locator("strong").inner_text() == "fail"  # the host's markdown ran


def test_markdown_injection_in_a_name_renders_literally(harness: Harness):
    frame = harness.render(notice_card(NOTICES["injection"], CIS, "Team *A* [x](https://evil)"))
    name = frame.locator(".ac-textBlock", has_text="alert(1)")
    assert name.inner_text() == INJECTION
    assert frame.locator("a, em, code, script, del").count() == 0
    assert frame.locator("strong").count() == 1  # only the status
    assert "Team *A* [x](https://evil)" in frame.inner_text()
    assert "rg_(weird)*" in frame.inner_text()
    # Control: unescaped, the same text does turn into markup in this harness.
    raw = harness.render({"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": INJECTION}]})
    assert raw.locator("a[href='https://evil']").count() == 1
    assert raw.locator("em").count() >= 1


def test_rendered_fix_reads_as_the_command_in_a_monospace_font(harness: Harness):
    notice = NOTICES["fixes"]
    assert notice.finding.fixes is not None
    frame = harness.render(notice_card(notice, CIS))
    command = frame.locator(".ac-textBlock", has_text="az monitor diagnostic-settings create")
    assert command.inner_text() == notice.finding.fixes.az  # the host's markdown turned nothing into markup
    assert "monospace" in command.evaluate("e => getComputedStyle(e).fontFamily").lower()
    assert frame.locator("a, em, strong:not(:text-is('fail')), code").count() == 0


def test_rendered_digest_links_every_cluster_to_its_portal_page(harness: Harness):
    notices = [NOTICES["new"], NOTICES["reminder"], NOTICES["error"], NOTICES["resolved"], NOTICES["injection"]]
    [message] = digest_messages(notices, SUMMARY, SCANNED, NAMES, CIS)
    frame = harness.render(card_of(message))
    links = frame.locator("a")
    assert [links.nth(i).inner_text() for i in range(links.count())] == [
        "aks-orders-prod-weu",
        INJECTION,
        "aks-reporting-prod-neu",
        "aks-orders-prod-weu",
        "aks-search-prod-weu",
    ]
    hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
    encoded = str.maketrans({" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"})
    assert hrefs == {notice.finding.portal_url.translate(encoded) for notice in notices}
    assert "C-0254 audit-log scan: 4 failing, 1 cannot be checked" in frame.inner_text()


def test_readme_pictures(harness: Harness, tmp_path: Path):
    """The README's card pictures; written to docs/ only with AUDITOR_UPDATE_PICTURES=1, so a test run
    never dirties the work tree."""
    pictures = ROOT / "docs" if os.environ.get("AUDITOR_UPDATE_PICTURES") == "1" else tmp_path
    payments = finding(
        "aks-payments-prod-weu",
        missing=("kube-audit", "kube-audit-admin"),
        reasons=("the cluster has no diagnostic settings",),
        resource_group="rg-payments-prod",
    )
    harness.picture(
        notice_card(Notice(payments, NoticeKind.NEW), CIS, "Contoso Production"), pictures / "teams-card.png"
    )
    checkout = finding(
        "aks-checkout-prod-weu",
        missing=("kube-audit",),
        reasons=("kube-audit is not exported to an accepted destination (setting audit-paused lists it but disabled)",),
        resource_group="rg-checkout-prod",
    )
    reporting = finding(
        "aks-reporting-prod-neu", Status.ERROR, (), (FORBIDDEN,), "rg-reporting-prod", location="northeurope"
    )
    search = finding("aks-search-prod-weu", Status.PASS, (), PASSING.reasons, "rg-search-prod")
    notices = [
        Notice(payments, NoticeKind.NEW),
        Notice(reporting, NoticeKind.NEW),
        Notice(checkout, NoticeKind.REMINDER, SINCE),
        Notice(search, NoticeKind.RESOLVED),
    ]
    [message] = digest_messages(notices, SUMMARY, SCANNED, NAMES, CIS)
    harness.picture(card_of(message), pictures / "teams-digest.png")
    for name in ("teams-card.png", "teams-digest.png"):
        assert (pictures / name).stat().st_size > 20_000
