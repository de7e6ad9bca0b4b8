"""Reacting to Event Grid events and queue messages.

An event is parsed and decided purely (events.py); only a relevant one touches storage or
ARM. It is claimed in the event ledger, acted on (a delayed queue message for a new or
updated cluster, an immediate check for a diagnostic-setting change), then marked done,
so a redelivery does nothing. A transient Azure failure releases the claim and raises, so
Event Grid (or the queue) retries; a malformed event is logged with its id and dropped. An
event about a subscription outside AUDITOR_SUBSCRIPTIONS is ignored like an irrelevant one.
A failure of the function's storage is raised as StorageFailed, so it is said as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from types import TracebackType
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential

from auditor import rule
from auditor.attribution import change_of
from auditor.azure.activity_log import ActivityLog
from auditor.azure.connection import ArmConnection
from auditor.azure.credentials import invocation_credential
from auditor.azure.errors import describe, first_line, is_transient
from auditor.azure.inventory import UnreadableCluster, get_cluster
from auditor.azure.state import EVENTS_TABLE, EventClaim, EventLedger, RemediationLedger
from auditor.azure.storage import Storage, StorageFailed, StorageTarget
from auditor.events import CheckCluster, Ignore, MalformedEvent, Route, parse_event, route
from auditor.messages import CHECK_QUEUE, CheckRequest
from auditor.model import ChangeSource, Cluster, Finding
from auditor.notify.dispatch import Notifier
from auditor.pipeline import announce
from auditor.resource_id import parse_cluster_id
from auditor.scanner import Judge, StaleRead
from auditor.settings import Settings


class Disposition(StrEnum):
    """What became of an event or a queued check."""

    IGNORED = "ignored"  # not a relevant event: no ARM call, no storage call
    MALFORMED = "malformed"  # logged with its id and dropped
    DUPLICATE = "duplicate"  # handled before: a redelivery
    BUSY = "busy"  # another instance holds the claim; raised so Event Grid retries
    DEFERRED = "deferred"  # a check is queued for after the grace period
    CHECKED = "checked"  # evaluated now: see the finding
    GONE = "gone"  # the cluster no longer exists: nothing to judge


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event or check, with the finding when one was made."""

    result: Disposition
    detail: str
    event_id: str = ""
    finding: Finding | None = None


class RetryLater(Exception):
    """Raised so the trigger's own retry (Event Grid, the queue) tries again later."""


class Reactor:
    """Event and queue reactions for one invocation; ARM and storage are opened only when needed."""

    def __init__(self, settings: Settings, target: StorageTarget | None, logger: logging.Logger) -> None:
        self._settings = settings
        self._target = target
        self._logger = logger
        self._resources = contextlib.AsyncExitStack()
        self._credential: AsyncTokenCredential | None = None  # made on first need: an ignored event needs none
        self._storage: Storage | None = None
        self._arm: tuple[ArmConnection, Judge] | None = None
        self._notifier: Notifier | None = None

    async def __aenter__(self) -> Reactor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._resources.aclose()

    async def _credential_open(self) -> AsyncTokenCredential:
        """The invocation's one credential, shared by ARM, Storage and Event Grid."""
        if self._credential is None:
            credential = await self._resources.enter_async_context(invocation_credential(self._settings))
            self._credential = credential
            return credential
        return self._credential

    async def _storage_open(self) -> Storage | None:
        if self._target is not None and self._storage is None:
            credential = await self._credential_open()
            self._storage = await self._resources.enter_async_context(Storage(self._target, credential, self._settings))
        return self._storage

    async def _announce(self, finding: Finding, request: CheckRequest) -> Finding:
        """Publish a finding of this invocation, with what the event said about the change behind it."""
        if request.change is not None:
            finding = replace(finding, change=request.change)
        if self._notifier is None:
            connection, _ = await self._judge_open()
            self._notifier = await self._resources.enter_async_context(
                Notifier(
                    self._settings,
                    self._target,
                    self._logger,
                    connection.credential,
                    ActivityLog(connection, self._settings.attribution),
                )
            )
        return await announce(self._notifier, finding, self._logger, request.trigger, request.origin)

    async def _judge_open(self) -> tuple[ArmConnection, Judge]:
        if self._arm is None:
            credential = await self._credential_open()
            connection = await self._resources.enter_async_context(ArmConnection(self._settings, credential))
            storage = await self._storage_open() if self._settings.remediation.enabled else None
            ledger = await RemediationLedger.open(storage) if storage is not None else None
            self._arm = connection, Judge(self._settings, connection, _today(), ledger)
        return self._arm

    async def handle_event(self, payload: Mapping[str, Any]) -> Outcome:
        try:
            event = parse_event(payload)
        except MalformedEvent as exc:
            self._logger.error("C-0254 dropped malformed event %s: %s", exc.event_id or "(no id)", exc)
            return Outcome(Disposition.MALFORMED, str(exc), exc.event_id or "")
        action: Route = _in_scope(route(event, self._settings.create_grace_seconds), self._settings.subscriptions)
        if isinstance(action, Ignore):
            self._logger.info("C-0254 ignored event %s: %s", event.id, action.reason)
            return Outcome(Disposition.IGNORED, action.reason, event.id)
        storage = await self._storage_open()
        ledger = None
        if storage is not None:
            async with _storage_call("claiming the event"):
                table = storage.table(EVENTS_TABLE)
                await storage.ensure_table(table)
                ledger = EventLedger(table)
                claim = await ledger.claim(event.id)
            if claim is EventClaim.DONE:
                self._logger.info("C-0254 event %s was handled before (redelivery): nothing to do", event.id)
                return Outcome(Disposition.DUPLICATE, "redelivery of a handled event", event.id)
            if claim is EventClaim.BUSY:
                raise RetryLater(f"event {event.id} is being handled by another instance")
        try:
            outcome = await self._act(action, event.id, storage)
        except BaseException:
            if ledger is not None:
                with contextlib.suppress(Exception):  # the original failure is the one to raise
                    await ledger.release(event.id)
            raise
        if ledger is not None:
            async with _storage_call("marking the event done"):
                await ledger.complete(event.id)
        return outcome

    async def _act(self, action: CheckCluster, event_id: str, storage: Storage | None) -> Outcome:
        setting = action.expectation.setting if action.expectation is not None else ""
        change = (
            change_of(action.caller, ChangeSource.EVENT, self._settings.attribution, setting)
            if action.caller is not None
            else None
        )
        request = CheckRequest(action.cluster_id, action.trigger, event_id, action.expectation, action.origin, change)
        if action.delay_seconds > 0 and storage is not None:
            async with _storage_call("queueing the check"):
                await storage.send(CHECK_QUEUE, request.to_json(), delay_seconds=action.delay_seconds)
            detail = f"check of {action.cluster_id} queued for {action.delay_seconds} s from now ({action.trigger})"
            self._logger.info("C-0254 event %s: %s", event_id, detail)
            return Outcome(Disposition.DEFERRED, detail, event_id)
        note = ""
        if action.delay_seconds > 0:
            note = f" (checked now, not in {action.delay_seconds} s: no AzureWebJobsStorage to queue the check)"
            self._logger.warning("C-0254 %s%s", action.cluster_id, note)
        outcome = await self.check(request)
        return Outcome(outcome.result, outcome.detail + note, event_id, outcome.finding)

    async def check(self, request: CheckRequest) -> Outcome:
        """Evaluate one cluster now; raise on a transient failure so the trigger retries.

        A read that contradicts the drift event behind the check (a deleted setting still
        listed, a written one missing) is read again after AUDITOR_RECHECK_SECONDS: through a
        delayed queue message when there is storage, else by waiting here."""
        arm, judge = await self._judge_open()
        while True:
            try:
                cluster = await get_cluster(arm, request.cluster_id)
            except Exception as exc:
                if is_transient(exc):
                    raise
                if isinstance(exc, UnreadableCluster):
                    reason = f"ARM's answer for the cluster could not be read: {exc}"
                else:
                    reason = describe(exc, self._settings.http_timeout_seconds)
                finding = rule.unreadable(_bare_cluster(request.cluster_id), reason, self._settings.policy(), _today())
                finding = await self._announce(finding, request)
                return Outcome(Disposition.CHECKED, f"{finding.status} ({request.trigger})", request.event_id, finding)
            if cluster is None:
                detail = f"{request.cluster_id} no longer exists; nothing to check"
                self._logger.info("C-0254 %s", detail)
                return Outcome(Disposition.GONE, detail, request.event_id)
            try:
                finding = await judge.judge(cluster, raise_transient=True, expectation=request.expectation)
            except StaleRead as stale:
                request = _reread(request, stale.disagreement)
                delay = self._settings.recheck_seconds
                storage = await self._storage_open()
                self._logger.info("C-0254 %s: %s; reading again in %d s", request.cluster_id, stale.disagreement, delay)
                if storage is not None:
                    async with _storage_call("queueing the re-check"):
                        await storage.send(CHECK_QUEUE, request.to_json(), delay_seconds=delay)
                    detail = f"re-check of {request.cluster_id} queued for {delay} s from now: {stale.disagreement}"
                    return Outcome(Disposition.DEFERRED, detail, request.event_id)
                await asyncio.sleep(delay)
                continue
            finding = await self._announce(finding, request)
            return Outcome(Disposition.CHECKED, f"{finding.status} ({request.trigger})", request.event_id, finding)

    async def gave_up(self, request: CheckRequest, attempts: int) -> Finding:
        """A check that failed on every attempt: an `error` finding, never a silent drop."""
        finding = rule.unreadable(
            _bare_cluster(request.cluster_id),
            f"the check failed on all {attempts} attempts (transient Azure failures); it will be retried by the next"
            " scheduled scan",
            self._settings.policy(),
            _today(),
        )
        self._logger.error("C-0254 check of %s abandoned after %d attempts", request.cluster_id, attempts)
        return await self._announce(finding, request)


def _today() -> date:
    return datetime.now(UTC).date()


def _in_scope(action: Route, subscriptions: Sequence[str]) -> Route:
    """An event about a cluster outside AUDITOR_SUBSCRIPTIONS (empty: all) is ignored: no ARM, no storage call."""
    if isinstance(action, Ignore) or not subscriptions:
        return action
    subscription = parse_cluster_id(action.cluster_id).subscription_id
    if subscription.lower() in {s.lower() for s in subscriptions}:
        return action
    return Ignore(f"subscription {subscription} is outside AUDITOR_SUBSCRIPTIONS")


@contextlib.asynccontextmanager
async def _storage_call(what: str) -> AsyncIterator[None]:
    """A failure of the function's storage, raised as one: a retry is still due, but it is not ARM's."""
    try:
        yield
    except StorageFailed:
        raise
    except Exception as exc:
        raise StorageFailed(f"{what}: {type(exc).__name__}: {first_line(exc)}") from exc


class EventNotHandled(Exception):
    """An event that could not be handled now (a transient Azure failure): Event Grid would retry it."""

    def __init__(self, event_id: str, cause: BaseException) -> None:
        super().__init__(f"event {event_id}: not handled now")
        self.event_id = event_id
        self.cause = cause


async def handle_events(
    settings: Settings, target: StorageTarget | None, events: Sequence[Mapping[str, Any]], logger: logging.Logger
) -> list[Outcome]:
    """Events one after another through one Reactor, each exactly as the Event Grid trigger handles it."""
    outcomes = []
    async with Reactor(settings, target, logger) as reactor:
        for event in events:
            try:
                outcomes.append(await reactor.handle_event(event))
            except Exception as exc:
                raise EventNotHandled(str(event.get("id")), exc) from exc
    return outcomes


def _reread(request: CheckRequest, disagreement: str) -> CheckRequest:
    """The same check once more, counting the re-read and keeping how the first read disagreed."""
    expectation = request.expectation
    assert expectation is not None  # only a check with an expectation can read stale
    again = replace(expectation, rereads=expectation.rereads + 1, first_read=expectation.first_read or disagreement)
    return replace(request, expectation=again)


def _bare_cluster(cluster_id: str) -> Cluster:
    """What an ID alone tells about a cluster, for findings about clusters that could not be read."""
    ref = parse_cluster_id(cluster_id)
    return Cluster(cluster_id, ref.name, ref.subscription_id, ref.resource_group)
