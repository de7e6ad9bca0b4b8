"""Names and answers as real ARM gives them, through the real SDK clients against the simulation.

Each test names the public source of the behaviour it reproduces (see also the notes in azsim/).
"""

from __future__ import annotations

import io
import json

import pytest
from support import STORAGE, WORKSPACE, audit_setting, scan_json, statuses

from auditor.cli import main
from auditor.rule import NON_ASCII_NOTE
from azsim import Fault, Tenant
from azsim.access import grant_remediation
from azsim.events import setting_changed

MUNICH, TOKYO, LEGACY = "rg-münchen", "rg-東京", "RG_(legacy).v2"


def audited(subscription, count: int, group: str = "rg") -> list:
    """`count` clusters that each export both audit categories to the workspace."""
    clusters = [subscription.add_cluster(f"aks-{i}", group) for i in range(count)]
    for cluster in clusters:
        cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    return clusters


def settings_reads(sim, name: str) -> list:
    return [
        r
        for r in sim.requests
        if r.path.lower().endswith(f"/{name.lower()}/providers/microsoft.insights/diagnosticsettings")
    ]


# --- names exactly as ARM allows them ---------------------------------------------------------------


def test_unicode_and_punctuated_resource_groups_are_listed_judged_and_read_percent_encoded(simulate):
    """Resource groups may hold any Unicode letter or digit and _-.() (Azure naming rules)."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-muc", MUNICH)
    sub.add_cluster("aks-tyo", TOKYO)
    legacy = sub.add_cluster("aks-legacy", LEGACY)
    legacy.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    after = sub.add_cluster("aks-after", "rg-after")  # listed after the Unicode ones: must not vanish
    after.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    code, document = scan_json()
    assert code == 1
    assert statuses(document) == {"aks-muc": "fail", "aks-tyo": "fail", "aks-legacy": "pass", "aks-after": "pass"}
    munich = next(f for f in document["findings"] if f["name"] == "aks-muc")
    assert munich["resourceGroup"] == MUNICH
    assert munich["resourceId"] == sub.clusters[0].id  # as ARM returned it, unencoded
    # Azure documents that diagnostic settings do not support non-ASCII resource IDs: the finding says why.
    assert NON_ASCII_NOTE in munich["reasons"]
    assert "rg-m%C3%BCnchen" in munich["portalUrl"]
    (read,) = settings_reads(sim, "aks-muc")
    assert "/rg-m%C3%BCnchen/" in read.raw_path  # encoded on the wire
    (read,) = settings_reads(sim, "aks-legacy")
    assert f"/{LEGACY}/".lower() in read.raw_path.lower()  # parentheses and dots need no encoding


def test_a_non_ascii_cluster_whose_settings_read_fails_is_an_error_that_explains_the_limitation(simulate):
    """What ARM answers for a non-ASCII ID is not documented; a refusal must still be explained."""
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-muc", MUNICH)
    sim = simulate(tenant)
    sim.add_fault(Fault(match="aks-muc/providers/microsoft.insights/diagnosticSettings$", status=400))
    code, document = scan_json()
    (finding,) = document["findings"]
    assert (code, finding["status"]) == (1, "error")
    assert finding["reasons"][-1] == NON_ASCII_NOTE
    assert finding["resourceId"] == cluster.id


def test_remediation_says_why_it_cannot_help_a_non_ascii_cluster_and_writes_nothing(simulate, monkeypatch):
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-tyo", TOKYO)
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    code, document = scan_json()
    (finding,) = document["findings"]
    assert code == 1
    assert finding["remediation"]["result"] == "failed"
    assert "non-ASCII" in finding["remediation"]["reason"]
    assert {r.method for r in sim.requests} == {"GET"}


def test_a_drift_event_for_a_unicode_resource_group_is_checked(simulate):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-muc", MUNICH)
    cluster.set_setting("audit", audit_setting("kube-audit"))  # as if created before the limitation
    simulate(tenant)
    cluster.delete_setting("audit")
    event = setting_changed(cluster.id, "audit", deleted=True, tenant_id=tenant.tenant_id)
    code, out, err = run_events([event])
    (result,) = json.loads(out)["events"]
    assert (code, result["result"], result["finding"]["status"]) == (1, "checked", "fail"), err


# --- one item never hides its neighbours --------------------------------------------------------------


def test_unreadable_listing_items_are_each_an_explained_error_and_every_neighbour_is_judged(simulate):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    other = "11111111-2222-3333-4444-555555555555"
    sub.add_listing_item("not an object")
    sub.add_listing_item({"name": "no-id", "location": "westeurope"})
    sub.add_listing_item({"id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/app", "name": "web"})
    sub.add_listing_item(
        {"id": f"/subscriptions/{other}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-x"}
    )
    good = audited(sub, 5, "rg-aks")
    bare = sub.add_cluster("aks-bare", "rg-aks")
    simulate(tenant, page_size=3)  # the bad items share pages with good clusters
    code, document = scan_json()
    assert code == 1
    found = statuses(document)
    assert all(found[c.name] == "pass" for c in good)  # nothing listed after a bad item vanished
    errors = [f for f in document["findings"] if f["status"] == "error"]
    assert len(errors) == 4
    reasons = [f["reasons"] for f in errors]
    assert all(r[0].startswith("item ") and " of the cluster listing could not be read: " in r[0] for r in reasons)
    assert all(r[1].startswith("ARM returned: ") for r in reasons)
    assert any("it is a JSON string, not an object" in r[0] for r in reasons)
    assert any("it has no id" in r[0] for r in reasons)
    assert any("not a managed-cluster resource ID" in r[0] for r in reasons)
    assert any(f"its id names subscription {other}" in r[0] for r in reasons)
    assert found[bare.name] == "fail"  # an ordinary cluster without settings


def test_a_cluster_whose_fields_have_the_wrong_type_is_its_own_error(simulate):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    base = (
        f"/subscriptions/{sub.subscription_id}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters"
    )
    sub.add_listing_item({"id": f"{base}/aks-tags", "name": "aks-tags", "tags": ["aks-audit-exempt"]})
    sub.add_listing_item({"id": f"{base}/aks-props", "name": "aks-props", "properties": "Succeeded"})
    ok = sub.add_cluster("aks-ok", "rg")
    ok.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    simulate(tenant)
    _, document = scan_json()
    by_name = {f["name"]: f for f in document["findings"]}
    assert by_name["aks-tags"]["status"] == "error"
    assert "its tags are a JSON array, not an object" in by_name["aks-tags"]["reasons"][0]
    assert "its properties is a JSON string" in by_name["aks-props"]["reasons"][0]
    assert by_name["aks-ok"]["status"] == "pass"


def test_empty_pages_with_a_next_link_are_followed(simulate):
    """ARM's paging lets a page hold no items and still carry a nextLink."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    clusters = audited(sub, 4)
    sub.empty_pages = 3
    sim = simulate(tenant, page_size=2)
    code, document = scan_json()
    assert code == 0
    assert sorted(statuses(document)) == [c.name for c in clusters]
    assert sim.count(contains="/managedClusters") - sim.count(contains="diagnosticSettings") == 3 + 2


def test_a_page_whose_value_is_not_a_list_is_reported_and_later_pages_are_still_read(simulate):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    clusters = audited(sub, 6)
    sub.mangled_pages[2] = {"unexpected": "object"}
    simulate(tenant, page_size=2)
    code, document = scan_json()
    found = statuses(document)
    assert code == 1
    assert [found[c.name] for c in clusters if c.name in found] == ["pass"] * 4  # pages 1 and 3
    (bad,) = [f for f in document["findings"] if f["status"] == "error"]
    assert (
        bad["reasons"][0] == "page 2 of the cluster listing could not be read: its value is a JSON object, not a list"
    )
    assert bad["reasons"][1] == 'ARM returned: {"unexpected":"object"}'


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("loop", "its nextLink repeats an earlier one"),
        ("https://localhost:9/subscriptions", "its nextLink points at another host (https://localhost:9); refused"),
    ],
)
def test_a_looping_or_foreign_next_link_stops_the_listing_with_an_error_not_a_hang(simulate, link, problem):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-0", "rg").set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    listing = f"{sim.arm_endpoint}/subscriptions/{sub.subscription_id}/providers/Microsoft.ContainerService"
    sub.next_link_override = (
        f"{listing}/managedClusters?api-version=2025-10-01&$skipToken=0" if link == "loop" else link
    )
    code, document = scan_json()
    errors = [f for f in document["findings"] if f["status"] == "error"]
    assert code == 1
    assert len(errors) == 1
    assert problem in errors[0]["reasons"][0]
    assert statuses(document)["aks-0"] == "pass"  # judged once, although the looping page listed it twice
    listing_reads = sim.count(contains="/managedClusters") - sim.count(contains="diagnosticSettings")
    assert listing_reads == (2 if link == "loop" else 1)  # the first page, and the loop's one repeat


# --- resource providers that are not registered -------------------------------------------------------


@pytest.mark.parametrize("answer", ["empty", "404", "409"])
def test_an_unregistered_aks_provider_means_no_clusters_whatever_arm_answers(simulate, answer):
    """RPC contract: an unregistered provider lists an empty collection or 404; ARM itself answers 409."""
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-0", "rg").set_setting(
        "audit", audit_setting("kube-audit", "kube-audit-admin")
    )
    tenant.add_subscription("Research").unregister(answer=answer)
    sim = simulate(tenant)
    code, document = scan_json()
    assert code == 0  # no error entry, no alert
    assert statuses(document) == {"aks-0": "pass"}
    assert document["summary"]["unregisteredSubscriptions"] == 1
    assert document["summary"]["subscriptions"] == 2
    assert {r.method for r in sim.requests} == {"GET"}
    provider_reads = sum(1 for r in sim.requests if r.path.lower().endswith("/providers/microsoft.containerservice"))
    assert provider_reads == (0 if answer == "409" else 1)  # the 409 says it all; the others cost one GET


def test_the_sdk_pipeline_never_registers_a_provider_even_when_remediation_may_write(simulate, monkeypatch):
    """azure-mgmt-core's ARMAutoResourceProviderRegistrationPolicy POSTs .../register on a 409: switched off."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    cluster = sub.add_cluster("aks-0", "rg")
    tenant.add_subscription("Research").unregister(answer="409")
    sub.unregister("Microsoft.Insights")  # the diagnostic-settings calls answer 409 too
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    code, document = scan_json()
    assert sim.count(method="POST") == 0
    assert not any(r.path.lower().endswith("/register") for r in sim.requests)
    (finding,) = document["findings"]
    assert finding["name"] == cluster.name
    assert finding["status"] == "fail"  # no diagnostic setting can exist there
    assert any("has not registered Microsoft.Insights" in reason for reason in finding["reasons"])
    assert code == 1


@pytest.mark.parametrize("registered", [True, False])
def test_a_vanished_subscription_or_an_unexplained_404_is_still_an_explained_error(simulate, registered):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sim = simulate(tenant)
    if registered:  # the provider is registered, yet the listing says 404: real trouble
        sim.add_fault(Fault(match="/providers/Microsoft.ContainerService/managedClusters$", status=404))
    else:  # the subscription is gone: both the listing and the provider read answer 404
        sim.add_fault(Fault(match=f"^/subscriptions/{sub.subscription_id}/", status=404))
    code, document = scan_json("--subscription", sub.subscription_id)
    (finding,) = document["findings"]
    assert (code, finding["status"]) == (1, "error")
    assert finding["reasons"][0].startswith("could not list the subscription's clusters: not found (404")
    assert document["summary"]["unregisteredSubscriptions"] == 0


# --- events as ARM sends them --------------------------------------------------------------------------


def run_events(events: list[dict], *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO(json.dumps(events))
    code = main(["handle-event", "-", "--output", "json", *args], stdout=out, stderr=err, stdin=stdin)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("form", ["insights", "nested"])
def test_drift_is_caught_under_both_operation_names(simulate, form):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-0", "rg")
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    simulate(tenant)
    cluster.delete_setting("audit")
    code, out, _ = run_events([setting_changed(cluster.id, "audit", deleted=True, form=form)])
    (result,) = json.loads(out)["events"]
    assert (code, result["result"], result["finding"]["status"]) == (1, "checked", "fail")


# --- reads right after a change can be stale ------------------------------------------------------------


def test_a_deleted_setting_still_listed_is_read_again_and_the_finding_says_why(simulate, monkeypatch):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-0", "rg")
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_RECHECK_SECONDS", "0")
    tenant.read_lag = 1  # from now on, the first read after a change still sees the state before it
    cluster.delete_setting("audit")
    code, out, _ = run_events([setting_changed(cluster.id, "audit", deleted=True)])
    (result,) = json.loads(out)["events"]
    assert (code, result["finding"]["status"]) == (1, "fail")
    assert len(settings_reads(sim, "aks-0")) == 2  # the stale read, then the re-read
    assert result["finding"]["reasons"][-1].startswith(
        "judged on re-read 1 after the event: the first read disagreed with it "
        "(ARM still listed setting audit, which the event says was deleted"
    )


def test_a_read_that_stays_stale_is_judged_as_read_after_the_last_re_read(simulate, monkeypatch):
    tenant = Tenant(read_lag=10)
    cluster = tenant.add_subscription("Production").add_cluster("aks-0", "rg")
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_RECHECK_SECONDS", "0")
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    code, out, _ = run_events([setting_changed(cluster.id, "audit")])
    (result,) = json.loads(out)["events"]
    assert result["finding"]["status"] == "fail"  # what ARM still answers: no setting
    assert len(settings_reads(sim, "aks-0")) == 3  # first read and two re-reads, no more
    assert result["finding"]["reasons"][-1].startswith(
        "ARM did not list setting audit, which the event says was written, still after 2 re-read(s)"
    )
    assert code == 1


def test_remediation_read_back_waits_out_a_stale_read_before_calling_a_write_failed(simulate, monkeypatch):
    tenant = Tenant(read_lag=2)
    cluster = tenant.add_subscription("Production").add_cluster("aks-0", "rg")
    grant_remediation(tenant.access, WORKSPACE)
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    code, document = scan_json()
    (finding,) = document["findings"]
    assert finding["remediation"]["result"] == "applied"
    assert code == 0
    assert len(settings_reads(sim, "aks-0")) == 1 + 3  # the scan's read, two stale read-backs, a fresh one
    assert "aks-audit-logs" in cluster.settings


# --- payloads and errors in their real shapes -----------------------------------------------------------


def test_explicit_nulls_are_absent_values(simulate):
    """The REST API sends explicit null for unset fields (see the spec examples in tests/fixtures)."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    exporting = sub.add_cluster("aks-nulls", "rg")
    exporting.set_setting(
        "audit",
        {
            "workspaceId": None,
            "storageAccountId": STORAGE,
            "eventHubAuthorizationRuleId": None,
            "eventHubName": None,
            "marketplacePartnerId": None,
            "logs": [
                {"category": "kube-audit", "categoryGroup": None, "enabled": True},
                {"category": None, "categoryGroup": "audit", "enabled": True},
            ],
            "metrics": None,
            "logAnalyticsDestinationType": None,
        },
    )
    exporting.tags = None  # type: ignore[assignment]  # what ARM sends for a cluster without tags
    simulate(tenant)
    code, document = scan_json()
    assert (code, statuses(document)) == (0, {"aks-nulls": "pass"})


def test_the_code_of_a_flat_error_body_reaches_the_reason(simulate, monkeypatch):
    """microsoft.insights answers {"code", "message"} without the "error" wrapper."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    cluster = sub.add_cluster("aks-0", "rg")
    cluster.set_setting("mine", audit_setting("kube-audit", workspace=WORKSPACE))
    grant_remediation(tenant.access, WORKSPACE)
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    monkeypatch.setenv("AUDITOR_REMEDIATION_SETTING_NAME", "mine")
    sim.add_fault(Fault(match="diagnosticSettings/mine$", method="PUT", status=409, flat=True))
    _, document = scan_json()
    (finding,) = document["findings"]
    assert finding["remediation"]["result"] == "failed"
    assert finding["remediation"]["reason"].startswith("ARM answered 409 Conflict")


# --- all of it at once ------------------------------------------------------------------------------------


def test_a_tenant_of_every_real_world_shape_is_judged_whole_with_gets_only(simulate):
    tenant = Tenant()
    prod = tenant.add_subscription("Production")
    expected: dict[str, str] = {}
    for name, group, style in [
        ("aks-muc", MUNICH, "arm"),
        ("aks-tyo", TOKYO, "lower"),
        ("aks-legacy", LEGACY, "canonical"),
        ("aks-plain", "rg-plain", "lower"),
    ]:
        cluster = prod.add_cluster(name, group, id_style=style)
        if cluster.id.isascii():
            cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
            expected[name] = "pass"
        else:
            expected[name] = "fail"
    prod.add_listing_item({"id": None, "name": "broken"})
    expected["broken"] = "error"
    prod.empty_pages = 2
    for answer in ("empty", "404", "409"):
        tenant.add_subscription(f"No AKS ({answer})").unregister(answer=answer)
    staging = tenant.add_subscription("Staging")
    staging.add_cluster("aks-stg", "rg-stg").set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    expected["aks-stg"] = "pass"
    sim = simulate(tenant, page_size=2)
    code, document = scan_json()
    assert statuses(document) == expected
    assert document["summary"]["unregisteredSubscriptions"] == 3
    assert code == 1  # the non-ASCII clusters fail and the broken item is an error; nothing else
    assert {record.method for record in sim.requests} == {"GET"}
