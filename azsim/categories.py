"""The diagnostic categories Azure Monitor offers for AKS (Microsoft.ContainerService/managedClusters).

Served by the categories API and used to validate PUTs, so the simulation rejects exactly what ARM rejects.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DiagnosticCategory:
    """One entry of `diagnosticSettingsCategories`: a log or metric category and the groups it belongs to."""

    name: str
    category_type: str  # "Logs" | "Metrics"
    groups: tuple[str, ...] = ()


_AUDIT = ("audit", "allLogs")
_ALL = ("allLogs",)

AKS_CATEGORIES: tuple[DiagnosticCategory, ...] = (
    DiagnosticCategory("kube-apiserver", "Logs", _ALL),
    DiagnosticCategory("kube-audit", "Logs", _AUDIT),
    DiagnosticCategory("kube-audit-admin", "Logs", _AUDIT),
    DiagnosticCategory("kube-controller-manager", "Logs", _ALL),
    DiagnosticCategory("kube-scheduler", "Logs", _ALL),
    DiagnosticCategory("cluster-autoscaler", "Logs", _ALL),
    DiagnosticCategory("cloud-controller-manager", "Logs", _ALL),
    DiagnosticCategory("guard", "Logs", _AUDIT),
    DiagnosticCategory("csi-azuredisk-controller", "Logs", _ALL),
    DiagnosticCategory("csi-azurefile-controller", "Logs", _ALL),
    DiagnosticCategory("csi-snapshot-controller", "Logs", _ALL),
    DiagnosticCategory("AllMetrics", "Metrics"),
)

LOG_CATEGORIES: frozenset[str] = frozenset(c.name.lower() for c in AKS_CATEGORIES if c.category_type == "Logs")
METRIC_CATEGORIES: frozenset[str] = frozenset(c.name.lower() for c in AKS_CATEGORIES if c.category_type == "Metrics")
CATEGORY_GROUPS: dict[str, frozenset[str]] = {
    group.lower(): frozenset(c.name.lower() for c in AKS_CATEGORIES if group in c.groups)
    for group in ("audit", "allLogs")
}


def exported_log_categories(logs: Iterable[Any]) -> set[str]:
    """Lower-case log categories an entry list really sends: enabled entries, groups expanded."""
    exported: set[str] = set()
    for entry in logs:
        if not isinstance(entry, dict) or entry.get("enabled") is not True:
            continue
        if category := entry.get("category"):
            exported.add(str(category).lower())
        elif group := entry.get("categoryGroup"):
            exported |= CATEGORY_GROUPS.get(str(group).lower(), frozenset())
    return exported
