"""The C-0254 rule as a pure function: table tests for each clause of the verdict (docs/reference.md), then
properties."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from azure.mgmt.monitor.v2021_05_01_preview.models import DiagnosticSettingsResource
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.arm_rules import destinations, needs_category_groups
from auditor.azure.diagnostics import setting_from_sdk
from auditor.azure.inventory import cluster_from_arm
from auditor.model import Cluster, Destination, DiagnosticSetting, LogEntry, Status
from auditor.rule import Policy, evaluate, subscription_unreadable, unreadable
from auditor.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date(2026, 11, 26)
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER_ID = f"/subscriptions/{SUB}/resourcegroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks1"
WORKSPACE = f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/la-sec"
STORAGE = f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/auditarchive"
EVENTHUB = (
    f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.EventHub/namespaces/ns/authorizationrules/r"
)
PARTNER = f"/subscriptions/{SUB}/resourceGroups/rg-logs/providers/Microsoft.Datadog/monitors/dd1"
AKS_GROUPS = {
    "kube-audit": frozenset({"audit", "alllogs"}),
    "kube-audit-admin": frozenset({"audit", "alllogs"}),
    "guard": frozenset({"audit", "alllogs"}),
    "kube-apiserver": frozenset({"alllogs"}),
}
POLICY = Settings().policy()


def cluster(tags: dict[str, str] | None = None) -> Cluster:
    return Cluster(CLUSTER_ID, "aks1", SUB, "rg-prod", "westeurope", tags or {})


def cat(name: str, enabled: bool = True) -> LogEntry:
    return LogEntry(category=name, category_group=None, enabled=enabled)


def group(name: str, enabled: bool = True) -> LogEntry:
    return LogEntry(category=None, category_group=name, enabled=enabled)


def setting(name: str, *logs: LogEntry, **destinations: str) -> DiagnosticSetting:
    if not destinations:
        destinations = {"workspace_id": WORKSPACE}
    return DiagnosticSetting(name=name, logs=logs, **destinations)


def judge(
    *settings_: DiagnosticSetting, policy: Policy = POLICY, tags: dict[str, str] | None = None, groups=AKS_GROUPS
):
    return evaluate(cluster(tags), settings_, groups, policy, TODAY)


BOTH = (cat("kube-audit"), cat("kube-audit-admin"))


@pytest.mark.parametrize(
    ("label", "settings_", "status", "missing"),
    [
        ("no settings at all", (), Status.FAIL, ("kube-audit", "kube-audit-admin")),
        ("both categories to a workspace", (setting("d", *BOTH),), Status.PASS, ()),
        ("both categories to storage", (setting("d", *BOTH, storage_account_id=STORAGE),), Status.PASS, ()),
        ("both categories to a partner", (setting("d", *BOTH, marketplace_partner_id=PARTNER),), Status.PASS, ()),
        ("kube-audit-admin missing", (setting("d", cat("kube-audit")),), Status.FAIL, ("kube-audit-admin",)),
        ("kube-audit missing", (setting("d", cat("kube-audit-admin")),), Status.FAIL, ("kube-audit",)),
        ("allLogs group", (setting("d", group("allLogs"), storage_account_id=STORAGE),), Status.PASS, ()),
        ("audit group", (setting("d", group("audit")),), Status.PASS, ()),
        (
            "group without the categories",
            (setting("d", group("someOtherGroup")),),
            Status.FAIL,
            ("kube-audit", "kube-audit-admin"),
        ),
        (
            "split across a workspace and a storage account",
            (
                setting("ws", cat("kube-audit")),
                setting("sa", cat("kube-audit-admin"), storage_account_id=STORAGE),
            ),
            Status.PASS,
            (),
        ),
        (
            "entries present but disabled",
            (setting("d", cat("kube-audit", False), cat("kube-audit-admin", False)),),
            Status.FAIL,
            ("kube-audit", "kube-audit-admin"),
        ),
        ("disabled allLogs", (setting("d", group("allLogs", False)),), Status.FAIL, ("kube-audit", "kube-audit-admin")),
        (
            "event hub only (not persistent)",
            (setting("d", *BOTH, event_hub_authorization_rule_id=EVENTHUB, event_hub_name="hub"),),
            Status.FAIL,
            ("kube-audit", "kube-audit-admin"),
        ),
        (
            "workspaceId empty string is no destination",
            (setting("d", *BOTH, workspace_id=""),),
            Status.FAIL,
            ("kube-audit", "kube-audit-admin"),
        ),
        (
            "event hub plus storage in one setting counts the storage",
            (setting("d", *BOTH, event_hub_authorization_rule_id=EVENTHUB, storage_account_id=STORAGE),),
            Status.PASS,
            (),
        ),
        (
            "upper-case names",
            (setting("d", cat("KUBE-AUDIT"), cat("Kube-Audit-Admin")),),
            Status.PASS,
            (),
        ),
        ("upper-case group", (setting("d", group("ALLLOGS")),), Status.PASS, ()),
        ("mixed-case audit group", (setting("d", group("Audit")),), Status.PASS, ()),
        (
            "other categories only",
            (setting("d", cat("kube-apiserver"), cat("guard")),),
            Status.FAIL,
            ("kube-audit", "kube-audit-admin"),
        ),
    ],
)
def test_verdict_for_each_shape(label, settings_, status, missing):
    finding = judge(*settings_)
    assert (finding.status, finding.missing_categories) == (status, missing), label


def test_no_settings_says_so():
    assert "the cluster has no diagnostic settings" in judge().reasons


def test_disabled_entry_is_named_as_the_near_miss():
    finding = judge(setting("diag1", cat("kube-audit"), cat("kube-audit-admin", enabled=False)))
    assert finding.reasons == (
        "kube-audit-admin is not exported to an accepted destination (setting diag1 lists it but disabled)",
    )


def test_event_hub_reason_names_the_unaccepted_destination():
    finding = judge(setting("hub", *BOTH, event_hub_authorization_rule_id=EVENTHUB))
    assert all("sends it to eventhub, which is not an accepted destination" in r for r in finding.reasons)


def test_event_hub_counts_when_accepted():
    policy = Settings.from_env({"AUDITOR_ACCEPTED_DESTINATIONS": "workspace,eventhub"}).policy()
    hub_only = setting("hub", *BOTH, event_hub_authorization_rule_id=EVENTHUB)
    assert judge(hub_only, policy=policy).status is Status.PASS


def test_storage_does_not_count_when_not_accepted():
    policy = Settings.from_env({"AUDITOR_ACCEPTED_DESTINATIONS": "workspace"}).policy()
    assert judge(setting("sa", *BOTH, storage_account_id=STORAGE), policy=policy).status is Status.FAIL


def test_allowed_workspaces_reject_other_workspaces_case_insensitively():
    policy = Settings.from_env({"AUDITOR_ALLOWED_WORKSPACES": WORKSPACE.upper()}).policy()
    assert judge(setting("d", *BOTH), policy=policy).status is Status.PASS
    other = WORKSPACE.replace("la-sec", "la-dev")
    finding = judge(setting("d", *BOTH, workspace_id=other), policy=policy)
    assert finding.status is Status.FAIL
    assert "which is not allowed" in finding.reasons[0]


def test_allowed_workspaces_leave_storage_accepted():
    policy = Settings.from_env({"AUDITOR_ALLOWED_WORKSPACES": WORKSPACE}).policy()
    assert judge(setting("d", *BOTH, storage_account_id=STORAGE), policy=policy).status is Status.PASS


def test_required_categories_are_configurable():
    policy = Settings.from_env({"AUDITOR_REQUIRED_CATEGORIES": "kube-audit-admin,Guard"}).policy()
    finding = judge(setting("d", cat("kube-audit-admin")), policy=policy)
    assert (finding.status, finding.missing_categories) == (Status.FAIL, ("guard",))
    assert judge(setting("d", group("audit")), policy=policy).status is Status.PASS


def test_unresolved_group_is_an_error_not_a_guess():
    finding = judge(setting("d", group("audit")), groups=None)
    assert finding.status is Status.ERROR
    assert "could not resolve category group(s) audit" in finding.reasons[-1]


def test_unresolved_group_error_names_why_the_category_map_could_not_be_read():
    why = "could not get a token: the identity endpoint answered 500"
    finding = evaluate(cluster(), [setting("d", group("audit"))], None, POLICY, TODAY, groups_problem=why)
    assert finding.status is Status.ERROR
    assert finding.reasons[0].endswith(f"was not readable ({why})")


def test_unresolved_group_does_not_matter_when_categories_are_covered_anyway():
    assert judge(setting("d", group("audit"), *BOTH), groups=None).status is Status.PASS


def test_only_non_alllogs_groups_need_the_category_map():
    assert not needs_category_groups([setting("d", group("allLogs"), *BOTH)])
    assert not needs_category_groups([setting("d", group("audit", enabled=False))])
    assert needs_category_groups([setting("d", group("audit"))])


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("true", Status.EXEMPT),
        ("TRUE", Status.EXEMPT),
        (" true ", Status.EXEMPT),
        ("2026-11-26", Status.EXEMPT),  # today still exempts
        ("2099-12-31", Status.EXEMPT),
        ("2026-11-25", Status.FAIL),  # lapsed yesterday: judged normally
        ("false", Status.FAIL),
        ("yes", Status.FAIL),
        ("20991231", Status.FAIL),  # not the documented YYYY-MM-DD form
        ("2099-02-30", Status.FAIL),  # not a date
        ("", Status.FAIL),
    ],
)
def test_exemption_tag_values(value, status):
    assert judge(tags={"aks-audit-exempt": value}).status is status


def test_exemption_tag_name_is_case_insensitive_and_configurable():
    assert judge(tags={"AKS-Audit-Exempt": "true"}).status is Status.EXEMPT
    policy = Settings.from_env({"AUDITOR_EXEMPT_TAG": "security-exception"}).policy()
    assert judge(tags={"security-exception": "true"}, policy=policy).status is Status.EXEMPT
    assert judge(tags={"aks-audit-exempt": "true"}, policy=policy).status is Status.FAIL


def test_lapsed_exemption_is_explained():
    finding = judge(tags={"aks-audit-exempt": "2024-01-31"})
    assert finding.reasons[0] == "exemption aks-audit-exempt=2024-01-31 lapsed; judged normally"


def test_exempt_finding_still_shows_what_is_missing():
    finding = judge(setting("d", cat("kube-audit")), tags={"aks-audit-exempt": "2099-12-31"})
    assert finding.status is Status.EXEMPT
    assert finding.missing_categories == ("kube-audit-admin",)
    assert finding.reasons == (
        "exempt by tag aks-audit-exempt until 2099-12-31",
        "would otherwise fail: missing kube-audit-admin",
    )


def test_unreadable_settings_are_an_error_with_the_reason():
    finding = unreadable(cluster(), "forbidden (403 AuthorizationFailed)", POLICY, TODAY)
    assert (finding.status, finding.reasons) == (Status.ERROR, ("forbidden (403 AuthorizationFailed)",))


def test_unreadable_but_exempt_cluster_stays_exempt():
    finding = unreadable(cluster({"aks-audit-exempt": "true"}), "timed out", POLICY, TODAY)
    assert finding.status is Status.EXEMPT
    assert "settings not read: timed out" in finding.reasons


def test_unlistable_subscription_becomes_one_error_finding():
    finding = subscription_unreadable(SUB, "Contoso Production", "forbidden (403)", POLICY)
    assert (finding.status, finding.name, finding.resource_id) == (
        Status.ERROR,
        "Contoso Production",
        f"/subscriptions/{SUB}",
    )


def test_evidence_lists_each_setting_with_its_destinations_and_exports():
    finding = judge(
        setting("ws", cat("kube-audit"), cat("kube-apiserver")),
        setting("mixed", group("audit"), storage_account_id=STORAGE, event_hub_authorization_rule_id=EVENTHUB),
    )
    assert [item.to_json() for item in finding.evidence] == [
        {"setting": "ws", "destinations": ["workspace"], "exported": ["kube-audit"]},
        {"setting": "mixed", "destinations": ["storage", "eventhub"], "exported": ["kube-audit", "kube-audit-admin"]},
    ]


def test_finding_json_has_the_contract_fields_in_order():
    document = judge(setting("diag1", cat("kube-audit"))).to_json()
    assert list(document) == [
        "resourceId",
        "subscriptionId",
        "resourceGroup",
        "name",
        "location",
        "status",
        "missingCategories",
        "reasons",
        "evidence",
        "portalUrl",
    ]
    assert document["resourceId"] == CLUSTER_ID  # as ARM returned it, case kept
    assert document["portalUrl"] == f"https://portal.azure.com/#resource{CLUSTER_ID}/diagnostics"
    assert document["status"] == "fail"


def test_portal_link_follows_the_cloud():
    policy = Settings.from_env({"AUDITOR_CLOUD": "AzureUSGovernment"}).policy()
    assert judge(policy=policy).portal_url.startswith("https://portal.azure.us/#resource/subscriptions/")


def test_cluster_is_read_from_the_public_list_example():
    body = json.loads((FIXTURES / "ManagedClustersList.json").read_text())["responses"]["200"]["body"]
    example = body["value"][0]
    example["id"] = example["id"].replace("00000000-0000-0000-0000-000000000000", SUB)
    parsed = cluster_from_arm(example, SUB)
    assert parsed.resource_id == example["id"]  # lower-case "resourcegroups" kept as returned
    assert (parsed.subscription_id, parsed.resource_group, parsed.name) == (SUB, "rg1", "clustername1")
    assert (parsed.location, parsed.provisioning_state) == ("location1", "Succeeded")
    assert parsed.tags == {"archv2": "", "tier": "production"}


def test_real_arm_payload_metrics_never_count_and_empty_workspace_is_ignored():
    """The public example: allLogs to storage + event hub, `workspaceId: ""`, metrics enabled."""
    body = json.loads((FIXTURES / "listDiagnosticSettings.json").read_text())["responses"]["200"]["body"]
    parsed = [setting_from_sdk(DiagnosticSettingsResource.deserialize(item)) for item in body["value"]]
    assert destinations(parsed[0]).keys() == {Destination.STORAGE, Destination.EVENTHUB}
    assert judge(*parsed).status is Status.PASS
    metrics_only = dict(body["value"][0])
    metrics_only["properties"] = {**metrics_only["properties"], "logs": []}
    metrics_setting = setting_from_sdk(DiagnosticSettingsResource.deserialize(metrics_only))
    assert judge(metrics_setting).status is Status.FAIL


# --- properties -------------------------------------------------------------------------------

CATEGORY_NAMES = ["kube-audit", "kube-audit-admin", "KUBE-AUDIT", "guard", "kube-apiserver"]
GROUP_NAMES = ["allLogs", "audit", "AUDIT", "unknownGroup"]
entries = st.one_of(
    st.builds(cat, st.sampled_from(CATEGORY_NAMES), st.booleans()),
    st.builds(group, st.sampled_from(GROUP_NAMES), st.booleans()),
)
destination_sets = st.fixed_dictionaries(
    {},
    optional={
        "workspace_id": st.sampled_from([WORKSPACE, "", WORKSPACE.lower()]),
        "storage_account_id": st.just(STORAGE),
        "event_hub_authorization_rule_id": st.just(EVENTHUB),
        "marketplace_partner_id": st.just(PARTNER),
    },
)
settings_strategy = st.lists(
    st.builds(
        lambda name, logs, dest: DiagnosticSetting(name=name, logs=tuple(logs), **dest),
        st.text("abcdef", min_size=1, max_size=5),
        st.lists(entries, max_size=4),
        destination_sets,
    ),
    max_size=5,
)


@given(settings_strategy, st.sampled_from(["kube-audit", "kube-audit-admin"]), st.booleans())
@settings(max_examples=300)
def test_adding_an_enabled_required_category_never_turns_pass_into_fail(settings_, category, to_storage):
    before = judge(*settings_)
    dest = {"storage_account_id": STORAGE} if to_storage else {"workspace_id": WORKSPACE}
    after = judge(*settings_, setting("extra", cat(category), **dest))
    if before.status is Status.PASS:
        assert after.status is Status.PASS
    assert set(after.missing_categories) <= set(before.missing_categories) - {category}


@given(settings_strategy)
@settings(max_examples=300)
def test_disabling_every_entry_never_passes(settings_):
    disabled = [
        DiagnosticSetting(
            name=s.name,
            logs=tuple(LogEntry(e.category, e.category_group, False) for e in s.logs),
            workspace_id=s.workspace_id,
            storage_account_id=s.storage_account_id,
        )
        for s in settings_
    ]
    assert judge(*disabled).status is Status.FAIL


@given(settings_strategy, st.randoms())
@settings(max_examples=200)
def test_verdict_does_not_depend_on_setting_order(settings_, rnd):
    shuffled = list(settings_)
    rnd.shuffle(shuffled)
    before, after = judge(*settings_), judge(*shuffled)
    assert (before.status, before.missing_categories) == (after.status, after.missing_categories)


@given(settings_strategy)
@settings(max_examples=300)
def test_pass_exactly_when_nothing_is_missing(settings_):
    finding = judge(*settings_)
    assert finding.status in {Status.PASS, Status.FAIL}
    assert (finding.status is Status.PASS) == (not finding.missing_categories)
    assert len(finding.evidence) == len(settings_)


@given(settings_strategy)
@settings(max_examples=200)
def test_without_the_category_map_the_rule_never_passes_what_it_cannot_see(settings_):
    """No category map: a pass stays a pass only if it did not rely on a group; otherwise error or fail."""
    with_map, without = judge(*settings_), judge(*settings_, groups=None)
    if without.status is Status.PASS:
        assert with_map.status is Status.PASS
    if with_map.status is Status.FAIL:
        assert without.status in {Status.FAIL, Status.ERROR}
