"""The Log Analytics query API (`POST {endpoint}/v1/workspaces/{customerId}/query`) over the tenant's workspaces.

The simulation does not interpret KQL. It answers the one query the auditor sends (auditor/azure/
delivery.py: the newest record per cluster and category in the audit tables), computed from what
Azure Monitor has delivered (azsim/monitor.py), with the columns and types the real API returns;
any other query is a 400 BadArgumentError, so a changed query cannot pass unnoticed.

Shapes and errors follow the Azure docs ("Azure Monitor Log Analytics API request format" and "...
API errors"): `{"tables": [{"name", "columns": [{"name", "type"}], "rows"}]}`; 401
AuthenticationFailed without a token; 403 InvalidAuthenticationToken(Audience); 403
InsufficientAccessError when the identity may not read the workspace; 400 BadArgumentError. A
partial failure answers 200 with the tables and an `error` object beside them (azure-monitor-query
turns it into LogsQueryPartialResult). A query needs `workspaces/query/read` on the workspace and
`workspaces/query/<table>/read` for each table it reads (Azure Monitor docs, "Manage table-level
read access", the per-table actions; Reader's `*/read` holds them all); the docs do not say how a
union over a table the caller may not read is answered, so the simulation refuses the whole query
with InsufficientAccessError, as for a workspace the caller may not query at all. The docs list no
answer for a missing workspace; clients meet 404 PathNotFoundError "The requested path does not
exist" for an ID that is not a GUID (Azure/azure-sdk-for-python issue 45580) and 404
WorkspaceNotFoundError "The workspace could not be found" for an unknown or deleted one (as
opencybersecurityalliance/stix-shifter's Log Analytics tests show the body). Each principal may send
LIMIT queries per WINDOW seconds (Azure docs, "Azure Monitor service limits", user query throttling:
200 per 30 s), beyond which the answer is 429 with Retry-After; the code of that body is not
documented. Rows older than the table's total retention are gone, as in the workspace.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiohttp import web

from azsim.access import Need
from azsim.destinations import AUDIT_TABLES, SimWorkspace
from azsim.gateway import Gateway, RequestRecord
from azsim.monitor import newest
from azsim.responses import json_response
from azsim.tenant import Tenant

_PATH = re.compile(r"^/v1/workspaces/([^/]+)/query$", re.IGNORECASE)
LIMIT, WINDOW = 200, 30.0
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
# What identifies the auditor's delivery query (the simulation answers nothing else).
_QUERY_MARKS = ("union", "AKSAudit", "AKSAuditAdmin", "AKSControlPlane", "AzureDiagnostics", "max(TimeGenerated)")
QUERY_READ = "Microsoft.OperationalInsights/workspaces/query/read"
COLUMNS = [
    {"name": "ResourceId", "type": "string"},
    {"name": "Category", "type": "string"},
    {"name": "Last", "type": "datetime"},
    {"name": "SourceTable", "type": "string"},
]


class LogsApi:
    """Answers query requests; `requests` logs them like the ARM front door's."""

    def __init__(self, tenant: Tenant, gateway: Gateway) -> None:
        self.tenant = tenant
        self.gateway = gateway
        self.endpoint = ""  # known once the site has its port: the token audience it accepts
        self.queries: list[str] = []  # customer IDs queried, in order
        self.limit = (LIMIT, WINDOW)  # queries per principal per window of seconds; tests may lower it
        self._recent: dict[str, list[float]] = {}  # principal -> times of its queries in the window

    async def handle(self, request: web.Request) -> web.StreamResponse:
        return await self.gateway.data_plane(request, self.gateway.logs_requests, self._answer)

    async def _answer(self, request: web.Request, record: RequestRecord) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        problem = self.gateway.issuer.problem(token.strip(), self.endpoint)
        if problem is not None:
            return _error(403, *problem)
        match = _PATH.match(request.path)
        if request.method != "POST" or match is None or not _is_guid(match.group(1)):
            return _error(404, "PathNotFoundError", "The requested path does not exist")
        principal = self.gateway.issuer.principal(token.strip())
        wait = self._admit(principal)
        if wait:
            return _error(429, "ThrottledError", "Too many requests: retry later.", {"Retry-After": str(wait)})
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not all(mark in query for mark in _QUERY_MARKS):
            return _error(400, "BadArgumentError", "The request had some invalid properties")
        since = _start(body.get("timespan"), datetime.now(UTC))
        if since is None:
            return _error(400, "BadArgumentError", f"The timespan {body.get('timespan')!r} is not valid")
        workspace = self._workspace(match.group(1))
        if workspace is None:
            return _error(404, "WorkspaceNotFoundError", "The workspace could not be found")
        self.queries.append(workspace.customer_id)
        record.needs = query_needs(workspace.id)
        if workspace.query_answer == "forbidden" or self.tenant.access.missing(principal, record.needs):
            return _error(
                403,
                "InsufficientAccessError",
                "The provided credentials have insufficient access to perform the requested operation",
            )
        table = {"name": "PrimaryResult", "columns": COLUMNS, "rows": _rows(self.tenant, workspace, since)}
        answer: dict[str, object] = {"tables": [table]}
        if workspace.query_answer == "partial":
            answer["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [{"code": "EngineError", "message": "Query execution was throttled on one shard."}],
            }
        return json_response(answer)

    def _admit(self, principal: str) -> int:
        """0 when the principal may query now (the query is counted), else whole seconds to wait."""
        queries, seconds = self.limit
        moment = time.monotonic()
        recent = [t for t in self._recent.get(principal, []) if moment - t < seconds]
        if len(recent) >= queries:
            self._recent[principal] = recent
            return max(1, int(seconds - (moment - recent[0])) + 1)
        self._recent[principal] = [*recent, moment]
        return 0

    def _workspace(self, customer_id: str) -> SimWorkspace | None:
        for destination in self.tenant.destinations:
            if isinstance(destination, SimWorkspace) and destination.customer_id.lower() == customer_id.lower():
                return destination
        return None


def query_needs(workspace_id: str) -> tuple[Need, ...]:
    """What the auditor's query needs on the workspace: the query itself and each audit table it reads."""
    tables = (f"Microsoft.OperationalInsights/workspaces/query/{table}/read" for table in AUDIT_TABLES)
    return tuple(Need(operation, workspace_id) for operation in (QUERY_READ, *tables))


def _rows(tenant: Tenant, workspace: SimWorkspace, since: datetime) -> list[list[str]]:
    newest_by_key: dict[tuple[str, str, str], datetime] = {}
    for entry in newest(tenant, "workspace", workspace.id, datetime.now(UTC)):
        newest_by_key[(entry.cluster.id.lower(), entry.category, entry.table)] = entry.time
    for record in workspace.records:
        key = (record.cluster_id.lower(), record.category.lower(), record.table)
        if key not in newest_by_key or newest_by_key[key] < record.time:
            newest_by_key[key] = record.time
    now = datetime.now(UTC)
    return [
        [cluster, category, moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), table]
        for (cluster, category, table), moment in sorted(newest_by_key.items())
        if moment >= since and now - moment <= timedelta(days=workspace.retention(table)[1])
    ]


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _start(timespan: object, now: datetime) -> datetime | None:
    """The start of an ISO 8601 timespan: a duration back from now, start/end or start/duration."""
    if timespan is None:
        return datetime.min.replace(tzinfo=UTC)
    if not isinstance(timespan, str):
        return None
    first = timespan.split("/", 1)[0]
    duration = _DURATION.match(first)
    if duration:
        days, hours, minutes, seconds = (float(part or 0) for part in duration.groups())
        return now - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    try:
        return datetime.fromisoformat(first.replace("Z", "+00:00"))
    except ValueError:
        return None


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": {"message": message, "code": code}}, status, headers)
