"""`python -m auditor handle-event FILE`: the Event Grid path from a file or stdin, for debugging and replay."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys

import pytest
from azure.data.tables import TableServiceClient
from support import ROOT, arm_event, audit_setting

from auditor.cli import main
from azsim import Tenant

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"


@pytest.fixture
def tenant() -> Tenant:
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-good").set_setting("audit", audit_setting("kube-audit", "kube-audit-admin"))
    sub.add_cluster("aks-bare")
    return tenant


def ids(tenant: Tenant) -> dict[str, str]:
    return {c.name: c.id for c in tenant.subscriptions[0].clusters}


def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["handle-event", *args], stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_array_of_both_schemas_from_a_file(simulate, tenant, tmp_path, monkeypatch):
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_CREATE_GRACE_SECONDS", "0")
    clusters = ids(tenant)
    events = [
        arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", clusters["aks-bare"], event_id="e1"),
        arm_event(
            DELETE,
            "Microsoft.Insights/diagnosticSettings/delete",
            clusters["aks-good"] + "/providers/microsoft.insights/diagnosticSettings/old",
            schema="cloudevents",
            event_id="e2",
        ),
        arm_event(
            WRITE, "Microsoft.Storage/storageAccounts/write", "/subscriptions/x/resourceGroups/rg", event_id="e3"
        ),
    ]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    code, out, _ = run(str(path), "--output", "json")
    assert code == 1
    document = json.loads(out)["events"]
    assert [(e["id"], e["result"]) for e in document] == [("e1", "checked"), ("e2", "checked"), ("e3", "ignored")]
    assert document[0]["finding"]["status"] == "fail"
    assert document[1]["finding"]["status"] == "pass"
    assert document[2]["finding"] is None


def test_one_event_from_stdin_with_grace_and_no_storage_is_checked_now_and_says_so(simulate, tenant):
    simulate(tenant)
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-good"], event_id="e9")
    code, out, _ = run("-", stdin=json.dumps(event))
    assert code == 0
    assert out.splitlines()[0] == (
        "event e9: checked: pass (cluster created or updated) (checked now, not in 900 s: "
        "no AzureWebJobsStorage to queue the check)"
    )


def test_with_storage_the_check_is_deferred_and_a_replay_is_a_duplicate(simulate, storage, tenant):
    sim = simulate(tenant)
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-bare"], event_id="e5")
    code, out, _ = run("-", stdin=json.dumps(event))
    assert (code, out.split(": ")[1]) == (0, "deferred")
    code, out, _ = run("-", stdin=json.dumps(event))
    assert out.strip() == "event e5: duplicate: redelivery of a handled event"
    assert sim.requests == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "auditor: standard input is not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        ('[{"id": "a"}]', "auditor: event 0 (a) in -: event has no eventType"),
        ("42", "auditor: event 0 is a JSON int, not an object"),
    ],
)
def test_malformed_input_is_exit_2_with_one_line_and_nothing_done(simulate, tenant, content, message):
    sim = simulate(tenant)
    code, out, err = run("-", stdin=content)
    assert (code, out, err) == (2, "", message + "\n")
    assert sim.requests == []


def test_missing_file_is_exit_2():
    completed = subprocess.run(
        [sys.executable, "-m", "auditor", "handle-event", "/nonexistent/events.json"],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr == "auditor: cannot read /nonexistent/events.json: No such file or directory\n"


def test_an_event_outside_the_configured_subscriptions_costs_no_arm_and_no_storage_call(
    simulate, storage, tenant, monkeypatch
):
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_SUBSCRIPTIONS", "11111111-1111-1111-1111-111111111111")
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-bare"], event_id="o1")
    code, out, _ = run("-", stdin=json.dumps(event))
    assert code == 0
    assert out.startswith("event o1: ignored: subscription ")
    assert "outside AUDITOR_SUBSCRIPTIONS" in out
    assert sim.requests == []
    assert list(TableServiceClient.from_connection_string(storage).list_tables()) == []


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "2001-01-01T00:00:00Z"])
def test_an_absurd_event_time_is_malformed_not_retried(simulate, tenant, when):
    sim = simulate(tenant)
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-bare"], event_id="t1")
    event["eventTime"] = when
    code, out, err = run("-", stdin=json.dumps(event))
    assert (code, out) == (2, "")
    assert err.startswith("auditor: event 0 (t1) in -: event time")
    assert err.count("\n") == 1
    assert sim.requests == []


def test_the_same_event_id_with_another_time_is_a_duplicate(simulate, storage, tenant):
    simulate(tenant)
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-bare"], event_id="d1")
    assert run("-", stdin=json.dumps(event))[1].split(": ")[1] == "deferred"
    event["eventTime"] = "2018-07-21T10:00:00Z"  # the same event, redelivered with another time
    assert run("-", stdin=json.dumps(event))[1].strip() == "event d1: duplicate: redelivery of a handled event"


def test_a_storage_failure_is_named_as_storage_not_arm(simulate, storage, tenant, monkeypatch):
    simulate(tenant)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv(
        "AzureWebJobsStorage", re.sub(r"(TableEndpoint=http://127\.0\.0\.1:)\d+/", rf"\g<1>{closed}/", storage)
    )
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", ids(tenant)["aks-bare"], event_id="s1")
    code, _, err = run("-", stdin=json.dumps(event))
    assert code == 1
    assert err.startswith("auditor: event s1: not handled now (the function's storage (AzureWebJobsStorage) failed")
    assert "ARM" not in err
