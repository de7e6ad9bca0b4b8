"""Parsing, comparing and quoting ARM resource IDs, by ARM's own naming rules and no narrower.

ARM is case-insensitive about IDs and returns them in mixed case (`resourcegroups` in list
results), so every comparison here folds case. Parsing is strict on *structure*: an ID that
ends up in a request URL must be exactly the resource type expected, in a subscription, with
nothing smuggled in (no extra segments, no `..`, no query). It is never stricter than Azure
on *characters*: a resource group name may hold any Unicode letter or digit (`rg-münchen`,
`rg-東京`), and such a cluster must be judged like any other.

Naming rules (Azure docs, "Naming rules and restrictions for Azure resources", and the REST
API specs' `resourceGroupName` / `resourceName` parameters):
- resource group: 1-90 characters; letters and digits as .NET `Char.IsLetterOrDigit` defines
  them (Unicode categories Lu, Ll, Lt, Lm, Lo, Nd), `_ - . ( )`; must not end with `.`;
- managed cluster (Microsoft.ContainerService/managedClusters): 1-63 characters,
  `^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$`;
- Log Analytics workspace: 4-63 characters, letters, digits and `-`, starting and ending
  with a letter or digit;
- subscription: a GUID.

When an ID goes back into a request, `path_of` percent-encodes each segment (UTF-8), which
the SDK does not do for a `resourceUri` parameter (it inserts it unquoted). Whether ARM or
Event Grid ever hand out an already percent-encoded ID is not documented; a segment holding
`%XX` is decoded before it is judged (no valid name holds `%`, so decoding is unambiguous).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_CLUSTER_NAME = re.compile(r"^[a-zA-Z0-9]$|^[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]$", re.ASCII)
_WORKSPACE_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]{2,61}[a-zA-Z0-9]$", re.ASCII)
_LETTER_OR_DIGIT = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd"})  # .NET Char.IsLetterOrDigit
_GROUP_PUNCTUATION = frozenset("_-.()")
# Characters left raw when quoting a path segment: the unreserved ones plus the parentheses a
# resource group may hold (RFC 3986 sub-delims, legal in a path); everything else is %XX.
_SEGMENT_SAFE = "()"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A resource ID taken apart: decoded names, provider and type as given."""

    subscription_id: str
    resource_group: str
    provider: str
    resource_type: str
    name: str

    @property
    def resource_id(self) -> str:
        """The ID in ARM's canonical spelling (`resourceGroups`), unencoded."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{self.provider}/{self.resource_type}/{self.name}"
        )

    @property
    def path(self) -> str:
        """The ID as a request path: every segment percent-encoded."""
        return path_of(self.resource_id)

    @property
    def ascii(self) -> bool:
        return self.resource_id.isascii()


_CLUSTER_TYPE = ("microsoft.containerservice", "managedclusters")
_WORKSPACE_TYPE = ("microsoft.operationalinsights", "workspaces")


def parse_cluster_id(resource_id: str) -> ResourceRef:
    """Split a managed-cluster ID; raise ValueError (saying why) for anything that is not one."""
    return _parse(resource_id, _CLUSTER_TYPE, _CLUSTER_NAME, "managed-cluster")


def parse_workspace_id(resource_id: str) -> ResourceRef:
    """Split a Log Analytics workspace ID; raise ValueError for anything that is not one."""
    return _parse(resource_id, _WORKSPACE_TYPE, _WORKSPACE_NAME, "Log Analytics workspace")


def _parse(resource_id: str, kind: tuple[str, str], name_rule: re.Pattern[str], label: str) -> ResourceRef:
    if not isinstance(resource_id, str):
        raise ValueError(f"not a {label} resource ID: {resource_id!r}")
    segments = resource_id.strip().split("/")
    shape_ok = (
        len(segments) == 9
        and segments[0] == ""
        and segments[1].lower() == "subscriptions"
        and segments[3].lower() == "resourcegroups"
        and segments[5].lower() == "providers"
        and (segments[6].lower(), segments[7].lower()) == kind
    )
    if not shape_ok:
        raise ValueError(f"not a {label} resource ID: {resource_id!r}")
    try:
        subscription, group, name = (_decode(segments[i]) for i in (2, 4, 8))
    except UnicodeDecodeError:
        raise ValueError(f"not a {label} resource ID (percent-encoding is not UTF-8): {resource_id!r}") from None
    if not is_subscription_id(subscription):
        raise ValueError(f"not a {label} resource ID (subscription is not a GUID): {resource_id!r}")
    problem = resource_group_problem(group)
    if problem:
        raise ValueError(f"not a {label} resource ID ({problem}): {resource_id!r}")
    if not name_rule.match(name):
        raise ValueError(f"not a {label} resource ID (name {name!r} breaks the naming rules): {resource_id!r}")
    return ResourceRef(subscription.lower(), group, segments[6], segments[7], name)


def parse_resource_path(resource_id: str) -> str:
    """The request path of any resource ID in a resource group (`.../providers/{namespace}/{type}/{name}`,
    nested types allowed), percent-encoded; raise ValueError for anything else. For destinations,
    whose provider the auditor does not judge by name (storage accounts, Event Hubs, partners)."""
    segments = resource_id.strip().split("/") if isinstance(resource_id, str) else []
    shape_ok = (
        len(segments) >= 9
        and len(segments) % 2 == 1
        and segments[0] == ""
        and segments[1].lower() == "subscriptions"
        and segments[3].lower() == "resourcegroups"
        and segments[5].lower() == "providers"
    )
    if not shape_ok:
        raise ValueError(f"not a resource ID: {resource_id!r}")
    try:
        decoded = [_decode(segment) for segment in segments[1:]]
    except UnicodeDecodeError:
        raise ValueError(f"not a resource ID (percent-encoding is not UTF-8): {resource_id!r}") from None
    if not is_subscription_id(decoded[1]) or resource_group_problem(decoded[3]):
        raise ValueError(f"not a resource ID: {resource_id!r}")
    if any(not part or part in {".", ".."} or any(c in part for c in "/\\?#%") for part in decoded[4:]):
        raise ValueError(f"not a resource ID: {resource_id!r}")
    return path_of("/" + "/".join(decoded))


def _decode(segment: str) -> str:
    return unquote(segment, errors="strict") if "%" in segment else segment


def resource_group_problem(name: str) -> str:
    """Why `name` is not a resource group name ARM accepts, or "" when it is one."""
    if not 1 <= len(name) <= 90:
        return f"resource group name is {len(name)} characters; ARM allows 1 to 90"
    if name.endswith("."):
        return "resource group name ends with '.'"
    for character in name:
        if character not in _GROUP_PUNCTUATION and unicodedata.category(character) not in _LETTER_OR_DIGIT:
            return f"resource group name holds {character!r}, which ARM does not allow"
    return ""


def path_of(resource_id: str) -> str:
    """Percent-encode each segment of an ID (UTF-8), so it can go into a request URL as it is."""
    return "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in resource_id.split("/"))


def resource_uri(resource_id: str) -> str:
    """The `resourceUri` argument of the Monitor SDK's operations: the ID percent-encoded, without
    its leading slash (the SDK puts it into the URL as it is, unquoted)."""
    return path_of(resource_id.strip()).strip("/")


def is_subscription_id(value: str) -> bool:
    return isinstance(value, str) and _GUID.match(value) is not None


def resource_key(resource_id: str) -> str:
    """A canonical key for comparing IDs: ARM treats them case-insensitively."""
    return resource_id.strip().rstrip("/").lower()
