"""Fixes to paste: the diagnostic setting a failing cluster lacks, in the owner's language. Pure.

A cluster kept in infrastructure as code is fixed there or not for long: the next deployment
undoes a change made beside it. So a failing finding carries the one setting that makes it pass
in the three forms owners keep clusters in: an `az monitor diagnostic-settings create` command
(for a POSIX shell), a Bicep file and a Terraform `azurerm_monitor_diagnostic_setting`. Each
creates the setting AUDITOR_REMEDIATION_SETTING_NAME with exactly the missing categories, sent
to AUDITOR_REMEDIATION_WORKSPACE_ID in resource-specific tables, as remediation creates it.
Without a configured workspace each asks for one (`$WORKSPACE_ID`, `param workspaceId`,
`variable "log_analytics_workspace_id"`) rather than name a workspace that does not exist.

Always categories, never a category group: ARM refuses the two mixed in one setting, and which
categories a group holds is the cluster type's answer (AKS's `audit` holds `guard` as well), not
the finding's, so a group would export more than was asked for, or less.

A finding gets none where a paste cannot be right: anything but a `fail` with missing
categories; a failure remediation fixed; an ID with non-ASCII characters (Azure diagnostic
settings do not support the resource); a cluster that already has a setting of that name
(creating one writes it whole, so the paste would drop what that setting holds).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import replace

from auditor.control import join_names, logs_argument
from auditor.control.c0254 import C0254
from auditor.model import Finding, Fixes, Status
from auditor.remediation import DESTINATION_TYPE

# GA, checked against Azure/bicep-types-az generated/containerservice/microsoft.containerservice/2024-09-01.
CLUSTER_API_VERSION = "2024-09-01"
SETTING_API_VERSION = "2021-05-01-preview"  # the newest diagnosticSettings API; remediation writes with it too
WORKSPACE_SHELL = "WORKSPACE_ID"
WORKSPACE_PARAMETER = "workspaceId"
WORKSPACE_VARIABLE = "log_analytics_workspace_id"
_WORKSPACE_HELP = "Resource ID of the Log Analytics workspace that keeps the cluster's audit logs"
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_-]")  # a Terraform label is [A-Za-z_][A-Za-z0-9_-]*


def attach(finding: Finding, setting_name: str, workspace_id: str) -> Finding:
    """The finding with its fixes; unchanged when none applies."""
    fixes = fixes_for(finding, setting_name, workspace_id)
    return finding if fixes is None else replace(finding, fixes=fixes)


def fixes_for(finding: Finding, setting_name: str, workspace_id: str) -> Fixes | None:
    """The three fixes for a failing finding; `workspace_id` "" means the owner supplies it."""
    if finding.status is not Status.FAIL or not finding.missing_categories:
        return None
    if (finding.remediation and finding.remediation.fixed) or not finding.resource_id.isascii():
        return None
    if any(evidence.setting.lower() == setting_name.lower() for evidence in finding.evidence):
        return None
    return Fixes(
        _az(finding, setting_name, workspace_id),
        _bicep(finding, setting_name, workspace_id),
        _terraform(finding, setting_name, workspace_id),
    )


def _az(finding: Finding, setting_name: str, workspace_id: str) -> str:
    return C0254.fix_command.format(
        name=shlex.quote(setting_name),
        resource=shlex.quote(finding.resource_id),
        workspace=shlex.quote(workspace_id) if workspace_id else f'"${WORKSPACE_SHELL}"',
        logs=logs_argument(finding.missing_categories),
    )


def _bicep(finding: Finding, setting_name: str, workspace_id: str) -> str:
    where = ("--subscription", finding.subscription_id, "--resource-group", finding.resource_group)
    deploy = f"az deployment group create {shlex.join(where)} --template-file audit-logs.bicep"
    lines = [
        f"// {_comment(_purpose(finding))}",
        "// Deploy it to the cluster's resource group, which the existing cluster is looked up in:",
        f"//   {_comment(deploy)}",
        "targetScope = 'resourceGroup'",
        "",
    ]
    if not workspace_id:
        lines += [f"@description({_bicep_string(_WORKSPACE_HELP)})", f"param {WORKSPACE_PARAMETER} string", ""]
    logs = [
        line
        for category in finding.missing_categories
        for line in ("      {", f"        category: {_bicep_string(category)}", "        enabled: true", "      }")
    ]
    lines += [
        f"resource cluster 'Microsoft.ContainerService/managedClusters@{CLUSTER_API_VERSION}' existing = {{",
        f"  name: {_bicep_string(finding.name)}",
        "}",
        "",
        f"resource auditLogs 'Microsoft.Insights/diagnosticSettings@{SETTING_API_VERSION}' = {{",
        f"  name: {_bicep_string(setting_name)}",
        "  scope: cluster",
        "  properties: {",
        f"    workspaceId: {_bicep_string(workspace_id) if workspace_id else WORKSPACE_PARAMETER}",
        f"    logAnalyticsDestinationType: {_bicep_string(DESTINATION_TYPE)}",
        "    logs: [",
        *logs,
        "    ]",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _terraform(finding: Finding, setting_name: str, workspace_id: str) -> str:
    label = "audit_logs_" + _NOT_LABEL.sub("_", f"{finding.resource_group}_{finding.name}")
    lines = [f"# {_comment(_purpose(finding))} Needs azurerm 3.39 or later (enabled_log).", ""]
    if not workspace_id:
        lines += [
            f'variable "{WORKSPACE_VARIABLE}" {{',
            "  type        = string",
            f"  description = {_hcl_string(_WORKSPACE_HELP)}",
            "}",
            "",
        ]
    workspace = _hcl_string(workspace_id) if workspace_id else f"var.{WORKSPACE_VARIABLE}"
    logs = [
        line
        for category in finding.missing_categories
        for line in ("", "  enabled_log {", f"    category = {_hcl_string(category)}", "  }")
    ]
    lines += [
        f'resource "azurerm_monitor_diagnostic_setting" "{label}" {{',
        f"  name                           = {_hcl_string(setting_name)}",
        f"  target_resource_id             = {_hcl_string(finding.resource_id)}",
        f"  log_analytics_workspace_id     = {workspace}",
        f"  log_analytics_destination_type = {_hcl_string(DESTINATION_TYPE)}",
        *logs,
        "}",
    ]
    return "\n".join(lines) + "\n"


def _purpose(finding: Finding) -> str:
    return f"{C0254.label}: exports {join_names(finding.missing_categories)} of AKS cluster {finding.name}."


def _comment(text: str) -> str:
    """Text for a one-line comment: nothing in it can end the line."""
    return " ".join("".join(char if char.isprintable() else " " for char in text).split())


def _bicep_string(value: str) -> str:
    """A single-quoted Bicep string: `'` and `$` (which could open `${`) escaped, `\\` and the unprintable as
    \\u{X}. (`\\\\` is as right, but pycep-parser, which checkov scans Bicep with, misreads it before a quote.)"""
    return "'" + _escaped(value, {"'": "\\'", "$": "\\$", "\\": "\\u{5C}"}, lambda code: f"\\u{{{code:X}}}") + "'"


def _hcl_string(value: str) -> str:
    """A quoted HCL string: `\\` and `"` escaped, `${` and `%{` doubled so they stay text, the unprintable as \\u."""
    text = _escaped(
        value, {"\\": "\\\\", '"': '\\"'}, lambda code: f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}"
    )
    return '"' + text.replace("${", "$${").replace("%{", "%%{") + '"'


def _escaped(value: str, escapes: dict[str, str], unprintable: Callable[[int], str]) -> str:
    return "".join(escapes.get(char) or (char if char.isprintable() else unprintable(ord(char))) for char in value)
