"""Least privilege, proven against the simulation: the auditor's custom roles (infra/roles/) hold exactly the
operations the code performs, and the simulation refuses anything outside them as Azure does.

A representative run (a full scan with every destination check, delivery checks, attribution, the event path
and remediation apply) goes through the simulation, which records the operations each request was authorized
against (azsim/access.py, the same mapping that enforces them). Every one is in a role, no role holds one the
run did not need, and the run judges the same under the built-in roles the deployment falls back to.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support import STORAGE, WORKSPACE, arm_event, audit_setting, run_cli, scan_json, statuses
from test_infra import (
    LOG_ANALYTICS_CONTRIBUTOR,
    LOG_ANALYTICS_READER,
    MONITORING_CONTRIBUTOR,
    READER,
    STORAGE_BLOB_DATA_READER,
    bicep,
    bicepparam,
    function,
    module,
    operator,
    param,
    resource,
    variable,
)

from azsim import ArmSimulator, Tenant, roles
from azsim.access import AUDITOR, Need, grant_remediation
from azsim.principals import user
from azsim.roles import AUDITOR_ROLES, CUSTOM_ROLES, Role
from azsim.samples import group_entry, log_entries

LOGS = WORKSPACE.split("/providers/", 1)[0] + "/providers"
HUB = f"{LOGS}/Microsoft.EventHub/namespaces/evhns-siem/authorizationrules/RootManageSharedAccessKey"
PARTNER = f"{LOGS}/Microsoft.Datadog/monitors/dd-security"
AUDIT = ("kube-audit", "kube-audit-admin")
DANA = user("0e6f3a2b-9c1d-4e7a-8b5f-2d4c6e8a0b13", "Dana Kowalski", "dana.kowalski@contoso.com")
RUN = {
    "AUDITOR_ACCEPTED_DESTINATIONS": "workspace,storage,partner,eventhub",
    "AUDITOR_MIN_RETENTION_DAYS": "30",
    "AUDITOR_DELIVERY_LOOKBACK_HOURS": "24",
}
EXPECTED = {
    "aks-law": "pass",
    "aks-groups": "pass",
    "aks-archive": "pass",
    "aks-hub": "pass",
    "aks-partner": "pass",
    "aks-bare": "fail",
    "aks-half": "fail",
}


def representative_tenant() -> Tenant:
    """A cluster per destination kind and setting shape, two failing ones, and a subscription with no clusters."""
    tenant = Tenant()
    tenant.add_workspace(WORKSPACE, retention_days=90)
    tenant.add_storage_account(STORAGE)
    tenant.add_resource(HUB, "Microsoft.EventHub/namespaces/authorizationrules")
    tenant.add_resource(PARTNER, "Microsoft.Datadog/monitors", api_versions=("2023-01-01",))
    tenant.add_principal(DANA)
    production = tenant.add_subscription("Production")
    tenant.add_subscription("Empty")  # its empty listing costs the provider's registration GET
    law = production.add_cluster("aks-law", "rg-law")
    law.set_setting("to-law", audit_setting(*AUDIT, logAnalyticsDestinationType="Dedicated"))
    groups = production.add_cluster("aks-groups", "rg-groups")
    groups.set_setting("grouped", {"workspaceId": WORKSPACE, "logs": group_entry("audit")})
    archive = production.add_cluster("aks-archive", "rg-archive")
    archive.set_setting("archive", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    hub = production.add_cluster("aks-hub", "rg-hub")
    hub.set_setting("siem", audit_setting(*AUDIT, workspace="", eventHubAuthorizationRuleId=HUB, eventHubName="aks"))
    partner = production.add_cluster("aks-partner", "rg-partner")
    partner.set_setting("datadog", audit_setting(*AUDIT, workspace="", marketplacePartnerId=PARTNER))
    production.add_cluster("aks-bare", "rg-bare", created_by=DANA, created_days_ago=2)
    half = production.add_cluster("aks-half", "rg-half")
    half.set_setting("team", {"workspaceId": WORKSPACE, "logs": log_entries("kube-audit")})
    return tenant


def run(sim: ArmSimulator, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Scan (with state: attribution), handle a drift event, remediate: what each part found."""
    for name, value in RUN.items():
        monkeypatch.setenv(name, value)
    code, scanned = scan_json()
    law = next(c for c in tenant.clusters if c.name == "aks-law")
    event = arm_event(
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Insights/diagnosticSettings/write",
        law.setting_id("to-law"),
    )
    (tmp_path / "event.json").write_text(json.dumps([event]))
    handled, out, _ = run_cli("handle-event", str(tmp_path / "event.json"))
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    monkeypatch.setenv("AUDITOR_REMEDIATION_EDIT_EXISTING", "true")
    _, remediated = scan_json()
    return {
        "code": code,
        "statuses": statuses(scanned),
        "changes": {f["name"]: f.get("change", {}).get("actor") for f in scanned["findings"] if f["status"] == "fail"},
        "event": (handled, "PASS" in out and "aks-law" in out),
        "remediation": {f["name"]: f["remediation"]["result"] for f in remediated["findings"] if "remediation" in f},
    }


EXPECTED_RUN = {
    "code": 1,
    "statuses": EXPECTED,
    "changes": {"aks-bare": "dana.kowalski@contoso.com", "aks-half": None},
    "event": (0, True),
    "remediation": {"aks-bare": "applied", "aks-half": "applied"},
}


def needs(sim: ArmSimulator) -> list[Need]:
    """Every operation the run's requests were authorized against: ARM, the Log Analytics query API, blobs."""
    return [need for record in (*sim.requests, *sim.logs_requests, *sim.blob_requests) for need in record.needs]


def test_every_operation_the_code_performs_is_in_a_custom_role_and_no_role_holds_one_it_does_not(
    simulate, storage, monkeypatch, tmp_path
):
    tenant = representative_tenant()
    grant_remediation(tenant.access, WORKSPACE)
    sim = simulate(tenant, blob_service=True)
    assert run(sim, tenant, monkeypatch, tmp_path) == EXPECTED_RUN
    assert not [r for r in (*sim.requests, *sim.logs_requests, *sim.blob_requests) if r.status == 403]
    done = needs(sim)
    uncovered = {n.operation for n in done if not any(role.permits(n.operation, n.data) for role in AUDITOR_ROLES)}
    assert not uncovered
    performed = {(n.operation.lower(), n.data) for n in done}
    held = {(a.lower(), False) for role in AUDITOR_ROLES for a in role.actions} | {
        (a.lower(), True) for role in AUDITOR_ROLES for a in role.data_actions
    }
    assert performed == held, f"unused: {held - performed}, missing: {performed - held}"
    # Each role's operations at the scopes infra/ assigns it: reads and records at the subscriptions and
    # destinations, the write on the cluster's setting, the link on the workspace alone.
    links = [n for n in done if n.linked]
    assert {(n.operation, n.scope) for n in links} == {(roles.AUDITOR_WORKSPACE_LINK.actions[0], WORKSPACE)}


def test_the_same_run_judges_alike_under_the_built_in_roles_of_the_fallback(simulate, storage, monkeypatch, tmp_path):
    tenant = representative_tenant()
    tenant.access.revoke(AUDITOR)
    tenant.access.grant(AUDITOR, roles.READER)  # each scanned subscription, and the verified storage account
    tenant.access.grant(AUDITOR, roles.LOG_ANALYTICS_READER, WORKSPACE)  # the verified workspace
    tenant.access.grant(AUDITOR, roles.STORAGE_BLOB_DATA_READER, STORAGE)
    tenant.access.grant(AUDITOR, roles.MONITORING_CONTRIBUTOR)  # the remediated subscriptions
    tenant.access.grant(AUDITOR, roles.LOG_ANALYTICS_CONTRIBUTOR, WORKSPACE)
    sim = simulate(tenant, blob_service=True)
    assert run(sim, tenant, monkeypatch, tmp_path) == EXPECTED_RUN


async def request(sim: ArmSimulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One ARM request with the auditor's token, as the SDK would send it."""
    context = ssl.create_default_context(cafile=sim.ca_file)
    headers = {"Authorization": f"Bearer {sim.issue_token(AUDITOR)}"}
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session,
        session.request(
            method,
            f"{sim.arm_endpoint}{path}",
            params={"api-version": "2021-05-01-preview"},
            headers=headers,
            json=body,
        ) as response,
    ):
        return response.status, await response.json()


def without(role: Role, operation: str) -> Role:
    return Role(f"{role.name} without {operation}", tuple(a for a in role.actions if a != operation))


def test_an_operation_outside_the_roles_gets_arms_403_and_the_cluster_is_an_error_not_a_pass(simulate):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-a", "rg")
    cluster.set_setting("audit", audit_setting(*AUDIT))
    tenant.access.revoke(AUDITOR)
    tenant.access.grant(AUDITOR, without(roles.AUDITOR_READER, "Microsoft.Insights/diagnosticSettings/read"))
    sim = simulate(tenant)
    listing = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings"
    assert asyncio.run(request(sim, "GET", listing)) == (
        403,
        {
            "error": {
                "code": "AuthorizationFailed",
                "message": f"The client '{AUDITOR}' with object id '{AUDITOR}' does not have authorization to "
                f"perform action 'Microsoft.Insights/diagnosticSettings/read' over scope "
                f"'{cluster.id}/providers/Microsoft.Insights' or the scope is invalid. If access was recently "
                "granted, please refresh your credentials.",
            }
        },
    )
    code, document = scan_json()
    (finding,) = document["findings"]
    assert (code, finding["status"]) == (1, "error")
    assert finding["reasons"][0].startswith(
        "forbidden (403 AuthorizationFailed): the identity lacks Microsoft.Insights/diagnosticSettings/read there"
    )


def test_a_subscription_the_identity_may_not_read_is_not_listed(simulate):
    tenant = Tenant()
    seen = tenant.add_subscription("Production")
    seen.add_cluster("aks-a").set_setting("audit", audit_setting(*AUDIT))
    hidden = tenant.add_subscription("Elsewhere")
    hidden.add_cluster("aks-b")
    tenant.access.revoke(AUDITOR)
    tenant.access.grant(AUDITOR, roles.AUDITOR_READER, f"/subscriptions/{seen.subscription_id}")
    simulate(tenant)
    code, document = scan_json()
    assert (code, statuses(document)) == (0, {"aks-a": "pass"})


def test_remediation_without_the_workspace_link_fails_with_linked_authorization_failed_explained(simulate, monkeypatch):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-a", "rg")
    tenant.access.grant(AUDITOR, roles.AUDITOR_REMEDIATOR)  # the write, not the link
    sim = simulate(tenant)
    setting = f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/aks-audit-logs"
    status, body = asyncio.run(request(sim, "PUT", setting, {"properties": audit_setting("kube-audit")}))
    assert (status, body) == (
        403,
        {
            "error": {
                "code": "LinkedAuthorizationFailed",
                "message": f"The client '{AUDITOR}' with object id '{AUDITOR}' has permission to perform action "
                f"'Microsoft.Insights/diagnosticSettings/write' on scope '{setting}'; however, it does not have "
                "permission to perform action 'Microsoft.OperationalInsights/workspaces/sharedKeys/action' on the "
                f"linked scope(s) '{WORKSPACE}' or the linked scope(s) are invalid.",
            }
        },
    )
    assert cluster.settings == {}
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    code, document = scan_json()
    (finding,) = document["findings"]
    assert (code, finding["remediation"]["result"]) == (1, "failed")
    assert finding["remediation"]["reason"] == (
        "forbidden (403 LinkedAuthorizationFailed): the identity may write it but lacks "
        f"Microsoft.OperationalInsights/workspaces/sharedKeys/action on the linked {WORKSPACE} (docs/deploy.md, "
        "'What the identity may do', names the role that grants it)"
    )
    grant_remediation(tenant.access, WORKSPACE)
    assert scan_json()[0] == 0


def test_a_missing_query_or_blob_role_refuses_the_delivery_check_as_each_service_does(simulate, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-law").set_setting("law", audit_setting(*AUDIT))
    sub.add_cluster("aks-store").set_setting("store", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    tenant.access.revoke(AUDITOR, roles.AUDITOR_LOG_READER)
    tenant.access.revoke(AUDITOR, roles.AUDITOR_BLOB_READER)
    sim = simulate(tenant, blob_service=True)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    _, document = scan_json()
    found = {f["name"]: f for f in document["findings"]}
    assert found["aks-law"]["status"] == "error"  # a delivery check that cannot run is never a guess
    assert "InsufficientAccessError" in json.dumps(found["aks-law"])
    assert "may not list its blobs (403)" in json.dumps(found["aks-store"])
    assert {r.status for r in sim.logs_requests} == {403}
    assert {r.status for r in sim.blob_requests} == {403}


# --- the Bicep side: the roles deployed are these files; the fallback names the built-in roles -----------------


def test_the_deployed_role_definitions_are_the_files_the_simulation_enforces():
    doc = bicep("modules/custom-roles.bicep")
    loaded = {}
    for key_, value in variable(doc, "definitions").items():
        fn = function(value)
        assert fn is not None
        assert fn[0] == "load_json_content"
        loaded[key_] = (doc_path := (Path("infra/modules") / fn[1]["file_path"]).name)
        assert (CUSTOM_ROLES / doc_path).is_file()
    assert set(loaded.values()) == {p.name for p in CUSTOM_ROLES.glob("*.json")}
    files = {path.stem: Role.from_json(json.loads(path.read_text())) for path in CUSTOM_ROLES.glob("*.json")}
    assert set(files.values()) == set(AUDITOR_ROLES)  # azsim reads the same files
    for role in files.values():  # nothing a reviewer has to expand: no wildcard, no NotActions
        assert not [a for a in (*role.actions, *role.data_actions) if "*" in a]
        assert not role.not_actions
        assert not role.not_data_actions
    type_, body, condition = resource(doc, "roles")
    assert type_ == "Microsoft.Authorization/roleDefinitions"
    assert condition is None
    props = body["properties"]
    assert props["type"] == "customRole"
    assert props["assignableScopes"] == "assignableScopes"
    assert "permissions" in json.dumps(props["permissions"])
    assert doc["globals"]["scope"]["value"] == "subscription"
    main = bicep("main.bicep")
    _, roles_module, roles_condition, _ = module(main, "customRoles")
    assert roles_module["params"]["roleIds"] == "customRoleIds"
    assert set(variable(main, "customRoleIds")) == set(loaded)
    assert operator(roles_condition) == ("not", {"bool_value": "useBuiltInRoles"})
    # Assignable wherever main.bicep assigns: the scanned subscriptions, the verified destinations' and the
    # remediation workspace's.
    assigned = json.dumps(variable(main, "assignedSubscriptions"))
    for name in ("scanned", "verifiedSubscriptions", "remediationWorkspaceSubscription"):
        assert name in assigned


def test_the_fallback_parameter_selects_the_built_in_roles():
    main = bicep("main.bicep")
    assert param(main, "useBuiltInRoles")["default"] is False
    choice = operator(variable(main, "roleIds"))
    assert choice is not None
    assert choice[0] == "conditional"
    assert choice[1]["condition"] == "useBuiltInRoles"
    assert choice[1]["true_value"] == "builtInRoleIds"
    assert variable(main, "builtInRoleIds") == {
        "reader": READER,
        "workspaceReader": LOG_ANALYTICS_READER,
        "logReader": READER,
        "workspaceLogReader": LOG_ANALYTICS_READER,
        "blobReader": STORAGE_BLOB_DATA_READER,
        "remediator": MONITORING_CONTRIBUTOR,
        "workspaceLink": LOG_ANALYTICS_CONTRIBUTOR,
    }
    # The simulation's copies of those roles are the same ones.
    assert {role.id for role in roles.BUILT_IN.values()} == set(variable(main, "builtInRoleIds").values())
    reads = function(bicepparam()["useBuiltInRoles"]["value"])
    assert reads is not None
    assert reads[0] == "bool"
    assert function(reads[1]["arg_1"]) == (
        "readEnvironmentVariable",
        {"arg_1": "AUDITOR_USE_BUILT_IN_ROLES", "arg_2": "false"},
    )
