"""The simulation of the audit trail: destinations over ARM, the Log Analytics query API and the storage
accounts' blob service, driven by the real SDK clients (azure-core pipelines, azure-monitor-query,
azure-storage-blob) with DefaultAzureCredential."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import AioHttpTransport
from azure.core.rest import HttpRequest
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.containerservice.aio import ContainerServiceClient
from azure.monitor.query import LogsQueryPartialResult
from azure.monitor.query.aio import LogsQueryClient
from azure.storage.blob.aio import BlobServiceClient
from support import STORAGE, WORKSPACE, audit_setting, point_at

from auditor.azure.delivery import QUERY
from azsim import ArmSimulator, Tenant
from azsim.monitor import INGESTION_LATENCY

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "destinations"
AUDIT = ("kube-audit", "kube-audit-admin")


def example(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())["responses"]["200"]["body"]


def tenant_with_destinations() -> Tenant:
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    tenant.add_workspace(WORKSPACE, retention_days=90, tables={"AKSAudit": (90, 730)})
    tenant.add_storage_account(STORAGE).delete_after(180, prefix="insights-logs-kube-audit")
    to_workspace = sub.add_cluster("aks-law")
    to_workspace.set_setting("audit", audit_setting(*AUDIT, logAnalyticsDestinationType="Dedicated"))
    legacy = sub.add_cluster("aks-legacy")
    legacy.set_setting("audit", audit_setting("kube-audit"))
    archived = sub.add_cluster("aks-archive")
    archived.set_setting("archive", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    return tenant


async def arm_get(sim: ArmSimulator, path: str) -> tuple[int, Any]:
    """A GET through the real ARM pipeline (bearer token, retries) of the container-service client."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context()))
    async with (
        DefaultAzureCredential() as credential,
        ContainerServiceClient(
            credential,
            "unused",
            base_url=sim.arm_endpoint,
            credential_scopes=[sim.arm_endpoint + "/.default"],
            transport=AioHttpTransport(session=session, session_owner=False),
            retry_total=0,
        ) as client,
    ):
        response = await client.send_request(HttpRequest("GET", path))
        status, body = response.status_code, response.json() if response.text() else None
    await session.close()
    return status, body


@pytest.fixture
def trail_sim(monkeypatch: pytest.MonkeyPatch):
    tenant = tenant_with_destinations()
    with ArmSimulator(tenant, blob_service=True) as sim:
        point_at(sim, monkeypatch)
        yield sim


def test_a_workspace_answers_in_the_spec_shape_with_its_capping(trail_sim: ArmSimulator) -> None:
    status, body = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}?api-version=2025-02-01"))
    spec = example("WorkspacesGet.json")
    assert status == 200
    assert set(spec) <= set(body)
    assert set(spec["properties"]) <= set(body["properties"])
    assert body["properties"]["workspaceCapping"] == {
        "dailyQuotaGb": -1.0,
        "quotaNextResetTime": "",
        "dataIngestionStatus": "RespectQuota",
    }
    trail_sim.tenant.find_destination(WORKSPACE).cap("OverQuota", resets_in_hours=2)
    _, capped = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}?api-version=2025-02-01"))
    assert capped["properties"]["workspaceCapping"]["dataIngestionStatus"] == "OverQuota"
    assert capped["properties"]["workspaceCapping"]["quotaNextResetTime"].endswith(" GMT")


def test_tables_answer_their_own_or_the_default_retention(trail_sim: ArmSimulator) -> None:
    spec = example("TablesGet.json")
    _, audit = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}/tables/AKSAudit?api-version=2025-02-01"))
    _, admin = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}/tables/aksauditadmin?api-version=2025-02-01"))
    assert {"retentionInDays", "totalRetentionInDays", "archiveRetentionInDays", "plan"} <= set(spec["properties"])
    assert (audit["properties"]["retentionInDays"], audit["properties"]["totalRetentionInDays"]) == (90, 730)
    assert audit["properties"]["archiveRetentionInDays"] == 640
    assert admin["properties"]["totalRetentionInDays"] == 90
    assert admin["properties"]["totalRetentionInDaysAsDefault"] is True
    status, _ = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}/tables/NoSuchTable?api-version=2025-02-01"))
    assert status == 404


def test_a_storage_account_and_its_lifecycle_policy_answer_in_the_spec_shape(trail_sim: ArmSimulator) -> None:
    _, account = asyncio.run(arm_get(trail_sim, f"{STORAGE}?api-version=2023-05-01"))
    _, policy = asyncio.run(arm_get(trail_sim, f"{STORAGE}/managementPolicies/default?api-version=2023-05-01"))
    assert set(example("StorageAccountGetProperties.json")) <= set(account)
    assert account["properties"]["primaryEndpoints"]["blob"].startswith("https://127.0.0.1:")
    (rule,) = policy["properties"]["policy"]["rules"]
    spec_rule = example("StorageAccountGetManagementPolicy.json")["properties"]["policy"]["rules"][0]
    assert set(spec_rule) == set(rule)
    assert rule["definition"]["filters"]["blobTypes"] == ["appendBlob"]
    trail_sim.tenant.find_destination(STORAGE).lifecycle_rules = None
    status, body = asyncio.run(arm_get(trail_sim, f"{STORAGE}/managementPolicies/default?api-version=2023-05-01"))
    assert (status, body["error"]["code"]) == (404, "ManagementPolicyNotFound")


def test_a_deleted_or_forbidden_destination_answers_like_arm(trail_sim: ArmSimulator) -> None:
    trail_sim.tenant.find_destination(STORAGE).forbidden = True
    status, body = asyncio.run(arm_get(trail_sim, f"{STORAGE}?api-version=2023-05-01"))
    assert (status, body["error"]["code"]) == (403, "AuthorizationFailed")
    assert "Microsoft.Storage/storageAccounts/read" in body["error"]["message"]
    trail_sim.tenant.remove_destination(WORKSPACE)
    status, body = asyncio.run(arm_get(trail_sim, f"{WORKSPACE}?api-version=2025-02-01"))
    assert (status, body["error"]["code"]) == (404, "ResourceNotFound")
    other = WORKSPACE.replace("0b1f6471-1bf0-4dda-aec3-cb9272f09590", "11111111-2222-4333-8444-555555555555")
    status, body = asyncio.run(arm_get(trail_sim, f"{other}?api-version=2025-02-01"))
    assert (status, body["error"]["code"]) == (404, "SubscriptionNotFound")


def test_settings_carry_system_data_and_clusters_their_power_state(trail_sim: ArmSimulator) -> None:
    cluster = trail_sim.tenant.clusters[0]
    _, setting = asyncio.run(
        arm_get(trail_sim, f"{cluster.id}/providers/microsoft.insights/diagnosticSettings/audit?api-version=x")
    )
    created = datetime.fromisoformat(setting["systemData"]["createdAt"].replace("0Z", "+00:00"))
    assert timedelta(days=29) < datetime.now(UTC) - created < timedelta(days=31)
    cluster.stop()
    _, body = asyncio.run(arm_get(trail_sim, f"{cluster.id}?api-version=2025-10-01"))
    assert body["properties"]["powerState"] == {"code": "Stopped"}


async def logs_query(sim: ArmSimulator, customer_id: str, query: str = QUERY, hours: float = 24) -> Any:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context()))
    async with (
        DefaultAzureCredential() as credential,
        LogsQueryClient(
            credential,
            endpoint=sim.logs_endpoint,
            transport=AioHttpTransport(session=session, session_owner=False),
            retry_total=0,
        ) as client,
    ):
        try:
            return await client.query_workspace(customer_id, query, timespan=timedelta(hours=hours))
        finally:
            await session.close()


def test_the_query_api_answers_the_newest_record_per_cluster_and_category(trail_sim: ArmSimulator) -> None:
    workspace = trail_sim.tenant.find_destination(WORKSPACE)
    answer = asyncio.run(logs_query(trail_sim, workspace.customer_id))
    (table,) = answer.tables
    assert table.columns == ["ResourceId", "Category", "Last", "SourceTable"]
    rows = {(row[0].rsplit("/", 1)[-1], row[1], row[3]) for row in table.rows}
    assert rows == {
        ("aks-law", "kube-audit", "AKSAudit"),
        ("aks-law", "kube-audit-admin", "AKSAuditAdmin"),
        ("aks-legacy", "kube-audit", "AzureDiagnostics"),
    }
    newest = max(row[2] for row in table.rows)
    assert isinstance(newest, datetime)  # typed as datetime, parsed by the SDK
    assert datetime.now(UTC) - newest >= INGESTION_LATENCY - timedelta(seconds=5)
    assert trail_sim.logs.queries == [workspace.customer_id]


def test_a_silent_cluster_has_no_rows_and_a_capped_workspace_none_since_its_cap(trail_sim: ArmSimulator) -> None:
    tenant = trail_sim.tenant
    workspace = tenant.find_destination(WORKSPACE)
    next(c for c in tenant.clusters if c.name == "aks-legacy").silent_since = datetime.now(UTC) - timedelta(hours=30)
    (table,) = asyncio.run(logs_query(trail_sim, workspace.customer_id)).tables
    assert {row[0].rsplit("/", 1)[-1] for row in table.rows} == {"aks-law"}
    workspace.cap("OverQuota", hours_ago=5)
    (table,) = asyncio.run(logs_query(trail_sim, workspace.customer_id, hours=4)).tables
    assert table.rows == []


def test_the_query_api_refuses_like_the_real_one(trail_sim: ArmSimulator, monkeypatch) -> None:
    workspace = trail_sim.tenant.find_destination(WORKSPACE)
    with pytest.raises(HttpResponseError) as other_query:
        asyncio.run(logs_query(trail_sim, workspace.customer_id, "Heartbeat | take 1"))
    assert other_query.value.status_code == 400
    workspace.query_answer = "partial"
    assert isinstance(asyncio.run(logs_query(trail_sim, workspace.customer_id)), LogsQueryPartialResult)
    workspace.query_answer = "forbidden"
    with pytest.raises(HttpResponseError) as refused:
        asyncio.run(logs_query(trail_sim, workspace.customer_id))
    assert refused.value.status_code == 403
    assert "InsufficientAccessError" in str(refused.value)
    with pytest.raises(HttpResponseError) as unknown:
        asyncio.run(logs_query(trail_sim, "00000000-0000-4000-8000-000000000000"))
    assert (unknown.value.status_code, "WorkspaceNotFoundError" in str(unknown.value)) == (404, True)
    with pytest.raises(HttpResponseError) as named:
        asyncio.run(logs_query(trail_sim, "la-security"))  # a name, not the workspace's customer ID
    assert (named.value.status_code, "PathNotFoundError" in str(named.value)) == (404, True)


def test_the_query_api_throttles_each_principal_with_retry_after(trail_sim: ArmSimulator) -> None:
    workspace = trail_sim.tenant.find_destination(WORKSPACE)
    trail_sim.logs.limit = (1, 30.0)
    asyncio.run(logs_query(trail_sim, workspace.customer_id))
    with pytest.raises(HttpResponseError) as throttled:
        asyncio.run(logs_query(trail_sim, workspace.customer_id))  # retry_total=0: the 429 reaches us
    assert throttled.value.status_code == 429
    assert int(throttled.value.response.headers["Retry-After"]) >= 1


def test_the_query_api_wants_a_token_for_itself(trail_sim: ArmSimulator) -> None:
    async def with_arm_token() -> int:
        async with DefaultAzureCredential() as credential:
            token = (await credential.get_token(trail_sim.arm_endpoint + "/.default")).token
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=trail_sim.ca_file))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.post(
                f"{trail_sim.logs_endpoint}/v1/workspaces/x/query",
                json={"query": QUERY},
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert (await response.json())["error"]["code"] == "InvalidAuthenticationTokenAudience"
            return response.status

    assert asyncio.run(with_arm_token()) == 403


def test_tokens_are_shaped_like_entra_access_tokens(trail_sim: ArmSimulator) -> None:
    async def token() -> str:
        async with DefaultAzureCredential() as credential:
            return (await credential.get_token("https://storage.azure.com/.default")).token

    _header, claims, signature = asyncio.run(token()).split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["aud"] == "https://storage.azure.com"
    assert decoded["iss"] == f"https://sts.windows.net/{trail_sim.tenant.tenant_id}/"
    assert decoded["nbf"] <= decoded["iat"] < decoded["exp"]
    assert signature


async def list_audit_blobs(sim: ArmSimulator, account_url: str) -> list[str]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context()))
    async with (
        DefaultAzureCredential() as credential,
        BlobServiceClient(
            account_url,
            credential,
            audience="https://storage.azure.com",
            transport=AioHttpTransport(session=session, session_owner=False),
            retry_total=0,
        ) as client,
    ):
        try:
            container = client.get_container_client("insights-logs-kube-audit")
            return [blob.name async for blob in container.list_blobs(name_starts_with="resourceId=/")]
        finally:
            await session.close()


def test_storage_holds_the_hourly_append_blobs_azure_monitor_writes(trail_sim: ArmSimulator) -> None:
    _, account = asyncio.run(arm_get(trail_sim, f"{STORAGE}?api-version=2023-05-01"))
    names = asyncio.run(list_audit_blobs(trail_sim, account["properties"]["primaryEndpoints"]["blob"]))
    (name,) = names
    cluster = next(c for c in trail_sim.tenant.clusters if c.name == "aks-archive")
    assert name.startswith(f"resourceId={cluster.id.upper()}/y=")
    assert name.endswith("/m=00/PT1H.json")
    assert {r.method for r in trail_sim.blob_requests} == {"GET"}
    assert trail_sim.deliver() == 2  # appending again: one record per category
    assert asyncio.run(list_audit_blobs(trail_sim, account["properties"]["primaryEndpoints"]["blob"])) == names


def test_the_blob_front_refuses_an_identity_without_a_data_role(trail_sim: ArmSimulator) -> None:
    _, account = asyncio.run(arm_get(trail_sim, f"{STORAGE}?api-version=2023-05-01"))
    trail_sim.tenant.find_destination(STORAGE).blob_access = "denied"
    with pytest.raises(HttpResponseError) as denied:
        asyncio.run(list_audit_blobs(trail_sim, account["properties"]["primaryEndpoints"]["blob"]))
    assert denied.value.status_code == 403
    assert denied.value.error_code == "AuthorizationPermissionMismatch"


def test_without_a_blob_service_the_front_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = tenant_with_destinations()
    with ArmSimulator(tenant) as sim:
        point_at(sim, monkeypatch)
        _, account = asyncio.run(arm_get(sim, f"{STORAGE}?api-version=2023-05-01"))
        with pytest.raises(HttpResponseError) as unavailable:
            asyncio.run(list_audit_blobs(sim, account["properties"]["primaryEndpoints"]["blob"]))
        assert unavailable.value.status_code == 503
        with pytest.raises(RuntimeError, match="blob_service=True"):
            sim.deliver()
