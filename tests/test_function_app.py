"""The function app as the Functions host sees it: indexed functions, bindings, and a timer run."""

from __future__ import annotations

import asyncio
import functools
import json
import logging

from azure.functions.decorators.function_app import Function
from azure.functions.timer import TimerRequest
from conftest import audit_setting

from azsim import Tenant


@functools.cache
def functions() -> dict[str, Function]:
    """Index once, as the host does (indexing the same app twice reports duplicate names)."""
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def test_timer_scan_is_indexed_with_the_configurable_schedule():
    (function,) = functions().values()
    (binding,) = function.get_bindings()
    assert binding.type == "timerTrigger"
    assert binding.schedule == "%AUDITOR_SCAN_SCHEDULE%"
    assert binding.get_dict_repr()["useMonitor"] is True


def test_timer_run_scans_and_logs_each_finding_that_needs_action(simulate, caplog):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-good").set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sub.add_cluster("aks-bad")
    sim = simulate(tenant)
    user_function = functions()["scheduled_scan"].get_user_function()
    with caplog.at_level(logging.INFO, logger="auditor"):
        asyncio.run(user_function(TimerRequest(past_due=True)))
    messages = [record.getMessage() for record in caplog.records if record.name == "auditor"]
    assert messages[0] == "C-0254 scan is running late (past due)"
    assert any(m.startswith("C-0254 fail /subscriptions/") and "aks-bad" in m for m in messages)
    summary = json.loads(messages[-1].removeprefix("C-0254 scan summary: "))
    assert (summary["clusters"], summary["pass"], summary["fail"]) == (2, 1, 1)
    assert {record.method for record in sim.requests} == {"GET"}
