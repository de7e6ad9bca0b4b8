"""End to end: `python -m auditor scan` through the real SDK clients and azure-identity, against the simulation."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import STORAGE, WORKSPACE, audit_setting, run_cli, scan_json, statuses

from azsim import Fault, Tenant, Throttle
from azsim.samples import demo_tenant

ROOT = Path(__file__).resolve().parents[1]


def one_subscription(clusters: int = 0, **cluster_options) -> tuple[Tenant, list]:
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    made = [sub.add_cluster(f"aks-{i:03d}", resource_group="rg-aks", **cluster_options) for i in range(clusters)]
    return tenant, made


def test_demo_tenant_reaches_every_status_on_the_right_clusters(simulate):
    tenant = demo_tenant()
    sim = simulate(tenant)
    code, document = scan_json()
    assert code == 1
    assert statuses(document) == {
        "aks-payments-prod-weu": "pass",
        "aks-checkout-prod-neu": "pass",
        "aks-identity-prod-weu": "pass",
        "aks-search-prod-weu": "pass",
        "aks-orders-prod-weu": "fail",
        "aks-billing-prod-weu": "fail",  # its workspace was deleted
        "aks-telemetry-prod-neu": "fail",  # its workspace stopped ingesting at its daily cap
        "aks-payments-stg-weu": "fail",
        "aks-checkout-stg-weu": "fail",
        "aks-siem-stg-eus": "fail",
        "aks-ml-stg-eus": "fail",
        "aks-hackathon-2023": "fail",
        "aks-analytics-muc": "fail",  # resource group rg-analytics-münchen: judged like any other
        "aks-sandbox-dev-weu": "exempt",
        "aks-poc-gpu-weu": "exempt",
        "aks-reporting-prod-neu": "error",
    }
    assert document["summary"] == {
        "clusters": 16,
        "pass": 4,
        "fail": 9,
        "exempt": 2,
        "error": 1,
        "subscriptions": 4,
        "skippedSubscriptions": 1,
        "unregisteredSubscriptions": 1,  # Contoso Research never registered Microsoft.ContainerService
    }
    assert document["control"] == {
        "id": "C-0254",
        "benchmark": "CIS AKS 1.2.0",
        "item": "2.1.1",
        "title": "Enable audit Logs",
        "profile": "cis",
        "requiredCategories": ["kube-audit", "kube-audit-admin"],
    }
    legacy = next(s for s in tenant.subscriptions if s.state == "Disabled")
    assert sim.count(contains=legacy.subscription_id) == 0  # a Disabled subscription is never read


def test_scan_is_strictly_read_only_and_costs_one_call_per_cluster(simulate):
    sim = simulate(demo_tenant())
    scan_json()
    assert {record.method for record in sim.requests} == {"GET"}
    settings_lists = [
        r for r in sim.requests if r.path.lower().endswith("/providers/microsoft.insights/diagnosticsettings")
    ]
    assert len(settings_lists) == 16  # one per cluster in an active subscription
    assert sim.count(contains="diagnosticSettingsCategories") <= 1


def test_findings_follow_the_contract_schema(simulate):
    simulate(demo_tenant())
    _, document = scan_json()
    assert set(document) == {"control", "scannedAt", "findings", "summary"}
    assert document["scannedAt"].endswith("Z")
    orders = next(f for f in document["findings"] if f["name"] == "aks-orders-prod-weu")
    assert orders["missingCategories"] == ["kube-audit-admin"]
    assert orders["reasons"] == ["kube-audit-admin is not exported to an accepted destination"]
    assert orders["portalUrl"] == f"https://portal.azure.com/#resource{orders['resourceId']}/diagnostics"
    assert "remediation" not in orders  # remediation is off
    assert orders["resourceId"].startswith(f"/subscriptions/{orders['subscriptionId']}/resourcegroups/")


def test_cluster_list_is_followed_across_pages(simulate):
    tenant, clusters = one_subscription(10)
    for cluster in clusters:
        cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant, page_size=3)
    code, document = scan_json()
    assert code == 0
    assert sorted(statuses(document)) == [c.name for c in clusters]
    list_calls = [r for r in sim.requests if r.path.lower().endswith("/managedclusters")]
    assert len(list_calls) == 4  # 3 + 3 + 3 + 1


def test_lower_case_resource_ids_are_read_and_reported_as_returned(simulate):
    tenant, (cluster,) = one_subscription(1, id_style="lower")
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin", workspace=WORKSPACE.lower()))
    simulate(tenant)
    code, document = scan_json()
    assert code == 0
    assert document["findings"][0]["resourceId"] == cluster.id
    assert document["findings"][0]["resourceId"] == cluster.id.lower()


def test_forbidden_cluster_is_an_error_with_the_reason(simulate):
    tenant, (ok, forbidden) = one_subscription(2)
    ok.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    forbidden.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    forbidden.forbidden = True
    simulate(tenant)
    code, document = scan_json()
    assert code == 1
    finding = next(f for f in document["findings"] if f["name"] == forbidden.name)
    assert finding["status"] == "error"
    assert finding["reasons"][0].startswith("forbidden (403 AuthorizationFailed)")
    assert statuses(document)[ok.name] == "pass"


def test_forbidden_subscription_is_one_error_not_a_silent_gap(simulate):
    tenant = Tenant()
    tenant.add_subscription("Visible").add_cluster("aks-a").set_setting(
        "audit", audit_setting("kube-audit", "kube-audit-admin")
    )
    tenant.add_subscription("Locked", forbidden=True).add_cluster("aks-hidden")
    simulate(tenant)
    code, document = scan_json()
    assert code == 1
    assert statuses(document) == {"aks-a": "pass", "Locked": "error"}
    locked = next(f for f in document["findings"] if f["name"] == "Locked")
    assert "could not list the subscription's clusters: forbidden (403" in locked["reasons"][0]


def test_cluster_deleted_after_listing_is_an_error(simulate):
    tenant, (gone, kept) = one_subscription(2)
    kept.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    sim.add_fault(Fault(match=f"{gone.name}/providers/microsoft.insights/diagnosticSettings$", status=404))
    code, document = scan_json()
    assert code == 1
    finding = next(f for f in document["findings"] if f["name"] == gone.name)
    assert finding["status"] == "error"
    assert finding["reasons"] == ["not found (404 ResourceNotFound): deleted or moved after it was listed"]


def test_transient_5xx_is_retried_and_persistent_5xx_is_an_error(simulate):
    tenant, (flaky, broken) = one_subscription(2)
    for cluster in (flaky, broken):
        cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    sim.add_fault(Fault(match=f"{flaky.name}/providers/microsoft.insights/diagnosticSettings$", status=503, times=2))
    sim.add_fault(Fault(match=f"{broken.name}/providers/microsoft.insights/diagnosticSettings$", status=500))
    code, document = scan_json()
    assert code == 1
    assert statuses(document) == {flaky.name: "pass", broken.name: "error"}
    broken_finding = next(f for f in document["findings"] if f["name"] == broken.name)
    assert broken_finding["reasons"][0].startswith("ARM answered 500")
    broken_calls = sim.count(contains=f"{broken.name}/providers/microsoft.insights/diagnosticSettings")
    assert broken_calls == 4  # one call and three retries, no more


def test_hung_call_makes_one_error_and_does_not_stall_the_scan(simulate, monkeypatch):
    tenant, clusters = one_subscription(6)
    for cluster in clusters:
        cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.3")
    sim.add_fault(Fault(match=f"{clusters[0].name}/providers/microsoft.insights/diagnosticSettings$", hang=True))
    started = time.monotonic()
    code, document = scan_json()
    elapsed = time.monotonic() - started
    assert code == 1
    hung = next(f for f in document["findings"] if f["name"] == clusters[0].name)
    assert hung["status"] == "error"
    assert "timed out" in hung["reasons"][0]
    assert sorted(statuses(document).values()) == ["error"] + ["pass"] * 5
    assert elapsed < 30  # bounded by the per-call budget, not by the hang


def test_throttled_subscription_is_scanned_completely_without_errors(simulate):
    tenant, clusters = one_subscription(400)
    for cluster in clusters:
        cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant, throttle=Throttle(bucket=100, refill_per_second=100.0))
    code, document = scan_json()
    assert code == 0
    assert document["summary"]["clusters"] == 400
    assert document["summary"]["error"] == 0
    throttled = sum(1 for record in sim.requests if record.status == 429)
    assert throttled <= 40  # paced on the remaining-reads header, not on 429s


def test_category_groups_are_read_once_and_their_failure_is_an_error_only_where_it_matters(simulate):
    tenant, clusters = one_subscription(5)
    for cluster in clusters[:4]:
        cluster.set_setting(
            "grouped", {"storageAccountId": STORAGE, "logs": [{"categoryGroup": "audit", "enabled": True}]}
        )
    clusters[4].set_setting("explicit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    code, document = scan_json()
    assert code == 0
    assert sim.count(contains="diagnosticSettingsCategories") == 1

    sim.clear_requests()
    sim.add_fault(Fault(match="diagnosticSettingsCategories", status=500))
    code, document = scan_json()
    assert code == 1
    found = statuses(document)
    assert [found[c.name] for c in clusters] == ["error"] * 4 + ["pass"]


def test_explicit_subscriptions_skip_the_subscription_list(simulate):
    tenant = Tenant()
    wanted = tenant.add_subscription("Wanted")
    wanted.add_cluster("aks-wanted")
    tenant.add_subscription("Other").add_cluster("aks-other")
    sim = simulate(tenant)
    code, document = scan_json("--subscription", wanted.subscription_id.upper())
    assert code == 1
    assert statuses(document) == {"aks-wanted": "fail"}
    assert not any(record.path.rstrip("/").lower() == "/subscriptions" for record in sim.requests)


def test_table_output_lists_what_needs_action_first(simulate):
    simulate(demo_tenant())
    code, out, _ = run_cli("scan")
    lines = out.splitlines()
    assert code == 1
    assert lines[0].split()[:3] == ["STATUS", "CLUSTER", "RESOURCE"]
    order = [line.split()[0] for line in lines[1:] if line and line.split()[0] in {"PASS", "FAIL", "ERROR", "EXEMPT"}]
    assert order == sorted(order, key=["FAIL", "ERROR", "EXEMPT", "PASS"].index)
    assert "\x1b[" not in out  # no colour when not a terminal
    assert lines[-1] == "16 clusters in 4 subscriptions: 4 pass, 9 fail, 2 exempt, 1 error " + (
        "(1 disabled or deleted subscriptions skipped; 1 without the AKS resource provider, so no clusters)"
    )


def test_all_passing_tenant_exits_zero(simulate):
    tenant, (cluster,) = one_subscription(1)
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    simulate(tenant)
    assert run_cli("scan")[0] == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["scan", "--output", "yaml"], {}, "argument --output/-o: invalid choice: 'yaml'"),
        (["scan", "--subscription", "prod"], {}, "--subscription: 'prod' is not a subscription ID"),
        (["launch"], {}, "invalid choice: 'launch'"),
        (["scan"], {"AUDITOR_MAX_CONCURRENCY": "lots"}, "AUDITOR_MAX_CONCURRENCY='lots' is not a whole number"),
        (["scan"], {"AUDITOR_ARM_ENDPOINT": "http://127.0.0.1"}, "must be an https:// URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, env, message):
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_failed_token_is_one_clear_configuration_error(simulate):
    sim = simulate(demo_tenant())
    sim.add_fault(Fault(match="/msi/token", method=None, status=400))
    code, out, err = run_cli("scan")
    assert code == 2
    assert out == ""
    assert err.startswith("auditor: could not authenticate to Azure (")
    assert err.count("\n") == 1
    assert not any(record.path.startswith("/subscriptions") for record in sim.requests)


def test_json_output_is_one_document(simulate):
    simulate(demo_tenant())
    _, out, _ = run_cli("scan", "-o", "json")
    assert json.loads(out)["summary"]["clusters"] == 16


def test_retry_after_is_honoured_before_the_retry(simulate):
    tenant, (cluster,) = one_subscription(1)
    cluster.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sim = simulate(tenant)
    sim.add_fault(Fault(match=f"{cluster.name}/providers/microsoft.insights/diagnosticSettings$", status=429, times=1))
    code, _ = scan_json()
    assert code == 0
    reads = [
        r
        for r in sim.requests
        if r.path.lower().endswith(f"{cluster.name}/providers/microsoft.insights/diagnosticsettings")
    ]
    assert [r.status for r in reads] == [429, 200]
    assert reads[1].started - reads[0].ended >= 1.0  # the fault's Retry-After: 1


@pytest.mark.parametrize("trusted_by", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_ca_trust_follows_the_standard_variables(simulate, monkeypatch, trusted_by):
    tenant, (cluster,) = one_subscription(1)
    sim = simulate(tenant)
    other = "REQUESTS_CA_BUNDLE" if trusted_by == "SSL_CERT_FILE" else "SSL_CERT_FILE"
    monkeypatch.delenv(other)
    monkeypatch.setenv(trusted_by, sim.ca_file)
    code, document = scan_json()
    assert (code, statuses(document)) == (1, {cluster.name: "fail"})


def test_untrusted_endpoint_stops_with_one_line_not_a_silent_pass(simulate, monkeypatch):
    tenant, _ = one_subscription(1)
    simulate(tenant)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    code, out, err = run_cli("scan")
    assert (code, out) == (1, "")
    assert err.startswith("auditor: could not list subscriptions: could not reach ARM (ServiceRequestError)")
    assert err.count("\n") == 1


def test_unreachable_identity_endpoint_is_one_clear_configuration_error(simulate, monkeypatch):
    tenant, _ = one_subscription(1)
    simulate(tenant)
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")  # discard port: nothing listens
    code, out, err = run_cli("scan")
    assert (code, out) == (2, "")
    assert err.startswith("auditor: could not authenticate to Azure (")
    assert err.count("\n") == 1


def test_csv_sarif_and_html_outputs(simulate, tmp_path):
    simulate(demo_tenant())
    code, out, _ = run_cli("scan", "--output", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1
    assert len(rows) == 16
    assert rows[0]["status"] == "fail"
    _, out, _ = run_cli("scan", "--output", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == 10  # 9 fail + 1 error
    report = tmp_path / "report.html"
    code, out, err = run_cli("scan", "--output", "html", "--out", str(report))
    assert (code, out) == (1, "")
    assert err.startswith(f"auditor: wrote html report to {report}")
    assert report.read_text().lstrip().lower().startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_out_into_a_missing_directory_is_refused_before_scanning(simulate):
    sim = simulate(demo_tenant())
    code, out, err = run_cli("scan", "--output", "html", "--out", "/nonexistent/dir/report.html")
    assert (code, out) == (2, "")
    assert "does not exist or is not writable" in err
    assert sim.requests == []


def test_a_bug_while_reading_stays_an_error_finding_and_logs_its_traceback(simulate):
    """An answer the SDK cannot deserialize is not an Azure failure: the log must show where it broke."""
    tenant, (odd, fine) = one_subscription(2)
    fine.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    odd.settings_answer = {"value": 5}
    simulate(tenant)
    code, out, err = run_cli("scan", "--output", "json")
    assert (code, statuses(json.loads(out))) == (1, {odd.name: "error", fine.name: "pass"})
    assert f"C-0254 unexpected failure judging {odd.id}" in err
    assert "Traceback (most recent call last)" in err
    assert "DeserializationError" in err
