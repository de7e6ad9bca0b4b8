"""Which subscriptions and clusters exist: the inventory half of reading Azure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from azure.core.rest import HttpRequest

from auditor.azure.connection import CLUSTERS_API_VERSION, ArmConnection
from auditor.azure.pages import iter_values, text
from auditor.model import Cluster
from auditor.resource_id import parse_cluster_id

# Subscriptions in these states still run their clusters (CONTRACT §2); Disabled and
# Deleted ones are skipped and counted.
ACTIVE_STATES = frozenset({"enabled", "warned", "pastdue"})


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    subscription_id: str
    display_name: str
    state: str

    @property
    def active(self) -> bool:
        return self.state.lower() in ACTIVE_STATES


async def list_subscriptions(connection: ArmConnection) -> list[SubscriptionInfo]:
    """Every subscription the identity can see, with its state."""
    found: list[SubscriptionInfo] = []
    async for subscription in connection.subscriptions().subscriptions.list():
        subscription_id = (subscription.subscription_id or "").lower()
        state = getattr(subscription.state, "value", subscription.state) or ""  # an enum member or a plain string
        found.append(SubscriptionInfo(subscription_id, subscription.display_name or subscription_id, str(state)))
    return found


async def iter_clusters(connection: ArmConnection, subscription_id: str) -> AsyncIterator[Cluster]:
    """The subscription's managed clusters, page by page as ARM returns them."""
    path = f"/subscriptions/{subscription_id}/providers/Microsoft.ContainerService/managedClusters"
    client = connection.clusters()
    async for item in iter_values(client, path, CLUSTERS_API_VERSION, connection.arm_endpoint):
        yield cluster_from_arm(item)


async def get_cluster(connection: ArmConnection, cluster_id: str) -> Cluster | None:
    """One cluster by ID (from an event or a queue message); None when ARM says it no longer exists."""
    ref = parse_cluster_id(cluster_id)  # never put an unchecked ID into a URL
    path = (
        f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
        f"/providers/Microsoft.ContainerService/managedClusters/{ref.name}?api-version={CLUSTERS_API_VERSION}"
    )
    response = await connection.clusters().send_request(HttpRequest("GET", path))
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return cluster_from_arm(response.json())


def cluster_from_arm(item: dict[str, Any]) -> Cluster:
    """Pick what the rule needs; keep ARM's ID exactly as returned (it is what users grep for)."""
    resource_id = text(item.get("id"))
    ref = parse_cluster_id(resource_id)
    properties = item.get("properties")
    tags = item.get("tags")
    return Cluster(
        resource_id=resource_id,
        name=text(item.get("name")) or ref.name,
        subscription_id=ref.subscription_id,
        resource_group=ref.resource_group,
        location=text(item.get("location")),
        tags={str(k): text(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        provisioning_state=text(properties.get("provisioningState")) if isinstance(properties, dict) else "",
    )
