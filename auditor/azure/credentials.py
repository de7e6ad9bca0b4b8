"""The one way the auditor gets Azure credentials: DefaultAzureCredential, bounded and failing fast.

azure-identity retries a failing managed-identity endpoint ten times with backoff up to two
minutes per token request; a scan asks for tokens from many concurrent calls, so one broken
endpoint would hold every cluster for minutes. Retries are bounded like every ARM call, and
a failure is remembered for a short while so the next callers get it at once (each cluster
still becomes an `error` that says why).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from auditor.azure import transport
from auditor.azure.egress import Egress, GuardedTransport
from auditor.settings import Settings

_HOLD_FAILURE = 30.0  # seconds a failed token request is answered from memory
IMDS_ENDPOINT = "http://169.254.169.254"  # Azure docs, "Azure Instance Metadata Service"
TOKEN_MAX_BODY = 64 * 1024  # a token answer is a few KB; a sign-in's OpenID metadata is under this too


class TokenUnavailable(ClientAuthenticationError):
    """No token could be had: a credential problem, not an answer from ARM (azure-identity's own
    errors carry the identity endpoint's HTTP status, which would read like ARM's)."""


class FailFastCredential:
    """Wraps a credential: serialises token requests and remembers a failure for a while. Closes the
    session its transport sends on (after the credential)."""

    def __init__(self, inner: Any, session: aiohttp.ClientSession, hold_failure: float = _HOLD_FAILURE) -> None:
        self._inner = inner
        self._session = session
        self._hold = hold_failure
        self._lock = asyncio.Lock()
        self._failure: TokenUnavailable | None = None
        self._failed_at = 0.0

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        async with self._lock:
            if self._failure is not None and time.monotonic() - self._failed_at < self._hold:
                raise self._failure
            try:
                token: AccessToken = await self._inner.get_token(
                    *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
                )
            except Exception as exc:
                failure = _token_error(exc)
                self._failure, self._failed_at = failure, time.monotonic()
                raise failure from exc
            self._failure = None
            return token

    async def close(self) -> None:
        await transport.close([self._inner], self._session)

    async def __aenter__(self) -> FailFastCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.close()


def _token_error(exc: Exception) -> TokenUnavailable:
    status = getattr(exc, "status_code", None)
    if status:
        return TokenUnavailable(message=f"the identity endpoint answered {status}")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TokenUnavailable(message=first[:240])


def invocation_credential(settings: Settings) -> FailFastCredential:
    """The one credential of an invocation, with the cloud's authority (sovereign clouds sign in
    elsewhere), shared by ARM, Storage and Event Grid. Use it as `async with`, inside the event loop."""
    return default_credential(settings, authority=settings.cloud.authority_host)


def default_credential(
    settings: Settings | None, authority: str | None = None, client_id: str | None = None
) -> FailFastCredential:
    """Managed identity in Azure (`client_id`, or AZURE_CLIENT_ID, for a user-assigned one), `az login` on a laptop.

    Its requests keep to the token endpoints (identity_endpoints) within the run's bounds (egress.py).
    azure.identity is imported here, not at the top: it is the heaviest import of the app and
    only a run that authenticates needs it (the Functions host indexes function_app.py first)."""
    from azure.identity.aio import DefaultAzureCredential

    cloud = (settings or Settings()).cloud
    authority_host = authority or os.environ.get("AZURE_AUTHORITY_HOST", "") or cloud.authority_host
    endpoints = identity_endpoints(os.environ, authority_host)
    egress = Egress.for_run(settings, "the identity endpoint", *endpoints, max_body=TOKEN_MAX_BODY)
    session = transport.session(4)
    options: dict[str, Any] = {
        "transport": GuardedTransport(egress, session),
        "retry_total": transport.RETRIES,
        "retry_backoff_factor": transport.BACKOFF_FACTOR,
        "retry_backoff_max": transport.BACKOFF_MAX,
    }
    if authority:
        options["authority"] = authority
    if client_id:
        options["managed_identity_client_id"] = client_id
    return FailFastCredential(DefaultAzureCredential(**options), session)


def identity_endpoints(environ: Mapping[str, str], authority_host: str) -> list[str]:
    """Where a token may be asked for: the managed-identity endpoint the platform names (App Service and
    Functions, Arc, Service Fabric: IDENTITY_ENDPOINT; Cloud Shell: MSI_ENDPOINT), the instance metadata
    service (VMs, AKS), and the sign-in authority (service principals, workload identity), as
    azure-identity's ManagedIdentityCredential and EnvironmentCredential read them."""
    named = [environ.get(name, "").strip() for name in ("IDENTITY_ENDPOINT", "MSI_ENDPOINT")]
    authority = authority_host if "://" in authority_host else f"https://{authority_host}"
    return [*filter(None, named), IMDS_ENDPOINT, authority]
