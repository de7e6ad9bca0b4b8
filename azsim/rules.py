"""ARM's validation rules for a diagnostic-setting PUT, so remediation code meets the refusals it will meet in Azure.

Answers as microsoft.insights gives them: a flat `{"code", "message"}` body (the Monitor REST spec's
ErrorResponse, and what deployments show, e.g. Azure/avdaccelerator issue 473), 400 `BadRequest` for an invalid
setting, 409 `Conflict` for a reused sink (Azure Monitor docs, "Diagnostic settings in Azure Monitor",
troubleshooting: "Data sink ... is already used in diagnostic setting ... for category ...").
"""

from collections.abc import Mapping
from typing import Any

from azsim.categories import CATEGORY_GROUPS, LOG_CATEGORIES, METRIC_CATEGORIES, exported_log_categories

MAX_SETTINGS_PER_RESOURCE = 5
_DESTINATION_FIELDS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


class SettingRejected(Exception):
    """ARM refused the setting; `status`, `code` and `message` make the (flat) error answer."""

    def __init__(self, message: str, code: str = "BadRequest", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def check_put(
    name: str, properties: Any, existing: Mapping[str, tuple[str, dict[str, Any]]], ascii_id: bool = True
) -> None:
    """Raise SettingRejected unless `properties` may be stored as setting `name`.

    `existing` maps lower-case setting names to (name, properties) for the same resource.
    """
    if not ascii_id:
        # Azure documents that diagnostic settings do not support resources whose IDs hold non-ASCII
        # characters (Azure Monitor docs, "Diagnostic settings in Azure Monitor", known limitations). The
        # answer's exact shape is not documented; a 400 refusal is the plausible one.
        raise SettingRejected("Resource IDs with non-ASCII characters are not supported by diagnostic settings.")
    if not isinstance(properties, dict):
        raise SettingRejected("The request content was invalid: 'properties' is required.", "InvalidRequestContent")
    logs = _entries(properties, "logs")
    metrics = _entries(properties, "metrics")
    key = name.lower()
    if key not in existing and any(_retains(entry) for entry in (*logs, *metrics)):
        # Since the storage-retention feature's retirement, ARM refuses a new setting that enables one
        # (Azure Monitor docs, "Migrate from diagnostic settings storage retention to Azure Storage lifecycle
        # management"; the answer as deployments see it: Azure/avdaccelerator issue 473).
        raise SettingRejected("Diagnostic settings does not support retention for new diagnostic settings.")
    if key not in existing and len(existing) >= MAX_SETTINGS_PER_RESOURCE:
        raise SettingRejected(
            "Diagnostic settings does not support more than 5 diagnostic settings for a given resource."
        )
    if not any(_text(properties, field) for field in _DESTINATION_FIELDS):
        raise SettingRejected(
            "At least one destination (a workspace, storage account, event hub or partner solution) must be set."
        )
    for entry in logs:
        if category := entry.get("category"):
            if str(category).lower() not in LOG_CATEGORIES:
                raise SettingRejected(f"Category '{category}' is not supported.")
        elif group := entry.get("categoryGroup"):
            if str(group).lower() not in CATEGORY_GROUPS:
                raise SettingRejected(f"Category group '{group}' is not supported.")
        else:
            raise SettingRejected("Each log setting needs a 'category' or a 'categoryGroup'.")
    if any(entry.get("category") for entry in logs) and any(entry.get("categoryGroup") for entry in logs):
        # Real ARM refuses this (azure-rest-api-specs issue 22719).
        raise SettingRejected("Diagnostic setting does not support mix of log category and log category group.")
    for entry in metrics:
        if str(entry.get("category", "")).lower() not in METRIC_CATEGORIES:
            raise SettingRejected(f"Category '{entry.get('category')}' is not supported.")
    sinks = _sinks(properties)
    categories = exported_log_categories(logs)
    for other_key, (other_name, other) in existing.items():
        if other_key == key:
            continue
        shared = sinks & _sinks(other)
        overlap = categories & exported_log_categories(other.get("logs") or [])
        if shared and overlap:
            sink = _as_sent(properties, sorted(shared)[0][0])
            raise SettingRejected(
                f"Data sink '{sink}' is already used in diagnostic setting '{other_name}' for category "
                f"'{sorted(overlap)[0]}'. Data sinks can't be reused in different settings on the same category "
                "for the same resource.",
                "Conflict",
                409,
            )


def _entries(properties: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = properties.get(field) or []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise SettingRejected(
            f"The request content was invalid: '{field}' must be a list of objects.", "InvalidRequestContent"
        )
    return value


_FIELD_OF_KIND = {
    "workspace": "workspaceId",
    "storage": "storageAccountId",
    "eventhub": "eventHubAuthorizationRuleId",
    "partner": "marketplacePartnerId",
}


def _as_sent(properties: Mapping[str, Any], kind: str) -> str:
    return str(properties.get(_FIELD_OF_KIND[kind]) or "")


def _retains(entry: Mapping[str, Any]) -> bool:
    policy = entry.get("retentionPolicy")
    return isinstance(policy, dict) and policy.get("enabled") is True


def _text(properties: Mapping[str, Any], field: str) -> str:
    value = properties.get(field)
    return value.lower() if isinstance(value, str) else ""


def _sinks(properties: Mapping[str, Any]) -> set[tuple[str, ...]]:
    """The destinations of a setting, normalised so equal sinks compare equal whatever their case."""
    sinks: set[tuple[str, ...]] = set()
    if workspace := _text(properties, "workspaceId"):
        sinks.add(("workspace", workspace))
    if storage := _text(properties, "storageAccountId"):
        sinks.add(("storage", storage))
    if rule := _text(properties, "eventHubAuthorizationRuleId"):
        sinks.add(("eventhub", rule, _text(properties, "eventHubName")))
    if partner := _text(properties, "marketplacePartnerId"):
        sinks.add(("partner", partner))
    return sinks
