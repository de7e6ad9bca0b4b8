"""What every entry point does with findings: produce them the same way, report them the same way.

The CLI, the timer, the per-subscription queue scan, the Event Grid reaction and the
deferred check all get their findings from `Scanner`/`Judge` and hand each one to
`trace` once, then to the notifier (recorded state, notifications).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from azure.core.credentials_async import AsyncTokenCredential

from auditor.attribution import Origin
from auditor.azure.activity_log import ActivityLog
from auditor.azure.connection import ArmConnection
from auditor.azure.credentials import invocation_credential
from auditor.azure.errors import describe, first_line
from auditor.azure.state import EVENTS_TABLE, EventLedger, RemediationLedger
from auditor.azure.storage import Storage, StorageFailed, StorageTarget
from auditor.messages import SCAN_QUEUE, ScanRequest
from auditor.model import Finding, Status
from auditor.notify.dispatch import Delivery, Notifier
from auditor.report.document import ScanResult
from auditor.scanner import Scanner, Scope
from auditor.settings import ConfigError, Settings

FindingHook = Callable[[Finding, Scope], Awaitable[None] | None]
_RECORDS_IN_FLIGHT = 32
LOGGER = logging.getLogger("auditor")


class AuthenticationFailed(ConfigError):
    """No usable Azure credential: a set-up problem, reported once, not once per cluster."""


class ScanFailed(Exception):
    """The scan could not even start (the subscription list is unreadable): one line, exit 1."""


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """A finished scan: its result, the subscription names for reports, what was delivered."""

    result: ScanResult
    subscription_names: dict[str, str]
    delivery: Delivery


def trace(finding: Finding, logger: logging.Logger, trigger: str = "scan") -> None:
    """Leave the trace every finding gets, whoever produced it."""
    level = logging.INFO if finding.status in {Status.PASS, Status.EXEMPT} else logging.WARNING
    logger.log(level, "C-0254 %s %s (%s): %s", finding.status, finding.resource_id, trigger, "; ".join(finding.reasons))


async def announce(
    notifier: Notifier, finding: Finding, logger: logging.Logger, trigger: str, origin: Origin = Origin.SCAN
) -> Finding:
    """One finding outside a scan (an event, a deferred check, a poison message): trace, topic, people;
    returns it as published (with its severity and who made the change)."""
    published = await notifier.add(finding, origin)
    trace(published, logger, trigger)
    delivery = await notifier.flush({}, {"clusters": 1, str(finding.status): 1})
    _fail_if_unstored(delivery)
    return published


def _fail_if_unstored(delivery: Delivery) -> None:
    """In the function, storage that failed fails the invocation (after the findings were logged), so
    the host retries what could not be recorded or announced."""
    if delivery.unstored:
        raise StorageFailed(delivery.unstored)


@contextlib.asynccontextmanager
async def open_scan(settings: Settings, target: StorageTarget | None = None) -> AsyncIterator[Scanner]:
    """A connected scanner whose scope is resolved, on the invocation's one credential (with the
    remediation ledger in state when remediation is on); set-up failures become one clear error
    that keeps the SDK's as its cause (with its request id)."""
    async with (
        invocation_credential(settings) as credential,
        ArmConnection(settings, credential) as connection,
        contextlib.AsyncExitStack() as resources,
    ):
        try:
            await connection.check_credential()
        except Exception as exc:
            raise AuthenticationFailed(
                f"could not authenticate to Azure ({first_line(exc)}); run 'az login', or set AZURE_CLIENT_ID "
                "for a user-assigned managed identity"
            ) from exc
        ledger = None
        if target is not None and settings.remediation.enabled:
            ledger = await RemediationLedger.open(
                await resources.enter_async_context(Storage(target, credential, settings))
            )
        scanner = Scanner(settings, connection, datetime.now(UTC).date(), ledger)
        try:
            await scanner.resolve_scope(settings.subscriptions)
        except Exception as exc:
            raise ScanFailed(f"could not list subscriptions: {describe(exc, settings.http_timeout_seconds)}") from exc
        yield scanner


async def run_scan(
    settings: Settings, target: StorageTarget | None = None, on_finding: FindingHook | None = None
) -> ScanOutcome:
    """Scan the settings' scope; every finding is logged, published and (as state allows) announced."""
    async with open_scan(settings, target) as scanner:
        return await _deliver(scanner, settings, target, on_finding)


async def _deliver(
    scanner: Scanner, settings: Settings, target: StorageTarget | None, on_finding: FindingHook | None
) -> ScanOutcome:
    started = datetime.now(UTC)
    findings: list[Finding] = []
    attributor = ActivityLog(scanner.connection, settings.attribution)
    async with Notifier(settings, target, LOGGER, scanner.credential, attributor) as notifier:
        # Each finding's record is read and written in the table: a few of them at a time, so the
        # round trips overlap instead of adding up (their order does not matter).
        room = asyncio.Semaphore(_RECORDS_IN_FLIGHT)

        async def publish(judged: Finding) -> None:
            try:
                finding = await notifier.add(judged)
                findings.append(finding)
                trace(finding, LOGGER)
                if on_finding is not None:
                    outcome = on_finding(finding, scanner.scope)
                    if outcome is not None:
                        await outcome
            finally:
                room.release()

        async with asyncio.TaskGroup() as group:
            async for judged in scanner.findings():
                await room.acquire()
                group.create_task(publish(judged))
        scope = scanner.scope
        result = ScanResult(
            settings.applied_control(),
            started,
            findings,
            len(scope.scanned),
            len(scope.skipped),
            len(scope.unregistered),
        )
        names = {sub.subscription_id: sub.display_name for sub in scope.scanned}
        delivery = await notifier.flush(names, result.summary())
    return ScanOutcome(result, names, delivery)


async def scheduled_scan(environ: Mapping[str, str], logger: logging.Logger) -> ScanResult | None:
    """The timer's job. A large tenant fans out one queue message per subscription, so the
    Functions scale controller spreads the scan over instances; a small one is scanned inline.
    Returns the inline result, or None when the work was fanned out."""
    settings = Settings.from_env(environ)
    target = StorageTarget.from_env(environ)
    async with open_scan(settings, target) as scanner:
        subscriptions = scanner.scope.scanned
        result: ScanResult | None = None
        if target is not None and len(subscriptions) >= settings.fanout_min_subscriptions:
            async with Storage(target, scanner.credential, settings) as storage:
                for subscription in subscriptions:
                    await storage.send(SCAN_QUEUE, ScanRequest(subscription.subscription_id).to_json())
            logger.info("C-0254 scan fanned out to %d subscription messages", len(subscriptions))
        else:
            outcome = await _deliver(scanner, settings, target, None)
            result = outcome.result
            logger.info("C-0254 scan summary: %s", json.dumps(result.summary()))
            _fail_if_unstored(outcome.delivery)
        if target is not None:
            await _forget_old_events(target, scanner.credential, settings, logger)
    return result


async def _forget_old_events(
    target: StorageTarget, credential: AsyncTokenCredential, settings: Settings, logger: logging.Logger
) -> None:
    """Housekeeping of the event ledger; a failure here must not fail the scan that already reported."""
    try:
        async with Storage(target, credential, settings) as storage:
            removed = await EventLedger(storage.table(EVENTS_TABLE)).forget_old()
    except Exception as exc:
        logger.warning("C-0254 could not clean up old event records: %s", first_line(exc))
        return
    if removed:
        logger.info("C-0254 forgot %d handled events older than the retry window", removed)


async def scan_subscription(environ: Mapping[str, str], request: ScanRequest, logger: logging.Logger) -> ScanResult:
    """One subscription of a fanned-out scan (a queue message)."""
    settings = replace(Settings.from_env(environ), subscriptions=(request.subscription_id,))
    outcome = await run_scan(settings, StorageTarget.from_env(environ))
    logger.info(
        "C-0254 scan of subscription %s summary: %s", request.subscription_id, json.dumps(outcome.result.summary())
    )
    _fail_if_unstored(outcome.delivery)
    return outcome.result
