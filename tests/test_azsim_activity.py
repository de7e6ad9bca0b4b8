"""The simulated Activity Log, read through azure-mgmt-monitor's ActivityLogsOperations (2015-04-01), and the
callers the simulation records: every write it serves, and changes tests make on a principal's behalf."""

from __future__ import annotations

import asyncio
import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.monitor.v2015_04_01.aio import MonitorManagementClient
from support import audit_setting, point_at

from azsim import ArmSimulator, Tenant
from azsim.activity import PAGE_SIZE
from azsim.principals import user
from azsim.roles import MONITORING_CONTRIBUTOR

EXAMPLE = Path(__file__).resolve().parent / "fixtures" / "activity" / "GetActivityLogsFiltered.json"
ALICE = user("4a9d3c1e-7b2f-4e8a-9c6d-1f0e2d3c4b5a", "Alice Meyer", "alice@contoso.com")


def window(hours: float = 24, group: str = "rg-apps") -> str:
    now = datetime.now(UTC)
    start = (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"eventTimestamp ge '{start}' and eventTimestamp le '{end}' and resourceGroupName eq '{group}'"


async def events(sim: ArmSimulator, subscription: str, filter_: str, select: str | None = None) -> list:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl.create_default_context()))
    async with (
        DefaultAzureCredential() as credential,
        MonitorManagementClient(
            credential,
            subscription,
            base_url=sim.arm_endpoint,
            credential_scopes=[sim.arm_endpoint + "/.default"],
            transport=AioHttpTransport(session=session, session_owner=False),
            retry_total=0,
        ) as client,
    ):
        try:
            return [entry async for entry in client.activity_logs.list(filter=filter_, select=select)]
        finally:
            await session.close()


@pytest.fixture
def tenant_sim(monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    tenant.add_principal(ALICE)
    tenant.access.grant(ALICE.object_id, MONITORING_CONTRIBUTOR)  # she writes settings through ARM
    cluster = sub.add_cluster("aks-a", "rg-apps", created_by=ALICE, created_days_ago=3)
    cluster.set_setting("audit", audit_setting("kube-audit"), created_days_ago=2, by=ALICE)
    cluster.delete_setting("audit", by=ALICE, hours_ago=1)
    with ArmSimulator(tenant) as sim:
        point_at(sim, monkeypatch)
        yield sim, tenant, sub, cluster


def test_entries_have_the_shape_of_the_spec_example_and_come_newest_first(tenant_sim):
    sim, _, sub, cluster = tenant_sim
    found = asyncio.run(events(sim, sub.subscription_id, window(hours=24 * 4)))
    assert [e.operation_name.value for e in found] == [
        "Microsoft.Insights/diagnosticSettings/delete",
        "Microsoft.Insights/diagnosticSettings/write",
        "Microsoft.ContainerService/managedClusters/write",
    ]
    created = found[-1]
    assert (created.sub_status.value, created.status.value) == ("Created", "Succeeded")
    assert created.caller == "alice@contoso.com"
    assert created.claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] == "alice@contoso.com"
    assert found[0].resource_id == f"{cluster.id}/providers/microsoft.insights/diagnosticSettings/audit"
    example = json.loads(EXAMPLE.read_text())["responses"]["200"]["body"]["value"][0]
    raw = sim.tenant.activity.query(sub.subscription_id, window(hours=24 * 4))[0]
    assert set(example) <= set(raw)  # every field of the spec's example, and the same nesting
    assert set(example["claims"]) & set(raw["claims"]) >= {
        "aud",
        "iss",
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
        "name",
        "appid",
    }


def test_a_write_through_arm_is_recorded_with_the_caller_of_its_token(tenant_sim):
    sim, _tenant, sub, cluster = tenant_sim

    async def put() -> None:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=sim.ca_file))
        ) as session:
            body = {"properties": audit_setting("kube-audit", "kube-audit-admin")}
            async with session.put(
                f"{sim.arm_endpoint}{cluster.setting_id('by-api')}?api-version=2021-05-01-preview",
                json=body,
                headers={"Authorization": f"Bearer {sim.issue_token(ALICE.object_id)}"},
            ) as response:
                assert response.status == 200

    asyncio.run(put())
    newest = asyncio.run(events(sim, sub.subscription_id, window()))[0]
    assert newest.resource_id.endswith("/diagnosticSettings/by-api")
    assert newest.caller == "alice@contoso.com"
    assert newest.http_request.client_ip_address == ALICE.ip


def test_a_listing_pages_and_select_narrows_the_fields(tenant_sim):
    sim, _, sub, cluster = tenant_sim
    for i in range(PAGE_SIZE + 5):
        cluster.set_setting(f"s{i}", audit_setting("kube-audit"), created_days_ago=0.01, by=ALICE)
    found = asyncio.run(events(sim, sub.subscription_id, window(), "operationName,resourceId"))
    assert len(found) == PAGE_SIZE + 5 + 1  # and the delete of an hour ago: two pages, followed by the SDK
    assert found[0].caller is None  # not selected
    assert found[0].operation_name.value == "Microsoft.Insights/diagnosticSettings/write"


def test_nothing_older_than_90_days_and_undocumented_filters_are_refused(tenant_sim):
    sim, _tenant, sub, _ = tenant_sim
    sub.add_cluster("aks-old", "rg-apps", created_by=ALICE, created_days_ago=120)
    found = asyncio.run(events(sim, sub.subscription_id, window(hours=24 * 200)))
    assert all(e.resource_id.rsplit("/", 1)[-1] != "aks-old" for e in found)
    with pytest.raises(HttpResponseError) as refused:
        asyncio.run(events(sim, sub.subscription_id, "resourceGroupName eq 'rg-apps'"))
    assert refused.value.status_code == 400
