"""How the auditor talks to any service: one TLS trust, one set of retry and timeout numbers.

ARM, Storage, Event Grid, the Teams webhook and SMTP all use these, so a corporate TLS
inspection CA or a sovereign cloud's trust is configured once, and a call that never
answers ends within the same bounded budget everywhere. Nothing here imports an Azure SDK
(importing the email sender must not load them); `session()` is the one place that builds an
aiohttp session for the SDKs' transports.
"""

from __future__ import annotations

import contextvars
import os
import ssl
from typing import Any

import aiohttp

from auditor.settings import ca_context

RETRIES = 3  # per call, on 408/429/5xx, connection failures and read timeouts
BACKOFF_FACTOR = 0.5  # seconds; waits 0.5, 1, 2 between the attempts
BACKOFF_MAX = 8.0
MIB = 1024 * 1024
# ARM's RPC contract caps a response at 8 MB (Azure/azure-resource-manager-rpc, v1.0/common-api-details.md,
# "Max response size"); twice that is no real answer. Log Analytics, blob listings, tables, the topic and
# the webhooks answer far less for what the auditor asks.
MAX_BODY_BYTES = 16 * MIB
# The limit of the client reading right now: its transport sets it around a call (egress.py), and a
# non-streamed body is read inside that call.
body_limit: contextvars.ContextVar[int] = contextvars.ContextVar("auditor_body_limit", default=MAX_BODY_BYTES)


class Refused(Exception):
    """A request or an answer the auditor will not use. Not an AzureError on purpose: azure-core's retry
    policies retry every AzureError, and asking again cannot make any of these acceptable."""


class AnswerTooLarge(Refused):
    """An answer larger than its service ever sends: reading stopped at the limit."""


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
    return aiohttp.ClientSession(connector=connector, trust_env=True, response_class=BoundedResponse)


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


class BoundedResponse(aiohttp.ClientResponse):
    """aiohttp's response, read no further than the limit of the client reading it (a declared
    Content-Length over it is refused before a byte of the body is read)."""

    _kept: bytes | None = None

    async def read(self) -> bytes:
        if self._kept is None:
            self._kept = await self._read_within(body_limit.get())
        return self._kept

    async def _read_within(self, limit: int) -> bytes:
        if self.content_length is not None and self.content_length > limit:
            self.close()
            raise AnswerTooLarge(f"{self.url.host} announced an answer of {self.content_length} bytes: {_over(limit)}")
        body = bytearray()
        while chunk := await self.content.read(64 * 1024):
            body += chunk
            if len(body) > limit:
                self.close()
                raise AnswerTooLarge(f"{self.url.host} sent more than {limit} bytes: {_over(limit)}")
        return bytes(body)


def _over(limit: int) -> str:
    return f"larger than any real answer (limit {limit // MIB} MiB), refused" if limit >= MIB else "refused"
