"""Azure Functions entry point (Python v2 programming model): triggers and bindings only.

Each function hands its trigger's object to `auditor.triggers`; the auditor is imported
inside the functions so the host indexes this file quickly (cold start). Queue names are
`auditor.messages.CHECK_QUEUE` and `SCAN_QUEUE` (literals here: the host reads decorators
before any import runs; a test keeps them equal).
"""

from __future__ import annotations

import logging
import os

import azure.functions as func

app = func.FunctionApp()
logger = logging.getLogger("auditor")
STORAGE = "AzureWebJobsStorage"


@app.timer_trigger(schedule="%AUDITOR_SCAN_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def scheduled_scan(timer: func.TimerRequest) -> None:
    """Every cluster in scope, hourly by default; fans out per subscription for a large tenant."""
    from auditor.triggers import on_timer

    await on_timer(os.environ, timer, logger)


@app.event_grid_trigger(arg_name="event")
async def on_resource_event(event: func.EventGridEvent) -> None:
    """ARM events (EventGridEvent or CloudEvent schema): cluster written, diagnostic setting changed or deleted."""
    from auditor.triggers import on_event

    await on_event(os.environ, event, logger)


@app.queue_trigger(arg_name="message", queue_name="aks-audit-checks", connection=STORAGE)
async def run_check(message: func.QueueMessage) -> None:
    """A deferred check of one cluster (after the creation grace period)."""
    from auditor.triggers import on_check

    await on_check(os.environ, message, logger)


@app.queue_trigger(arg_name="message", queue_name="aks-audit-checks-poison", connection=STORAGE)
async def check_gave_up(message: func.QueueMessage) -> None:
    """A check that failed on every attempt becomes an `error` finding, not a silent drop."""
    from auditor.triggers import on_check_poison

    await on_check_poison(os.environ, message, logger)


@app.queue_trigger(arg_name="message", queue_name="aks-audit-scans", connection=STORAGE)
async def scan_subscription(message: func.QueueMessage) -> None:
    """One subscription of a fanned-out scan."""
    from auditor.triggers import on_scan

    await on_scan(os.environ, message, logger)


@app.queue_trigger(arg_name="message", queue_name="aks-audit-scans-poison", connection=STORAGE)
async def scan_gave_up(message: func.QueueMessage) -> None:
    """A subscription scan that failed on every attempt becomes an `error` finding."""
    from auditor.triggers import on_scan_poison

    await on_scan_poison(os.environ, message, logger)
