"""What ARM's Event Grid system topic (Microsoft.Resources.Subscriptions) publishes after a change.

The shape follows the public samples (Event Grid schema, data version 2); the demo and the
benchmarks use it to drive the event path the way Azure would. A diagnostic-setting change is
named in one of two forms, both of which ARM uses: the extension resource's own operation
(`Microsoft.Insights/diagnosticSettings/write`) or the one nested under the parent resource
type (`Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/write`,
as the provider operations list names it).

With a `caller`, the data carries that principal's `claims` (a map of strings, as the Event Grid
system-event schema types it) and `httpRequest` (clientRequestId, clientIpAddress, method; the
schema's url is left out).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from azsim.principals import SimPrincipal

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"


def resource_event(
    event_type: str, operation: str, resource_uri: str, tenant_id: str = "", caller: SimPrincipal | None = None
) -> dict[str, Any]:
    subscription = resource_uri.split("/")[2] if resource_uri.lower().startswith("/subscriptions/") else ""
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{subscription}",
        "subject": resource_uri,
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "authorization": {"scope": resource_uri, "action": operation, "evidence": {"role": "Contributor"}},
            "correlationId": str(uuid.uuid4()),
            "resourceProvider": operation.split("/", maxsplit=1)[0],
            "resourceUri": resource_uri,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": subscription,
            "tenantId": tenant_id,
        },
    }
    if caller is not None:
        method = "DELETE" if event_type == DELETE_SUCCESS else "PUT"
        event["data"]["claims"] = caller.claims(tenant_id, "https://management.core.windows.net/")
        event["data"]["httpRequest"] = caller.http_request(method)
    return event


def cluster_written(cluster_id: str, tenant_id: str = "", caller: SimPrincipal | None = None) -> dict[str, Any]:
    return resource_event(
        WRITE_SUCCESS, "Microsoft.ContainerService/managedClusters/write", cluster_id, tenant_id, caller
    )


SETTING_FORMS = ("insights", "nested")


def setting_changed(
    cluster_id: str,
    name: str,
    deleted: bool = False,
    tenant_id: str = "",
    form: str = "insights",
    caller: SimPrincipal | None = None,
) -> dict[str, Any]:
    if form not in SETTING_FORMS:
        raise ValueError(f"form must be one of {SETTING_FORMS}, not {form!r}")
    verb = "delete" if deleted else "write"
    operation = f"Microsoft.Insights/diagnosticSettings/{verb}"
    if form == "nested":
        operation = f"Microsoft.ContainerService/managedClusters/providers/{operation}"
    return resource_event(
        DELETE_SUCCESS if deleted else WRITE_SUCCESS,
        operation,
        f"{cluster_id}/providers/microsoft.insights/diagnosticSettings/{name}",
        tenant_id,
        caller,
    )
