"""Reading a cluster's diagnostic settings and the category -> group map of its type."""

from __future__ import annotations

import asyncio
from typing import Any

from auditor.azure.connection import ArmConnection
from auditor.azure.pages import text
from auditor.model import DiagnosticSetting, LogEntry
from auditor.rule import CategoryGroups


async def read_settings(connection: ArmConnection, resource_id: str) -> list[DiagnosticSetting]:
    """One `diagnosticSettings` list call for the cluster, through the v2021_05_01_preview client."""
    pager = connection.monitor().diagnostic_settings.list(resource_id.strip("/"))
    return [setting_from_sdk(item) async for item in pager]


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
    )


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
        pager = connection.monitor().diagnostic_settings_category.list(resource_id.lstrip("/"))
        groups: dict[str, frozenset[str]] = {}
        async for category in pager:
            if str(category.category_type or "").lower() == "logs" and category.name:
                groups[category.name.lower()] = frozenset(g.lower() for g in category.category_groups or [])
        return groups
