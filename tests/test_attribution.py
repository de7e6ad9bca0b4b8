"""Who turned audit logging off (docs/reference.md, "Attribution"): the actor from an event's claims or,
for a failure a scan found, from one Activity Log query; severity by what happened; every channel says
it, as much as AUDITOR_ATTRIBUTION allows."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from support import audit_setting, every_channel, react, run_cli, scan_json

from auditor.attribution import Attribution, Caller, Origin, caller_from, change_of, sentence, severity_of
from auditor.events import parse_event
from auditor.model import ActorType, Change, ChangeSource, Cluster, Severity, Status
from auditor.rule import evaluate
from auditor.settings import Settings
from azsim import Tenant
from azsim.events import setting_changed
from azsim.principals import managed_identity, service_principal, user

AUDIT = ("kube-audit", "kube-audit-admin")
ALICE = user("4a9d3c1e-7b2f-4e8a-9c6d-1f0e2d3c4b5a", "Alice Meyer", "alice@contoso.com", ip="203.0.113.7")
PIPELINE = service_principal(
    "8b1e2f3a-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "gh-deploy", "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"
)
JOBS = managed_identity(
    "6c7d8e9f-0a1b-4c2d-8e3f-4a5b6c7d8e9f",
    "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a",
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/rg-ops/providers"
    "/Microsoft.ManagedIdentity/userAssignedIdentities/id-cleanup-job",
)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TENANT_ID = "3f8e9c1a-6b2d-4e7f-a1c5-0d9b8e7f6a54"


def caller(principal, method: str = "DELETE") -> Caller:
    data = {
        "claims": principal.claims(TENANT_ID, "https://management.core.windows.net/"),
        "httpRequest": principal.http_request(method),
        "correlationId": "c0ffee00-0000-4000-8000-000000000001",
        "operationName": "Microsoft.Insights/diagnosticSettings/delete",
    }
    return caller_from(data, NOW - timedelta(minutes=2))


# --- reading the caller ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "kind", "actor", "ip"),
    [
        (ALICE, ActorType.USER, "alice@contoso.com", "203.0.113.7"),
        (PIPELINE, ActorType.SERVICE_PRINCIPAL, PIPELINE.app_id, ""),
        (JOBS, ActorType.MANAGED_IDENTITY, "id-cleanup-job", ""),
    ],
)
def test_each_actor_type_is_read_from_its_own_claims(principal, kind, actor, ip):
    change = change_of(caller(principal), ChangeSource.EVENT, Attribution.FULL, "audit")
    assert change is not None
    assert (change.actor_type, change.actor, change.object_id) == (kind, actor, principal.object_id)
    # Applications have no ipaddr claim: the request's clientIpAddress stands in.
    assert change.client_ip == (ip or principal.ip)
    assert change.correlation_id == "c0ffee00-0000-4000-8000-000000000001"


def test_missing_partial_or_hostile_claims_never_break_attribution():
    bare = change_of(caller_from({}, None), ChangeSource.EVENT, Attribution.FULL)
    assert bare is not None
    assert (bare.actor_type, bare.actor, bare.client_ip) == (ActorType.UNKNOWN, "", "")
    odd = caller_from({"claims": {"ipaddr": "10.0.0.1<script>", "oid": 42, "upn": "x" * 5000}, "httpRequest": "?"}, NOW)
    change = change_of(odd, ChangeSource.EVENT, Attribution.FULL)
    assert change is not None
    assert change.client_ip == ""  # not an address: dropped, never passed on
    assert change.object_id == ""  # not a string
    assert len(change.actor) == 256


def test_an_older_event_schema_with_claims_as_json_text_is_read_too():
    event = setting_changed(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
        "audit",
        deleted=True,
        caller=ALICE,
    )
    event["data"]["claims"] = json.dumps(event["data"]["claims"])
    event["data"]["httpRequest"] = json.dumps(event["data"]["httpRequest"])
    parsed = parse_event(event)
    assert parsed.caller is not None
    change = change_of(parsed.caller, ChangeSource.EVENT, Attribution.FULL)
    assert change is not None
    assert (change.actor, change.client_ip) == ("alice@contoso.com", "203.0.113.7")


def test_privacy_id_keeps_only_ids_and_off_keeps_nothing():
    full = change_of(caller(ALICE), ChangeSource.EVENT, Attribution.FULL)
    ids = change_of(caller(ALICE), ChangeSource.EVENT, Attribution.ID)
    assert full is not None
    assert ids is not None
    assert (ids.actor, ids.client_ip, ids.object_id, ids.app_id) == ("", "", ALICE.object_id, full.app_id)
    assert change_of(caller(ALICE), ChangeSource.EVENT, Attribution.OFF) is None


# --- severity and the sentence ----------------------------------------------------------------------

CLUSTER = Cluster(
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.ContainerService"
    "/managedClusters/aks-1",
    "aks-1",
    "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "rg",
)
FAILING = evaluate(CLUSTER, [], None, Settings().policy(), NOW.date())


@pytest.mark.parametrize(
    ("origin", "previous", "stored", "expected"),
    [
        (Origin.SCAN, "pass", "", Severity.HIGH),  # it passed, now it does not: logging was removed
        (Origin.SCAN, None, "", Severity.MEDIUM),  # never seen: a cluster that never passed
        (Origin.CLUSTER_WRITE, None, "", Severity.MEDIUM),  # a new cluster without logging
        (Origin.SETTING_CHANGE, None, "", Severity.HIGH),  # no history, but a setting change broke it
        (Origin.SCAN, "fail", "high", Severity.HIGH),  # a reminder keeps its severity
        (Origin.SCAN, "fail", "medium", Severity.MEDIUM),
        (Origin.SCAN, "exempt", "", Severity.MEDIUM),  # an exemption ran out: nothing was removed
    ],
)
def test_severity_follows_what_happened(origin, previous, stored, expected):
    assert severity_of(FAILING, origin, previous, stored) is expected


def test_passing_findings_have_no_severity_and_errors_are_low():
    passing = evaluate(CLUSTER, [], None, Settings().policy(), NOW.date())
    assert severity_of(passing.__class__(**{**_fields(passing), "status": Status.PASS}), Origin.SCAN, None) is None
    error = passing.__class__(**{**_fields(passing), "status": Status.ERROR})
    assert severity_of(error, Origin.SCAN, "pass") is Severity.LOW


def _fields(finding):
    return {name: getattr(finding, name) for name in finding.__dataclass_fields__}


def test_the_sentence_names_what_changed_who_from_where_and_when():
    change = change_of(caller(ALICE), ChangeSource.EVENT, Attribution.FULL, "audit-to-law")
    finding = FAILING.__class__(**{**_fields(FAILING), "change": change})
    assert sentence(finding, NOW) == (
        "kube-audit, kube-audit-admin are no longer exported: setting audit-to-law was deleted by "
        "alice@contoso.com from 203.0.113.7, 2 minutes ago"
    )
    assert sentence(finding, None).endswith("from 203.0.113.7, at 2026-12-01 11:58 UTC")
    ids = change_of(caller(JOBS), ChangeSource.EVENT, Attribution.ID, "audit-to-law")
    anonymous = FAILING.__class__(**{**_fields(FAILING), "change": ids})
    assert f"by managed identity {JOBS.object_id}, 2 minutes ago" in sentence(anonymous, NOW)
    note = Change("", ChangeSource.ACTIVITY_LOG, note="no change to its diagnostic settings is in the log")
    assert "no change to its diagnostic settings" in sentence(
        FAILING.__class__(**{**_fields(FAILING), "change": note}), NOW
    )


# --- through the function's event path, into every channel -----------------------------------------


def drift_tenant() -> tuple[Tenant, object]:
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-payments", "rg-payments")
    cluster.set_setting("audit-to-law", audit_setting(*AUDIT))
    for principal in (ALICE, PIPELINE, JOBS):
        tenant.add_principal(principal)
    return tenant, cluster


@pytest.fixture
def channels(simulate, smtp, storage, tmp_path, monkeypatch):
    """Every channel configured, state on Azurite (so a reminder knows what it was)."""

    def start(tenant: Tenant, attribution: str = "full"):
        sim = simulate(tenant)
        values = {
            **every_channel(sim, smtp, tmp_path / "trust.pem", "platform-security@contoso.com"),
            "AzureWebJobsStorage": storage,
            "AUDITOR_ATTRIBUTION": attribution,
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return sim

    return start


def everything_said(sim, smtp, caplog) -> str:
    cards = json.dumps(sim.sinks.teams_posts)
    mails = "\n".join(m.get_body(("plain",)).get_content() + m.get_body(("html",)).get_content() for m in smtp.messages)
    events = json.dumps(sim.sinks.eventgrid_events)
    logs = "\n".join(record.getMessage() for record in caplog.records)
    return "\n".join((cards, mails, events, logs))


@pytest.mark.parametrize(
    ("principal", "named"),
    [
        (ALICE, "alice@contoso.com from 203.0.113.7"),
        (PIPELINE, f"service principal {PIPELINE.app_id} from {PIPELINE.ip}"),
        (JOBS, f"managed identity id-cleanup-job from {JOBS.ip}"),
    ],
)
def test_a_drift_event_names_its_actor_in_the_finding_the_card_the_email_and_the_cloudevent(
    channels, smtp, caplog, principal, named
):
    tenant, cluster = drift_tenant()
    sim = channels(tenant)
    cluster.delete_setting("audit-to-law", by=principal)
    finding = react(
        setting_changed(cluster.id, "audit-to-law", deleted=True, tenant_id=tenant.tenant_id, caller=principal)
    )
    assert finding.status is Status.FAIL
    assert finding.severity is Severity.HIGH
    assert finding.change.source is ChangeSource.EVENT
    assert finding.change.setting == "audit-to-law"
    (event,) = sim.sinks.eventgrid_events
    assert event["data"]["severity"] == "high"
    assert event["data"]["change"]["objectId"] == principal.object_id
    (post,) = sim.sinks.teams_posts
    card = post["attachments"][0]["content"]
    assert card["body"][0]["style"] == "attention"  # high: red
    card_text = json.dumps(card)
    assert "setting audit-to-law was deleted by" in card_text
    (mail,) = smtp.messages
    assert f"setting audit-to-law was deleted by {named}" in mail.get_body(("plain",)).get_content()
    assert sim.count("GET", "/eventtypes/management/values") == 0  # the event said who: no lookup


@pytest.mark.parametrize("attribution", ["id", "off"])
def test_with_attribution_id_or_off_no_name_or_address_is_said_anywhere(channels, smtp, caplog, attribution):
    tenant, cluster = drift_tenant()
    sim = channels(tenant, attribution)
    caplog.set_level(logging.DEBUG)
    cluster.delete_setting("audit-to-law", by=ALICE)
    finding = react(setting_changed(cluster.id, "audit-to-law", deleted=True, tenant_id=tenant.tenant_id, caller=ALICE))
    said = everything_said(sim, smtp, caplog) + json.dumps(finding.to_json())
    for personal in ("alice@contoso.com", "Alice Meyer", "203.0.113.7"):
        assert personal not in said
    if attribution == "id":
        assert finding.change.object_id == ALICE.object_id
        assert ALICE.object_id in said
    else:
        assert finding.change is None
        assert ALICE.object_id not in said


def test_a_failure_found_by_the_timer_is_attributed_with_one_activity_log_query(channels, smtp):
    tenant, cluster = drift_tenant()
    quiet = tenant.subscriptions[0].add_cluster("aks-quiet", "rg-payments")
    quiet.set_setting("audit", audit_setting(*AUDIT))
    sim = channels(tenant)
    assert scan_json()[0] == 0  # both pass: the state remembers it
    cluster.delete_setting("audit-to-law", by=ALICE, hours_ago=1)  # no event reached the auditor
    sim.clear_requests()
    _, document = scan_json()
    found = {f["name"]: f for f in document["findings"]}
    change = found["aks-payments"]["change"]
    assert (change["source"], change["actor"], change["setting"]) == (
        "activityLog",
        "alice@contoso.com",
        "audit-to-law",
    )
    assert found["aks-payments"]["severity"] == "high"
    assert sim.count("GET", "/eventtypes/management/values") == 1  # one new failure, one query
    sim.clear_requests()
    _, again = scan_json()  # still failing: the record remembers who, no second lookup
    assert {f["name"]: f for f in again["findings"]}["aks-payments"]["change"]["actor"] == "alice@contoso.com"
    assert sim.count("GET", "/eventtypes/management/values") == 0


def test_a_cluster_created_without_logging_is_attributed_to_its_creator_or_to_the_logs_horizon(channels):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    tenant.add_principal(PIPELINE)
    sub.add_cluster("aks-new", "rg-apps", created_by=PIPELINE, created_days_ago=10)
    sub.add_cluster("aks-old", "rg-apps", created_by=PIPELINE, created_days_ago=120)
    channels(tenant)
    _, document = scan_json()
    found = {f["name"]: f for f in document["findings"]}
    assert found["aks-new"]["severity"] == "medium"
    assert found["aks-new"]["change"]["operation"] == "Microsoft.ContainerService/managedClusters/write"
    assert found["aks-new"]["change"]["objectId"] == PIPELINE.object_id
    assert "it was created before them" in found["aks-old"]["change"]["note"]


def test_an_activity_log_with_nothing_says_so_instead_of_guessing(channels):
    tenant, cluster = drift_tenant()
    channels(tenant)
    assert scan_json()[0] == 0
    cluster.delete_setting("audit-to-law")  # made outside anything the log recorded
    _, document = scan_json()
    change = document["findings"][0]["change"]
    assert "actor" not in change
    assert change["note"].startswith("no change to its diagnostic settings is in the Activity Log's 90 days")


def test_activity_log_queries_equal_new_failures_not_clusters(channels):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    clusters = [sub.add_cluster(f"aks-{i:02d}", "rg-fleet") for i in range(20)]
    for c in clusters:
        c.set_setting("audit", audit_setting(*AUDIT))
    sim = channels(tenant)
    scan_json()
    for c in clusters[:3]:
        c.delete_setting("audit", by=ALICE)
    sim.clear_requests()
    scan_json()
    assert sim.count("GET", "/eventtypes/management/values") == 3


def test_sarif_maps_a_removed_audit_log_to_attack_t1562_008(channels):
    tenant, cluster = drift_tenant()
    channels(tenant)
    scan_json()
    cluster.delete_setting("audit-to-law", by=ALICE)
    _, out, _ = run_cli("scan", "--output", "sarif")
    run = json.loads(out)["runs"][0]
    rule = run["tool"]["driver"]["rules"][0]
    assert "T1562.008" in rule["properties"]["tags"]
    assert rule["properties"]["attackTechnique"] == "T1562.008"
    (result,) = run["results"]
    assert (result["properties"]["severity"], result["properties"]["security-severity"]) == ("high", "8.0")
    assert "alice@contoso.com" in result["message"]["text"]
