"""Faults: whatever Azure, storage or the notification channels do, every cluster ends with
its right verdict or an `error` that says why, the scan ends in bounded time, and the exit code tells."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient
from support import run_cli, scan_json, statuses

from auditor.azure.state import EVENTS_TABLE
from auditor.azure.storage import StorageFailed, StorageTarget
from auditor.reactions import Reactor
from auditor.settings import Settings
from azsim import Fault, Tenant, Throttle
from azsim.azurite import azurite
from azsim.events import setting_changed
from azsim.samples import scale_tenant


def baseline(simulate, tenant: Tenant, **options) -> tuple[object, dict[str, str]]:
    sim = simulate(tenant, **options)
    _, document = scan_json()
    assert document["summary"]["error"] == 0
    sim.clear_requests()
    return sim, statuses(document)


def only_right_or_error(expected: dict[str, str], document: dict) -> int:
    """Every verdict is the clean one or an explained error; returns the number of errors."""
    errors = 0
    for finding in document["findings"]:
        if finding["status"] == "error":
            assert finding["reasons"], finding
            errors += 1
        else:
            assert finding["status"] == expected[finding["name"]], finding
    assert {f["name"] for f in document["findings"]} == set(expected)
    return errors


def test_a_fifth_of_arm_calls_failing_never_gives_a_wrong_verdict(simulate):
    sim, expected = baseline(simulate, scale_tenant(4, 60, seed=11))
    sim.add_fault(Fault(match="/providers/", method=None, status=503, probability=0.2, seed=1))
    sim.add_fault(Fault(match="/providers/", method=None, status=500, probability=0.05, seed=2))
    started = time.monotonic()
    code, document = scan_json()
    errors = only_right_or_error(expected, document)
    assert code == (1 if errors or document["summary"]["fail"] else 0)
    assert time.monotonic() - started < 60
    assert sum(1 for r in sim.requests if r.status and r.status >= 500) > 30  # the storm was real


def test_a_throttling_storm_is_ridden_out_without_errors(simulate):
    sim, expected = baseline(simulate, scale_tenant(2, 150, seed=12))
    sim.set_throttle(Throttle(bucket=20, refill_per_second=40.0))
    _, document = scan_json()
    assert only_right_or_error(expected, document) == 0


def test_connection_resets_are_retried(simulate):
    sim, expected = baseline(simulate, scale_tenant(2, 50, seed=13))
    sim.add_fault(Fault(match="diagnosticSettings$", reset=True, probability=0.3, seed=3))
    _, document = scan_json()
    assert only_right_or_error(expected, document) <= 2
    assert sum(1 for r in sim.requests if r.status == 0) > 5


def test_a_subscription_that_disappears_mid_listing_is_an_error_not_a_gap(simulate):
    tenant = scale_tenant(2, 10, seed=14)
    sim, expected = baseline(simulate, tenant, page_size=4)
    gone = tenant.subscriptions[1].subscription_id
    sim.add_fault(
        Fault(match=f"/subscriptions/{gone}/providers/Microsoft.ContainerService/managedClusters$", status=404, after=1)
    )
    code, document = scan_json()
    assert code == 1
    entry = next(f for f in document["findings"] if f["resourceId"] == f"/subscriptions/{gone}")
    assert entry["status"] == "error"
    assert "not found (404" in entry["reasons"][0]
    listed = [f for f in document["findings"] if f["subscriptionId"] == gone and f is not entry]
    assert len(listed) == 4  # the first page, listed before the subscription vanished, is still judged
    assert all(f["status"] == expected[f["name"]] for f in listed)


def test_a_listing_that_never_answers_does_not_stall_the_scan(simulate, monkeypatch):
    tenant = scale_tenant(2, 5, seed=15)
    sim, expected = baseline(simulate, tenant)
    monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.3")
    hung = tenant.subscriptions[0].subscription_id
    sim.add_fault(Fault(match=f"/subscriptions/{hung}/providers/Microsoft.ContainerService", hang=True))
    started = time.monotonic()
    code, document = scan_json()
    assert time.monotonic() - started < 30
    assert code == 1
    hung_entry = next(f for f in document["findings"] if f["resourceId"] == f"/subscriptions/{hung}")
    assert "timed out" in hung_entry["reasons"][0]
    others = [f for f in document["findings"] if f["subscriptionId"] != hung]
    assert len(others) == 5
    assert all(f["status"] == expected[f["name"]] for f in others)


def test_short_lived_tokens_are_renewed_during_a_scan(simulate, monkeypatch):
    tenant = scale_tenant(1, 60, seed=16)
    sim = simulate(tenant, token_lifetime=1, latency=0.05)
    monkeypatch.setenv("AUDITOR_MAX_CONCURRENCY", "2")  # 60 reads of 50 ms, two at a time: outlives a token
    _, document = scan_json("--subscription", tenant.subscriptions[0].subscription_id)
    assert document["summary"]["error"] == 0
    assert len(sim.token_requests) >= 2


def test_identity_endpoint_failing_mid_scan_turns_clusters_into_explained_errors(simulate, monkeypatch):
    tenant = scale_tenant(1, 40, seed=17)
    sim = simulate(tenant, token_lifetime=1, latency=0.05)
    sim.add_fault(Fault(match="/msi/token", method=None, status=500, after=1))  # the first token, then no more
    monkeypatch.setenv("AUDITOR_MAX_CONCURRENCY", "1")  # 40 reads of 50 ms: the token runs out mid-scan
    started = time.monotonic()
    code, document = scan_json("--subscription", tenant.subscriptions[0].subscription_id)
    assert time.monotonic() - started < 90
    assert code == 1
    errors = [f for f in document["findings"] if f["status"] == "error"]
    # How many clusters the first token covers depends on the machine's speed; that the rest are
    # explained errors, in bounded time, does not.
    assert errors
    assert all("could not get a token" in f["reasons"][0] for f in errors), [f["reasons"] for f in errors]


def test_notification_channels_down_are_reported_and_fail_the_run(simulate, monkeypatch):
    tenant = scale_tenant(1, 5, seed=18)
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_TEAMS_WEBHOOK_URL", sim.teams_url)
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", sim.eventgrid_endpoint)
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_KEY", sim.sinks.eventgrid_key)
    monkeypatch.setenv("AUDITOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_SMTP_PORT", "9")  # nothing listens
    monkeypatch.setenv("AUDITOR_EMAIL_FROM", "aks-audit@contoso.com")
    monkeypatch.setenv("AUDITOR_EMAIL_TO", "secops@contoso.com")
    sim.sinks.teams_failures.extend([503] * 4)
    sim.sinks.eventgrid_failures.extend([503] * 8)
    started = time.monotonic()
    code, out, err = run_cli("scan", "--output", "json")
    assert time.monotonic() - started < 60
    assert code == 1
    assert json.loads(out)["summary"]["clusters"] == 5  # the findings themselves are all there
    assert "Teams: 127.0.0.1 answered 503 after 3 retries" in err
    assert "Event Grid topic did not take 5 findings" in err
    assert "email via 127.0.0.1:9 failed" in err


def test_storage_stopping_mid_run_makes_the_event_retry_and_keeps_what_was_recorded(simulate, monkeypatch, caplog):
    tenant = scale_tenant(1, 2, seed=19)
    simulate(tenant)
    cluster = tenant.subscriptions[0].clusters[0]
    for name in ("a", "b"):  # the writes the two events report
        cluster.set_setting(name, {"workspaceId": "", "logs": []})
    first, second = setting_changed(cluster.id, "a"), setting_changed(cluster.id, "b")
    logger = logging.getLogger("auditor")

    async def handle(event):
        async with Reactor(Settings.from_env(os.environ), StorageTarget.from_env(os.environ), logger) as reactor:
            return await reactor.handle_event(event)

    with azurite() as connection:
        monkeypatch.setenv("AzureWebJobsStorage", connection)
        assert asyncio.run(handle(first)).result == "checked"
        recorded = [e["RowKey"] for e in TableClient.from_connection_string(connection, EVENTS_TABLE).list_entities()]
    assert recorded == [first["id"]]
    with pytest.raises(StorageFailed) as raised:  # storage is gone: raise, so Event Grid redelivers later
        asyncio.run(handle(second))
    assert isinstance(raised.value.__cause__, ServiceRequestError)
