"""What checking the audit trail costs: one 10,000-cluster tenant scanned with destination checks off,
with the default (lenient) health checks, and with every check on (strict, retention, delivery), in one run.

The tenant sends to 5 Log Analytics workspaces and 3 storage accounts in a central logging subscription;
the simulator applies ARM's read bucket per subscription (250 burst, 25/s) and a latency per call to ARM,
to the Log Analytics query API and to the blob service (Azurite behind the simulation's front). Each scan
runs in a child process; every request is counted by the simulator.

    .venv/bin/python -m bench.trail_bench                    # 100 x 100 clusters, 50 ms (about 2 minutes)
    .venv/bin/python -m bench.trail_bench --subscriptions 10 --latency 0.025
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from azsim import ArmSimulator, Throttle
from azsim.samples import scale_tenant
from bench.scan_bench import measure

MODES = {
    "checks off": {"AUDITOR_DESTINATION_CHECK": "off"},
    "health (default)": {},
    "every check": {
        "AUDITOR_DESTINATION_CHECK": "strict",
        "AUDITOR_MIN_RETENTION_DAYS": "90",
        "AUDITOR_DELIVERY_LOOKBACK_HOURS": "24",
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=100, help="clusters per subscription")
    parser.add_argument("--workspaces", type=int, default=5)
    parser.add_argument("--storage-accounts", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    total = args.subscriptions * args.clusters
    tenant = scale_tenant(
        args.subscriptions, args.clusters, seed=3, workspaces=args.workspaces, storage_accounts=args.storage_accounts
    )
    print(
        f"Tenant: {args.subscriptions} x {args.clusters} = {total} clusters sending to {args.workspaces} workspaces "
        f"and {args.storage_accounts} storage accounts; {args.latency * 1000:g} ms per call; "
        "ARM read bucket 250 burst / 25 per s per subscription"
    )
    print(
        f"{'scan':<18} {'wall s':>7} {'x off':>6} {'ARM':>6} {'ARM/cl':>7} {'dest GETs':>9} {'queries':>7}"
        f" {'blob lists':>10} {'pass':>5} {'fail':>5} {'error':>5}"
    )
    rows: dict[str, dict[str, Any]] = {}
    with ArmSimulator(tenant, latency=args.latency, throttle=Throttle(250, 25.0), blob_service=True) as sim:
        for name, settings in MODES.items():
            metrics = measure(sim, "auditor", total, settings)
            requests = sim.requests
            metrics["destination_gets"] = sum(
                1
                for r in requests
                if "/microsoft.operationalinsights/" in r.path.lower() or "/microsoft.storage/" in r.path.lower()
            )
            metrics["queries"] = len(sim.logs_requests)
            metrics["blob_lists"] = len(sim.blob_requests)
            rows[name] = metrics
            base = rows["checks off"]["wall"]
            statuses = metrics["statuses"]
            print(
                f"{name:<18} {metrics['wall']:>7.2f} {metrics['wall'] / base:>6.2f} {metrics['arm_calls']:>6}"
                f" {metrics['calls_per_cluster']:>7.4f} {metrics['destination_gets']:>9} {metrics['queries']:>7}"
                f" {metrics['blob_lists']:>10} {statuses.get('pass', 0):>5} {statuses.get('fail', 0):>5}"
                f" {statuses.get('error', 0):>5}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
