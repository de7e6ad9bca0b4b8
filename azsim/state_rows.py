"""Hostile state: rows in the auditor's own tables that it did not write that way (a property of
another EDM type, a time that does not parse, a time far in the future), written into Azurite
with the real Tables SDK, so tests prove a bad row is read as absent and never crashes a run.

Properties are merged over the row the auditor wrote (or make a new row): pass only the fields
to corrupt, e.g. `{"LastNotifiedAt": FAR_FUTURE}` or `{"FirstFailedAt": not_a_time()}`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from auditor.azure.state import EVENTS_TABLE, EventLedger, cluster_keys

FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def not_a_time(text: str = "not-a-time") -> EntityProperty:
    """An Edm.DateTime that is no time: Azurite stores it, and the SDK cannot decode it on read."""
    return EntityProperty(text, EdmType.DATETIME)


def time_as_text(when: datetime) -> str:
    """A time stored as Edm.String, as a hand-edited or foreign row might hold it."""
    return when.isoformat()


def corrupt_cluster_row(connection_string: str, table: str, resource_id: str, properties: Mapping[str, Any]) -> None:
    """Merge `properties` into a cluster's row of `table` (auditorfindings, auditorremediations)."""
    partition, row = cluster_keys(resource_id)
    _merge(connection_string, table, {"PartitionKey": partition, "RowKey": row, **properties})


def corrupt_event_row(connection_string: str, event_id: str, properties: Mapping[str, Any]) -> None:
    """Merge `properties` into an event's row of auditorevents."""
    partition, row = EventLedger.keys(event_id)
    _merge(connection_string, EVENTS_TABLE, {"PartitionKey": partition, "RowKey": row, **properties})


def _merge(connection_string: str, table: str, entity: dict[str, Any]) -> None:
    with TableClient.from_connection_string(connection_string, table) as client:
        with contextlib.suppress(ResourceExistsError):  # the auditor's table, made as the auditor makes it
            client.create_table()
        client.upsert_entity(entity, mode=UpdateMode.MERGE)
