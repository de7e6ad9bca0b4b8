"""The Azure simulation, driven through the real SDK aio clients and the real DefaultAzureCredential."""

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceResponseError
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.containerservice.aio import ContainerServiceClient
from azure.mgmt.monitor.v2021_05_01_preview.aio import MonitorManagementClient
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings
from azure.mgmt.resource.subscriptions.aio import SubscriptionClient
from support import point_at

from azsim import ArmSimulator, Fault, SimCluster, Tenant, Throttle
from azsim.access import AUDITOR
from azsim.roles import MONITORING_CONTRIBUTOR, READER, Role
from azsim.samples import WORKSPACE, demo_tenant, scale_tenant, setting

ROOT = Path(__file__).resolve().parents[1]
WS1 = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-mon"
    "/providers/Microsoft.OperationalInsights/workspaces/la1"
)
WS2 = WS1[:-1] + "2"


@pytest.fixture
def tenant() -> Tenant:
    """A tenant in which the simulation's own tests write settings as a Monitoring Contributor would."""
    tenant = Tenant()
    tenant.access.grant(AUDITOR, MONITORING_CONTRIBUTOR)
    subscription = tenant.add_subscription("Production")
    for i in range(3):
        subscription.add_cluster(f"aks-{i}", resource_group="rg-prod")
    return tenant


@pytest.fixture
def sim(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmSimulator]:
    with ArmSimulator(tenant) as simulator:
        point_at(simulator, monkeypatch)
        yield simulator


def first_cluster(tenant: Tenant) -> SimCluster:
    return tenant.subscriptions[0].clusters[0]


@dataclass
class Clients:
    subscriptions: SubscriptionClient
    clusters: ContainerServiceClient
    monitor: MonitorManagementClient
    session: aiohttp.ClientSession
    credential: DefaultAzureCredential


@asynccontextmanager
async def arm_clients(sim: ArmSimulator, subscription_id: str, **options: Any) -> AsyncIterator[Clients]:
    """The SDK clients as the auditor builds them: one shared aiohttp session trusting SSL_CERT_FILE.

    The SSL context is made here, after the test set SSL_CERT_FILE: aiohttp's own default context was built
    when aiohttp was imported and would not trust the simulator's CA.
    """
    options = {"retry_backoff_factor": 0.01, **options}
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context()))
    credential = DefaultAzureCredential()

    def common() -> dict[str, Any]:
        return {
            "base_url": sim.arm_endpoint,
            "credential_scopes": [sim.arm_endpoint + "/.default"],
            "transport": AioHttpTransport(session=session, session_owner=False),
            **options,
        }

    clients = Clients(
        SubscriptionClient(credential, **common()),
        ContainerServiceClient(credential, subscription_id, **common()),
        MonitorManagementClient(credential, subscription_id, **common()),
        session,
        credential,
    )
    try:
        yield clients
    finally:
        for client in (clients.subscriptions, clients.clusters, clients.monitor):
            await client.close()
        await credential.close()
        await session.close()


async def token_for(sim: ArmSimulator, resource: str | None = None) -> str:
    async with DefaultAzureCredential() as credential:
        return (await credential.get_token((resource or sim.arm_endpoint) + "/.default")).token


async def raw(
    sim: ArmSimulator, method: str, path: str, token: str | None = "", api_version: str | None = "x", body: Any = None
) -> tuple[int, dict[str, str], Any]:
    """One plain HTTPS request, for what the SDK hides (headers, 401s, 429s); token "" means a valid one."""
    if token == "":
        token = await token_for(sim)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    params = {"api-version": api_version} if api_version else {}
    connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=sim.ca_file))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(method, sim.arm_endpoint + path, params=params, headers=headers, json=body) as response,
    ):
        text = await response.text()
        return response.status, dict(response.headers), json.loads(text) if text else None


def diagnostic(logs: list[dict[str, Any]], workspace: str = WS1) -> DiagnosticSettingsResource:
    """The SDK model for REST-shaped log entries."""
    entries = [
        LogSettings(category=e.get("category"), category_group=e.get("categoryGroup"), enabled=e["enabled"])
        for e in logs
    ]
    return DiagnosticSettingsResource(workspace_id=workspace, logs=entries)


# --- identity ------------------------------------------------------------------------------------------


def test_default_credential_gets_token_from_identity_endpoint(sim: ArmSimulator) -> None:
    async def scenario() -> tuple[str, int]:
        async with DefaultAzureCredential() as credential:
            token = await credential.get_token(sim.arm_endpoint + "/.default")
            return token.token, token.expires_on

    token, expires_on = asyncio.run(scenario())
    assert token
    assert 3500 < expires_on - time.time() <= 3600
    [request] = sim.token_requests
    assert request.status == 200
    assert request.query == {"api-version": "2019-08-01", "resource": sim.arm_endpoint}


def test_identity_endpoint_checks_its_header(sim: ArmSimulator) -> None:
    async def get(headers: dict[str, str]) -> int:
        params = {"api-version": "2019-08-01", "resource": sim.arm_endpoint}
        async with (
            aiohttp.ClientSession() as session,
            session.get(sim.identity_endpoint, params=params, headers=headers) as response,
        ):
            return response.status

    assert asyncio.run(get({})) == 400
    assert asyncio.run(get({"X-IDENTITY-HEADER": "wrong"})) == 401
    assert asyncio.run(get({"X-IDENTITY-HEADER": sim.identity_header})) == 200


def test_arm_refuses_missing_unknown_and_wrong_audience_tokens(sim: ArmSimulator) -> None:
    path = "/subscriptions"
    status, headers, body = asyncio.run(raw(sim, "GET", path, token=None))
    assert (status, body["error"]["code"]) == (401, "AuthenticationFailed")
    assert (
        f'authorization_uri="https://login.microsoftonline.com/{sim.tenant.tenant_id}"' in (headers["WWW-Authenticate"])
    )
    status, _, body = asyncio.run(raw(sim, "GET", path, token="not-a-token"))
    assert (status, body["error"]["code"]) == (401, "InvalidAuthenticationToken")
    other = asyncio.run(token_for(sim, "https://management.azure.com"))
    status, _, body = asyncio.run(raw(sim, "GET", path, token=other))
    assert (status, body["error"]["code"]) == (401, "InvalidAuthenticationTokenAudience")
    status, _, body = asyncio.run(raw(sim, "GET", path, api_version=None))
    assert (status, body["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert asyncio.run(raw(sim, "GET", path))[0] == 200


def test_expired_token_is_refused(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    with ArmSimulator(tenant, token_lifetime=0) as sim:
        point_at(sim, monkeypatch)
        status, _, body = asyncio.run(raw(sim, "GET", "/subscriptions"))
    assert (status, body["error"]["code"]) == (401, "ExpiredAuthenticationToken")


# --- reading ---------------------------------------------------------------------------------------------


def test_subscriptions_list_pages_and_shape(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant.add_subscription("Staging", state="Warned")
    tenant.add_subscription("Old", state="Disabled")
    with ArmSimulator(tenant, page_size=2) as sim:
        point_at(sim, monkeypatch)

        async def scenario() -> list[Any]:
            async with arm_clients(sim, tenant.subscriptions[0].subscription_id) as clients:
                return [s async for s in clients.subscriptions.subscriptions.list()]

        subscriptions = asyncio.run(scenario())
        assert sim.count(contains="/subscriptions") == 2  # two pages
    assert [(s.display_name, s.state) for s in subscriptions] == [
        ("Production", "Enabled"),
        ("Staging", "Warned"),
        ("Old", "Disabled"),
    ]
    assert subscriptions[0].tenant_id == tenant.tenant_id
    assert subscriptions[0].subscription_policies.quota_id == "PayAsYouGo_2014-09-01"


def test_cluster_list_follows_next_links(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = Tenant()
    subscription = tenant.add_subscription()
    for i in range(7):
        subscription.add_cluster(f"aks-{i}", resource_group="rg-a" if i % 2 else "rg-b", tags={"n": str(i)})
    with ArmSimulator(tenant, page_size=3) as sim:
        point_at(sim, monkeypatch)

        async def scenario() -> tuple[list[Any], list[Any]]:
            async with arm_clients(sim, subscription.subscription_id) as clients:
                return (
                    [c async for c in clients.clusters.managed_clusters.list()],
                    [c async for c in clients.clusters.managed_clusters.list_by_resource_group("RG-A")],
                )

        clusters, in_group = asyncio.run(scenario())
        pages = [r.query.get("$skipToken") for r in sim.requests if r.path.endswith("managedClusters")]
    assert [c.name for c in clusters] == [f"aks-{i}" for i in range(7)]
    assert [c.name for c in in_group] == ["aks-1", "aks-3", "aks-5"]
    assert pages == [None, "3", "6", None]  # three clusters in rg-a fill exactly one page
    cluster = clusters[1]
    assert (
        cluster.id == f"/subscriptions/{subscription.subscription_id}/resourcegroups/rg-a/providers/"
        "Microsoft.ContainerService/managedClusters/aks-1"
    )
    assert cluster.tags == {"n": "1"}
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.fqdn.endswith(".hcp.westeurope.azmk8s.io")


def test_cluster_get_and_categories(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)

    async def scenario() -> tuple[Any, list[Any]]:
        async with arm_clients(sim, cluster.subscription_id) as clients:
            got = await clients.clusters.managed_clusters.get("RG-PROD", "AKS-0")
            categories = [c async for c in clients.monitor.diagnostic_settings_category.list(cluster.id)]
            return got, categories

    got, categories = asyncio.run(scenario())
    assert got.id == cluster.id
    by_name = {c.name: c for c in categories}
    assert by_name["kube-audit"].category_groups == ["audit", "allLogs"]
    assert by_name["kube-apiserver"].category_groups == ["allLogs"]
    assert by_name["AllMetrics"].category_type == "Metrics"
    assert len(by_name) == 12


def test_lower_case_and_canonical_ids_route(sim: ArmSimulator, tenant: Tenant) -> None:
    subscription = tenant.subscriptions[0]
    lower = subscription.add_cluster("AKS-Lower", resource_group="RG-Mixed", id_style="lower")
    canonical = subscription.add_cluster("aks-canonical", resource_group="rg-x", id_style="canonical")
    lower.set_setting("d", setting([{"category": "kube-audit", "enabled": True}], WS1))
    canonical.set_setting("d", setting([{"category": "kube-audit", "enabled": True}], WS1))
    assert lower.id == lower.id.lower()
    assert "/resourceGroups/rg-x/" in canonical.id
    assert tenant.find_cluster(canonical.id.replace("resourceGroups", "resourcegroups").upper()) is canonical

    async def scenario() -> list[list[str]]:
        async with arm_clients(sim, subscription.subscription_id) as clients:
            ids = [lower.id, lower.id.upper(), canonical.id, canonical.id.replace("resourceGroups", "resourcegroups")]
            return [[s.id async for s in clients.monitor.diagnostic_settings.list(i)] for i in ids]

    results = asyncio.run(scenario())
    assert results[0] == results[1] == [f"{lower.id}/providers/microsoft.insights/diagnosticSettings/d"]
    assert results[2] == results[3] == [f"{canonical.id}/providers/microsoft.insights/diagnosticSettings/d"]


def test_forbidden_and_unknown_resources(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    cluster.forbidden = True
    locked = tenant.add_subscription("Locked", forbidden=True)
    missing = cluster.id.replace("aks-0", "aks-gone")

    async def scenario() -> list[Exception]:
        errors: list[Exception] = []
        async with arm_clients(sim, cluster.subscription_id) as clients:
            for call in (
                lambda: clients.monitor.diagnostic_settings.list(cluster.id),
                lambda: clients.monitor.diagnostic_settings.list(missing),
            ):
                try:
                    [s async for s in call()]
                except HttpResponseError as exc:
                    errors.append(exc)
            try:
                await clients.monitor.diagnostic_settings.get(tenant.subscriptions[0].clusters[1].id, "nope")
            except HttpResponseError as exc:
                errors.append(exc)
        async with arm_clients(sim, locked.subscription_id) as clients:
            try:
                [c async for c in clients.clusters.managed_clusters.list()]
            except HttpResponseError as exc:
                errors.append(exc)
        async with arm_clients(sim, "11111111-2222-3333-4444-555555555555") as clients:
            try:
                [c async for c in clients.clusters.managed_clusters.list()]
            except HttpResponseError as exc:
                errors.append(exc)
        return errors

    errors = asyncio.run(scenario())
    assert [(e.status_code, e.error.code if e.error else None) for e in errors] == [  # type: ignore[attr-defined]
        (403, "AuthorizationFailed"),
        (404, "ResourceNotFound"),
        (404, "ResourceNotFound"),
        (403, "AuthorizationFailed"),
        (404, "SubscriptionNotFound"),
    ]
    assert isinstance(errors[1], ResourceNotFoundError)
    status, _, body = asyncio.run(raw(sim, "GET", "/providers/Microsoft.Nothing/things"))
    assert status == 404
    assert body["error"]["code"]


def test_removed_cluster_is_gone(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    tenant.remove_cluster(cluster.id.upper().replace("RESOURCEGROUPS", "resourceGroups"))
    assert tenant.find_cluster(cluster.id) is None
    assert cluster not in tenant.subscriptions[0].clusters
    status, _, body = asyncio.run(raw(sim, "GET", f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings"))
    assert (status, body["error"]["code"]) == (404, "ResourceNotFound")
    with pytest.raises(KeyError):
        tenant.remove_cluster(cluster.id)


# --- diagnostic settings ---------------------------------------------------------------------------------


def test_setting_put_get_list_delete(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    audit = [{"category": "kube-audit", "enabled": True}, {"category": "kube-audit-admin", "enabled": True}]

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with arm_clients(sim, cluster.subscription_id) as clients:
            settings = clients.monitor.diagnostic_settings
            out["empty"] = [s async for s in settings.list(cluster.id)]
            out["put"] = await settings.create_or_update(cluster.id, "Audit-Logs", diagnostic(audit))
            out["get"] = await settings.get(cluster.id, "audit-logs")
            out["list"] = [s async for s in settings.list(cluster.id)]
            await settings.delete(cluster.id, "audit-logs")
            await settings.delete(cluster.id, "audit-logs")
            try:
                await settings.get(cluster.id, "audit-logs")
            except ResourceNotFoundError as exc:
                out["gone"] = exc
        return out

    out = asyncio.run(scenario())
    assert out["empty"] == []
    assert out["put"].name == out["get"].name == "Audit-Logs"
    assert out["get"].id == f"{cluster.id}/providers/microsoft.insights/diagnosticSettings/Audit-Logs"
    assert [(entry.category, entry.enabled) for entry in out["get"].logs] == [
        ("kube-audit", True),
        ("kube-audit-admin", True),
    ]
    assert out["get"].workspace_id == WS1
    assert [s.name for s in out["list"]] == ["Audit-Logs"]
    assert "gone" in out
    assert cluster.settings == {}
    assert [r.status for r in sim.requests if r.method == "DELETE"] == [200, 204]
    status, headers, _ = asyncio.run(
        raw(
            sim,
            "PUT",
            f"{cluster.id}/providers/microsoft.insights/diagnosticSettings/again",
            body={"properties": setting(audit, WS1)},
        )
    )
    assert status == 200
    assert headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    assert list(cluster.settings) == ["again"]


def test_put_refuses_a_sixth_setting_but_updates_existing(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    for i in range(5):
        cluster.set_setting(f"s{i}", setting([{"category": "kube-audit", "enabled": True}], f"{WS1}{i}"))

    async def scenario() -> tuple[HttpResponseError | None, Any]:
        async with arm_clients(sim, cluster.subscription_id) as clients:
            settings = clients.monitor.diagnostic_settings
            refused = None
            try:
                await settings.create_or_update(
                    cluster.id, "sixth", diagnostic([{"category": "guard", "enabled": True}])
                )
            except HttpResponseError as exc:
                refused = exc
            updated = await settings.create_or_update(
                cluster.id, "S0", diagnostic([{"category": "kube-audit-admin", "enabled": True}], WS2)
            )
            return refused, updated

    refused, updated = asyncio.run(scenario())
    assert refused is not None
    assert refused.status_code == 400
    assert "more than 5 diagnostic settings" in str(refused.message)
    assert updated.name == "s0"
    assert cluster.settings["s0"]["workspaceId"] == WS2
    assert len(cluster.settings) == 5


def test_put_refuses_reused_sink_for_same_category(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    cluster.set_setting(
        "existing",
        setting([{"category": "kube-audit", "enabled": True}, {"category": "kube-apiserver", "enabled": False}], WS1),
    )

    async def put(name: str, logs: list[dict[str, Any]], workspace: str) -> str:
        async with arm_clients(sim, cluster.subscription_id) as clients:
            try:
                await clients.monitor.diagnostic_settings.create_or_update(
                    cluster.id, name, diagnostic(logs, workspace)
                )
            except HttpResponseError as exc:
                messages.append(exc.error.message if exc.error else "")
                return f"{exc.status_code} {exc.error.code if exc.error else ''}"
            return "200"

    messages: list[str] = []
    reused = "409 Conflict"  # flat body {"code", "message"}, read by the SDK like the wrapped one
    audit = [{"category": "kube-audit", "enabled": True}]
    assert asyncio.run(put("same", audit, WS1.upper())) == reused
    assert asyncio.run(put("group", [{"categoryGroup": "audit", "enabled": True}], WS1)) == reused
    assert asyncio.run(put("other-category", [{"category": "kube-audit-admin", "enabled": True}], WS1)) == "200"
    assert asyncio.run(put("disabled-there", [{"category": "kube-apiserver", "enabled": True}], WS1)) == "200"
    assert asyncio.run(put("other-sink", audit, WS2)) == "200"
    assert asyncio.run(put("existing", audit, WS2)) == reused  # other-sink sends kube-audit there
    # Updating a setting never conflicts with its own previous version.
    scheduler = [*audit, {"category": "kube-scheduler", "enabled": True}]
    assert asyncio.run(put("existing", scheduler, WS1)) == "200"
    assert messages[0] == (
        f"Data sink '{WS1.upper()}' is already used in diagnostic setting 'existing' for category 'kube-audit'. "
        "Data sinks can't be reused in different settings on the same category for the same resource."
    )


@pytest.mark.parametrize(
    ("logs", "workspace", "message"),
    [
        ([{"category": "kube-nonsense", "enabled": True}], WS1, "Category 'kube-nonsense' is not supported."),
        ([{"categoryGroup": "security", "enabled": True}], WS1, "Category group 'security' is not supported."),
        ([{"category": "kube-audit", "enabled": True}], "", "At least one destination"),
    ],
)
def test_put_refuses_invalid_categories_and_no_destination(
    sim: ArmSimulator, tenant: Tenant, logs: list[dict[str, Any]], workspace: str, message: str
) -> None:
    cluster = first_cluster(tenant)
    path = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/bad"
    status, _, body = asyncio.run(raw(sim, "PUT", path, body={"properties": setting(logs, workspace)}))
    assert (status, body["code"]) == (400, "BadRequest")  # microsoft.insights answers flat, not inside "error"
    assert body["message"].startswith(message)
    assert cluster.settings == {}


def test_writes_to_a_disabled_subscription_conflict(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    tenant.subscriptions[0].state = "Disabled"
    path = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/x"
    status, _, body = asyncio.run(raw(sim, "PUT", path, body={"properties": setting([], WS1)}))
    assert (status, body["error"]["code"]) == (409, "ReadOnlyDisabledSubscription")
    assert asyncio.run(raw(sim, "GET", path[: path.rindex("/")]))[0] == 200


# --- throttling and faults -------------------------------------------------------------------------------


def test_throttle_answers_429_with_retry_after(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    other = tenant.add_subscription("Other").add_cluster("aks-other")
    path = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings"
    assert asyncio.run(raw(sim, "GET", path))[1]["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    sim.set_throttle(Throttle(bucket=3, refill_per_second=0.5))

    async def scenario() -> list[tuple[int, dict[str, str], Any]]:
        token = await token_for(sim)
        return [await raw(sim, "GET", p, token=token) for p in [path] * 4 + [other.id, "/subscriptions"]]

    answers = asyncio.run(scenario())
    reads = [a[1].get("x-ms-ratelimit-remaining-subscription-reads") for a in answers]
    assert [a[0] for a in answers] == [200, 200, 200, 429, 200, 200]
    assert reads == ["2", "1", "0", "0", "2", None]
    assert answers[3][1]["Retry-After"] == "2"
    assert answers[3][2]["error"]["code"] == "SubscriptionRequestsThrottled"
    put = asyncio.run(raw(sim, "PUT", f"{path}/w", body={"properties": setting([], WS1)}))
    assert (put[0], put[1]["x-ms-ratelimit-remaining-subscription-writes"]) == (200, "199")


def test_fault_fires_given_times_then_sdk_retry_succeeds(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    fault = sim.add_fault(Fault(match=r"/diagnosticSettings$", status=503, times=2))
    sim.add_fault(Fault(match=r"/diagnosticSettings$", method="PUT", status=409))

    async def scenario() -> list[Any]:
        async with arm_clients(sim, cluster.subscription_id) as clients:
            return [s async for s in clients.monitor.diagnostic_settings.list(cluster.id)]

    assert asyncio.run(scenario()) == []
    assert fault.fired == 2
    assert [r.status for r in sim.requests if r.path.endswith("diagnosticSettings")] == [503, 503, 200]
    sim.clear_faults()
    sim.add_fault(Fault(match="^/subscriptions$", status=429, retry_after=7))
    status, headers, body = asyncio.run(raw(sim, "GET", "/subscriptions"))
    assert (status, headers["Retry-After"], body["error"]["code"]) == (429, "7", "TooManyRequests")


def test_fault_probability_is_repeatable_with_a_seed() -> None:
    def fired(seed: int) -> int:
        fault = Fault(match="x", probability=0.5, seed=seed)
        return sum(fault.fires("GET", "/x") for _ in range(200))

    assert fired(1) == fired(1)
    assert 60 < fired(1) < 140


def test_hang_times_out_client_without_blocking_server(sim: ArmSimulator, tenant: Tenant) -> None:
    hung, healthy = tenant.subscriptions[0].clusters[:2]
    sim.add_fault(Fault(match=f"{hung.name}/providers", hang=True))

    async def scenario() -> tuple[BaseException | None, bool, float]:
        async with arm_clients(sim, hung.subscription_id, retry_total=0) as clients:
            settings = clients.monitor.diagnostic_settings

            async def read_hung() -> list[Any]:
                return [s async for s in settings.list(hung.id, read_timeout=0.5)]

            started = time.monotonic()
            hung_read = asyncio.create_task(read_hung())
            await asyncio.sleep(0.05)
            assert [s async for s in settings.list(healthy.id)] == []
            answered_meanwhile = not hung_read.done()
            [error] = await asyncio.gather(hung_read, return_exceptions=True)
            return error if isinstance(error, BaseException) else None, answered_meanwhile, time.monotonic() - started

    error, answered_meanwhile, elapsed = asyncio.run(scenario())
    assert isinstance(error, ServiceResponseError)
    assert answered_meanwhile
    assert elapsed < 3
    assert [r.status for r in sim.requests if hung.name in r.path] == [None]
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2
    assert [r.status for r in sim.requests if hung.name in r.path] == [0]


def test_reset_drops_the_connection(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    sim.add_fault(Fault(match="/diagnosticSettings$", reset=True))
    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(raw(sim, "GET", f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings"))
    sim.clear_faults()
    sim.clear_requests()
    sim.add_fault(Fault(match="/diagnosticSettings$", reset=True, times=1))

    async def scenario() -> list[Any]:
        async with arm_clients(sim, cluster.subscription_id) as clients:
            return [s async for s in clients.monitor.diagnostic_settings.list(cluster.id)]

    assert asyncio.run(scenario()) == []
    assert [r.status for r in sim.requests] == [0, 200]


def test_fault_on_identity_endpoint(sim: ArmSimulator) -> None:
    sim.add_fault(Fault(match="/msi/token", status=500, times=1))
    assert asyncio.run(token_for(sim))
    assert [r.status for r in sim.token_requests] == [500, 200]
    assert sim.requests == []


# --- samples and the standalone server -------------------------------------------------------------------


def test_demo_tenant_covers_the_shapes() -> None:
    tenant = demo_tenant()
    by_name = {c.name: c for s in tenant.subscriptions for c in s.clusters}
    states = {s.display_name: s.state for s in tenant.subscriptions}
    assert states == {
        "Contoso Production": "Enabled",
        "Contoso Staging": "Enabled",
        "Contoso Sandbox": "Enabled",
        "Contoso Legacy": "Disabled",
        "Contoso Research": "Enabled",
    }
    research = next(s for s in tenant.subscriptions if s.display_name == "Contoso Research")
    assert not research.registered("Microsoft.ContainerService")
    assert research.clusters == []
    assert by_name["aks-analytics-muc"].resource_group == "rg-analytics-münchen"
    assert len(by_name) == 17
    assert by_name["aks-reporting-prod-neu"].forbidden
    billing = by_name["aks-billing-prod-weu"].settings["audit-to-billing-law"]["workspaceId"]
    assert tenant.find_destination(billing) is None  # the setting names a deleted workspace
    telemetry = by_name["aks-telemetry-prod-neu"].settings["audit-to-telemetry-law"]["workspaceId"]
    assert tenant.find_destination(telemetry).ingestion == "OverQuota"
    assert by_name["aks-payments-stg-weu"].settings == {}
    assert by_name["aks-ml-stg-eus"].settings["orphaned-destination"]["workspaceId"] == ""
    assert by_name["aks-payments-prod-weu"].settings["send-to-security-law"]["workspaceId"] == WORKSPACE
    assert by_name["aks-hackathon-2023"].tags["aks-audit-exempt"] == "2024-01-31"
    assert demo_tenant().find_cluster(by_name["aks-legacy-batch"].id) is not None
    assert {c.id for c in demo_tenant().subscriptions[0].clusters} == {c.id for c in tenant.subscriptions[0].clusters}


def test_scale_tenant_is_deterministic() -> None:
    def snapshot(seed: int) -> list[tuple[str, dict[str, Any]]]:
        return [(c.id, c.settings) for s in scale_tenant(2, 50, seed=seed).subscriptions for c in s.clusters]

    first = snapshot(3)
    assert first == snapshot(3)
    assert first != snapshot(4)
    assert len(first) == 100
    without_settings = sum(1 for _, settings in first if not settings)
    assert 0 < without_settings < 30  # one failing shape of four has no setting at all


def test_serve_subprocess_prints_env_and_serves() -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "azsim",
            "serve",
            "--subscriptions",
            "1",
            "--clusters-per-subscription",
            "5",
            "--page-size",
            "2",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        env = json.loads(server.stdout.readline())
        assert set(env) >= {"AUDITOR_ARM_ENDPOINT", "SSL_CERT_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
        # A fresh process whose environment is set before aiohttp is imported: the SDK's default transport
        # trusts the CA through SSL_CERT_FILE alone.
        client = subprocess.run(
            [sys.executable, "-c", CLIENT_SCRIPT],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.split() == ["5"]
        assert server.stdin is not None
        server.stdin.close()
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


CLIENT_SCRIPT = """
import asyncio, os
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.containerservice.aio import ContainerServiceClient
from azure.mgmt.resource.subscriptions.aio import SubscriptionClient

async def main():
    endpoint = os.environ["AUDITOR_ARM_ENDPOINT"]
    options = {"base_url": endpoint, "credential_scopes": [endpoint + "/.default"]}
    async with DefaultAzureCredential() as credential:
        async with SubscriptionClient(credential, **options) as subscriptions:
            [subscription] = [s async for s in subscriptions.subscriptions.list()]
        async with ContainerServiceClient(credential, subscription.subscription_id, **options) as clusters:
            print(len([c async for c in clusters.managed_clusters.list()]))

asyncio.run(main())
"""


# --- real-world answers -------------------------------------------------------------------------------------


def test_provider_registration_is_read_and_an_unregistered_list_answers_as_configured(
    sim: ArmSimulator, tenant: Tenant
) -> None:
    subscription = tenant.subscriptions[0]
    sid = subscription.subscription_id
    provider = f"/subscriptions/{sid}/providers/Microsoft.ContainerService"
    status, _, body = asyncio.run(raw(sim, "GET", provider))
    assert (status, body["registrationState"]) == (200, "Registered")
    listing = f"{provider}/managedClusters"
    subscription.unregister(answer="409")
    status, _, body = asyncio.run(raw(sim, "GET", listing))
    assert (status, body["error"]["code"]) == (409, "MissingSubscriptionRegistration")
    assert body["error"]["details"][0]["target"] == "Microsoft.ContainerService"
    subscription.unregister(answer="404")
    status, _, body = asyncio.run(raw(sim, "GET", listing))
    assert (status, body["error"]["code"]) == (404, "SubscriptionNotFound")
    subscription.unregister(answer="empty")
    assert asyncio.run(raw(sim, "GET", listing))[2] == {"value": []}
    assert asyncio.run(raw(sim, "GET", provider))[2]["registrationState"] == "NotRegistered"
    status, _, body = asyncio.run(raw(sim, "POST", f"{provider}/register"))  # a Monitoring Contributor may not
    assert (status, body["error"]["code"]) == (403, "AuthorizationFailed")
    assert "'Microsoft.ContainerService/register/action' over scope '/subscriptions/" in body["error"]["message"]
    tenant.access.grant(AUDITOR, Role("registers providers", ("*/register/action",)))  # as Contributor holds it
    status, _, _ = asyncio.run(raw(sim, "POST", f"{provider}/register"))
    assert status == 200
    assert subscription.registered("Microsoft.ContainerService")  # what auto-registration would have done
    assert sim.count(method="POST", contains="/register") == 2


def test_every_answer_carries_the_principal_and_the_global_remaining_counts(sim: ArmSimulator, tenant: Tenant) -> None:
    path = (
        f"/subscriptions/{tenant.subscriptions[0].subscription_id}/providers/Microsoft.ContainerService/managedClusters"
    )
    _, headers, _ = asyncio.run(raw(sim, "GET", path))
    assert headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assert headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "3749"


def test_principals_have_their_own_buckets_but_share_the_global_one(tenant: Tenant, monkeypatch) -> None:
    """ARM's 2024 model: per subscription, principal and operation, plus a global bucket 15x one principal's."""
    with ArmSimulator(tenant, throttle=Throttle(bucket=2, refill_per_second=0.01)) as sim:
        sid = tenant.subscriptions[0].subscription_id
        path = f"/subscriptions/{sid}/providers/Microsoft.ContainerService/managedClusters"

        async def reads(principal: str, count: int) -> list[tuple[int, dict[str, str]]]:
            tenant.access.grant(principal, READER)
            token = sim.issue_token(principal)
            return [
                (status, headers)
                for status, headers, _ in [await raw(sim, "GET", path, token=token) for _ in range(count)]
            ]

        first = asyncio.run(reads("app-one", 3))
        assert [status for status, _ in first] == [200, 200, 429]
        throttled = first[2][1]
        assert throttled["Retry-After"].isdigit()
        assert throttled["x-ms-ratelimit-remaining-subscription-global-reads"] == str(30 - 2)  # 2x15, 2 taken
        other = asyncio.run(reads("app-two", 2))
        assert [status for status, _ in other] == [200, 200]  # its own bucket, the same global one
        assert other[1][1]["x-ms-ratelimit-remaining-subscription-global-reads"] == str(30 - 4)


def test_new_settings_may_not_enable_retention_and_non_ascii_resources_take_none(
    sim: ArmSimulator, tenant: Tenant
) -> None:
    cluster = first_cluster(tenant)
    retained = [{"category": "kube-audit", "enabled": True, "retentionPolicy": {"enabled": True, "days": 30}}]
    path = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/new"
    status, _, body = asyncio.run(raw(sim, "PUT", path, body={"properties": setting(retained, WS1)}))
    assert (status, body) == (
        400,
        {
            "code": "BadRequest",
            "message": "Diagnostic settings does not support retention for new diagnostic settings.",
        },
    )
    munich = tenant.subscriptions[0].add_cluster("aks-muc", "rg-münchen")
    encoded = munich.id.replace("münchen", "m%C3%BCnchen")
    status, _, body = asyncio.run(
        raw(
            sim,
            "PUT",
            f"{encoded}/providers/Microsoft.Insights/diagnosticSettings/a",
            body={"properties": setting([], WS1)},
        )
    )
    assert (status, body["code"]) == (400, "BadRequest")
    assert asyncio.run(raw(sim, "GET", f"{encoded}/providers/Microsoft.Insights/diagnosticSettings"))[2] == {
        "value": []
    }


def test_an_encoded_slash_stays_inside_its_segment(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    sneaky = cluster.id.replace(
        f"/resourcegroups/{cluster.resource_group}", f"/resourcegroups/{cluster.resource_group}%2F.."
    )
    status, _, _ = asyncio.run(raw(sim, "GET", sneaky))
    assert status == 404


def test_reads_right_after_a_change_see_the_state_before_it(sim: ArmSimulator, tenant: Tenant) -> None:
    cluster = first_cluster(tenant)
    tenant.read_lag = 1
    cluster.set_setting("new", setting([{"category": "kube-audit", "enabled": True}], WS1))
    get = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/new"
    assert asyncio.run(raw(sim, "GET", get))[0] == 404  # as ARM can answer right after a PUT
    assert asyncio.run(raw(sim, "GET", get))[0] == 200
