"""Pacing reads per subscription on ARM's remaining-reads headers.

ARM throttles reads with a token bucket per subscription and principal (about 250 burst,
25/s refill). Retry-After alone makes a throttled scan stutter: every 429 costs at least a
second. Instead, the pacer watches the remaining-reads headers. While plenty is left,
requests go at full concurrency; once it falls to a low-water mark (enough for the reads
already in flight), requests are spaced at the refill rate, which the pacer measures from
the header itself (tokens seen now, minus tokens seen before, plus reads spent in between,
over the elapsed time). Throughput thus stays close to the bucket's real limit, whatever
it is, without 429s.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

# ARM's 2024 throttling model (Azure docs, "Understand how Azure Resource Manager throttles
# requests"): a token bucket per subscription, principal and operation type, plus a global
# bucket per subscription shared by every principal (15 times the size). Each answer carries
# what is left of both; whichever is lower binds.
REMAINING_READS = "x-ms-ratelimit-remaining-subscription-reads"
REMAINING_GLOBAL_READS = "x-ms-ratelimit-remaining-subscription-global-reads"
READ_BUCKETS = (REMAINING_READS, REMAINING_GLOBAL_READS)
_SUBSCRIPTION_IN_PATH = re.compile(r"^https?://[^/]+/subscriptions/([0-9a-fA-F-]{36})(?:[/?]|$)")
_ASSUMED_REFILL = 25.0  # ARM's documented per-subscription read refill, until measured
_MIN_WINDOW = 0.25  # seconds of observation before trusting a measured refill rate
_MAX_WINDOW = 5.0  # re-anchor the measurement after this long, to follow changes
_TARGET = 10  # tokens to keep in hand once paced (in-flight reads are few at the refill rate)


@dataclass(slots=True)
class _Bucket:
    """What the pacer knows of one of a subscription's buckets."""

    remaining: int
    anchor_time: float
    anchor_remaining: int
    spent: int = 0  # reads answered (each took one token) since the anchor
    refill: float = _ASSUMED_REFILL
    next_slot: float = 0.0


@dataclass(slots=True)
class _Subscription:
    """One subscription's buckets and the reads it has in flight."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)  # by header name
    in_flight: int = 0  # reads sent and not yet answered: each will take a token from every bucket


class ReadPacer:
    """Per-subscription read pacing shared by every client of one scan."""

    def __init__(self, low_water: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._low_water = max(1, low_water)
        self._clock = clock
        self._subscriptions: dict[str, _Subscription] = {}

    def delay(self, subscription_id: str) -> float:
        """Seconds to wait before the next read of this subscription (0 while tokens are plentiful)."""
        subscription = self._subscriptions.setdefault(subscription_id, _Subscription())
        now = self._clock()
        wait = 0.0
        for bucket in subscription.buckets.values():
            available = bucket.remaining - subscription.in_flight
            if available > self._low_water:
                continue
            # Spend the margin down to a few tokens, then hold there: faster than the refill
            # while above the target, slower below it, so the estimate's error cannot drain the bucket.
            correction = 1.0 + 0.5 * (_TARGET - available) / _TARGET
            interval = min(2.0, max(0.25, correction)) / bucket.refill
            slot = max(now, bucket.next_slot)
            bucket.next_slot = slot + interval
            wait = max(wait, slot - now)
        return wait

    def observe(self, subscription_id: str, remaining: Mapping[str, int], took_token: bool = True) -> None:
        """Record an answer and what it says is left in each bucket (a 429 takes no token)."""
        now = self._clock()
        subscription = self._subscriptions.setdefault(subscription_id, _Subscription())
        subscription.in_flight = max(0, subscription.in_flight - 1)
        for header, left in remaining.items():
            bucket = subscription.buckets.get(header)
            if bucket is None:
                subscription.buckets[header] = _Bucket(left, now, left)
                continue
            if now - bucket.anchor_time > _MAX_WINDOW:  # re-anchor; keep the rate measured so far
                bucket.remaining, bucket.anchor_time, bucket.anchor_remaining, bucket.spent = left, now, left, 0
                continue
            bucket.spent += int(took_token)
            elapsed = now - bucket.anchor_time
            if elapsed >= _MIN_WINDOW:
                measured = (left - bucket.anchor_remaining + bucket.spent) / elapsed
                bucket.refill = max(1.0, measured)
            bucket.remaining = left

    def sent(self, subscription_id: str) -> None:
        """A read left for ARM: in flight until `observe` or `abandon` (it will take a token)."""
        self._subscriptions.setdefault(subscription_id, _Subscription()).in_flight += 1

    def abandon(self, subscription_id: str) -> None:
        """A read ended without a remaining-reads header (a transport error, say)."""
        subscription = self._subscriptions.get(subscription_id)
        if subscription is not None:
            subscription.in_flight = max(0, subscription.in_flight - 1)

    def refill_rate(self, subscription_id: str, header: str = REMAINING_READS) -> float | None:
        subscription = self._subscriptions.get(subscription_id)
        bucket = subscription.buckets.get(header) if subscription is not None else None
        return None if bucket is None else bucket.refill


def subscription_of(url: str) -> str | None:
    match = _SUBSCRIPTION_IN_PATH.match(url)
    return match.group(1).lower() if match else None


class PacingPolicy(AsyncHTTPPolicy[Any, Any]):
    """azure-core policy (per retry) that waits for the pacer and feeds it every answer."""

    def __init__(self, pacer: ReadPacer) -> None:
        super().__init__()
        self._pacer = pacer

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        http_request = request.http_request
        subscription = subscription_of(http_request.url) if http_request.method == "GET" else None
        if subscription is None:
            return await self.next.send(request)
        wait = self._pacer.delay(subscription)
        if wait > 0:
            await asyncio.sleep(wait)
        self._pacer.sent(subscription)
        observed = False
        try:
            response = await self.next.send(request)
            headers = response.http_response.headers
            remaining = {
                name: int(value) for name in READ_BUCKETS if (value := (headers.get(name) or "").strip()).isdigit()
            }
            if remaining:
                self._pacer.observe(subscription, remaining, response.http_response.status_code != 429)
                observed = True
            return response
        finally:
            if not observed:
                self._pacer.abandon(subscription)
