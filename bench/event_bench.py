"""Event-in to finding-out: how long the Event Grid-triggered function takes to judge a cluster.

Each event goes through `auditor.triggers.on_event`, exactly what the function calls, as a
fresh invocation (new ARM connection). The simulator runs in this process; its latency
applies to every ARM call. The clock runs from the event's arrival to its finding.

    .venv/bin/python -m bench.event_bench                 # 25 ms per ARM call, 40 events
    .venv/bin/python -m bench.event_bench --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from typing import Any

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from auditor.triggers import on_event
from azsim import ArmSimulator, Tenant
from azsim.azurite import AzuriteUnavailable, azurite
from azsim.events import setting_changed


def _measure(sim: ArmSimulator, events: int, environ: dict[str, str]) -> dict[str, Any]:
    tenant: Tenant = sim.tenant
    cluster = tenant.subscriptions[0].clusters[0]
    logger = logging.getLogger("bench.events")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    timings, statuses = [], set()
    sim.clear_requests()
    for _ in range(events):
        payload = setting_changed(cluster.id, "audit", deleted=True)
        delivered = EventGridEventInConverter.decode(meta.Datum(json.dumps(payload), "json"), trigger_metadata={})
        started = time.perf_counter()
        outcome = asyncio.run(on_event(environ, delivered, logger))
        timings.append(time.perf_counter() - started)
        statuses.add(str(outcome.finding.status) if outcome.finding else str(outcome.result))
    timings.sort()
    return {
        "median_ms": 1000 * statistics.median(timings),
        "p95_ms": 1000 * timings[int(0.95 * (len(timings) - 1))],
        "max_ms": 1000 * timings[-1],
        "arm_calls_per_event": len(sim.requests) / events,
        "token_requests_per_event": len(sim.token_requests) / events,
        "statuses": sorted(statuses),
    }


def _row(name: str, m: dict[str, Any]) -> str:
    return (
        f"{name:<34} {m['median_ms']:>9.1f} {m['p95_ms']:>9.1f} {m['max_ms']:>9.1f}"
        f" {m['arm_calls_per_event']:>10.2f} {m['token_requests_per_event']:>8.2f}  {','.join(m['statuses'])}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.025, help="seconds per ARM call")
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()

    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-drifted", resource_group="rg-prod")  # fails: no settings
    with ArmSimulator(tenant, latency=args.latency) as sim:
        # The credential reads the process environment: point it at the simulator, never at a real endpoint.
        os.environ.update(sim.env())
        base = {**os.environ, "AUDITOR_CREATE_GRACE_SECONDS": "0"}
        base.pop("AzureWebJobsStorage", None)
        print(
            f"Event-in to finding-out, diagnostic-setting delete on a failing cluster, {args.latency * 1000:g} ms per"
            f" ARM call, {args.events} events, one fresh invocation each"
        )
        print(f"{'path':<34} {'median ms':>9} {'p95 ms':>9} {'max ms':>9} {'ARM calls':>10} {'tokens':>8}  status")
        print(_row("no storage (no dedupe)", _measure(sim, args.events, base)), flush=True)
        try:
            with azurite() as connection_string:
                with_storage = {**base, "AzureWebJobsStorage": connection_string}
                print(_row("with dedupe ledger on Azurite", _measure(sim, args.events, with_storage)))
        except AzuriteUnavailable as exc:
            print(f"(with dedupe ledger: skipped, {exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
