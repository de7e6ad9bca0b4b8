"""What the auditor remembers between invocations, in Azure Tables: which events it has handled
(`EventLedger`) and, per cluster, what it last saw and last told people (`FindingStore`) and
when it last fixed the cluster (`RemediationLedger`, for the cool-down).

Event Grid delivers at least once. Each event is claimed before it is acted on and marked
done after, so a redelivery of a handled event does nothing. A claim that was never
completed (the instance died, or the action failed and raised for a retry) is released
or expires, so a retry is never blocked for good. Claims compare ETags, so two instances
handling the same delivery at once cannot both act.

A row the auditor cannot read (a property of another EDM type than it writes, a time that
does not parse, a time further ahead than CLOCK_SKEW) is logged with its keys and treated as
absent: the cluster is judged and announced afresh, the event handled afresh. Replacing such
a row is still guarded by its ETag.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from auditor.azure.storage import Storage, StorageFailed
from auditor.cooldown import FixHistory
from auditor.model import FindingRecord
from auditor.resource_id import resource_key

T = TypeVar("T")
R = TypeVar("R")
LOGGER = logging.getLogger("auditor")

EVENTS_TABLE = "auditorevents"
CLAIM_LEASE = timedelta(minutes=10)  # longer than one event's handling, shorter than Event Grid's retry span
KEEP_DAYS = 3  # Event Grid retries for 24 hours; a day's margin either side
# How far ahead of this instance's clock another instance's may run. A stored time later than
# now + CLOCK_SKEW was not written by a sane clock: it is unreadable, so it cannot hold a claim,
# a lease or a reminder for good.
CLOCK_SKEW = timedelta(minutes=5)


class UnreadableRow(ValueError):
    """A row whose properties are not what the auditor writes."""


class Row:
    """Typed reads of one entity's properties; anything else than what the auditor writes raises UnreadableRow.

    The SDK hands back Edm.String as str, Edm.Int32 as int, Edm.DateTime as a timezone-aware
    datetime and Edm.Int64 as an EntityProperty (azure-data-tables, _deserialize.py)."""

    def __init__(self, entity: Mapping[str, Any], now: datetime) -> None:
        self._entity = entity
        self._latest = now + CLOCK_SKEW

    def text(self, name: str) -> str:
        value = self._entity.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise UnreadableRow(f"{name} is not text")
        return value

    def count(self, name: str) -> int:
        value = self._entity.get(name)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnreadableRow(f"{name} is not a count")
        return value

    def time(self, name: str) -> datetime | None:
        value = self._entity.get(name)
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise UnreadableRow(f"{name} is not a time")
        if value > self._latest:
            raise UnreadableRow(f"{name} is later than now (+{CLOCK_SKEW})")
        return value


async def read_row(
    table: TableClient, partition: str, row: str, read: Callable[[Row], R], now: datetime
) -> tuple[str | None, R | None]:
    """(ETag, record) of one row: (None, None) when there is none; (ETag, None) when it cannot be read,
    so it counts as absent but is replaced only if nobody changed it since."""
    try:
        entity = await table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None, None
    except (ValueError, TypeError) as exc:
        # The SDK could not decode a property (an Edm.DateTime that is no time: Azurite stores one;
        # whether Azure Tables refuses it is not documented): read the bare row for its ETag.
        reason = f"a property the SDK cannot decode ({type(exc).__name__})"
        try:
            entity = await table.get_entity(partition, row, select=["RowKey"])
        except ResourceNotFoundError:
            return None, None
        _unreadable(table, partition, row, reason)
        return str(entity.metadata["etag"]), None
    etag = str(entity.metadata["etag"])
    try:
        return etag, read(Row(entity, now))
    except UnreadableRow as exc:
        _unreadable(table, partition, row, str(exc))
        return etag, None


def _unreadable(table: TableClient, partition: str, row: str, reason: str) -> None:
    LOGGER.warning(
        "C-0254 unreadable row in %s (PartitionKey %s, RowKey %s): %s; treated as absent",
        table.table_name,
        partition,
        row,
        reason,
    )


class EventClaim(StrEnum):
    """What claiming an event in the ledger found."""

    NEW = "new"  # ours to handle
    DONE = "done"  # handled before: a redelivery
    BUSY = "busy"  # another instance is handling it right now


class EventLedger:
    """The `auditorevents` table: which events were handled, so a redelivery does nothing."""

    def __init__(self, table: TableClient, now: datetime | None = None) -> None:
        self._table = table
        self._now = now

    def _clock(self) -> datetime:
        return self._now or datetime.now(UTC)

    @staticmethod
    def keys(event_id: str) -> tuple[str, str]:
        """Keyed on the event id alone (a redelivery with another eventTime is the same event): the
        partition is a hash of the id, spreading rows over 256 partitions. Rows of the earlier scheme
        (PartitionKey the event's date, yyyymmdd) age out through forget_old like any other."""
        return "e" + hashlib.sha256(event_id.encode()).hexdigest()[:2], event_id

    async def claim(self, event_id: str) -> EventClaim:
        partition, row = self.keys(event_id)
        now = self._clock()
        entity = {"PartitionKey": partition, "RowKey": row, "State": "processing", "ClaimedAt": now, "RecordedAt": now}
        try:
            await self._table.create_entity(entity)
            return EventClaim.NEW
        except ResourceExistsError:
            pass
        etag, existing = await read_row(self._table, partition, row, _event_state, now)
        if etag is None:  # released between our two calls: try once more
            return await self.claim(event_id)
        if existing is not None:
            state, claimed_at = existing
            if state == "done":
                return EventClaim.DONE
            if claimed_at is not None and now - claimed_at < CLAIM_LEASE:
                return EventClaim.BUSY
        try:  # a stale or unreadable claim: take it over, unless someone else just did
            await self._table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return EventClaim.BUSY
        return EventClaim.NEW

    async def complete(self, event_id: str) -> None:
        partition, row = self.keys(event_id)
        now = self._clock()
        await self._table.upsert_entity(
            {"PartitionKey": partition, "RowKey": row, "State": "done", "DoneAt": now, "RecordedAt": now},
            mode=UpdateMode.REPLACE,
        )

    async def release(self, event_id: str) -> None:
        """Give the event back, so Event Grid's retry can claim it at once."""
        partition, row = self.keys(event_id)
        with contextlib.suppress(ResourceNotFoundError):
            await self._table.delete_entity(partition, row)

    async def forget_old(self, limit: int = 1000) -> int:
        """Drop rows recorded more than KEEP_DAYS ago, and rows of the earlier date-partitioned scheme
        older than that (bounded per call; the next timer run continues). Digits sort before the
        hash partitions' 'e', so the date comparison never matches a current row."""
        cutoff = self._clock() - timedelta(days=KEEP_DAYS)
        query = "RecordedAt lt @cutoff or PartitionKey lt @day"
        parameters = {"cutoff": cutoff, "day": cutoff.strftime("%Y%m%d")}
        removed = 0
        try:
            async for entity in self._table.query_entities(
                query, parameters=parameters, select=["PartitionKey", "RowKey"]
            ):
                with contextlib.suppress(ResourceNotFoundError):
                    await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
                removed += 1
                if removed >= limit:
                    break
        except ResourceNotFoundError:  # no event handled yet: no table
            pass
        return removed


def _event_state(row: Row) -> tuple[str, datetime | None]:
    state = row.text("State")
    if state not in {"processing", "done"}:
        raise UnreadableRow("State is neither processing nor done")
    row.time("DoneAt")
    row.time("RecordedAt")
    return state, row.time("ClaimedAt")


FINDINGS_TABLE = "auditorfindings"
REMEDIATIONS_TABLE = "auditorremediations"
_ATTEMPTS = 5


def cluster_keys(resource_id: str) -> tuple[str, str]:
    """RowKeys cannot hold '/': the key is a hash of the case-folded ID (ARM IDs are case-insensitive)."""
    key = resource_key(resource_id)
    subscription = key.split("/")[2] if key.startswith("/subscriptions/") else "tenant"
    return subscription, hashlib.sha256(key.encode()).hexdigest()


class _ClusterRows(Generic[R]):
    """One row per cluster in an Azure Table; every write is guarded by the ETag it read."""

    def __init__(
        self,
        table: TableClient,
        read: Callable[[Row], R],
        write: Callable[[R], dict[str, Any]],
    ) -> None:
        self._table = table
        self._read = read
        self._write = write

    async def get(self, resource_id: str) -> R | None:
        return (await read_row(self._table, *cluster_keys(resource_id), self._read, datetime.now(UTC)))[1]

    async def update(self, resource_id: str, change: Callable[[R | None], tuple[R | None, T]]) -> tuple[R | None, T]:
        """Read, apply `change`, write back unless someone else wrote in between (then read again).

        Returns the row as it was and what `change` returned with the row it wrote.
        """
        partition, row = cluster_keys(resource_id)
        for _ in range(_ATTEMPTS):
            etag, before = await read_row(self._table, partition, row, self._read, datetime.now(UTC))
            after, result = change(before)
            if after is None or after == before:
                return before, result
            record = {"PartitionKey": partition, "RowKey": row, "ResourceId": resource_id, **self._write(after)}
            try:
                if etag is None:
                    await self._table.create_entity(record)
                else:
                    await self._table.update_entity(
                        record, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                return before, result
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # another instance wrote (or removed it) first: decide again on what it wrote
        raise ResourceModifiedError(f"state of {resource_id} kept changing under {_ATTEMPTS} attempts")


class FindingStore(_ClusterRows[FindingRecord]):
    """Per-cluster FindingRecord: what was seen, what people were told, the notice being delivered."""

    def __init__(self, table: TableClient) -> None:
        super().__init__(table, _memory, _fields)


def _memory(row: Row) -> FindingRecord:
    return FindingRecord(
        status=row.text("Status"),
        first_failed_at=row.time("FirstFailedAt"),
        notified_status=row.text("NotifiedStatus"),
        notified_hash=row.text("NotifiedHash"),
        last_notified_at=row.time("LastNotifiedAt"),
        severity=row.text("Severity"),
        change=row.text("Change"),
        pending_status=row.text("PendingStatus"),
        pending_hash=row.text("PendingHash"),
        pending_at=row.time("PendingAt"),
    )


def _fields(memory: FindingRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Status": memory.status,
        "NotifiedStatus": memory.notified_status,
        "NotifiedHash": memory.notified_hash,
        "Severity": memory.severity,
        "Change": memory.change,  # a few hundred characters of JSON: far below a property's 64 KiB
        "PendingStatus": memory.pending_status,
        "PendingHash": memory.pending_hash,
    }
    for name, value in (
        ("FirstFailedAt", memory.first_failed_at),
        ("LastNotifiedAt", memory.last_notified_at),
        ("PendingAt", memory.pending_at),
    ):
        if value is not None:
            fields[name] = value
    return fields


class RemediationLedger(_ClusterRows[FixHistory]):
    """Per-cluster FixHistory: when the auditor last fixed a cluster and how often that was undone."""

    def __init__(self, table: TableClient) -> None:
        super().__init__(table, _history, _history_fields)

    @classmethod
    async def open(cls, storage: Storage) -> RemediationLedger:
        """The ledger, or, when its table cannot be reached, one that answers every call with that
        failure at once: each remediation then fails saying why, and no cluster pays a retry cycle."""
        table = storage.table(REMEDIATIONS_TABLE)
        try:
            await storage.ensure_table(table)
        except Exception as exc:
            return _UnreachableLedger(table, StorageFailed(f"the remediation ledger: {type(exc).__name__}"))
        return cls(table)


class _UnreachableLedger(RemediationLedger):
    def __init__(self, table: TableClient, failure: StorageFailed) -> None:
        super().__init__(table)
        self._failure = failure

    async def get(self, resource_id: str) -> FixHistory | None:
        raise self._failure

    async def update(
        self, resource_id: str, change: Callable[[FixHistory | None], tuple[FixHistory | None, T]]
    ) -> tuple[FixHistory | None, T]:
        raise self._failure


def _history(row: Row) -> FixHistory:
    return FixHistory(
        fixed_at=row.time("FixedAt"),
        setting=row.text("Setting"),
        undone=row.count("Undone"),
        undone_at=row.time("UndoneAt"),
    )


def _history_fields(history: FixHistory) -> dict[str, Any]:
    fields: dict[str, Any] = {"Setting": history.setting, "Undone": history.undone}
    if history.fixed_at is not None:
        fields["FixedAt"] = history.fixed_at
    if history.undone_at is not None:
        fields["UndoneAt"] = history.undone_at
    return fields
