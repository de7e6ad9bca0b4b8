"""Event Grid payloads (either schema) -> what to do. Pure: no I/O, nothing Azure-specific imported.

A managed-cluster write is checked after the creation grace period (IaC adds the
diagnostic setting minutes after the cluster); a diagnostic-setting write or delete under a
managed cluster is drift and is checked now; everything else (agent pools, credential
listings, maintenance configurations, ...) is ignored before any ARM call. Resource IDs from
events are parsed strictly, so nothing an event carries reaches a request URL unless it is a
well-formed managed-cluster ID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from auditor import json_input
from auditor.attribution import Caller, Origin, caller_from
from auditor.resource_id import parse_cluster_id

WRITE_SUCCESS = "microsoft.resources.resourcewritesuccess"
DELETE_SUCCESS = "microsoft.resources.resourcedeletesuccess"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
# ARM names a diagnostic-setting operation either by the extension resource type
# (`Microsoft.Insights/diagnosticSettings/write`) or nested under the parent type, as the
# provider operations list names it for clusters
# (`Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/write`);
# deletes follow the same two forms. Names are compared case-insensitively: the public
# samples spell them in mixed case, as they do `resourceGroups` / `resourcegroups` in IDs.
SETTING_WRITES = (
    "Microsoft.Insights/diagnosticSettings/write",
    "Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/write",
)
SETTING_DELETES = (
    "Microsoft.Insights/diagnosticSettings/delete",
    "Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/delete",
)
# Every operation that can change a verdict; infra/ filters the subscription's events to these.
RELEVANT_OPERATIONS = (CLUSTER_WRITE, *SETTING_WRITES, *SETTING_DELETES)
_WRITES = frozenset(op.lower() for op in SETTING_WRITES)
_DELETES = frozenset(op.lower() for op in SETTING_DELETES)
_SETTING_SUFFIX = re.compile(r"/providers/microsoft\.insights/diagnosticsettings/([^/]+)$", re.IGNORECASE)
_MAX_FIELD = 2048
MAX_REREADS = 2  # re-reads of a cluster whose first read disagreed with its event, before judging it as read
# An event time outside [EARLIEST_EVENT, now + LATEST_EVENT_AHEAD] is malformed. Not "the last
# days": replays of stored events (the public samples in tests/fixtures/eventgrid are dated
# 2018) are honest events. Not before Event Grid existed: its public preview shipped in August
# 2017 (InfoQ, 2017-08, "Microsoft Ships Azure Event Grid for Unified Event Processing"; general
# availability followed on 2018-01-30). Not more than a day ahead: a clock may be off by
# minutes, never by days.
EARLIEST_EVENT = datetime(2017, 8, 1, tzinfo=UTC)
LATEST_EVENT_AHEAD = timedelta(days=1)


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
    caller: Caller | None = None  # who made the change, as the event's claims say (reporting only)


@dataclass(frozen=True, slots=True)
class Ignore:
    """Not an event that can change a verdict: no ARM call, no storage call."""

    reason: str


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a drift event says happened to one setting, so a stale first read is caught.

    ARM is eventually consistent: a read right after a delete can still list the deleted
    setting, and one right after a write can miss it. A read that disagrees with the event is
    repeated (MAX_REREADS times at most, see reactions.py) before the cluster is judged.
    """

    setting: str
    present: bool  # the event wrote the setting (True) or deleted it (False)
    rereads: int = 0  # re-reads already made because earlier reads disagreed
    first_read: str = ""  # how the first read disagreed, for the finding's trail

    def disagreement(self, names: Iterable[str]) -> str:
        """How a read listing these setting names contradicts the event ("" when it agrees)."""
        listed = self.setting.lower() in {name.lower() for name in names}
        if listed == self.present:
            return ""
        if listed:
            return f"ARM still listed setting {self.setting}, which the event says was deleted"
        return f"ARM did not list setting {self.setting}, which the event says was written"

    @property
    def exhausted(self) -> bool:
        return self.rereads >= MAX_REREADS

    def notes(self, disagreement: str) -> list[str]:
        """What the finding says about re-reads: why they happened and what the last one showed."""
        if disagreement:
            return [
                f"{disagreement}, still after {self.rereads} re-read(s); judged on what ARM answers now "
                "(ARM reads can lag a change)"
            ]
        if self.rereads:
            return [
                f"judged on re-read {self.rereads} after the event: the first read disagreed with it "
                f"({self.first_read}; ARM reads can lag a change)"
            ]
        return []


@dataclass(frozen=True, slots=True)
class CheckCluster:
    """Judge one cluster, now or after a delay."""

    cluster_id: str
    delay_seconds: int
    trigger: str  # why, for the log and the finding's trail: "created or updated", "diagnostic setting deleted"...
    expectation: Expectation | None = None
    origin: Origin = Origin.SCAN
    caller: Caller | None = None


Route = Ignore | CheckCluster  # what to do with one event


def load_events(text: str, source: str = "the document") -> list[Mapping[str, Any]]:
    """A file or request body (`source`, for errors): one event object or an array of them, bounded."""
    try:
        document = json_input.loads(text, json_input.MAX_REPLAY_BYTES, source)
    except json_input.BadDocument as exc:
        raise MalformedEvent(str(exc)) from None
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedEvent(f"event {index} is a JSON {type(item).__name__}, not an object")
    return items


def parse_event(payload: Mapping[str, Any]) -> Event:
    """Read an EventGridEvent (`eventType`, `eventTime`) or a CloudEvent 1.0 (`type`, `time`, `specversion`)."""
    raw_id = payload.get("id")
    event_id = raw_id if isinstance(raw_id, str) and raw_id.strip() else None
    try:  # the trigger's payload was parsed by the worker: bound it as a document read here would be
        json_input.check_depth(payload, "event")
        json_input.check_size(payload, json_input.MAX_EVENT_BYTES, "event")
    except json_input.BadDocument as exc:
        raise MalformedEvent(str(exc), event_id) from None
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
    time = _timestamp(when, event_id)
    return Event(
        id=event_id,
        type=kind,
        time=time,
        subject=subject,
        operation_name=_field(data.get("operationName")),
        resource_uri=_field(data.get("resourceUri")) or subject,
        caller=caller_from(_decoded(data), time),
    )


def _decoded(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Older event schemas carry `claims` and `httpRequest` as JSON text rather than objects."""
    fixed = dict(data)
    for key in ("claims", "httpRequest"):
        value = fixed.get(key)
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                fixed[key] = json_input.loads(value, json_input.MAX_EVENT_BYTES, key)
            except json_input.BadDocument:
                fixed[key] = None
    return fixed


def route(event: Event, grace_seconds: int) -> Route:
    """What to do with one event: a cluster write is checked after the grace period, a
    diagnostic-setting change under a cluster now, everything else is ignored (no ARM call)."""
    kind = event.type.lower()
    operation = event.operation_name.lower()
    if kind == WRITE_SUCCESS and operation == CLUSTER_WRITE.lower():
        cluster_id = _cluster_id(event.resource_uri)
        if cluster_id is None:
            return Ignore(f"{event.operation_name} on something that is not a managed cluster")
        return CheckCluster(
            cluster_id, grace_seconds, "cluster created or updated", origin=Origin.CLUSTER_WRITE, caller=event.caller
        )
    if kind in {WRITE_SUCCESS, DELETE_SUCCESS} and operation in _WRITES | _DELETES:
        suffix = _SETTING_SUFFIX.search(event.resource_uri)
        cluster_id = _cluster_id(event.resource_uri[: suffix.start()]) if suffix else None
        if suffix is None or cluster_id is None:
            return Ignore("diagnostic setting of a resource that is not a managed cluster")
        deleted = operation in _DELETES
        expectation = Expectation(unquote(suffix.group(1)), present=not deleted)
        trigger = f"diagnostic setting {'deleted' if deleted else 'changed'}"
        return CheckCluster(cluster_id, 0, trigger, expectation, Origin.SETTING_CHANGE, event.caller)
    return Ignore(f"not a relevant event ({event.type} {event.operation_name})".replace(" )", ")"))


def _cluster_id(candidate: str) -> str | None:
    """The cluster's ID as the event spells it when `candidate` is one (decoded if it came
    percent-encoded), else None."""
    try:
        ref = parse_cluster_id(candidate)
    except ValueError:
        return None
    return ref.resource_id if "%" in candidate else candidate.strip()


def _field(value: Any) -> str:
    return value.strip()[:_MAX_FIELD] if isinstance(value, str) else ""


def arm_time(value: Any) -> datetime | None:
    """A time as ARM and Event Grid write it (ISO 8601, up to 7 fractional digits where Python takes 6;
    no zone means UTC), or None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _timestamp(value: Any, event_id: str) -> datetime:
    """The event's time, inside the window an Event Grid event can have been sent in (EARLIEST_EVENT
    to a day from now): anything else is malformed, not worth a retry."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent("event has no time", event_id)
    parsed = arm_time(value)
    if parsed is None:
        raise MalformedEvent(f"event time {value[:40]!r} is not ISO 8601", event_id)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # an offset that pushes year 1 or 9999 off the calendar
        raise MalformedEvent(f"event time {value[:40]!r} is off the calendar", event_id) from None
    if not EARLIEST_EVENT <= parsed <= datetime.now(UTC) + LATEST_EVENT_AHEAD:
        raise MalformedEvent(f"event time {value[:40]!r} is outside the times Event Grid can send", event_id)
    return parsed
