"""What the auditor remembers between invocations, in an Azure Table: which events it has handled.

Event Grid delivers at least once. Each event is claimed before it is acted on and marked
done after, so a redelivery of a handled event does nothing. A claim that was never
completed (the instance died, or the action failed and raised for a retry) is released
or expires, so a retry is never blocked for good. Claims compare ETags, so two instances
handling the same delivery at once cannot both act.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from auditor.events import Event

EVENTS_TABLE = "auditorevents"
CLAIM_LEASE = timedelta(minutes=10)  # longer than one event's handling, shorter than Event Grid's retry span
KEEP_DAYS = 3  # Event Grid retries for 24 hours; a day's margin either side


class Claim(StrEnum):
    NEW = "new"  # ours to handle
    DONE = "done"  # handled before: a redelivery
    BUSY = "busy"  # another instance is handling it right now


class EventLedger:
    def __init__(self, table: TableClient, now: datetime | None = None) -> None:
        self._table = table
        self._now = now

    def _clock(self) -> datetime:
        return self._now or datetime.now(UTC)

    @staticmethod
    def _keys(event: Event) -> tuple[str, str]:
        """Partition by the event's own date (stable across redeliveries), so old days can be dropped."""
        return event.time.astimezone(UTC).strftime("%Y%m%d"), event.id

    async def claim(self, event: Event) -> Claim:
        partition, row = self._keys(event)
        entity = {"PartitionKey": partition, "RowKey": row, "State": "processing", "ClaimedAt": self._clock()}
        try:
            await self._table.create_entity(entity)
            return Claim.NEW
        except ResourceExistsError:
            pass
        try:
            existing = await self._table.get_entity(partition, row)
        except ResourceNotFoundError:  # released between our two calls: try once more
            return await self.claim(event)
        if existing.get("State") == "done":
            return Claim.DONE
        claimed_at = existing.get("ClaimedAt")
        if isinstance(claimed_at, datetime) and self._clock() - claimed_at < CLAIM_LEASE:
            return Claim.BUSY
        try:  # a stale claim: take it over, unless someone else just did
            await self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return Claim.BUSY
        return Claim.NEW

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
