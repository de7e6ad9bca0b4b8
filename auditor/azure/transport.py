"""How the auditor talks to any service: one TLS trust, one set of retry and timeout numbers.

ARM, Storage, Event Grid, the Teams webhook and SMTP all use these, so a corporate TLS
inspection CA or a sovereign cloud's trust is configured once, and a call that never
answers ends within the same bounded budget everywhere. Nothing here imports an Azure SDK
(importing the email sender must not load them); `session()` is the one place that builds an
aiohttp session for the SDKs' transports.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import aiohttp

from auditor.settings import ca_context

RETRIES = 3  # per call, on 408/429/5xx, connection failures and read timeouts
BACKOFF_FACTOR = 0.5  # seconds; waits 0.5, 1, 2 between the attempts
BACKOFF_MAX = 8.0
MAX_RETRY_AFTER = 30.0  # a service's Retry-After is honoured up to this


def ssl_context() -> ssl.SSLContext:
    """Trust what the standard variables say (corporate TLS inspection, Azure Stack, the simulation).

    REQUESTS_CA_BUNDLE wins as it does for requests and the Azure CLI; otherwise OpenSSL's
    defaults apply, which already honour SSL_CERT_FILE and SSL_CERT_DIR. Built explicitly,
    because aiohttp's own default context is made when aiohttp is imported and would miss a
    variable set later. A bundle that cannot be loaded is a ConfigError (Settings.from_env checks it first).
    """
    bundle = os.environ.get("REQUESTS_CA_BUNDLE", "").strip()
    return ca_context("REQUESTS_CA_BUNDLE", bundle) if bundle else ssl.create_default_context()


def session(connections: int) -> aiohttp.ClientSession:
    """A pooled session with the shared TLS trust: one connector, one SSLContext, reused by every client."""
    connector = aiohttp.TCPConnector(
        ssl=ssl_context(), limit=connections, ttl_dns_cache=300, enable_cleanup_closed=True
    )
    return aiohttp.ClientSession(connector=connector, trust_env=True)


async def close(clients: list[Any], session: aiohttp.ClientSession | None) -> None:
    """Close SDK clients before the session their transports share (the clients do not own it)."""
    for client in clients:
        await client.close()
    clients.clear()
    if session is not None:
        await session.close()


def call_budget(timeout_seconds: float) -> float:
    """Upper bound for one call including its retries, so a hung call cannot stall a run."""
    attempts = RETRIES + 1
    return timeout_seconds * attempts + min(BACKOFF_MAX, BACKOFF_FACTOR * 2**RETRIES) * RETRIES


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based), for the clients that retry by hand."""
    return min(BACKOFF_MAX, BACKOFF_FACTOR * 2**attempt)
