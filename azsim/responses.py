"""The shapes of ARM's answers: JSON bodies, ARM's wrapped errors, microsoft.insights' flat ones, 403 and 405.

ARM's front door wraps errors in `{"error": {...}}`; microsoft.insights answers its own errors
flat, `{"code", "message"}` (the Monitor REST spec's ErrorResponse).
"""

import json
from typing import Any

from aiohttp import web

# The object ID a 403 names: the simulation does not say which principal asked.
_PRINCIPAL = "5f1c8a0e-2b7d-4c3e-9a6f-8d0b1e2c3f4a"


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


def forbidden(action: str, scope: str) -> web.Response:
    principal = _PRINCIPAL
    return error(
        403,
        "AuthorizationFailed",
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    )


def not_allowed(method: str) -> web.Response:
    return error(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
