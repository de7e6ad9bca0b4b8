"""The App Service managed-identity protocol (IDENTITY_ENDPOINT / IDENTITY_HEADER) and the tokens it hands out.

azure-identity (1.27, `AppServiceCredential` -> `ManagedIdentityClientBase._process_response`) sends
`GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<scope minus /.default>[&client_id=...]` with header
`X-IDENTITY-HEADER` and needs `access_token`, `expires_on` (epoch seconds, a string is fine) and `resource`
(the key of its token cache) in the answer. DefaultAzureCredential reaches it with only those two variables
set: EnvironmentCredential and WorkloadIdentityCredential stay unavailable and are skipped, and App Service
managed identity needs no IMDS probe, so no AZURE_TOKEN_CREDENTIALS or exclude_* flag is needed.

Tokens are shaped like Entra ID's access tokens, a JWT with `aud`, `iss`, `iat`, `nbf`, `exp`, `oid`
and `appid` claims, because Azurite's OAuth mode (the storage accounts' blob service) decodes them
and checks issuer, audience and lifetime (Azurite 3.x, BlobTokenAuthenticator). The signature is
random bytes: Azurite does not verify it, and the simulation's own front doors look the token up
in the issuer's registry instead.
"""

import base64
import json
import secrets
import time
import uuid
from typing import Any

API_VERSION = "2019-08-01"
SYSTEM_ASSIGNED_CLIENT_ID = "7c9a2f0e-3b1d-4e5f-8a6b-0c1d2e3f4a5b"


class TokenIssuer:
    """Issues opaque bearer tokens and tells the ARM front door whether one is valid for it."""

    def __init__(self, lifetime: float, tenant_id: str = "") -> None:
        self.lifetime = lifetime
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.header_secret = secrets.token_urlsafe(24)
        # token -> (expires_on epoch, normalised resource, the principal it was issued to)
        self._tokens: dict[str, tuple[float, str, str]] = {}

    def issue(self, resource: str, principal: str = SYSTEM_ASSIGNED_CLIENT_ID) -> tuple[str, int]:
        moment = time.time()
        now = int(moment)
        expires_on = int(moment + self.lifetime)  # from the full-precision time, as a 1-second token needs
        claims = {
            "aud": resource.rstrip("/") if resource.rstrip("/").startswith("https://") else resource,
            # Entra ID's v1 issuer: a claim, never a URL anything here connects to.
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now - 300,
            "exp": expires_on,
            "oid": principal,
            "appid": principal,
            "tid": self.tenant_id,
            "jti": secrets.token_urlsafe(12),
        }
        token = ".".join((_segment({"typ": "JWT", "alg": "RS256"}), _segment(claims), _b64(secrets.token_bytes(64))))
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())
