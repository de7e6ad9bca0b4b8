"""CIS AKS Benchmark v1.2.0, 2.1.1 "Enable audit Logs" (Kubescape C-0254, severity Medium).

The CIS remediation text enables both kube-audit and kube-audit-admin: that is the `cis`
profile and the default. kube-audit records every request, reads included, and dominates the
monitoring bill of a busy cluster; PSRule for Azure (rules Azure.AKS.AuditLogs and
Azure.AKS.AuditAdmin) advises kube-audit-admin, which keeps every change but drops get and
list, together with guard (Entra ID and Azure RBAC decisions): that is `cost-aware`.
"""

from __future__ import annotations

from auditor.control import Control, Profile

C0254 = Control(
    id="C-0254",
    benchmark="CIS AKS 1.2.0",
    item="2.1.1",
    title="Enable audit Logs",
    rule_name="EnableAuditLogs",
    severity="Medium",
    security_severity="5.0",
    help_url="https://hub.armosec.io/docs/c-0254",
    event_type="AksAudit.C0254.FindingEvaluated",
    # Turning cloud audit logs off is ATT&CK T1562.008 (Impair Defenses: Disable or Modify Cloud Logs).
    attack_technique="T1562.008",
    attack_technique_name="Impair Defenses: Disable or Modify Cloud Logs",
    subject="AKS control-plane audit logs",
    requirement=(
        "Each AKS cluster must export its control-plane audit logs ({categories}) through an Azure diagnostic "
        "setting to a persistent store: a Log Analytics workspace, a storage account or a partner solution."
    ),
    rationale=(
        "Without {categories} exported to a persistent store, changes to the cluster (RBAC, secrets, "
        "workloads) leave no trace for incident response."
    ),
    fix=(
        "Add a diagnostic setting to the cluster that exports {categories} (or a category group that contains "
        "them, such as audit or allLogs) to a Log Analytics workspace, a storage account or a partner solution. "
        "The categories may be split between settings. Event Hubs alone do not count: they keep data for days, "
        "not as a persistent store."
    ),
    # Every flag as the Azure CLI defines it: azure-cli src/azure-cli/azure/cli/command_modules/monitor/aaz/latest/
    # monitor/diagnostic_settings/_create.py, and operations/latest/monitor/diagnostic_settings/_create.py for
    # --export-to-resource-specific (logAnalyticsDestinationType Dedicated).
    fix_command=(
        "az monitor diagnostic-settings create --name {name} --resource {resource} --workspace {workspace} "
        "--export-to-resource-specific true --logs {logs}"
    ),
    profiles={
        "cis": Profile(
            "cis", ("kube-audit", "kube-audit-admin"), "both audit categories, as the CIS remediation enables them"
        ),
        "cost-aware": Profile(
            "cost-aware",
            ("kube-audit-admin", "guard"),
            "every change and every Entra ID / Azure RBAC decision, without the reads kube-audit adds "
            "(PSRule for Azure, Azure.AKS.AuditLogs)",
        ),
    },
    default_profile="cis",
)
