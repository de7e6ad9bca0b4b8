"""Every evaluation to an Event Grid custom topic, as CloudEvents 1.0 (docs/reference.md, "Notifications").

One event per finding: `subject` the cluster ID, `data` the finding JSON, `type`
EVENT_TYPE. Events are sent in batches that stay under Event Grid's 1 MB request limit.
Key authentication when AUDITOR_EVENTGRID_TOPIC_KEY is set, else the managed identity
(EventGrid Data Sender). The SDK's retry policy retries 429 and 5xx.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.messaging import CloudEvent
from azure.eventgrid.aio import EventGridPublisherClient

from auditor.azure.egress import Egress, GuardedTransport, HostPinPolicy
from auditor.azure.transport import BACKOFF_FACTOR, RETRIES
from auditor.model import Finding
from auditor.settings import CONTROL

EVENT_TYPE = CONTROL.event_type  # "AksAudit.C0254.FindingEvaluated"; subscribers filter on it
EVENT_SOURCE = "/aks-audit-auditor"
MAX_REQUEST_BYTES = 1_000_000  # Event Grid rejects larger publish requests
_BATCH_BUDGET = 900_000  # headroom for the envelope the SDK adds around each event
_ENVELOPE_BYTES = 400


def cloud_event(finding: Finding, when: datetime | None = None) -> CloudEvent:
    return CloudEvent(
        source=EVENT_SOURCE,
        type=EVENT_TYPE,
        subject=finding.resource_id,
        data=finding.to_json(),
        time=when or datetime.now(UTC),
        id=str(uuid.uuid4()),
        datacontenttype="application/json",
    )


def batches(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Group findings so each publish request stays under the limit (a finding is a few KB at most)."""
    groups: list[list[Finding]] = []
    size = 0
    for finding in findings:
        weight = len(json.dumps(finding.to_json()).encode()) + _ENVELOPE_BYTES
        if not groups or size + weight > _BATCH_BUDGET:
            groups.append([])
            size = 0
        groups[-1].append(finding)
        size += weight
    return groups


class EventGridPublisher:
    """The findings topic, through the Event Grid SDK on the shared transport."""

    def __init__(
        self,
        endpoint: str,
        credential: AzureKeyCredential | AsyncTokenCredential,
        transport: GuardedTransport,
        egress: Egress,
    ) -> None:
        self._client = EventGridPublisherClient(
            endpoint,
            credential,
            transport=transport,
            per_call_policies=[HostPinPolicy(egress)],  # ahead of the key or token policy
            permit_redirects=False,  # Event Grid sends none; one could carry the key elsewhere
            retry_total=RETRIES,
            retry_backoff_factor=BACKOFF_FACTOR,
        )

    async def publish(self, findings: Sequence[Finding]) -> int:
        """Send every finding; returns the number of publish requests."""
        sent = 0
        for group in batches(findings):
            events: list[Any] = [cloud_event(finding) for finding in group]
            await self._client.send(events)
            sent += 1
        return sent

    async def close(self) -> None:
        await self._client.close()
