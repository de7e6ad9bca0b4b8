"""Which subscriptions and clusters exist: the inventory half of reading Azure.

A cluster listing is read item by item (pages.py): anything in it the auditor cannot
understand becomes an `Unlisted` record that the scan reports on its own, and the listing
goes on. A subscription that has not registered Microsoft.ContainerService holds no clusters:
the resource-provider contract lets such a list answer with an empty collection or a 404
(Azure/azure-resource-manager-rpc, v1.0/resource-api-reference.md), and ARM itself answers
409 `MissingSubscriptionRegistration`. A 404 is ambiguous: providers answer an unregistered
subscription with `SubscriptionNotFound` too (seen from Microsoft.Storage), the very code of a
subscription that vanished. So every 404 of a listing costs one more GET, of the provider's
`registrationState`: NotRegistered means no clusters; anything else (including a 404 there)
leaves the listing's failure standing as an explained `error`. An unregistered provider raises
`ProviderNotRegistered`, which is no finding at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from auditor.azure.connection import CLUSTERS_API_VERSION, ArmConnection
from auditor.azure.errors import error_code
from auditor.azure.listing import BadPage, Item, excerpt, iter_values, json_type, text
from auditor.azure.paging import guarded_items
from auditor.model import Cluster
from auditor.resource_id import parse_cluster_id, resource_key

CONTAINER_SERVICE = "Microsoft.ContainerService"
PROVIDERS_API_VERSION = "2021-04-01"  # Microsoft.Resources providers, stable
MISSING_REGISTRATION = "MissingSubscriptionRegistration"
# registrationState values in which no resource of the provider can exist in the subscription.
UNREGISTERED_STATES = frozenset({"notregistered", "unregistered", "unregistering"})
# Subscriptions in these states still run their clusters; Disabled and Deleted ones are skipped and counted.
ACTIVE_STATES = frozenset({"enabled", "warned", "pastdue"})


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """A subscription as the listing shows it; only the states that still run clusters are scanned."""

    subscription_id: str
    display_name: str
    state: str

    @property
    def active(self) -> bool:
        return self.state.lower() in ACTIVE_STATES


class ProviderNotRegistered(Exception):
    """The subscription has not registered a resource provider, so none of its resources exist there."""

    def __init__(self, subscription_id: str, namespace: str, evidence: str) -> None:
        super().__init__(f"{namespace} is not registered in subscription {subscription_id} ({evidence})")
        self.subscription_id = subscription_id
        self.namespace = namespace
        self.evidence = evidence


class UnreadableCluster(ValueError):
    """ARM's JSON for a cluster is not something the auditor can judge; the message says why."""


@dataclass(frozen=True, slots=True)
class Unlisted:
    """Something a cluster listing returned that the auditor could not read: reported on its own, never dropped."""

    subscription_id: str
    resource_id: str  # the item's own ID when it had a string one, else a stand-in that names its place
    name: str
    problem: str
    excerpt: str  # what ARM returned, compact JSON, bounded


async def list_subscriptions(connection: ArmConnection) -> list[SubscriptionInfo]:
    """Every subscription the identity can see, with its state."""
    found: list[SubscriptionInfo] = []
    async for subscription in guarded_items(connection.subscriptions().subscriptions.list(), "the subscription list"):
        subscription_id = (subscription.subscription_id or "").lower()
        state = getattr(subscription.state, "value", subscription.state) or ""  # an enum member or a plain string
        found.append(SubscriptionInfo(subscription_id, subscription.display_name or subscription_id, str(state)))
    return found


async def iter_clusters(connection: ArmConnection, subscription_id: str) -> AsyncIterator[Cluster | Unlisted]:
    """The subscription's managed clusters, page by page as ARM returns them, each one readable or not."""
    listing = f"/subscriptions/{subscription_id}/providers/{CONTAINER_SERVICE}/managedClusters"
    pages = iter_values(connection.clusters(), listing, CLUSTERS_API_VERSION, connection.arm_endpoint)
    first = True
    seen: set[str] = set()  # a listing can repeat an item (paging while the list changes): judge it once
    try:
        async for entry in pages:
            first = False
            if isinstance(entry, BadPage):
                yield Unlisted(
                    subscription_id,
                    f"{listing}#page-{entry.page}",
                    f"page {entry.page} of the cluster listing",
                    f"page {entry.page} of the cluster listing could not be read: {entry.problem}",
                    entry.excerpt,
                )
                continue
            listed = _listed(entry, subscription_id, listing)
            key = resource_key(listed.resource_id)
            if key not in seen:
                seen.add(key)
                yield listed
    except HttpResponseError as exc:
        if first:
            await _raise_if_unregistered(connection, subscription_id, exc)
        raise
    if first:  # an empty listing: an unregistered provider may answer so (one GET tells, only here)
        state = await registration_state(connection, subscription_id, CONTAINER_SERVICE)
        if state.lower() in UNREGISTERED_STATES:
            raise ProviderNotRegistered(subscription_id, CONTAINER_SERVICE, f"empty list, registrationState {state}")


def _listed(entry: Item, subscription_id: str, listing: str) -> Cluster | Unlisted:
    try:
        return cluster_from_arm(entry.value, subscription_id)
    except UnreadableCluster as exc:
        value = entry.value if isinstance(entry.value, dict) else {}
        own_id, own_name = text(value.get("id")).strip(), text(value.get("name")).strip()
        place = f"item {entry.index + 1} on page {entry.page}"
        return Unlisted(
            subscription_id,
            own_id or f"{listing}#page-{entry.page}-item-{entry.index + 1}",
            own_name or place,
            f"{place} of the cluster listing could not be read: {exc}",
            excerpt(entry.value),
        )


async def _raise_if_unregistered(connection: ArmConnection, subscription_id: str, exc: HttpResponseError) -> None:
    """Raise ProviderNotRegistered when ARM's failure means "this subscription has no clusters"."""
    code = error_code(exc)
    if exc.status_code == 409 and code == MISSING_REGISTRATION:
        raise ProviderNotRegistered(subscription_id, CONTAINER_SERVICE, f"409 {code}") from exc
    if exc.status_code != 404:
        return
    state = await registration_state(connection, subscription_id, CONTAINER_SERVICE)
    if state.lower() in UNREGISTERED_STATES:
        raise ProviderNotRegistered(subscription_id, CONTAINER_SERVICE, f"404, registrationState {state}") from exc


async def registration_state(connection: ArmConnection, subscription_id: str, namespace: str) -> str:
    """The provider's registrationState in the subscription; "" when unreadable (the caller's error stands)."""
    path = f"/subscriptions/{subscription_id}/providers/{namespace}?api-version={PROVIDERS_API_VERSION}"
    try:
        response = await connection.clusters().send_request(HttpRequest("GET", path))
        if response.status_code != 200:
            return ""
        body = response.json()
    except Exception:  # a read that fails here only leaves the original failure to report
        return ""
    return text(body.get("registrationState")) if isinstance(body, dict) else ""


async def get_cluster(connection: ArmConnection, cluster_id: str) -> Cluster | None:
    """One cluster by ID (from an event or a queue message); None when ARM says it no longer exists.

    Raises UnreadableCluster when ARM's answer cannot be judged."""
    ref = parse_cluster_id(cluster_id)  # never put an unchecked ID into a URL
    response = await connection.clusters().send_request(
        HttpRequest("GET", f"{ref.path}?api-version={CLUSTERS_API_VERSION}")
    )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        raise UnreadableCluster("ARM's answer is not JSON") from None
    return cluster_from_arm(body, ref.subscription_id)


def cluster_from_arm(item: Any, subscription_id: str) -> Cluster:
    """Pick what the rule needs, checking each field's type; keep ARM's ID exactly as returned
    (it is what users grep for). Raises UnreadableCluster saying what is wrong.

    Explicit nulls are legal for every optional field (ARM sends `"tags": null`)."""
    if not isinstance(item, dict):
        raise UnreadableCluster(f"it is a JSON {json_type(item)}, not an object")
    resource_id = item.get("id")
    if not isinstance(resource_id, str) or not resource_id.strip():
        raise UnreadableCluster("it has no id" if resource_id is None else f"its id is a JSON {json_type(resource_id)}")
    try:
        ref = parse_cluster_id(resource_id)
    except ValueError as exc:
        raise UnreadableCluster(str(exc)) from None
    if ref.subscription_id != subscription_id.lower():
        raise UnreadableCluster(f"its id names subscription {ref.subscription_id}, not {subscription_id}")
    properties = _optional(item, "properties", dict) or {}
    return Cluster(
        resource_id=resource_id,
        name=_optional(item, "name", str) or ref.name,
        subscription_id=ref.subscription_id,
        resource_group=ref.resource_group,
        location=_optional(item, "location", str) or "",
        tags=_tags(item.get("tags")),
        provisioning_state=_optional(properties, "provisioningState", str, "properties.") or "",
        power_state=_optional(_optional(properties, "powerState", dict, "properties.") or {}, "code", str) or "",
    )


def _optional(item: Mapping[str, Any], field: str, kind: type, prefix: str = "") -> Any:
    value = item.get(field)
    if value is not None and not isinstance(value, kind):
        raise UnreadableCluster(f"its {prefix}{field} is a JSON {json_type(value)}")
    return value


def _tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnreadableCluster(f"its tags are a JSON {json_type(value)}, not an object")
    for key, tag in value.items():
        if not isinstance(tag, str):
            raise UnreadableCluster(f"its tag {key!r} has a JSON {json_type(tag)} value, not a string")
    return dict(value)
