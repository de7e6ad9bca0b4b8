"""The one policy for outbound webhooks (Teams today): allowlisted https hosts, bounded retries, no secrets.

A Workflows webhook URL carries its signature in the query string, so the URL is a secret:
it is checked against AUDITOR_WEBHOOK_ALLOWED_HOSTS before anything is sent, and errors name
only the host and the status, never the URL (aiohttp's own exception text includes it).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from auditor.azure.transport import RETRIES, backoff
from auditor.settings import ConfigError, Secret, host_allowed


class DeliveryError(Exception):
    """A notification could not be delivered; the message is safe to log."""


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Belt and braces: scrub any secret value (and a URL's query string) from text bound for a log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            query = urlsplit(secret).query if "://" in secret else ""
            if query:
                text = text.replace(query, "***")
    return text


class Webhook:
    """Posts JSON to one secret URL through a shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: Secret,
        allowed_hosts: tuple[str, ...],
        timeout: float,
        max_retry_after: float,
    ):
        parts = urlsplit(url.reveal())
        if parts.scheme != "https" or not parts.hostname or not host_allowed(parts.hostname, allowed_hosts):
            raise ConfigError("webhook URL is not an https URL on an allowed host (AUDITOR_WEBHOOK_ALLOWED_HOSTS)")
        self._session = session
        self._url = url
        self.host = parts.hostname
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retry_after = max_retry_after

    async def post(self, payload: dict[str, Any]) -> int:
        """POST with retries on 408/429/5xx and connection errors; any 2xx is success (Workflows answers 202)."""
        body = json.dumps(payload).encode()
        last = ""
        for attempt in range(RETRIES + 1):
            delay = backoff(attempt)
            try:
                async with self._session.post(
                    self._url.reveal(),
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response:
                    if 200 <= response.status < 300:
                        return response.status
                    last = f"{self.host} answered {response.status}"
                    if response.status not in {408, 429} and response.status < 500:
                        raise DeliveryError(last)
                    delay = _retry_after(response.headers.get("Retry-After"), delay, self._max_retry_after)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"could not reach {self.host} ({type(exc).__name__})"
            if attempt < RETRIES:
                await asyncio.sleep(delay)
        raise DeliveryError(f"{last} after {RETRIES} retries")


def _retry_after(header: str | None, default: float, cap: float) -> float:
    try:
        return min(cap, max(0.0, float(header))) if header else default
    except ValueError:
        return default
