"""The App Service managed-identity protocol (IDENTITY_ENDPOINT / IDENTITY_HEADER) and the tokens it hands out.

azure-identity (1.27, `AppServiceCredential` -> `ManagedIdentityClientBase._process_response`) sends
`GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<scope minus /.default>[&client_id=...]` with header
`X-IDENTITY-HEADER` and needs `access_token`, `expires_on` (epoch seconds, a string is fine) and `resource`
(the key of its token cache) in the answer. DefaultAzureCredential reaches it with only those two variables
set: EnvironmentCredential and WorkloadIdentityCredential stay unavailable and are skipped, and App Service
managed identity needs no IMDS probe, so no AZURE_TOKEN_CREDENTIALS or exclude_* flag is needed.
"""

import secrets
import time
from typing import Any

API_VERSION = "2019-08-01"
SYSTEM_ASSIGNED_CLIENT_ID = "7c9a2f0e-3b1d-4e5f-8a6b-0c1d2e3f4a5b"


class TokenIssuer:
    """Issues opaque bearer tokens and tells the ARM front door whether one is valid for it."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.header_secret = secrets.token_urlsafe(24)
        # token -> (expires_on epoch, normalised resource, the principal it was issued to)
        self._tokens: dict[str, tuple[float, str, str]] = {}

    def issue(self, resource: str, principal: str = SYSTEM_ASSIGNED_CLIENT_ID) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        expires_on = int(time.time() + self.lifetime)
        self._tokens[token] = (expires_on, _audience(resource), principal)
        return token, expires_on

    def principal(self, token: str) -> str:
        """Who a (valid) token was issued to: ARM throttles per principal."""
        issued = self._tokens.get(token)
        return issued[2] if issued is not None else ""

    def problem(self, token: str, audience: str) -> tuple[str, str] | None:
        """None when `token` is good for `audience`, else ARM's (error code, message)."""
        issued = self._tokens.get(token)
        if issued is None:
            return "InvalidAuthenticationToken", "The access token is invalid."
        expires_on, resource, _ = issued
        if time.time() >= expires_on:
            return "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."
        if resource != _audience(audience):
            return (
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{resource}'. "
                f"It should exactly match with one of the allowed audiences '{audience}'.",
            )
        return None

    def answer(self, query: Any, header_secret: str | None) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one token request, as App Service's endpoint gives them."""
        if header_secret is None:
            return 400, {"statusCode": 400, "message": "The X-IDENTITY-HEADER header is required."}
        if not secrets.compare_digest(header_secret, self.header_secret):
            return 401, {"statusCode": 401, "message": "The X-IDENTITY-HEADER header is not valid."}
        if query.get("api-version") != API_VERSION:
            return 400, {"statusCode": 400, "message": f"api-version must be {API_VERSION}."}
        resource = query.get("resource")
        if not resource:
            return 400, {"statusCode": 400, "message": "The resource parameter is required."}
        client_id = query.get("client_id") or SYSTEM_ASSIGNED_CLIENT_ID
        token, expires_on = self.issue(resource, client_id)
        return 200, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }


def _audience(resource: str) -> str:
    return resource.rstrip("/").lower()
