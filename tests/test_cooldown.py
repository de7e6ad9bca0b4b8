"""The remediation cool-down (docs/reference.md, "Remediation"): a fix someone undoes within
AUDITOR_REMEDIATION_COOLDOWN_HOURS is not written again in that window. The pure rule first, then
the loop it stops (apply, an infrastructure-as-code deployment removes the setting, the drift event
brings the auditor back) with state on Azurite and Teams on a local sink."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables.aio import TableClient
from hypothesis import given
from hypothesis import strategies as st
from support import every_channel, react, scan_json

from auditor.azure.state import REMEDIATIONS_TABLE, RemediationLedger
from auditor.cooldown import FixHistory, after_fix, held_back_reason, undone_within
from auditor.model import Status
from azsim import Tenant
from azsim.access import grant_remediation
from azsim.events import setting_changed
from azsim.principals import service_principal
from azsim.samples import WORKSPACE

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TERRAFORM = service_principal(
    "0c2d5e7a-3b1f-4c6d-8e9a-7f1b2c3d4e5f", "sp-terraform-platform", "5b0a7c3e-91d4-4f2a-b6e8-2d7c9f1a3e40"
)


# --- the rule ---------------------------------------------------------------------------------


def test_a_failure_within_the_window_after_a_fix_is_an_undo_counted_once():
    fixed = after_fix(None, "aks-audit-logs", T0)
    first = undone_within(fixed, T0 + timedelta(hours=2), 24)
    assert first is not None
    assert (first.undone, first.undone_at) == (1, T0 + timedelta(hours=2))
    assert undone_within(first, T0 + timedelta(hours=5), 24) == first  # the same undo, seen again


def test_after_the_window_the_auditor_writes_again_and_a_further_undo_counts_on():
    undone = undone_within(after_fix(None, "aks-audit-logs", T0), T0 + timedelta(hours=1), 24)
    assert undone_within(undone, T0 + timedelta(hours=24), 24) is None  # the window is over: write
    refixed = after_fix(undone, "aks-audit-logs", T0 + timedelta(hours=24))
    again = undone_within(refixed, T0 + timedelta(hours=25), 24)
    assert again is not None
    assert again.undone == 2
    assert "undone 2 times within 24 h" in held_back_reason(again, 24)


def test_a_fix_that_held_ends_the_run_of_undos():
    undone = undone_within(after_fix(None, "aks-audit-logs", T0), T0 + timedelta(hours=1), 24)
    refixed = after_fix(undone, "aks-audit-logs", T0 + timedelta(days=2))
    held = after_fix(refixed, "aks-audit-logs", T0 + timedelta(days=9))  # never seen undone in between
    assert (held.undone, held.undone_at) == (0, None)


def test_no_history_or_a_zero_cool_down_never_holds_back():
    assert undone_within(None, T0, 24) is None
    assert undone_within(after_fix(None, "s", T0), T0 + timedelta(minutes=1), 0) is None


@given(st.lists(st.tuples(st.sampled_from(["fix", "fail"]), st.integers(1, 40)), max_size=12))
def test_the_auditor_never_writes_twice_within_one_window_of_an_undone_fix(steps):
    """Whatever happens, between an undo seen within the window and the window's end no write is allowed."""
    history: FixHistory | None = None
    now = T0
    for step, hours in steps:
        now += timedelta(hours=hours)
        if step == "fix":
            history = after_fix(history, "aks-audit-logs", now)
            continue
        undone = undone_within(history, now, 24)
        if undone is None:
            continue
        assert history is not None
        assert history.fixed_at is not None
        assert now - history.fixed_at < timedelta(hours=24)
        assert undone.undone >= 1
        history = undone


def test_the_ledger_keeps_each_clusters_history_on_a_real_table(storage):
    cluster = (
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg"
        "/providers/Microsoft.ContainerService/managedClusters/aks1"
    )

    async def run():
        async with TableClient.from_connection_string(storage, REMEDIATIONS_TABLE) as table:
            await table.create_table()
            ledger = RemediationLedger(table)
            fixed = after_fix(None, "aks-audit-logs", T0)
            await ledger.update(cluster, lambda h: (fixed, None))
            return await ledger.get(cluster), await ledger.get(cluster.upper())

    stored, by_other_case = asyncio.run(run())
    assert stored == by_other_case == FixHistory(T0, "aks-audit-logs", 0, None)


# --- the loop it stops --------------------------------------------------------------------------


@pytest.fixture
def fighting(simulate, storage, smtp, tmp_path, monkeypatch):
    """One failing cluster, remediation on, state on Azurite, every channel (Teams, topic, real SMTP)."""
    tenant = Tenant()
    tenant.add_principal(TERRAFORM)
    grant_remediation(tenant.access, WORKSPACE)
    cluster = tenant.add_subscription("Production").add_cluster("aks-payments", "rg-payments")
    sim = simulate(tenant)
    for name, value in {
        **every_channel(sim, smtp, tmp_path / "trust.pem", "platform-security@contoso.com"),
        "AUDITOR_REMEDIATION_MODE": "apply",
        "AUDITOR_REMEDIATION_WORKSPACE_ID": WORKSPACE,
    }.items():
        monkeypatch.setenv(name, value)
    return sim, cluster


def puts(sim) -> int:
    return sim.count("PUT", "/providers/microsoft.insights/diagnosticSettings/")


def remediation_of(document: dict) -> dict:
    (finding,) = document["findings"]
    return finding["remediation"]


def test_a_fix_undone_by_iac_gives_one_fix_it_there_notice_and_no_second_write(fighting, smtp, monkeypatch):
    sim, cluster = fighting
    code, document = scan_json()
    assert remediation_of(document)["result"] == "applied"
    assert puts(sim) == 1
    assert code == 0

    cluster.delete_setting("aks-audit-logs", by=TERRAFORM)  # the next `terraform apply`
    sim.sinks.teams_posts.clear()
    smtp.messages.clear()
    finding = react(setting_changed(cluster.id, "aks-audit-logs", deleted=True, caller=TERRAFORM))
    assert finding.status is Status.FAIL
    assert finding.remediation is not None
    assert str(finding.remediation.result) == "held-back"
    assert "undone once within 24 h" in finding.remediation.reason
    assert "infrastructure-as-code: fix it there" in finding.remediation.reason
    assert puts(sim) == 1  # no second write
    assert finding.fixes is not None  # the code to paste into the owner's repository
    assert WORKSPACE in finding.fixes.terraform
    (post,) = sim.sinks.teams_posts
    assert "Remediation held back: remediation was undone once" in str(post)
    assert "az monitor diagnostic-settings create" in str(post)
    (mail,) = smtp.messages
    assert "remediation apply: held-back: create setting aks-audit-logs" in mail.get_body(("plain",)).get_content()
    assert "infrastructure-as-code: fix it there" in mail.get_body(("html",)).get_content()

    code, document = scan_json()  # the next timer run, still inside the window
    assert remediation_of(document)["result"] == "held-back"
    assert "undone once" in remediation_of(document)["reason"]  # the same undo: not counted again
    assert code == 1  # nothing fixed it
    assert puts(sim) == 1
    assert len(sim.sinks.teams_posts) == len(smtp.messages) == 1  # said once

    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "dry-run")
    _, document = scan_json()
    assert remediation_of(document)["result"] == "held-back"  # dry-run shows apply's refusal
    assert puts(sim) == 1


def test_with_a_zero_cool_down_the_auditor_fixes_again(fighting, monkeypatch):
    sim, cluster = fighting
    monkeypatch.setenv("AUDITOR_REMEDIATION_COOLDOWN_HOURS", "0")
    scan_json()
    cluster.delete_setting("aks-audit-logs", by=TERRAFORM)
    _, document = scan_json()
    assert remediation_of(document)["result"] == "applied"
    assert puts(sim) == 2


def test_without_state_there_is_no_memory_of_fixes_so_every_run_may_write(simulate, monkeypatch):
    """The CLI without AzureWebJobsStorage: documented as having no cool-down."""
    tenant = Tenant()
    grant_remediation(tenant.access, WORKSPACE)
    cluster = tenant.add_subscription("Production").add_cluster("aks-payments", "rg-payments")
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_MODE", "apply")
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    scan_json()
    cluster.delete_setting("aks-audit-logs")
    _, document = scan_json()
    assert remediation_of(document)["result"] == "applied"
    assert puts(sim) == 2
