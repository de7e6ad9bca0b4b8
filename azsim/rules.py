"""ARM's validation rules for a diagnostic-setting PUT, so remediation code meets the refusals it will meet in Azure."""

from collections.abc import Mapping
from typing import Any

from azsim.categories import CATEGORY_GROUPS, LOG_CATEGORIES, METRIC_CATEGORIES, exported_log_categories

MAX_SETTINGS_PER_RESOURCE = 5
_DESTINATION_FIELDS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


class SettingRejected(Exception):
    """ARM refused the setting; `code` and `message` go into the 400 error body."""

    def __init__(self, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_put(name: str, properties: Any, existing: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
    """Raise SettingRejected unless `properties` may be stored as setting `name`.

    `existing` maps lower-case setting names to (name, properties) for the same resource.
    """
    if not isinstance(properties, dict):
        raise SettingRejected("The request content was invalid: 'properties' is required.", "InvalidRequestContent")
    logs = _entries(properties, "logs")
    metrics = _entries(properties, "metrics")
    key = name.lower()
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
    for other_key, (_, other) in existing.items():
        if other_key == key:
            continue
        if sinks & _sinks(other) and categories & exported_log_categories(other.get("logs") or []):
            raise SettingRejected(
                "Data sinks can't be reused in different settings on the same category for the same resource"
            )


def _entries(properties: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = properties.get(field) or []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise SettingRejected(
            f"The request content was invalid: '{field}' must be a list of objects.", "InvalidRequestContent"
        )
    return value


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
