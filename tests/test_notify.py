"""Findings out, end to end: the Event Grid topic, a Teams Workflows webhook and SMTP, with and without
recorded state; local HTTPS sinks (azsim), a real SMTP server (aiosmtpd) and Azurite."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import date

import pytest
from support import SMTP_PASSWORD, SMTP_USER, audit_setting, every_channel, run_cli

from auditor.azure.credentials import invocation_credential
from auditor.azure.storage import StorageTarget
from auditor.model import Cluster
from auditor.notify.dispatch import Notifier
from auditor.notify.eventgrid import EVENT_TYPE, MAX_REQUEST_BYTES
from auditor.notify.notices import NoticeKind
from auditor.rule import evaluate
from auditor.settings import Settings
from azsim import Tenant
from azsim.samples import scale_tenant


@pytest.fixture
def outbound(simulate, smtp, tmp_path, monkeypatch):
    """A simulated tenant with one failing and one passing cluster, and every channel configured."""
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-bad", resource_group="rg-prod")
    sub.add_cluster("aks-good", resource_group="rg-prod").set_setting(
        "audit", audit_setting("kube-audit", "kube-audit-admin")
    )
    sim = simulate(tenant)
    channels = every_channel(sim, smtp, tmp_path / "trust.pem", "platform-security@contoso.com,oncall@contoso.com")
    for name, value in channels.items():
        monkeypatch.setenv(name, value)
    return sim, tenant, smtp


def card_text(post: dict) -> str:
    return str(post["attachments"][0]["content"])


def test_failing_cluster_gives_one_cloud_event_one_card_one_email_then_silence_then_resolution(outbound, storage):
    sim, tenant, mailbox = outbound
    bad = next(c for c in tenant.subscriptions[0].clusters if c.name == "aks-bad")

    code, _, err = run_cli("scan")
    assert code == 1
    events = sim.sinks.eventgrid_events
    assert len(events) == 2  # every evaluation, pass or fail
    failing = next(e for e in events if e["subject"] == bad.id)
    assert (failing["type"], failing["specversion"], failing["data"]["status"]) == (EVENT_TYPE, "1.0", "fail")
    assert failing["data"]["resourceId"] == bad.id
    assert [r.auth for r in sim.sinks.eventgrid_requests] == ["key"]
    (card,) = sim.sinks.teams_posts
    assert card["type"] == "message"
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "aks-bad" in card_text(card)
    assert "aks-good" not in card_text(card)
    (message,) = mailbox.messages
    assert mailbox.logins == [SMTP_USER]
    assert message["To"] == "platform-security@contoso.com, oncall@contoso.com"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "aks-bad" in text
    assert "aks-bad" in html
    assert "missing kube-audit, kube-audit-admin" in text
    assert err.startswith("auditor: sent 1 Event Grid request(s), 1 Teams message(s), 1 email(s)")

    run_cli("scan")  # nothing changed: the topic hears it, people do not
    assert len(sim.sinks.eventgrid_events) == 4
    assert len(sim.sinks.teams_posts) == 1
    assert len(mailbox.messages) == 1

    bad.set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    assert run_cli("scan")[0] == 0
    assert len(sim.sinks.teams_posts) == 2
    assert "aks-bad" in card_text(sim.sinks.teams_posts[1])
    assert "resolved" in card_text(sim.sinks.teams_posts[1]).lower()
    assert "Resolved" in mailbox.messages[1].get_body(("plain",)).get_content()


def test_without_state_every_failure_is_reported_every_run(outbound):
    sim, _, mailbox = outbound
    run_cli("scan")
    run_cli("scan")
    assert len(sim.sinks.teams_posts) == 2
    assert len(mailbox.messages) == 2


def test_teams_throttling_is_retried(outbound, monkeypatch):
    sim, _, _ = outbound
    monkeypatch.delenv("AUDITOR_SMTP_HOST")
    sim.sinks.teams_failures.extend([429, 503])
    code, _, err = run_cli("scan")
    assert code == 1  # the failing cluster, not the delivery
    assert len(sim.sinks.teams_posts) == 1
    assert "notification problems" not in err


def test_undelivered_notice_is_reported_and_sent_again_next_run(outbound, storage, monkeypatch):
    sim, _, _ = outbound
    monkeypatch.delenv("AUDITOR_SMTP_HOST")
    sim.sinks.teams_failures.extend([500] * 4)
    code, _, err = run_cli("scan")
    assert code == 1
    assert "notification problems: Teams: 127.0.0.1 answered 500 after 3 retries" in err
    assert sim.sinks.teams_posts == []
    run_cli("scan")  # the claim was undone: the new failure is still news
    assert len(sim.sinks.teams_posts) == 1


def test_secrets_never_reach_logs_output_or_errors(outbound, storage, monkeypatch, caplog):
    sim, _, _ = outbound
    sim.sinks.teams_failures.extend([500] * 4)
    sim.sinks.eventgrid_failures.extend([401] * 4)
    with caplog.at_level(logging.DEBUG):
        code, out, err = run_cli("-v", "scan", "--output", "json")
    captured = out + err + "\n".join(r.getMessage() for r in caplog.records)
    secrets = [sim.sinks.teams_signature, sim.sinks.eventgrid_key, SMTP_PASSWORD, sim.teams_url]
    assert code == 1
    assert captured  # something was said
    for secret in secrets:
        assert secret not in captured


def test_managed_identity_publishes_to_the_topic_without_a_key(outbound, monkeypatch):
    sim, _, _ = outbound
    monkeypatch.delenv("AUDITOR_EVENTGRID_TOPIC_KEY")
    run_cli("scan")
    assert [r.auth for r in sim.sinks.eventgrid_requests] == ["bearer"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "AUDITOR_TEAMS_WEBHOOK_URL",
            "https://localhost/hook?sig=abc",  # loopback: a foreign host is never named, even to refuse it
            "points at localhost, which is not",
        ),
        ("AUDITOR_TEAMS_WEBHOOK_URL", "http://127.0.0.1/hook?sig=abc", "must be an https:// URL"),
        ("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", "https://localhost/api/events", "is not in AUDITOR_WEBHOOK"),
        ("AUDITOR_SMTP_PASSWORD", "x", None),
    ],
)
def test_outbound_configuration_errors_stop_before_anything_is_sent(outbound, monkeypatch, name, value, message):
    sim, _, mailbox = outbound
    monkeypatch.setenv(name, value)
    if message is None:  # a password in clear text
        monkeypatch.setenv("AUDITOR_SMTP_STARTTLS", "false")
        message = "would be sent in clear text"
    code, out, err = run_cli("scan")
    assert (code, out) == (2, "")
    assert message in err
    assert "sig=abc" not in err
    assert err.count("\n") == 1
    assert sim.requests == []
    assert sim.sinks.teams_posts == []
    assert mailbox.messages == []


def test_concurrent_instances_announce_a_change_once(outbound, storage):
    sim, tenant, _ = outbound
    settings = Settings.from_env(os.environ)
    bad = next(c for c in tenant.subscriptions[0].clusters if c.name == "aks-bad")
    cluster = Cluster(bad.id, bad.name, bad.subscription_id, bad.resource_group)
    finding = evaluate(cluster, [], None, settings.policy(), date.today())

    async def instance():
        target = StorageTarget.from_env(os.environ)
        async with (
            invocation_credential(settings) as credential,
            Notifier(settings, target, logging.getLogger("test"), credential) as notifier,
        ):
            await notifier.add(finding)
            return await notifier.flush({}, {})

    async def both():
        return await asyncio.gather(instance(), instance(), instance())

    deliveries = asyncio.run(both())
    kinds = [notice.kind for delivery in deliveries for notice in delivery.notices]
    assert kinds == [NoticeKind.NEW]
    assert len(sim.sinks.teams_posts) == 1


def test_large_scan_splits_teams_digests_under_28_kb_and_topic_requests_under_1_mb(simulate, monkeypatch):
    tenant = scale_tenant(subscriptions=4, clusters_per_subscription=500, seed=7, fail_ratio=0.3)
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_TEAMS_WEBHOOK_URL", sim.teams_url)
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", sim.eventgrid_endpoint)
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_KEY", sim.sinks.eventgrid_key)
    _, out, _ = run_cli("scan", "--output", "json")
    summary = json.loads(out)["summary"]
    failing = summary["fail"] + summary["error"]
    assert summary["clusters"] == 2000
    assert failing >= 500
    assert max(sim.sinks.teams_sizes) < 28_000
    assert len(sim.sinks.teams_posts) >= 2
    named = sum(str(post).count("/diagnostics") for post in sim.sinks.teams_posts)
    assert named >= failing  # every failing cluster is linked from some digest part
    assert max(r.size for r in sim.sinks.eventgrid_requests) < MAX_REQUEST_BYTES
    assert len(sim.sinks.eventgrid_events) == 2000
