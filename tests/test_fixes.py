"""Fixes to paste (auditor/fixes.py), read back the way the tools read them: the az command split as a POSIX
shell splits it (shlex, and bash itself) and checked against the Azure CLI's own argument list, the Bicep file
parsed with pycep-parser as tests/test_infra.py parses infra/, the Terraform block with python-hcl2; and the
setting they describe, written into the simulation under ARM's rules, makes the cluster pass."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions
from hypothesis import given, settings
from hypothesis import strategies as st
from pycep import BicepParser  # pycep-parser (requirements-dev.txt): the Bicep parser checkov uses
from support import WORKSPACE, scan_json

from auditor import fixes
from auditor.fixes import CLUSTER_API_VERSION, SETTING_API_VERSION, fixes_for
from auditor.model import (
    Cluster,
    DiagnosticSetting,
    Finding,
    Fixes,
    LogEntry,
    Remediation,
    RemediationAction,
    RemediationMode,
    RemediationResult,
    Status,
)
from auditor.rule import evaluate, unreadable
from auditor.settings import Settings
from azsim.categories import LOG_CATEGORIES
from azsim.samples import demo_tenant

ROOT = Path(__file__).resolve().parents[1]
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
TODAY = date(2026, 11, 26)
POLICY = Settings().policy()  # the defaults: both audit categories, workspace/storage/partner
SETTING = "aks-audit-logs"
MANAGED_CLUSTERS = "Microsoft.ContainerService/managedClusters"

# `az monitor diagnostic-settings create` as the Azure CLI defines it (repository Azure/azure-cli):
# src/azure-cli/azure/cli/command_modules/monitor/aaz/latest/monitor/diagnostic_settings/_create.py registers
# -n/--name and --resource (both required), --event-hub, --event-hub-rule, --logs (a JSON list of objects with
# category, category-group, enabled (required) and retention-policy), --marketplace-partner-id, --metrics,
# --storage-account and --workspace; src/azure-cli/azure/cli/command_modules/monitor/operations/latest/monitor/
# diagnostic_settings/_create.py adds the target-resource group (-g/--resource-group, --resource-namespace,
# --resource-parent, --resource-type) and --export-to-resource-specific ("Allowed values: false, true"; it sets
# logAnalyticsDestinationType Dedicated and needs --workspace), and unregisters --log-analytics-destination-type
# and --service-bus-rule-id. The same list: https://learn.microsoft.com/cli/azure/monitor/diagnostic-settings
AZ_COMMAND = ["az", "monitor", "diagnostic-settings", "create"]
AZ_FLAGS = {
    "-n",
    "--name",
    "--resource",
    "-g",
    "--resource-group",
    "--resource-namespace",
    "--resource-parent",
    "--resource-type",
    "--event-hub",
    "--event-hub-rule",
    "--export-to-resource-specific",
    "--logs",
    "--marketplace-partner-id",
    "--metrics",
    "--storage-account",
    "--workspace",
}
AZ_REQUIRED = {"--name", "--resource"}
AZ_BOOLEAN_VALUES = {"false", "true"}
AZ_LOG_ENTRY_KEYS = {"category", "category-group", "enabled", "retention-policy"}


def cluster(group: str = "rg-orders-prod", name: str = "aks-orders-prod-weu", subscription: str = SUB) -> Cluster:
    resource_id = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{MANAGED_CLUSTERS}/{name}"
    return Cluster(resource_id, name, subscription, group, "westeurope")


def setting(name: str, *categories: str, workspace_id: str = WORKSPACE) -> DiagnosticSetting:
    return DiagnosticSetting(name, tuple(LogEntry(category, None, True) for category in categories), workspace_id)


def failing(target: Cluster | None = None, *present: DiagnosticSetting) -> Finding:
    """A failing finding the real rule made."""
    finding = evaluate(target or cluster(), present, None, POLICY, TODAY)
    assert finding.status is Status.FAIL
    return finding


def hostile(name: str, group: str, missing: tuple[str, ...] = ("kube-audit", "kube-audit-admin")) -> Finding:
    """A finding as given, names Azure would never allow included: the fixes must escape, not assume."""
    target = cluster(group, name)
    return Finding(
        target.resource_id, SUB, group, name, "westeurope", Status.FAIL, missing, ("missing",), (), "https://x"
    )


def made(finding: Finding, workspace: str = WORKSPACE, setting_name: str = SETTING) -> Fixes:
    found = fixes_for(finding, setting_name, workspace)
    assert found is not None
    return found


# ------------------------------------------------------------------------------ reading the fixes back


def az_call(command: str) -> dict[str, str]:
    """The command's flags and values as a POSIX shell splits it, checked against the CLI's arguments."""
    words = shlex.split(command)
    assert words[: len(AZ_COMMAND)] == AZ_COMMAND
    arguments = words[len(AZ_COMMAND) :]
    flags, values = arguments[::2], arguments[1::2]
    assert len(flags) == len(values), arguments  # every flag of this command takes a value
    assert set(flags) <= AZ_FLAGS, set(flags) - AZ_FLAGS
    assert len(set(flags)) == len(flags)
    call = dict(zip(flags, values, strict=True))
    assert set(call) >= AZ_REQUIRED
    assert call["--export-to-resource-specific"] in AZ_BOOLEAN_VALUES
    assert "--workspace" in call  # --export-to-resource-specific needs it
    entries = json.loads(call["--logs"])
    assert all(set(entry) <= AZ_LOG_ENTRY_KEYS and entry["enabled"] is True for entry in entries)
    return call


def az_setting(command: str) -> dict[str, Any]:
    """What the CLI would PUT: name, target and properties (operations/.../_create.py pre_operations)."""
    call = az_call(command)
    properties = {"workspaceId": call["--workspace"], "logs": json.loads(call["--logs"])}
    if call["--export-to-resource-specific"] == "true":
        properties["logAnalyticsDestinationType"] = "Dedicated"
    return {"name": call["--name"], "target": call["--resource"], "properties": properties}


def bash_words(command: str, environment: dict[str, str]) -> list[str]:
    """The words bash passes to `az` (a function standing in for the CLI), the environment's variables expanded."""
    script = f"az() {{ printf '%s\\0' \"$@\"; }}\n{command}\n"
    ran = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env=environment)
    return ["az", *ran.stdout.decode().split("\0")[:-1]]


_BICEP_ESCAPES = {"\\": "\\", "'": "'", "n": "\n", "r": "\r", "t": "\t", "$": "$"}


def bicep_value(raw: str) -> str:
    """A Bicep string's value from the text between its quotes (pycep keeps escapes as written), by the
    language's rules: \\\\ \\' \\n \\r \\t \\$ \\u{hex}; an unescaped `${` would be an interpolation."""
    value, index = [], 0
    while index < len(raw):
        char = raw[index]
        assert raw[index : index + 2] != "${", f"interpolation in {raw!r}"
        assert char.isprintable(), f"raw {char!r} in a single-line string"
        if char != "\\":
            value.append(char)
            index += 1
            continue
        if unicode := re.match(r"u\{([0-9A-Fa-f]{1,6})\}", raw[index + 1 :]):
            value.append(chr(int(unicode[1], 16)))
            index += 1 + unicode.end()
            continue
        value.append(_BICEP_ESCAPES[raw[index + 1]])
        index += 2
    return "".join(value)


def bicep_document(text: str, tmp_path: Path) -> dict[str, Any]:
    """Parsed exactly as tests/test_infra.py parses infra/: BicepParser, from a file."""
    path = tmp_path / "audit-logs.bicep"
    path.write_text(text, encoding="utf-8")
    return BicepParser().parse(file_path=path)


def bicep_setting(text: str, tmp_path: Path) -> dict[str, Any]:
    """The setting the Bicep file deploys, and the cluster it is scoped to, read from the parse."""
    document = bicep_document(text, tmp_path)
    assert document["globals"]["scope"]["value"] == "resourceGroup"
    resources = document["resources"]
    assert set(resources) == {"cluster", "auditLogs"}
    target, logs = resources["cluster"], resources["auditLogs"]
    assert (target["type"], target["api_version"], target["existing"]) == (
        "Microsoft.ContainerService/managedClusters",
        CLUSTER_API_VERSION,
        True,
    )
    assert (logs["type"], logs["api_version"], logs["existing"]) == (
        "Microsoft.Insights/diagnosticSettings",
        SETTING_API_VERSION,
        False,
    )
    config = logs["config"]
    assert config["scope"] == "cluster"
    properties = config["properties"]
    workspace = properties["workspaceId"]
    if workspace == "workspaceId":  # the parameter: declared, a string, and said what it is
        parameter = document["parameters"]["workspaceId"]
        assert parameter["type"] == "string"
        assert [d["type"] for d in parameter["decorators"]] == ["description"]
    else:
        assert "parameters" not in document or not document["parameters"]
        workspace = bicep_value(workspace)
    return {
        "name": bicep_value(config["name"]),
        "cluster": bicep_value(target["config"]["name"]),
        "properties": {
            "workspaceId": workspace,
            "logs": [
                {"category": bicep_value(entry["category"]), "enabled": entry["enabled"]}
                for entry in properties["logs"]
            ],
            "logAnalyticsDestinationType": bicep_value(properties["logAnalyticsDestinationType"]),
        },
    }


def hcl_value(stripped: str) -> str:
    """python-hcl2 resolves a string's backslash escapes but keeps the escaped `$${` and `%%{` as written."""
    return stripped.replace("$${", "${").replace("%%{", "%{")


def terraform_setting(text: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(label, the resource's attributes, the variables declared), parsed by python-hcl2."""
    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    document = hcl2.loads(text, serialization_options=options)
    [resources] = document["resource"]
    [(kind, blocks)] = resources.items()
    assert kind == "azurerm_monitor_diagnostic_setting"
    [(label, block)] = blocks.items()
    assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", label)
    assert set(block) == {
        "name",
        "target_resource_id",
        "log_analytics_workspace_id",
        "log_analytics_destination_type",
        "enabled_log",
    }
    variables = {name: body for entry in document.get("variable", []) for name, body in entry.items()}
    return label, block, variables


def terraform_fields(text: str) -> dict[str, Any]:
    _, block, variables = terraform_setting(text)
    workspace = block["log_analytics_workspace_id"]
    if workspace == "${var.log_analytics_workspace_id}":
        assert variables["log_analytics_workspace_id"]["type"] == "string"
        assert variables["log_analytics_workspace_id"]["description"]
        workspace = "workspaceId"
    else:
        assert variables == {}
        workspace = hcl_value(workspace)
    return {
        "name": hcl_value(block["name"]),
        "target": hcl_value(block["target_resource_id"]),
        "properties": {
            "workspaceId": workspace,
            "logs": [{"category": hcl_value(entry["category"]), "enabled": True} for entry in block["enabled_log"]],
            "logAnalyticsDestinationType": hcl_value(block["log_analytics_destination_type"]),
        },
    }


# ------------------------------------------------------------------------------ the three fixes


def test_the_az_command_uses_only_the_clis_documented_arguments_and_the_missing_categories():
    finding = failing(cluster(), setting("control-plane", "kube-audit"))
    call = az_call(made(finding).az)
    assert call == {
        "--name": SETTING,
        "--resource": finding.resource_id,
        "--workspace": WORKSPACE,
        "--export-to-resource-specific": "true",
        "--logs": '[{"category": "kube-audit-admin", "enabled": true}]',
    }


def test_the_bicep_file_declares_the_existing_cluster_and_the_setting_scoped_to_it(tmp_path: Path):
    finding = failing(cluster(), setting("control-plane", "kube-audit"))
    text = made(finding).bicep
    assert bicep_setting(text, tmp_path) == {
        "name": SETTING,
        "cluster": "aks-orders-prod-weu",
        "properties": {
            "workspaceId": WORKSPACE,
            "logs": [{"category": "kube-audit-admin", "enabled": True}],
            "logAnalyticsDestinationType": "Dedicated",
        },
    }
    # It says where it goes, with the command that puts it there.
    assert "// Deploy it to the cluster's resource group" in text
    assert f"az deployment group create --subscription {SUB} --resource-group rg-orders-prod" in text


def test_the_cluster_api_version_is_a_stable_one_and_the_setting_api_the_one_remediation_writes_with():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", CLUSTER_API_VERSION)  # no -preview
    remediator = (ROOT / "auditor" / "azure" / "remediator.py").read_text()
    assert f"azure.mgmt.monitor.v{SETTING_API_VERSION.replace('-', '_')}.models import" in remediator


def test_the_terraform_block_has_the_setting_and_one_enabled_log_per_missing_category():
    finding = failing(cluster())
    label, block, variables = terraform_setting(made(finding).terraform)
    assert label == "audit_logs_rg-orders-prod_aks-orders-prod-weu"
    assert variables == {}
    assert block == {
        "name": SETTING,
        "target_resource_id": finding.resource_id,
        "log_analytics_workspace_id": WORKSPACE,
        "log_analytics_destination_type": "Dedicated",
        "enabled_log": [{"category": "kube-audit"}, {"category": "kube-audit-admin"}],
    }


def test_without_a_workspace_each_fix_asks_for_one_and_names_none(tmp_path: Path):
    found = made(failing(), workspace="")
    assert az_call(found.az)["--workspace"] == "$WORKSPACE_ID"
    assert bicep_setting(found.bicep, tmp_path)["properties"]["workspaceId"] == "workspaceId"
    assert terraform_fields(found.terraform)["properties"]["workspaceId"] == "workspaceId"
    for text in (found.az, found.bicep, found.terraform):
        assert "Microsoft.OperationalInsights" not in text


def test_the_shell_expands_the_workspace_variable_and_passes_every_value_whole():
    finding = hostile("aks-(x).y", "rg-(prod).eu")
    workspace = "/subscriptions/x/resourceGroups/rg logs/providers/Microsoft.OperationalInsights/workspaces/la"
    words = bash_words(made(finding, workspace="").az, {"WORKSPACE_ID": workspace, "PATH": "/usr/bin:/bin"})
    assert words == [*shlex.split(made(finding, workspace=workspace).az)]
    assert az_call(shlex.join(words))["--workspace"] == workspace
    assert az_call(shlex.join(words))["--resource"] == finding.resource_id


def test_the_three_fixes_describe_one_setting(tmp_path: Path):
    finding = failing(cluster(), setting("control-plane", "kube-audit"))
    found = made(finding)
    from_az = az_setting(found.az)
    from_bicep = bicep_setting(found.bicep, tmp_path)
    from_terraform = terraform_fields(found.terraform)
    assert from_az["properties"] == from_bicep["properties"] == from_terraform["properties"]
    assert from_az["name"] == from_bicep["name"] == from_terraform["name"] == SETTING
    assert from_az["target"] == from_terraform["target"] == finding.resource_id
    assert from_bicep["cluster"] == finding.name


HOSTILE = [
    pytest.param("aks-o'brien.(x)", "rg-(prod).eu's", SETTING, id="quote-parentheses-dot"),
    pytest.param("aks-${var.x}-%{if y}", "rg-$${z}-%%{w}", 'it\'s "ours" \\ ${x}', id="interpolation-and-quotes"),
    pytest.param("aks\nresource evil 'x' = {}\n// ", "rg\r\n# evil", "a\tb", id="line-breaks"),
]


@pytest.mark.parametrize(("name", "group", "setting_name"), HOSTILE)
def test_hostile_names_round_trip_through_the_shell_bicep_and_terraform(
    name: str, group: str, setting_name: str, tmp_path: Path
):
    finding = hostile(name, group)
    found = made(finding, setting_name=setting_name)
    assert az_setting(found.az) == {
        "name": setting_name,
        "target": finding.resource_id,
        "properties": {
            "workspaceId": WORKSPACE,
            "logs": [{"category": "kube-audit", "enabled": True}, {"category": "kube-audit-admin", "enabled": True}],
            "logAnalyticsDestinationType": "Dedicated",
        },
    }
    assert bash_words(found.az, {"PATH": "/usr/bin:/bin"}) == shlex.split(found.az)
    deployed = bicep_setting(found.bicep, tmp_path)  # exactly two resources: nothing broke out of a string
    assert (deployed["name"], deployed["cluster"]) == (setting_name, name)
    assert deployed["properties"] == az_setting(found.az)["properties"]
    written = terraform_fields(found.terraform)
    assert (written["name"], written["target"]) == (setting_name, finding.resource_id)
    assert written["properties"] == az_setting(found.az)["properties"]


_CATEGORIES = sorted(LOG_CATEGORIES)  # the categories AKS offers


@settings(max_examples=60, deadline=None)
@given(
    missing=st.lists(st.sampled_from(_CATEGORIES), min_size=1, unique=True),
    name=st.text(st.characters(codec="ascii", exclude_characters="{}"), min_size=1, max_size=40),
)
def test_any_missing_categories_and_names_come_back_exactly(missing: list[str], name: str, tmp_path_factory):
    finding = hostile(name, "rg-x", tuple(missing))
    found = made(finding)
    expected = [{"category": category, "enabled": True} for category in missing]
    assert az_setting(found.az)["properties"]["logs"] == expected
    assert az_setting(found.az)["target"] == finding.resource_id
    deployed = bicep_setting(found.bicep, tmp_path_factory.mktemp("bicep"))
    assert (deployed["cluster"], deployed["properties"]["logs"]) == (name, expected)
    written = terraform_fields(found.terraform)
    assert (written["target"], written["properties"]["logs"]) == (finding.resource_id, expected)


def test_categories_are_listed_even_when_they_make_up_a_whole_group():
    """The cost-aware profile's kube-audit-admin and guard with kube-audit are AKS's `audit` group: still
    categories, since a group's members are the cluster type's answer and ARM refuses the two mixed."""
    found = made(hostile("aks-x", "rg-x", ("kube-audit", "kube-audit-admin", "guard")))
    assert [entry["category"] for entry in json.loads(az_call(found.az)["--logs"])] == [
        "kube-audit",
        "kube-audit-admin",
        "guard",
    ]
    assert "categoryGroup" not in found.bicep
    assert "category_group" not in found.terraform


# ------------------------------------------------------------------------------ which findings get fixes


def test_only_a_fail_with_missing_categories_gets_fixes():
    passing = evaluate(cluster(), [setting("audit", "kube-audit", "kube-audit-admin")], None, POLICY, TODAY)
    exempt = evaluate(dataclasses.replace(cluster(), tags={"aks-audit-exempt": "true"}), [], None, POLICY, TODAY)
    error = unreadable(cluster(), "forbidden (403)", POLICY, TODAY)
    assert (passing.status, exempt.status, error.status) == (Status.PASS, Status.EXEMPT, Status.ERROR)
    assert exempt.missing_categories  # exempt findings still list what is missing: no fix for them either
    for finding in (passing, exempt, error):
        assert fixes_for(finding, SETTING, WORKSPACE) is None
        assert fixes.attach(finding, SETTING, WORKSPACE) is finding
    assert fixes_for(dataclasses.replace(failing(), missing_categories=()), SETTING, WORKSPACE) is None
    assert fixes.attach(failing(), SETTING, WORKSPACE).fixes == made(failing())


def test_a_cluster_in_a_non_ascii_resource_group_gets_no_fixes():
    finding = failing(cluster("rg-münchen", "aks-analytics-muc"))
    assert "non-ASCII" in " ".join(finding.reasons)
    assert fixes_for(finding, SETTING, WORKSPACE) is None


def test_a_failure_remediation_fixed_gets_none_but_a_planned_one_keeps_them():
    def remediated(result: RemediationResult) -> Finding:
        record = Remediation(RemediationMode.APPLY, RemediationAction.CREATE, SETTING, ("kube-audit",), result)
        return dataclasses.replace(failing(), remediation=record)

    assert fixes_for(remediated(RemediationResult.APPLIED), SETTING, WORKSPACE) is None
    for result in (RemediationResult.PLANNED, RemediationResult.FAILED, RemediationResult.SKIPPED):
        assert fixes_for(remediated(result), SETTING, WORKSPACE) is not None


def test_a_cluster_that_has_a_setting_of_that_name_gets_none_since_creating_it_again_would_replace_it():
    finding = failing(cluster(), setting("AKS-Audit-Logs", "kube-audit", "kube-apiserver"))
    assert fixes_for(finding, SETTING, WORKSPACE) is None
    assert fixes_for(finding, "another-name", WORKSPACE) is not None


# ------------------------------------------------------------------------------ the finding carries them


def test_the_finding_json_carries_the_fixes_and_is_unchanged_without_them():
    finding = failing()
    without = finding.to_json()
    document = fixes.attach(finding, SETTING, WORKSPACE).to_json()
    assert "fixes" not in without
    assert document["fixes"] == {
        "az": made(finding).az,
        "bicep": made(finding).bicep,
        "terraform": made(finding).terraform,
    }
    assert list(document)[-2:] == ["fixes", "portalUrl"]
    assert {key: value for key, value in document.items() if key != "fixes"} == without
    assert list(without) == [key for key in document if key != "fixes"]


def test_a_scan_attaches_fixes_that_make_each_failing_cluster_pass_once_applied(simulate, monkeypatch):
    """End to end: the JSON's az fix, applied as the CLI would PUT it under ARM's rules, fixes the cluster."""
    tenant = demo_tenant()
    simulate(tenant)
    monkeypatch.setenv("AUDITOR_REMEDIATION_WORKSPACE_ID", WORKSPACE)
    _, document = scan_json()
    by_name = {finding["name"]: finding for finding in document["findings"]}
    failing_names = {name for name, finding in by_name.items() if finding["status"] == "fail"}
    with_fixes = {name for name, finding in by_name.items() if "fixes" in finding}
    assert with_fixes == failing_names - {"aks-analytics-muc"}  # non-ASCII: Azure cannot take a setting there
    for name in with_fixes:
        call = az_setting(by_name[name]["fixes"]["az"])
        assert call["properties"]["workspaceId"] == WORKSPACE
        target = tenant.find_cluster(call["target"])
        assert target is not None
        target.put_setting(call["name"], call["properties"])  # raises if ARM would refuse it
    _, after = scan_json()
    passing_now = {finding["name"] for finding in after["findings"] if finding["status"] == "pass"}
    assert with_fixes <= passing_now
    assert not any("fixes" in finding for finding in after["findings"] if finding["name"] in with_fixes)


def test_a_scan_without_a_configured_workspace_attaches_fixes_that_ask_for_one(simulate):
    simulate(demo_tenant())
    _, document = scan_json()
    orders = next(finding for finding in document["findings"] if finding["name"] == "aks-orders-prod-weu")
    assert az_call(orders["fixes"]["az"])["--workspace"] == "$WORKSPACE_ID"
    assert "param workspaceId string" in orders["fixes"]["bicep"]
    assert 'variable "log_analytics_workspace_id"' in orders["fixes"]["terraform"]
