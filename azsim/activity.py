"""The Activity Log (management events) of the simulated subscriptions, and its list API.

Every write the simulated ARM serves is recorded with the caller of the token it came with;
tests record changes made "outside" (a person in the portal, a pipeline) with the principal who
made them. Entries have the shape of the REST spec's example (Microsoft.Insights 2015-04-01,
GetActivityLogsFiltered.json): `authorization`, `caller`, `claims`, `correlationId`,
`eventTimestamp`, `httpRequest`, `operationName` and `status` as {value, localizedValue},
`subStatus` "Created" for a PUT that created the resource, `resourceId`, `resourceGroupName`.

`GET /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values` takes the
`$filter` forms the API documents (a time range, optionally with one of resourceGroupName,
resourceUri, resourceProvider or correlationId) and `$select`; anything else is 400. Entries
older than 90 days are gone, as in Azure; the docs do not say how a start earlier than that is
answered, so the simulation simply has nothing older. Pages hold PAGE_SIZE entries, newest first.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from azsim.principals import SimPrincipal

RETENTION = timedelta(days=90)
PAGE_SIZE = 50
_TIME = r"'(?P<{}>[^']+)'"
_FILTER = re.compile(
    r"^\s*eventTimestamp\s+ge\s+"
    + _TIME.format("start")
    + r"\s+and\s+eventTimestamp\s+le\s+"
    + _TIME.format("end")
    + r"(?:\s+and\s+(?P<field>resourceGroupName|resourceUri|resourceProvider|correlationId)"
    + r"\s+eq\s+'(?P<value>(?:[^']|'')*)')?\s*$",
    re.IGNORECASE,
)
_STATUS_TEXT = {"Created": "Created (HTTP Status Code: 201)", "OK": "OK (HTTP Status Code: 200)"}


class BadFilter(ValueError):
    """A $filter the Activity Log API does not take."""


@dataclass(frozen=True)
class Entry:
    at: datetime
    subscription_id: str
    body: dict[str, Any]


class ActivityLog:
    """Entries of every subscription, kept in time order; safe to record from any thread."""

    def __init__(self, tenant_id: str) -> None:
        self._tenant_id = tenant_id
        self._lock = threading.Lock()
        self._entries: list[Entry] = []

    def record(
        self,
        principal: SimPrincipal,
        operation: str,
        resource_id: str,
        method: str,
        at: datetime | None = None,
        created: bool = False,
        status: str = "Succeeded",
    ) -> dict[str, Any]:
        """Add the entry of one change; returns it."""
        at = at or datetime.now(UTC)
        parts = resource_id.strip("/").split("/")
        subscription = parts[1] if len(parts) > 1 else ""
        group = parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else ""
        correlation = str(uuid.uuid4())
        sub_status = "Created" if created else "OK"
        body = {
            "authorization": {"action": operation, "scope": resource_id},
            "caller": principal.caller,
            "channels": "Operation",
            "claims": principal.claims(self._tenant_id, "https://management.core.windows.net/"),
            "correlationId": correlation,
            "description": "",
            "eventDataId": str(uuid.uuid4()),
            "eventName": {"value": "EndRequest", "localizedValue": "End request"},
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "httpRequest": principal.http_request(method),
            "id": f"{resource_id}/events/{uuid.uuid4()}/ticks/{int(at.timestamp() * 10_000_000)}",
            "level": "Informational",
            "resourceGroupName": group,
            "resourceProviderName": {"value": operation.split("/", 1)[0], "localizedValue": operation.split("/", 1)[0]},
            "resourceId": resource_id,
            "operationId": correlation,
            "operationName": {"value": operation, "localizedValue": operation},
            "properties": {"statusCode": sub_status},
            "status": {"value": status, "localizedValue": status},
            "subStatus": {"value": sub_status, "localizedValue": _STATUS_TEXT[sub_status]},
            "eventTimestamp": _arm_time(at),
            "submissionTimestamp": _arm_time(at + timedelta(seconds=12)),
            "subscriptionId": subscription,
            "tenantId": self._tenant_id,
        }
        with self._lock:
            self._entries.append(Entry(at, subscription.lower(), body))
            self._entries.sort(key=lambda entry: entry.at)
        return body

    def query(self, subscription_id: str, text: str, now: datetime | None = None) -> list[dict[str, Any]]:
        """Entries of one subscription matching a $filter, newest first (raises BadFilter)."""
        match = _FILTER.match(text or "")
        if match is None:
            raise BadFilter(f"The $filter '{text}' is not supported.")
        start, end = _parse(match.group("start")), _parse(match.group("end"))
        if start is None or end is None or end < start:
            raise BadFilter("The $filter must give eventTimestamp ge and le as ISO 8601 times, start before end.")
        oldest = (now or datetime.now(UTC)) - RETENTION
        field, value = match.group("field"), (match.group("value") or "").replace("''", "'")
        with self._lock:
            entries = [e for e in self._entries if e.subscription_id == subscription_id.lower()]
        found = []
        for entry in reversed(entries):
            if not (max(start, oldest) <= entry.at <= end):
                continue
            if field and not _matches(entry.body, field.lower(), value):
                continue
            found.append(entry.body)
        return found


def page(entries: list[dict[str, Any]], skip: int, select: str | None, next_link: str) -> dict[str, Any]:
    """One page of the list's answer, with only the selected fields when $select is given."""
    chosen = entries[skip : skip + PAGE_SIZE]
    if select:
        names = {name.strip() for name in select.split(",") if name.strip()}
        chosen = [{k: v for k, v in entry.items() if k in names} for entry in chosen]
    body: dict[str, Any] = {"value": chosen}
    if skip + PAGE_SIZE < len(entries):
        body["nextLink"] = f"{next_link}&$skipToken={skip + PAGE_SIZE}"
    return body


def link(endpoint: str, path: str, query: dict[str, str]) -> str:
    """The page's own URL without $skipToken, for its nextLink."""
    kept = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items() if key != "$skipToken")
    return f"{endpoint}{quote(path)}?{kept}"


def _matches(body: dict[str, Any], field: str, value: str) -> bool:
    wanted = value.lower()
    if field == "resourcegroupname":
        return str(body.get("resourceGroupName", "")).lower() == wanted
    if field == "resourceuri":
        return str(body.get("resourceId", "")).lower().rstrip("/") == wanted.rstrip("/")
    if field == "resourceprovider":
        return str(body["resourceProviderName"]["value"]).lower() == wanted
    return str(body.get("correlationId", "")).lower() == wanted


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _arm_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
