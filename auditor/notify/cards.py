"""Microsoft Teams messages (Adaptive Cards 1.4) for notices. Pure: no I/O, no clock.

They are posted to a Workflows "When a Teams webhook request is received" URL.
Teams renders card version 1.4 on every client, refuses posts over about 28 KB, and reads
TextBlock and Fact text as markdown. So every message is measured and a digest is split
into parts, and every string that comes from Azure (names, resource groups, reasons) is
made inert (auditor/inert.py) and escaped: a cluster named `*x* [y](https://evil)` must read
literally, not become a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from auditor.control import AppliedControl
from auditor.inert import shown
from auditor.model import Finding, Fixes, Remediation, RemediationResult, Severity, Status
from auditor.notify.notices import Notice, NoticeKind, who_changed

MAX_MESSAGE_BYTES = 28_000  # Teams' limit is about 28 KB for the whole posted JSON

CARD_VERSION = "1.4"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
UNREADABLE = (
    "The auditor could not read this cluster's diagnostic settings, so it cannot tell whether "
    "its audit logs are exported."
)
BUTTON_TITLE = "Open diagnostic settings"
FIX_TITLE = "Fix with the Azure CLI"
_FIXES_ELSEWHERE = "the finding's fixes (JSON, CloudEvent) and the HTML report"

# Container style and text colour of each kind: red, amber, green in Teams' themes.
_STYLE = {NoticeKind.NEW: "attention", NoticeKind.REMINDER: "warning", NoticeKind.RESOLVED: "good"}
# A failure's severity decides its card's colour: removed logging is red, a cluster that never had it amber.
_SEVERITY_STYLE = {Severity.HIGH: "attention", Severity.MEDIUM: "warning", Severity.LOW: "emphasis"}
_KIND_ORDER = {NoticeKind.NEW: 0, NoticeKind.REMINDER: 1, NoticeKind.RESOLVED: 2}
_SECTION_TITLE = {NoticeKind.NEW: "New failures", NoticeKind.REMINDER: "Still failing", NoticeKind.RESOLVED: "Resolved"}
_SUMMARY_LABELS = {
    "clusters": "Clusters",
    "pass": "Pass",
    "fail": "Fail",
    "exempt": "Exempt",
    "error": "Error",
    "subscriptions": "Subscriptions",
    "skippedSubscriptions": "Skipped subscriptions",
    "unregisteredSubscriptions": "Subscriptions without AKS",
}
_PAST_TENSE = {"create": "created", "update": "updated"}

# Longest identity field shown (Azure's own limits are lower: cluster 63, resource group 90),
# longest single reason on a card (an Azure error message can be pages long), and longest
# reasons text of a digest item. With these bounds any one digest item fits a part.
_MAX_FIELD_CHARS = 256
_MAX_REASON_CHARS = 1_000
_MAX_DIGEST_REASONS_CHARS = 500
_MAX_FIX_CHARS = 1_500  # longest az command a card shows; a longer one is only pointed to

# Characters Teams' markdown (CommonMark plus strikethrough and tables) could act on inside
# a line; `:` splits "https://" so no bare URL is linked, `{}` stop the {{DATE()}} formatter.
# Newlines are collapsed first, so block syntax can only start the text: escaped there.
_INLINE_SPECIAL = re.compile(r"([\\`*_~\[\]<>&{}#|:])")
_LEADING_BLOCK = re.compile(r"^([-+=])|^(\d+)([.)])")
# A markdown link destination ends at whitespace or an unbalanced parenthesis: percent-encode.
_URL_UNSAFE = frozenset("()<>\\")


def teams_message(card: dict[str, Any]) -> dict[str, Any]:
    """The Workflows webhook envelope around one Adaptive Card."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def message_size(message: Mapping[str, Any]) -> int:
    """Bytes of the posted JSON as `json.dumps` writes it by default (what aiohttp and requests send).

    The default escapes non-ASCII as \\uXXXX, so this is also an upper bound of any more compact form.
    """
    return len(json.dumps(message).encode("utf-8"))


def notice_card(
    notice: Notice, control: AppliedControl, subscription_name: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The card for one cluster; reasons beyond what fits in MAX_MESSAGE_BYTES are counted, not listed.
    `now` makes the change's time relative ("2 minutes ago"); without it the card gives the time."""
    notice = shown(notice)
    subscription_name = shown(subscription_name)
    finding = notice.finding
    reasons = [_clip(reason, _MAX_REASON_CHARS) for reason in finding.reasons]

    def build(shown: int) -> dict[str, Any]:
        body = _notice_body(notice, control, subscription_name, reasons[:shown], len(reasons) - shown, now)
        return _card(body, _button(finding))

    low, high = 0, len(reasons)  # binary search for the most reasons that fit
    while low < high:
        middle = (low + high + 1) // 2
        if message_size(teams_message(build(middle))) <= MAX_MESSAGE_BYTES:
            low = middle
        else:
            high = middle - 1
    return build(low)


def digest_messages(
    notices: Sequence[Notice],
    summary: Mapping[str, int],
    scanned_at: datetime,
    subscription_names: Mapping[str, str],
    control: AppliedControl,
) -> list[dict[str, Any]]:
    """One scan's notices as Teams messages: new failures, then reminders, then resolutions.

    Every message stays within MAX_MESSAGE_BYTES: items are packed in order into as many
    parts as needed ("part 2 of 3"). No notice is ever dropped; an item's reasons are cut to
    _MAX_DIGEST_REASONS_CHARS ("…"), so any single item fits a part with room to spare.
    """
    subscription_names = shown(subscription_names)
    ordered = sorted(map(shown, notices), key=lambda notice: _digest_order(notice, subscription_names))
    counts = {kind: sum(1 for notice in ordered if notice.kind is kind) for kind in NoticeKind}
    to_act_on = (summary.get("fail", 0), summary.get("error", 0))  # failing, cannot be checked
    # Reserve the widest "part n of m" while packing; the real numbers are never longer.
    widest = len(ordered) + 1
    budget = MAX_MESSAGE_BYTES - message_size(_digest_message(control, to_act_on, scanned_at, (widest, widest), []))

    parts: list[list[dict[str, Any]]] = [_summary_elements(summary, bool(ordered))]
    used = _cost(parts[0])
    section: NoticeKind | None = None
    for notice in ordered:
        item = _digest_item(notice, subscription_names)
        same_section = notice.kind is section
        block = item if same_section else [_section_heading(notice.kind, counts[notice.kind]), *item]
        if used + _cost(block) > budget:
            if same_section:
                block = [_section_heading(notice.kind, None), *item]
            parts.append([])
            used = 0
        parts[-1].extend(block)
        used += _cost(block)
        section = notice.kind

    total = len(parts)
    return [
        _digest_message(control, to_act_on, scanned_at, (number, total) if total > 1 else None, elements)
        for number, elements in enumerate(parts, start=1)
    ]


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA_URL,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def _button(finding: Finding) -> list[dict[str, Any]]:
    return [{"type": "Action.OpenUrl", "title": BUTTON_TITLE, "url": finding.portal_url, "style": "positive"}]


def _notice_body(
    notice: Notice,
    control: AppliedControl,
    subscription_name: str | None,
    reasons: Sequence[str],
    hidden: int,
    now: datetime | None,
) -> list[dict[str, Any]]:
    finding = notice.finding
    subline = None
    if notice.kind is NoticeKind.REMINDER and notice.first_failed_at is not None:
        subline = f"Failing since {_when(notice.first_failed_at)}"
    style = _style(notice)
    body = [
        _header(control, style, _headline(notice), _field(finding.name), subline, size="ExtraLarge"),
        {"type": "FactSet", "facts": _facts(finding, subscription_name, control), "spacing": "Medium"},
    ]
    who = who_changed(notice, now)
    if who:
        body.append(_text("Who changed it", weight="Bolder", spacing="Medium"))
        body.append(_text(_md(who), spacing="Small"))
    if finding.status is Status.ERROR:
        body.append(_text(UNREADABLE, spacing="Medium"))
    if reasons or hidden:
        body.append(_text(_reasons_title(notice), weight="Bolder", spacing="Medium"))
        body.extend(_text(f"• {_md(reason)}", spacing="Small") for reason in reasons)
        if hidden:
            body.append(_text(f"… and {hidden} more", isSubtle=True, spacing="Small"))
    if finding.remediation is not None:
        body.append(_text("Remediation", weight="Bolder", spacing="Medium"))
        body.append(_text(_remediation_sentence(finding.remediation), spacing="Small"))
    if finding.fixes is not None:
        body.extend(_fix(finding.fixes))
    if notice.kind is not NoticeKind.RESOLVED:
        body.append(_text("Why it matters", weight="Bolder", spacing="Medium"))
        body.append(_text(_md(control.why_it_matters()), isSubtle=True, spacing="Small"))
    return body


def _fix(fixes: Fixes) -> list[dict[str, Any]]:
    """The az command in monospace when it fits whole (a command cut short must never be pasted), and where
    the Bicep and Terraform versions are: code that long does not belong on a card."""
    title = _text(FIX_TITLE, weight="Bolder", spacing="Medium")
    if len(fixes.az) > _MAX_FIX_CHARS:
        where = f"Too long for a card: the command, and Bicep and Terraform versions, are in {_FIXES_ELSEWHERE}."
        return [title, _text(where, isSubtle=True, spacing="Small")]
    return [
        title,
        _text(_md(fixes.az), fontType="Monospace", spacing="Small"),
        _text(f"Bicep and Terraform versions are in {_FIXES_ELSEWHERE}.", isSubtle=True, spacing="Small"),
    ]


def _style(notice: Notice) -> str:
    severity = notice.finding.severity
    if notice.kind is NoticeKind.RESOLVED or severity is None:
        return _STYLE[notice.kind]
    return _SEVERITY_STYLE[severity]


def _headline(notice: Notice) -> str:
    status = notice.finding.status
    if notice.kind is NoticeKind.RESOLVED:
        return "Resolved: the cluster is now exempt" if status is Status.EXEMPT else "Resolved: audit logs exported"
    if notice.kind is NoticeKind.REMINDER:
        return "Reminder: still cannot be checked" if status is Status.ERROR else "Reminder: still failing"
    return "Cannot check audit logs" if status is Status.ERROR else "New failure: audit logs not exported"


def _reasons_title(notice: Notice) -> str:
    if notice.kind is NoticeKind.RESOLVED:
        return "Now"
    return "Why it could not be checked" if notice.finding.status is Status.ERROR else "Why it fails"


def _facts(finding: Finding, subscription_name: str | None, control: AppliedControl) -> list[dict[str, str]]:
    facts = [("Status", f"**{finding.status}**"), ("Missing", _missing(finding))]
    if finding.severity is not None:
        technique = control.control.attack_technique
        mapped = f" · ATT&CK {technique}" if technique and finding.severity is Severity.HIGH else ""
        facts.append(("Severity", _md(f"{finding.severity}{mapped}")))
    facts.append(("Subscription", _field(subscription_name or finding.subscription_id)))
    if finding.resource_group:
        facts.append(("Resource group", _field(finding.resource_group)))
    if finding.location:
        facts.append(("Location", _field(finding.location)))
    return [{"title": title, "value": value} for title, value in facts]


def _missing(finding: Finding) -> str:
    if finding.missing_categories:
        return _md(", ".join(finding.missing_categories))
    return "unknown (settings not read)" if finding.status is Status.ERROR else "nothing"


def _remediation_sentence(remediation: Remediation) -> str:
    """What was, or would be, changed."""
    action = _md(str(remediation.action))
    setting = _md(remediation.setting)
    categories = _md(", ".join(remediation.categories))
    result = remediation.result
    if result is RemediationResult.PLANNED:
        return f"Dry run: would {action} diagnostic setting {setting} to export {categories}. Nothing was changed."
    if result is RemediationResult.APPLIED:
        done = _md(_PAST_TENSE.get(str(remediation.action), str(remediation.action)))
        return f"Fixed: {done} diagnostic setting {setting} exporting {categories}, verified by reading it back."
    if result is RemediationResult.FAILED:
        return f"Remediation failed: could not {action} diagnostic setting {setting} for {categories}."
    if result is RemediationResult.HELD_BACK:
        return f"Remediation held back: {_md(remediation.reason)}."
    return (
        f"Remediation ({_md(str(remediation.mode))}): {action} diagnostic setting {setting} for {categories}: {result}."
    )


def _digest_message(
    control: AppliedControl,
    to_act_on: tuple[int, int],
    scanned_at: datetime,
    part: tuple[int, int] | None,
    elements: list[dict[str, Any]],
) -> dict[str, Any]:
    title = f"{control.control.id} audit-log scan: {_need_action(*to_act_on)}"
    if part is not None:
        title += f" (part {part[0]} of {part[1]})"
    style = "attention" if any(to_act_on) else "good"
    header = _header(control, style, None, title, f"Scanned {_when(scanned_at)}", size="Large")
    return teams_message(_card([header, *elements], []))


def _need_action(failing: int, unreadable: int) -> str:
    """`2 failing, 1 cannot be checked`: a cluster whose settings could not be read is not known to
    fail, and it asks for other work (most often the auditor's access). Both zero: `0 need action`."""
    phrases = [f"{failing} failing"] if failing else []
    if unreadable:
        phrases.append(f"{unreadable} cannot be checked")
    return ", ".join(phrases) or "0 need action"


def _summary_elements(summary: Mapping[str, int], any_notice: bool) -> list[dict[str, Any]]:
    facts = [{"title": _SUMMARY_LABELS.get(key, _md(key)), "value": str(value)} for key, value in summary.items()]
    elements: list[dict[str, Any]] = [{"type": "FactSet", "facts": facts, "spacing": "Medium"}]
    if not any_notice:
        elements.append(_text("No cluster started failing, is due a reminder or was fixed.", spacing="Medium"))
    return elements


def _section_heading(kind: NoticeKind, count: int | None) -> dict[str, Any]:
    """`count` None means the section goes on from the previous part."""
    suffix = "(continued)" if count is None else f"({count})"
    return _text(
        f"{_SECTION_TITLE[kind]} {suffix}", weight="Bolder", color=_STYLE[kind], spacing="Large", separator=True
    )


def _digest_item(notice: Notice, subscription_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """A few lines naming the cluster with its portal link; reasons are cut short to keep parts few."""
    finding = notice.finding
    link = f"**[{_field(finding.name)}]({_link_target(finding.portal_url)})**"
    where = [subscription_names.get(finding.subscription_id, finding.subscription_id)]
    where += [value for value in (finding.resource_group, finding.location) if value]
    place = " · ".join(_field(value) for value in where)
    if notice.kind is NoticeKind.REMINDER and notice.first_failed_at is not None:
        place += f" · failing since {_when(notice.first_failed_at)}"
    if finding.severity is not None and notice.kind is not NoticeKind.RESOLVED:
        place += f" · {finding.severity}"
    detail = _md(_clip("; ".join(finding.reasons), _MAX_DIGEST_REASONS_CHARS)) or "no reason given"
    if who := who_changed(notice, None):
        detail = f"{_md(_clip(who, _MAX_DIGEST_REASONS_CHARS))}. {detail}"
    if finding.remediation is not None:
        detail = f"Remediation: {_remediation_sentence(finding.remediation)} {detail}"
    return [
        _text(f"{link} · {_status_phrase(finding, notice.kind)}", spacing="Medium"),
        _text(place, isSubtle=True, size="Small", spacing="None"),
        _text(detail, size="Small", spacing="None"),
    ]


def _status_phrase(finding: Finding, kind: NoticeKind) -> str:
    if kind is NoticeKind.RESOLVED:
        return "exempt now" if finding.status is Status.EXEMPT else "passes now"
    if finding.status is Status.ERROR:
        return "could not be checked"
    return "missing " + _md(", ".join(finding.missing_categories)) if finding.missing_categories else "failing"


def _digest_order(notice: Notice, subscription_names: Mapping[str, str]) -> tuple[int, int, str, str, str]:
    finding = notice.finding
    subscription = subscription_names.get(finding.subscription_id, finding.subscription_id)
    return (
        _KIND_ORDER[notice.kind],
        finding.status is Status.ERROR,  # within a kind, failures before unreadable clusters
        subscription.lower(),
        finding.resource_group.lower(),
        finding.name.lower(),
    )


def _header(
    control: AppliedControl, style: str, kicker: str | None, title: str, subline: str | None, size: str
) -> dict[str, Any]:
    """The coloured band that says at a glance what happened, and to which cluster."""
    items = [_text(_md(f"{control.control.subject} · {control.control.label}"), size="Small", isSubtle=True)]
    if kicker is not None:
        items.append(_text(kicker, weight="Bolder", color=style, spacing="Small"))
    items.append(_text(title, size=size, weight="Bolder", spacing="None"))
    if subline is not None:
        items.append(_text(subline, isSubtle=True, spacing="None"))
    return {"type": "Container", "style": style, "bleed": True, "items": items}


def _text(text: str, **properties: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **properties}


def _cost(elements: Sequence[Mapping[str, Any]]) -> int:
    """Bytes these elements add to a card body that already has an element: each plus ", "."""
    return sum(len(json.dumps(element).encode("utf-8")) + 2 for element in elements)


def _md(value: str) -> str:
    """Text from Azure as markdown that displays literally (CommonMark backslash escapes).

    Whitespace runs (newlines included) become one space first, so block syntax (lists,
    headings, code blocks) can only start the text, where _LEADING_BLOCK escapes it.
    """
    text = _INLINE_SPECIAL.sub(r"\\\1", " ".join(value.split()))
    return _LEADING_BLOCK.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def _field(value: str) -> str:
    """An identity field (name, resource group, location, subscription), escaped and bounded."""
    return _md(_clip(value, _MAX_FIELD_CHARS))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def _link_target(url: str) -> str:
    return "".join(quote(char, safe="") if char.isspace() or char in _URL_UNSAFE else char for char in url)


def _when(moment: datetime) -> str:
    """Minutes in UTC: every reader of a channel sees the same time (naive times are taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
