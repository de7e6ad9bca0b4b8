"""Notices that state cannot lose: corrupted finding rows, a run that dies between claim and delivery,
partial delivery, and storage that is wrong or dies mid-scan (azsim.proxy in front of Azurite)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import time
from datetime import date, timedelta

import pytest
from azure.data.tables import TableClient
from support import WORKSPACE, every_channel, run_cli

from auditor.azure.credentials import invocation_credential
from auditor.azure.state import FINDINGS_TABLE, cluster_keys
from auditor.azure.storage import StorageTarget
from auditor.azure.transport import RETRIES
from auditor.model import Cluster
from auditor.notify.dispatch import Notifier
from auditor.notify.notices import NOTICE_LEASE, NoticeKind
from auditor.pipeline import _RECORDS_IN_FLIGHT, run_scan
from auditor.rule import evaluate
from auditor.settings import Settings
from azsim import Tenant
from azsim.proxy import Mode, TcpProxy
from azsim.state_rows import FAR_FUTURE, corrupt_cluster_row, not_a_time, time_as_text


@pytest.fixture
def teams(simulate, monkeypatch):
    """One failing cluster and a Teams webhook (no email)."""
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-bad", resource_group="rg-prod")
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_TEAMS_WEBHOOK_URL", sim.teams_url)
    return sim, tenant.subscriptions[0].clusters[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def table_port(connection: str) -> int:
    return int(re.search(r"TableEndpoint=http://127\.0\.0\.1:(\d+)/", connection)[1])


def through(connection: str, port: int) -> str:
    """The connection string with its table endpoint moved to another loopback port."""
    return re.sub(r"(TableEndpoint=http://127\.0\.0\.1:)\d+/", rf"\g<1>{port}/", connection)


def finding_of(bad):
    settings = Settings.from_env(os.environ)
    cluster = Cluster(bad.id, bad.name, bad.subscription_id, bad.resource_group)
    return settings, evaluate(cluster, [], None, settings.policy(), date.today())


def backdate_claim(connection: str, resource_id: str, by: timedelta) -> None:
    """Time passing for a claim: its PendingAt moved back (what the clock does to a dead run's row)."""
    with TableClient.from_connection_string(connection, FINDINGS_TABLE) as table:
        entity = table.get_entity(*cluster_keys(resource_id))
        entity["PendingAt"] = entity["PendingAt"] - by
        table.update_entity(entity)


def pending_of(connection: str, resource_id: str) -> str:
    with TableClient.from_connection_string(connection, FINDINGS_TABLE) as table:
        return str(table.get_entity(*cluster_keys(resource_id)).get("PendingHash") or "")


@pytest.mark.parametrize(
    "corruption",
    [
        {"FirstFailedAt": not_a_time()},
        {"LastNotifiedAt": time_as_text(FAR_FUTURE)},
        {"LastNotifiedAt": FAR_FUTURE},  # would silence the cluster for good
        {"PendingAt": FAR_FUTURE},  # a claim that would never expire
        {"Status": 3},
    ],
    ids=["time-garbage", "time-as-text", "notified-in-9999", "pending-in-9999", "status-a-number"],
)
def test_a_corrupted_finding_row_is_logged_and_the_cluster_announced_afresh(teams, storage, corruption):
    sim, bad = teams
    assert run_cli("scan")[0] == 1
    assert len(sim.sinks.teams_posts) == 1
    corrupt_cluster_row(storage, FINDINGS_TABLE, bad.id, corruption)
    code, out, err = run_cli("-v", "scan")  # -v: the warnings reach stderr
    assert (code, "Traceback" in err) == (1, False)
    assert "aks-bad" in out
    assert len(sim.sinks.teams_posts) == 2  # announced afresh
    partition, row = cluster_keys(bad.id)
    assert f"unreadable row in auditorfindings (PartitionKey {partition}, RowKey {row})" in err
    run_cli("scan")  # the bad row was replaced by a good one: silence again
    assert len(sim.sinks.teams_posts) == 2


def test_a_run_that_dies_between_claim_and_delivery_leaves_the_notice_to_a_later_run(teams, storage):
    sim, bad = teams
    settings, finding = finding_of(bad)

    async def run(flush: bool):
        async with (
            invocation_credential(settings) as credential,
            Notifier(settings, StorageTarget.from_env(os.environ), logging.getLogger("test"), credential) as notifier,
        ):
            await notifier.add(finding)
            if flush:
                return await notifier.flush({}, {})
            return None  # dropped without flush: the process died

    asyncio.run(run(flush=False))
    assert pending_of(storage, bad.id)  # claimed, not delivered
    early = asyncio.run(run(flush=True))  # within the lease the dead run could still be delivering
    assert (early.notices, sim.sinks.teams_posts) == ([], [])
    backdate_claim(storage, bad.id, NOTICE_LEASE)
    late = asyncio.run(run(flush=True))
    assert [n.kind for n in late.notices] == [NoticeKind.NEW]
    assert len(sim.sinks.teams_posts) == 1
    assert pending_of(storage, bad.id) == ""  # committed
    asyncio.run(run(flush=True))
    assert len(sim.sinks.teams_posts) == 1


def test_a_crash_after_delivery_before_commit_sends_the_notice_again(teams, storage, monkeypatch):
    """At least once: storage dies after Teams took the card, so the claim stays and expires."""
    sim, bad = teams
    with TcpProxy(table_port(storage)) as proxy:
        monkeypatch.setenv("AzureWebJobsStorage", through(storage, proxy.port))
        settings, finding = finding_of(bad)

        async def run():
            async with (
                invocation_credential(settings) as credential,
                Notifier(settings, StorageTarget.from_env(os.environ), logging.getLogger("test"), credential) as n,
            ):
                await n.add(finding)
                proxy.mode = Mode.RESET
                return await n.flush({}, {})

        delivery = asyncio.run(run())
    assert len(sim.sinks.teams_posts) == 1
    assert "1 notice(s) delivered but not recorded" in delivery.unstored
    monkeypatch.setenv("AzureWebJobsStorage", storage)
    backdate_claim(storage, bad.id, NOTICE_LEASE)
    assert run_cli("scan")[0] == 1
    assert len(sim.sinks.teams_posts) == 2  # the duplicate at-least-once allows


def test_teams_delivered_but_email_failed_sends_again_on_both(simulate, smtp, storage, tmp_path, monkeypatch):
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-bad")
    sim = simulate(tenant)
    for name, value in every_channel(sim, smtp, tmp_path / "trust.pem", "secops@contoso.com").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AUDITOR_SMTP_PORT", str(closed_port()))
    code, _, err = run_cli("scan")
    assert code == 1
    assert "email via 127.0.0.1" in err
    assert (len(sim.sinks.teams_posts), len(smtp.messages)) == (1, 0)
    monkeypatch.setenv("AUDITOR_SMTP_PORT", str(smtp.port))
    run_cli("scan")
    assert (len(sim.sinks.teams_posts), len(smtp.messages)) == (2, 1)


def test_wrong_storage_prints_the_report_and_one_line(teams, storage, monkeypatch):
    sim, _ = teams
    monkeypatch.setenv("AzureWebJobsStorage", through(storage, closed_port()))
    started = time.monotonic()
    code, out, err = run_cli("scan", "--output", "json")
    assert time.monotonic() - started < 20
    assert code == 1
    assert [f["name"] for f in json.loads(out)["findings"]] == ["aks-bad"]
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("auditor:")]  # besides the ERROR log record
    assert "state storage (AzureWebJobsStorage) failed" in line
    assert "1 finding(s) not recorded and not announced" in line
    assert sim.sinks.teams_posts == []  # nothing could be claimed: the next run with storage announces


def test_storage_dying_mid_scan_costs_one_failure_not_one_per_cluster(simulate, storage, monkeypatch):
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    for index in range(100):
        sub.add_cluster(f"aks-{index:02}")
    simulate(tenant)
    with TcpProxy(table_port(storage), max_connections=1000) as proxy:
        monkeypatch.setenv("AzureWebJobsStorage", through(storage, proxy.port))
        settings = Settings.from_env(os.environ)
        seen = []

        def die_after_three(finding, scope):
            seen.append(finding)
            if len(seen) == 3:
                proxy.mode = Mode.RESET
                proxy.connections = 0

        started = time.monotonic()
        outcome = asyncio.run(run_scan(settings, StorageTarget.from_env(os.environ), die_after_three))
        elapsed = time.monotonic() - started
        after = proxy.connections
    assert len(outcome.result.findings) == 100
    assert outcome.delivery.unstored.startswith("state storage (AzureWebJobsStorage) failed")
    assert [e for e in outcome.delivery.errors if "AzureWebJobsStorage" in e] == [outcome.delivery.unstored]
    # The calls in flight when it died (32 records at a time) retry; the clusters after them make none.
    # One call per cluster with its retries would be about 97 * (RETRIES + 1) = 388 connections.
    assert after <= 2 * _RECORDS_IN_FLIGHT * (RETRIES + 1)
    assert elapsed < 20


def test_wrong_storage_with_remediation_on_still_reports_and_each_fix_fails_saying_why(teams, storage, monkeypatch):
    monkeypatch.setenv("AzureWebJobsStorage", through(storage, closed_port()))
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "dry-run")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    started = time.monotonic()
    code, out, err = run_cli("scan", "--output", "json")
    assert time.monotonic() - started < 30
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert finding["remediation"]["result"] == "failed"
    assert "the remediation ledger" in finding["remediation"]["reason"]
    assert "Traceback" not in err


@pytest.mark.parametrize("mode", [Mode.HANG, Mode.TRICKLE])
def test_storage_that_hangs_or_trickles_costs_bounded_time_and_hides_no_finding(teams, storage, monkeypatch, mode):
    with TcpProxy(table_port(storage)) as proxy:
        proxy.mode = mode
        monkeypatch.setenv("AzureWebJobsStorage", through(storage, proxy.port))
        monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.5")
        started = time.monotonic()
        code, out, err = run_cli("scan", "--output", "json")
        elapsed = time.monotonic() - started
    # Each attempt ends at 0.5 s however slowly storage answers; 4 attempts and their backoff, for the one
    # call the breaker lets through.
    assert elapsed < 30
    assert code == 1
    assert [f["name"] for f in json.loads(out)["findings"]] == ["aks-bad"]
    assert "state storage (AzureWebJobsStorage) failed" in err
