"""Who made the change behind a failure a scan found: one Activity Log query per new failure.

An event names its caller; a failure the timer finds (or a deferred check) has no event, so
the subscription's Activity Log (management events, kept 90 days) is asked once, for the
cluster's resource group over the 90 days, through the scan's own pipeline (a GET, paged
like any listing). The newest successful diagnostic-setting write or delete under the cluster
is the change; a cluster that has no setting at all is attributed to whoever created it (the
cluster write whose `subStatus` is Created), or said to predate the log.

The filter takes only the forms the API documents (Azure REST API spec, Activity Logs - List:
time range plus resource group, resource URI, provider or correlation ID); whether a resource
URI filter also returns a cluster's extension resources (its diagnostic settings) is not
documented, so the resource group form is used and the cluster is matched here. The docs do
not promise an order either: every page of the window is read (MAX_PAGES at most) and the
newest match kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.attribution import Attribution, Caller, caller_from, change_of
from auditor.azure.connection import ArmConnection
from auditor.azure.errors import describe
from auditor.azure.listing import Item, iter_values
from auditor.events import CLUSTER_WRITE, SETTING_DELETES, SETTING_WRITES, arm_time
from auditor.model import Change, ChangeSource, Finding, Status
from auditor.resource_id import path_of, resource_key

API_VERSION = "2015-04-01"
RETENTION = timedelta(days=90)  # how long the Activity Log keeps management events
MAX_PAGES = 50
_SELECT = ",".join(
    (
        "authorization",
        "claims",
        "correlationId",
        "eventTimestamp",
        "httpRequest",
        "operationName",
        "resourceId",
        "status",
        "subStatus",
    )
)
_SETTING_OPERATIONS = frozenset(op.lower() for op in (*SETTING_WRITES, *SETTING_DELETES))
_MARKER = "/providers/microsoft.insights/diagnosticsettings/"
_NOTHING = "no change to its diagnostic settings is in the Activity Log's 90 days"
_SKEW = timedelta(minutes=5)  # the filter's end is a little ahead: clocks differ, entries carry their own time


class ActivityLog:
    """Attributes new failures for one run; each cluster is looked up at most once."""

    def __init__(self, connection: ArmConnection, privacy: Attribution) -> None:
        self._connection = connection
        self._privacy = privacy
        self.queries = 0
        self._done: dict[str, Change | None] = {}

    async def __call__(self, finding: Finding) -> Change | None:
        """The change behind a new `fail`, or a Change whose note says why nobody is named."""
        if self._privacy is Attribution.OFF or finding.status is not Status.FAIL:
            return None
        key = resource_key(finding.resource_id)
        if key not in self._done:
            self._done[key] = await self._look_up(finding)
        return self._done[key]

    async def _look_up(self, finding: Finding) -> Change | None:
        self.queries += 1
        now = datetime.now(UTC)
        since = now - RETENTION + _SKEW  # inside the window: the docs do not say how an older start is answered
        group = finding.resource_group.replace("'", "''")
        query = {
            "$filter": f"eventTimestamp ge '{_odata(since)}' and eventTimestamp le '{_odata(now + _SKEW)}' "
            f"and resourceGroupName eq '{group}'",
            "$select": _SELECT,
        }
        path = path_of(f"/subscriptions/{finding.subscription_id}/providers/Microsoft.Insights/eventtypes/management")
        cluster = resource_key(finding.resource_id)
        newest: tuple[datetime, Caller, str] | None = None
        created: tuple[datetime, Caller] | None = None
        unread = ""  # why the listing stopped early, if it did
        pages = 0
        try:
            async for item in iter_values(
                self._connection.clusters(), f"{path}/values", API_VERSION, self._connection.arm_endpoint, query
            ):
                if not isinstance(item, Item):  # a page that could not be read, or a link not followed
                    unread = unread or f"page {item.page}: {item.problem}"
                    continue
                if not isinstance(item.value, dict):
                    continue
                pages = item.page
                if pages > MAX_PAGES:
                    break
                entry = item.value
                at = arm_time(entry.get("eventTimestamp"))
                caller = caller_from(entry, at)
                target = resource_key(caller.resource_uri) if caller.resource_uri else ""
                if at is None or not _succeeded(entry) or not target.startswith(cluster):
                    continue
                operation = caller.operation.lower()
                if operation in _SETTING_OPERATIONS and target.startswith(cluster + _MARKER):
                    setting = caller.resource_uri.rstrip("/").rsplit("/", 1)[-1]
                    if newest is None or at > newest[0]:
                        newest = (at, caller, setting)
                elif operation == CLUSTER_WRITE.lower() and target == cluster and _created(entry):
                    created = (at, caller)
        except Exception as exc:
            reason = describe(exc, self._connection.http_timeout_seconds)
            return _unknown(f"the Activity Log could not be read ({reason})")
        if newest is not None:
            return change_of(newest[1], ChangeSource.ACTIVITY_LOG, self._privacy, newest[2])
        if unread:  # what was not read may hold the change: say so rather than "nothing found"
            return _unknown(f"the Activity Log was not read to its end ({unread})")
        if not finding.evidence:  # no setting now, and none changed in the window: whoever created it
            if created is not None:
                return change_of(created[1], ChangeSource.ACTIVITY_LOG, self._privacy)
            return _unknown(f"{_NOTHING} (nor the cluster's creation: it was created before them)")
        return _unknown(_NOTHING)


def _unknown(note: str) -> Change:
    return Change(operation="", source=ChangeSource.ACTIVITY_LOG, note=note)


def _succeeded(entry: dict[str, Any]) -> bool:
    return _value(entry, "status") == "succeeded"


def _created(entry: dict[str, Any]) -> bool:
    """A PUT that created the resource: ARM's subStatus is Created (HTTP 201)."""
    return _value(entry, "subStatus") == "created"


def _value(entry: dict[str, Any], key: str) -> str:
    """An entry's localizable field ({"value", "localizedValue"}, or plain text), lower case."""
    field = entry.get(key)
    value = field.get("value") if isinstance(field, dict) else field
    return value.lower() if isinstance(value, str) else ""


def _odata(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
