"""Event Grid payloads (either schema) -> what to do. Pure: no I/O, nothing Azure-specific imported.

CONTRACT §5: a managed-cluster write is checked after the creation grace period (IaC adds
the diagnostic setting minutes after the cluster); a diagnostic-setting write or delete
under a managed cluster is drift and is checked now; everything else is ignored before
any ARM call. Resource IDs from events are parsed strictly, so nothing an event carries
reaches a request URL unless it is a well-formed managed-cluster ID.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditor.resource_id import parse_cluster_id

WRITE_SUCCESS = "microsoft.resources.resourcewritesuccess"
DELETE_SUCCESS = "microsoft.resources.resourcedeletesuccess"
CLUSTER_WRITE = "microsoft.containerservice/managedclusters/write"
SETTING_OPERATIONS = {"microsoft.insights/diagnosticsettings/write", "microsoft.insights/diagnosticsettings/delete"}
_SETTING_SUFFIX = re.compile(r"/providers/microsoft\.insights/diagnosticsettings/[^/]+$", re.IGNORECASE)
_MAX_FIELD = 2048


class MalformedEvent(ValueError):
    """The payload is not an Event Grid event we can read; `event_id` when one was found."""

    def __init__(self, message: str, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class Event:
    """The fields the auditor uses, whichever schema delivered them."""

    id: str
    type: str
    time: datetime
    subject: str
    operation_name: str
    resource_uri: str


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str


@dataclass(frozen=True, slots=True)
class CheckCluster:
    cluster_id: str
    delay_seconds: int
    trigger: str  # why, for the log and the finding's trail: "created or updated", "diagnostic setting deleted"...


Action = Ignore | CheckCluster


def load_events(text: str) -> list[Mapping[str, Any]]:
    """A file or request body: one event object or an array of them."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedEvent(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedEvent(f"event {index} is a JSON {type(item).__name__}, not an object")
    return items


def parse_event(payload: Mapping[str, Any]) -> Event:
    """Read an EventGridEvent (`eventType`, `eventTime`) or a CloudEvent 1.0 (`type`, `time`, `specversion`)."""
    raw_id = payload.get("id")
    event_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    cloud = "specversion" in payload
    kind = payload.get("type" if cloud else "eventType")
    when = payload.get("time" if cloud else "eventTime")
    if event_id is None:
        raise MalformedEvent("event has no id")
    if len(event_id) > 256 or any(ch in event_id for ch in "/\\#?\x00") or not event_id.isprintable():
        raise MalformedEvent("event id has characters or a length that Event Grid never sends", None)
    if not isinstance(kind, str) or not kind:
        raise MalformedEvent(f"event has no {'type' if cloud else 'eventType'}", event_id)
    data = payload.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MalformedEvent("event data is not an object", event_id)
    subject = _field(payload.get("subject"))
    return Event(
        id=event_id,
        type=kind,
        time=_timestamp(when, event_id),
        subject=subject,
        operation_name=_field(data.get("operationName")),
        resource_uri=_field(data.get("resourceUri")) or subject,
    )


def decide(event: Event, grace_seconds: int) -> Action:
    """What CONTRACT §5 says to do with one event."""
    kind = event.type.lower()
    operation = event.operation_name.lower()
    if kind == WRITE_SUCCESS and operation == CLUSTER_WRITE:
        cluster_id = _cluster_id(event.resource_uri)
        if cluster_id is None:
            return Ignore(f"{event.operation_name} on something that is not a managed cluster")
        return CheckCluster(cluster_id, grace_seconds, "cluster created or updated")
    if kind in {WRITE_SUCCESS, DELETE_SUCCESS} and operation in SETTING_OPERATIONS:
        parent = _SETTING_SUFFIX.sub("", event.resource_uri) if _SETTING_SUFFIX.search(event.resource_uri) else ""
        cluster_id = _cluster_id(parent)
        if cluster_id is None:
            return Ignore("diagnostic setting of a resource that is not a managed cluster")
        change = "deleted" if operation.endswith("/delete") else "changed"
        return CheckCluster(cluster_id, 0, f"diagnostic setting {change}")
    return Ignore(f"not a relevant event ({event.type} {event.operation_name})".replace(" )", ")"))


def _cluster_id(candidate: str) -> str | None:
    try:
        parse_cluster_id(candidate)
    except ValueError:
        return None
    return candidate.strip()


def _field(value: Any) -> str:
    return value.strip()[:_MAX_FIELD] if isinstance(value, str) else ""


def _timestamp(value: Any, event_id: str) -> datetime:
    """Event Grid sends ISO 8601 with up to 7 fractional digits; Python takes 6."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent("event has no time", event_id)
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedEvent(f"event time {value[:40]!r} is not ISO 8601", event_id) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
