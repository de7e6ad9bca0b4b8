"""What may leave the process, to where, and for how long: the guard on every Azure SDK client's transport.

A bearer token is only as safe as the places it is sent to. ARM's answers steer requests (a
`nextLink`, a storage account's blob endpoint, a redirect) and a hostile or broken endpoint can
point them anywhere. So every client the auditor builds sends through a `GuardedTransport` that
knows the origins (scheme, host, port) of its one service and refuses anything else before it
leaves the process; where the auditor builds the pipeline itself (ARM, Log Analytics, blobs, the
Event Grid topic), `HostPinPolicy` refuses even earlier, before the credential policy asks for a
token. The Storage and identity SDKs build their own pipelines with no slot ahead of their
credential, so for them the transport's refusal is the guard: nothing is sent.

The same transport bounds every wait: one attempt (connect, headers and body together) ends after
its deadline however slowly a server trickles bytes; a retry's wait, including a server's
`Retry-After` (azure-core's retry policies sleep through the transport, `AsyncHttpTransport.sleep`),
is capped; and an answer larger than its service ever sends is refused while it is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from azure.core.exceptions import ServiceResponseTimeoutError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy
from azure.core.pipeline.transport import AioHttpTransport, AsyncHttpTransport

from auditor.azure.transport import MAX_BODY_BYTES, Refused, body_limit
from auditor.settings import Settings, host_allowed

_DEFAULT_PORTS = {"https": 443, "http": 80}


class ForeignHostRefused(Refused):
    """A request for another origin than its service's: refused before anything was sent."""


class PagingLoop(Refused):
    """A listing whose next page is one already read (or that never ends): stopped there."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port: what a request may be sent to (the path is the service's business)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin | None:
        """The origin of an absolute URL; None when it has none or cannot be read (an invalid port, say)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if not parts.hostname or scheme not in _DEFAULT_PORTS:
            return None
        return cls(scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


@dataclass(frozen=True, slots=True)
class Egress:
    """Where one service's requests may go, and the bounds of each call to it."""

    service: str  # for messages: "ARM", "the Event Grid topic", "the identity endpoint", ...
    origins: frozenset[Origin]
    deadline_seconds: float  # one attempt: connect, headers and body together
    max_retry_after: float  # longest wait before a retry, whatever the server asks
    max_body: int = MAX_BODY_BYTES

    @classmethod
    def for_run(
        cls, settings: Settings | None, service: str, *endpoints: str, max_body: int = MAX_BODY_BYTES
    ) -> Egress:
        """`service`'s endpoints, with the run's bounds (AUDITOR_HTTP_TIMEOUT_SECONDS per attempt,
        AUDITOR_MAX_RETRY_AFTER_SECONDS per wait); None takes the settings' defaults."""
        run = settings or Settings()
        origins = frozenset(origin for url in endpoints if (origin := Origin.of(url)) is not None)
        return cls(service, origins, run.http_timeout_seconds, run.max_retry_after_seconds, max_body)

    def check(self, url: str) -> None:
        origin = Origin.of(url)
        if origin is None or origin not in self.origins:
            where = str(origin) if origin is not None else "an unreadable address"
            allowed = ", ".join(sorted(str(o) for o in self.origins)) or "none"
            raise ForeignHostRefused(
                f"refused to send a request for {self.service} to {where}: only {allowed} may receive it"
            )


def origin_allowed(url: str, patterns: Iterable[str]) -> bool:
    """Whether an https URL's origin fits one of `host`, `*.domain`, `host:port` (443 when no port is given)."""
    origin = Origin.of(url)
    if origin is None or origin.scheme != "https":
        return False
    for pattern in patterns:
        host, _, port = pattern.partition(":")
        if origin.port == (int(port) if port else 443) and host_allowed(origin.host, (host,)):
            return True
    return False


class HostPinPolicy(AsyncHTTPPolicy[Any, Any]):
    """First in a pipeline the auditor builds: a request for another origin never reaches the credential."""

    def __init__(self, egress: Egress) -> None:
        super().__init__()
        self._egress = egress

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        self._egress.check(request.http_request.url)
        return await self.next.send(request)


class GuardedTransport(AsyncHttpTransport[Any, Any]):
    """azure-core's aiohttp transport on a shared session, with the egress rules of one service.

    The session is not owned: whoever made it closes it (transport.close), after the clients."""

    def __init__(self, egress: Egress, session: aiohttp.ClientSession) -> None:
        self._egress = egress
        self._inner = AioHttpTransport(session=session, session_owner=False)

    async def send(self, request: Any, **kwargs: Any) -> Any:
        self._egress.check(request.url)
        token = body_limit.set(self._egress.max_body)
        try:
            async with asyncio.timeout(self._egress.deadline_seconds):
                return await self._inner.send(request, **kwargs)
        except TimeoutError as exc:
            raise ServiceResponseTimeoutError(
                f"no whole answer from {self._egress.service} within {self._egress.deadline_seconds:g}s"
            ) from exc
        finally:
            body_limit.reset(token)

    async def sleep(self, duration: float) -> None:
        await asyncio.sleep(min(max(0.0, duration), self._egress.max_retry_after))

    async def open(self) -> None:
        await self._inner.open()

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> GuardedTransport:
        await self.open()
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()
