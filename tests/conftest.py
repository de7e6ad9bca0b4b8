"""Shared fixtures: the local Azure simulation and Azurite, wired into the environment as Azure would be."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient
from support import STORAGE, WORKSPACE, point_at

from azsim import ArmSimulator, Tenant
from azsim.azurite import AzuriteUnavailable
from azsim.azurite import azurite as run_azurite


@pytest.fixture
def simulate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ArmSimulator]]:
    """Start a simulator for a tenant and point the environment at it (as App Service would).

    The tenant gets the workspace and storage account the tests' settings name (tests/support.py) unless it
    has them already; a test about a lost destination removes or changes them."""
    started: list[ArmSimulator] = []

    def start(tenant: Tenant, **options: Any) -> ArmSimulator:
        if tenant.find_destination(WORKSPACE) is None:
            tenant.add_workspace(WORKSPACE)
        if tenant.find_destination(STORAGE) is None:
            tenant.add_storage_account(STORAGE)
        sim = ArmSimulator(tenant, **options).start()
        started.append(sim)
        point_at(sim, monkeypatch)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A real Azurite (queues, tables) for the session; yields its connection string."""
    try:
        with run_azurite() as connection_string:
            yield connection_string
    except AzuriteUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def storage(azurite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AzureWebJobsStorage pointed at Azurite, with the auditor's queues and table emptied for this test."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    queues = QueueServiceClient.from_connection_string(azurite)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)
    tables = TableServiceClient.from_connection_string(azurite)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    return azurite
