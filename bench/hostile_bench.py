"""Hostile endpoints: how long a scan takes when a surface trickles, throttles for a day, loops or hangs,
against the bound docs/reference.md states for it and against the same scan with nothing hostile.

Every case runs the CLI's scan (`run_scan`) in this process on a simulated tenant of 2 subscriptions x 10
clusters, with AUDITOR_HTTP_TIMEOUT_SECONDS=1, AUDITOR_MAX_RETRY_AFTER_SECONDS=1 and
AUDITOR_SCAN_DEADLINE_SECONDS=10 (small, so the bounds are seconds; the defaults scale them).

    .venv/bin/python -m bench.hostile_bench
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from auditor.azure.transport import BACKOFF_FACTOR, BACKOFF_MAX, RETRIES
from auditor.pipeline import ScanFailed, run_scan
from auditor.settings import Settings
from azsim import ArmSimulator, Fault, Tenant

TIMEOUT, CAP, DEADLINE = 1.0, 1.0, 10.0
CLUSTERS = r"/providers/Microsoft\.ContainerService/managedClusters$"
SETTINGS = r"/providers/Microsoft\.Insights/diagnosticSettings$"


def call_bound() -> float:
    """One call at worst: every attempt to its deadline, every wait to the larger of the backoff and the cap."""
    waits = sum(max(min(BACKOFF_MAX, BACKOFF_FACTOR * 2**attempt), CAP) for attempt in range(RETRIES))
    return (RETRIES + 1) * TIMEOUT + waits


@dataclass(frozen=True)
class Case:
    name: str
    faults: Callable[[], list[Fault]]
    bound: float  # seconds, as docs/reference.md states it for these settings


CALL = call_bound()
LATE = DEADLINE + CALL  # the deadline, and the one call in flight when it struck ends at its own bound
MIB = 1024 * 1024
CASES = [
    Case("nothing hostile (baseline)", list, DEADLINE),
    Case("cluster list trickles 1 byte/s", lambda: [Fault(match=CLUSTERS, trickle=1.0)], 2 * CALL),
    Case("every settings read trickles", lambda: [Fault(match=SETTINGS, trickle=1.0)], LATE),
    Case("settings: Retry-After 100000", lambda: [Fault(match=SETTINGS, status=429, retry_after=100000)], LATE),
    Case("cluster list nextLink to itself", lambda: [Fault(match=CLUSTERS, next_link="self")], DEADLINE),
    Case("cluster list nextLink fresh forever", lambda: [Fault(match=CLUSTERS, next_link="fresh")], LATE),
    Case("cluster list nextLink foreign", lambda: [Fault(match=CLUSTERS, next_link="foreign")], DEADLINE),
    Case("every settings read hangs", lambda: [Fault(match=SETTINGS, hang=True)], LATE),
    Case("settings answers of 3 MiB", lambda: [Fault(match=SETTINGS, body_bytes=3 * MIB)], DEADLINE),
]


def tenant() -> Tenant:
    built = Tenant()
    for s in range(2):
        sub = built.add_subscription(f"sub-{s}")
        for c in range(10):
            sub.add_cluster(f"aks-{s}-{c}", "rg")
    return built


def scan(settings: Settings) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        outcome = asyncio.run(run_scan(settings))
        summary = outcome.result.summary()
        result = f"{summary['fail']} fail, {summary['error']} error"
    except ScanFailed as exc:
        result = f"scan failed: {str(exc)[:60]}"
    return time.perf_counter() - started, result


def main() -> int:
    with ArmSimulator(tenant(), latency=0.005) as sim:
        os.environ.update(sim.env())  # the credential reads the process environment: the simulator only
        os.environ.pop("AzureWebJobsStorage", None)
        settings = Settings.from_env(
            {
                **os.environ,
                "AUDITOR_HTTP_TIMEOUT_SECONDS": str(TIMEOUT),
                "AUDITOR_MAX_RETRY_AFTER_SECONDS": str(CAP),
                "AUDITOR_SCAN_DEADLINE_SECONDS": str(DEADLINE),
            }
        )
        print(
            f"20 clusters; timeout {TIMEOUT:g} s, Retry-After cap {CAP:g} s, deadline {DEADLINE:g} s;"
            f" a call <= {CALL:g} s"
        )
        print(f"{'case':<40} {'wall s':>7} {'bound s':>8} {'x baseline':>10} {'ARM reqs':>8} {'foreign':>7}  result")
        baseline = 0.0
        for case in CASES:
            sim.clear_faults()
            sim.clear_requests()
            for fault in case.faults():
                sim.add_fault(fault)
            wall, result = scan(settings)
            baseline = baseline or wall
            within = "" if wall <= case.bound else "  OVER BOUND"
            print(
                f"{case.name:<40} {wall:>7.2f} {case.bound:>8.1f} {wall / baseline:>10.1f} {len(sim.requests):>8}"
                f" {len(sim.foreign_requests):>7}  {result}{within}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
