"""ARM routes of the destinations: workspaces and their tables, storage accounts and their lifecycle
policy, Event Hubs rules and partner resources. Read-only: the auditor never writes to them.

Answers as ARM gives them: a missing resource is 404 ResourceNotFound in ARM's wrapped shape, a
subscription that does not exist 404 SubscriptionNotFound, a resource marked `forbidden` 403
AuthorizationFailed (as any operation outside the caller's roles is refused, azsim/access.py). A
storage account without a lifecycle policy answers the policy GET with 404; the code there is not
documented (the REST spec lists only the default error), and the auditor reads any 404 as "no policy".
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from azsim.destinations import AUDIT_TABLES, SimStorageAccount, SimWorkspace
from azsim.principals import SimPrincipal
from azsim.responses import error, json_response, not_allowed, refused
from azsim.tenant import SimSubscription, Tenant

_WORKSPACES = ("microsoft.operationalinsights", "workspaces")
_STORAGE = ("microsoft.storage", "storageaccounts")


def is_destination_path(lower: list[str]) -> bool:
    """A path under a resource group's provider other than AKS: a destination, if the tenant has it."""
    return (
        len(lower) >= 8
        and lower[2] == "resourcegroups"
        and lower[4] == "providers"
        and lower[5] != "microsoft.containerservice"
    )


def answer(
    tenant: Tenant,
    request: web.Request,
    parts: list[str],
    lower: list[str],
    subscription: SimSubscription | None,
    blob_front: str,
    caller: SimPrincipal,
) -> web.Response:
    """Serve a destination GET (`subscription` is None when the tenant does not list it)."""
    if request.method != "GET":
        return not_allowed(request.method)
    base = "/" + "/".join(parts[:8])
    resource = tenant.find_destination(base) if tuple(lower[5:7]) in (_WORKSPACES, _STORAGE) else None
    if resource is None:
        resource = tenant.find_destination("/" + "/".join(parts))
    if resource is None:
        if subscription is None and not holds_destinations(tenant, parts[1]):
            return error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        return _not_found(parts)
    if resource.forbidden or (subscription is not None and subscription.forbidden):
        return refused(request.method, parts, caller)
    rest = lower[8:]
    if isinstance(resource, SimWorkspace):
        return _workspace(resource, parts, rest)
    if isinstance(resource, SimStorageAccount):
        return _storage(resource, parts, rest, blob_front)
    if len(lower) == len(resource.id.strip("/").split("/")):
        return json_response(resource.to_json())
    return _not_found(parts)


def provider_types(tenant: Tenant, namespace: str) -> list[dict[str, Any]]:
    """The resource types a provider lists, with their API versions (those the tenant's resources use)."""
    prefix = namespace.lower() + "/"
    return [
        {"resourceType": kind[len(prefix) :], "locations": ["West Europe"], "apiVersions": list(versions)}
        for kind, versions in tenant.resource_types.items()
        if kind.startswith(prefix)
    ]


def holds_destinations(tenant: Tenant, subscription_id: str) -> bool:
    """Whether a subscription the tenant does not list still holds destinations (a central logging one)."""
    prefix = f"/subscriptions/{subscription_id}/".lower()
    return any(d.id.lower().startswith(prefix) for d in tenant.destinations)


def _workspace(workspace: SimWorkspace, parts: list[str], rest: list[str]) -> web.Response:
    if not rest:
        return json_response(workspace.to_json())
    if len(rest) == 2 and rest[0] == "tables":
        for table in AUDIT_TABLES:
            if table.lower() == rest[1]:
                return json_response(workspace.table_json(table))
        return error(404, "ResourceNotFound", f"The table '{parts[9]}' was not found in workspace {workspace.name}.")
    return _not_found(parts)


def _storage(account: SimStorageAccount, parts: list[str], rest: list[str], blob_front: str) -> web.Response:
    if not rest:
        return json_response(account.to_json(blob_front))
    if rest == ["managementpolicies", "default"]:
        if account.lifecycle_rules is None:
            return error(404, "ManagementPolicyNotFound", f"No ManagementPolicy found for account {account.name}")
        return json_response(account.policy_json())
    return _not_found(parts)


def _not_found(parts: list[str]) -> web.Response:
    return error(
        404,
        "ResourceNotFound",
        f"The Resource '{parts[5]}/{parts[6]}/{parts[7]}' under resource group '{parts[3]}' was not found. For more "
        "details please go to https://aka.ms/ARMResourceNotFoundFix",
    )
