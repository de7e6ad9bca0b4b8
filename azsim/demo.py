"""`python -m azsim demo` (and `./scripts/demo`): the auditor against a simulated tenant, so anyone can see it work.

The simulation is a development tool, never deployed, and the demo lives with it: it starts
the simulation, points the real SDK clients and a real managed-identity credential at it, and
runs the same scan a real tenant gets, then the event path and remediation, through the same
functions the CLI and the function app use. Findings go to the simulation's Event Grid topic
and Teams webhook; the HTML report and the Teams message land in ./demo-output/.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from auditor.azure.storage import StorageTarget
from auditor.destinations import DestinationCheck
from auditor.model import Finding, RemediationMode
from auditor.pipeline import run_scan
from auditor.reactions import handle_events
from auditor.report.render import render, render_outcomes
from auditor.report.table import remediation_line
from auditor.settings import NotificationSettings, RemediationSettings, Settings
from azsim.access import grant_remediation
from azsim.events import cluster_written, setting_changed
from azsim.principals import service_principal, user
from azsim.samples import AUDIT, WORKSPACE, demo_tenant, log_entries, setting
from azsim.server import ArmSimulator
from azsim.tenant import SimCluster, Tenant

_INTRO = """\
AKS audit-log auditor: demo on a simulated tenant (no Azure needed)
A local HTTPS ARM endpoint and managed-identity endpoint serve {subscriptions} subscriptions
and {clusters} AKS clusters; the real Azure SDK clients scan them at {latency:g} ms per call.
Control: {label}, "{title}": {requirement}
The destinations are read too (AUDITOR_DESTINATION_CHECK=lenient): a setting that sends to a
deleted workspace, or to one that stopped ingesting at its daily cap, keeps no audit trail.

$ python -m auditor scan
"""

_DELIVERED = """
Exit code of that scan: {code} (0 = nothing failing, 1 = a fail or an error).
Findings out: the simulated Event Grid topic received {events} CloudEvents (one per cluster) and the
simulated Teams webhook {cards} Adaptive Card message(s). Written for you to open:
  {html}   (the HTML report: python -m auditor scan --output html --out report.html)
  {card}   (the Teams message as posted)
"""

_FIX = """
Each of the {count} clusters a paste can fix carries its fix as an az command, a Bicep file and a Terraform
block (in the JSON and the HTML report). {name}'s, as az (the workspace is asked for):
  {command}
"""

_CONFIGURATION_ONLY = """
The same scan judging configuration only (AUDITOR_DESTINATION_CHECK=off), as Azure Policy and the other
tools do, passes the two clusters whose audit trail is gone:
"""

_EVENTS = """
Reacting to changes, as the Event Grid-triggered function does (handle-event runs the same code;
the creation grace period is 0 here, {grace} s by default):
"""

_REMEDIATION = """
Remediation (off by default). First AUDITOR_REMEDIATION_MODE=dry-run, which writes nothing:
"""

_OUTRO = """
Scan your own tenant: az login && python -m auditor scan   (or --output json)
Replay real events:   python -m auditor handle-event events.json
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
    tenant = demo_tenant()
    grant_remediation(tenant.access, WORKSPACE)  # the identity holds what infra/ grants for remediation apply
    clusters = sum(len(sub.clusters) for sub in tenant.subscriptions)
    with ArmSimulator(tenant, latency=latency) as sim:
        env = {
            **sim.env(),
            "REQUESTS_CA_BUNDLE": sim.ca_file,
            "AUDITOR_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "AUDITOR_TEAMS_WEBHOOK_URL": sim.teams_url,
            "AUDITOR_EVENTGRID_TOPIC_ENDPOINT": sim.eventgrid_endpoint,
            "AUDITOR_EVENTGRID_TOPIC_KEY": sim.sinks.eventgrid_key,
        }
        with _environment(env):
            settings = Settings.from_env(os.environ)
            applied = settings.applied_control()
            out.write(
                _INTRO.format(
                    subscriptions=len(tenant.subscriptions),
                    clusters=clusters,
                    latency=latency * 1000,
                    label=applied.control.label,
                    title=applied.control.title,
                    requirement=applied.requirement(),
                )
            )
            out.flush()
            outcome = asyncio.run(run_scan(settings))
            out.write(render("table", outcome.result, outcome.subscription_names, None))
            _OUTPUT.mkdir(exist_ok=True)
            html, card = _OUTPUT / "report.html", _OUTPUT / "teams-message.json"
            html.write_text(render("html", outcome.result, outcome.subscription_names, None), encoding="utf-8")
            card.write_text(json.dumps(sim.sinks.teams_posts[0], indent=2) + "\n", encoding="utf-8")
            code = 1 if outcome.result.failing() else 0
            events, cards = len(sim.sinks.eventgrid_events), len(sim.sinks.teams_posts)
            out.write(_DELIVERED.format(code=code, events=events, cards=cards, html=html, card=card))
            _fix_to_paste(outcome.result.findings, out)
            _configuration_only(settings, out)
            out.write(_EVENTS.format(grace=settings.create_grace_seconds))
            reacting = replace(settings, create_grace_seconds=0)
            for step, change in _changes(tenant):
                out.write("\n" + step + "\n")
                out.flush()
                outcomes = asyncio.run(
                    handle_events(
                        reacting, StorageTarget.from_env(os.environ), [change()], logging.getLogger("auditor")
                    )
                )
                out.write(render_outcomes(outcomes, "table", None))
            _remediate(settings, out)
            out.write(_OUTRO)
    return 0


def _fix_to_paste(findings: Sequence[Finding], out: TextIO) -> None:
    """One failing cluster's fix as its owner would paste it (every one is in the report)."""
    fixable = sorted(((f.name, f.fixes) for f in findings if f.fixes is not None), key=lambda item: item[0])
    if fixable:
        name, fixes = fixable[0]
        out.write(_FIX.format(name=name, count=len(fixable), command=fixes.az))


def _configuration_only(settings: Settings, out: TextIO) -> None:
    """What a configuration-only check (every other tool) says of the clusters whose trail is gone."""
    quiet = replace(settings, notifications=NotificationSettings(), destination_check=DestinationCheck.OFF)
    findings = {f.name: f for f in asyncio.run(run_scan(quiet)).result.findings}
    out.write(_CONFIGURATION_ONLY)
    for name in _TRAIL_GONE:
        out.write(f"  {str(findings[name].status).upper()} {name}: {'; '.join(findings[name].reasons)}\n")


def _remediate(settings: Settings, out: TextIO) -> None:
    """Dry-run, apply, then a read-only re-scan: remediation's whole loop."""
    out.write(_REMEDIATION)
    quiet = replace(settings, notifications=NotificationSettings())
    for mode in (RemediationMode.DRY_RUN, RemediationMode.APPLY):
        if mode is RemediationMode.APPLY:
            out.write("\nThen AUDITOR_REMEDIATION_MODE=apply, which writes, reads back and verifies:\n")
        remediating = replace(quiet, remediation=RemediationSettings(mode, WORKSPACE))
        outcome = asyncio.run(run_scan(remediating))
        for finding in sorted(outcome.result.findings, key=lambda f: f.name):
            if finding.remediation is not None:
                out.write(f"  {finding.name}: {remediation_line(finding.remediation)}\n")
    after = asyncio.run(run_scan(quiet)).result.summary()
    out.write(
        f"\nRead-only re-scan: {after['pass']} pass, {after['fail']} fail, {after['exempt']} exempt, "
        f"{after['error']} error (the error is the cluster the identity may not read, the fail the cluster in a "
        "resource group with a non-ASCII name, which diagnostic settings cannot serve; exempt ones are left alone)\n"
    )


_OUTPUT = Path("demo-output")
_TRAIL_GONE = ("aks-billing-prod-weu", "aks-telemetry-prod-neu")  # deleted workspace, capped workspace
_PIPELINE = service_principal(
    "5b7c9d1e-3f5a-4b7c-9d1e-3f5a7b9c1d2e",
    "gh-deploy-newapp",
    "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
    ip="198.51.100.20",
)
_INSIDER = user("0e6f3a2b-9c1d-4e7a-8b5f-2d4c6e8a0b13", "Dana Kowalski", "dana.kowalski@contoso.com", ip="203.0.113.42")
_NEW_CLUSTER = "aks-newapp-prod-weu"
_DRIFTED = "aks-payments-prod-weu"


def _changes(tenant: Tenant) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """Changes people make to the simulated tenant, each returning the event ARM would publish."""
    production = tenant.subscriptions[0]
    drifted = next(c for c in production.clusters if c.name == _DRIFTED)
    created: list[SimCluster] = []

    def create() -> dict[str, Any]:
        created.append(production.add_cluster(_NEW_CLUSTER, "rg-newapp-prod", "westeurope", created_by=_PIPELINE))
        return cluster_written(created[0].id, tenant.tenant_id, caller=_PIPELINE)

    def add_setting() -> dict[str, Any]:
        created[0].set_setting("audit-to-law", setting(log_entries(*AUDIT), WORKSPACE))
        return setting_changed(created[0].id, "audit-to-law", tenant_id=tenant.tenant_id)

    def delete_setting() -> dict[str, Any]:
        (name,) = drifted.settings
        drifted.delete_setting(name, by=_INSIDER)
        return setting_changed(drifted.id, name, deleted=True, tenant_id=tenant.tenant_id, caller=_INSIDER)

    return [
        (f"1. A team creates {_NEW_CLUSTER} without diagnostic settings:", create),
        ("2. Their pipeline adds the audit setting a minute later:", add_setting),
        (
            f"3. Someone deletes the audit setting of {_DRIFTED}: drift, caught at once, with who did it:",
            delete_setting,
        ),
    ]
