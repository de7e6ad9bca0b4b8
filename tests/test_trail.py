"""Whether the audit trail exists (docs/reference.md, "Destinations"), checked against the simulation: the
destination answers, ingests, keeps the data long enough and receives it; read with GETs and one query
per workspace, never a write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import STORAGE, WORKSPACE, audit_setting, scan_json, statuses

from azsim import Fault, Tenant
from azsim.destinations import AuditRecord

AUDIT = ("kube-audit", "kube-audit-admin")
PARTNER = (
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-logs"
    "/providers/Microsoft.Datadog/monitors/dd-security"
)


def one_cluster(**setting: object) -> tuple[Tenant, object]:
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-a")
    cluster.set_setting("audit", audit_setting(*AUDIT, **setting))
    return tenant, cluster


def finding(document: dict) -> dict:
    (only,) = document["findings"]
    return only


def checks(document: dict) -> list[dict]:
    return [check for evidence in finding(document)["evidence"] for check in evidence.get("checks", [])]


def test_a_setting_that_names_a_deleted_workspace_fails_and_passes_when_checks_are_off(simulate, monkeypatch):
    tenant, _ = one_cluster()
    simulate(tenant)
    tenant.remove_destination(WORKSPACE)
    code, document = scan_json()
    assert (code, finding(document)["status"]) == (1, "fail")
    assert "kube-audit is exported, but no accepted destination keeps it" in finding(document)["reasons"][0]
    assert "which no longer exists (404 ResourceNotFound)" in finding(document)["reasons"][0]
    assert checks(document)[0]["result"] == "lost"
    monkeypatch.setenv("AUDITOR_DESTINATION_CHECK", "off")
    assert scan_json()[0] == 0


def test_a_workspace_stopped_by_its_daily_cap_fails_with_the_time_it_resets(simulate):
    tenant, _ = one_cluster()
    tenant.add_workspace(WORKSPACE).cap("OverQuota", hours_ago=1, resets_in_hours=4)
    simulate(tenant)
    code, document = scan_json()
    reason = finding(document)["reasons"][0]
    assert code == 1
    assert "which is not ingesting data (dataIngestionStatus OverQuota; the cap resets at " in reason


def test_approaching_the_cap_passes_with_a_warning(simulate):
    tenant, _ = one_cluster()
    tenant.add_workspace(WORKSPACE, ingestion="ApproachingQuota")
    simulate(tenant)
    code, document = scan_json()
    assert code == 0
    assert any("approaching its daily cap" in reason for reason in finding(document)["reasons"])


@pytest.mark.parametrize(
    ("tables", "default", "status"),
    [
        ({}, 30, "fail"),  # the workspace default is the tables' retention
        ({"AKSAudit": (30, 400), "AKSAuditAdmin": (90, 90)}, 30, "pass"),  # long-term retention counts
        ({"AKSAudit": (30, 30)}, 365, "fail"),  # one table set shorter than the default
    ],
)
def test_retention_is_the_audit_tables_total_retention(simulate, monkeypatch, tables, default, status):
    tenant, _ = one_cluster(logAnalyticsDestinationType="Dedicated")
    tenant.add_workspace(WORKSPACE, retention_days=default, tables=tables)
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_MIN_RETENTION_DAYS", "90")
    _, document = scan_json()
    assert finding(document)["status"] == status, finding(document)["reasons"]


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"days": 30}, "fail"),
        ({"days": 30, "prefix": "insights-logs-kube-audit"}, "fail"),  # covers the audit containers
        ({"days": 30, "prefix": "insights-logs-kube-apiserver"}, "pass"),  # another category's container
        ({"days": 30, "blob_types": ("blockBlob",)}, "pass"),  # resource logs are append blobs
        ({"days": 400}, "pass"),
    ],
)
def test_a_lifecycle_rule_that_deletes_audit_blobs_too_soon_fails(simulate, monkeypatch, rule, status):
    tenant, _ = one_cluster(workspace="", storageAccountId=STORAGE)
    tenant.add_storage_account(STORAGE).delete_after(**rule)
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_MIN_RETENTION_DAYS", "90")
    _, document = scan_json()
    assert finding(document)["status"] == status, finding(document)["reasons"]


def test_a_destination_the_identity_may_not_read_is_noted_under_lenient_and_an_error_under_strict(
    simulate, monkeypatch
):
    tenant, _ = one_cluster()
    tenant.add_workspace(WORKSPACE, forbidden=True)
    simulate(tenant)
    code, document = scan_json()
    assert (code, finding(document)["status"]) == (0, "pass")
    note = next(reason for reason in finding(document)["reasons"] if "was not verified" in reason)
    assert "forbidden (403 AuthorizationFailed)" in note
    assert "Log Analytics Reader" in note
    monkeypatch.setenv("AUDITOR_DESTINATION_CHECK", "strict")
    code, document = scan_json()
    assert (code, finding(document)["status"]) == (1, "error")


def test_a_destination_that_answers_garbage_or_fails_is_unverified_not_judged(simulate, monkeypatch):
    tenant, _ = one_cluster()
    sim = simulate(tenant)
    sim.add_fault(Fault(match="/workspaces/la-security$", status=500))
    code, document = scan_json()
    assert (code, checks(document)[0]["result"]) == (0, "unverified")
    monkeypatch.setenv("AUDITOR_DESTINATION_CHECK", "strict")
    assert finding(scan_json()[1])["status"] == "error"


def test_a_deleted_partner_resource_fails_after_its_api_version_is_learnt_from_the_provider(simulate):
    tenant, _ = one_cluster(workspace="", marketplacePartnerId=PARTNER)
    sim = simulate(tenant)
    tenant.add_resource(
        PARTNER, "Microsoft.Datadog/monitors", api_versions=("2021-03-01", "2023-01-01", "2025-06-11-preview")
    )
    assert scan_json()[0] == 0
    partner_reads = [r for r in sim.requests if "Microsoft.Datadog/monitors" in r.path]
    assert {r.query["api-version"] for r in partner_reads} == {"2023-01-01"}  # newest stable
    tenant.remove_destination(PARTNER)
    code, document = scan_json()
    assert code == 1
    assert "no longer exists" in finding(document)["reasons"][0]


def test_delivery_fails_a_cluster_whose_records_stopped_arriving(simulate, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    flowing = sub.add_cluster("aks-flowing")
    silent = sub.add_cluster("aks-silent")
    young = sub.add_cluster("aks-young")
    stopped = sub.add_cluster("aks-stopped")
    for cluster in (flowing, silent, stopped):
        cluster.set_setting("audit", audit_setting(*AUDIT))
    young.set_setting("audit", audit_setting(*AUDIT), created_days_ago=1 / 24)
    silent.silent_since = datetime.now(UTC) - timedelta(days=2)
    stopped.stop(hours_ago=48)
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    _code, document = scan_json()
    assert statuses(document) == {
        "aks-flowing": "pass",
        "aks-silent": "fail",
        "aks-young": "pass",
        "aks-stopped": "pass",
    }
    reasons = {f["name"]: " ".join(f["reasons"]) for f in document["findings"]}
    assert "but no kube-audit record has reached it since" in reasons["aks-silent"]
    assert "younger than the 24 h lookback" in reasons["aks-young"]
    assert "the cluster is stopped" in reasons["aks-stopped"]


def test_an_older_record_than_the_lookback_does_not_count(simulate, monkeypatch):
    tenant, cluster = one_cluster()
    cluster.silent_since = datetime.now(UTC) - timedelta(days=3)
    workspace = tenant.add_workspace(WORKSPACE)
    workspace.records.append(AuditRecord(cluster.id, "kube-audit", datetime.now(UTC) - timedelta(hours=30)))
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    assert finding(scan_json()[1])["status"] == "fail"
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "36")
    _, document = scan_json()
    assert finding(document)["status"] == "fail"  # kube-audit-admin still silent
    assert "no kube-audit-admin record" in finding(document)["reasons"][0]
    assert "no kube-audit record" not in " ".join(finding(document)["reasons"])


@pytest.mark.parametrize("answer", ["partial", "forbidden"])
def test_a_delivery_query_that_answers_in_part_or_is_refused_makes_the_cluster_error(simulate, monkeypatch, answer):
    tenant, cluster = one_cluster()
    cluster.silent_since = datetime.now(UTC) - timedelta(days=3)
    tenant.add_workspace(WORKSPACE, query_answer=answer)
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    code, document = scan_json()  # lenient: still error, the check asked for could not run
    assert (code, finding(document)["status"], checks(document)[0]["result"]) == (1, "error", "unverified")
    assert "could not be checked" in " ".join(finding(document)["reasons"])


def test_delivery_to_storage_is_read_from_the_blobs_azure_monitor_writes(simulate, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    archived = sub.add_cluster("aks-archived")
    silent = sub.add_cluster("aks-silent")
    for cluster in (archived, silent):
        cluster.set_setting("archive", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    # Its last blob is inside the listed days but older than the lookback: the blob's path says so, though
    # the simulation writes it now (its Last-Modified is now).
    silent.silent_since = datetime.now(UTC) - timedelta(hours=30)
    sim = simulate(tenant, blob_service=True)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    _code, document = scan_json()
    assert statuses(document) == {"aks-archived": "pass", "aks-silent": "fail"}
    assert sim.blob_requests
    assert {r.method for r in sim.blob_requests} == {"GET"}
    tenant.find_destination(STORAGE).blob_access = "denied"
    _, document = scan_json()
    notes = " ".join(f["reasons"][-1] for f in document["findings"])
    assert statuses(document) == {"aks-archived": "pass", "aks-silent": "pass"}  # lenient: not verified
    assert "grant it Storage Blob Data Reader" in notes


def test_every_check_on_reads_with_gets_and_one_query_per_workspace(simulate, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    for i in range(30):
        sub.add_cluster(f"aks-{i:02d}").set_setting(
            "audit", audit_setting(*AUDIT, logAnalyticsDestinationType="Dedicated")
        )
    sim = simulate(tenant, blob_service=True)
    monkeypatch.setenv("AUDITOR_DESTINATION_CHECK", "strict")
    monkeypatch.setenv("AUDITOR_MIN_RETENTION_DAYS", "30")
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    sim.clear_requests()
    code, document = scan_json()
    assert code == 0, document["findings"][0]["reasons"]
    assert {r.method for r in sim.requests} == {"GET"}
    assert {(r.method, r.path.split("/")[-1]) for r in sim.logs_requests} == {("POST", "query")}
    assert len(sim.logs_requests) == 1
    workspace_reads = [r for r in sim.requests if r.path.lower().endswith("/workspaces/la-security")]
    table_reads = [r for r in sim.requests if "/tables/" in r.path]
    assert len(workspace_reads) == 1
    assert len(table_reads) == 3  # AKSAudit, AKSAuditAdmin and AzureDiagnostics, once each for the scan


def test_a_throttled_delivery_query_is_retried_after_retry_after_not_judged(simulate, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    other = WORKSPACE.replace("la-security", "la-second")
    tenant.add_workspace(other)
    sub.add_cluster("aks-a").set_setting("audit", audit_setting(*AUDIT))
    sub.add_cluster("aks-b").set_setting("audit", audit_setting(*AUDIT, workspace=other))
    sim = simulate(tenant)
    sim.logs.limit = (1, 1.0)  # the second workspace's query waits for the window
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    code, document = scan_json()
    assert (code, statuses(document)) == (0, {"aks-a": "pass", "aks-b": "pass"})
    assert 429 in {r.status for r in sim.logs_requests}
