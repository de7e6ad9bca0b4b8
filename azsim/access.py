"""Who may do what in the simulated tenant: role assignments, and the operation each request needs.

Azure RBAC as its docs describe it ("Understand scope for Azure RBAC", "Understand Azure role
definitions"): a principal may perform an operation at a scope when some role assigned to it at
that scope or above (`/` is the root of the tenant) permits it; assignments only add.

The operation a request needs follows ARM's naming (`{provider}/{resource type}/{verb}`, "Azure
resource provider operations"): GET reads, PUT and PATCH write, DELETE deletes, a POST to
`.../{name}` performs `{name}/action`; the types are the path's type segments under its last
`providers/{namespace}`, so an extension resource (a cluster's diagnostic settings) needs its own
provider's operation. The scope is the resource's path, or for a list the path without the listed
type: real 403s name `.../providers/Microsoft.Network` for a list of public IP addresses
(Azure/AKS issue 1624) and `/providers/microsoft.insights/eventtypes/management` for the Activity
Log (azure-sdk-for-net Monitor tests). The provider (registration) GETs need
`Microsoft.Resources/subscriptions/providers/read` over the subscription, as real 403s say.

A diagnostic setting's PUT is also checked on what it links to (ARM's "linked access check", 403
LinkedAuthorizationFailed): a workspace needs `workspaces/sharedKeys/action` on it
(JimGBritt/AzurePolicy issue 17; Azure Monitor docs, "Manage access to Log Analytics workspaces":
read and sharedKeys/action "use it as a destination for diagnostic settings"), an Event Hubs rule
`authorizationrules/listkeys/action` on it (CDCgov/prime-reportstream issue 7678). No public
error names the operation checked on a storage account or a partner resource, so those links
are not checked (remediation only ever names a workspace).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azsim.identity import SYSTEM_ASSIGNED_CLIENT_ID
from azsim.roles import (
    AUDITOR_BLOB_READER,
    AUDITOR_LOG_READER,
    AUDITOR_READER,
    AUDITOR_REMEDIATOR,
    AUDITOR_WORKSPACE_LINK,
    Role,
)

AUDITOR = SYSTEM_ASSIGNED_CLIENT_ID  # the auditor's managed identity: what its tokens are issued to
SUBSCRIPTION_READ = "Microsoft.Resources/subscriptions/read"
PROVIDERS_READ = "Microsoft.Resources/subscriptions/providers/read"
_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
_LINKS = {
    "workspaceId": "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
    "eventHubAuthorizationRuleId": "Microsoft.EventHub/namespaces/authorizationrules/listkeys/action",
}


@dataclass(frozen=True)
class Need:
    """One operation a request needs at a scope: a DataAction when `data`, ARM's linked access check when `linked`."""

    operation: str
    scope: str
    data: bool = False
    linked: bool = False


@dataclass(frozen=True)
class Assignment:
    principal: str  # lower case: the object (or client) ID tokens are issued to
    role: Role
    scope: str


class Access:
    """The tenant's role assignments; safe to change from test threads while the server reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assignments: tuple[Assignment, ...] = ()

    def grant(self, principal: str, role: Role, scope: str = "/") -> None:
        with self._lock:
            self._assignments = (*self._assignments, Assignment(principal.lower(), role, scope))

    def revoke(self, principal: str, role: Role | None = None) -> None:
        """Remove the principal's assignments of `role` (every one when None)."""
        with self._lock:
            self._assignments = tuple(
                a
                for a in self._assignments
                if not (a.principal == principal.lower() and (role is None or a.role == role))
            )

    def allows(self, principal: str, need: Need) -> bool:
        return any(
            a.principal == principal.lower()
            and _within(need.scope, a.scope)
            and a.role.permits(need.operation, need.data)
            for a in self._assignments
        )

    def missing(self, principal: str, needs: Iterable[Need]) -> Need | None:
        """The first of `needs` the principal may not perform, None when it may perform all."""
        return next((need for need in needs if not self.allows(principal, need)), None)


def grant_reads(access: Access, principal: str = AUDITOR, scope: str = "/") -> None:
    """What infra/ grants for scanning with delivery checks on: the read, log-read and blob-read roles."""
    for role in (AUDITOR_READER, AUDITOR_LOG_READER, AUDITOR_BLOB_READER):
        access.grant(principal, role, scope)


def grant_remediation(access: Access, workspace_id: str, scope: str = "/", principal: str = AUDITOR) -> None:
    """What infra/ grants for remediation apply: writing settings at `scope`, linking the workspace on it."""
    access.grant(principal, AUDITOR_REMEDIATOR, scope)
    access.grant(principal, AUDITOR_WORKSPACE_LINK, workspace_id)


def arm_need(method: str, parts: list[str]) -> Need | None:
    """The operation an ARM request needs (`parts`: the path's decoded segments); None outside subscriptions
    and for a path with nothing after `providers` (no route answers those)."""
    if not parts or parts[0].lower() != "subscriptions":
        return None
    if len(parts) <= 2:
        return Need(SUBSCRIPTION_READ, "/" + "/".join(parts))
    subscription = "/" + "/".join(parts[:2])
    last = max(i for i, part in enumerate(parts) if i == 0 or part.lower() == "providers")
    if last == len(parts) - 1:
        return Need(PROVIDERS_READ, subscription) if last == 2 else None
    if last:
        namespace, segments = parts[last + 1], parts[last + 2 :]
        types = segments[::2]
    else:
        namespace, segments = "Microsoft.Resources", parts[2:]
        types = ["subscriptions", *segments[::2]]
    if method == "POST" and len(segments) % 2 == 1:
        operation = "/".join([namespace, *types[:-1], segments[-1], "action"])
    else:
        operation = "/".join([namespace, *types, _VERBS.get(method, "read")])
    if last == 2 and not segments:  # the provider itself: its registration
        return Need(PROVIDERS_READ, subscription)
    if last == 2 and method == "POST" and len(segments) == 1:  # a provider's action (register)
        return Need(operation, subscription)
    listed = len(segments) % 2 == 1
    return Need(operation, "/" + "/".join(parts[:-1] if listed else parts))


def linked_needs(need: Need, body: Any) -> list[Need]:
    """What ARM's linked access check asks of a diagnostic setting's PUT body, beside the write itself."""
    if not need.operation.lower().endswith("/diagnosticsettings/write") or not isinstance(body, Mapping):
        return []
    properties = body.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [
        Need(operation, target, linked=True)
        for field, operation in _LINKS.items()
        if isinstance(target := properties.get(field), str) and target.strip()
    ]


def _within(scope: str, assigned: str) -> bool:
    """Whether an assignment at `assigned` reaches `scope` (itself or anything below it)."""
    parent = assigned.rstrip("/").lower()
    child = scope.rstrip("/").lower()
    return not parent or child == parent or child.startswith(parent + "/")
