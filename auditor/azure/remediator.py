"""The remediation executor (CONTRACT §7): carries out a plan with the v2021_05_01_preview client.

`dry-run` records the plan and writes nothing. `apply` writes the one setting the plan names
(rewriting an existing setting only to enable categories: the SDK model read from ARM is
changed in its `logs` and nothing else), then reads the cluster's settings back and judges
them again; the finding says `applied` only when the categories are really exported now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings

from auditor import remediation, rule
from auditor.azure.connection import ArmConnection
from auditor.azure.diagnostics import read_settings
from auditor.azure.errors import describe
from auditor.model import Cluster, DiagnosticSetting, Finding
from auditor.remediation import Action, Mode, Plan, Result, Target
from auditor.rule import CategoryGroups
from auditor.settings import Settings

DESTINATION_TYPE = "Dedicated"  # resource-specific tables AKSAudit / AKSAuditAdmin


class Remediator:
    def __init__(self, settings: Settings, connection: ArmConnection, today: date) -> None:
        config = settings.remediation
        self._mode = Mode(config.mode)
        self._target = Target(config.workspace_id, config.setting_name, frozenset(config.subscriptions))
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
        if planned.result is not Result.PLANNED or self._mode is Mode.DRY_RUN:
            return replace(finding, remediation=planned.to_json(self._mode))
        try:
            await self._write(cluster, planned)
        except Exception as exc:
            reason = describe(exc, self._settings.http_timeout_seconds)
            return replace(finding, remediation=planned.to_json(self._mode, Result.FAILED, reason))
        return replace(finding, remediation=await self._verify(cluster, planned, groups))

    async def _write(self, cluster: Cluster, planned: Plan) -> None:
        operations = self._connection.monitor().diagnostic_settings
        uri = cluster.resource_id.strip("/")
        if planned.action is Action.CREATE:
            resource = DiagnosticSettingsResource(
                workspace_id=self._target.workspace_id,
                logs=[LogSettings(category=category, enabled=True) for category in planned.categories],
                log_analytics_destination_type=DESTINATION_TYPE,
            )
        else:
            resource = await operations.get(uri, planned.setting)
            logs = list(resource.logs or [])
            for category in planned.categories:
                entry = next((e for e in logs if e.category and e.category.lower() == category), None)
                if entry is None:
                    logs.append(LogSettings(category=category, enabled=True))
                else:
                    entry.enabled = True
            resource.logs = logs
        await operations.create_or_update(uri, planned.setting, resource)

    async def _verify(self, cluster: Cluster, planned: Plan, groups: CategoryGroups | None) -> dict[str, object]:
        try:
            after = await read_settings(self._connection, cluster.resource_id)
        except Exception as exc:
            reason = f"written, but not read back: {describe(exc, self._settings.http_timeout_seconds)}"
            return planned.to_json(self._mode, Result.FAILED, reason)
        judged = rule.evaluate(cluster, after, groups, self._policy, self._today)
        still = [category for category in planned.categories if category in judged.missing_categories]
        if still:
            return planned.to_json(self._mode, Result.FAILED, f"written, but read back without {', '.join(still)}")
        return planned.to_json(self._mode, Result.APPLIED, "")
