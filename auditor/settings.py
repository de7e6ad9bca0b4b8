"""Every AUDITOR_* setting, typed and validated once, up front.

The CLI and the function app read the same environment variables (CONTRACT §1-§3). A bad
value raises ConfigError with one line that names the variable and says what is expected;
entry points turn that into exit code 2 (or a failed start-up), never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from auditor.clouds import CLOUDS, Cloud
from auditor.model import Destination
from auditor.resource_id import is_subscription_id, resource_key
from auditor.rule import Policy

_CATEGORY = re.compile(r"^[A-Za-z0-9][-_A-Za-z0-9]{0,127}$")
_WORKSPACE_ID = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourcegroups/[-\w.()]{1,90}"
    r"/providers/microsoft\.operationalinsights/workspaces/[A-Za-z0-9][-A-Za-z0-9]{2,62}$",
    re.IGNORECASE | re.ASCII,
)


DEFAULT_CATEGORIES = ("kube-audit", "kube-audit-admin")
DEFAULT_DESTINATIONS = frozenset({Destination.WORKSPACE, Destination.STORAGE, Destination.PARTNER})
DEFAULT_EXEMPT_TAG = "aks-audit-exempt"


class ConfigError(ValueError):
    """A setting has a value the auditor cannot use; the message is one line for a person."""


@dataclass(frozen=True, slots=True)
class Settings:
    required_categories: tuple[str, ...] = DEFAULT_CATEGORIES
    accepted_destinations: frozenset[Destination] = DEFAULT_DESTINATIONS
    allowed_workspaces: tuple[str, ...] = ()
    exempt_tag: str = DEFAULT_EXEMPT_TAG
    cloud: Cloud = CLOUDS["azurepubliccloud"]
    arm_endpoint: str = "https://management.azure.com"
    arm_audience: str = "https://management.azure.com"
    subscriptions: tuple[str, ...] = ()
    max_concurrency: int = 32
    http_timeout_seconds: float = 20.0
    create_grace_seconds: int = 900
    fanout_min_subscriptions: int = 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            value = environ.get(name)
            return value.strip() if value is not None and value.strip() else None

        cloud_name = get("AUDITOR_CLOUD") or "AzurePublicCloud"
        cloud = CLOUDS.get(cloud_name.lower())
        if cloud is None:
            raise ConfigError(
                f"AUDITOR_CLOUD={cloud_name!r} is not one of {', '.join(c.name for c in CLOUDS.values())}"
            )
        endpoint_override = get("AUDITOR_ARM_ENDPOINT")
        endpoint = _https_url("AUDITOR_ARM_ENDPOINT", endpoint_override) if endpoint_override else cloud.arm_endpoint
        audience_raw = get("AUDITOR_ARM_AUDIENCE")
        audience = (
            _https_url("AUDITOR_ARM_AUDIENCE", audience_raw)
            if audience_raw
            else (endpoint if endpoint_override else cloud.audience)
        )
        return cls(
            required_categories=_categories(get("AUDITOR_REQUIRED_CATEGORIES")),
            accepted_destinations=_destinations(get("AUDITOR_ACCEPTED_DESTINATIONS")),
            allowed_workspaces=_workspaces(get("AUDITOR_ALLOWED_WORKSPACES")),
            exempt_tag=_exempt_tag(get("AUDITOR_EXEMPT_TAG")),
            cloud=cloud,
            arm_endpoint=endpoint,
            arm_audience=audience,
            subscriptions=parse_subscriptions("AUDITOR_SUBSCRIPTIONS", _split(get("AUDITOR_SUBSCRIPTIONS"))),
            max_concurrency=int(_number("AUDITOR_MAX_CONCURRENCY", get("AUDITOR_MAX_CONCURRENCY"), 32, 1, 512, True)),
            http_timeout_seconds=_number(
                "AUDITOR_HTTP_TIMEOUT_SECONDS", get("AUDITOR_HTTP_TIMEOUT_SECONDS"), 20.0, 0.05, 600.0, False
            ),
            # A Storage queue message can stay invisible for at most 7 days.
            create_grace_seconds=int(
                _number("AUDITOR_CREATE_GRACE_SECONDS", get("AUDITOR_CREATE_GRACE_SECONDS"), 900, 0, 604800, True)
            ),
            fanout_min_subscriptions=int(
                _number(
                    "AUDITOR_FANOUT_MIN_SUBSCRIPTIONS", get("AUDITOR_FANOUT_MIN_SUBSCRIPTIONS"), 20, 1, 1_000_000, True
                )
            ),
        )

    def policy(self) -> Policy:
        return Policy(
            required_categories=self.required_categories,
            accepted_destinations=self.accepted_destinations,
            allowed_workspaces=frozenset(resource_key(ws) for ws in self.allowed_workspaces),
            exempt_tag=self.exempt_tag,
            portal_url=self.cloud.portal,
        )


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _categories(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_CATEGORIES
    categories = tuple(dict.fromkeys(part.lower() for part in _split(raw)))
    if not categories:
        raise ConfigError("AUDITOR_REQUIRED_CATEGORIES must name at least one log category")
    for category in categories:
        if not _CATEGORY.match(category):
            raise ConfigError(f"AUDITOR_REQUIRED_CATEGORIES: {category!r} is not a log category name")
    return categories


def _destinations(raw: str | None) -> frozenset[Destination]:
    if raw is None:
        return DEFAULT_DESTINATIONS
    known = {kind.value: kind for kind in Destination}
    chosen: set[Destination] = set()
    for part in _split(raw):
        kind = known.get(part.lower())
        if kind is None:
            raise ConfigError(f"AUDITOR_ACCEPTED_DESTINATIONS: {part!r} is not one of {', '.join(known)}")
        chosen.add(kind)
    if not chosen:
        raise ConfigError("AUDITOR_ACCEPTED_DESTINATIONS must list at least one destination")
    return frozenset(chosen)


def _workspaces(raw: str | None) -> tuple[str, ...]:
    workspaces = _split(raw)
    for workspace in workspaces:
        if not _WORKSPACE_ID.match(workspace):
            raise ConfigError(
                f"AUDITOR_ALLOWED_WORKSPACES: {workspace!r} is not a Log Analytics workspace resource ID "
                "(/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>)"
            )
    return tuple(workspaces)


def _exempt_tag(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_EXEMPT_TAG
    if len(raw) > 512 or any(ch in raw for ch in "<>%&\\?/"):
        raise ConfigError(f"AUDITOR_EXEMPT_TAG={raw!r} is not a valid Azure tag name")
    return raw


def parse_subscriptions(source: str, values: list[str]) -> tuple[str, ...]:
    """Subscription IDs from a setting or a flag: GUIDs, lower-cased, de-duplicated in order."""
    for value in values:
        if not is_subscription_id(value):
            raise ConfigError(f"{source}: {value!r} is not a subscription ID (a GUID)")
    return tuple(dict.fromkeys(value.lower() for value in values))


def _number(name: str, raw: str | None, default: float, low: float, high: float, integer: bool) -> float:
    if raw is None:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} is out of range ({low:g} to {high:g})")
    return value


def _https_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r} must be an https:// URL with a host and no query")
    return raw.rstrip("/")
