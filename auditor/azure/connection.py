"""One authenticated, pooled connection to ARM, shared by every client of a scan.

Connection reuse decides throughput: all SDK clients share one `aiohttp.ClientSession` (one
connector, one SSLContext) through their own transports. Every client gets the same ARM
pipeline, built here policy by policy rather than left to the SDKs' defaults, because the
defaults of azure-mgmt-core carry `ARMAutoResourceProviderRegistrationPolicy`: on a 409
`MissingSubscriptionRegistration` it POSTs `.../providers/{namespace}/register` on its own
and then polls every 10 s until the provider is registered. A read-only auditor must never
write to make an answer go away, and an unregistered provider means "no such resources
here" (see inventory.py). The pipeline also holds the single retry/timeout policy, read
pacing per subscription and, unless remediation applies, a hard refusal of anything but GET.
It follows no redirects (ARM sends none; a redirect could carry the token elsewhere), and every client
sends through the run's egress guard (egress.py): ARM's endpoint only, bounded waits, bounded answers.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    AsyncHTTPPolicy,
    AsyncRetryPolicy,
    ContentDecodePolicy,
    CustomHookPolicy,
    DistributedTracingPolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    ProxyPolicy,
    RequestIdPolicy,
    UserAgentPolicy,
)
from azure.mgmt.containerservice.aio import ContainerServiceClient
from azure.mgmt.core.policies import ARMHttpLoggingPolicy, AsyncARMChallengeAuthenticationPolicy
from azure.mgmt.monitor.v2021_05_01_preview.aio import MonitorManagementClient
from azure.mgmt.resource.subscriptions.aio import SubscriptionClient

from auditor.azure import transport
from auditor.azure.egress import Egress, GuardedTransport, HostPinPolicy
from auditor.azure.pacing import PacingPolicy, ReadPacer
from auditor.settings import Settings

USER_AGENT = "aks-audit-auditor"
CLUSTERS_API_VERSION = "2025-10-01"  # Microsoft.ContainerService managedClusters, stable
# A resource has at most five diagnostic settings (arm_rules.MAX_SETTINGS) of a few KB each, and its
# category list is as small: a Monitor answer over this is no real one.
MONITOR_MAX_BODY = transport.MIB
# The clients insist on a subscription ID, though the calls the auditor makes never use it.
_UNUSED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


class WriteBlockedError(AzureError):
    """A write was attempted through a read-only connection: a bug, never sent to Azure."""


class ReadOnlyPolicy(AsyncHTTPPolicy[Any, Any]):
    """Without remediation the auditor is strictly read-only: refuse anything but GET, and the one
    POST that only reads, when a client names it (a Log Analytics query)."""

    def __init__(self, reading_posts: re.Pattern[str] | None = None) -> None:
        super().__init__()
        self._reading_posts = reading_posts

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        method = request.http_request.method
        path = urlsplit(request.http_request.url).path
        reads = method in {"GET", "HEAD"} or (
            method == "POST" and self._reading_posts is not None and self._reading_posts.fullmatch(path) is not None
        )
        if not reads:
            raise WriteBlockedError(f"refused to send {method} {request.http_request.url}: the auditor is read-only")
        return await self.next.send(request)


class ExpiredTokenPolicy(AsyncHTTPPolicy[Any, Any]):
    """Send once more when ARM says the token expired in flight (it raced its expiry): the
    authentication policy behind this one then fetches a fresh token. Any other 401 stands."""

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        response = await self.next.send(request)
        challenge = response.http_response.headers.get("WWW-Authenticate", "")
        if response.http_response.status_code == 401 and 'error="invalid_token"' in challenge:
            response = await self.next.send(request)
        return response


class ArmConnection:
    """Async context manager holding the shared session and the SDK clients, on the invocation's credential."""

    def __init__(self, settings: Settings, credential: AsyncTokenCredential) -> None:
        self._settings = settings
        self._credential = credential  # the invocation's, shared with Storage and Event Grid: not closed here
        self._read_only = not settings.remediation.writes  # only `apply` may ever write
        self.pacer = ReadPacer(low_water=settings.max_concurrency + 8)
        self._session: aiohttp.ClientSession | None = None
        self._clients: list[Any] = []
        self._clusters: ContainerServiceClient | None = None
        self._subscriptions: SubscriptionClient | None = None
        self._monitor: MonitorManagementClient | None = None

    async def __aenter__(self) -> ArmConnection:
        self._session = transport.session(self._settings.max_concurrency + 16)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await transport.close(self._clients, self._session)
        self._clusters = self._subscriptions = self._monitor = None
        self._session = None

    async def check_credential(self) -> None:
        """Get one token up front, so a missing login is one clear error instead of one per cluster."""
        await self.credential.get_token(self._settings.arm_audience + "/.default")

    @property
    def arm_endpoint(self) -> str:
        return self._settings.arm_endpoint

    @property
    def http_timeout_seconds(self) -> float:
        return self._settings.http_timeout_seconds

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared pooled session, for the other services' SDK clients of this run (Log Analytics, Storage)."""
        if self._session is None:
            raise RuntimeError("ArmConnection used outside 'async with'")
        return self._session

    def own(self, client: Any) -> Any:
        """Close `client` with the connection (before the session it shares)."""
        self._clients.append(client)
        return client

    @property
    def credential(self) -> AsyncTokenCredential:
        return self._credential

    def egress(self, service: str, *endpoints: str, max_body: int = transport.MAX_BODY_BYTES) -> Egress:
        """Where a client of this run may send (its service's endpoints only), with the run's bounds."""
        return Egress.for_run(self._settings, service, *endpoints, max_body=max_body)

    def guarded(self, egress: Egress) -> GuardedTransport:
        """A transport on the shared session that keeps to `egress`."""
        return GuardedTransport(egress, self.session)

    def _client_options(self, max_body: int = transport.MAX_BODY_BYTES) -> dict[str, Any]:
        egress = self.egress("ARM", self._settings.arm_endpoint, max_body=max_body)
        return {
            "base_url": self._settings.arm_endpoint,
            "transport": self.guarded(egress),
            "policies": self._policies(egress),
        }

    def _policies(self, egress: Egress) -> list[Any]:
        """The ARM pipeline of every client: the SDKs' own list, minus provider auto-registration and
        redirects, plus the host pin (ahead of everything, the credential included), the expired-token
        retry, the read-only guard and read pacing."""
        guards: list[Any] = [PacingPolicy(self.pacer)]
        if self._read_only:
            guards.insert(0, ReadOnlyPolicy())
        return [
            HostPinPolicy(egress),
            RequestIdPolicy(),
            HeadersPolicy(),
            UserAgentPolicy(sdk_moniker=USER_AGENT),
            ProxyPolicy(),
            ContentDecodePolicy(),
            ExpiredTokenPolicy(),
            AsyncRetryPolicy(
                retry_total=transport.RETRIES,
                retry_backoff_factor=transport.BACKOFF_FACTOR,
                retry_backoff_max=transport.BACKOFF_MAX,
                timeout=transport.call_budget(self._settings.http_timeout_seconds),
            ),
            *guards,
            AsyncARMChallengeAuthenticationPolicy(self.credential, self._settings.arm_audience + "/.default"),
            CustomHookPolicy(),
            NetworkTraceLoggingPolicy(),
            DistributedTracingPolicy(),
            ARMHttpLoggingPolicy(),
        ]

    def subscriptions(self) -> SubscriptionClient:
        if self._subscriptions is None:
            self._subscriptions = SubscriptionClient(self.credential, **self._client_options())
            self._clients.append(self._subscriptions)
        return self._subscriptions

    def clusters(self) -> ContainerServiceClient:
        """Cluster listing goes through `send_request` (see pages.py), so one client serves every subscription."""
        if self._clusters is None:
            self._clusters = ContainerServiceClient(self.credential, _UNUSED_SUBSCRIPTION, **self._client_options())
            self._clients.append(self._clusters)
        return self._clusters

    def monitor(self) -> MonitorManagementClient:
        if self._monitor is None:
            options = self._client_options(max_body=MONITOR_MAX_BODY)
            self._monitor = MonitorManagementClient(self.credential, _UNUSED_SUBSCRIPTION, **options)
            self._clients.append(self._monitor)
        return self._monitor
