"""`python -m auditor demo`: the auditor against a simulated tenant, so anyone can see it work.

The simulation (package `azsim`) is a development dependency, never deployed: the demo
starts it, points the real SDK clients and a real managed-identity credential at it, and
runs the same scan a real tenant gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TextIO

from auditor.settings import ConfigError, Settings

_INTRO = """\
AKS audit-log auditor: demo on a simulated tenant (no Azure needed)
A local HTTPS ARM endpoint and managed-identity endpoint serve {subscriptions} subscriptions
and {clusters} AKS clusters; the real Azure SDK clients scan them at {latency:g} ms per call.
Control: CIS AKS 1.2.0 item 2.1.1 "Enable audit Logs" (Kubescape C-0254): kube-audit and
kube-audit-admin must reach a persistent store (workspace, storage account or partner).

$ python -m auditor scan
"""

_OUTRO = """
Exit code of that scan: {code} (0 = nothing failing, 1 = a fail or an error).
Scan your own tenant: az login && python -m auditor scan   (or --output json)
"""


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Run with exactly the simulation's settings, whatever AUDITOR_* the shell has."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("AUDITOR_"):
            del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_demo(out: TextIO, latency: float = 0.02) -> int:
    try:
        from azsim import ArmSimulator
        from azsim.samples import demo_tenant
    except ImportError:
        raise ConfigError("the demo needs the development install: pip install -r requirements-dev.txt") from None
    from auditor.cli import scan_command

    tenant = demo_tenant()
    clusters = sum(len(sub.clusters) for sub in tenant.subscriptions)
    with ArmSimulator(tenant, latency=latency) as sim:
        env = {**sim.env(), "REQUESTS_CA_BUNDLE": sim.ca_file}
        with _environment(env):
            out.write(_INTRO.format(subscriptions=len(tenant.subscriptions), clusters=clusters, latency=latency * 1000))
            out.flush()
            settings = Settings.from_env(os.environ)
            code = asyncio.run(scan_command(settings, "table", out, out))
            out.write(_OUTRO.format(code=code))
    return 0
