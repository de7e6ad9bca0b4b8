"""The event ledger on a real Azure Table (Azurite), and how the storage account is named."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableClient

from auditor.azure.state import EVENTS_TABLE, EventClaim, EventLedger
from auditor.azure.storage import StorageTarget
from auditor.events import Event
from auditor.settings import ConfigError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def event(event_id: str = "evt-1", when: datetime = NOW) -> Event:
    return Event(event_id, "Microsoft.Resources.ResourceWriteSuccess", when, "", "", "")


def ledger_run(connection: str, steps):
    async def run():
        async with TableClient.from_connection_string(connection, EVENTS_TABLE) as table:
            await table.create_table()
            return await steps(table)

    return asyncio.run(run())


def test_claim_complete_and_redelivery(storage):
    async def steps(table):
        ledger = EventLedger(table, now=NOW)
        first = await ledger.claim(event())
        second = await ledger.claim(event())  # the same event while the first is in flight
        await ledger.complete(event())
        third = await ledger.claim(event())
        return first, second, third

    assert ledger_run(storage, steps) == (EventClaim.NEW, EventClaim.BUSY, EventClaim.DONE)


def test_released_claim_can_be_taken_again(storage):
    async def steps(table):
        ledger = EventLedger(table, now=NOW)
        await ledger.claim(event())
        await ledger.release(event())
        return await ledger.claim(event())

    assert ledger_run(storage, steps) is EventClaim.NEW


def test_stale_claim_of_a_dead_instance_is_taken_over(storage):
    async def steps(table):
        await EventLedger(table, now=NOW).claim(event())
        later = EventLedger(table, now=NOW + timedelta(minutes=11))
        return await later.claim(event()), await later.claim(event())

    assert ledger_run(storage, steps) == (EventClaim.NEW, EventClaim.BUSY)


def test_old_records_are_forgotten_recent_ones_kept(storage):
    async def steps(table):
        ledger = EventLedger(table, now=NOW)
        await ledger.complete(event("old", NOW - timedelta(days=4)))
        await ledger.complete(event("recent", NOW - timedelta(days=1)))
        removed = await ledger.forget_old()
        left = [e["RowKey"] async for e in table.list_entities()]
        return removed, left

    assert ledger_run(storage, steps) == (1, ["recent"])


def test_storage_is_named_by_connection_string_or_by_identity():
    assert StorageTarget.from_env({}) is None
    assert StorageTarget.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}).connection_string
    target = StorageTarget.from_env(
        {"AzureWebJobsStorage__accountName": "stauditor", "AzureWebJobsStorage__clientId": "1234"}
    )
    assert (target.queue_url, target.table_url, target.client_id) == (
        "https://stauditor.queue.core.windows.net",
        "https://stauditor.table.core.windows.net",
        "1234",
    )
    with pytest.raises(ConfigError, match="must both be set"):
        StorageTarget.from_env({"AzureWebJobsStorage__queueServiceUri": "https://q.example"})
    with pytest.raises(ConfigError, match="is not a storage connection string"):
        StorageTarget.from_env({"AzureWebJobsStorage": "stauditor"})
