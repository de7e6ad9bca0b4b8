"""Hostile and broken endpoints (all on loopback, started here): the token never reaches a second host, every
wait ends within its documented bound, and an answer no real service gives is refused, never followed.

Each bound below is generous (many times the setting that produces it): these tests prove that a wait ends,
not how fast; bench/ measures speed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest
from support import ROOT, STORAGE, arm_event, audit_setting, every_channel, react, run_cli, scan_json, statuses

from auditor.azure.egress import origin_allowed
from auditor.settings import Settings
from azsim import Fault, Tenant

AUDIT = ("kube-audit", "kube-audit-admin")
CLUSTERS = r"/providers/Microsoft\.ContainerService/managedClusters$"
SETTINGS = r"/providers/Microsoft\.Insights/diagnosticSettings$"


def tenant_of(count: int = 2) -> Tenant:
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    for index in range(count):
        sub.add_cluster(f"aks-{index}", "rg").set_setting("audit", audit_setting(*AUDIT))
    return tenant


def no_token_left_home(sim) -> None:
    """Nothing, and above all no bearer token, reached the foreign host."""
    assert sim.foreign_requests == []


# --- the token stays home ------------------------------------------------------------------------------------


def test_a_subscription_list_whose_next_link_leaves_the_host_is_refused_before_the_token_goes(simulate):
    sim = simulate(tenant_of())
    sim.add_fault(Fault(match=r"^/subscriptions$", next_link="foreign"))
    code, _out, err = run_cli("scan")
    assert code == 1
    assert "could not list subscriptions: refused to send a request for ARM to https://localhost:" in err
    assert err.count("\n") == 1
    no_token_left_home(sim)


def test_a_cluster_list_whose_next_link_leaves_the_host_ends_as_an_explained_error(simulate):
    sim = simulate(tenant_of())
    sim.add_fault(Fault(match=CLUSTERS, next_link="foreign"))
    code, document = scan_json()
    assert code == 1
    errors = [f for f in document["findings"] if f["status"] == "error"]
    assert [e["name"] for e in errors] == ["page 1 of the cluster listing"]
    assert "its nextLink points at another host (https://localhost:" in errors[0]["reasons"][0]
    assert statuses(document)["aks-0"] == "pass"  # what page 1 listed is judged
    no_token_left_home(sim)


def test_the_activity_log_whose_next_link_leaves_the_host_is_not_followed(simulate, storage):
    tenant = tenant_of(1)
    tenant.subscriptions[0].clusters[0].delete_setting("audit", hours_ago=1)
    sim = simulate(tenant)
    sim.add_fault(Fault(match=r"/eventtypes/management/values$", next_link="foreign"))
    _code, document = scan_json()
    assert statuses(document) == {"aks-0": "fail"}
    assert sim.count(contains="/eventtypes/management/values") == 1  # asked, its foreign next page not
    (finding,) = document["findings"]
    assert "the Activity Log was not read to its end (page 1: its nextLink points at another host" in str(finding)
    no_token_left_home(sim)


# --- every listing ends ------------------------------------------------------------------------------------


def test_a_subscription_list_pointing_at_itself_stops_after_one_repeat(simulate):
    sim = simulate(tenant_of())
    sim.add_fault(Fault(match=r"^/subscriptions$", next_link="self"))
    code, _out, err = run_cli("scan")
    assert code == 1
    assert "the subscription list repeated an earlier continuation" in err
    assert sim.count("GET", "/subscriptions") - sim.count(contains="/subscriptions/") <= 3


def test_a_cluster_list_pointing_at_itself_stops_after_one_repeat(simulate):
    sim = simulate(tenant_of())
    sim.add_fault(Fault(match=CLUSTERS, next_link="self"))
    code, document = scan_json()
    assert code == 1
    assert "its nextLink repeats an earlier one" in str(document["findings"])
    # The first page names itself as the next: the listing stops without reading it again.
    assert sim.count(contains="/managedClusters") - sim.count(contains="diagnosticSettings") == 1


def test_a_listing_that_never_ends_is_cut_by_the_scan_deadline_and_the_report_still_goes_out(simulate, monkeypatch):
    sim = simulate(tenant_of())
    sim.add_fault(Fault(match=CLUSTERS, next_link="fresh"))  # a new link every page: never seen before
    monkeypatch.setenv("AUDITOR_SCAN_DEADLINE_SECONDS", "2")
    started = time.monotonic()
    code, document = scan_json()
    assert time.monotonic() - started < 20
    assert code == 1
    cut = [f for f in document["findings"] if f["name"] == "Production"]
    assert len(cut) == 1
    assert "not wholly listed before the deadline (AUDITOR_SCAN_DEADLINE_SECONDS=2)" in cut[0]["reasons"][0]
    fresh = [r for r in sim.requests if r.query.get("$skipToken", "").startswith("fresh")]
    assert len(fresh) > 2  # the listing really went on


def test_clusters_not_judged_by_the_deadline_are_errors_and_the_rest_is_reported(simulate, monkeypatch):
    tenant = tenant_of(3)
    sim = simulate(tenant)
    sim.add_fault(Fault(match=r"/aks-2/providers/Microsoft\.Insights/diagnosticSettings$", hang=True))
    monkeypatch.setenv("AUDITOR_SCAN_DEADLINE_SECONDS", "2")
    monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "60")
    started = time.monotonic()
    code, document = scan_json()
    assert time.monotonic() - started < 20
    assert code == 1
    assert statuses(document) == {"aks-0": "pass", "aks-1": "pass", "aks-2": "error"}
    late = next(f for f in document["findings"] if f["name"] == "aks-2")
    assert late["reasons"] == [
        "not judged before the deadline (AUDITOR_SCAN_DEADLINE_SECONDS=2); the next scan judges it"
    ]
    assert sim.count(contains="/aks-2/providers/Microsoft.Insights/diagnosticSettings") == 1  # still hanging


# --- every wait ends ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surface", "match"),
    [
        ("subscription list", r"^/subscriptions$"),
        ("cluster list", CLUSTERS),
        ("settings read", SETTINGS),
        ("token endpoint", r"^/msi/token$"),
    ],
)
def test_a_retry_after_of_a_day_waits_no_longer_than_the_cap(simulate, monkeypatch, surface, match):
    sim = simulate(tenant_of(1))
    sim.add_fault(Fault(match=match, status=429, retry_after=100000, times=2))
    monkeypatch.setenv("AUDITOR_MAX_RETRY_AFTER_SECONDS", "0.5")
    started = time.monotonic()
    code, document = scan_json()
    assert time.monotonic() - started < 15, surface
    assert statuses(document) == {"aks-0": "pass"}  # the third attempt went through
    assert code == 0


def test_a_retry_after_of_a_day_on_the_single_cluster_read_of_an_event_is_capped(simulate, monkeypatch):
    tenant = tenant_of(1)
    cluster = tenant.subscriptions[0].clusters[0]
    sim = simulate(tenant)
    sim.add_fault(Fault(match=r"/managedClusters/aks-0$", status=429, retry_after=100000, times=2))
    monkeypatch.setenv("AUDITOR_MAX_RETRY_AFTER_SECONDS", "0.5")
    started = time.monotonic()
    finding = react(
        arm_event(
            "Microsoft.Resources.ResourceWriteSuccess",
            "Microsoft.Insights/diagnosticSettings/write",
            f"{cluster.id}/providers/Microsoft.Insights/diagnosticSettings/audit",
        )
    )
    assert time.monotonic() - started < 15
    assert str(finding.status) == "pass"


def test_a_retry_after_of_a_day_on_the_event_grid_topic_is_capped(simulate, monkeypatch):
    sim = simulate(tenant_of(1))
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", sim.eventgrid_endpoint)
    monkeypatch.setenv("AUDITOR_EVENTGRID_TOPIC_KEY", sim.sinks.eventgrid_key)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_MAX_RETRY_AFTER_SECONDS", "0.5")
    sim.add_fault(Fault(match=r"^/api/events$", method="POST", status=429, retry_after=100000, times=2))
    started = time.monotonic()
    code, _document = scan_json()
    assert time.monotonic() - started < 15
    assert code == 0
    assert len(sim.sinks.eventgrid_events) == 1


@pytest.mark.parametrize(
    ("surface", "match"),
    [("cluster list", CLUSTERS), ("settings read", SETTINGS), ("token endpoint", r"^/msi/token$")],
)
def test_a_server_that_trickles_one_byte_a_second_cannot_stretch_a_call(simulate, monkeypatch, surface, match):
    sim = simulate(tenant_of(1))
    sim.add_fault(Fault(match=match, trickle=0.2))
    monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.5")
    started = time.monotonic()
    code, out, err = run_cli("scan", "--output", "json")
    elapsed = time.monotonic() - started
    # 4 attempts of 0.5 s and the backoff between them (0.5 + 1 + 2 s), for each call that meets it.
    assert elapsed < 30, surface
    if surface == "token endpoint":  # no token at all: one line, a set-up problem (exit 2)
        assert code == 2
        assert err.startswith("auditor: could not authenticate to Azure")
        assert err.count("\n") == 1
    else:
        assert code == 1, (out, err)
        assert "timed out" in out or "within 0.5s" in out


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_settings_answer_larger_than_any_real_one_is_refused_while_it_is_read(simulate, declared):
    sim = simulate(tenant_of(1))
    sim.add_fault(Fault(match=SETTINGS, body_bytes=3 * 1024 * 1024, declare_length=declared))
    code, document = scan_json()
    assert code == 1
    (finding,) = document["findings"]
    assert finding["status"] == "error"
    assert "larger than any real answer (limit 1 MiB), refused" in finding["reasons"][0]
    assert sim.count(contains="diagnosticSettings") == 1  # refused, not asked again


def test_a_blob_endpoint_outside_the_allowed_hosts_is_never_sent_the_storage_token(simulate, monkeypatch):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-archived", "rg")
    cluster.set_setting("archive", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    sim = simulate(tenant, blob_service=True)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    monkeypatch.setenv("AUDITOR_BLOB_ENDPOINT_HOSTS", "localhost")  # the blob front is at 127.0.0.1
    _code, document = scan_json()
    (finding,) = document["findings"]
    assert "outside AUDITOR_BLOB_ENDPOINT_HOSTS (localhost); not asked, so the storage token stays home" in str(finding)
    assert sim.blob_requests == []


# --- the settings behind the bounds ---------------------------------------------------------------------------


def test_the_default_scan_deadline_leaves_room_to_report_before_the_function_timeout():
    hours, minutes, seconds = json.loads((ROOT / "host.json").read_text())["functionTimeout"].split(":")
    timeout = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    assert Settings().scan_deadline_seconds <= timeout - 5 * 60


@pytest.mark.parametrize("value", ["*", "https://127.0.0.1", "127.0.0.1:99999", "127.0.0.1:abc", "a b"])
def test_a_blob_endpoint_host_that_is_not_a_host_pattern_is_one_line_and_exit_2(monkeypatch, value):
    monkeypatch.setenv("AUDITOR_BLOB_ENDPOINT_HOSTS", value)
    code, out, err = run_cli("scan")
    assert code == 2
    assert out == ""
    assert err.startswith("auditor: AUDITOR_BLOB_ENDPOINT_HOSTS: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://127.0.0.1:8443/x", True),
        ("https://127.0.0.1/x", False),  # another port
        ("http://127.0.0.1:8443/x", False),  # another scheme
        ("https://localhost:8443/x", False),  # another host
        ("https://127.0.0.1:99999/x", False),  # no port at all
    ],
)
def test_a_blob_endpoint_is_allowed_only_on_its_pattern_scheme_and_port(url, allowed):
    assert origin_allowed(url, ("127.0.0.1:8443",)) is allowed


class EndlessGreeting:
    """A mail server on loopback that greets for ever: one `220-` continuation line every 0.2 s, each well
    within any socket timeout, so only a deadline on the whole conversation ends it (bounded: 60 s)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        ends = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < ends:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                while not self._stop.is_set() and time.monotonic() < ends:
                    connection.sendall(b"220-still greeting\r\n")
                    self._stop.wait(0.2)

    def __enter__(self) -> EndlessGreeting:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


def test_a_mail_server_that_greets_for_ever_cannot_stretch_the_email(simulate, smtp, tmp_path, monkeypatch):
    tenant = Tenant()
    tenant.add_subscription("Production").add_cluster("aks-bad", "rg")  # fails: no settings
    sim = simulate(tenant)
    for name, value in every_channel(sim, smtp, tmp_path / "ca.pem", "secops@contoso.com").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUDITOR_TEAMS_WEBHOOK_URL")
    monkeypatch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.5")  # smtplib's per-operation timeout
    with EndlessGreeting() as server:
        monkeypatch.setenv("AUDITOR_SMTP_PORT", str(server.port))
        started = time.monotonic()
        code, _out, err = run_cli("scan")
        elapsed = time.monotonic() - started
    assert elapsed < 30  # the conversation's deadline, transport.call_budget(0.5): 4 x 0.5 s + 3 x 4 s = 14 s
    assert code == 1
    assert f"email via 127.0.0.1:{server.port} failed" in err


@pytest.mark.parametrize("mode", ["self", "fresh"])
def test_a_blob_listing_whose_marker_loops_leaves_delivery_unverified_in_bounded_requests(simulate, monkeypatch, mode):
    tenant = Tenant()
    cluster = tenant.add_subscription("Production").add_cluster("aks-archived", "rg")
    cluster.set_setting("archive", audit_setting(*AUDIT, workspace="", storageAccountId=STORAGE))
    sim = simulate(tenant, blob_service=True)
    monkeypatch.setenv("AUDITOR_DELIVERY_LOOKBACK_HOURS", "24")
    monkeypatch.setenv("AUDITOR_SCAN_DEADLINE_SECONDS", "5")
    sim.add_fault(Fault(match=r"/insights-logs-kube-audit$", next_link=mode))
    started = time.monotonic()
    _code, document = scan_json()
    assert time.monotonic() - started < 20
    (finding,) = document["findings"]
    if mode == "self":  # the repeat is seen on the second page
        assert "the blob listing repeated an earlier continuation" in str(finding)
        assert sum(1 for r in sim.blob_requests if "insights-logs-kube-audit" in r.path) <= 3
    else:  # never repeats: the scan's deadline ends it, and the cluster is reported, not lost
        assert finding["status"] == "error"
        assert "not judged before the deadline" in str(finding)
