"""Parsing and comparing ARM resource IDs of managed clusters.

ARM is case-insensitive about IDs and returns them in mixed case (`resourcegroups` in
list results), so every comparison here folds case. Parsing is strict: an ID that will
end up in a request URL must be a real cluster ID, never a path with surprises in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLUSTER_ID = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"/resourcegroups/(?P<rg>[-\w.()]{0,89}[-\w()])"
    r"/providers/microsoft\.containerservice/managedclusters/(?P<name>[A-Za-z0-9][-_A-Za-z0-9]{0,62})$",
    re.IGNORECASE | re.ASCII,
)
_SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClusterRef:
    subscription_id: str
    resource_group: str
    name: str


def parse_cluster_id(resource_id: str) -> ClusterRef:
    """Split a managed-cluster ID; raise ValueError for anything that is not one."""
    match = _CLUSTER_ID.match(resource_id.strip())
    if match is None:
        raise ValueError(f"not a managed-cluster resource ID: {resource_id!r}")
    return ClusterRef(match["sub"].lower(), match["rg"], match["name"])


def is_subscription_id(value: str) -> bool:
    return _SUBSCRIPTION_ID.match(value) is not None


def resource_key(resource_id: str) -> str:
    """A canonical key for comparing IDs: ARM treats them case-insensitively."""
    return resource_id.strip().rstrip("/").lower()
