"""ARM resource routes: subscriptions, resource providers, AKS clusters, diagnostic settings and their categories
(the destinations' routes are in azsim/destination_routes.py).

Paths arrive split into segments, percent-decoded (original case and lower case): ARM matches paths
case-insensitively, while names (setting names on PUT) keep the caller's case and IDs in answers keep the
stored case. Answers follow the real shapes (azsim/responses.py).
"""

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from azsim import activity, destination_routes
from azsim.access import SUBSCRIPTION_READ, Need
from azsim.categories import AKS_CATEGORIES, DiagnosticCategory
from azsim.principals import SimPrincipal
from azsim.responses import error, flat_error, json_response, missing_registration, not_allowed, refused
from azsim.rules import SettingRejected
from azsim.tenant import (
    CONTAINER_SERVICE,
    INSIGHTS,
    SETTING_WRITE,
    RawListingItem,
    SimCluster,
    SimSubscription,
    Tenant,
)

_CLUSTERS = ["providers", "microsoft.containerservice", "managedclusters"]
_INSIGHTS = ["providers", "microsoft.insights"]
_ACTIVITY_LOG = ["providers", "microsoft.insights", "eventtypes", "management", "values"]
_KUBERNETES_VERSIONS = ("1.30.9", "1.31.5", "1.32.2")
_WRITES = frozenset({"PUT", "PATCH", "DELETE", "POST"})


def is_write(method: str) -> bool:
    return method in _WRITES


class ArmRoutes:
    """Answers one authenticated, unthrottled ARM request from the tenant model."""

    def __init__(self, tenant: Tenant, page_size: int) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.tenant = tenant
        self.page_size = page_size
        self.endpoint = ""  # known once the server has its port; used in nextLink
        self.blob_front = ""  # the storage accounts' blob service (primaryEndpoints.blob)

    async def dispatch(
        self, request: web.Request, parts: list[str], lower: list[str], principal: str = ""
    ) -> web.Response:
        """Answer one request; `principal` (who the token was issued to) is recorded with every write."""
        method = request.method
        caller = self.tenant.principal(principal)
        if lower[0] != "subscriptions":
            return _not_found(method, request.path)
        if len(lower) == 1:
            return self._list_subscriptions(request, principal) if method == "GET" else not_allowed(method)
        subscription = self.tenant.find_subscription(parts[1])
        if destination_routes.is_destination_path(lower):
            return destination_routes.answer(self.tenant, request, parts, lower, subscription, self.blob_front, caller)
        if subscription is None:
            if (
                len(lower) == 4
                and lower[2] == "providers"
                and destination_routes.holds_destinations(self.tenant, parts[1])
            ):
                return self._provider(request, None, parts[1], parts[3], None)
            return error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        n = len(lower)
        if n == 2:
            return json_response(self._subscription_json(subscription)) if method == "GET" else not_allowed(method)
        if lower[2] == "providers" and (n == 4 or (n == 5 and lower[4] == "register")):
            return self._provider(request, subscription, parts[1], parts[3], lower[4] if n == 5 else None)
        if lower[2:] == _ACTIVITY_LOG:
            return self._activity_log(request, subscription, parts, caller)
        if subscription.forbidden:
            return refused(method, parts, caller)
        if is_write(method) and subscription.state in ("Disabled", "Deleted"):
            return error(
                409,
                "ReadOnlyDisabledSubscription",
                f"The subscription '{subscription.subscription_id}' is disabled and therefore marked as "
                "read only. You cannot perform any write actions on this subscription until it is re-enabled.",
            )
        clusters_path = (n == 5 and lower[2:5] == _CLUSTERS) or (
            n >= 7 and lower[2] == "resourcegroups" and lower[4:7] == _CLUSTERS
        )
        if clusters_path and not subscription.registered(CONTAINER_SERVICE):
            return _unregistered(subscription, n in (5, 7))
        if n == 5 and lower[2:5] == _CLUSTERS:
            return self._list_clusters(request, subscription, None) if method == "GET" else not_allowed(method)
        if n >= 7 and lower[2] == "resourcegroups" and lower[4:7] == _CLUSTERS:
            if n == 7:
                return self._list_clusters(request, subscription, parts[3]) if method == "GET" else not_allowed(method)
            cluster = self.tenant.find_cluster("/" + "/".join(lower[:8]))
            if cluster is None:
                return error(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.ContainerService/managedClusters/{parts[7]}' under resource "
                    f"group '{parts[3]}' was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix",
                )
            if n == 8:
                return json_response(self._cluster_json(cluster)) if method == "GET" else not_allowed(method)
            if n in (11, 12) and lower[8:10] == _INSIGHTS:
                if not subscription.registered(INSIGHTS):
                    return missing_registration(INSIGHTS)
                return await self._insights(request, cluster, parts, lower, caller)
        return _not_found(method, request.path)

    def _provider(
        self,
        request: web.Request,
        subscription: SimSubscription | None,
        subscription_id: str,
        namespace: str,
        action: str | None,
    ) -> web.Response:
        """GET a provider's registration and the resource types (with API versions) of the tenant's resources
        there, or POST its `register` action (recorded, so tests can see it was sent)."""
        if action is None and request.method == "GET":
            state = subscription.registration(namespace) if subscription is not None else "Registered"
            return json_response(
                {
                    "id": f"/subscriptions/{subscription_id}/providers/{namespace}",
                    "namespace": namespace,
                    "registrationPolicy": "RegistrationRequired",
                    "registrationState": state,
                    "resourceTypes": destination_routes.provider_types(self.tenant, namespace),
                }
            )
        if action == "register" and request.method == "POST" and subscription is not None:
            subscription.providers[namespace.lower()] = "Registered"
            return json_response({"namespace": namespace, "registrationState": "Registering"})
        return not_allowed(request.method)

    async def _insights(
        self, request: web.Request, cluster: SimCluster, parts: list[str], lower: list[str], caller: SimPrincipal
    ) -> web.Response:
        method = request.method
        kind = lower[10]
        if kind not in ("diagnosticsettings", "diagnosticsettingscategories"):
            return _not_found(method, request.path)
        if cluster.forbidden:
            return refused(method, parts, caller)
        if kind == "diagnosticsettingscategories":
            if method != "GET":
                return not_allowed(method)
            if len(lower) == 11:
                return json_response({"value": [_category_json(cluster, c) for c in AKS_CATEGORIES]})
            for category in AKS_CATEGORIES:
                if category.name.lower() == lower[11]:
                    return json_response(_category_json(cluster, category))
            return flat_error(404, "ResourceNotFound", f"Category '{parts[11]}' is not supported.")
        if len(lower) == 11:
            if method != "GET":
                return not_allowed(method)
            # A cluster whose ID holds non-ASCII characters can have no diagnostic settings (Azure documents the
            # limitation, not the answer); an empty list is the plausible one, a fault can make it anything else.
            if cluster.settings_answer is not None:  # a body of the wrong shape, to prove the reader's robustness
                return json_response(cluster.settings_answer)
            return json_response(
                {"value": [_setting_json(cluster, name, props) for name, props in cluster.setting_items()]}
            )
        name = parts[11]
        if method == "GET":
            found = cluster.get_setting(name)
            if found is None:
                return flat_error(404, "ResourceNotFound", f"The diagnostic setting '{name}' doesn't exist.")
            return json_response(_setting_json(cluster, *found))
        if method == "DELETE":
            return web.Response(status=200 if cluster.delete_setting(name, by=caller) else 204)
        if method == "PUT":
            return await self._put_setting(request, cluster, name, caller)
        return not_allowed(method)

    async def _put_setting(
        self, request: web.Request, cluster: SimCluster, name: str, caller: SimPrincipal
    ) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            return flat_error(
                400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}"
            )
        existed = cluster.get_setting(name) is not None
        try:
            stored = cluster.put_setting(name, body.get("properties") if isinstance(body, dict) else None)
        except SettingRejected as exc:
            return flat_error(exc.status, exc.code, exc.message)
        self.tenant.activity.record(caller, SETTING_WRITE, cluster.setting_id(stored[0]), "PUT", created=not existed)
        return json_response(_setting_json(cluster, *stored))

    def _activity_log(
        self, request: web.Request, subscription: SimSubscription, parts: list[str], caller: SimPrincipal
    ) -> web.Response:
        """The subscription's management events (azsim/activity.py), paged, filtered and selected."""
        if request.method != "GET":
            return not_allowed(request.method)
        if subscription.forbidden:
            return refused(request.method, parts, caller)
        try:
            entries = self.tenant.activity.query(subscription.subscription_id, request.query.get("$filter", ""))
        except activity.BadFilter as exc:
            return error(400, "BadRequest", str(exc))
        skip = request.query.get("$skipToken", "0")
        if not skip.isdigit():
            return _bad_skip_token()
        own = activity.link(self.endpoint, request.path, dict(request.query))
        return json_response(activity.page(entries, int(skip), request.query.get("$select"), own))

    def _list_subscriptions(self, request: web.Request, principal: str) -> web.Response:
        """The subscriptions on which the caller may read the subscription: the docs say only that
        Microsoft.Resources/subscriptions/read "Gets the list of subscriptions", and a list never answers 403."""
        subscriptions = [
            s
            for s in self.tenant.subscriptions
            if self.tenant.access.allows(principal, Need(SUBSCRIPTION_READ, f"/subscriptions/{s.subscription_id}"))
        ]
        start = _skip(request)
        if start is None:
            return _bad_skip_token()
        page = [self._subscription_json(s) for s in subscriptions[start : start + self.page_size]]
        body: dict[str, Any] = {"value": page}
        if start + self.page_size < len(subscriptions):
            body["nextLink"] = self._next_link(request, "/subscriptions", start + self.page_size)
        return json_response(body)

    def _list_clusters(
        self, request: web.Request, subscription: SimSubscription, resource_group: str | None
    ) -> web.Response:
        token = request.query.get("$skipToken", "0")
        scope = f"/subscriptions/{subscription.subscription_id}"
        if resource_group is not None:
            scope += f"/resourceGroups/{resource_group}"
        path = f"{scope}/providers/Microsoft.ContainerService/managedClusters"
        empty = int(token[1:]) if token[:1] == "e" and token[1:].isdigit() else None
        if empty is not None or (token == "0" and subscription.empty_pages):
            # ARM's paging contract allows pages with no items and a nextLink: serve them before the real ones.
            served = 0 if empty is None else empty
            following = f"e{served + 1}" if served + 1 < subscription.empty_pages else "0p"
            return json_response({"value": [], "nextLink": self._next_link(request, path, following)})
        start = _skip(request)
        if start is None:
            return _bad_skip_token()
        entries, more = subscription.cluster_page(start, self.page_size, resource_group)
        page = start // self.page_size + 1 + subscription.empty_pages
        value: Any = [
            entry.value if isinstance(entry, RawListingItem) else self._cluster_json(entry) for entry in entries
        ]
        if page in subscription.mangled_pages:
            value = subscription.mangled_pages[page]
        body: dict[str, Any] = {"value": value}
        if more:
            body["nextLink"] = self._next_link(request, path, str(start + self.page_size))
        if subscription.next_link_override is not None:
            body["nextLink"] = subscription.next_link_override
        return json_response(body)

    def _next_link(self, request: web.Request, path: str, skip: int | str) -> str:
        return f"{self.endpoint}{quote(path)}?api-version={request.query['api-version']}&$skipToken={skip}"

    def _subscription_json(self, subscription: SimSubscription) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{subscription.subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": subscription.subscription_id,
            "tenantId": self.tenant.tenant_id,
            "displayName": subscription.display_name,
            "state": subscription.state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }

    def _cluster_json(self, cluster: SimCluster) -> dict[str, Any]:
        """A managed cluster as ARM lists it; details derive from a hash of the ID so they are stable."""
        # surrogatepass: a hostile test's name may hold a lone surrogate (azsim.samples.HOSTILE)
        digest = hashlib.md5(cluster.id.lower().encode("utf-8", "surrogatepass")).hexdigest()
        version = _KUBERNETES_VERSIONS[int(digest[0], 16) % len(_KUBERNETES_VERSIONS)]
        dns_prefix = f"{cluster.name[:30]}-{cluster.resource_group[:16]}-{cluster.subscription_id[:6]}"
        host = f"{dns_prefix}-{digest[:8]}"
        state = cluster.provisioning_state
        return {
            "id": cluster.id,
            "location": cluster.location,
            "name": cluster.name,
            "tags": dict(cluster.tags) if cluster.tags is not None else None,  # ARM sends null for no tags
            "type": "Microsoft.ContainerService/ManagedClusters",
            "eTag": str(uuid.UUID(digest)),
            "sku": {"name": "Base", "tier": "Standard"},
            "identity": {
                "type": "SystemAssigned",
                "principalId": str(uuid.UUID(digest[::-1])),
                "tenantId": self.tenant.tenant_id,
            },
            "properties": {
                "provisioningState": state,
                "powerState": {"code": cluster.power_state},
                "kubernetesVersion": version,
                "currentKubernetesVersion": version,
                "maxAgentPools": 100,
                "dnsPrefix": dns_prefix,
                "fqdn": f"{host}.hcp.{cluster.location}.azmk8s.io",
                "azurePortalFQDN": f"{host}.portal.hcp.{cluster.location}.azmk8s.io",
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "count": 3,
                        "vmSize": "Standard_D4ds_v5",
                        "osDiskSizeGB": 128,
                        "osDiskType": "Ephemeral",
                        "maxPods": 110,
                        "type": "VirtualMachineScaleSets",
                        "availabilityZones": ["1", "2", "3"],
                        "enableAutoScaling": True,
                        "minCount": 3,
                        "maxCount": 5,
                        "mode": "System",
                        "osType": "Linux",
                        "osSKU": "AzureLinux",
                        "provisioningState": state,
                        "powerState": {"code": cluster.power_state},
                        "orchestratorVersion": version,
                        "currentOrchestratorVersion": version,
                    }
                ],
                "nodeResourceGroup": f"MC_{cluster.resource_group}_{cluster.name}_{cluster.location}",
                "enableRBAC": True,
                "aadProfile": {"managed": True, "enableAzureRBAC": True, "tenantID": self.tenant.tenant_id},
                "disableLocalAccounts": True,
                "networkProfile": {
                    "networkPlugin": "azure",
                    "networkPluginMode": "overlay",
                    "podCidr": "10.244.0.0/16",
                    "serviceCidr": "10.0.0.0/16",
                    "dnsServiceIP": "10.0.0.10",
                    "outboundType": "loadBalancer",
                    "loadBalancerSku": "standard",
                },
                "oidcIssuerProfile": {"enabled": True},
            },
        }


def _setting_json(cluster: SimCluster, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"{cluster.id}/providers/microsoft.insights/diagnosticSettings/{name}",
        "type": "Microsoft.Insights/diagnosticSettings",
        "name": name,
        "properties": properties,
    }
    times = cluster.times(name)
    if times is not None:  # systemData (2021-05-01-preview: DiagnosticSettingsResource has it)
        body["systemData"] = {"createdAt": _arm_time(times[0]), "lastModifiedAt": _arm_time(times[1])}
    return body


def _arm_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # ARM writes seven fractional digits


def _category_json(cluster: SimCluster, category: DiagnosticCategory) -> dict[str, Any]:
    properties: dict[str, Any] = {"categoryType": category.category_type}
    if category.groups:
        properties["categoryGroups"] = list(category.groups)
    return {
        "id": f"{cluster.id}/providers/microsoft.insights/diagnosticSettingsCategories/{category.name}",
        "type": "microsoft.insights/diagnosticSettingsCategories",
        "name": category.name,
        "properties": properties,
    }


def _skip(request: web.Request) -> int | None:
    """Offset carried by `$skipToken` (0 on the first page, "0p" after empty pages, "fresh<n>" from a next-link
    fault that never ends the listing: the first page again); None when not one of ours."""
    token = request.query.get("$skipToken", "0").removesuffix("p")
    if token.startswith("fresh") and token[5:].isdigit():
        return 0
    return int(token) if token.isdigit() else None


def _unregistered(subscription: SimSubscription, listing: bool) -> web.Response:
    """How a request on an unregistered Microsoft.ContainerService is answered, as the subscription says."""
    answer = subscription.unregistered_answer
    if answer == "409":
        return missing_registration(CONTAINER_SERVICE)
    if answer == "empty" and listing:
        return json_response({"value": []})
    # Providers answer an unregistered subscription with SubscriptionNotFound (seen from Microsoft.Storage).
    return error(404, "SubscriptionNotFound", f"The subscription '{subscription.subscription_id}' could not be found.")


def _bad_skip_token() -> web.Response:
    return error(400, "InvalidSkipToken", "The $skipToken is not valid.")


def _not_found(method: str, path: str) -> web.Response:
    return error(404, "NotFound", f"The simulated ARM has no route for {method} {path}.")
