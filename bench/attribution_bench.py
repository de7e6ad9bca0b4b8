"""What attribution costs: Activity Log queries per scan follow new failures, not clusters.

A tenant whose clusters all pass is scanned once with state on Azurite (the timer's path, so
the state remembers every cluster); then a person deletes the audit setting of some clusters
(no event reaches the auditor) and the tenant is scanned twice more. Each scan runs in a child
process; the simulator counts every request.

    .venv/bin/python -m bench.attribution_bench                 # 10 x 100 clusters, 50 new failures
    .venv/bin/python -m bench.attribution_bench --removed 200
"""

from __future__ import annotations

import argparse
import sys

from azsim import ArmSimulator, Tenant
from azsim.azurite import azurite
from azsim.principals import user
from azsim.samples import AUDIT, WORKSPACE, log_entries, setting
from bench.scan_bench import measure

ALICE = user("4a9d3c1e-7b2f-4e8a-9c6d-1f0e2d3c4b5a", "Alice Meyer", "alice@contoso.com")
ACTIVITY = "/eventtypes/management/values"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--clusters", type=int, default=100, help="clusters per subscription")
    parser.add_argument("--removed", type=int, default=50, help="clusters whose audit setting is deleted")
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    tenant = Tenant()
    tenant.add_workspace(WORKSPACE, retention_days=365)
    tenant.add_principal(ALICE)
    clusters = []
    for s in range(args.subscriptions):
        sub = tenant.add_subscription(f"Fleet {s:02d}")
        for i in range(args.clusters):
            cluster = sub.add_cluster(f"aks-{s:02d}-{i:03d}", f"rg-fleet-{s:02d}")
            cluster.set_setting("audit", setting(log_entries(*AUDIT), WORKSPACE))
            clusters.append(cluster)
    total = len(clusters)
    print(f"Tenant: {total} clusters, {args.latency * 1000:g} ms per call; state on Azurite")
    print(f"{'scan':<32} {'wall s':>7} {'ARM calls':>9} {'Activity Log queries':>20} {'fail':>5}")
    with azurite() as connection_string, ArmSimulator(tenant, latency=args.latency) as sim:
        state = {"AzureWebJobsStorage": connection_string}
        for name, change in (
            ("1. all pass (state recorded)", None),
            (f"2. {args.removed} settings deleted", args.removed),
            ("3. the same failures again", None),
        ):
            if change:
                for cluster in clusters[:change]:
                    cluster.delete_setting("audit", by=ALICE)
            metrics = measure(sim, "auditor", total, state)
            queries = sum(1 for r in sim.requests if ACTIVITY in r.path.lower())
            print(
                f"{name:<32} {metrics['wall']:>7.2f} {metrics['arm_calls']:>9} {queries:>20}"
                f" {metrics['statuses'].get('fail', 0):>5}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
