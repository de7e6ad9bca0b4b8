"""The shapes of ARM's answers: JSON bodies, ARM's wrapped errors, microsoft.insights' flat ones, 403 and 405.

ARM's front door wraps errors in `{"error": {...}}`; microsoft.insights answers its own errors
flat, `{"code", "message"}` (the Monitor REST spec's ErrorResponse). A 403 names the caller as
real ones do: "The client '<who>' with object id '<object id>'", where <who> is a user's UPN and
an application's (a managed identity's) object ID (microsoft/azure-tools-for-java issue 3055,
hashicorp/terraform-provider-azurerm pull 19645; CDCgov/prime-reportstream issue 7678).
"""

import json
from typing import Any

from aiohttp import web

from azsim.access import Need, arm_need
from azsim.principals import SimPrincipal


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def flat_error(status: int, code: str, message: str) -> web.Response:
    """An error as microsoft.insights answers it: not wrapped in "error"."""
    return json_response({"code": code, "message": message}, status)


def missing_registration(namespace: str) -> web.Response:
    """ARM's answer when the subscription has not registered the provider of the request."""
    message = (
        f"The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found "
        "for how to register subscriptions."
    )
    detail = {"code": "MissingSubscriptionRegistration", "target": namespace, "message": message}
    return json_response(
        {"error": {"code": "MissingSubscriptionRegistration", "message": message, "details": [detail]}}, 409
    )


def forbidden(action: str, scope: str, caller: SimPrincipal) -> web.Response:
    """ARM's 403 for an operation the caller holds no role for at that scope."""
    return error(
        403,
        "AuthorizationFailed",
        f"The client '{_client(caller)}' with object id '{caller.object_id}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    )


def refused(method: str, parts: list[str], caller: SimPrincipal) -> web.Response:
    """The 403 of a resource or subscription a test marked `forbidden`: as if the caller held no role there."""
    need = arm_need(method, parts) or Need("", "/" + "/".join(parts))
    return forbidden(need.operation, need.scope, caller)


def linked_forbidden(caller: SimPrincipal, action: str, scope: str, linked: str, linked_scope: str) -> web.Response:
    """ARM's 403 when the caller may write a resource but not use one it links to (JimGBritt/AzurePolicy
    issue 17, CDCgov/prime-reportstream issue 7678: the same message for a workspace and an Event Hubs rule)."""
    return error(
        403,
        "LinkedAuthorizationFailed",
        f"The client '{_client(caller)}' with object id '{caller.object_id}' has permission to perform action "
        f"'{action}' on scope '{scope}'; however, it does not have permission to perform action '{linked}' on the "
        f"linked scope(s) '{linked_scope}' or the linked scope(s) are invalid.",
    )


def _client(caller: SimPrincipal) -> str:
    return caller.upn if caller.kind == "user" else caller.object_id


def not_allowed(method: str) -> web.Response:
    return error(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
