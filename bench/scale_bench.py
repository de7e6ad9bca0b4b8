"""Scale: a 10,000-cluster tenant in one process and through the queue fan-out, a 2,000-cluster
subscription against ARM's token bucket, and the naive baseline, all measured in one run.

The simulator runs in this process with ARM's read bucket per subscription (250 burst, 25/s);
each scanner runs in a child process (its own CPU and RSS); ARM calls are counted by the
simulator. The fan-out path is the function app's: the timer's messages land on Azurite and
several worker processes each take messages and run `auditor.triggers.on_scan`.

    .venv/bin/python -m bench.scale_bench                     # everything (about 3 minutes)
    .venv/bin/python -m bench.scale_bench --skip-big --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import time
from typing import Any

from azsim import ArmSimulator, Throttle
from azsim.azurite import azurite
from azsim.samples import scale_tenant
from bench.scan_bench import HEADER, _row, measure


def run_worker(deadline: float) -> dict[str, Any]:
    """One fan-out worker: take scan messages until the queue stays empty, as the queue trigger would."""
    from azure.functions.queue import QueueMessage
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy

    from auditor.messages import SCAN_QUEUE
    from auditor.triggers import on_scan

    logger = logging.getLogger("bench.worker")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    queue = QueueClient.from_connection_string(
        os.environ["AzureWebJobsStorage"],  # noqa: SIM112 - the Functions host's own name for it
        SCAN_QUEUE,
        message_decode_policy=TextBase64DecodePolicy(),
    )
    wall, cpu, handled, idle_since = time.perf_counter(), time.process_time(), 0, time.monotonic()
    while time.monotonic() < deadline:
        messages = list(queue.receive_messages(max_messages=1, visibility_timeout=300))
        if not messages:
            if time.monotonic() - idle_since > 2.0:
                break
            time.sleep(0.1)
            continue
        for message in messages:
            body = QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=message.dequeue_count)
            asyncio.run(on_scan(os.environ, body, logger))
            queue.delete_message(message)
            handled += 1
        idle_since = time.monotonic()
    return {
        "messages": handled,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def fan_out(sim: ArmSimulator, workers: int, clusters: int) -> dict[str, Any]:
    """The timer enqueues one message per subscription; `workers` processes drain the queue."""
    from auditor.pipeline import scheduled_scan

    with azurite() as connection_string:
        env = {
            **os.environ,
            **sim.env(),
            "AzureWebJobsStorage": connection_string,
            "AUDITOR_FANOUT_MIN_SUBSCRIPTIONS": "1",
        }
        sim.clear_requests()
        started = time.perf_counter()
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            logger = logging.getLogger("bench.timer")
            logger.addHandler(logging.NullHandler())
            logger.propagate = False
            asyncio.run(scheduled_scan(os.environ, logger))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        deadline = time.time() + 900
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.scale_bench", "--worker", str(deadline)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(workers)
        ]
        results = []
        for child in children:
            out, err = child.communicate(timeout=960)
            if child.returncode != 0:
                raise SystemExit(f"worker failed: {err.strip().splitlines()[-1:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - started
    requests = sim.requests
    findings = sum(1 for r in requests if r.path.lower().endswith("/diagnosticsettings"))
    return {
        "findings": findings,
        "wall": wall,
        "clusters_per_s": clusters / wall,
        "arm_calls": len(requests),
        "calls_per_cluster": len(requests) / clusters,
        "cpu_ms_per_cluster": 1000 * sum(r["cpu"] for r in results) / clusters,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "throttled": sum(1 for r in requests if r.status == 429),
        "statuses": {"error": sum(1 for r in requests if r.status and r.status >= 500)},
        "messages": [r["messages"] for r in results],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=100, help="clusters per subscription")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--big", type=int, default=2000, help="clusters in the one big subscription")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--baseline-clusters", type=int, default=400)
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker)))
        return 0

    arm = Throttle(bucket=250, refill_per_second=25.0)
    total = args.subscriptions * args.clusters
    print(
        f"Tenant: {args.subscriptions} subscriptions x {args.clusters} clusters = {total}, "
        f"{args.latency * 1000:g} ms per ARM call, ARM read bucket 250 burst / 25 per s per subscription"
    )
    print(HEADER)
    with ArmSimulator(
        scale_tenant(args.subscriptions, args.clusters, seed=3), latency=args.latency, throttle=arm
    ) as sim:
        one = measure(sim, "auditor", total)
        print(_row("auditor, one process", one), flush=True)
        fanned = fan_out(sim, args.workers, total)
        print(_row(f"fan-out, {args.workers} workers", fanned), flush=True)
        sim.set_latency(0.025)
        fast = measure(sim, "auditor", total)
        print(_row("auditor at 25 ms", fast), flush=True)
    with ArmSimulator(scale_tenant(1, args.baseline_clusters, seed=4), latency=0.025) as sim:
        naive = measure(sim, "naive", args.baseline_clusters)
        print(_row("naive at 25 ms", naive), flush=True)
    print(f"at 25 ms per call: {fast['clusters_per_s'] / naive['clusters_per_s']:.1f}x the naive scan's throughput")
    if not args.skip_big:
        with ArmSimulator(scale_tenant(1, args.big, seed=5), latency=args.latency, throttle=arm) as sim:
            big = measure(sim, "auditor", args.big)
        print()
        print(f"One subscription with {args.big} clusters, same bucket")
        print(HEADER)
        print(_row("auditor", big))
        reads = big["arm_calls"] - big["throttled"] - 1
        floor = (reads - 250) / 25
        took = big["wall"]
        print(f"bucket floor (reads - 250) / 25 = {floor:.1f} s; scan took {took:.1f} s = {took / floor:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
