"""Event Grid payloads of both schemas -> the action the reference prescribes. Pure: no ARM, no storage."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import arm_event

from auditor.attribution import Origin
from auditor.events import CheckCluster, Expectation, Ignore, MalformedEvent, load_events, parse_event, route

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = f"/subscriptions/{SUB}/resourcegroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks1"
SETTING = f"{CLUSTER}/providers/microsoft.insights/diagnosticSettings/audit"
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"


def action(event: dict, grace: int = 900):
    """The route, without the caller it carries (tests/test_attribution.py reads callers)."""
    routed = route(parse_event(event), grace)
    return dataclasses.replace(routed, caller=None) if isinstance(routed, CheckCluster) else routed


@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_cluster_write_is_checked_after_the_grace_period(schema):
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", CLUSTER, schema)
    assert action(event) == CheckCluster(CLUSTER, 900, "cluster created or updated", origin=Origin.CLUSTER_WRITE)
    assert action(event, grace=0) == CheckCluster(CLUSTER, 0, "cluster created or updated", origin=Origin.CLUSTER_WRITE)


NESTED = "Microsoft.ContainerService/managedClusters/providers/"
CHANGED = ("diagnostic setting changed", Expectation("audit", present=True))
DELETED = ("diagnostic setting deleted", Expectation("audit", present=False))


@pytest.mark.parametrize(
    ("event_type", "operation", "expected"),
    [
        (WRITE, "Microsoft.Insights/diagnosticSettings/write", CHANGED),
        (DELETE, "Microsoft.Insights/diagnosticSettings/delete", DELETED),
        (WRITE.upper(), "microsoft.insights/DIAGNOSTICSETTINGS/write", CHANGED),
        # The other operation name ARM uses: nested under the parent type, as the operations list names it.
        (WRITE, f"{NESTED}Microsoft.Insights/diagnosticSettings/write", CHANGED),
        (DELETE, f"{NESTED}Microsoft.Insights/diagnosticSettings/delete", DELETED),
        (WRITE, f"{NESTED.lower()}microsoft.insights/diagnosticsettings/WRITE", CHANGED),
    ],
)
def test_diagnostic_setting_change_checks_the_parent_cluster_now(event_type, operation, expected):
    trigger, expectation = expected
    assert action(arm_event(event_type, operation, SETTING)) == CheckCluster(
        CLUSTER, 0, trigger, expectation, Origin.SETTING_CHANGE
    )


def test_cloud_event_diagnostic_setting_delete():
    event = arm_event(DELETE, "Microsoft.Insights/diagnosticSettings/delete", SETTING, schema="cloudevents")
    assert action(event) == CheckCluster(CLUSTER, 0, *DELETED, Origin.SETTING_CHANGE)


@pytest.mark.parametrize(
    "cluster",
    [
        f"/subscriptions/{SUB}/resourceGroups/rg-münchen/providers/Microsoft.ContainerService/managedClusters/aks1",
        f"/subscriptions/{SUB}/resourcegroups/rg-東京/providers/microsoft.containerservice/managedclusters/aks1",
        f"/subscriptions/{SUB}/resourceGroups/RG_(legacy).v2/providers/Microsoft.ContainerService/managedClusters/a",
    ],
)
def test_drift_on_a_cluster_with_a_unicode_or_punctuated_resource_group_is_checked(cluster):
    event = arm_event(
        DELETE,
        "Microsoft.Insights/diagnosticSettings/delete",
        f"{cluster}/providers/microsoft.insights/diagnosticSettings/audit",
    )
    assert action(event) == CheckCluster(cluster, 0, *DELETED, Origin.SETTING_CHANGE)


def test_a_percent_encoded_resource_uri_is_decoded_before_it_is_judged():
    encoded = (
        f"/subscriptions/{SUB}/resourceGroups/rg-m%C3%BCnchen/providers/Microsoft.ContainerService/managedClusters/aks1"
    )
    event = arm_event(
        WRITE,
        "Microsoft.Insights/diagnosticSettings/write",
        f"{encoded}/providers/microsoft.insights/diagnosticSettings/a%20b",
    )
    decoded = (
        f"/subscriptions/{SUB}/resourceGroups/rg-münchen/providers/Microsoft.ContainerService/managedClusters/aks1"
    )
    assert action(event) == CheckCluster(
        decoded, 0, "diagnostic setting changed", Expectation("a b", present=True), Origin.SETTING_CHANGE
    )


@pytest.mark.parametrize(
    ("event_type", "operation", "resource"),
    [
        (
            WRITE,
            "Microsoft.Storage/storageAccounts/write",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
        ),
        (DELETE, "Microsoft.ContainerService/managedClusters/delete", CLUSTER),
        (WRITE, "Microsoft.ContainerService/managedClusters/agentPools/write", f"{CLUSTER}/agentPools/np1"),
        # Cluster-scoped operations that cannot change the verdict.
        (
            "Microsoft.Resources.ResourceActionSuccess",
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            CLUSTER,
        ),
        (
            WRITE,
            "Microsoft.ContainerService/managedClusters/maintenanceConfigurations/write",
            f"{CLUSTER}/maintenanceConfigurations/default",
        ),
        (DELETE, "Microsoft.ContainerService/managedClusters/agentPools/delete", f"{CLUSTER}/agentPools/np1"),
        (
            WRITE,
            "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write",
            f"{CLUSTER}/trustedAccessRoleBindings/b",
        ),
        (WRITE, f"{NESTED}Microsoft.Insights/logDefinitions/read", CLUSTER),
        # A nested-form setting operation whose resource is not under a cluster, and a smuggled path.
        (
            WRITE,
            f"{NESTED}Microsoft.Insights/diagnosticSettings/write",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/providers/microsoft.insights/diagnosticSettings/a",
        ),
        (
            DELETE,
            "Microsoft.Insights/diagnosticSettings/delete",
            f"{CLUSTER}/x/providers/microsoft.insights/diagnosticSettings/a",
        ),
        (
            WRITE,
            "Microsoft.ContainerService/managedClusters/write",
            f"/subscriptions/{SUB}/resourceGroups/rg%2Fx/providers/Microsoft.ContainerService/managedClusters/aks1",
        ),
        (
            WRITE,
            "Microsoft.Insights/diagnosticSettings/write",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
            "Microsoft.KeyVault/vaults/kv1/providers/microsoft.insights/diagnosticSettings/audit",
        ),
        ("Microsoft.Resources.ResourceWriteFailure", "Microsoft.ContainerService/managedClusters/write", CLUSTER),
        (WRITE, "Microsoft.ContainerService/managedClusters/write", f"{CLUSTER}/../../../../providers/x/y/z"),
        (
            WRITE,
            "Microsoft.ContainerService/managedClusters/write",
            "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1",
        ),
    ],
)
def test_everything_else_is_ignored(event_type, operation, resource):
    assert isinstance(action(arm_event(event_type, operation, resource)), Ignore)


def test_subject_is_used_when_data_has_no_resource_uri():
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", CLUSTER)
    del event["data"]["resourceUri"]
    assert action(event, grace=0) == CheckCluster(CLUSTER, 0, "cluster created or updated", origin=Origin.CLUSTER_WRITE)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("id"), "event has no id"),
        (lambda e: e.update(id="a/b"), "event id has characters"),
        (lambda e: e.pop("eventType"), "event has no eventType"),
        (lambda e: e.update(eventTime="yesterday"), "is not ISO 8601"),
        (lambda e: e.pop("eventTime"), "event has no time"),
        (lambda e: e.update(data="text"), "event data is not an object"),
    ],
)
def test_malformed_events_are_named(mutate, message):
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", CLUSTER)
    mutate(event)
    with pytest.raises(MalformedEvent, match=message):
        parse_event(event)


def test_event_time_with_seven_fractional_digits_is_read():
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", CLUSTER)
    assert parse_event(event).time.isoformat() == "2018-07-19T18:38:04.611735+00:00"


def test_files_hold_one_event_or_an_array():
    event = arm_event(WRITE, "Microsoft.ContainerService/managedClusters/write", CLUSTER)
    assert load_events(json.dumps(event)) == [event]
    assert load_events(json.dumps([event, event])) == [event, event]
    with pytest.raises(MalformedEvent, match="not JSON"):
        load_events("{")
    with pytest.raises(MalformedEvent, match="event 1 is a JSON str"):
        load_events(json.dumps([event, "x"]))


@given(
    st.dictionaries(
        st.sampled_from(["id", "eventType", "type", "specversion", "eventTime", "time", "data", "subject"]),
        st.one_of(
            st.none(), st.text(max_size=30), st.integers(), st.dictionaries(st.text(max_size=10), st.text(max_size=30))
        ),
    )
)
@settings(max_examples=500)
def test_arbitrary_payloads_parse_or_fail_cleanly(payload):
    try:
        event = parse_event(payload)
    except MalformedEvent:
        return
    assert isinstance(route(event, 900), Ignore | CheckCluster)
