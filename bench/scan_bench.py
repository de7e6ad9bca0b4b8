"""Scan throughput benchmark: the auditor against a naive sequential scan, in one run.

The simulator runs in this process (its own event-loop thread); each scanner runs in a
child process, so client CPU and peak RSS are the scanner's own and the two never share a
GIL. ARM calls are counted by the simulator, not by the client.

    .venv/bin/python -m bench.scan_bench                       # 8 x 100 clusters, 25 ms per call
    .venv/bin/python -m bench.scan_bench --subscriptions 2 --clusters 50 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from azsim import ArmSimulator, Tenant, Throttle
from azsim.samples import scale_tenant


def _child_metrics(started_wall: float, started_cpu: float, findings: list[Any]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for status in findings:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "wall": time.perf_counter() - started_wall,
        "cpu": time.process_time() - started_cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "findings": len(findings),
        "statuses": statuses,
    }


def run_auditor() -> dict[str, Any]:
    """The real thing: `run_scan`, exactly what the CLI and the timer call (with state when
    AzureWebJobsStorage is set, as the timer has it)."""
    from auditor.azure.storage import StorageTarget
    from auditor.pipeline import run_scan
    from auditor.settings import Settings

    settings = Settings.from_env(os.environ)
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = asyncio.run(run_scan(settings, StorageTarget.from_env(os.environ)))
    return _child_metrics(wall, cpu, [str(f.status) for f in outcome.result.findings])


def run_naive() -> dict[str, Any]:
    """What a straightforward script does: sync SDK clients, one call after another."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.monitor.v2021_05_01_preview import MonitorManagementClient
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    from auditor.arm_rules import needs_category_groups
    from auditor.azure.diagnostics import setting_from_sdk
    from auditor.azure.inventory import cluster_from_arm
    from auditor.rule import evaluate
    from auditor.settings import Settings

    settings = Settings.from_env(os.environ)
    policy = settings.policy()
    options = {"base_url": settings.arm_endpoint, "credential_scopes": [settings.arm_audience + "/.default"]}
    credential = ManagedIdentityCredential()
    today = datetime.now(UTC).date()
    wall, cpu = time.perf_counter(), time.process_time()
    statuses: list[str] = []
    groups: dict[str, frozenset[str]] | None = None
    monitor = MonitorManagementClient(credential, "00000000-0000-0000-0000-000000000000", **options)
    subscriptions = SubscriptionClient(credential, **options)
    for subscription in subscriptions.subscriptions.list():
        clusters = ContainerServiceClient(credential, subscription.subscription_id, **options)
        for managed_cluster in clusters.managed_clusters.list():
            cluster = cluster_from_arm(managed_cluster.as_dict(), subscription.subscription_id)
            uri = cluster.resource_id.lstrip("/")
            found = [setting_from_sdk(s) for s in monitor.diagnostic_settings.list(uri)]
            if groups is None and needs_category_groups(found):
                groups = {
                    c.name.lower(): frozenset(g.lower() for g in c.category_groups or [])
                    for c in monitor.diagnostic_settings_category.list(uri)
                }
            statuses.append(str(evaluate(cluster, found, groups, policy, today).status))
    return _child_metrics(wall, cpu, statuses)


def _child(mode: str, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scan_bench", "--child", mode],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{mode} scan failed: {completed.stderr.strip().splitlines()[-1:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(sim: ArmSimulator, mode: str, clusters: int, settings: dict[str, str] | None = None) -> dict[str, Any]:
    """One scan in a child process; `settings` adds AUDITOR_* variables to the simulation's environment."""
    sim.clear_requests()
    env = {**sim.env(), "REQUESTS_CA_BUNDLE": sim.ca_file, **(settings or {})}
    metrics = _child(mode, env)
    requests = sim.requests
    metrics["arm_calls"] = len(requests)
    metrics["throttled"] = sum(1 for r in requests if r.status == 429)
    metrics["calls_per_cluster"] = len(requests) / clusters
    metrics["clusters_per_s"] = metrics["findings"] / metrics["wall"]
    metrics["cpu_ms_per_cluster"] = 1000 * metrics["cpu"] / max(1, metrics["findings"])
    return metrics


def _row(name: str, m: dict[str, Any]) -> str:
    return (
        f"{name:<22} {m['findings']:>8} {m['wall']:>8.2f} {m['clusters_per_s']:>10.0f} {m['arm_calls']:>7}"
        f" {m['calls_per_cluster']:>8.3f} {m['cpu_ms_per_cluster']:>8.2f} {m['peak_rss_mb']:>8.0f}"
        f" {m['throttled']:>5} {m['statuses'].get('error', 0):>6}"
    )


HEADER = (
    f"{'scan':<22} {'clusters':>8} {'wall s':>8} {'clusters/s':>10} {'calls':>7} {'calls/cl':>8}"
    f" {'cpu ms/cl':>8} {'rss MB':>8} {'429s':>5} {'errors':>6}"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=8)
    parser.add_argument("--clusters", type=int, default=100, help="clusters per subscription")
    parser.add_argument("--latency", type=float, default=0.025, help="seconds per ARM call")
    parser.add_argument("--throttled-clusters", type=int, default=400)
    parser.add_argument("--bucket", default="100,100", help="token bucket BURST,RATE for the throttled run")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive sequential scan")
    parser.add_argument("--child", choices=("auditor", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_auditor() if args.child == "auditor" else run_naive()))
        return 0

    total = args.subscriptions * args.clusters
    print(f"Tenant: {args.subscriptions} subscriptions x {args.clusters} clusters, {args.latency * 1000:g} ms per call")
    print(HEADER)
    with ArmSimulator(scale_tenant(args.subscriptions, args.clusters), latency=args.latency) as sim:
        naive = None if args.no_baseline else measure(sim, "naive", total)
        if naive is not None:
            print(_row("naive sequential", naive), flush=True)
        auditor = measure(sim, "auditor", total)
        print(_row("auditor", auditor), flush=True)
    if naive is not None:
        print(f"speed-up: {auditor['clusters_per_s'] / naive['clusters_per_s']:.1f}x the naive scan's throughput")

    burst, rate = (float(x) for x in args.bucket.split(","))
    throttled_tenant: Tenant = scale_tenant(1, args.throttled_clusters, seed=1)
    with ArmSimulator(throttled_tenant, latency=args.latency, throttle=Throttle(int(burst), rate)) as sim:
        throttled = measure(sim, "auditor", args.throttled_clusters)
    print()
    print(f"Throttled subscription: {args.throttled_clusters} clusters, token bucket {burst:g} burst / {rate:g} per s")
    print(HEADER)
    print(_row("auditor (throttled)", throttled))
    reads = throttled["arm_calls"] - throttled["throttled"] - 1  # minus 429s and the tenant-level subscription list
    floor = max(0.0, (reads - burst) / rate)
    print(
        f"bucket floor (reads - burst) / rate = {floor:.2f} s; scan took {throttled['wall']:.2f} s"
        f" = {throttled['wall'] / floor if floor else float('nan'):.2f}x the floor"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
