"""The remediation executor: carries out a plan with the v2021_05_01_preview client.

`dry-run` records the plan and writes nothing. `apply` writes the one setting the plan names
(rewriting an existing setting only to enable categories: the JSON read from ARM is
changed in its `logs` and nothing else), then reads the cluster's settings back and judges
them again; the finding says `applied` only when the categories are really exported now.
ARM is eventually consistent, so a read-back that does not show the write yet (or a 404 on
the setting just written) is repeated a few times, READBACK_DELAYS apart, before the write is
called failed.

With state (a RemediationLedger), each verified fix is recorded, and a cluster whose fix was
undone within the cool-down is `held-back` instead of written again (auditor/cooldown.py);
dry-run reads the ledger to show that refusal and records nothing. A ledger that cannot be
read stops the write: without it the auditor cannot tell whether it would fight an owner.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings

from auditor import remediation, rule
from auditor.arm_rules import CategoryGroups
from auditor.azure.connection import ArmConnection
from auditor.azure.diagnostics import read_settings
from auditor.azure.errors import describe
from auditor.azure.state import RemediationLedger
from auditor.cooldown import FixHistory, after_fix, held_back_reason, undone_within
from auditor.model import (
    Cluster,
    DiagnosticSetting,
    Finding,
    Remediation,
    RemediationAction,
    RemediationMode,
    RemediationResult,
)
from auditor.remediation import DESTINATION_TYPE, Plan, Target
from auditor.resource_id import resource_uri
from auditor.settings import Settings

READBACK_DELAYS = (0.5, 1.0, 2.0)  # seconds before each further read-back of a write ARM does not show yet


def enable(logs: list[dict[str, Any]], categories: Sequence[str]) -> list[dict[str, Any]]:
    """Turn each category on: flip its entry's `enabled` (nothing else in it), or add an entry."""
    updated = [dict(entry) for entry in logs]
    for category in categories:
        entry = next((e for e in updated if str(e.get("category") or "").lower() == category), None)
        if entry is None:
            updated.append({"category": category, "enabled": True})
        else:
            entry["enabled"] = True
    return updated


class Remediator:
    """Plans each failing cluster's fix and, in `apply`, writes it and proves it took."""

    def __init__(
        self, settings: Settings, connection: ArmConnection, today: date, ledger: RemediationLedger | None = None
    ) -> None:
        config = settings.remediation
        self._ledger = ledger
        self._cooldown_hours = config.cooldown_hours
        self._mode = config.mode
        self._target = Target(
            config.workspace_id, config.setting_name, frozenset(config.subscriptions), config.edit_existing
        )
        self._settings = settings
        self._connection = connection
        self._policy = settings.policy()
        self._today = today

    async def remediate(
        self,
        cluster: Cluster,
        finding: Finding,
        settings: Sequence[DiagnosticSetting],
        groups: CategoryGroups | None,
    ) -> Finding:
        """The finding with its `remediation` record (unchanged when there is nothing to remediate)."""
        planned = remediation.plan(cluster, finding, settings, groups, self._target)
        if planned is None:
            return finding
        if planned.result is not RemediationResult.PLANNED:
            return replace(finding, remediation=planned.record(self._mode))
        try:
            undone = await self._undone(cluster)
        except Exception as exc:
            reason = (
                f"the remediation history could not be read ({describe(exc, self._settings.http_timeout_seconds)}), "
                "so the auditor cannot tell whether it would fight the setting's owner: not written"
            )
            return replace(finding, remediation=planned.record(self._mode, RemediationResult.FAILED, reason))
        if undone is not None:
            reason = held_back_reason(undone, self._cooldown_hours)
            return replace(finding, remediation=planned.record(self._mode, RemediationResult.HELD_BACK, reason))
        if self._mode is RemediationMode.DRY_RUN:
            return replace(finding, remediation=planned.record(self._mode))
        try:
            await self._write(cluster, planned)
        except Exception as exc:
            reason = describe(exc, self._settings.http_timeout_seconds)
            return replace(finding, remediation=planned.record(self._mode, RemediationResult.FAILED, reason))
        verified = await self._verify(cluster, planned, groups)
        if verified.fixed:
            verified = await self._remember(cluster, verified)
        return replace(finding, remediation=verified)

    async def _undone(self, cluster: Cluster) -> FixHistory | None:
        """The cluster's history with this undo counted, when its last fix was undone within the
        cool-down (recorded in apply; only read in dry-run); None when a write may go ahead."""
        if self._ledger is None or self._cooldown_hours <= 0:
            return None
        now = _now()
        if self._mode is RemediationMode.DRY_RUN:
            return undone_within(await self._ledger.get(cluster.resource_id), now, self._cooldown_hours)

        def count(history: FixHistory | None) -> tuple[FixHistory | None, FixHistory | None]:
            undone = undone_within(history, now, self._cooldown_hours)
            return undone, undone

        _, undone = await self._ledger.update(cluster.resource_id, count)
        return undone

    async def _remember(self, cluster: Cluster, fixed: Remediation) -> Remediation:
        """Record a verified fix for the cool-down; the fix stands even when the record fails."""
        if self._ledger is None:
            return fixed
        now = _now()

        def record(history: FixHistory | None) -> tuple[FixHistory, None]:
            return after_fix(history, fixed.setting, now), None

        try:
            await self._ledger.update(cluster.resource_id, record)
        except Exception as exc:
            reason = (
                f"applied, but not recorded for the cool-down ({describe(exc, self._settings.http_timeout_seconds)}): "
                "an owner undoing it will not be noticed as one"
            )
            return replace(fixed, reason=reason)
        return fixed

    async def _write(self, cluster: Cluster, planned: Plan) -> None:
        operations = self._connection.monitor().diagnostic_settings
        uri = resource_uri(cluster.resource_id)
        if planned.action is RemediationAction.CREATE:
            body: Any = DiagnosticSettingsResource(
                workspace_id=self._target.workspace_id,
                logs=[LogSettings(category=category, enabled=True) for category in planned.categories],
                log_analytics_destination_type=DESTINATION_TYPE,
            )
        else:
            # The setting as ARM holds it, as raw JSON: a round trip through the SDK model would drop
            # what the model does not know (and nulls), and the rule is to change nothing but `logs`.
            raw: Any = await operations.get(uri, planned.setting, cls=lambda response, _model, _headers: response)
            properties = json.loads(raw.http_response.text())["properties"]
            properties["logs"] = enable(properties.get("logs") or [], planned.categories)
            body = json.dumps({"properties": properties}).encode()  # bytes: the SDK sends them as they are
        await operations.create_or_update(uri, planned.setting, body)

    async def _verify(self, cluster: Cluster, planned: Plan, groups: CategoryGroups | None) -> Remediation:
        still: list[str] = []
        for delay in (0.0, *READBACK_DELAYS):
            await asyncio.sleep(delay)
            try:
                after = await read_settings(self._connection, cluster.resource_id)
            except ResourceNotFoundError:
                continue  # a read right after a write can answer 404: read again
            except Exception as exc:
                reason = f"written, but not read back: {describe(exc, self._settings.http_timeout_seconds)}"
                return planned.record(self._mode, RemediationResult.FAILED, reason)
            judged = rule.evaluate(cluster, after, groups, self._policy, self._today)
            still = [category for category in planned.categories if category in judged.missing_categories]
            if not still:
                return planned.record(self._mode, RemediationResult.APPLIED, "")
        missing = ", ".join(still) if still else ", ".join(planned.categories)
        reason = f"written, but read back {1 + len(READBACK_DELAYS)} times without {missing}"
        return planned.record(self._mode, RemediationResult.FAILED, reason)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # what a table keeps, so read-back compares equal
