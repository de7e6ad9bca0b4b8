"""Where findings go once judged (docs/reference.md, "Notifications"): every evaluation to the Event Grid topic; to
people (Teams, email) only the notices that state allows: a new failure, a reminder, a resolution.

With a store, a notice is claimed in the cluster's state (ETag-guarded, so two instances
cannot both announce the same change) before it is sent, and the claim is undone when
delivery fails, so the next run tries again. Without a store (a plain CLI run), every
failing finding is a notice. Delivery problems are logged and counted, never raised into
the scan, and never carry a secret.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport

from auditor.azure import transport
from auditor.azure.state import FINDINGS_TABLE, FindingStore
from auditor.azure.storage import Storage, StorageTarget
from auditor.model import Finding, FindingRecord
from auditor.notify import email
from auditor.notify.cards import digest_messages, notice_card, teams_message
from auditor.notify.eventgrid import EventGridPublisher
from auditor.notify.notices import NEEDS_ACTION, Notice, NoticeKind, next_notice
from auditor.notify.outbound import DeliveryError, Webhook, redact
from auditor.settings import Settings

_PUBLISH_EVERY = 500  # findings buffered for Event Grid before a publish, so memory stays flat
_SINGLE_CARDS_UP_TO = 3  # more notices than this in one run go out as a digest
_TIMEOUT = 30.0


@dataclass(slots=True)
class Delivery:
    """What a run delivered, for the log, the exit code and the tests."""

    eventgrid_requests: int = 0
    teams_messages: int = 0
    emails: int = 0
    notices: list[Notice] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _PendingNotice:
    """A notice recorded in the cluster's state (before -> after), to undo if it cannot be delivered."""

    notice: Notice
    before: FindingRecord | None
    after: FindingRecord


class Notifier:
    """Every finding of a run goes through here: to the topic always, to people as state allows."""

    def __init__(
        self,
        settings: Settings,
        target: StorageTarget | None,
        logger: logging.Logger,
        credential: AsyncTokenCredential,
    ) -> None:
        self._credential = credential  # the invocation's: Event Grid without a key, identity-based storage
        self._config = settings.notifications
        self._control = settings.applied_control()
        self._target = target
        self._logger = logger
        self._timeout = settings.http_timeout_seconds
        self._resources = contextlib.AsyncExitStack()
        self._store: FindingStore | None = None
        self._publisher: EventGridPublisher | None = None
        self._teams: Webhook | None = None
        self._pending_events: list[Finding] = []
        self._pending: list[_PendingNotice] = []
        self.delivery = Delivery()

    async def __aenter__(self) -> Notifier:
        config = self._config
        if not (config.eventgrid_endpoint or config.speaks):
            return self
        session = await self._resources.enter_async_context(transport.session(16))
        if config.teams_webhook_url is not None:
            self._teams = Webhook(session, config.teams_webhook_url, config.allowed_hosts, self._timeout)
        if config.eventgrid_endpoint:
            self._publisher = EventGridPublisher(
                config.eventgrid_endpoint,
                self._eventgrid_credential(),
                AioHttpTransport(session=session, session_owner=False),
            )
            self._resources.push_async_callback(self._publisher.close)
        if config.speaks and self._target is not None:
            storage = await self._resources.enter_async_context(Storage(self._target, self._credential))
            table = storage.table(FINDINGS_TABLE)
            await storage.ensure_table(table)
            self._store = FindingStore(table)
        return self

    def _eventgrid_credential(self) -> AzureKeyCredential | AsyncTokenCredential:
        if self._config.eventgrid_key is not None:
            return AzureKeyCredential(self._config.eventgrid_key.reveal())
        return self._credential

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._resources.aclose()

    async def add(self, finding: Finding) -> None:
        """Take one evaluation: queue it for the topic, decide (and claim) its notice."""
        if self._publisher is not None:
            self._pending_events.append(finding)
            if len(self._pending_events) >= _PUBLISH_EVERY:
                await self._publish()
        if not self._config.speaks:
            return
        if self._store is None:
            if finding.status in NEEDS_ACTION:
                self._pending.append(_PendingNotice(Notice(finding, NoticeKind.NEW), None, FindingRecord()))
            return
        now = datetime.now(UTC).replace(microsecond=0)  # what a table keeps, so read-back compares equal

        def change(memory: FindingRecord | None) -> tuple[FindingRecord, tuple[FindingRecord, Notice | None]]:
            after, notice = next_notice(memory, finding, now, self._config.renotify_hours)
            return after, (after, notice)

        try:
            before, (after, notice) = await self._store.update(finding.resource_id, change)
        except Exception as exc:
            self._fail(f"finding state of {finding.name} not updated ({type(exc).__name__})")
            return
        if notice is not None:
            self._pending.append(_PendingNotice(notice, before, after))

    async def flush(self, subscription_names: Mapping[str, str], summary: Mapping[str, int]) -> Delivery:
        """Send what the run gathered; undo the records of notices that could not be delivered."""
        if self._publisher is not None:
            await self._publish()
        pending, self._pending = self._pending, []
        if not pending:
            return self.delivery
        notices = [entry.notice for entry in pending]
        delivered = True
        if self._teams is not None:
            delivered &= await self._send_teams(notices, subscription_names, summary)
        if self._config.smtp is not None:
            delivered &= await self._send_email(notices, subscription_names)
        if delivered:
            self.delivery.notices.extend(notices)
        elif self._store is not None:
            for entry in pending:
                with contextlib.suppress(Exception):
                    await self._store.restore(entry.notice.finding.resource_id, entry.before, entry.after)
        return self.delivery

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
            messages = [
                teams_message(notice_card(n, self._control, names.get(n.finding.subscription_id))) for n in notices
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
