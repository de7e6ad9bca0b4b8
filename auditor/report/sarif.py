"""`scan --output sarif`: a SARIF 2.1.0 log for GitHub code scanning and Azure DevOps dashboards.

One rule (C-0254); one result per cluster that needs attention: `fail` as level `error`,
`error` (settings unreadable) as level `warning`. Passing and exempt clusters produce no
result, which is how code scanning learns that an alert was fixed.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from auditor.model import Finding, Status
from auditor.report.document import CONTROL, ScanResult, reading_order
from auditor.resource_id import resource_key

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "aks-audit-auditor"
HELP_URI = "https://hub.armosec.io/docs/c-0254"
FINGERPRINT_KEY = "azureResourceIdHash/v1"

_REMEDIATION_MARKDOWN = """\
**CIS AKS Benchmark v1.2.0, 2.1.1 "Enable audit Logs" (Kubescape C-0254, severity Medium)**

The Kubernetes API server of an AKS cluster writes audit logs (`kube-audit`, `kube-audit-admin`),
but Azure keeps them only when a *diagnostic setting* of the cluster exports them to a persistent
store: a Log Analytics workspace, a storage account or a partner solution. AKS exports nothing by
default, so without one there is no record of who did what in the cluster.

**Remediation.** Add a diagnostic setting that exports the missing categories, for example to
Log Analytics with resource-specific tables (`AKSAudit`, `AKSAuditAdmin`):

```sh
az monitor diagnostic-settings create --name aks-audit-logs \\
  --resource <cluster resource ID> --workspace <Log Analytics workspace resource ID> \\
  --export-to-resource-specific true \\
  --logs '[{"category": "kube-audit", "enabled": true}, {"category": "kube-audit-admin", "enabled": true}]'
```

Or in the portal: the cluster, *Monitoring* > *Diagnostic settings* > *Add diagnostic setting*,
tick `kube-audit` and `kube-audit-admin` (or the `audit` category group), choose a destination,
save. A category group that contains the categories (`audit`, `allLogs`) counts as well, and
the categories may be split between settings. Event Hubs alone do not count: they keep data for
days, not as a persistent store.

A result of level *warning* means the auditor could not read the cluster's settings (the message
says why, for example a missing **Reader** role); the verdict is unknown, never assumed.
"""


def _rule() -> dict[str, Any]:
    """A fresh copy per log, so a caller editing the returned dict cannot change the next one."""
    return {
        "id": CONTROL["id"],
        "name": "EnableAuditLogs",
        "shortDescription": {"text": CONTROL["title"]},
        "fullDescription": {
            "text": (
                "CIS AKS Benchmark v1.2.0, 2.1.1 (Kubescape C-0254): each AKS cluster must export its "
                "control-plane audit logs (kube-audit, kube-audit-admin) through an Azure diagnostic "
                "setting to a persistent store (Log Analytics workspace, storage account or partner solution)."
            )
        },
        "help": {
            "text": (
                "Add a diagnostic setting to the cluster that exports the kube-audit and kube-audit-admin "
                "log categories (or a category group containing them, such as audit or allLogs) to a Log "
                "Analytics workspace, a storage account or a partner solution, for example: az monitor "
                "diagnostic-settings create --name aks-audit-logs --resource <cluster ID> --workspace "
                "<workspace ID> --export-to-resource-specific true --logs "
                '\'[{"category": "kube-audit", "enabled": true}, {"category": "kube-audit-admin", "enabled": true}]\''
            ),
            "markdown": _REMEDIATION_MARKDOWN,
        },
        "helpUri": HELP_URI,
        "defaultConfiguration": {"level": "error"},
        "properties": {
            "tags": ["security", f"{CONTROL['benchmark']} {CONTROL['item']}"],
            "security-severity": "5.0",
        },
    }


def render_sarif(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a dict, ready for json.dumps.

    `executionSuccessful` is false when some cluster's settings could not be read: the run
    finished, but its picture of the tenant is incomplete.
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
                "tool": {"driver": {"name": TOOL_NAME, "informationUri": HELP_URI, "rules": [_rule()]}},
                "invocations": [
                    {
                        "executionSuccessful": not any(f.status is Status.ERROR for f in result.findings),
                        "endTimeUtc": result.scanned_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ],
                "results": [_result(finding) for finding in findings],
            }
        ],
    }


def fingerprint(resource_id: str) -> str:
    """SHA-256 of the case-folded resource ID: ARM returns IDs in varying case between calls."""
    return hashlib.sha256(resource_key(resource_id).encode("utf-8")).hexdigest()


def artifact_uri(resource_id: str) -> str:
    """The resource ID as a relative URI reference, e.g. `subscriptions/…/managedClusters/aks1`.

    SARIF locations must be URIs and code scanning anchors an alert to a path; a cluster has
    no file, so its ID (leading slash dropped, so no viewer takes it for an absolute path on
    the build machine) stands in. Each segment is percent-encoded: resource group names may
    hold parentheses and other characters a URI reference cannot carry raw.
    """
    return "/".join(quote(segment, safe="") for segment in resource_id.strip().strip("/").split("/"))


def _result(finding: Finding) -> dict[str, Any]:
    return {
        "ruleId": CONTROL["id"],
        "ruleIndex": 0,
        "level": "error" if finding.status is Status.FAIL else "warning",
        "message": {"text": _message(finding)},
        "locations": [
            {
                # Code scanning needs a start line to place an alert; a cluster has no lines.
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(finding.resource_id)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {"name": finding.name, "fullyQualifiedName": finding.resource_id, "kind": "resource"}
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding.resource_id)},
        "properties": {
            "status": str(finding.status),
            "subscriptionId": finding.subscription_id,
            "resourceGroup": finding.resource_group,
            "location": finding.location,
            "missingCategories": list(finding.missing_categories),
            "reasons": list(finding.reasons),
            "portalUrl": finding.portal_url,
        },
    }


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
    return f"{cluster} does not export {missing}: {reasons}"
