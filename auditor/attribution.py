"""Who changed what, and how serious a failure is. Pure: reads claims and history, returns words.

Turning audit logs off is a known attacker technique (MITRE ATT&CK T1562.008, "Impair Defenses:
Disable or Modify Cloud Logs"), so a failure that follows a change says who made it. ARM gives
the caller's token claims with every resource event and every Activity Log entry; their shape
differs between users, service principals and managed identities, and any of them may be
missing, so each is read defensively and used for reporting only, never for a decision:

- a user's token carries `upn` (or `unique_name`, or the `.../claims/upn` URI form) and `name`;
- a service principal's carries `appid` and `idtyp` "app", and no UPN;
- a managed identity's is an app token that also carries `xms_mirid`, the identity's resource ID;
- the object ID is `oid` or `http://schemas.microsoft.com/identity/claims/objectidentifier`;
- the client address is `ipaddr`, else the request's `httpRequest.clientIpAddress`.

AUDITOR_ATTRIBUTION decides how much is kept: `full`, `id` (object and app IDs only, for
organisations that treat names and addresses as personal data) or `off` (nothing, no lookup).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from auditor.model import ActorType, Change, ChangeSource, Finding, Severity, Status

_OID = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
_UPN = ("upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "unique_name")
_NAME = ("name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
_MAX = 256


class Attribution(StrEnum):
    """How much of the actor the auditor keeps (AUDITOR_ATTRIBUTION)."""

    OFF = "off"
    ID = "id"
    FULL = "full"


class Origin(StrEnum):
    """What made the auditor judge the cluster."""

    SCAN = "scan"
    CLUSTER_WRITE = "cluster"  # a cluster was created or updated
    SETTING_CHANGE = "setting"  # a diagnostic setting was written or deleted


@dataclass(frozen=True, slots=True)
class Caller:
    """What ARM said about one change and its caller (an event's data or an Activity Log entry)."""

    operation: str
    resource_uri: str
    at: datetime | None
    claims: Mapping[str, str]
    client_ip: str = ""
    correlation_id: str = ""
    caller: str = ""  # the Activity Log's own `caller` (a UPN, or an app's ID)


def caller_from(data: Mapping[str, Any], at: datetime | None) -> Caller:
    """The caller of an event's `data` or an Activity Log entry, every field optional and bounded."""
    claims = data.get("claims")
    http = data.get("httpRequest")
    operation = data.get("operationName")
    if isinstance(operation, Mapping):  # the Activity Log's {"value", "localizedValue"}
        operation = operation.get("value")
    kept = {str(k): _text(v) for k, v in claims.items() if _text(v)} if isinstance(claims, Mapping) else {}
    return Caller(
        operation=_text(operation),
        resource_uri=_text(data.get("resourceUri") or data.get("resourceId")),
        at=at,
        claims=kept,
        client_ip=_text(http.get("clientIpAddress")) if isinstance(http, Mapping) else "",
        correlation_id=_text(data.get("correlationId")),
        caller=_text(data.get("caller")),
    )


def change_of(caller: Caller, source: ChangeSource, privacy: Attribution, setting: str = "") -> Change | None:
    """The Change a caller made, keeping as much as `privacy` allows (None when attribution is off)."""
    if privacy is Attribution.OFF:
        return None
    claims = caller.claims
    object_id = _first(claims, _OID)
    app_id = claims.get("appid") or claims.get("azp") or ""
    mirid = claims.get("xms_mirid", "")
    upn = _first(claims, _UPN)
    if mirid:
        kind, actor = ActorType.MANAGED_IDENTITY, mirid.rstrip("/").rsplit("/", 1)[-1]
    elif upn or (claims.get("idtyp", "").lower() == "user"):
        kind, actor = ActorType.USER, upn or _first(claims, _NAME)
    elif app_id or claims.get("idtyp", "").lower() == "app":
        kind, actor = ActorType.SERVICE_PRINCIPAL, _first(claims, _NAME) or caller.caller or app_id
    elif "@" in caller.caller:
        kind, actor = ActorType.USER, caller.caller
    else:
        kind, actor = ActorType.UNKNOWN, caller.caller
    change = Change(
        operation=caller.operation,
        source=source,
        at=caller.at,
        setting=setting,
        actor=actor,
        actor_type=kind,
        object_id=object_id,
        app_id=app_id,
        client_ip=_address(claims.get("ipaddr", "")) or _address(caller.client_ip),
        correlation_id=caller.correlation_id,
    )
    return private(change, privacy)


def private(change: Change | None, privacy: Attribution) -> Change | None:
    """`change` as `privacy` allows: no names or addresses under `id`, nothing under `off`."""
    if change is None or privacy is Attribution.OFF:
        return None
    if privacy is Attribution.ID:
        return replace(change, actor="", client_ip="")
    return change


def severity_of(
    finding: Finding, origin: Origin, previous_status: str | None, previous_severity: str = ""
) -> Severity | None:
    """How serious a failing finding is: removing logging from a cluster that passed is high, a cluster
    that never passed is medium, an unreachable verdict low; a failure already known keeps its severity."""
    if finding.status is Status.ERROR:
        return Severity.LOW
    if finding.status is not Status.FAIL:
        return None
    if previous_status in (Status.FAIL, Status.ERROR) and previous_severity in set(Severity):
        return Severity(previous_severity)
    if previous_status == Status.PASS:
        return Severity.HIGH
    if previous_status is None and origin is Origin.SETTING_CHANGE:
        return Severity.HIGH  # no history, but the failure follows a change to a setting: logging was cut
    return Severity.MEDIUM


def sentence(finding: Finding, now: datetime | None) -> str:
    """The change behind a failure in one sentence, or "" when nobody is known. With `now` the time is
    relative ("2 minutes ago"), without it absolute (UTC)."""
    change = finding.change
    if change is None:
        return ""
    missing = ", ".join(finding.missing_categories)
    verb = "is" if len(finding.missing_categories) == 1 else "are"
    what = _what(change)
    who = _who(change)
    when = ""
    if change.at is not None:
        when = (
            f", {_ago(now, change.at)}" if now is not None else f", at {change.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
    if not who:
        if change.note:
            return change.note if not change.operation else f"{what}; {change.note}"
        who = "a caller ARM did not name"
    if missing and change.setting:
        return f"{missing} {verb} no longer exported: {what} by {who}{when}"
    return f"{what} by {who}{when}"


def _what(change: Change) -> str:
    operation = change.operation.lower()
    if change.setting:
        return f"setting {change.setting} was {'deleted' if operation.endswith('/delete') else 'changed'}"
    if operation.endswith("managedclusters/write"):
        return "the cluster was created or updated without audit logging"
    return f"{change.operation or 'a change'} was made"


_KINDS = {
    ActorType.USER: "user",
    ActorType.SERVICE_PRINCIPAL: "service principal",
    ActorType.MANAGED_IDENTITY: "managed identity",
    ActorType.UNKNOWN: "caller",
}


def _who(change: Change) -> str:
    """ "alice@contoso.com from 203.0.113.7", "managed identity id-job", "service principal <object ID>"."""
    if change.actor:
        name = change.actor if change.actor_type is ActorType.USER else f"{_KINDS[change.actor_type]} {change.actor}"
    elif change.object_id or change.app_id:
        name = f"{_KINDS[change.actor_type]} {change.object_id or change.app_id}"
    else:
        return ""
    return f"{name} from {change.client_ip}" if change.client_ip else name


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _first(claims: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((claims[name] for name in names if claims.get(name)), "")


def _text(value: Any) -> str:
    return value.strip()[:_MAX] if isinstance(value, str) else ""


def _address(value: str) -> str:
    """An IP address as ARM sent it, or "" when it is not one (never passed on unchecked)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""
