"""Resource IDs by ARM's naming rules: strict on structure, never stricter than Azure on characters."""

from __future__ import annotations

import json

import pytest

from auditor.events import Expectation
from auditor.messages import CheckRequest, MalformedMessage, parse_message
from auditor.resource_id import parse_cluster_id, parse_workspace_id, path_of, resource_group_problem, resource_uri

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
PREFIX = f"/subscriptions/{SUB}/resourceGroups"
TYPE = "providers/Microsoft.ContainerService/managedClusters"


@pytest.mark.parametrize(
    "group",
    ["rg-münchen", "rg-東京", "Grupo_Producción", "RG_(legacy).v2", "a", "x" * 90, "١٢٣", "rg.v2-(prod)"],
)
def test_resource_group_names_arm_allows_parse(group):
    ref = parse_cluster_id(f"{PREFIX}/{group}/{TYPE}/aks-1")
    assert (ref.subscription_id, ref.resource_group, ref.name) == (SUB, group, "aks-1")


@pytest.mark.parametrize(
    ("group", "why"),
    [
        ("rg-ends-with.", "ends with '.'"),
        ("x" * 91, "91 characters"),
        ("rg with space", "holds ' '"),
        ("rg+plus", "holds '+'"),
        ("rg™", "holds '™'"),  # a symbol, not a letter or digit
        ("rg²", "holds '²'"),  # No (other number), which Char.IsLetterOrDigit refuses
    ],
)
def test_resource_group_names_arm_refuses_are_refused_with_the_reason(group, why):
    assert why in resource_group_problem(group)
    with pytest.raises(ValueError, match="not a managed-cluster resource ID"):
        parse_cluster_id(f"{PREFIX}/{group}/{TYPE}/aks-1")


@pytest.mark.parametrize("name", ["a", "aks-1", "AKS_prod-01", "a" * 63])
def test_cluster_names_by_the_aks_pattern_parse(name):
    assert parse_cluster_id(f"{PREFIX}/rg/{TYPE}/{name}").name == name


@pytest.mark.parametrize("name", ["-aks", "aks-", "aks_", "a" * 64, "aks.1", "akś"])
def test_cluster_names_outside_the_aks_pattern_are_refused(name):
    with pytest.raises(ValueError, match="breaks the naming rules"):
        parse_cluster_id(f"{PREFIX}/rg/{TYPE}/{name}")


@pytest.mark.parametrize(
    "candidate",
    [
        f"{PREFIX}/rg/{TYPE}/aks-1/agentPools/np1",  # not the cluster itself
        f"{PREFIX}/rg/{TYPE}/aks-1?x=1",
        f"{PREFIX}/rg/providers/Microsoft.Web/sites/aks-1",
        f"/subscriptions/not-a-guid/resourceGroups/rg/{TYPE}/aks-1",
        f"{PREFIX}/rg%2F..%2F../{TYPE}/aks-1",  # an encoded slash is a character of the name, and refused
        f"{PREFIX}/../{TYPE}/aks-1",
        f"https://management.azure.com{PREFIX}/rg/{TYPE}/aks-1",
        f"{PREFIX}/rg/{TYPE}/aks-1/",
        f"{PREFIX}/rg/{TYPE}/%ZZ",
        f"{PREFIX}/rg-%FF/{TYPE}/aks-1",  # not UTF-8
    ],
)
def test_anything_but_a_managed_cluster_id_in_a_subscription_is_refused(candidate):
    with pytest.raises(ValueError, match=r"^not a managed-cluster resource ID"):
        parse_cluster_id(candidate)


def test_percent_encoded_ids_are_decoded_and_ids_go_back_into_urls_encoded():
    encoded = f"{PREFIX}/rg-m%C3%BCnchen/{TYPE}/aks-1"
    ref = parse_cluster_id(encoded)
    assert ref.resource_group == "rg-münchen"
    assert ref.path == encoded
    assert path_of(ref.resource_id) == encoded
    assert resource_uri(f" {ref.resource_id} ") == encoded.lstrip("/")
    assert path_of(f"{PREFIX}/RG_(legacy).v2/{TYPE}/a") == f"{PREFIX}/RG_(legacy).v2/{TYPE}/a"  # nothing to encode


def test_workspace_ids_accept_unicode_resource_groups():
    workspace = f"{PREFIX}/rg-sécurité/providers/Microsoft.OperationalInsights/workspaces/law-central"
    assert parse_workspace_id(workspace).name == "law-central"
    with pytest.raises(ValueError, match="breaks the naming rules"):
        parse_workspace_id(workspace.replace("law-central", "la-"))


@pytest.mark.parametrize(
    "bad",
    [
        {"setting": "", "present": False, "rereads": 0},
        {"setting": "a", "present": "no", "rereads": 0},
        {"setting": "a", "present": True, "rereads": 99},
        {"setting": "a", "present": True, "rereads": True},
        ["a"],
    ],
)
def test_a_check_message_carries_what_the_event_expected_and_refuses_what_no_auditor_wrote(bad):
    cluster = f"{PREFIX}/rg-東京/{TYPE}/aks-1"
    request = CheckRequest(cluster, "diagnostic setting deleted", "e1", Expectation("audit", False, 1, "why"))
    assert parse_message(request.to_json()) == request
    with pytest.raises(MalformedMessage):
        parse_message(json.dumps({"kind": "check", "clusterId": cluster, "expect": bad}))
