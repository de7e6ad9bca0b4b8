"""What the tests share besides fixtures: constants, the simulation's wiring, CLI runners, ARM events.

Plain functions in a plain module (fixtures live in conftest.py), so a test says where a
helper comes from by importing it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from auditor.azure.storage import StorageTarget
from auditor.cli import main
from auditor.model import Finding
from auditor.reactions import handle_events
from auditor.settings import Settings
from azsim import ArmSimulator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by scripts/bootstrap --with-test-tools
# As root, without a screen, on a machine whose network is closed: no sandbox, no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WORKSPACE = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-logs"
    "/providers/Microsoft.OperationalInsights/workspaces/la-security"
)
STORAGE = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-logs"
    "/providers/Microsoft.Storage/storageAccounts/stauditarchive"
)
SMTP_USER, SMTP_PASSWORD = "auditor@contoso.com", "smtp-Pa55word-never-logged"  # the tests' SMTP server
# Variables of a developer's shell that would steer the credential or TLS trust elsewhere.
FOREIGN_ENVIRONMENT = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME",
    "AZURE_TOKEN_CREDENTIALS",
    "MSI_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_DIR",
)


def audit_setting(*categories: str, workspace: str = WORKSPACE, **extra: Any) -> dict[str, Any]:
    """Diagnostic-setting properties as ARM stores them."""
    return {
        "workspaceId": workspace,
        "logs": [
            {"category": c, "enabled": True, "retentionPolicy": {"enabled": False, "days": 0}} for c in categories
        ],
        "metrics": [{"category": "AllMetrics", "enabled": True}],
        **extra,
    }


def point_at(sim: ArmSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this process at the simulator through the environment only, as App Service would."""
    for name in FOREIGN_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AUDITOR_"):
            monkeypatch.delenv(name)
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run_cli("scan", "--output", "json", *args)
    assert out, err
    return code, json.loads(out)


def statuses(document: dict[str, Any]) -> dict[str, str]:
    return {finding["name"]: finding["status"] for finding in document["findings"]}


_SAMPLES = {
    ("eventgrid", "Microsoft.Resources.ResourceWriteSuccess"): "event-grid-schema.resource_write_success.json",
    ("eventgrid", "Microsoft.Resources.ResourceDeleteSuccess"): "event-grid-schema.resource_delete_success.json",
    ("cloudevents", "Microsoft.Resources.ResourceWriteSuccess"): "cloud-events-schema.resource_write_success.json",
}


def arm_event(
    event_type: str,
    operation: str,
    resource_uri: str,
    schema: str = "eventgrid",
    event_id: str | None = None,
) -> dict[str, Any]:
    """A public Event Grid sample (tests/fixtures/eventgrid) adapted to another resource and operation."""
    name = _SAMPLES.get((schema, event_type)) or _SAMPLES[(schema, "Microsoft.Resources.ResourceWriteSuccess")]
    event = json.loads((ROOT / "tests" / "fixtures" / "eventgrid" / name).read_text())
    subscription = resource_uri.split("/")[2] if resource_uri.startswith("/subscriptions/") else "unknown"
    event["id"] = event_id or str(uuid.uuid4())
    event["subject"] = resource_uri
    event["type" if schema == "cloudevents" else "eventType"] = event_type
    if schema == "cloudevents":
        event["source"] = f"/subscriptions/{subscription}"
    else:
        event["topic"] = f"/subscriptions/{subscription}"
    data = event["data"]
    data.update(resourceUri=resource_uri, operationName=operation, subscriptionId=subscription)
    data["authorization"].update(scope=resource_uri, action=operation)
    data["resourceProvider"] = operation.split("/", maxsplit=1)[0]
    return event


# The control as a run with default settings applies it (the cis profile).
CIS = Settings().applied_control()


def react(event: dict[str, Any]) -> Finding:
    """One event through the Event Grid function's own code path, with the environment's settings."""
    settings = Settings.from_env(os.environ)
    target = StorageTarget.from_env(os.environ)
    (outcome,) = asyncio.run(handle_events(settings, target, [event], logging.getLogger("auditor")))
    assert outcome.finding is not None
    return outcome.finding


def every_channel(sim: ArmSimulator, smtp: Any, bundle: Path, recipients: str) -> dict[str, str]:
    """The settings that send to every channel: the simulation's topic and Teams sink, the test's SMTP
    server, with one CA bundle trusting both (written to `bundle`)."""
    bundle.write_bytes(Path(sim.ca_file).read_bytes() + smtp.ca_pem)
    return {
        "REQUESTS_CA_BUNDLE": str(bundle),
        "SSL_CERT_FILE": str(bundle),
        "AUDITOR_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "AUDITOR_TEAMS_WEBHOOK_URL": sim.teams_url,
        "AUDITOR_EVENTGRID_TOPIC_ENDPOINT": sim.eventgrid_endpoint,
        "AUDITOR_EVENTGRID_TOPIC_KEY": sim.sinks.eventgrid_key,
        "AUDITOR_SMTP_HOST": "127.0.0.1",
        "AUDITOR_SMTP_PORT": str(smtp.port),
        "AUDITOR_SMTP_USERNAME": SMTP_USER,
        "AUDITOR_SMTP_PASSWORD": SMTP_PASSWORD,
        "AUDITOR_EMAIL_FROM": "aks-audit@contoso.com",
        "AUDITOR_EMAIL_TO": recipients,
    }
