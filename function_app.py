"""Azure Functions entry point (Python v2 programming model): triggers and bindings only.

Each function is a few lines handing over to `auditor.pipeline`; imports of the auditor are
inside the functions so the host indexes this file quickly (cold start).
"""

from __future__ import annotations

import logging
import os

import azure.functions as func

app = func.FunctionApp()
logger = logging.getLogger("auditor")


@app.timer_trigger(schedule="%AUDITOR_SCAN_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def scheduled_scan(timer: func.TimerRequest) -> None:
    """Hourly (by default) scan of every cluster in scope."""
    from auditor.pipeline import scheduled_scan as scan

    if timer.past_due:
        logger.info("C-0254 scan is running late (past due)")
    await scan(os.environ, logger)
