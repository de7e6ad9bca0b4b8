"""In-memory model of the simulated tenant: subscriptions, AKS clusters and their diagnostic settings.

The server thread changes it (PUT/DELETE) while test code reads and edits it, so one lock per tenant guards
the collections. Stored setting properties are replaced, never changed in place, so the server may serialise
a snapshot of them outside the lock.
"""

import copy
import threading
import uuid
from typing import Any

from azsim import rules
from azsim.categories import AKS_CATEGORIES, DiagnosticCategory

SUBSCRIPTION_STATES = ("Enabled", "Warned", "PastDue", "Disabled", "Deleted")
ID_STYLES = ("arm", "canonical", "lower")


def resource_key(resource_id: str) -> str:
    """Lookup key of a resource ID: ARM compares IDs case-insensitively (so resourcegroups == resourceGroups)."""
    key = resource_id.lower().rstrip("/")
    return key if key.startswith("/") else "/" + key


class SimCluster:
    """A managed cluster; `tags` and `forbidden` may be changed by tests at any time."""

    def __init__(
        self,
        tenant: "Tenant",
        subscription_id: str,
        name: str,
        resource_group: str,
        location: str,
        tags: dict[str, str] | None,
        provisioning_state: str,
        id_style: str,
    ) -> None:
        if id_style not in ID_STYLES:
            raise ValueError(f"id_style must be one of {ID_STYLES}, not {id_style!r}")
        groups = "resourceGroups" if id_style == "canonical" else "resourcegroups"
        resource_id = (
            f"/subscriptions/{subscription_id}/{groups}/{resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{name}"
        )
        self.id = resource_id.lower() if id_style == "lower" else resource_id
        self.name = name
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.location = location
        self.tags: dict[str, str] = dict(tags or {})
        self.provisioning_state = provisioning_state
        self.forbidden = False
        self._lock = tenant.lock
        self._settings: dict[str, tuple[str, dict[str, Any]]] = {}  # lower-case name -> (name, properties)

    def __repr__(self) -> str:
        return f"SimCluster({self.id!r})"

    def set_setting(self, name: str, properties: dict[str, Any]) -> None:
        """Store a setting as given, bypassing ARM's rules, to build any state (even an invalid one)."""
        stored = copy.deepcopy(properties)
        with self._lock:
            self._settings[name.lower()] = (name, stored)

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        """A copy of the settings: name -> properties."""
        with self._lock:
            items = list(self._settings.values())
        return {name: copy.deepcopy(properties) for name, properties in items}

    def delete_setting(self, name: str) -> bool:
        """Remove a setting; tells whether it existed."""
        with self._lock:
            return self._settings.pop(name.lower(), None) is not None

    def setting_items(self) -> list[tuple[str, dict[str, Any]]]:
        """Snapshot for serving: the stored objects themselves, which are never mutated."""
        with self._lock:
            return list(self._settings.values())

    def get_setting(self, name: str) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            return self._settings.get(name.lower())

    def put_setting(self, name: str, properties: Any) -> tuple[str, dict[str, Any]]:
        """Create or update a setting under ARM's rules (raises rules.SettingRejected); returns what was stored.

        The check and the store share one critical section so concurrent PUTs cannot both pass the 5-setting
        or sink-reuse rule.
        """
        with self._lock:
            rules.check_put(name, properties, self._settings)
            stored_name = self._settings.get(name.lower(), (name, None))[0]
            self._settings[name.lower()] = (stored_name, properties)
            return stored_name, properties


class SimSubscription:
    """A subscription; `state`, `display_name` and `forbidden` may be changed by tests."""

    def __init__(self, tenant: "Tenant", subscription_id: str, display_name: str, state: str, forbidden: bool) -> None:
        if state not in SUBSCRIPTION_STATES:
            raise ValueError(f"state must be one of {SUBSCRIPTION_STATES}, not {state!r}")
        self.subscription_id = subscription_id
        self.display_name = display_name
        self.state = state
        self.forbidden = forbidden
        self._tenant = tenant
        self._clusters: list[SimCluster] = []

    def __repr__(self) -> str:
        return f"SimSubscription({self.subscription_id!r}, {self.display_name!r})"

    @property
    def clusters(self) -> list[SimCluster]:
        with self._tenant.lock:
            return list(self._clusters)

    def add_cluster(
        self,
        name: str,
        resource_group: str = "rg-aks",
        location: str = "westeurope",
        tags: dict[str, str] | None = None,
        provisioning_state: str = "Succeeded",
        id_style: str = "arm",
    ) -> SimCluster:
        cluster = SimCluster(
            self._tenant, self.subscription_id, name, resource_group, location, tags, provisioning_state, id_style
        )
        self._tenant.register(self, cluster)
        return cluster

    def cluster_page(self, start: int, count: int, resource_group: str | None = None) -> tuple[list[SimCluster], bool]:
        """Clusters [start, start+count) of the listing (optionally one resource group's) and whether more follow."""
        with self._tenant.lock:
            clusters = self._clusters
            if resource_group is not None:
                group = resource_group.lower()
                clusters = [c for c in clusters if c.resource_group.lower() == group]
            return clusters[start : start + count], start + count < len(clusters)


class Tenant:
    """The whole simulated directory. GUIDs are generated when not given."""

    def __init__(self, tenant_id: str | None = None) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.lock = threading.Lock()
        self._subscriptions: dict[str, SimSubscription] = {}
        self._clusters: dict[str, SimCluster] = {}

    @property
    def categories(self) -> tuple[DiagnosticCategory, ...]:
        return AKS_CATEGORIES

    @property
    def subscriptions(self) -> list[SimSubscription]:
        with self.lock:
            return list(self._subscriptions.values())

    def add_subscription(
        self,
        display_name: str = "Production",
        subscription_id: str | None = None,
        state: str = "Enabled",
        forbidden: bool = False,
    ) -> SimSubscription:
        subscription = SimSubscription(self, subscription_id or str(uuid.uuid4()), display_name, state, forbidden)
        with self.lock:
            key = subscription.subscription_id.lower()
            if key in self._subscriptions:
                raise ValueError(f"subscription {subscription.subscription_id} already exists")
            self._subscriptions[key] = subscription
        return subscription

    def find_subscription(self, subscription_id: str) -> SimSubscription | None:
        return self._subscriptions.get(subscription_id.lower())

    def find_cluster(self, resource_id: str) -> SimCluster | None:
        return self._clusters.get(resource_key(resource_id))

    def remove_cluster(self, resource_id: str) -> None:
        """Delete a cluster (with its settings); KeyError when there is none."""
        with self.lock:
            cluster = self._clusters.pop(resource_key(resource_id))
            self._subscriptions[cluster.subscription_id.lower()]._clusters.remove(cluster)

    def register(self, subscription: SimSubscription, cluster: SimCluster) -> None:
        """Index a new cluster; the tenant keeps the index and the subscriptions' lists in step."""
        key = resource_key(cluster.id)
        with self.lock:
            if key in self._clusters:
                raise ValueError(f"cluster {cluster.id} already exists")
            self._clusters[key] = cluster
            subscription._clusters.append(cluster)
