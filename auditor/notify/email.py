"""Notices by email over SMTP (Office 365, SendGrid, Azure Communication Services): HTML and plain text.

smtplib is synchronous, so sending runs in a worker thread. STARTTLS (or implicit TLS on
port 465) uses the same trust as every other connection (REQUESTS_CA_BUNDLE / SSL_CERT_FILE).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import smtplib
import socket
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from auditor.azure.transport import call_budget, ssl_context
from auditor.control import AppliedControl
from auditor.inert import shown
from auditor.notify.notices import Notice, NoticeKind, who_changed
from auditor.report.table import remediation_line
from auditor.settings import SmtpSettings

_TITLES = {NoticeKind.NEW: "New failure", NoticeKind.REMINDER: "Still failing", NoticeKind.RESOLVED: "Resolved"}
_COLOURS = {NoticeKind.NEW: "#c50f1f", NoticeKind.REMINDER: "#bc4b09", NoticeKind.RESOLVED: "#107c10"}


def subject(notices: Sequence[Notice], control: AppliedControl) -> str:
    failing = sum(1 for n in notices if n.kind is not NoticeKind.RESOLVED)
    resolved = len(notices) - failing
    parts = []
    if failing:
        parts.append(f"{failing} AKS cluster{'s' if failing != 1 else ''} need{'s' if failing == 1 else ''} action")
    if resolved:
        parts.append(f"{resolved} resolved")
    return f"{control.control.id} audit logs: " + ", ".join(parts)


def compose(
    notices: Sequence[Notice],
    smtp: SmtpSettings,
    names: Mapping[str, str],
    control: AppliedControl,
    now: datetime | None = None,
) -> EmailMessage:
    """One message for a run's notices; the text and HTML parts say the same thing, text from Azure inert
    in both (auditor/inert.py: HTML escaping alone leaves control and bidi characters)."""
    now = now or datetime.now(UTC)
    why = control.why_it_matters()
    message = EmailMessage()
    message["Subject"] = subject(notices, control)
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=smtp.sender.split("@")[-1])
    ordered = [shown(n) for n in sorted(notices, key=lambda n: list(NoticeKind).index(n.kind))]
    names = shown(names)
    message.set_content(_text(ordered, names, why, now))
    message.add_alternative(_html(ordered, names, why, now), subtype="html")
    return message


def _title(notice: Notice) -> str:
    severity = notice.finding.severity
    if severity is None or notice.kind is NoticeKind.RESOLVED:
        return _TITLES[notice.kind]
    return f"{_TITLES[notice.kind]} · {severity}"


def _line(notice: Notice, names: Mapping[str, str]) -> tuple[str, str, str]:
    finding = notice.finding
    subscription = names.get(finding.subscription_id, finding.subscription_id)
    where = f"resource group {finding.resource_group or '-'}, subscription {subscription}"
    if notice.kind is NoticeKind.RESOLVED:
        what = f"now {finding.status}"
    elif finding.missing_categories:
        what = "missing " + ", ".join(finding.missing_categories)
    else:
        what = str(finding.status)
    reasons = list(finding.reasons)
    if finding.remediation is not None and notice.kind is not NoticeKind.RESOLVED:
        reasons.append(f"remediation {finding.remediation.mode}: {remediation_line(finding.remediation)}")
    return where, what, "; ".join(reasons)


def _text(notices: Sequence[Notice], names: Mapping[str, str], why: str, now: datetime) -> str:
    lines = [why, ""]
    for notice in notices:
        where, what, reasons = _line(notice, names)
        lines += [f"[{_title(notice)}] {notice.finding.name} ({where}): {what}"]
        if who := who_changed(notice, now):
            lines.append(f"  {who}")
        if notice.first_failed_at and notice.kind is NoticeKind.REMINDER:
            lines.append(f"  failing since {notice.first_failed_at:%Y-%m-%d %H:%M} UTC")
        lines += [f"  {reasons}", f"  {notice.finding.portal_url}", ""]
    return "\n".join(lines)


def _html(notices: Sequence[Notice], names: Mapping[str, str], why: str, now: datetime) -> str:
    rows = []
    for notice in notices:
        where, what, reasons = _line(notice, names)
        who = who_changed(notice, now)
        who_html = f"<br><b>{html.escape(who)}</b>" if who else ""
        since = (
            f"<br><small>failing since {notice.first_failed_at:%Y-%m-%d %H:%M} UTC</small>"
            if notice.first_failed_at and notice.kind is NoticeKind.REMINDER
            else ""
        )
        rows.append(
            "<tr>"
            f'<td style="color:{_COLOURS[notice.kind]};font-weight:600;white-space:nowrap">{_title(notice)}</td>'
            f"<td><b>{html.escape(notice.finding.name)}</b><br><small>{html.escape(where)}</small>{since}</td>"
            f"<td>{html.escape(what)}{who_html}<br><small>{html.escape(reasons)}</small></td>"
            f'<td><a href="{html.escape(notice.finding.portal_url, quote=True)}">Open diagnostic settings</a></td>'
            "</tr>"
        )
    return (
        '<!doctype html><html><body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px">'
        f"<p>{html.escape(why)}</p>"
        '<table cellpadding="6" style="border-collapse:collapse">'
        "<tr><th align=left>Change</th><th align=left>Cluster</th><th align=left>What</th><th></th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )


async def send(message: EmailMessage, smtp: SmtpSettings, socket_timeout: float) -> None:
    """Send in a worker thread (smtplib blocks); the whole conversation ends within call_budget."""
    await asyncio.to_thread(_send, message, smtp, socket_timeout, call_budget(socket_timeout))


def _send(message: EmailMessage, smtp: SmtpSettings, timeout: float, deadline: float) -> None:
    """smtplib's timeout bounds each socket operation, so a server that trickles a byte at a time
    could stretch a conversation for ever: a watchdog shuts the socket down at the deadline, which
    ends any read or write in progress with an OSError (reported as a failed delivery)."""
    context = ssl_context()
    implicit_tls = smtp.port == 465
    client = smtplib.SMTP_SSL(timeout=timeout, context=context) if implicit_tls else smtplib.SMTP(timeout=timeout)
    # The name TLS checks the certificate against: smtplib sets it only in a constructor that would also
    # connect, and read the greeting, before the watchdog runs.
    client._host = smtp.host  # type: ignore[attr-defined]  # (not in the stubs)
    watchdog = threading.Timer(deadline, _cut, args=(client,))
    watchdog.daemon = True
    watchdog.start()
    try:
        client.connect(smtp.host, smtp.port)
        with client:
            if smtp.starttls and not implicit_tls:
                client.starttls(context=context)
            if smtp.username and smtp.password is not None:
                client.login(smtp.username, smtp.password.reveal())
            client.send_message(message)
    finally:
        watchdog.cancel()
        client.close()


def _cut(client: smtplib.SMTP) -> None:
    sock = client.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
