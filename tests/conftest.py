"""Shared fixtures: the local Azure simulation, wired into the environment as Azure would be."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from auditor.cli import main
from azsim import ArmSimulator, Tenant

WORKSPACE = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-logs"
    "/providers/Microsoft.OperationalInsights/workspaces/la-security"
)
STORAGE = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-logs"
    "/providers/Microsoft.Storage/storageAccounts/stauditarchive"
)
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


@pytest.fixture
def simulate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ArmSimulator]]:
    """Start a simulator for a tenant and point the environment at it (as App Service would)."""
    started: list[ArmSimulator] = []

    def start(tenant: Tenant, **options: Any) -> ArmSimulator:
        sim = ArmSimulator(tenant, **options).start()
        started.append(sim)
        point_at(sim, monkeypatch)
        return sim

    yield start
    for sim in started:
        sim.stop()


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
