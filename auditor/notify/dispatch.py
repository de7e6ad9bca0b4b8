"""Where findings go once judged (docs/reference.md, "Notifications"): every evaluation to the Event Grid topic; to
people (Teams, email) only the notices that state allows: a new failure, a reminder, a resolution.

With a store, a notice is claimed in the cluster's state (a pending claim, ETag-guarded, so
two instances cannot both announce the same change) before it is sent, committed after every
channel took it, and dropped when one did not, so the next run sends it again (on every
channel: the one that took it hears it twice). A run that dies in between leaves the claim to
expire (notices.NOTICE_LEASE) and a later run sends it: at least once, twice if it died after
delivering. Without a store (a plain CLI run), every failing finding is a notice.

State that fails (a wrong or unreachable AzureWebJobsStorage) never hides a finding: the first
failure of a run stops every further state call of that run (one bounded failure, not one per
cluster), the findings still go to the topic and the report, no notice is sent (none could be
claimed; the next run with state sends them) and `Delivery.unstored` says so once. Delivery
problems are logged and counted, never raised into the scan, and never carry a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeVar

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceModifiedError

from auditor.attribution import Origin, private, severity_of
from auditor.azure import transport
from auditor.azure.egress import Egress, GuardedTransport
from auditor.azure.errors import first_line
from auditor.azure.state import FINDINGS_TABLE, FindingStore
from auditor.azure.storage import Storage, StorageTarget
from auditor.model import Change, Finding, FindingRecord, Severity, Status
from auditor.notify import email
from auditor.notify.cards import digest_messages, notice_card, teams_message
from auditor.notify.eventgrid import EventGridPublisher
from auditor.notify.notices import NEEDS_ACTION, NOTICE_LEASE, Notice, NoticeKind, delivered, next_notice, undelivered
from auditor.notify.outbound import DeliveryError, Webhook, redact
from auditor.settings import Settings

# Who made the change behind a new failure that no event explained (the Activity Log adapter).
Attributor = Callable[[Finding], Awaitable[Change | None]]
_PUBLISH_EVERY = 500  # findings buffered for Event Grid before a publish, so memory stays flat
_SINGLE_CARDS_UP_TO = 3  # more notices than this in one run go out as a digest
_SETTLE_IN_FLIGHT = 32  # notices committed (or dropped) at once after delivery
T = TypeVar("T")


@dataclass(slots=True)
class Delivery:
    """What a run delivered, for the log, the exit code and the tests."""

    eventgrid_requests: int = 0
    teams_messages: int = 0
    emails: int = 0
    notices: list[Notice] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unstored: str = ""  # what the function's storage failed to keep this run, once ("" when all was kept)


@dataclass(slots=True)
class _PendingNotice:
    """A notice to send, with the claim it holds in the cluster's state (None without a store)."""

    notice: Notice
    claim: FindingRecord | None


class Notifier:
    """Every finding of a run goes through here: to the topic always, to people as state allows."""

    def __init__(
        self,
        settings: Settings,
        target: StorageTarget | None,
        logger: logging.Logger,
        credential: AsyncTokenCredential,
        attributor: Attributor | None = None,
    ) -> None:
        self._credential = credential  # the invocation's: Event Grid without a key, identity-based storage
        self._attributor = attributor
        self._settings = settings
        self._privacy = settings.attribution
        self._config = settings.notifications
        self._control = settings.applied_control()
        self._target = target
        self._logger = logger
        self._timeout = settings.http_timeout_seconds
        self._max_retry_after = settings.max_retry_after_seconds
        self._resources = contextlib.AsyncExitStack()
        self._store: FindingStore | None = None
        self._publisher: EventGridPublisher | None = None
        self._teams: Webhook | None = None
        self._pending_events: list[Finding] = []
        self._pending: list[_PendingNotice] = []
        self._state_failure = ""  # the first state failure of the run: no state call after it
        self._unrecorded = 0  # findings whose record could not be read or written
        self._unsettled = 0  # delivered notices whose claim could not be committed
        self.delivery = Delivery()

    async def __aenter__(self) -> Notifier:
        config = self._config
        if self._target is not None:  # the history severity and attribution need, whether or not anyone is told
            storage = await self._resources.enter_async_context(Storage(self._target, self._credential, self._settings))
            table = storage.table(FINDINGS_TABLE)
            self._store = FindingStore(table)
            await self._stateful(lambda _: storage.ensure_table(table))
        if not (config.eventgrid_endpoint or config.speaks):
            return self
        session = await self._resources.enter_async_context(transport.session(16))
        if config.teams_webhook_url is not None:
            self._teams = Webhook(
                session, config.teams_webhook_url, config.allowed_hosts, self._timeout, self._max_retry_after
            )
        if config.eventgrid_endpoint:
            egress = Egress.for_run(self._settings, "the Event Grid topic", config.eventgrid_endpoint)
            self._publisher = EventGridPublisher(
                config.eventgrid_endpoint, self._eventgrid_credential(), GuardedTransport(egress, session), egress
            )
            self._resources.push_async_callback(self._publisher.close)
        return self

    def _eventgrid_credential(self) -> AzureKeyCredential | AsyncTokenCredential:
        if self._config.eventgrid_key is not None:
            return AzureKeyCredential(self._config.eventgrid_key.reveal())
        return self._credential

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._resources.aclose()

    async def add(self, finding: Finding, origin: Origin = Origin.SCAN) -> Finding:
        """Take one evaluation: weigh it against the cluster's history (severity, who changed it), record
        it and decide (and claim) its notice, queue it for the topic; returns the finding as published."""
        finding = replace(finding, change=private(finding.change, self._privacy))
        if self._target is None:
            finding = replace(finding, severity=severity_of(finding, origin, None))
            if self._config.speaks and finding.status in NEEDS_ACTION:
                self._pending.append(_PendingNotice(Notice(finding, NoticeKind.NEW), None))
        else:
            finding = await self._remember(finding, origin)
        if self._publisher is not None:
            self._pending_events.append(finding)
            if len(self._pending_events) >= _PUBLISH_EVERY:
                await self._publish()
        return finding

    async def _remember(self, finding: Finding, origin: Origin) -> Finding:
        """Update the cluster's record; a failure keeps the severity and attribution it started with."""
        now = datetime.now(UTC).replace(microsecond=0)  # what a table keeps, so read-back compares equal
        speaks = self._config.speaks

        def change(memory: FindingRecord | None) -> tuple[FindingRecord, tuple[FindingRecord, Notice | None]]:
            after, notice = next_notice(memory, finding, now, self._config.renotify_hours, speaks)
            known = memory or FindingRecord()
            severity = severity_of(finding, origin, memory.status if memory else None, known.severity)
            after = replace(after, severity=str(severity or ""), change=_kept_change(finding, memory))
            return after, (after, notice)

        try:
            updated = await self._stateful(lambda store: store.update(finding.resource_id, change))
        except ResourceModifiedError:
            updated = None
            self._fail(f"finding state of {finding.name} not updated (it kept changing under other instances)")
        if updated is None:
            self._unrecorded += 1
            return replace(finding, severity=severity_of(finding, origin, None))
        before, (after, notice) = updated
        finding = replace(finding, severity=_severity(after.severity))
        if finding.status in NEEDS_ACTION and finding.change is None:
            finding = await self._attribute(finding, before, after)
        if notice is not None:
            self._pending.append(_PendingNotice(replace(notice, finding=finding), after))
        return finding

    async def _stateful(self, call: Callable[[FindingStore], Awaitable[T]]) -> T | None:
        """One call to the findings table, bounded in time; None once state has failed this run. The first
        failure is kept (reported once by flush) and stops every later call: a dead account costs the run
        one failed call, not one per cluster. ETag contention (ResourceModifiedError) is no outage: raised."""
        if self._store is None or self._state_failure:
            return None
        try:
            async with asyncio.timeout(transport.call_budget(self._timeout)):
                return await call(self._store)
        except ResourceModifiedError:
            raise
        except Exception as exc:
            if not self._state_failure:
                self._state_failure = f"{type(exc).__name__}: {first_line(exc)}"
            return None

    async def _attribute(self, finding: Finding, before: FindingRecord | None, after: FindingRecord) -> Finding:
        """The change behind a failure: the one recorded when it began, or (a new failure) the Activity Log's."""
        if after.change:
            with contextlib.suppress(ValueError, TypeError):
                return replace(finding, change=private(Change.from_json(json.loads(after.change)), self._privacy))
            return finding
        new = before is None or before.status not in NEEDS_ACTION
        if not new or self._attributor is None or finding.status is not Status.FAIL:
            return finding
        try:
            found = private(await self._attributor(finding), self._privacy)
        except Exception as exc:  # attribution is for reporting: it never holds up a finding
            self._fail(f"attribution of {finding.name} failed ({type(exc).__name__})")
            return finding
        if found is None:
            return finding
        record = json.dumps(found.to_json())
        try:  # kept with the failure, so its reminders name the change without another lookup
            kept = await self._stateful(
                lambda store: store.update(finding.resource_id, lambda m: (replace(m, change=record) if m else m, None))
            )
        except ResourceModifiedError:
            kept = None
        if kept is None and not self._state_failure:  # a state failure is reported once, by flush
            self._fail(f"attribution of {finding.name} not recorded")
        return replace(finding, change=found)

    async def flush(self, subscription_names: Mapping[str, str], summary: Mapping[str, int]) -> Delivery:
        """Send what the run gathered; commit the claims of the notices delivered on every channel,
        drop the others' (so the next run sends them again); say once what state could not keep."""
        if self._publisher is not None:
            await self._publish()
        pending, self._pending = self._pending, []
        if pending:
            notices = [entry.notice for entry in pending]
            sent = True
            if self._teams is not None:
                sent &= await self._send_teams(notices, subscription_names, summary)
            if self._config.smtp is not None:
                sent &= await self._send_email(notices, subscription_names)
            if sent:
                self.delivery.notices.extend(notices)
            await self._settle(pending, sent)
        self._report_state()
        return self.delivery

    async def _settle(self, pending: list[_PendingNotice], sent: bool) -> None:
        """Commit (sent) or drop each notice's claim, a few rows at a time."""
        settle = delivered if sent else undelivered
        room = asyncio.Semaphore(_SETTLE_IN_FLIGHT)

        async def one(entry: _PendingNotice) -> None:
            claim = entry.claim
            if claim is None:
                return
            async with room:
                try:
                    done = await self._stateful(
                        lambda store: store.update(entry.notice.finding.resource_id, lambda m: (settle(m, claim), None))
                    )
                except ResourceModifiedError:
                    done = None
            if done is None and sent:
                self._unsettled += 1

        async with asyncio.TaskGroup() as group:
            for entry in pending:
                group.create_task(one(entry))

    def _report_state(self) -> None:
        """One line for everything the function's storage could not keep this run."""
        if not self._state_failure or self.delivery.unstored:
            return
        parts = [f"state storage (AzureWebJobsStorage) failed ({self._state_failure})"]
        if self._unrecorded:
            parts.append(f"{self._unrecorded} finding(s) not recorded and not announced (the next run does)")
        if self._unsettled:
            minutes = int(NOTICE_LEASE.total_seconds() // 60)
            parts.append(f"{self._unsettled} notice(s) delivered but not recorded: sent again after {minutes} min")
        self.delivery.unstored = redact("; ".join(parts), self._config.secrets())
        self._fail(self.delivery.unstored)

    async def _publish(self) -> None:
        pending, self._pending_events = self._pending_events, []
        if not pending or self._publisher is None:
            return
        try:
            self.delivery.eventgrid_requests += await self._publisher.publish(pending)
        except Exception as exc:
            self._fail(f"Event Grid topic did not take {len(pending)} findings ({_status(exc)})")

    async def _send_teams(self, notices: list[Notice], names: Mapping[str, str], summary: Mapping[str, int]) -> bool:
        assert self._teams is not None
        if len(notices) <= _SINGLE_CARDS_UP_TO:
            now = datetime.now(UTC)
            messages = [
                teams_message(notice_card(n, self._control, names.get(n.finding.subscription_id), now)) for n in notices
            ]
        else:
            messages = digest_messages(notices, summary, datetime.now(UTC), names, self._control)
        try:
            for message in messages:
                await self._teams.post(message)
                self.delivery.teams_messages += 1
        except DeliveryError as exc:
            self._fail(f"Teams: {exc}")
            return False
        return True

    async def _send_email(self, notices: list[Notice], names: Mapping[str, str]) -> bool:
        smtp = self._config.smtp
        assert smtp is not None
        try:
            await email.send(email.compose(notices, smtp, names, self._control), smtp, self._timeout)
        except Exception as exc:
            self._fail(f"email via {smtp.host}:{smtp.port} failed ({type(exc).__name__})")
            return False
        self.delivery.emails += 1
        return True

    def _fail(self, message: str) -> None:
        safe = redact(message, self._config.secrets())
        self.delivery.errors.append(safe)
        self._logger.error("C-0254 notification problem: %s", safe)


def _status(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def _kept_change(finding: Finding, memory: FindingRecord | None) -> str:
    """The Change JSON a record keeps: the finding's own, else (a failure going on) the one it began with."""
    if finding.status not in NEEDS_ACTION:
        return ""
    if finding.change is not None:
        return json.dumps(finding.change.to_json())
    return memory.change if memory is not None and memory.status in NEEDS_ACTION else ""


def _severity(value: str) -> Severity | None:
    return Severity(value) if value in set(Severity) else None
