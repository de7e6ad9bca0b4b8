"""Queue messages between the functions: deferred cluster checks and per-subscription scans. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass

from auditor import json_input
from auditor.attribution import Origin
from auditor.events import MAX_REREADS, Expectation
from auditor.model import Change
from auditor.resource_id import is_subscription_id, parse_cluster_id

CHECK_QUEUE = "aks-audit-checks"
SCAN_QUEUE = "aks-audit-scans"


class MalformedMessage(ValueError):
    """A queue message that no version of the auditor wrote."""


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """Evaluate one cluster (after the creation grace period, or when a check failed and is retried)."""

    cluster_id: str
    trigger: str
    event_id: str = ""
    expectation: Expectation | None = None  # what a drift event said happened, to catch a stale read
    origin: Origin = Origin.SCAN
    change: Change | None = None  # who made the change behind the check, as far as it is kept

    def to_json(self) -> str:
        body: dict[str, object] = {
            "kind": "check",
            "clusterId": self.cluster_id,
            "trigger": self.trigger,
            "eventId": self.event_id,
            "origin": str(self.origin),
        }
        if self.change is not None:
            body["change"] = self.change.to_json()
        if self.expectation is not None:
            e = self.expectation
            body["expect"] = {
                "setting": e.setting,
                "present": e.present,
                "rereads": e.rereads,
                "firstRead": e.first_read,
            }
        return json.dumps(body)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Scan one subscription: the unit of the timer's fan-out."""

    subscription_id: str

    def to_json(self) -> str:
        return json.dumps({"kind": "scan", "subscriptionId": self.subscription_id})


def parse_message(text: str) -> CheckRequest | ScanRequest:
    try:
        body = json_input.loads(text, json_input.MAX_QUEUE_MESSAGE_BYTES, "queue message")
    except json_input.BadDocument as exc:
        raise MalformedMessage(str(exc)) from None
    if not isinstance(body, dict):
        raise MalformedMessage("queue message is not a JSON object")
    kind = body.get("kind")
    if kind == "check":
        cluster_id = body.get("clusterId")
        if not isinstance(cluster_id, str):
            raise MalformedMessage("check message has no clusterId")
        try:
            parse_cluster_id(cluster_id)
        except ValueError as exc:
            raise MalformedMessage(str(exc)) from None
        origin = body.get("origin") or Origin.SCAN
        if origin not in set(Origin):
            raise MalformedMessage(f"check message has an unknown origin {str(origin)[:40]!r}")
        return CheckRequest(
            cluster_id,
            str(body.get("trigger") or "deferred check"),
            str(body.get("eventId") or ""),
            _expectation(body.get("expect")),
            Origin(origin),
            _change(body.get("change")),
        )
    if kind == "scan":
        subscription_id = body.get("subscriptionId")
        if not isinstance(subscription_id, str) or not is_subscription_id(subscription_id):
            raise MalformedMessage("scan message has no valid subscriptionId")
        return ScanRequest(subscription_id.lower())
    raise MalformedMessage(f"unknown queue message kind {str(kind)[:40]!r}")


def _expectation(raw: object) -> Expectation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedMessage("check message has an expect that is not an object")
    setting, present, rereads, first = (raw.get(key) for key in ("setting", "present", "rereads", "firstRead"))
    if not isinstance(setting, str) or not 0 < len(setting) <= 260 or not isinstance(present, bool):
        raise MalformedMessage("check message has an expect without a setting name and present flag")
    if not isinstance(rereads, int) or isinstance(rereads, bool) or not 0 <= rereads <= MAX_REREADS:
        raise MalformedMessage("check message has an expect with a re-read count out of range")
    return Expectation(setting, present, rereads, first if isinstance(first, str) else "")


def _change(raw: object) -> Change | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedMessage("check message has a change that is not an object")
    try:
        return Change.from_json(raw)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(f"check message has a change that cannot be read ({exc})") from None
