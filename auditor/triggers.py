"""The Functions runtime's objects in, the auditor's flows out: what each trigger in function_app.py calls.

This is the only module besides function_app.py that knows azure.functions types; it turns
them into plain data and hands over to pipeline.py and reactions.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import azure.functions as func

from auditor import rule
from auditor.azure.credentials import invocation_credential
from auditor.azure.storage import StorageTarget
from auditor.messages import CheckRequest, MalformedMessage, ScanRequest, parse_message
from auditor.notify.dispatch import Notifier
from auditor.pipeline import announce, scan_subscription, scheduled_scan
from auditor.reactions import Outcome, Reactor
from auditor.settings import Settings

T = TypeVar("T", CheckRequest, ScanRequest)
MAX_DEQUEUE_COUNT = 5  # host.json extensions.queues.maxDequeueCount; a test keeps the two equal


def event_payload(event: func.EventGridEvent | func.CloudEvent) -> dict[str, Any]:
    """Back to the wire shape (the worker has already parsed it), so one parser serves the CLI and the trigger."""
    if isinstance(event, func.CloudEvent):
        return {
            "specversion": event.specversion,
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "data": event.get_json(),
        }
    return {
        "id": event.id,
        "eventType": event.event_type,
        "subject": event.subject,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "topic": event.topic,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }


async def on_timer(environ: Mapping[str, str], timer: func.TimerRequest, logger: logging.Logger) -> None:
    if timer.past_due:
        logger.info("C-0254 scan is running late (past due)")
    await scheduled_scan(environ, logger)


async def on_event(
    environ: Mapping[str, str], event: func.EventGridEvent | func.CloudEvent, logger: logging.Logger
) -> Outcome:
    async with Reactor(Settings.from_env(environ), StorageTarget.from_env(environ), logger) as reactor:
        return await reactor.handle_event(event_payload(event))


async def on_check(environ: Mapping[str, str], message: func.QueueMessage, logger: logging.Logger) -> Outcome | None:
    request = _message(message, CheckRequest, logger)
    if request is None:
        return None
    async with Reactor(Settings.from_env(environ), StorageTarget.from_env(environ), logger) as reactor:
        return await reactor.check(request)


async def on_check_poison(environ: Mapping[str, str], message: func.QueueMessage, logger: logging.Logger) -> None:
    request = _message(message, CheckRequest, logger)
    if request is not None:
        async with Reactor(Settings.from_env(environ), StorageTarget.from_env(environ), logger) as reactor:
            await reactor.gave_up(request, MAX_DEQUEUE_COUNT)


async def on_scan(environ: Mapping[str, str], message: func.QueueMessage, logger: logging.Logger) -> None:
    request = _message(message, ScanRequest, logger)
    if request is not None:
        await scan_subscription(environ, request, logger)


async def on_scan_poison(environ: Mapping[str, str], message: func.QueueMessage, logger: logging.Logger) -> None:
    request = _message(message, ScanRequest, logger)
    if request is not None:
        reason = f"the subscription scan failed on all {MAX_DEQUEUE_COUNT} attempts; the next scheduled scan retries"
        settings = Settings.from_env(environ)
        finding = rule.subscription_unreadable(
            request.subscription_id, request.subscription_id, reason, settings.policy()
        )
        logger.error("C-0254 scan of subscription %s abandoned", request.subscription_id)
        async with (
            invocation_credential(settings) as credential,
            Notifier(settings, StorageTarget.from_env(environ), logger, credential) as notifier,
        ):
            await announce(notifier, finding, logger, "fan-out scan")


def _message(message: func.QueueMessage, kind: type[T], logger: logging.Logger) -> T | None:
    """Parse a queue message; a malformed one is logged and dropped (retrying cannot fix it)."""
    try:
        parsed = parse_message(message.get_body().decode("utf-8", errors="replace"))
    except MalformedMessage as exc:
        logger.error("C-0254 dropped malformed queue message %s: %s", message.id, exc)
        return None
    if not isinstance(parsed, kind):
        logger.error("C-0254 dropped queue message %s: a %s on the wrong queue", message.id, type(parsed).__name__)
        return None
    return parsed
