"""Every AUDITOR_* setting, typed and validated once, up front.

The CLI and the function app read the same environment variables (docs/reference.md, "Settings"). A bad
value raises ConfigError with one line that names the variable and says what is expected;
entry points turn that into exit code 2 (or a failed start-up), never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from auditor.attribution import Attribution
from auditor.clouds import CLOUDS, Cloud
from auditor.control import CUSTOM_PROFILE, AppliedControl
from auditor.control.c0254 import C0254
from auditor.destinations import DestinationCheck, Expectations
from auditor.model import Destination, RemediationMode
from auditor.resource_id import is_subscription_id, parse_workspace_id, resource_key
from auditor.rule import Policy

_CATEGORY = re.compile(r"^[A-Za-z0-9][-_A-Za-z0-9]{0,127}$")


CONTROL = C0254
DEFAULT_CATEGORIES = CONTROL.profiles[CONTROL.default_profile].categories
DEFAULT_DESTINATIONS = frozenset({Destination.WORKSPACE, Destination.STORAGE, Destination.PARTNER})
DEFAULT_EXEMPT_TAG = "aks-audit-exempt"


DEFAULT_WEBHOOK_HOSTS = ("*.webhook.office.com", "*.logic.azure.com", "*.powerplatform.com", "*.eventgrid.azure.net")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_HOST_PATTERN = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")


E = TypeVar("E", bound=StrEnum)


class ConfigError(ValueError):
    """A setting has a value the auditor cannot use; the message is one line for a person."""


class Secret:
    """A value that must never reach a log, an error message or a report: it prints as '***'."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the mail server and whom to write to."""

    host: str
    port: int
    username: str
    password: Secret | None
    starttls: bool
    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """Where findings go. Empty means that channel is off."""

    eventgrid_endpoint: str = ""
    eventgrid_key: Secret | None = None
    teams_webhook_url: Secret | None = None
    smtp: SmtpSettings | None = None
    allowed_hosts: tuple[str, ...] = DEFAULT_WEBHOOK_HOSTS
    renotify_hours: float = 24.0

    @property
    def speaks(self) -> bool:
        """Teams or email configured: the channels that speak to people (on changes only, with state)."""
        return self.teams_webhook_url is not None or self.smtp is not None

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing text that might echo one."""
        found = [self.eventgrid_key, self.teams_webhook_url, self.smtp.password if self.smtp else None]
        return tuple(secret.reveal() for secret in found if secret is not None and secret.reveal())


@dataclass(frozen=True, slots=True)
class RemediationSettings:
    """Remediation is off by default; a target workspace is required otherwise."""

    mode: RemediationMode = RemediationMode.OFF
    workspace_id: str = ""
    setting_name: str = "aks-audit-logs"
    subscriptions: tuple[str, ...] = ()
    edit_existing: bool = False  # may enable categories in a setting the auditor does not own
    cooldown_hours: float = 24.0  # a fix undone within this long is not written again in it

    @property
    def enabled(self) -> bool:
        return self.mode is not RemediationMode.OFF

    @property
    def writes(self) -> bool:
        return self.mode is RemediationMode.APPLY


@dataclass(frozen=True, slots=True)
class Settings:
    """Every AUDITOR_* setting, typed; made once per run by `from_env`."""

    profile: str = CONTROL.default_profile
    required_categories: tuple[str, ...] = DEFAULT_CATEGORIES
    accepted_destinations: frozenset[Destination] = DEFAULT_DESTINATIONS
    allowed_workspaces: tuple[str, ...] = ()
    exempt_tag: str = DEFAULT_EXEMPT_TAG
    cloud: Cloud = CLOUDS["azurepubliccloud"]
    arm_endpoint: str = "https://management.azure.com"
    arm_audience: str = "https://management.azure.com"
    subscriptions: tuple[str, ...] = ()
    destination_check: DestinationCheck = DestinationCheck.LENIENT
    min_retention_days: int = 0
    delivery_lookback_hours: float = 0.0
    logs_endpoint: str = "https://api.loganalytics.io"
    max_concurrency: int = 32
    http_timeout_seconds: float = 20.0
    max_retry_after_seconds: float = 60.0  # the longest wait before a retry, whatever a server asks
    scan_deadline_seconds: float = 1500.0  # below host.json's functionTimeout (30 min), with room to report
    blob_hosts: tuple[str, ...] = ()  # where storage accounts' blob endpoints may be; () = the cloud's
    create_grace_seconds: int = 900
    recheck_seconds: int = 30
    attribution: Attribution = Attribution.FULL
    fanout_min_subscriptions: int = 20
    notifications: NotificationSettings = NotificationSettings()
    remediation: RemediationSettings = RemediationSettings()

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
        profile = (get("AUDITOR_PROFILE") or CONTROL.default_profile).lower()
        if profile not in CONTROL.profiles:
            raise ConfigError(f"AUDITOR_PROFILE={profile!r} is not one of {', '.join(CONTROL.profiles)}")
        settings = cls(
            profile=profile,
            required_categories=_categories(get("AUDITOR_REQUIRED_CATEGORIES"), CONTROL.profiles[profile].categories),
            accepted_destinations=_destinations(get("AUDITOR_ACCEPTED_DESTINATIONS")),
            allowed_workspaces=_workspaces(get("AUDITOR_ALLOWED_WORKSPACES")),
            exempt_tag=_exempt_tag(get("AUDITOR_EXEMPT_TAG")),
            cloud=cloud,
            arm_endpoint=endpoint,
            arm_audience=audience,
            subscriptions=parse_subscriptions("AUDITOR_SUBSCRIPTIONS", _split(get("AUDITOR_SUBSCRIPTIONS"))),
            destination_check=_choice(
                "AUDITOR_DESTINATION_CHECK",
                get("AUDITOR_DESTINATION_CHECK"),
                DestinationCheck,
                DestinationCheck.LENIENT,
            ),
            min_retention_days=int(
                _number("AUDITOR_MIN_RETENTION_DAYS", get("AUDITOR_MIN_RETENTION_DAYS"), 0, 0, 36500, True)
            ),
            delivery_lookback_hours=_number(
                "AUDITOR_DELIVERY_LOOKBACK_HOURS", get("AUDITOR_DELIVERY_LOOKBACK_HOURS"), 0.0, 0.0, 2160.0, False
            ),
            logs_endpoint=_https_url("AUDITOR_LOGS_ENDPOINT", logs)
            if (logs := get("AUDITOR_LOGS_ENDPOINT"))
            else (cloud.logs_endpoint),
            max_concurrency=int(_number("AUDITOR_MAX_CONCURRENCY", get("AUDITOR_MAX_CONCURRENCY"), 32, 1, 512, True)),
            http_timeout_seconds=_number(
                "AUDITOR_HTTP_TIMEOUT_SECONDS", get("AUDITOR_HTTP_TIMEOUT_SECONDS"), 20.0, 0.05, 600.0, False
            ),
            max_retry_after_seconds=_number(
                "AUDITOR_MAX_RETRY_AFTER_SECONDS", get("AUDITOR_MAX_RETRY_AFTER_SECONDS"), 60.0, 0.0, 3600.0, False
            ),
            scan_deadline_seconds=_number(
                "AUDITOR_SCAN_DEADLINE_SECONDS", get("AUDITOR_SCAN_DEADLINE_SECONDS"), 1500.0, 1.0, 86400.0, False
            ),
            blob_hosts=_blob_hosts(get("AUDITOR_BLOB_ENDPOINT_HOSTS")),
            # A Storage queue message can stay invisible for at most 7 days.
            create_grace_seconds=int(
                _number("AUDITOR_CREATE_GRACE_SECONDS", get("AUDITOR_CREATE_GRACE_SECONDS"), 900, 0, 604800, True)
            ),
            recheck_seconds=int(_number("AUDITOR_RECHECK_SECONDS", get("AUDITOR_RECHECK_SECONDS"), 30, 0, 3600, True)),
            attribution=_choice("AUDITOR_ATTRIBUTION", get("AUDITOR_ATTRIBUTION"), Attribution, Attribution.FULL),
            fanout_min_subscriptions=int(
                _number(
                    "AUDITOR_FANOUT_MIN_SUBSCRIPTIONS", get("AUDITOR_FANOUT_MIN_SUBSCRIPTIONS"), 20, 1, 1_000_000, True
                )
            ),
            notifications=_notifications(get),
            remediation=_remediation(get),
        )
        _check_remediation_target(settings)
        return settings

    def applied_control(self) -> AppliedControl:
        """The control as this run applies it; `custom` when AUDITOR_REQUIRED_CATEGORIES overrides the profile."""
        chosen = CONTROL.profiles[self.profile].categories
        profile = self.profile if self.required_categories == chosen else CUSTOM_PROFILE
        return AppliedControl(CONTROL, profile, self.required_categories)

    def policy(self) -> Policy:
        return Policy(
            required_categories=self.required_categories,
            accepted_destinations=self.accepted_destinations,
            allowed_workspaces=frozenset(resource_key(ws) for ws in self.allowed_workspaces),
            exempt_tag=self.exempt_tag,
            portal_url=self.cloud.portal,
            expectations=Expectations(self.destination_check, self.min_retention_days, self.delivery_lookback_hours),
        )


def _choice(name: str, raw: str | None, kind: type[E], default: E) -> E:
    """One member of a StrEnum setting, by its value in any case."""
    if raw is None:
        return default
    choices = {str(member): member for member in kind}
    if raw.lower() not in choices:
        raise ConfigError(f"{name}={raw.lower()!r} is not one of {', '.join(choices)}")
    return choices[raw.lower()]


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _categories(raw: str | None, profile: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None:
        return profile
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
        if not _is_workspace_id(workspace):
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


def _is_workspace_id(value: str) -> bool:
    try:
        parse_workspace_id(value)
    except ValueError:
        return False
    return True


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


_HOST_AND_PORT = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?$")


def _blob_hosts(raw: str | None) -> tuple[str, ...]:
    """`host`, `*.domain` or either with `:port` (443 when absent): where a storage account's blob endpoint,
    as ARM reports it, may be before the auditor sends it a storage token."""
    hosts = tuple(part.lower() for part in _split(raw))
    for pattern in hosts:
        port = pattern.rpartition(":")[2] if ":" in pattern else "443"
        if not _HOST_AND_PORT.match(pattern) or not 1 <= int(port) <= 65535:
            raise ConfigError(f"AUDITOR_BLOB_ENDPOINT_HOSTS: {pattern!r} is not a host, *.domain or host:port")
    return hosts


def _notifications(get: Callable[[str], str | None]) -> NotificationSettings:
    hosts = tuple(part.lower() for part in _split(get("AUDITOR_WEBHOOK_ALLOWED_HOSTS"))) or DEFAULT_WEBHOOK_HOSTS
    for pattern in hosts:
        if not _HOST_PATTERN.match(pattern):
            raise ConfigError(f"AUDITOR_WEBHOOK_ALLOWED_HOSTS: {pattern!r} is not a host name or *.domain pattern")
    endpoint = get("AUDITOR_EVENTGRID_TOPIC_ENDPOINT") or ""
    if endpoint:
        _allowed_url("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", endpoint, hosts)
    key = get("AUDITOR_EVENTGRID_TOPIC_KEY")
    if key and not endpoint:
        raise ConfigError("AUDITOR_EVENTGRID_TOPIC_KEY is set but AUDITOR_EVENTGRID_TOPIC_ENDPOINT is not")
    teams = get("AUDITOR_TEAMS_WEBHOOK_URL")
    if teams:
        _allowed_url("AUDITOR_TEAMS_WEBHOOK_URL", teams, hosts)
    return NotificationSettings(
        eventgrid_endpoint=endpoint,
        eventgrid_key=Secret(key) if key else None,
        teams_webhook_url=Secret(teams) if teams else None,
        smtp=_smtp(get),
        allowed_hosts=hosts,
        renotify_hours=_number("AUDITOR_RENOTIFY_HOURS", get("AUDITOR_RENOTIFY_HOURS"), 24.0, 0.1, 8760.0, False),
    )


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """`*.example.com` matches any subdomain of example.com (not example.com itself); others match exactly."""
    host = host.lower().rstrip(".")
    return any(
        host.endswith(pattern[1:]) and len(host) > len(pattern) - 1 if pattern.startswith("*.") else host == pattern
        for pattern in patterns
    )


def _allowed_url(name: str, url: str, hosts: tuple[str, ...]) -> None:
    """Outbound URLs carry signatures: check them without ever echoing the URL itself."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise ConfigError(f"{name} is not a URL") from None
    if parts.scheme != "https" or not host:
        raise ConfigError(f"{name} must be an https:// URL")
    if not host_allowed(host, hosts):
        raise ConfigError(
            f"{name} points at {host}, which is not in AUDITOR_WEBHOOK_ALLOWED_HOSTS ({', '.join(hosts)})"
        )


def _smtp(get: Callable[[str], str | None]) -> SmtpSettings | None:
    host = get("AUDITOR_SMTP_HOST")
    if host is None:
        return None
    if not _HOST_PATTERN.match(host) or host.startswith("*"):
        raise ConfigError(f"AUDITOR_SMTP_HOST={host!r} is not a host name")
    sender = get("AUDITOR_EMAIL_FROM") or ""
    recipients = tuple(_split(get("AUDITOR_EMAIL_TO")))
    if not _EMAIL.match(sender):
        raise ConfigError("AUDITOR_EMAIL_FROM must be an email address when AUDITOR_SMTP_HOST is set")
    if not recipients:
        raise ConfigError("AUDITOR_EMAIL_TO must list at least one address when AUDITOR_SMTP_HOST is set")
    for address in recipients:
        if not _EMAIL.match(address):
            raise ConfigError(f"AUDITOR_EMAIL_TO: {address!r} is not an email address")
    starttls = _yes_no("AUDITOR_SMTP_STARTTLS", get("AUDITOR_SMTP_STARTTLS"), default=True)
    port = int(_number("AUDITOR_SMTP_PORT", get("AUDITOR_SMTP_PORT"), 587, 1, 65535, True))
    password = get("AUDITOR_SMTP_PASSWORD")
    if password and not starttls and port != 465:
        raise ConfigError(
            "AUDITOR_SMTP_PASSWORD would be sent in clear text: set AUDITOR_SMTP_STARTTLS=true, or use port 465"
        )
    return SmtpSettings(
        host=host,
        port=port,
        username=get("AUDITOR_SMTP_USERNAME") or "",
        password=Secret(password) if password else None,
        starttls=starttls,
        sender=sender,
        recipients=recipients,
    )


_SETTING_NAME = re.compile(r"^[A-Za-z0-9][-_.A-Za-z0-9]{0,127}$")


def _remediation(get: Callable[[str], str | None]) -> RemediationSettings:
    mode = _choice("AUDITOR_REMEDIATION_MODE", get("AUDITOR_REMEDIATION_MODE"), RemediationMode, RemediationMode.OFF)
    workspace = get("AUDITOR_REMEDIATION_WORKSPACE_ID") or ""
    name = get("AUDITOR_REMEDIATION_SETTING_NAME") or "aks-audit-logs"
    if not _SETTING_NAME.match(name):
        raise ConfigError(f"AUDITOR_REMEDIATION_SETTING_NAME={name!r} is not a diagnostic-setting name")
    if mode is not RemediationMode.OFF and not workspace:
        raise ConfigError(f"AUDITOR_REMEDIATION_MODE={mode} needs AUDITOR_REMEDIATION_WORKSPACE_ID")
    if workspace and not _is_workspace_id(workspace):
        raise ConfigError(
            f"AUDITOR_REMEDIATION_WORKSPACE_ID={workspace!r} is not a Log Analytics workspace resource ID "
            "(/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>)"
        )
    subscriptions = parse_subscriptions(
        "AUDITOR_REMEDIATION_SUBSCRIPTIONS", _split(get("AUDITOR_REMEDIATION_SUBSCRIPTIONS"))
    )
    edit_existing = _yes_no("AUDITOR_REMEDIATION_EDIT_EXISTING", get("AUDITOR_REMEDIATION_EDIT_EXISTING"))
    cooldown = _number(
        "AUDITOR_REMEDIATION_COOLDOWN_HOURS", get("AUDITOR_REMEDIATION_COOLDOWN_HOURS"), 24.0, 0.0, 8760.0, False
    )
    return RemediationSettings(mode, workspace, name, subscriptions, edit_existing, cooldown)


def _yes_no(name: str, raw: str | None, default: bool = False) -> bool:
    """A true/false setting (in any case); unset or empty means the default."""
    if not raw:
        return default
    if raw.lower() not in {"true", "false"}:
        raise ConfigError(f"{name}={raw.lower()!r} must be true or false")
    return raw.lower() == "true"


def _check_remediation_target(settings: Settings) -> None:
    """A remediation that cannot make a cluster pass is refused at start-up, not discovered per cluster."""
    remediation = settings.remediation
    if not remediation.enabled:
        return
    if Destination.WORKSPACE not in settings.accepted_destinations:
        raise ConfigError("remediation sends to a workspace, but AUDITOR_ACCEPTED_DESTINATIONS does not accept one")
    allowed = {resource_key(ws) for ws in settings.allowed_workspaces}
    if allowed and resource_key(remediation.workspace_id) not in allowed:
        raise ConfigError("AUDITOR_REMEDIATION_WORKSPACE_ID is not one of AUDITOR_ALLOWED_WORKSPACES")
