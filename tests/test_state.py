"""The event ledger and the per-cluster rows on a real Azure Table (Azurite), rows the auditor cannot read
(azsim.state_rows), and how the storage account is named."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient as SyncTableClient
from azure.data.tables.aio import TableClient

from auditor.azure.state import (
    CLOCK_SKEW,
    EVENTS_TABLE,
    REMEDIATIONS_TABLE,
    EventClaim,
    EventLedger,
    RemediationLedger,
    cluster_keys,
)
from auditor.azure.storage import StorageTarget
from auditor.cooldown import FixHistory
from auditor.settings import ConfigError
from azsim.state_rows import FAR_FUTURE, corrupt_cluster_row, corrupt_event_row, not_a_time, time_as_text

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CLUSTER = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.ContainerService/managedClusters/aks1"
)


def event(event_id: str = "evt-1") -> str:
    return event_id


def ledger_run(connection: str, steps, name: str = EVENTS_TABLE):
    async def run():
        async with TableClient.from_connection_string(connection, name) as table:
            with contextlib.suppress(ResourceExistsError):  # a test may have written a row first
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


def test_old_records_are_forgotten_recent_ones_kept_and_so_are_rows_of_the_date_keyed_scheme(storage):
    async def steps(table):
        await EventLedger(table, now=NOW - timedelta(days=4)).complete("old")
        await EventLedger(table, now=NOW - timedelta(days=1)).complete("recent")
        for day, row in (("20261121", "old-scheme"), ("20261125", "old-scheme-recent")):
            await table.create_entity({"PartitionKey": day, "RowKey": row, "State": "done", "DoneAt": NOW})
        removed = await EventLedger(table, now=NOW).forget_old()
        left = sorted([e["RowKey"] async for e in table.list_entities()])
        return removed, left

    assert ledger_run(storage, steps) == (2, ["old-scheme-recent", "recent"])


def test_the_ledger_is_keyed_on_the_event_id_alone():
    assert EventLedger.keys("evt-1") == EventLedger.keys("evt-1")
    partition, row = EventLedger.keys("evt-1")
    assert (len(partition), row) == (3, "evt-1")


@pytest.mark.parametrize(
    "corruption",
    [
        {"State": "processing", "ClaimedAt": FAR_FUTURE},  # dated 9999: would block the event for good
        {"State": "processing", "ClaimedAt": NOW + CLOCK_SKEW + timedelta(minutes=1)},
        {"State": "processing", "ClaimedAt": not_a_time()},
        {"State": "processing", "ClaimedAt": time_as_text(NOW)},
        {"State": 42, "ClaimedAt": NOW},
    ],
    ids=["claimed-in-9999", "claimed-beyond-the-skew", "claimed-at-garbage", "claimed-at-text", "state-a-number"],
)
def test_an_unreadable_or_far_future_event_claim_blocks_nothing(storage, corruption, caplog):
    corrupt_event_row(storage, "evt-1", corruption)

    async def steps(table):
        ledger = EventLedger(table, now=NOW)
        return await ledger.claim("evt-1"), await ledger.claim("evt-1")

    with caplog.at_level(logging.WARNING, logger="auditor"):
        assert ledger_run(storage, steps) == (EventClaim.NEW, EventClaim.BUSY)
    partition, _ = EventLedger.keys("evt-1")
    assert any(f"PartitionKey {partition}, RowKey evt-1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "corruption",
    [{"Undone": "three"}, {"FixedAt": not_a_time()}, {"FixedAt": FAR_FUTURE}, {"UndoneAt": time_as_text(NOW)}],
    ids=["counter-as-text", "time-garbage", "time-in-9999", "time-as-text"],
)
def test_an_unreadable_remediation_row_is_absent_and_replaced(storage, corruption):
    corrupt_cluster_row(storage, REMEDIATIONS_TABLE, CLUSTER, {"Setting": "audit", **corruption})

    async def steps(table):
        ledger = RemediationLedger(table)
        before = await ledger.get(CLUSTER)
        fresh = FixHistory(fixed_at=NOW, setting="audit")
        await ledger.update(CLUSTER, lambda history: (fresh, None))
        return before, await ledger.get(CLUSTER)

    assert ledger_run(storage, steps, REMEDIATIONS_TABLE) == (None, FixHistory(fixed_at=NOW, setting="audit"))


def test_replacing_an_unreadable_row_is_still_guarded_by_its_etag(storage):
    """Another instance writes between our read of the bad row and our write: ours is refused, decided again."""
    corrupt_cluster_row(storage, REMEDIATIONS_TABLE, CLUSTER, {"Undone": "three"})
    seen = []

    def change(history):
        seen.append(history)
        if len(seen) == 1:  # the other instance's write lands now
            with SyncTableClient.from_connection_string(storage, REMEDIATIONS_TABLE) as other:
                partition, row = cluster_keys(CLUSTER)
                other.upsert_entity({"PartitionKey": partition, "RowKey": row, "Setting": "theirs", "Undone": 1})
        return FixHistory(fixed_at=NOW, setting="ours", undone=(history.undone if history else 0)), None

    async def steps(table):
        await RemediationLedger(table).update(CLUSTER, change)

    ledger_run(storage, steps, REMEDIATIONS_TABLE)
    assert seen == [None, FixHistory(setting="theirs", undone=1)]


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
        StorageTarget.from_env({"AzureWebJobsStorage__queueServiceUri": "https://127.0.0.1:10001"})
    with pytest.raises(ConfigError, match="is not a storage connection string"):
        StorageTarget.from_env({"AzureWebJobsStorage": "stauditor"})
