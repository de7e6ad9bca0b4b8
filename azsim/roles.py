"""Azure role definitions as the simulation enforces them.

The auditor's custom roles are read from infra/roles/, the very files the deployment creates
them from (infra/modules/custom-roles.bicep loads them with loadJsonContent), so the suite runs
under what is deployed. The built-in roles the deployment falls back to (`useBuiltInRoles`) are
faithful copies in azsim/builtin_roles.json, as the Azure RBAC docs print them ("Azure built-in
roles", MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles/general.md,
monitor.md (2026-02-23), analytics.md and storage.md).

Matching follows "Understand Azure role definitions" (Azure RBAC docs): an operation is
`{provider}/{resource type}/{read|write|delete|action}`; `*` in Actions stands for any characters
(Reader's `*/read`, Monitoring Contributor's `Microsoft.Insights/DiagnosticSettings/*`);
NotActions take operations out of the same role's Actions and deny nothing another role grants;
Actions and DataActions are apart. Operations compare case-insensitively: the built-in roles mix
cases (`Microsoft.Insights/DiagnosticSettings/*` is what grants `diagnosticSettings/write`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CUSTOM_ROLES = Path(__file__).resolve().parents[1] / "infra" / "roles"
_BUILT_IN = Path(__file__).with_name("builtin_roles.json")


@dataclass(frozen=True)
class Role:
    """A role definition's permissions (ARM's `permissions[0]`; every role here has one block)."""

    name: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    id: str = ""  # the definition's GUID (built-in roles); custom ones get theirs at deployment

    @classmethod
    def from_json(cls, definition: Mapping[str, Any]) -> Role:
        """From ARM's shape: `roleName` and `permissions` (a custom role file, a built-in role as printed)."""
        (block,) = definition["permissions"]
        return cls(
            definition["roleName"],
            tuple(block.get("actions", ())),
            tuple(block.get("notActions", ())),
            tuple(block.get("dataActions", ())),
            tuple(block.get("notDataActions", ())),
            definition.get("name", ""),
        )

    def permits(self, operation: str, data: bool = False) -> bool:
        granted, withheld = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return any(_pattern(p).fullmatch(operation) for p in granted) and not any(
            _pattern(p).fullmatch(operation) for p in withheld
        )


@functools.cache
def _pattern(operation: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in operation.split("*")), re.IGNORECASE)


def custom(name: str) -> Role:
    """One of the auditor's roles, by file name under infra/roles/ (without .json)."""
    return Role.from_json(json.loads((CUSTOM_ROLES / f"{name}.json").read_text()))


def _built_in() -> dict[str, Role]:
    return {role.name: role for role in map(Role.from_json, json.loads(_BUILT_IN.read_text()))}


AUDITOR_READER = custom("auditor-reader")
AUDITOR_LOG_READER = custom("auditor-log-reader")
AUDITOR_BLOB_READER = custom("auditor-blob-reader")
AUDITOR_REMEDIATOR = custom("auditor-remediator")
AUDITOR_WORKSPACE_LINK = custom("auditor-workspace-link")
AUDITOR_ROLES = (AUDITOR_READER, AUDITOR_LOG_READER, AUDITOR_BLOB_READER, AUDITOR_REMEDIATOR, AUDITOR_WORKSPACE_LINK)

BUILT_IN = _built_in()
READER = BUILT_IN["Reader"]
MONITORING_CONTRIBUTOR = BUILT_IN["Monitoring Contributor"]
LOG_ANALYTICS_READER = BUILT_IN["Log Analytics Reader"]
LOG_ANALYTICS_CONTRIBUTOR = BUILT_IN["Log Analytics Contributor"]
STORAGE_BLOB_DATA_READER = BUILT_IN["Storage Blob Data Reader"]
