"""Remediation (docs/reference.md, "Remediation"): the pure planner, then apply and dry-run against the
simulation, which enforces ARM's real rules (5 settings per resource, no sink reuse for one category, no mixing of
categories and category groups)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from datetime import date

import pytest
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource, LogSettings
from hypothesis import given, settings
from hypothesis import strategies as st
from support import STORAGE, audit_setting, run_cli, scan_json, statuses

from auditor.arm_rules import destinations
from auditor.azure.connection import ArmConnection, WriteBlockedError
from auditor.azure.credentials import invocation_credential
from auditor.model import Cluster, DiagnosticSetting, LogEntry, Status
from auditor.model import RemediationAction as Action
from auditor.model import RemediationResult as Result
from auditor.remediation import Plan, Target, plan
from auditor.rule import evaluate
from auditor.settings import Settings
from azsim import Fault, SimCluster, Tenant
from azsim.samples import WORKSPACE, demo_tenant

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
TARGET_WS = WORKSPACE
OTHER_WS = WORKSPACE.replace("law-contoso-security", "law-team-private")
HUB = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/ns/authorizationrules/r"
TARGET = Target(TARGET_WS, "aks-audit-logs", frozenset())
POLICY = Settings().policy()
TODAY = date(2026, 11, 26)
CLUSTER = Cluster(
    f"/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1",
    "aks1",
    SUB,
    "rg",
    provisioning_state="Succeeded",
)
GROUPS = {"kube-audit": frozenset({"audit", "alllogs"}), "kube-audit-admin": frozenset({"audit", "alllogs"})}


def entry(category: str, enabled: bool = True) -> LogEntry:
    return LogEntry(category, None, enabled)


def planned(*existing: DiagnosticSetting, cluster: Cluster = CLUSTER, target: Target = TARGET) -> Plan | None:
    finding = evaluate(cluster, existing, GROUPS, POLICY, TODAY)
    return plan(cluster, finding, existing, GROUPS, target)


# --- the planner ------------------------------------------------------------------------------


def test_no_settings_creates_the_auditors_setting_with_only_the_missing_categories():
    assert planned() == Plan(Action.CREATE, "aks-audit-logs", ("kube-audit", "kube-audit-admin"), Result.PLANNED)


def test_a_setting_someone_else_owns_is_left_alone_and_the_auditor_adds_its_own():
    """ARM forbids one category to one sink from two settings, not two settings to one sink."""
    result = planned(DiagnosticSetting("diag1", (entry("kube-audit"),), workspace_id=TARGET_WS.upper()))
    assert result == Plan(Action.CREATE, "aks-audit-logs", ("kube-audit-admin",), Result.PLANNED)


def test_edit_existing_lets_the_planner_enable_the_category_in_a_setting_it_does_not_own():
    theirs = DiagnosticSetting("diag1", (entry("kube-audit"),), workspace_id=TARGET_WS.upper())
    result = planned(theirs, target=dataclasses.replace(TARGET, edit_existing=True))
    assert result == Plan(Action.UPDATE, "diag1", ("kube-audit-admin",), Result.PLANNED)


def test_another_setting_already_sending_the_category_to_the_workspace_means_the_fix_is_its_owners():
    """The rule did not accept that workspace for kube-audit (here: judged without the setting, as when its
    retention is too short); a second setting for the same category and workspace is one ARM refuses."""
    theirs = DiagnosticSetting("platform", (entry("kube-audit"),), workspace_id=TARGET_WS)
    finding = evaluate(CLUSTER, (), GROUPS, POLICY, TODAY)
    result = plan(CLUSTER, finding, (theirs,), GROUPS, TARGET)
    assert result is not None
    assert (result.action, result.result) == (Action.NONE, Result.FAILED)
    assert "setting platform already sends kube-audit" in result.reason
    assert "belongs to that setting's owner" in result.reason


def test_five_settings_suggest_edit_existing_only_when_it_is_off():
    full = [DiagnosticSetting(f"hub{i}", (entry("guard"),), event_hub_authorization_rule_id=HUB) for i in range(5)]
    assert "AUDITOR_REMEDIATION_EDIT_EXISTING=true" in planned(*full).reason
    allowed = dataclasses.replace(TARGET, edit_existing=True)
    assert "EDIT_EXISTING" not in planned(*full, target=allowed).reason


def test_the_auditors_own_setting_is_preferred():
    own = DiagnosticSetting("aks-audit-logs", (entry("kube-audit", False),), workspace_id=TARGET_WS)
    other = DiagnosticSetting("diag1", (entry("kube-apiserver"),), workspace_id=TARGET_WS)
    assert planned(other, own).setting == "aks-audit-logs"


def test_own_setting_pointing_elsewhere_is_never_redirected():
    own = DiagnosticSetting("aks-audit-logs", (), workspace_id=OTHER_WS)
    result = planned(own)
    assert result is not None
    assert (result.action, result.result) == (Action.NONE, Result.FAILED)
    assert "never changes a destination" in result.reason


def test_a_category_group_setting_is_not_mixed_with_categories():
    grouped = DiagnosticSetting("grouped", (LogEntry(None, "audit", False),), workspace_id=TARGET_WS)
    result = planned(grouped)
    assert result == Plan(Action.CREATE, "aks-audit-logs", ("kube-audit", "kube-audit-admin"), Result.PLANNED)


def test_a_candidate_whose_other_sink_would_be_reused_is_passed_over():
    """`both` also streams to an event hub that `siem` already gets kube-audit-admin on (an event hub is
    not an accepted store, so kube-audit-admin is still missing): enabling it in `both` would reuse that sink."""
    both = DiagnosticSetting(
        "both", (entry("kube-audit"),), workspace_id=TARGET_WS, event_hub_authorization_rule_id=HUB, event_hub_name="h"
    )
    siem = DiagnosticSetting(
        "siem", (entry("kube-audit-admin"),), event_hub_authorization_rule_id=HUB, event_hub_name="h"
    )
    result = planned(both, siem)
    assert result == Plan(Action.CREATE, "aks-audit-logs", ("kube-audit-admin",), Result.PLANNED)


def test_five_settings_and_none_usable_is_a_failed_plan():
    full = [DiagnosticSetting(f"hub{i}", (entry("guard"),), event_hub_authorization_rule_id=HUB) for i in range(5)]
    result = planned(*full)
    assert result is not None
    assert result.result is Result.FAILED
    assert "already has 5 diagnostic settings" in result.reason


@pytest.mark.parametrize(
    ("cluster", "target", "reason"),
    [
        (dataclasses.replace(CLUSTER, provisioning_state="Deleting"), TARGET, "provisioning state Deleting"),
        (dataclasses.replace(CLUSTER, provisioning_state="Failed"), TARGET, "provisioning state Failed"),
        (
            CLUSTER,
            dataclasses.replace(TARGET, subscriptions=frozenset({"0" * 8 + "-0000-0000-0000-" + "0" * 12})),
            "AUDITOR_REMEDIATION_SUBSCRIPTIONS",
        ),
    ],
)
def test_guards_skip_with_a_reason(cluster, target, reason):
    result = planned(cluster=cluster, target=target)
    assert result is not None
    assert result.result is Result.SKIPPED
    assert reason in result.reason


def test_only_failing_clusters_get_plans():
    passing = DiagnosticSetting("ok", (entry("kube-audit"), entry("kube-audit-admin")), workspace_id=TARGET_WS)
    assert planned(passing) is None
    exempt = dataclasses.replace(CLUSTER, tags={"aks-audit-exempt": "true"})
    assert planned(cluster=exempt) is None


CATEGORIES = ["kube-audit", "kube-audit-admin", "guard", "kube-apiserver"]
random_settings = st.lists(
    st.builds(
        lambda name, logs, ws, sa: DiagnosticSetting(name, tuple(logs), workspace_id=ws, storage_account_id=sa),
        st.sampled_from(["aks-audit-logs", "a", "b", "c", "d", "e", "f"]),
        st.lists(st.builds(entry, st.sampled_from(CATEGORIES), st.booleans()), max_size=3),
        st.sampled_from([TARGET_WS, OTHER_WS, ""]),
        st.sampled_from([STORAGE, ""]),
    ),
    max_size=5,
    unique_by=lambda s: s.name,
)


def apply_in_memory(existing: list[DiagnosticSetting], result: Plan) -> list[DiagnosticSetting]:
    if result.action is Action.CREATE:
        return [*existing, DiagnosticSetting(result.setting, tuple(entry(c) for c in result.categories), TARGET_WS)]
    changed = []
    for original in existing:
        setting = original
        if setting.name == result.setting:
            logs = [
                LogEntry(e.category, e.category_group, e.enabled or e.category in result.categories)
                for e in setting.logs
            ]
            logs += [entry(c) for c in result.categories if c not in {e.category for e in setting.logs}]
            setting = dataclasses.replace(setting, logs=tuple(logs))
        changed.append(setting)
    return changed


@given(random_settings, st.booleans())
@settings(max_examples=300)
def test_planner_invariants(existing, edit_existing):
    target = dataclasses.replace(TARGET, edit_existing=edit_existing)
    finding = evaluate(CLUSTER, existing, GROUPS, POLICY, TODAY)
    result = plan(CLUSTER, finding, existing, GROUPS, target)
    if finding.status is not Status.FAIL:
        assert result is None
        return
    assert result is not None
    assert result.categories == finding.missing_categories
    if result.result is not Result.PLANNED:
        assert result.reason  # says why not
        return
    if not edit_existing:  # a setting the auditor does not own is never written
        assert result.setting == TARGET.setting_name
    after = apply_in_memory(list(existing), result)
    by_name = {s.name: s for s in after}
    for before in existing:  # never removes a setting, an enabled category, or a destination
        now = by_name[before.name]
        assert destinations(now) == destinations(before)
        assert {e.category for e in before.logs if e.enabled} <= {e.category for e in now.logs if e.enabled}
    assert len(after) <= 5
    assert evaluate(CLUSTER, after, GROUPS, POLICY, TODAY).status is Status.PASS


# --- against the simulation -------------------------------------------------------------------


FIXABLE = (
    "no-settings",
    "admin-missing",
    "disabled",
    "event-hub-only",
    "empty-workspace",
    "group-elsewhere",
    "split-storage",
)
UNTOUCHED = ("five-full", "exempt", "forbidden", "passing")


def fixable_tenant() -> tuple[Tenant, dict[str, SimCluster]]:
    """Every failing shape of the evaluator's tests, plus ones that must not be touched."""
    tenant = Tenant()
    tenant.add_workspace(TARGET_WS)
    sub = tenant.add_subscription("Production")
    made = {name: sub.add_cluster(name, resource_group="rg-aks") for name in (*FIXABLE, *UNTOUCHED)}
    made["admin-missing"].set_setting(
        "control-plane", audit_setting("kube-apiserver", "kube-audit", workspace=TARGET_WS)
    )
    made["disabled"].set_setting(
        "paused",
        {
            "workspaceId": TARGET_WS,
            "logs": [{"category": c, "enabled": False} for c in ("kube-audit", "kube-audit-admin")],
            "metrics": [{"category": "AllMetrics", "enabled": True, "timeGrain": None}],
            "logAnalyticsDestinationType": "AzureDiagnostics",
        },
    )
    made["event-hub-only"].set_setting(
        "siem",
        {
            "eventHubAuthorizationRuleId": HUB,
            "eventHubName": "aks-audit",
            "logs": [{"category": c, "enabled": True} for c in ("kube-audit", "kube-audit-admin")],
        },
    )
    made["empty-workspace"].set_setting(
        "orphan", {"workspaceId": "", "logs": [{"category": "kube-audit", "enabled": True}]}
    )
    made["group-elsewhere"].set_setting(
        "team", {"workspaceId": OTHER_WS, "logs": [{"categoryGroup": "allLogs", "enabled": False}]}
    )
    made["split-storage"].set_setting(
        "archive", audit_setting("kube-audit-admin", workspace="", storageAccountId=STORAGE)
    )
    for i in range(5):
        made["five-full"].set_setting(
            f"hub-{i}",
            {
                "eventHubAuthorizationRuleId": HUB,
                "eventHubName": f"h{i}",
                "logs": [{"category": "guard", "enabled": True}],
            },
        )
    made["exempt"].tags["aks-audit-exempt"] = "true"
    made["forbidden"].forbidden = True
    made["passing"].set_setting("ok", audit_setting("kube-audit", "kube-audit-admin", workspace=TARGET_WS))
    return tenant, made


def writes(sim) -> list:
    return [r for r in sim.requests if r.method in {"PUT", "PATCH", "DELETE", "POST"}]


@pytest.fixture
def remediating(simulate, monkeypatch):
    def start(mode: str):
        tenant, made = fixable_tenant()
        sim = simulate(tenant)
        monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", mode)
        monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", TARGET_WS)
        return sim, tenant, made

    return start


def test_apply_fixes_every_fixable_cluster_keeping_everything_else(remediating, monkeypatch):
    sim, _, made = remediating("apply")
    before = {name: cluster.settings for name, cluster in made.items()}
    code, document = scan_json()
    fixes = {f["name"]: f.get("remediation") for f in document["findings"]}
    fixable = list(FIXABLE)
    assert {name: fixes[name]["result"] for name in fixable} == dict.fromkeys(fixable, "applied"), json.dumps(fixes)
    assert (fixes["admin-missing"]["action"], fixes["admin-missing"]["setting"]) == ("create", "aks-audit-logs")
    assert fixes["disabled"]["setting"] == "aks-audit-logs"  # `paused` is someone else's
    assert fixes["no-settings"] == {
        "mode": "apply",
        "action": "create",
        "setting": "aks-audit-logs",
        "categories": ["kube-audit", "kube-audit-admin"],
        "result": "applied",
    }
    assert fixes["five-full"]["result"] == "failed"
    assert fixes["exempt"] is None
    assert fixes["forbidden"] is None
    assert code == 1  # five-full could not be fixed
    assert not [r for r in sim.requests if r.method == "DELETE"]
    put_targets = {r.path.split("/managedClusters/")[1].split("/")[0] for r in writes(sim)}
    assert put_targets == set(fixable)  # exempt, forbidden, passing and five-full: no write

    for name, old in before.items():  # every pre-existing setting keeps its destinations and enabled categories
        new = made[name].settings
        for setting_name, properties in old.items():
            for field in (
                "workspaceId",
                "storageAccountId",
                "eventHubAuthorizationRuleId",
                "eventHubName",
                "marketplacePartnerId",
                "metrics",
                "logAnalyticsDestinationType",
            ):
                assert new[setting_name].get(field) == properties.get(field), (name, setting_name, field)
            enabled = {e.get("category") or e.get("categoryGroup") for e in properties.get("logs", []) if e["enabled"]}
            now = {e.get("category") or e.get("categoryGroup") for e in new[setting_name]["logs"] if e["enabled"]}
            assert enabled <= now
    created = made["no-settings"].settings["aks-audit-logs"]
    assert created["workspaceId"] == TARGET_WS
    assert created["logAnalyticsDestinationType"] == "Dedicated"

    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "off")
    sim.clear_requests()
    code, document = scan_json()  # read-only re-scan
    found = statuses(document)
    assert {name: found[name] for name in fixable} == dict.fromkeys(fixable, "pass")
    assert writes(sim) == []


def test_apply_with_edit_existing_enables_the_category_in_the_named_setting_and_nothing_else(remediating, monkeypatch):
    _, _, made = remediating("apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_EDIT_EXISTING", "true")
    before = json.loads(json.dumps(made["admin-missing"].settings["control-plane"]))
    _, document = scan_json()
    fixes = {f["name"]: f.get("remediation") for f in document["findings"]}
    assert fixes["admin-missing"] == {
        "mode": "apply",
        "action": "update",
        "setting": "control-plane",
        "categories": ["kube-audit-admin"],
        "result": "applied",
    }
    assert fixes["disabled"]["setting"] == "paused"
    after = made["admin-missing"].settings
    assert set(after) == {"control-plane"}  # no second setting
    assert {k: v for k, v in after["control-plane"].items() if k != "logs"} == {
        k: v for k, v in before.items() if k != "logs"
    }


def test_apply_is_idempotent_and_exits_zero_when_everything_was_fixed(simulate, monkeypatch):
    tenant = Tenant()
    tenant.add_workspace(TARGET_WS)
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-a")
    sub.add_cluster("aks-b").set_setting("x", audit_setting("kube-audit", workspace=TARGET_WS))
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", TARGET_WS)
    assert scan_json()[0] == 0
    first = len(writes(sim))
    code, document = scan_json()
    assert code == 0
    assert set(statuses(document).values()) == {"pass"}
    assert len(writes(sim)) == first == 2


def test_dry_run_plans_and_writes_nothing(remediating):
    sim, _, _ = remediating("dry-run")
    code, document = scan_json()
    plans = {f["name"]: f.get("remediation") for f in document["findings"]}
    assert plans["no-settings"]["result"] == "planned"
    assert plans["admin-missing"] == {
        "mode": "dry-run",
        "action": "create",
        "setting": "aks-audit-logs",
        "categories": ["kube-audit-admin"],
        "result": "planned",
    }
    assert code == 1
    assert writes(sim) == []


def test_arm_failure_during_apply_is_reported_not_swallowed(remediating):
    sim, _, _ = remediating("apply")
    sim.add_fault(Fault(match="no-settings/providers/microsoft.insights/diagnosticSettings/", method="PUT", status=500))
    code, document = scan_json()
    fix = next(f["remediation"] for f in document["findings"] if f["name"] == "no-settings")
    assert fix["result"] == "failed"
    assert fix["reason"].startswith("ARM answered 500")
    assert code == 1


def test_bad_remediation_settings_stop_at_start(monkeypatch):
    code, out, err = run_cli_with({"AUDITOR_REMEDIATION_MODE": "apply", "AUDITOR_REMEDIATION_WORKSPACE_ID": "ws1"})
    assert (code, out) == (2, "")
    assert "AUDITOR_REMEDIATION_WORKSPACE_ID='ws1' is not a Log Analytics workspace resource ID" in err
    code, _, err = run_cli_with({"AUDITOR_REMEDIATION_MODE": "apply"})
    assert (code, err.strip()) == (2, "auditor: AUDITOR_REMEDIATION_MODE=apply needs AUDITOR_REMEDIATION_WORKSPACE_ID")
    code, _, err = run_cli_with({"AUDITOR_REMEDIATION_MODE": "fix"})
    assert "is not one of off, dry-run, apply" in err


def run_cli_with(env: dict[str, str]):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return run_cli("scan")


def test_without_apply_the_connection_refuses_to_write(simulate):
    tenant, made = fixable_tenant()
    sim = simulate(tenant)

    async def attempt():
        settings = Settings.from_env(os.environ)
        async with invocation_credential(settings) as credential, ArmConnection(settings, credential) as connection:
            resource = DiagnosticSettingsResource(
                workspace_id=TARGET_WS, logs=[LogSettings(category="kube-audit", enabled=True)]
            )
            await connection.monitor().diagnostic_settings.create_or_update(
                made["no-settings"].id.strip("/"), "x", resource
            )

    with pytest.raises(WriteBlockedError):
        asyncio.run(attempt())
    assert writes(sim) == []


def test_demo_tenant_apply_then_clean_rescan(simulate, monkeypatch):
    simulate(demo_tenant())
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", TARGET_WS)
    code, document = scan_json()
    results = {f["name"]: f["remediation"]["result"] for f in document["findings"] if "remediation" in f}
    non_ascii = results.pop("aks-analytics-muc")  # resource group rg-analytics-münchen
    assert non_ascii == "failed"  # diagnostic settings cannot serve it, and the finding says so
    assert set(results.values()) == {"applied"}
    assert code == 1  # the forbidden cluster is an error, which remediation never touches
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "off")
    _, after = scan_json()
    assert {name: statuses(after)[name] for name in results} == dict.fromkeys(results, "pass")
    assert after["summary"]["fail"] == 1  # only the cluster remediation cannot help
