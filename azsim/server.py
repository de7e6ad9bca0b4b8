"""ArmSimulator: the HTTPS ARM server, the plain-HTTP identity endpoint, the receivers of what the auditor
sends, the Log Analytics query API and the storage accounts' blob front, on their own event loop thread.

A daemon thread owns the loop, so synchronous tests and async clients on other loops can all use it, and the
server keeps answering while a test thread blocks. With `blob_service=True` it also runs Azurite (blob) for the
tenant's storage accounts (azsim/blobs.py).
"""

import asyncio
import contextlib
import os
import ssl
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

import trustme
from aiohttp import web

from azsim.arm import ArmRoutes
from azsim.blobs import BlobService
from azsim.faults import Fault
from azsim.gateway import ForeignRequest, Gateway, RequestRecord
from azsim.identity import TokenIssuer
from azsim.logs import LogsApi
from azsim.sinks import Sinks
from azsim.tenant import Tenant
from azsim.throttle import RateLimiter, Throttle

_T = TypeVar("_T")
_HOST = "127.0.0.1"


class ArmSimulator:
    """Serves `tenant` over real ARM REST shapes; usable as a context manager or with start()/stop()."""

    def __init__(
        self,
        tenant: Tenant,
        latency: float = 0.0,
        throttle: Throttle | None = None,
        page_size: int = 100,
        token_lifetime: float = 3600,
        blob_service: bool = False,
    ) -> None:
        self.tenant = tenant
        self._blob_service = blob_service
        self._issuer = TokenIssuer(token_lifetime, tenant.tenant_id)
        self._gateway = Gateway(
            ArmRoutes(tenant, page_size), self._issuer, latency, RateLimiter(throttle) if throttle else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._remove_ca_file: Callable[[], Any] = lambda: None
        self.sinks = Sinks(self._issuer)
        self.logs = LogsApi(tenant, self._gateway)
        self.blobs: BlobService | None = None
        self.arm_endpoint = ""
        self.identity_endpoint = ""
        self.sinks_endpoint = ""
        self.logs_endpoint = ""
        self.ca_file = ""

    @property
    def eventgrid_endpoint(self) -> str:
        """An Event Grid custom topic's endpoint (its key is `sinks.eventgrid_key`)."""
        return f"{self.sinks_endpoint}/api/events"

    @property
    def teams_url(self) -> str:
        """A Teams Workflows webhook URL, signature included (a secret, as the real one is)."""
        return (
            f"{self.sinks_endpoint}/workflows/5f2b1c0e9a7d4e3f/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sinks.teams_signature}"
        )

    @property
    def identity_header(self) -> str:
        return self._issuer.header_secret

    def issue_token(self, principal: str) -> str:
        """An ARM token for a named principal (ARM throttles each principal on its own)."""
        return self._issuer.issue(self.arm_endpoint, principal)[0]

    def env(self) -> dict[str, str]:
        """What a process needs to reach the simulation with DefaultAzureCredential and trust its TLS."""
        return {
            "AUDITOR_ARM_ENDPOINT": self.arm_endpoint,
            "SSL_CERT_FILE": self.ca_file,
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "AUDITOR_LOGS_ENDPOINT": self.logs_endpoint,
            # The storage accounts' blob endpoints are the blob front, not *.blob.core.windows.net.
            "AUDITOR_BLOB_ENDPOINT_HOSTS": self._gateway.routes.blob_front.removeprefix("https://"),
        }

    def deliver(self) -> int:
        """Write to the storage accounts what Azure Monitor would have written by now (needs blob_service)."""
        if self.blobs is None or not self.blobs.azurite_endpoint:
            raise RuntimeError("no blob service: start the simulator with blob_service=True")
        return self.blobs.deliver()

    # --- behaviour knobs -------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        self._gateway.faults = (*self._gateway.faults, fault)
        return fault

    def clear_faults(self) -> None:
        self._gateway.faults = ()

    def set_latency(self, seconds: float) -> None:
        self._gateway.latency = seconds

    def set_throttle(self, throttle: Throttle | None) -> None:
        """Replace the throttle; buckets start full."""
        self._gateway.limiter = RateLimiter(throttle) if throttle else None

    # --- request log -----------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._gateway.requests)

    @property
    def token_requests(self) -> list[RequestRecord]:
        return list(self._gateway.token_requests)

    @property
    def logs_requests(self) -> list[RequestRecord]:
        """Requests to the Log Analytics query API."""
        return list(self._gateway.logs_requests)

    @property
    def foreign_requests(self) -> list[ForeignRequest]:
        """Requests that reached the foreign host (`foreign_endpoint`): the auditor must send none."""
        return list(self._gateway.foreign_requests)

    @property
    def foreign_endpoint(self) -> str:
        """https://localhost:<port>: a loopback origin unlike every other site, for foreign nextLinks."""
        return self._gateway.foreign_endpoint

    @property
    def blob_requests(self) -> list[RequestRecord]:
        """Requests to the storage accounts' blob service."""
        return list(self._gateway.blob_requests)

    def clear_requests(self) -> None:
        self._gateway.requests = []
        self._gateway.token_requests = []
        self._gateway.logs_requests = []
        self._gateway.blob_requests = []
        self._gateway.sink_requests = []
        self._gateway.foreign_requests = []

    def count(self, method: str | None = None, contains: str | None = None) -> int:
        """ARM requests with this method whose path contains `contains` (case-insensitive)."""
        needle = contains.lower() if contains is not None else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper()) and (needle is None or needle in r.path.lower())
        )

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> "ArmSimulator":
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        ca = trustme.CA()
        fd, self.ca_file = tempfile.mkstemp(prefix="azsim-ca-", suffix=".pem")
        os.close(fd)
        # Removed by stop(), or at exit/garbage collection when a caller forgot to stop.
        self._remove_ca_file = weakref.finalize(self, _remove_file, self.ca_file)
        ca.cert_pem.write_to_path(self.ca_file)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate = ca.issue_cert(_HOST, "localhost")
        certificate.configure_cert(tls)
        self.blobs = BlobService(
            self.tenant,
            self._gateway,
            self.ca_file,
            certificate.cert_chain_pems[0].bytes(),
            certificate.private_key_pem.bytes(),
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="azsim", daemon=True)
        self._thread.start()
        try:
            if self._blob_service:
                self.blobs.start()
            arm_port, identity_port, sinks_port, logs_port = self._call(self._serve(tls, self.blobs))
        except BaseException:
            self.stop()
            raise
        self.arm_endpoint = f"https://{_HOST}:{arm_port}"
        self.identity_endpoint = f"http://{_HOST}:{identity_port}/msi/token"
        self.sinks_endpoint = f"https://{_HOST}:{sinks_port}"
        self.logs_endpoint = f"https://{_HOST}:{logs_port}"
        if self._blob_service:
            self.blobs.deliver()
        return self

    def stop(self) -> None:
        """Stop serving at once: hung requests are dropped, in-flight ones get a second to finish."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown(), timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None
        if self.blobs is not None:
            self.blobs.stop()
            self.blobs = None
        self._remove_ca_file()

    def __enter__(self) -> "ArmSimulator":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 30) -> _T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _serve(self, tls: ssl.SSLContext, blobs: BlobService) -> tuple[int, int, int, int]:
        self._gateway.released = asyncio.Event()
        arm_port = await self._site(self._gateway.arm, tls)
        self._gateway.routes.endpoint = f"https://{_HOST}:{arm_port}"
        identity_port = await self._site(self._gateway.identity, None)
        sinks_port = await self._site(self._sinks, tls)
        foreign_port = await self._site(self._gateway.foreign, tls)
        self._gateway.foreign_endpoint = f"https://localhost:{foreign_port}"
        logs_port = await self._site(self.logs.handle, tls)
        self.logs.endpoint = f"https://{_HOST}:{logs_port}"
        blob_port = await self._site(blobs.handle, tls)
        self._gateway.routes.blob_front = f"https://{_HOST}:{blob_port}"
        return arm_port, identity_port, sinks_port, logs_port

    async def _site(
        self, handler: Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]], tls: ssl.SSLContext | None
    ) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, _HOST, 0, ssl_context=tls, backlog=1024).start()
        return int(runner.addresses[0][1])

    async def _sinks(self, request: web.Request) -> web.StreamResponse:
        """The Event Grid topic and the Teams webhook, behind the gateway's faults like every other site."""
        return await self._gateway.data_plane(request, self._gateway.sink_requests, lambda r, _: self.sinks.handle(r))

    async def _shutdown(self) -> None:
        self._gateway.released.set()
        if self.blobs is not None:
            await self.blobs.close()
        await asyncio.sleep(0)  # let hung handlers drop their connections before the runners wait for them
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []


def _remove_file(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
