"""Whether audit records really arrive: one Log Analytics query per workspace, blob listings per storage.

A workspace is asked once per scan, for every cluster that sends there at once: the newest
record per cluster and category in the resource-specific tables (AKSAudit, AKSAuditAdmin,
AKSControlPlane) and in AzureDiagnostics (settings without `Dedicated`), through
azure-monitor-query's async LogsQueryClient on the scan's credential and pooled session. The
query API's POST only reads: the read-only guard lets exactly that path through. A storage
account is listed per cluster and category, day by day over the lookback, under the prefix
resource logs land in (destinations.blob_prefix), the records' hour read from each blob's path;
that needs the blob data action `containers/blobs/read` (infra/roles/auditor-blob-reader.json).

A query or listing that cannot run leaves delivery unverified (never a guess), saying why.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.monitor.query import LogsQueryPartialResult
from azure.monitor.query.aio import LogsQueryClient
from azure.storage.blob.aio import BlobServiceClient

from auditor.azure import transport
from auditor.azure.connection import ArmConnection, ReadOnlyPolicy
from auditor.azure.egress import HostPinPolicy, Origin, origin_allowed
from auditor.azure.errors import describe
from auditor.azure.paging import guarded_items
from auditor.destinations import Records, blob_prefix, newest_records
from auditor.settings import Settings

STORAGE_AUDIENCE = "https://storage.azure.com"
_QUERY_PATH = re.compile(r"/v1/workspaces/[^/]+/query")
# One query per workspace: the newest record of every cluster and category it holds. `isfuzzy`
# lets the union run in a workspace that never received one of the tables.
QUERY = """union withsource=SourceTable isfuzzy=true
    (AKSAudit | summarize Last = max(TimeGenerated) by ResourceId = tolower(_ResourceId) | extend Category = "kube-audit"),
    (AKSAuditAdmin | summarize Last = max(TimeGenerated) by ResourceId = tolower(_ResourceId) | extend Category = "kube-audit-admin"),
    (AKSControlPlane | summarize Last = max(TimeGenerated) by ResourceId = tolower(_ResourceId), Category = tolower(Category)),
    (AzureDiagnostics | where ResourceProvider == "MICROSOFT.CONTAINERSERVICE" | summarize Last = max(TimeGenerated) by ResourceId = tolower(ResourceId), Category = tolower(Category))
| project ResourceId, Category, Last, SourceTable"""  # noqa: E501 (KQL reads best one table per line)


class DeliveryReader:
    """Records of one scan: each workspace queried once; blob listings bounded like every other call."""

    def __init__(self, settings: Settings, connection: ArmConnection) -> None:
        self._connection = connection
        self._lookback = timedelta(hours=settings.delivery_lookback_hours)
        self._since = datetime.now(UTC) - self._lookback
        self._timeout = settings.http_timeout_seconds
        self._options: dict[str, Any] = {
            "retry_total": transport.RETRIES,
            "retry_backoff_factor": transport.BACKOFF_FACTOR,
        }
        self._blob_hosts = settings.blob_hosts or settings.cloud.blob_hosts
        logs = connection.egress("Log Analytics", settings.logs_endpoint)
        self._logs = connection.own(
            LogsQueryClient(
                connection.credential,
                endpoint=settings.logs_endpoint,
                transport=connection.guarded(logs),
                per_call_policies=[HostPinPolicy(logs)],
                per_retry_policies=[ReadOnlyPolicy(reading_posts=_QUERY_PATH)],
                **self._options,
            )
        )
        self._queries: dict[str, asyncio.Task[Records]] = {}
        self._blob_clients: dict[str, BlobServiceClient] = {}

    def workspace(self, customer_id: str) -> asyncio.Task[Records]:
        """The workspace's records, from one query shared by every cluster that sends there."""
        key = customer_id.lower()
        if key not in self._queries:
            self._queries[key] = asyncio.ensure_future(self._query(customer_id))
        return self._queries[key]

    async def _query(self, customer_id: str) -> Records:
        try:
            answer = await self._logs.query_workspace(customer_id, QUERY, timespan=self._lookback)
        except Exception as exc:
            return Records(self._since, failure=f"the query could not run ({describe(exc, self._timeout)})")
        partial = ""
        if isinstance(answer, LogsQueryPartialResult):
            partial = str(getattr(answer.partial_error, "message", "") or "partial error")
            tables = answer.partial_data
        else:
            tables = answer.tables
        rows = []
        for table in tables:
            columns = {name: index for index, name in enumerate(table.columns)}
            if not {"ResourceId", "Category", "Last"} <= columns.keys():
                return Records(self._since, failure="the query answered without the columns it asks for")
            for row in table.rows:
                values = list(row)
                if len(values) != len(table.columns):
                    return Records(self._since, failure="the query answered rows that do not match its columns")
                moment = values[columns["Last"]]
                if isinstance(moment, datetime):
                    rows.append((str(values[columns["ResourceId"]]), str(values[columns["Category"]]), moment))
        return Records(self._since, newest_records(rows), partial=partial)

    async def blobs(self, endpoint: str, cluster_id: str, categories: list[str]) -> Records:
        """Whether each category of the cluster has a blob newer than the lookback's start, the categories
        listed side by side: each lists its days newest first and stops at the first day that has one (one
        listing per category when healthy)."""
        if not origin_allowed(endpoint, self._blob_hosts):
            allowed = ", ".join(self._blob_hosts)
            reason = (
                f"ARM reports its blob endpoint at {Origin.of(endpoint) or 'an unreadable address'}, outside "
                f"AUDITOR_BLOB_ENDPOINT_HOSTS ({allowed}); not asked, so the storage token stays home"
            )
            return Records(self._since, failure=reason)
        client = self._blob_clients.get(endpoint)
        if client is None:
            client = self._connection.own(self._blob_client(endpoint))
            self._blob_clients[endpoint] = client
        try:
            found = await asyncio.gather(*(self._newest_blob(client, cluster_id, c) for c in categories))
        except HttpResponseError as exc:
            if exc.status_code == 403:
                reason = (
                    "the identity may not list its blobs (403); name the account in "
                    "AUDITOR_VERIFIED_STORAGE_ACCOUNT_IDS (the auditor's blob read role, with delivery checks on) or "
                    "grant it Storage Blob Data Reader"
                )
                return Records(self._since, failure=reason, denied=True)
            return Records(self._since, failure=describe(exc, self._timeout))
        except Exception as exc:
            return Records(self._since, failure=describe(exc, self._timeout))
        return Records(self._since, newest_records([row for rows in found for row in rows]))

    def _blob_client(self, endpoint: str) -> BlobServiceClient:
        """A client for one account's blob endpoint, pinned to it. The Storage SDK follows redirects
        and may switch to a secondary host: neither is wanted, so redirects are off and the pin refuses
        anything but this endpoint."""
        egress = self._connection.egress("the storage account's blob endpoint", endpoint)
        return BlobServiceClient(
            endpoint,
            self._connection.credential,
            transport=self._connection.guarded(egress),
            per_retry_policies=[ReadOnlyPolicy()],
            permit_redirects=False,
            audience=STORAGE_AUDIENCE,
            **self._options,
        )

    async def _newest_blob(
        self, client: BlobServiceClient, cluster_id: str, category: str
    ) -> list[tuple[str, str, datetime]]:
        container = client.get_container_client(f"insights-logs-{category}")
        for day in reversed(_days(self._since, datetime.now(UTC))):
            prefix = blob_prefix(cluster_id, category).split("/", 1)[1] + day
            rows = []
            try:
                async for blob in guarded_items(container.list_blobs(name_starts_with=prefix), "the blob listing"):
                    moment = _records_until(blob.name, blob.last_modified)
                    if moment is not None and moment >= self._since:
                        rows.append((cluster_id, category, moment))
            except ResourceNotFoundError:  # no such container: nothing ever arrived
                return []
            if rows:
                return rows
        return []


_HOUR = re.compile(r"/y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/m=\d{2}/PT1H\.json$")


def _records_until(name: str, last_modified: datetime | None) -> datetime | None:
    """How recent a PT1H.json blob's records are: the end of the hour its path names (a blob holds one hour
    of records), or its last modification when the path is not in that form."""
    hour = _HOUR.search(name)
    if hour is None:
        return last_modified
    year, month, day, at = (int(part) for part in hour.groups())
    return datetime(year, month, day, at, tzinfo=UTC) + timedelta(hours=1)


def _days(since: datetime, until: datetime) -> list[str]:
    """The `y=YYYY/m=MM/d=DD/` path parts of every UTC day from `since` to `until`."""
    days = []
    day = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= until:
        days.append(f"y={day:%Y}/m={day:%m}/d={day:%d}/")
        day += timedelta(days=1)
    return days
