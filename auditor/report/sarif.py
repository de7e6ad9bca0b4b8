"""`scan --output sarif`: a SARIF 2.1.0 log for GitHub code scanning and Azure DevOps dashboards.

One rule (the control, every word from its definition in auditor/control/); one result per
cluster that needs attention: `fail` as level `error`, `error` (settings unreadable) as level
`warning`. Passing and exempt clusters produce no result, which is how code scanning learns
that an alert was fixed.

The run names its tool with a version and carries `automationDetails.id`, which Azure DevOps
Advanced Security requires and GitHub code scanning reads as the analysis category; Microsoft's
SARIF multitool checks both services' rules in tests/test_report_formats.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from auditor import __version__
from auditor.attribution import sentence
from auditor.control import AppliedControl, Control
from auditor.inert import shown
from auditor.model import Finding, Severity, Status
from auditor.report.document import ScanResult, reading_order
from auditor.resource_id import resource_key

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "aks-audit-auditor"
FINGERPRINT_KEY = "azureResourceIdHash/v1"

_LEVELS = (
    "A result of level *warning* means the auditor could not read the cluster's settings (the message says "
    "why, for example a missing **Reader** role); the verdict is unknown, never assumed."
)


def _rule(applied: AppliedControl) -> dict[str, Any]:
    """The control as a SARIF rule, every word from its definition; a fresh dict per log."""
    control = applied.control
    heading = (
        f'**{control.benchmark}, {control.item} "{control.title}" '
        f"(Kubescape {control.id}, severity {control.severity})**"
    )
    markdown = "\n\n".join(
        (
            heading,
            f"{applied.requirement()} {applied.rationale()}",
            f"**Remediation.** {applied.fix()} For example, to Log Analytics with resource-specific tables:",
            f"```sh\n{applied.fix_command()}\n```",
            _LEVELS,
        )
    )
    return {
        "id": control.id,
        "name": control.rule_name,
        "shortDescription": {"text": control.title},
        "fullDescription": {"text": f"{control.label}: {applied.requirement()}"},
        "help": {"text": f"{applied.fix()} For example: {applied.fix_command()}", "markdown": markdown},
        "helpUri": control.help_url,
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "tags": ["security", f"{control.benchmark} {control.item}", *_attack_tags(control)],
            "security-severity": control.security_severity,
            "profile": applied.profile,
            "requiredCategories": list(applied.categories),
            **_attack(control),
        },
    }


def _attack_tags(control: Control) -> list[str]:
    """GitHub shows tags as filters: the ATT&CK technique by its ID and in the external/ form."""
    technique = control.attack_technique
    return [f"external/mitre-attack/{technique.lower()}", technique] if technique else []


def _attack(control: Control) -> dict[str, str]:
    if not control.attack_technique:
        return {}
    return {"attackTechnique": control.attack_technique, "attackTechniqueName": control.attack_technique_name}


def render_sarif(result: ScanResult, pipeline: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The SARIF log as a dict, ready for json.dumps.

    `executionSuccessful` is false when some cluster's settings could not be read: the run
    finished, but its picture of the tenant is incomplete. `pipeline` (pipeline_run()) names the
    Azure Pipelines run that produced the log, when there is one.
    """
    findings = sorted(
        (f for f in result.findings if f.status in (Status.FAIL, Status.ERROR)),
        key=reading_order,
    )
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "fullName": f"{TOOL_NAME} {__version__}",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": result.control.control.help_url,
                        "rules": [_rule(result.control)],
                    }
                },
                "automationDetails": dict(pipeline) if pipeline else {"id": automation_id(result)},
                "invocations": [
                    {
                        "executionSuccessful": not any(f.status is Status.ERROR for f in result.findings),
                        "endTimeUtc": _utc(result),
                    }
                ],
                "results": [_result(finding, result.control.control.id) for finding in findings],
            }
        ],
    }


def automation_id(result: ScanResult) -> str:
    """`aks-audit-auditor/C-0254/cis/2026-11-26T21:00:00Z`: the analysis category, then this run.

    The part before the last `/` is the run's category, the rest identifies the run within it
    (SARIF 2.1.0 §3.17.3, runAutomationDetails.id). Code scanning tells analyses of one commit
    apart by category, a later upload superseding an earlier one of its category
    (docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning),
    so the category stays the same from scan to scan: tool, control and profile (another profile
    requires other categories, so it is another analysis). The scan time tells the runs apart.
    """
    applied = result.control
    return f"{TOOL_NAME}/{applied.control.id}/{applied.profile}/{_utc(result)}"


def pipeline_run(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The identity Azure DevOps Advanced Security attaches a log by (the multitool's rules GHAzDO1019,
    GHAzDO1020): `azuredevops/pipeline/build/<org>/<project>/<definition>/<phase>/<branch>/<build>` and
    the definition's and phase's names, from Azure Pipelines' predefined variables. None outside a
    pipeline run (or when one of them is missing)."""
    values = {name: environ.get(name, "").strip() for name in _PIPELINE_VARIABLES}
    if not all(values.values()):
        return None
    collection = urlsplit(values["SYSTEM_COLLECTIONURI"])
    host, path = (collection.hostname or "").lower(), collection.path.strip("/")
    # https://dev.azure.com/<org>/ or the older https://<org>.visualstudio.com/
    organization = path.split("/")[0] if host == "dev.azure.com" else host.split(".")[0]
    if not organization:
        return None
    run = "/".join(
        [
            "azuredevops/pipeline/build",
            organization,
            values["SYSTEM_TEAMPROJECT"],
            values["SYSTEM_DEFINITIONID"],
            values["SYSTEM_PHASEID"],
            values["BUILD_SOURCEBRANCH"],
            values["BUILD_BUILDID"],
        ]
    )
    prefix = "azuredevops/pipeline/build"
    return {
        "id": run,
        "properties": {
            f"{prefix}/buildDefinitionId": values["SYSTEM_DEFINITIONID"],
            f"{prefix}/buildDefinitionName": values["BUILD_DEFINITIONNAME"],
            f"{prefix}/phaseId": values["SYSTEM_PHASEID"],
            f"{prefix}/phaseName": values["SYSTEM_PHASENAME"],
        },
    }


# Azure Pipelines' predefined variables (Azure DevOps docs, "Use predefined variables"), as the
# agent exposes them to a script: upper case, dots as underscores.
_PIPELINE_VARIABLES = (
    "SYSTEM_COLLECTIONURI",
    "SYSTEM_TEAMPROJECT",
    "SYSTEM_DEFINITIONID",
    "BUILD_DEFINITIONNAME",
    "SYSTEM_PHASEID",
    "SYSTEM_PHASENAME",
    "BUILD_SOURCEBRANCH",
    "BUILD_BUILDID",
)


def _utc(result: ScanResult) -> str:
    return result.scanned_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def fingerprint(resource_id: str) -> str:
    """SHA-256 of the case-folded resource ID: ARM returns IDs in varying case between calls."""
    return hashlib.sha256(resource_key(resource_id).encode("utf-8", "surrogatepass")).hexdigest()


def artifact_uri(resource_id: str) -> str:
    """The resource ID as a relative URI reference, e.g. `subscriptions/…/managedClusters/aks1`.

    SARIF locations must be URIs and code scanning anchors an alert to a path; a cluster has
    no file, so its ID (leading slash dropped, so no viewer takes it for an absolute path on
    the build machine) stands in. Each segment is percent-encoded: resource group names may
    hold parentheses and other characters a URI reference cannot carry raw (and a hostile answer a
    lone surrogate, which UTF-8 cannot encode: surrogatepass, here and in the fingerprint).
    """
    return "/".join(
        quote(segment, safe="", errors="surrogatepass") for segment in resource_id.strip().strip("/").split("/")
    )


def _result(exact: Finding, rule_id: str) -> dict[str, Any]:
    """Viewers render a result's text, so text from Azure is inert in it (auditor/inert.py); the location
    and the fingerprint keep the exact ID (percent-encoded in the URI, hashed in the fingerprint)."""
    finding = shown(exact)
    return {
        "ruleId": rule_id,
        "ruleIndex": 0,
        "level": "error" if finding.status is Status.FAIL else "warning",
        "message": {"text": _message(finding)},
        "locations": [
            {
                # Code scanning needs a start line to place an alert; a cluster has no lines.
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(exact.resource_id)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {"name": finding.name, "fullyQualifiedName": finding.resource_id, "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(exact.resource_id)},
        "properties": {
            **_severity(finding),
            "status": str(finding.status),
            "subscriptionId": finding.subscription_id,
            "resourceGroup": finding.resource_group,
            "location": finding.location,
            "missingCategories": list(finding.missing_categories),
            "reasons": list(finding.reasons),
            "portalUrl": finding.portal_url,
            **({"change": finding.change.to_json()} if finding.change is not None else {}),
        },
    }


# A result's severity as code scanning's CVSS-like scale reads it (high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9).
_SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.0", Severity.LOW: "2.0"}


def _severity(finding: Finding) -> dict[str, str]:
    if finding.severity is None:
        return {}
    return {"severity": str(finding.severity), "security-severity": _SECURITY_SEVERITY[finding.severity]}


def _message(finding: Finding) -> str:
    reasons = "; ".join(finding.reasons)
    if not finding.resource_group:  # a subscription whose clusters could not be listed
        return f"Could not read subscription {finding.name} ({finding.subscription_id}): {reasons}"
    cluster = (
        f"AKS cluster {finding.name} (resource group {finding.resource_group}, subscription {finding.subscription_id})"
    )
    if finding.status is Status.ERROR:
        return f"Could not read the diagnostic settings of {cluster}, so its audit logging is unknown: {reasons}"
    missing = ", ".join(finding.missing_categories) or "its audit logs"
    who = sentence(finding, None)
    return f"{cluster} does not export {missing}: {reasons}" + (f" ({who})" if who else "")
