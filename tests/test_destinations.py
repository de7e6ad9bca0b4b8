"""Judging the audit trail's destinations from what Azure said: a pure function of data, table-tested."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from support import STORAGE, WORKSPACE

from auditor.destinations import (
    DestinationCheck,
    DestinationState,
    Expectations,
    Health,
    LifecycleRule,
    Records,
    Retention,
    Sender,
    blob_prefix,
    judge,
    newest_records,
    table_for,
)
from auditor.model import Cluster, Destination, DiagnosticSetting, LogEntry, Status
from auditor.resource_id import resource_key
from auditor.rule import Trail, evaluate
from auditor.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER_ID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-1"
CLUSTER = Cluster(CLUSTER_ID, "aks-1", SUB, "rg")
SENDER = Sender(CLUSTER_ID, False, "audit", True, NOW - timedelta(days=30))
LENIENT = Expectations(DestinationCheck.LENIENT)
HEALTHY = DestinationState(WORKSPACE, Destination.WORKSPACE, said="200", ingestion="RespectQuota", customer_id="c1")


def verdict(state: DestinationState, expect: Expectations = LENIENT, records: Records | None = None, **sender):
    return judge(state, records, "kube-audit", dataclasses.replace(SENDER, **sender), expect, NOW)


@pytest.mark.parametrize(
    ("state", "health", "words"),
    [
        (HEALTHY, Health.KEEPS, ""),
        (
            DestinationState(WORKSPACE, Destination.WORKSPACE, exists=False, said="404 ResourceNotFound"),
            Health.LOST,
            "no longer exists",
        ),
        (
            DestinationState(
                WORKSPACE, Destination.WORKSPACE, ingestion="OverQuota", quota_reset="2026-12-02T00:00:00Z"
            ),
            Health.LOST,
            "not ingesting data (dataIngestionStatus OverQuota; the cap resets at 2026-12-02T00:00:00Z)",
        ),
        (DestinationState(WORKSPACE, Destination.WORKSPACE, ingestion="ForceOff"), Health.LOST, "ForceOff"),
        (
            DestinationState(WORKSPACE, Destination.WORKSPACE, ingestion="SubscriptionSuspended"),
            Health.LOST,
            "Suspended",
        ),
        (
            DestinationState(STORAGE, Destination.STORAGE, exists=False, said="404 ResourceNotFound"),
            Health.LOST,
            "no longer exists",
        ),
        (
            DestinationState(
                WORKSPACE, Destination.WORKSPACE, readable=False, said="forbidden (403 AuthorizationFailed)"
            ),
            Health.UNVERIFIED,
            "was not verified: forbidden (403",
        ),
    ],
)
def test_a_destination_that_is_gone_or_not_ingesting_keeps_nothing(state, health, words):
    result = verdict(state)
    assert result.health is health
    assert words in result.reason


def test_approaching_the_cap_and_an_odd_provisioning_state_warn_without_changing_the_verdict():
    result = verdict(
        DestinationState(WORKSPACE, Destination.WORKSPACE, ingestion="ApproachingQuota", provisioning="Updating")
    )
    assert result.health is Health.KEEPS
    assert "approaching its daily cap" in result.warning
    assert "provisioning state Updating" in result.warning


@pytest.mark.parametrize(
    ("dedicated", "tables", "default", "health", "words"),
    [
        (
            True,
            {"AKSAudit": Retention(400, "table AKSAudit: 90 days interactive + 310 long-term")},
            30,
            Health.KEEPS,
            "",
        ),
        (
            True,
            {"AKSAudit": Retention(90, "table AKSAudit: 90 days")},
            400,
            Health.LOST,
            "keeps kube-audit 90 days (table AKSAudit: 90 days); 365 required",
        ),
        (
            False,
            {"AzureDiagnostics": Retention(30, "table AzureDiagnostics: 30 days")},
            400,
            Health.LOST,
            "AzureDiagnostics",
        ),
        (True, {}, 30, Health.LOST, "the workspace default of 30 days"),
        (True, {}, None, Health.KEEPS, ""),  # nothing said about retention: not judged
    ],
)
def test_a_workspace_keeps_a_category_as_long_as_its_table_says(dedicated, tables, default, health, words):
    state = DestinationState(WORKSPACE, Destination.WORKSPACE, tables=tables, default_retention=default)
    result = verdict(state, Expectations(DestinationCheck.LENIENT, min_retention_days=365), dedicated=dedicated)
    assert result.health is health
    assert words in result.reason


@pytest.mark.parametrize(
    ("prefixes", "days", "health"),
    [
        ((), 30, Health.LOST),  # every blob of the account
        (("insights-logs-kube-audit",), 30, Health.LOST),
        (("insights-logs-kube-audit-admin",), 30, Health.KEEPS),  # another container (a longer name, same start)
        (("insights-logs-kube-audit/resourceId=/SUBSCRIPTIONS/",), 30, Health.LOST),
        ((blob_prefix(CLUSTER_ID, "kube-audit") + "y=2026",), 30, Health.LOST),  # narrower: deletes some of them
        (("insights-logs-kube-audit",), 400, Health.KEEPS),
    ],
)
def test_a_storage_account_keeps_a_category_unless_a_lifecycle_rule_deletes_its_blobs_sooner(prefixes, days, health):
    state = DestinationState(STORAGE, Destination.STORAGE, lifecycle=(LifecycleRule("expire", prefixes, days),))
    result = verdict(state, Expectations(DestinationCheck.LENIENT, min_retention_days=365))
    assert result.health is health
    if health is Health.LOST:
        assert "lifecycle rule expire deletes insights-logs-kube-audit blobs after" in result.reason


def test_delivery_is_judged_from_the_newest_record_and_excused_for_stopped_clusters_and_young_settings():
    expect = Expectations(DestinationCheck.LENIENT, lookback_hours=24)
    since = NOW - timedelta(hours=24)
    fresh = Records(since, newest_records([(CLUSTER_ID.upper(), "KUBE-AUDIT", NOW - timedelta(minutes=5))]))
    silent = Records(since)
    assert verdict(HEALTHY, expect, fresh).health is Health.KEEPS
    lost = verdict(HEALTHY, expect, silent)
    assert lost.health is Health.LOST
    assert lost.reason.endswith("but no kube-audit record has reached it since 2026-11-30 12:00 UTC")
    assert "stopped" in verdict(HEALTHY, expect, silent, stopped=True).warning
    young = verdict(HEALTHY, expect, silent, created_at=NOW - timedelta(hours=2))
    assert (young.health, "younger than the 24 h lookback" in young.warning) == (Health.KEEPS, True)


def test_a_delivery_check_that_cannot_run_is_decisive_unless_only_the_data_role_is_missing():
    expect = Expectations(DestinationCheck.LENIENT, lookback_hours=24)
    since = NOW - timedelta(hours=24)
    for records in (Records(since, failure="the query could not run"), Records(since, partial="PartialError"), None):
        result = verdict(HEALTHY, expect, records)
        assert (result.health, result.decisive) == (Health.UNVERIFIED, True)
    denied = verdict(HEALTHY, expect, Records(since, failure="403", denied=True))
    assert (denied.health, denied.decisive) == (Health.UNVERIFIED, False)
    unreadable = dataclasses.replace(HEALTHY, readable=False, said="forbidden (403 AuthorizationFailed)")
    assert verdict(unreadable, expect).decisive is False  # the destination itself: lenient's business


def test_categories_land_in_their_tables():
    assert [table_for(c, True) for c in ("kube-audit", "kube-audit-admin", "guard")] == [
        "AKSAudit",
        "AKSAuditAdmin",
        "AKSControlPlane",
    ]
    assert table_for("kube-audit", False) == "AzureDiagnostics"
    assert blob_prefix(CLUSTER_ID, "guard").startswith("insights-logs-guard/resourceId=/SUBSCRIPTIONS/")


# --- the rule with a trail ---------------------------------------------------------------------------------


def setting(workspace: str = WORKSPACE, storage: str = "") -> DiagnosticSetting:
    logs = (LogEntry("kube-audit", None, True), LogEntry("kube-audit-admin", None, True))
    return DiagnosticSetting("audit", logs, workspace_id=workspace, storage_account_id=storage, dedicated=True)


def judged(check: str, *states: DestinationState, settings=None):
    policy = Settings.from_env({"AUDITOR_DESTINATION_CHECK": check}).policy()
    trail = Trail({resource_key(s.resource_id): s for s in states}, {}, NOW)
    return evaluate(CLUSTER, settings or [setting()], None, policy, NOW.date(), trail=trail)


def test_a_setting_that_names_a_deleted_workspace_fails_and_the_evidence_says_what_arm_said():
    gone = DestinationState(WORKSPACE, Destination.WORKSPACE, exists=False, said="404 ResourceNotFound")
    finding = judged("lenient", gone)
    assert finding.status is Status.FAIL
    assert finding.missing_categories == ("kube-audit", "kube-audit-admin")
    assert (
        f"setting audit sends it to workspace {WORKSPACE}, which no longer exists (404 ResourceNotFound)"
        in finding.reasons[0]
    )
    (check,) = finding.evidence[0].checks
    assert (check.result, check.said) == ("lost", "404 ResourceNotFound")
    assert finding.to_json()["evidence"][0]["checks"][0]["resourceId"] == WORKSPACE


def test_a_second_healthy_destination_of_the_setting_still_carries_the_categories():
    gone = DestinationState(WORKSPACE, Destination.WORKSPACE, exists=False, said="404")
    kept = DestinationState(STORAGE, Destination.STORAGE, said="200")
    finding = judged("lenient", gone, kept, settings=[setting(storage=STORAGE)])
    assert finding.status is Status.PASS
    assert [c.result for c in finding.evidence[0].checks] == ["lost", "ok"]


@pytest.mark.parametrize(
    ("check", "status"), [("lenient", Status.PASS), ("strict", Status.ERROR), ("off", Status.PASS)]
)
def test_an_unreadable_destination_neither_passes_nor_fails_by_itself_unless_strict(check, status):
    forbidden = DestinationState(
        WORKSPACE, Destination.WORKSPACE, readable=False, said="forbidden (403 AuthorizationFailed)"
    )
    finding = judged(check, forbidden)
    assert finding.status is status
    assert any("was not verified: forbidden (403 AuthorizationFailed)" in reason for reason in finding.reasons)


def test_without_a_trail_a_named_destination_is_enough():
    policy = Settings().policy()
    assert evaluate(CLUSTER, [setting()], None, policy, NOW.date()).status is Status.PASS
