"""What the auditor remembers between invocations, in Azure Tables: which events it has handled
(`EventLedger`) and, per cluster, what it last saw and last told people (`FindingStore`) and
when it last fixed the cluster (`RemediationLedger`, for the cool-down).

Event Grid delivers at least once. Each event is claimed before it is acted on and marked
done after, so a redelivery of a handled event does nothing. A claim that was never
completed (the instance died, or the action failed and raised for a retry) is released
or expires, so a retry is never blocked for good. Claims compare ETags, so two instances
handling the same delivery at once cannot both act.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from auditor.azure.storage import Storage
from auditor.cooldown import FixHistory
from auditor.events import Event
from auditor.model import FindingRecord
from auditor.resource_id import resource_key

T = TypeVar("T")

EVENTS_TABLE = "auditorevents"
CLAIM_LEASE = timedelta(minutes=10)  # longer than one event's handling, shorter than Event Grid's retry span
KEEP_DAYS = 3  # Event Grid retries for 24 hours; a day's margin either side


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
    def _keys(event: Event) -> tuple[str, str]:
        """Partition by the event's own date (stable across redeliveries), so old days can be dropped."""
        return event.time.astimezone(UTC).strftime("%Y%m%d"), event.id

    async def claim(self, event: Event) -> EventClaim:
        partition, row = self._keys(event)
        entity = {"PartitionKey": partition, "RowKey": row, "State": "processing", "ClaimedAt": self._clock()}
        try:
            await self._table.create_entity(entity)
            return EventClaim.NEW
        except ResourceExistsError:
            pass
        try:
            existing = await self._table.get_entity(partition, row)
        except ResourceNotFoundError:  # released between our two calls: try once more
            return await self.claim(event)
        if existing.get("State") == "done":
            return EventClaim.DONE
        claimed_at = existing.get("ClaimedAt")
        if isinstance(claimed_at, datetime) and self._clock() - claimed_at < CLAIM_LEASE:
            return EventClaim.BUSY
        try:  # a stale claim: take it over, unless someone else just did
            await self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return EventClaim.BUSY
        return EventClaim.NEW

    async def complete(self, event: Event) -> None:
        partition, row = self._keys(event)
        await self._table.upsert_entity(
            {"PartitionKey": partition, "RowKey": row, "State": "done", "DoneAt": self._clock()},
            mode=UpdateMode.REPLACE,
        )

    async def release(self, event: Event) -> None:
        """Give the event back, so Event Grid's retry can claim it at once."""
        partition, row = self._keys(event)
        with contextlib.suppress(ResourceNotFoundError):
            await self._table.delete_entity(partition, row)

    async def forget_old(self, limit: int = 1000) -> int:
        """Drop claims older than KEEP_DAYS (bounded per call; the next timer run continues)."""
        cutoff = (self._clock() - timedelta(days=KEEP_DAYS)).strftime("%Y%m%d")
        removed = 0
        try:
            async for entity in self._table.query_entities("PartitionKey lt @cutoff", parameters={"cutoff": cutoff}):
                await self._table.delete_entity(entity["PartitionKey"], entity["RowKey"])
                removed += 1
                if removed >= limit:
                    break
        except ResourceNotFoundError:  # no event handled yet: no table
            pass
        return removed


FINDINGS_TABLE = "auditorfindings"
REMEDIATIONS_TABLE = "auditorremediations"
_ATTEMPTS = 5
R = TypeVar("R")


def _cluster_keys(resource_id: str) -> tuple[str, str]:
    """RowKeys cannot hold '/': the key is a hash of the case-folded ID (ARM IDs are case-insensitive)."""
    key = resource_key(resource_id)
    subscription = key.split("/")[2] if key.startswith("/subscriptions/") else "tenant"
    return subscription, hashlib.sha256(key.encode()).hexdigest()


class _ClusterRows(Generic[R]):
    """One row per cluster in an Azure Table; every write is guarded by the ETag it read."""

    def __init__(
        self,
        table: TableClient,
        read: Callable[[Mapping[str, Any]], R],
        write: Callable[[R], dict[str, Any]],
    ) -> None:
        self._table = table
        self._read = read
        self._write = write

    async def get(self, resource_id: str) -> R | None:
        try:
            return self._read(await self._table.get_entity(*_cluster_keys(resource_id)))
        except ResourceNotFoundError:
            return None

    async def update(self, resource_id: str, change: Callable[[R | None], tuple[R | None, T]]) -> tuple[R | None, T]:
        """Read, apply `change`, write back unless someone else wrote in between (then read again).

        Returns the row as it was and what `change` returned with the row it wrote.
        """
        partition, row = _cluster_keys(resource_id)
        for _ in range(_ATTEMPTS):
            try:
                entity = await self._table.get_entity(partition, row)
            except ResourceNotFoundError:
                entity = None
            before = self._read(entity) if entity is not None else None
            after, result = change(before)
            if after is None or after == before:
                return before, result
            record = {"PartitionKey": partition, "RowKey": row, "ResourceId": resource_id, **self._write(after)}
            try:
                if entity is None:
                    await self._table.create_entity(record)
                else:
                    await self._table.update_entity(
                        record,
                        mode=UpdateMode.REPLACE,
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                return before, result
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another instance wrote first: decide again on what it wrote
        raise ResourceModifiedError(f"state of {resource_id} kept changing under {_ATTEMPTS} attempts")


class FindingStore(_ClusterRows[FindingRecord]):
    """Per-cluster FindingRecord: what was seen and what people were told."""

    def __init__(self, table: TableClient) -> None:
        super().__init__(table, _memory, _fields)

    async def restore(self, resource_id: str, memory: FindingRecord | None, expected: FindingRecord) -> None:
        """Undo a notification claim that could not be delivered, unless another claim replaced it since.

        Only what people were told is rolled back; what was seen stays.
        """
        told = memory or FindingRecord()

        def back(current: FindingRecord | None) -> tuple[FindingRecord | None, None]:
            claimed = (expected.notified_status, expected.notified_hash, expected.last_notified_at)
            if current is None or (current.notified_status, current.notified_hash, current.last_notified_at) != claimed:
                return current, None
            undone = replace(
                current,
                notified_status=told.notified_status,
                notified_hash=told.notified_hash,
                last_notified_at=told.last_notified_at,
            )
            return undone, None

        await self.update(resource_id, back)


def _memory(entity: Mapping[str, Any]) -> FindingRecord:
    return FindingRecord(
        status=str(entity.get("Status") or ""),
        first_failed_at=entity.get("FirstFailedAt"),
        notified_status=str(entity.get("NotifiedStatus") or ""),
        notified_hash=str(entity.get("NotifiedHash") or ""),
        last_notified_at=entity.get("LastNotifiedAt"),
        severity=str(entity.get("Severity") or ""),
        change=str(entity.get("Change") or ""),
    )


def _fields(memory: FindingRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Status": memory.status,
        "NotifiedStatus": memory.notified_status,
        "NotifiedHash": memory.notified_hash,
        "Severity": memory.severity,
        "Change": memory.change,  # a few hundred characters of JSON: far below a property's 64 KiB
    }
    if memory.first_failed_at is not None:
        fields["FirstFailedAt"] = memory.first_failed_at
    if memory.last_notified_at is not None:
        fields["LastNotifiedAt"] = memory.last_notified_at
    return fields


class RemediationLedger(_ClusterRows[FixHistory]):
    """Per-cluster FixHistory: when the auditor last fixed a cluster and how often that was undone."""

    def __init__(self, table: TableClient) -> None:
        super().__init__(table, _history, _history_fields)

    @classmethod
    async def open(cls, storage: Storage) -> RemediationLedger:
        table = storage.table(REMEDIATIONS_TABLE)
        await storage.ensure_table(table)
        return cls(table)


def _history(entity: Mapping[str, Any]) -> FixHistory:
    return FixHistory(
        fixed_at=entity.get("FixedAt"),
        setting=str(entity.get("Setting") or ""),
        undone=int(entity.get("Undone") or 0),
        undone_at=entity.get("UndoneAt"),
    )


def _history_fields(history: FixHistory) -> dict[str, Any]:
    fields: dict[str, Any] = {"Setting": history.setting, "Undone": history.undone}
    if history.fixed_at is not None:
        fields["FixedAt"] = history.fixed_at
    if history.undone_at is not None:
        fields["UndoneAt"] = history.undone_at
    return fields
