"""Fuzzing everything that parses outside input: resource IDs, ARM JSON, settings, tags, events and the
handle-event CLI. No crash, no traceback, and nothing that is not a relevant event reaches ARM."""

from __future__ import annotations

import contextlib
import io
import json
import string
from datetime import date

import pytest
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.azure.diagnostics import setting_from_sdk
from auditor.azure.inventory import cluster_from_arm
from auditor.cli import main
from auditor.events import CheckCluster, MalformedEvent, parse_event, route
from auditor.messages import MalformedMessage, parse_message
from auditor.model import Cluster
from auditor.resource_id import parse_cluster_id, path_of, resource_group_problem
from auditor.rule import evaluate, exemption_of
from auditor.settings import ConfigError, Settings

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
id_alphabet = string.ascii_letters + string.digits + "/-_.()%?#:@ \\\x00é"


@given(st.text(alphabet=id_alphabet, max_size=200))
@settings(max_examples=500)
def test_resource_ids_parse_or_raise_value_error_and_accepted_ones_are_safe_in_a_url(candidate):
    try:
        ref = parse_cluster_id(candidate)
    except ValueError:
        return
    for part in (ref.resource_group, ref.name):
        assert not {"/", "?", "#", "%", "\\", "\x00", " "} & set(part)
        assert part not in {".", ".."}


# What .NET's Char.IsLetterOrDigit accepts (Unicode letters and decimal digits) plus ARM's punctuation.
group_names = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Lt", "Lm", "Lo", "Nd")) | st.sampled_from("_-.()"),
    min_size=1,
    max_size=90,
).filter(lambda name: not name.endswith("."))


@given(group_names)
@settings(max_examples=500)
def test_every_resource_group_name_arm_allows_parses_and_survives_percent_encoding(group):
    cluster = f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/aks-1"
    assert resource_group_problem(group) == ""
    ref = parse_cluster_id(cluster)
    assert ref.resource_group == group
    encoded = path_of(cluster)
    assert encoded.isascii()
    assert parse_cluster_id(encoded) == ref  # what goes into a URL means the same cluster


@given(st.sampled_from(["resourceGroups", "resourcegroups", "RESOURCEGROUPS"]), st.booleans())
def test_real_ids_in_any_case_parse(groups, lower):
    candidate = f"/subscriptions/{SUB}/{groups}/rg-1/providers/Microsoft.ContainerService/managedClusters/aks-1"
    assert parse_cluster_id(candidate.lower() if lower else candidate).name == "aks-1"


@given(st.dictionaries(st.sampled_from(["id", "name", "location", "tags", "properties"]), json_values))
@settings(max_examples=300)
def test_cluster_json_from_arm_is_read_or_rejected_cleanly(item):
    item = {**item, "id": CLUSTER} if isinstance(item.get("id"), str) or "id" not in item else item
    try:
        cluster = cluster_from_arm(item, SUB)
    except ValueError:
        return
    assert cluster.resource_id == CLUSTER
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cluster.tags.items())


@given(
    st.fixed_dictionaries(
        {"name": st.text(max_size=20)},
        optional={
            "properties": st.dictionaries(
                st.sampled_from(
                    [
                        "workspaceId",
                        "storageAccountId",
                        "logs",
                        "metrics",
                        "eventHubName",
                        "marketplacePartnerId",
                        "eventHubAuthorizationRuleId",
                    ]
                ),
                json_values,
            )
        },
    )
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_diagnostic_setting_json_never_crashes_the_rule(item):
    try:
        resource = DiagnosticSettingsResource.deserialize(item)
    except Exception:  # the SDK refuses the shape: the reader reports the cluster as `error`
        return
    setting = setting_from_sdk(resource)
    finding = evaluate(Cluster(CLUSTER, "aks1", SUB, "rg"), [setting], None, Settings().policy(), date(2026, 11, 26))
    assert str(finding.status) in {"pass", "fail", "error"}


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "AUDITOR_REQUIRED_CATEGORIES",
                "AUDITOR_ACCEPTED_DESTINATIONS",
                "AUDITOR_ALLOWED_WORKSPACES",
                "AUDITOR_EXEMPT_TAG",
                "AUDITOR_CLOUD",
                "AUDITOR_ARM_ENDPOINT",
                "AUDITOR_SUBSCRIPTIONS",
                "AUDITOR_MAX_CONCURRENCY",
                "AUDITOR_HTTP_TIMEOUT_SECONDS",
                "AUDITOR_CREATE_GRACE_SECONDS",
                "AUDITOR_TEAMS_WEBHOOK_URL",
                "AUDITOR_WEBHOOK_ALLOWED_HOSTS",
                "AUDITOR_SMTP_HOST",
                "AUDITOR_SMTP_PORT",
                "AUDITOR_REMEDIATION_MODE",
                "AUDITOR_REMEDIATION_WORKSPACE_ID",
                "AUDITOR_RENOTIFY_HOURS",
                "AUDITOR_EVENTGRID_TOPIC_ENDPOINT",
            ]
        ),
        st.text(max_size=60),
        max_size=5,
    )
)
@settings(max_examples=400)
def test_any_setting_values_give_settings_or_one_line_config_error(environ):
    message = ""
    try:
        Settings.from_env(environ)
    except ConfigError as exc:
        message = str(exc)
    assert "\n" not in message


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=30), max_size=6))
def test_any_tags_are_judged_without_crashing(tags):
    exemption = exemption_of(Cluster(CLUSTER, "aks1", SUB, "rg", tags=tags), Settings().policy(), date(2026, 11, 26))
    assert isinstance(exemption.active, bool)


event_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=40) | st.integers(),
        "eventType": st.sampled_from(
            ["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess", "x"]
        )
        | st.text(max_size=20),
        "type": st.text(max_size=30),
        "specversion": st.just("1.0"),
        "eventTime": st.sampled_from(["2026-11-26T10:00:00.1234567Z", "2026-11-26", "nope"]) | st.text(max_size=20),
        "time": st.text(max_size=30),
        "subject": st.text(alphabet=id_alphabet, max_size=120),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "operationName": st.sampled_from(
                    ["Microsoft.ContainerService/managedClusters/write", "Microsoft.Insights/diagnosticSettings/delete"]
                )
                | st.text(max_size=30),
                "resourceUri": st.text(alphabet=id_alphabet, max_size=160) | st.just(CLUSTER + "/../../x"),
            },
        )
        | json_values,
    },
)


@given(event_fields)
@settings(max_examples=600)
def test_events_of_either_schema_parse_or_are_malformed_and_only_real_cluster_ids_are_checked(payload):
    try:
        event = parse_event(payload)
    except MalformedEvent:
        return
    action = route(event, 900)
    if isinstance(action, CheckCluster):
        parse_cluster_id(action.cluster_id)  # never anything that is not a well-formed cluster ID


@given(st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
@settings(max_examples=200)
def test_queue_messages_parse_or_are_malformed(text):
    with contextlib.suppress(MalformedMessage):
        parse_message(text)


@given(st.text(max_size=200) | st.builds(json.dumps, json_values))
@settings(max_examples=150, deadline=None)
def test_handle_event_cli_never_prints_a_traceback(text):
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:  # should an input ever reach Azure, it reaches nothing
        patch.setenv("AUDITOR_ARM_ENDPOINT", "https://127.0.0.1:9")
        patch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token")
        patch.setenv("IDENTITY_HEADER", "x")
        patch.setenv("AUDITOR_HTTP_TIMEOUT_SECONDS", "0.2")
        patch.delenv("AzureWebJobsStorage", raising=False)
        code = main(["handle-event", "-"], stdout=out, stderr=err, stdin=io.StringIO(text))
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") == 1
        assert out.getvalue() == ""
