"""The function app as the Functions host runs it: indexed functions, their bindings, and each trigger
called with real azure.functions objects, against the simulation (ARM) and Azurite (queues, tables)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import azure.functions as func
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.data.tables import TableClient, TableServiceClient
from azure.functions import meta
from azure.functions.decorators.function_app import Function
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from support import arm_event, audit_setting

import function_app
from auditor.attribution import Origin
from auditor.azure.state import EVENTS_TABLE, EventLedger
from auditor.azure.storage import StorageFailed
from auditor.events import Expectation
from auditor.messages import CHECK_QUEUE, SCAN_QUEUE, CheckRequest, ScanRequest, parse_message
from auditor.reactions import RetryLater
from auditor.triggers import MAX_DEQUEUE_COUNT
from azsim import Fault, Tenant

ROOT = Path(__file__).resolve().parents[1]
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"


@functools.cache
def functions() -> dict[str, Function]:
    """Index once, as the host does (indexing the same app twice reports duplicate names)."""
    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def call(name: str, argument: object):
    return asyncio.run(functions()[name].get_user_function()(argument))


def delivered(payload: dict) -> func.EventGridEvent | func.CloudEvent:
    """The object the Python worker hands the trigger, decoded from the wire as the worker does."""
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(payload), "json"), trigger_metadata={})


def queue_message(text: str, dequeue_count: int = 1) -> QueueMessage:
    """The worker's QueueMessage (the host has already Base64-decoded the body)."""
    return QueueMessage(id="msg-1", body=text.encode(), dequeue_count=dequeue_count)


def auditor_logs(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "auditor"]


FINDING_LINE = re.compile(r"^C-0254 (pass|fail|exempt|error) /subscriptions/")


def findings_logged(caplog) -> list[str]:
    """The trace `pipeline.report` leaves for each finding."""
    return [m for m in auditor_logs(caplog) if FINDING_LINE.match(m)]


@pytest.fixture
def tenant() -> Tenant:
    tenant = Tenant()
    sub = tenant.add_subscription("Production")
    sub.add_cluster("aks-good", resource_group="rg-prod").set_setting(
        "audit", audit_setting("kube-audit", "kube-audit-admin")
    )
    sub.add_cluster("aks-bare", resource_group="rg-prod")
    return tenant


def cluster(tenant: Tenant, name: str):
    return next(c for s in tenant.subscriptions for c in s.clusters if c.name == name)


def setting_uri(cluster_id: str, name: str = "audit") -> str:
    return f"{cluster_id}/providers/microsoft.insights/diagnosticSettings/{name}"


# --- indexing ---------------------------------------------------------------------------------


def test_app_exposes_timer_event_grid_and_queue_functions_with_the_right_bindings():
    bindings = {name: f.get_bindings()[0].get_dict_repr() for name, f in functions().items()}
    assert bindings["scheduled_scan"]["type"] == "timerTrigger"
    assert bindings["scheduled_scan"]["schedule"] == "%AUDITOR_SCAN_SCHEDULE%"
    assert bindings["on_resource_event"]["type"] == "eventGridTrigger"
    queues = {name: (b["queueName"], b["connection"]) for name, b in bindings.items() if b["type"] == "queueTrigger"}
    assert queues == {
        "run_check": (CHECK_QUEUE, "AzureWebJobsStorage"),
        "check_gave_up": (f"{CHECK_QUEUE}-poison", "AzureWebJobsStorage"),
        "scan_subscription": (SCAN_QUEUE, "AzureWebJobsStorage"),
        "scan_gave_up": (f"{SCAN_QUEUE}-poison", "AzureWebJobsStorage"),
    }


def test_host_json_matches_the_code():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["extensions"]["queues"]["maxDequeueCount"] == MAX_DEQUEUE_COUNT
    assert host["extensions"]["queues"]["messageEncoding"] == "base64"


def test_sample_settings_list_every_setting_the_code_reads():
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    code = "".join(p.read_text() for p in (ROOT / "auditor").rglob("*.py"))
    used = set(re.findall(r'"(AUDITOR_[A-Z_]+)"', code))
    assert used <= set(values), used - set(values)
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


# --- events -----------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_cluster_write_with_no_grace_is_judged_at_once(simulate, storage, monkeypatch, caplog, tenant, schema):
    bare = cluster(tenant, "aks-bare")
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_CREATE_GRACE_SECONDS", "0")
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(arm_event(WRITE, CLUSTER_WRITE, bare.id, schema)))
    assert findings_logged(caplog) == [
        f"C-0254 fail {bare.id} (cluster created or updated): the cluster has no diagnostic settings; "
        "kube-audit is not exported to an accepted destination; kube-audit-admin is not exported to an accepted "
        "destination"
    ]


def test_cluster_write_is_deferred_through_a_delayed_queue_message(simulate, storage, monkeypatch, caplog, tenant):
    bare = cluster(tenant, "aks-bare")
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_CREATE_GRACE_SECONDS", "2")
    event = arm_event(WRITE, CLUSTER_WRITE, bare.id)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(event))
    assert sim.requests == []  # nothing read from ARM yet
    queue = QueueClient.from_connection_string(storage, CHECK_QUEUE, message_decode_policy=TextBase64DecodePolicy())
    assert queue.get_queue_properties().approximate_message_count == 1
    assert list(queue.receive_messages()) == []  # invisible during the grace period
    time.sleep(2.2)
    (message,) = list(queue.receive_messages())
    body = json.loads(message.content)
    expected = json.loads(
        CheckRequest(bare.id, "cluster created or updated", event["id"], origin=Origin.CLUSTER_WRITE).to_json()
    )
    assert {key: body[key] for key in expected} == expected
    # The message carries who made the change, as the event's claims said (the public sample's placeholders).
    assert body["change"]["actor"] == "{user-name}"
    assert body["change"]["source"] == "event"
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("run_check", queue_message(message.content))
    assert findings_logged(caplog)[0].startswith(f"C-0254 fail {bare.id} (cluster created or updated)")


def test_deleting_a_diagnostic_setting_is_caught_as_drift_at_once(simulate, storage, caplog, tenant):
    good = cluster(tenant, "aks-good")
    simulate(tenant)
    good.delete_setting("audit")
    with caplog.at_level(logging.INFO, logger="auditor"):
        call(
            "on_resource_event",
            delivered(arm_event(DELETE, "Microsoft.Insights/diagnosticSettings/delete", setting_uri(good.id))),
        )
    (logged,) = findings_logged(caplog)
    assert logged.startswith(
        f"C-0254 fail {good.id} (diagnostic setting deleted): the cluster has no diagnostic settings"
    )


def test_a_stale_first_read_after_a_delete_is_checked_again_through_a_delayed_queue_message(
    simulate, storage, monkeypatch, caplog, tenant
):
    """ARM reads can lag a change: the deleted setting still listed is no verdict, it is a reason to look again."""
    good = cluster(tenant, "aks-good")
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_RECHECK_SECONDS", "1")
    tenant.read_lag = 1
    good.delete_setting("audit")
    event = arm_event(DELETE, "Microsoft.Insights/diagnosticSettings/delete", setting_uri(good.id))
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(event))
    assert findings_logged(caplog) == []  # no verdict on a read that contradicts the event
    queue = QueueClient.from_connection_string(storage, CHECK_QUEUE, message_decode_policy=TextBase64DecodePolicy())
    time.sleep(1.2)
    (message,) = list(queue.receive_messages())
    request = parse_message(message.content)
    assert isinstance(request, CheckRequest)
    assert request.expectation == Expectation(
        "audit", False, 1, "ARM still listed setting audit, which the event says was deleted"
    )
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("run_check", queue_message(message.content))
    (logged,) = findings_logged(caplog)
    assert logged.startswith(f"C-0254 fail {good.id} (diagnostic setting deleted): the cluster has no diagnostic")
    assert "judged on re-read 1 after the event" in logged


def test_drift_under_the_nested_operation_name_is_caught(simulate, storage, caplog, tenant):
    good = cluster(tenant, "aks-good")
    simulate(tenant)
    good.delete_setting("audit")
    nested = "Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/delete"
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(arm_event(DELETE, nested, setting_uri(good.id))))
    (logged,) = findings_logged(caplog)
    assert logged.startswith(f"C-0254 fail {good.id} (diagnostic setting deleted)")


def test_a_diagnostic_setting_write_that_keeps_the_cluster_compliant_passes(simulate, storage, caplog, tenant):
    good = cluster(tenant, "aks-good")
    simulate(tenant)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call(
            "on_resource_event",
            delivered(arm_event(WRITE, "Microsoft.Insights/diagnosticSettings/write", setting_uri(good.id))),
        )
    assert findings_logged(caplog)[0].startswith(f"C-0254 pass {good.id} (diagnostic setting changed)")


def test_unrelated_event_costs_no_arm_call_and_no_storage(simulate, storage, caplog, tenant):
    sim = simulate(tenant)
    sub = tenant.subscriptions[0].subscription_id
    account = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(arm_event(WRITE, "Microsoft.Storage/storageAccounts/write", account)))
    assert sim.requests == []
    assert sim.token_requests == []
    assert EVENTS_TABLE not in {t.name for t in TableServiceClient.from_connection_string(storage).list_tables()}
    assert any("ignored event" in m for m in auditor_logs(caplog))


def test_redelivered_event_is_handled_once(simulate, storage, caplog, tenant):
    good = cluster(tenant, "aks-good")
    sim = simulate(tenant)
    good.delete_setting("audit")
    event = arm_event(DELETE, "Microsoft.Insights/diagnosticSettings/delete", setting_uri(good.id))
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(event))
        reads_after_first = len(sim.requests)
        call("on_resource_event", delivered(event))
    assert len(findings_logged(caplog)) == 1
    assert len(sim.requests) == reads_after_first  # the redelivery made no ARM call
    assert any("was handled before (redelivery)" in m for m in auditor_logs(caplog))


def test_malformed_event_is_logged_with_its_id_and_dropped(simulate, storage, caplog, tenant):
    sim = simulate(tenant)
    event = arm_event(WRITE, CLUSTER_WRITE, cluster(tenant, "aks-bare").id, event_id="evt-broken-1")
    del event["eventType"]  # the worker decodes it; the auditor cannot tell what happened
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(event))  # no exception: Event Grid must not retry it
    assert any(m.startswith("C-0254 dropped malformed event evt-broken-1:") for m in auditor_logs(caplog))
    assert sim.requests == []


def test_transient_arm_failure_raises_for_a_retry_that_then_succeeds(simulate, storage, caplog, tenant):
    good = cluster(tenant, "aks-good")
    sim = simulate(tenant)
    fault = sim.add_fault(Fault(match="aks-good/providers/microsoft.insights/diagnosticSettings$", status=503))
    event = arm_event(WRITE, "Microsoft.Insights/diagnosticSettings/write", setting_uri(good.id))
    with pytest.raises(HttpResponseError) as raised:
        call("on_resource_event", delivered(event))
    assert raised.value.status_code == 503
    assert fault.fired == 4  # the call and its retries, then Event Grid's turn
    sim.clear_faults()
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("on_resource_event", delivered(event))  # Event Grid's redelivery is not mistaken for a duplicate
    assert findings_logged(caplog)[0].startswith(f"C-0254 pass {good.id}")


def test_event_claimed_by_another_instance_is_retried_later(simulate, storage, tenant):
    good = cluster(tenant, "aks-good")
    simulate(tenant)
    event = arm_event(WRITE, "Microsoft.Insights/diagnosticSettings/write", setting_uri(good.id))
    table = TableClient.from_connection_string(storage, EVENTS_TABLE)
    table.create_table()
    partition, row = EventLedger.keys(event["id"])
    table.create_entity(
        {"PartitionKey": partition, "RowKey": row, "State": "processing", "ClaimedAt": datetime.now(UTC)}
    )
    with pytest.raises(RetryLater):
        call("on_resource_event", delivered(event))


# --- queue ------------------------------------------------------------------------------------


def test_cluster_deleted_before_its_deferred_check_is_not_a_finding(simulate, storage, caplog, tenant):
    bare = cluster(tenant, "aks-bare")
    simulate(tenant)
    tenant.remove_cluster(bare.id)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("run_check", queue_message(CheckRequest(bare.id, "cluster created or updated").to_json()))
    assert findings_logged(caplog) == []
    assert any(m == f"C-0254 {bare.id} no longer exists; nothing to check" for m in auditor_logs(caplog))


def test_poison_check_leaves_an_error_finding(simulate, caplog, tenant):
    bare = cluster(tenant, "aks-bare")
    simulate(tenant)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("check_gave_up", queue_message(CheckRequest(bare.id, "cluster created or updated").to_json(), 5))
    logs = auditor_logs(caplog)
    assert f"C-0254 check of {bare.id} abandoned after 5 attempts" in logs
    assert findings_logged(caplog)[0].startswith(
        f"C-0254 error {bare.id} (cluster created or updated): the check failed"
    )


def test_malformed_queue_message_is_dropped_with_a_trace(simulate, caplog, tenant):
    sim = simulate(tenant)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("run_check", queue_message('{"kind": "check", "clusterId": "/subscriptions/../etc/passwd"}'))
    assert any(m.startswith("C-0254 dropped malformed queue message msg-1:") for m in auditor_logs(caplog))
    assert sim.requests == []


def test_transient_failure_in_a_deferred_check_raises_for_the_queue_retry(simulate, tenant):
    bare = cluster(tenant, "aks-bare")
    sim = simulate(tenant)
    sim.add_fault(Fault(match="managedClusters/aks-bare$", status=500))
    with pytest.raises(HttpResponseError) as raised:
        call("run_check", queue_message(CheckRequest(bare.id, "cluster created or updated").to_json()))
    assert raised.value.status_code == 500


# --- timer and fan-out ------------------------------------------------------------------------


def test_small_tenant_is_scanned_inline_by_the_timer(simulate, storage, caplog, tenant):
    simulate(tenant)
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("scheduled_scan", TimerRequest(past_due=True))
    logs = auditor_logs(caplog)
    assert logs[0] == "C-0254 scan is running late (past due)"
    summary = json.loads(next(m for m in logs if m.startswith("C-0254 scan summary: ")).split(": ", 1)[1])
    assert (summary["clusters"], summary["pass"], summary["fail"]) == (2, 1, 1)


def test_large_tenant_fans_out_one_message_per_subscription(simulate, storage, monkeypatch, caplog, tenant):
    second = tenant.add_subscription("Staging")
    second.add_cluster("aks-stg")
    sim = simulate(tenant)
    monkeypatch.setenv("AUDITOR_FANOUT_MIN_SUBSCRIPTIONS", "2")
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("scheduled_scan", TimerRequest())
    assert not any("managedclusters" in r.path.lower() for r in sim.requests)  # nothing scanned inline
    queue = QueueClient.from_connection_string(storage, SCAN_QUEUE, message_decode_policy=TextBase64DecodePolicy())
    messages = [json.loads(m.content) for m in queue.receive_messages(max_messages=32)]
    assert sorted(m["subscriptionId"] for m in messages) == sorted(s.subscription_id for s in tenant.subscriptions)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("scan_subscription", queue_message(ScanRequest(second.subscription_id).to_json()))
    (logged,) = findings_logged(caplog)
    assert logged.startswith("C-0254 fail /subscriptions/")
    assert "aks-stg" in logged


def test_poison_scan_message_leaves_an_error_finding(simulate, caplog, tenant):
    simulate(tenant)
    sub = tenant.subscriptions[0].subscription_id
    with caplog.at_level(logging.INFO, logger="auditor"):
        call("scan_gave_up", queue_message(ScanRequest(sub).to_json(), 5))
    assert findings_logged(caplog)[0].startswith(f"C-0254 error /subscriptions/{sub} (fan-out scan)")


def test_token_failure_in_the_event_path_raises_for_a_retry_not_an_error_finding(simulate, caplog, tenant):
    good = cluster(tenant, "aks-good")
    sim = simulate(tenant)
    sim.add_fault(Fault(match="/msi/token", method=None, status=500))
    event = arm_event(WRITE, "Microsoft.Insights/diagnosticSettings/write", setting_uri(good.id))
    with caplog.at_level(logging.INFO, logger="auditor"), pytest.raises(ClientAuthenticationError):
        call("on_resource_event", delivered(event))
    assert findings_logged(caplog) == []


def test_the_timer_logs_findings_then_fails_when_storage_is_wrong(simulate, storage, caplog, tenant, monkeypatch):
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    wrong = re.sub(r"(TableEndpoint=http://127\.0\.0\.1:)\d+/", rf"\g<1>{closed}/", storage)
    monkeypatch.setenv("AzureWebJobsStorage", wrong)
    with caplog.at_level(logging.INFO, logger="auditor"), pytest.raises(StorageFailed, match="state storage"):
        call("scheduled_scan", TimerRequest())
    assert len(findings_logged(caplog)) == 2  # both clusters were logged before the invocation failed
