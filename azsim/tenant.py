"""In-memory model of the simulated tenant: subscriptions, AKS clusters and their diagnostic settings.

The server thread changes it (PUT/DELETE) while test code reads and edits it, so one lock per tenant guards
the collections. Stored setting properties are replaced, never changed in place, so the server may serialise
a snapshot of them outside the lock.

Real ARM reads can lag a write: a GET of a diagnostic setting right after its PUT has answered 404
(hashicorp/terraform-provider-azurerm issue 27087, "Root object was present, but now absent"). With
`Tenant.read_lag` = n, the first n reads of a cluster's settings after each change still see the settings as
they were before it.

Each stored setting keeps when it was created and last changed (ARM's `systemData`): a setting built by a
test stands for one made long before the scan (30 days by default), one PUT through the API is new.
Destinations (workspaces, storage accounts, Event Hubs, partner resources) are kept by resource ID
apart from the subscriptions (azsim/destinations.py).

Names, display names and tags are stored and served as a test gives them, by no naming rule: the auditor
must take whatever answers at ARM's endpoint as untrusted, control characters included (real ARM refuses
most of them in names at creation, not in tags), and judges names by ARM's rules itself
(auditor/resource_id.py). azsim.samples.hostile_tenant() builds such a tenant.
"""

import copy
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azsim import rules
from azsim.access import Access, grant_reads
from azsim.activity import ActivityLog
from azsim.categories import AKS_CATEGORIES, DiagnosticCategory
from azsim.destinations import Destination, SimResource, SimStorageAccount, SimWorkspace
from azsim.principals import SimPrincipal, service_principal

SUBSCRIPTION_STATES = ("Enabled", "Warned", "PastDue", "Disabled", "Deleted")
ID_STYLES = ("arm", "canonical", "lower")
CONTAINER_SERVICE = "Microsoft.ContainerService"
INSIGHTS = "Microsoft.Insights"
SETTING_WRITE = "Microsoft.Insights/diagnosticSettings/write"
SETTING_DELETE = "Microsoft.Insights/diagnosticSettings/delete"
CLUSTER_WRITE = "Microsoft.ContainerService/managedClusters/write"
# How a list on an unregistered Microsoft.ContainerService answers: the RPC contract lets the provider answer
# an empty collection or a 404 (Azure/azure-resource-manager-rpc, v1.0/resource-api-reference.md); ARM's
# front door answers 409 MissingSubscriptionRegistration (seen in deployment errors, e.g.
# Azure/data-management-zone docs/EnterpriseScaleAnalytics-KnownIssues.md).
UNREGISTERED_ANSWERS = ("empty", "404", "409")
REGISTRATION_STATES = ("Registered", "NotRegistered", "Registering", "Unregistering")


@dataclass(frozen=True)
class RawListingItem:
    """Something a cluster listing returns verbatim (a malformed item, an unparseable ID): tests of robustness."""

    value: Any


def resource_key(resource_id: str) -> str:
    """Lookup key of a resource ID: ARM compares IDs case-insensitively (so resourcegroups == resourceGroups)."""
    key = resource_id.lower().rstrip("/")
    return key if key.startswith("/") else "/" + key


class SimCluster:
    """A managed cluster; `tags`, `forbidden` and `settings_answer` may be changed by tests at any time."""

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
        self.tags: dict[str, str] | None = dict(tags or {})  # None: ARM answers "tags": null
        self.provisioning_state = provisioning_state
        self.forbidden = False
        self.settings_answer: Any = None  # when set, served verbatim as the body of the settings list
        self.power_state = "Running"  # properties.powerState.code; "Stopped" after `az aks stop`
        self.silent_since: datetime | None = None  # Azure Monitor delivers nothing of it from then on
        self._tenant = tenant
        self._lock = tenant.lock
        self._settings: dict[str, tuple[str, dict[str, Any]]] = {}  # lower-case name -> (name, properties)
        self._before: dict[str, tuple[str, dict[str, Any]]] = {}  # what stale reads still see
        self._stale_reads = 0
        self._times: dict[str, tuple[datetime, datetime]] = {}  # lower-case name -> (created, last modified)

    def __repr__(self) -> str:
        return f"SimCluster({self.id!r})"

    def _changing(self) -> None:
        """Called under the lock before each change: open the window in which reads still see the old state."""
        if self._tenant.read_lag > 0:
            if self._stale_reads == 0:
                self._before = dict(self._settings)
            self._stale_reads = self._tenant.read_lag

    def stop(self, hours_ago: float = 0.0) -> None:
        """`az aks stop`: the control plane is gone, so no audit records are produced from then on."""
        self.power_state = "Stopped"
        self.silent_since = datetime.now(UTC) - timedelta(hours=hours_ago)

    def setting_id(self, name: str) -> str:
        return f"{self.id}/providers/microsoft.insights/diagnosticSettings/{name}"

    def set_setting(
        self, name: str, properties: dict[str, Any], created_days_ago: float = 30.0, by: SimPrincipal | None = None
    ) -> None:
        """Store a setting as given, bypassing ARM's rules, to build any state (even an invalid one);
        with `by`, the Activity Log records that principal writing it then."""
        stored = copy.deepcopy(properties)
        created = datetime.now(UTC) - timedelta(days=created_days_ago)
        with self._lock:
            self._changing()
            existed = name.lower() in self._settings
            self._settings[name.lower()] = (name, stored)
            self._times[name.lower()] = (created, created)
        if by is not None:
            self._tenant.activity.record(by, SETTING_WRITE, self.setting_id(name), "PUT", created, not existed)

    def times(self, name: str) -> tuple[datetime, datetime] | None:
        """When a setting was created and last modified (systemData), None when there is none."""
        with self._lock:
            return self._times.get(name.lower())

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        """A copy of the settings: name -> properties."""
        with self._lock:
            items = list(self._settings.values())
        return {name: copy.deepcopy(properties) for name, properties in items}

    def delete_setting(self, name: str, by: SimPrincipal | None = None, hours_ago: float = 0.0) -> bool:
        """Remove a setting; tells whether it existed. With `by`, the Activity Log records who, `hours_ago`."""
        with self._lock:
            if name.lower() not in self._settings:
                return False
            self._changing()
            stored_name = self._settings.pop(name.lower())[0]
            self._times.pop(name.lower(), None)
        if by is not None:
            at = datetime.now(UTC) - timedelta(hours=hours_ago)
            self._tenant.activity.record(by, SETTING_DELETE, self.setting_id(stored_name), "DELETE", at)
        return True

    def _served(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """What a read sees (under the lock): the settings before the last change while reads still lag."""
        if self._stale_reads > 0:
            self._stale_reads -= 1
            return self._before
        return self._settings

    def setting_items(self) -> list[tuple[str, dict[str, Any]]]:
        """Snapshot for serving a list: the stored objects themselves, which are never mutated."""
        with self._lock:
            return list(self._served().values())

    def get_setting(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """One setting as a read sees it (None: 404)."""
        with self._lock:
            return self._served().get(name.lower())

    def put_setting(self, name: str, properties: Any) -> tuple[str, dict[str, Any]]:
        """Create or update a setting under ARM's rules (raises rules.SettingRejected); returns what was stored.

        The check and the store share one critical section so concurrent PUTs cannot both pass the 5-setting
        or sink-reuse rule.
        """
        with self._lock:
            rules.check_put(name, properties, self._settings, ascii_id=self.id.isascii())
            stored_name = self._settings.get(name.lower(), (name, None))[0]
            self._changing()
            self._settings[name.lower()] = (stored_name, properties)
            now = datetime.now(UTC)
            self._times[name.lower()] = (self._times.get(name.lower(), (now, now))[0], now)
            return stored_name, properties


class SimSubscription:
    """A subscription; `state`, `display_name`, `forbidden`, `providers`, `unregistered_answer`,
    `empty_pages`, `mangled_pages` and `next_link_override` may be changed by tests."""

    def __init__(self, tenant: "Tenant", subscription_id: str, display_name: str, state: str, forbidden: bool) -> None:
        if state not in SUBSCRIPTION_STATES:
            raise ValueError(f"state must be one of {SUBSCRIPTION_STATES}, not {state!r}")
        self.subscription_id = subscription_id
        self.display_name = display_name
        self.state = state
        self.forbidden = forbidden
        # registrationState per provider namespace (lower-case key); unlisted namespaces are Registered.
        self.providers: dict[str, str] = {}
        self.unregistered_answer = "409"  # how the cluster list answers while Microsoft.ContainerService is not
        self.empty_pages = 0  # empty pages (with a nextLink) served before the first real page of a listing
        self.mangled_pages: dict[int, Any] = {}  # 1-based page of the cluster listing -> its `value`, served as given
        self.next_link_override: str | None = None  # served as every page's nextLink (a looping or foreign link)
        self._tenant = tenant
        self._listing: list[SimCluster | RawListingItem] = []

    def registration(self, namespace: str) -> str:
        return self.providers.get(namespace.lower(), "Registered")

    def unregister(self, namespace: str = CONTAINER_SERVICE, answer: str = "409") -> None:
        """Mark a provider NotRegistered; for Microsoft.ContainerService, `answer` picks how lists answer."""
        if answer not in UNREGISTERED_ANSWERS:
            raise ValueError(f"answer must be one of {UNREGISTERED_ANSWERS}, not {answer!r}")
        self.providers[namespace.lower()] = "NotRegistered"
        if namespace.lower() == CONTAINER_SERVICE.lower():
            self.unregistered_answer = answer

    def registered(self, namespace: str) -> bool:
        return self.registration(namespace) == "Registered"

    def add_listing_item(self, value: Any) -> None:
        """Append something the cluster listing returns verbatim, in place among the clusters."""
        with self._tenant.lock:
            self._listing.append(RawListingItem(value))

    def __repr__(self) -> str:
        return f"SimSubscription({self.subscription_id!r}, {self.display_name!r})"

    @property
    def clusters(self) -> list[SimCluster]:
        with self._tenant.lock:
            return [entry for entry in self._listing if isinstance(entry, SimCluster)]

    def add_cluster(
        self,
        name: str,
        resource_group: str = "rg-aks",
        location: str = "westeurope",
        tags: dict[str, str] | None = None,
        provisioning_state: str = "Succeeded",
        id_style: str = "arm",
        created_by: SimPrincipal | None = None,
        created_days_ago: float = 0.0,
    ) -> SimCluster:
        """A cluster; with `created_by`, the Activity Log records its creation `created_days_ago`
        (older than 90 days: gone from the log, as in Azure)."""
        cluster = SimCluster(
            self._tenant, self.subscription_id, name, resource_group, location, tags, provisioning_state, id_style
        )
        self._tenant.register(self, cluster)
        if created_by is not None:
            at = datetime.now(UTC) - timedelta(days=created_days_ago)
            self._tenant.activity.record(created_by, CLUSTER_WRITE, cluster.id, "PUT", at, created=True)
        return cluster

    def cluster_page(
        self, start: int, count: int, resource_group: str | None = None
    ) -> tuple[list[SimCluster | RawListingItem], bool]:
        """Entries [start, start+count) of the listing (optionally one resource group's) and whether more follow."""
        with self._tenant.lock:
            entries: list[SimCluster | RawListingItem] = self._listing
            if resource_group is not None:
                group = resource_group.lower()
                entries = [c for c in entries if isinstance(c, SimCluster) and c.resource_group.lower() == group]
            return entries[start : start + count], start + count < len(entries)


class Tenant:
    """The whole simulated directory. GUIDs are generated when not given.

    `access` holds its role assignments: the auditor's identity starts with the read roles of
    infra/roles/ at the tenant root (what the deployment grants on every subscription, with delivery
    checks on), so whatever the auditor sends outside them is refused as ARM refuses it; a test
    narrows them, or grants the remediation roles (azsim/access.py)."""

    def __init__(self, tenant_id: str | None = None, read_lag: int = 0) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.read_lag = read_lag  # reads of a cluster's settings that still see the state before each change
        self.lock = threading.Lock()
        self._subscriptions: dict[str, SimSubscription] = {}
        self._clusters: dict[str, SimCluster] = {}
        self._destinations: dict[str, Destination] = {}
        self._principals: dict[str, SimPrincipal] = {}
        self.activity = ActivityLog(self.tenant_id)
        self.access = Access()
        grant_reads(self.access)
        # API versions a provider lists per resource type (Microsoft.Datadog/monitors -> ...): kept when the
        # resources go, as a provider's resourceTypes do not depend on what exists.
        self.resource_types: dict[str, tuple[str, ...]] = {}

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

    @property
    def clusters(self) -> list[SimCluster]:
        with self.lock:
            return list(self._clusters.values())

    def add_principal(self, principal: SimPrincipal) -> SimPrincipal:
        """A named user, service principal or managed identity; tokens issued to its object or app ID are its."""
        with self.lock:
            for key in (principal.object_id, principal.app_id):
                if key:
                    self._principals[key.lower()] = principal
        return principal

    def principal(self, token_principal: str) -> SimPrincipal:
        """Who a token's principal is; an unnamed one is an application known only by its ID."""
        found = self._principals.get(token_principal.lower())
        return found or service_principal(token_principal, token_principal, app_id=token_principal)

    # --- destinations --------------------------------------------------------------------------------

    def add_workspace(self, resource_id: str, **properties: Any) -> SimWorkspace:
        return self._add_destination(SimWorkspace(resource_id, **properties))

    def add_storage_account(self, resource_id: str, **properties: Any) -> SimStorageAccount:
        return self._add_destination(SimStorageAccount(resource_id, **properties))

    def add_resource(self, resource_id: str, resource_type: str, **properties: Any) -> SimResource:
        """An Event Hubs authorization rule, or a partner solution's resource (marketplacePartnerId)."""
        resource = SimResource(resource_id, resource_type, **properties)
        self.resource_types[resource_type.lower()] = resource.api_versions
        return self._add_destination(resource)

    def _add_destination(self, destination: Any) -> Any:
        key = resource_key(destination.id)
        with self.lock:
            if key in self._destinations:
                raise ValueError(f"destination {destination.id} already exists")
            self._destinations[key] = destination
        return destination

    def find_destination(self, resource_id: str) -> Destination | None:
        return self._destinations.get(resource_key(resource_id))

    def remove_destination(self, resource_id: str) -> None:
        """Delete a destination (KeyError when there is none): settings still name it, as in Azure."""
        with self.lock:
            del self._destinations[resource_key(resource_id)]

    @property
    def destinations(self) -> list[Destination]:
        with self.lock:
            return list(self._destinations.values())

    def remove_cluster(self, resource_id: str) -> None:
        """Delete a cluster (with its settings); KeyError when there is none."""
        with self.lock:
            cluster = self._clusters.pop(resource_key(resource_id))
            self._subscriptions[cluster.subscription_id.lower()]._listing.remove(cluster)

    def register(self, subscription: SimSubscription, cluster: SimCluster) -> None:
        """Index a new cluster; the tenant keeps the index and the subscriptions' lists in step."""
        key = resource_key(cluster.id)
        with self.lock:
            if key in self._clusters:
                raise ValueError(f"cluster {cluster.id} already exists")
            self._clusters[key] = cluster
            subscription._listing.append(cluster)
