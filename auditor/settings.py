"""Every AUDITOR_* setting, typed and validated once, up front.

The CLI and the function app read the same environment variables (docs/reference.md, "Settings"). A bad
value raises ConfigError with one line that names the variable and says what is expected;
entry points turn that into exit code 2 (or a failed start-up), never a traceback.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

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
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"  # one DNS label (RFC 1123), ASCII only
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() also takes full-width digits
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")  # no nan, inf or '1_0'


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
        endpoint = _endpoint("AUDITOR_ARM_ENDPOINT", endpoint_override) if endpoint_override else cloud.arm_endpoint
        audience_raw = get("AUDITOR_ARM_AUDIENCE")
        audience = (
            _endpoint("AUDITOR_ARM_AUDIENCE", audience_raw)
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
            logs_endpoint=_endpoint("AUDITOR_LOGS_ENDPOINT", logs)
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
        for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            if path := get(variable):
                ca_context(variable, path)
        _check_schedule(get("AUDITOR_SCAN_SCHEDULE"))
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
    pattern, kind = (_INTEGER, "a whole number") if integer else (_DECIMAL, "a number")
    if not pattern.fullmatch(raw):
        raise ConfigError(f"{name}={raw!r} is not {kind} (ASCII digits)")
    value = int(raw) if integer else float(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} is out of range ({low:g} to {high:g})")
    return value


def https_url(name: str, raw: str, query: bool = False) -> str:
    """The one check of every URL setting: https, a valid host and port, no user-info, no fragment, a
    query only where `query` allows one. The value is never echoed: a URL can carry a key or a signature."""
    if not raw.isascii() or not raw.isprintable() or " " in raw:
        raise ConfigError(f"{name} must be an https:// URL of ASCII characters without spaces")
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. 'https://[::1' (an IPv6 literal left open)
        raise ConfigError(f"{name} is not a URL (its host cannot be read, e.g. an unclosed '[')") from None
    try:
        port = parts.port  # reading it raises for ':99999' or ':abc'
    except ValueError:
        port = 0  # refused below, with port 0
    if parts.scheme != "https":
        raise ConfigError(f"{name} must be an https:// URL")
    if "@" in parts.netloc:
        raise ConfigError(f"{name} must not carry a user name or password (user-info before '@')")
    if not parts.hostname or not _is_host(parts.hostname):
        raise ConfigError(f"{name} must be an https:// URL with a valid host")
    if port == 0:
        raise ConfigError(f"{name} has a port that is not a number from 1 to 65535")
    if "#" in raw or ("?" in raw and not query):
        raise ConfigError(f"{name} must have no {'fragment' if query else 'query or fragment'}")
    return raw


def _endpoint(name: str, raw: str) -> str:
    """A service's base URL (ARM, Log Analytics, an audience): no query, no trailing slash."""
    return https_url(name, raw).rstrip("/")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host(text: str) -> bool:
    """A DNS host name of ASCII labels, or an IP address; all-numeric names that are no address are not."""
    return _is_ip(text) or (bool(_HOST_NAME.fullmatch(text)) and not text.replace(".", "").isdigit())


def _blob_hosts(raw: str | None) -> tuple[str, ...]:
    """`host`, `*.domain` or either with `:port` (443 when absent): where a storage account's blob endpoint,
    as ARM reports it, may be before the auditor sends it a storage token."""
    hosts = tuple(part.lower() for part in _split(raw))
    for pattern in hosts:
        host, colon, port = pattern.partition(":")
        valid_port = not colon or (_INTEGER.fullmatch(port) is not None and 1 <= int(port) <= 65535)
        if not (valid_port and _is_host(host.removeprefix("*."))):
            raise ConfigError(f"AUDITOR_BLOB_ENDPOINT_HOSTS: {pattern!r} is not a host, *.domain or host:port")
    return hosts


def _notifications(get: Callable[[str], str | None]) -> NotificationSettings:
    listed = tuple(part.lower() for part in _split(get("AUDITOR_WEBHOOK_ALLOWED_HOSTS")))
    for pattern in listed:  # the defaults are known good (a test checks them): no list to load for them
        _check_host_pattern(pattern)
    hosts = listed or DEFAULT_WEBHOOK_HOSTS
    endpoint = get("AUDITOR_EVENTGRID_TOPIC_ENDPOINT") or ""
    if endpoint:
        _allowed_url("AUDITOR_EVENTGRID_TOPIC_ENDPOINT", endpoint, hosts)
    key = get("AUDITOR_EVENTGRID_TOPIC_KEY")
    if key and not endpoint:
        raise ConfigError("AUDITOR_EVENTGRID_TOPIC_KEY is set but AUDITOR_EVENTGRID_TOPIC_ENDPOINT is not")
    teams = get("AUDITOR_TEAMS_WEBHOOK_URL")
    if teams:  # a Workflows webhook URL carries its signature in the query (sp, sv, sig)
        _allowed_url("AUDITOR_TEAMS_WEBHOOK_URL", teams, hosts, query=True)
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


def _check_host_pattern(pattern: str) -> None:
    """An allowlist entry: a host, or `*.domain` no broader than one registered domain.

    A wildcard over a public suffix (`*.com`, `*.co.uk`, `*.azurewebsites.net`, where every name
    below has a different owner) would let anyone's host receive the signed URLs; the Public Suffix
    List says which domains those are (ICANN and private sections, as browsers use it for cookies).
    """
    name = "AUDITOR_WEBHOOK_ALLOWED_HOSTS"
    wildcard = pattern.startswith("*.")
    domain = pattern[2:] if wildcard else pattern
    if wildcard and (_is_ip(domain) or domain.rsplit(".", 1)[-1].isdecimal()):
        raise ConfigError(f"{name}: {pattern!r} wildcards an IP address; list the address itself")
    if not _is_host(domain):
        raise ConfigError(f"{name}: {pattern!r} is not a host name or *.domain pattern")
    if wildcard and _public_suffixes().is_public(domain):
        raise ConfigError(f"{name}: {pattern!r} is broader than one registered domain ({domain} is a public suffix)")


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The list the publicsuffixlist package ships, read from its own file: no network, ever (only its
    separate `update` module downloads, and nothing here imports it). Unknown TLDs count as public."""
    return PublicSuffixList()


def _allowed_url(name: str, url: str, hosts: tuple[str, ...], query: bool = False) -> None:
    """Outbound URLs carry signatures: check them without ever echoing the URL itself."""
    host = urlsplit(https_url(name, url, query)).hostname or ""
    if not host_allowed(host, hosts):
        raise ConfigError(
            f"{name} points at {host}, which is not in AUDITOR_WEBHOOK_ALLOWED_HOSTS ({', '.join(hosts)})"
        )


def _smtp(get: Callable[[str], str | None]) -> SmtpSettings | None:
    host = get("AUDITOR_SMTP_HOST")
    if host is None:
        return None
    if not _is_host(host):
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


def ca_context(name: str, path: str) -> ssl.SSLContext:
    """A TLS context trusting the PEM bundle at `path`, the one loader of a CA file (transport.py uses it too).

    Checked up front for REQUESTS_CA_BUNDLE and SSL_CERT_FILE: OpenSSL skips an unusable SSL_CERT_FILE
    silently, and either mistake would otherwise surface as 'certificate verify failed' on every call.
    Only a regular file is read (a device such as /dev/zero would never end).
    """
    if not os.path.isfile(path):
        raise ConfigError(f"{name}={path}: not a readable PEM certificate bundle (no such regular file)")
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError):
        raise ConfigError(f"{name}={path}: not a readable PEM certificate bundle") from None


# AUDITOR_SCAN_SCHEDULE is the timer's NCRONTAB expression. The Functions host parses it with NCrontab's
# CrontabSchedule.TryParse(expression, IncludingSeconds = true), in CronSchedule.TryCreate
# (https://github.com/Azure/azure-webjobs-sdk-extensions, src/WebJobs.Extensions/Extensions/Timers/
# Scheduling/CronSchedule.cs); the field grammar is CrontabFieldImpl.InternalParse and ParseValue
# (https://github.com/atifaziz/NCrontab, NCrontab/CrontabFieldImpl.cs): fields split on spaces; a field
# is a comma list of `*`, `n`, `a-b`, each with an optional `/step`; values are numbers or (month, day
# of week) names. This check is a little stricter than NCrontab, which swaps a reversed range, reads
# step 0 as 1 and takes any prefix of a name ('J' is January): those read as mistakes here. The
# TimeSpan form (hh:mm:ss) only runs on an App Service plan (learn.microsoft.com/azure/azure-functions/
# functions-bindings-timer, "TimeSpan"), and infra/ deploys Flex Consumption (functionapp.bicep, FC1).
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_CRON_FIELDS = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)


def _check_schedule(raw: str | None) -> None:
    name = "AUDITOR_SCAN_SCHEDULE"
    if raw is None:
        return
    fields = [field for field in raw.split(" ") if field]
    if ":" in raw and len(fields) == 1:
        raise ConfigError(
            f"{name}={raw!r}: the TimeSpan form runs only on an App Service plan; the app runs on Flex"
            " Consumption: use NCRONTAB, e.g. '0 0 * * * *'"
        )
    if len(fields) != len(_CRON_FIELDS):
        raise ConfigError(
            f"{name}={raw!r} is not an NCRONTAB expression of six fields"
            " ({second} {minute} {hour} {day} {month} {day-of-week})"
        )
    for field, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field.split(","):
            problem = _cron_item(item, low, high, names)
            if problem:
                raise ConfigError(f"{name}={raw!r}: {label} field {field!r}: {problem}")


def _cron_item(item: str, low: int, high: int, names: tuple[str, ...]) -> str:
    """What is wrong with one list item of an NCRONTAB field ('' when nothing is)."""
    base, slash, step = item.partition("/")
    if slash and not (step.isascii() and step.isdecimal() and 1 <= int(step) <= high - low + 1):
        return f"step {step!r} is not a whole number from 1 to {high - low + 1}"
    if base == "*":
        return ""
    first, dash, last = base.partition("-")
    texts = (first, last) if dash else (first,)
    values = [value for text in texts if (value := _cron_value(text, low, high, names)) is not None]
    if len(values) != len(texts):
        allowed = f"{low}-{high}" + (" or a name (Jan, January, ...)" if names else "")
        return f"{item!r} is not *, a value, or a range of values ({allowed}), with an optional /step"
    if dash and values[0] > values[1]:
        return f"range {base!r} runs backwards"
    return ""


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    """A number in range, or a name in full or by its first three letters, in any case."""
    if text.isascii() and text.isdecimal():
        return int(text) if low <= int(text) <= high else None
    for index, full in enumerate(names):
        if text.lower() in {full, full[:3]}:
            return low + index
    return None
