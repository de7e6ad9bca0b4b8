"""Reading a cluster's diagnostic settings and the category -> group map of its type.

The Monitor SDK puts its `resourceUri` argument into the URL unquoted, so the ID goes in
percent-encoded (resource_id.resource_uri): a resource group such as `rg-münchen` reaches ARM
as `rg-m%C3%BCnchen`. A subscription that has not registered microsoft.insights answers 409
`MissingSubscriptionRegistration`: no diagnostic setting can exist there, which is a fact
about the cluster (it exports nothing), not a failure to read it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import HttpResponseError

from auditor.azure.connection import ArmConnection
from auditor.azure.errors import error_code
from auditor.azure.inventory import MISSING_REGISTRATION, ProviderNotRegistered
from auditor.azure.listing import text
from auditor.model import DiagnosticSetting, LogEntry
from auditor.resource_id import resource_uri
from auditor.rule import CategoryGroups

INSIGHTS = "Microsoft.Insights"


async def read_settings(connection: ArmConnection, resource_id: str) -> list[DiagnosticSetting]:
    """One `diagnosticSettings` list call for the cluster, through the v2021_05_01_preview client.

    Raises ProviderNotRegistered when the subscription has not registered microsoft.insights."""
    pager = connection.monitor().diagnostic_settings.list(resource_uri(resource_id))
    try:
        return [setting_from_sdk(item) async for item in pager]
    except HttpResponseError as exc:
        if exc.status_code == 409 and error_code(exc) == MISSING_REGISTRATION:
            subscription = resource_id.strip().split("/")[2].lower()
            raise ProviderNotRegistered(subscription, INSIGHTS, f"409 {MISSING_REGISTRATION}") from exc
        raise


def setting_from_sdk(resource: Any) -> DiagnosticSetting:
    """Translate the SDK model (`workspace_id` is "" when the REST API says none); odd JSON is read
    defensively: a null log entry is skipped, a non-string field counts as absent."""
    return DiagnosticSetting(
        name=text(resource.name),
        logs=tuple(
            LogEntry(
                category=text(entry.category) or None,
                category_group=text(entry.category_group) or None,
                enabled=entry.enabled is True,
            )
            for entry in resource.logs or ()
            if entry is not None
        ),
        workspace_id=text(resource.workspace_id),
        storage_account_id=text(resource.storage_account_id),
        event_hub_authorization_rule_id=text(resource.event_hub_authorization_rule_id),
        event_hub_name=text(resource.event_hub_name),
        marketplace_partner_id=text(resource.marketplace_partner_id),
        dedicated=text(resource.log_analytics_destination_type).lower() == "dedicated",
        created_at=_created_at(resource),
    )


def _created_at(resource: Any) -> datetime | None:
    """systemData.createdAt (the SDK parses it to a datetime); None when ARM does not say."""
    created = getattr(getattr(resource, "system_data", None), "created_at", None)
    if not isinstance(created, datetime):
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


class CategoryGroupCache:
    """Category groups of the managed-cluster type, read at most once per scan.

    Concurrent callers share one request. A failure is remembered for the rest of the scan
    too: retrying it for every cluster that uses a group would serialise the whole scan
    behind a broken endpoint; those clusters become `error` and the next scan tries again.
    """

    def __init__(self) -> None:
        self._groups: CategoryGroups | None = None
        self._failure: BaseException | None = None
        self._lock = asyncio.Lock()

    async def get(self, connection: ArmConnection, resource_id: str) -> CategoryGroups:
        async with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._groups is None:
                try:
                    self._groups = await self._read(connection, resource_id)
                except Exception as exc:
                    self._failure = exc
                    raise
            return self._groups

    @staticmethod
    async def _read(connection: ArmConnection, resource_id: str) -> CategoryGroups:
        pager = connection.monitor().diagnostic_settings_category.list(resource_uri(resource_id))
        groups: dict[str, frozenset[str]] = {}
        async for category in pager:
            if str(category.category_type or "").lower() == "logs" and category.name:
                groups[category.name.lower()] = frozenset(g.lower() for g in category.category_groups or [])
        return groups
