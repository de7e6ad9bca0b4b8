"""ARM's request throttling as of 2024: token buckets per subscription, principal and operation type.

Source: Azure docs, "Understand how Azure Resource Manager throttles requests" (regional
throttling and token bucket algorithm). Subscription limits: reads 250 burst refilled at
25/s, writes 200 at 10/s, deletes 200 at 10/s, per subscription, service principal and
operation type; beside them a global subscription bucket per operation type, 15 times the
per-principal one, shared by every principal. A request is throttled when either bucket is
empty. Every answer says what is left in both (`x-ms-ratelimit-remaining-subscription-reads`
and `x-ms-ratelimit-remaining-subscription-global-reads`, likewise `-writes` / `-deletes`);
a 429 carries `Retry-After` and code `SubscriptionRequestsThrottled`. The docs apply the
limits per region of ARM; the simulation is one region. Buckets live in the server thread
only, so they need no lock.
"""

import math
import time
from dataclasses import dataclass

GLOBAL_FACTOR = 15  # the global subscription bucket is 15x one principal's
OPERATIONS = ("reads", "writes", "deletes")


def operation_of(method: str) -> str:
    """The bucket an HTTP method draws on."""
    if method == "DELETE":
        return "deletes"
    return "reads" if method in ("GET", "HEAD") else "writes"


@dataclass(frozen=True)
class Throttle:
    """Per-principal bucket sizes and refill rates (tokens per second); global buckets are GLOBAL_FACTOR times."""

    bucket: int = 250
    refill_per_second: float = 25.0
    write_bucket: int = 200
    write_refill_per_second: float = 10.0
    delete_bucket: int = 200
    delete_refill_per_second: float = 10.0

    def __post_init__(self) -> None:
        sizes = (self.bucket, self.write_bucket, self.delete_bucket)
        rates = (self.refill_per_second, self.write_refill_per_second, self.delete_refill_per_second)
        if min(sizes) < 1 or min(rates) <= 0:
            raise ValueError("buckets need at least one token and a positive refill rate")

    def limits(self, operation: str) -> tuple[int, float]:
        return {
            "reads": (self.bucket, self.refill_per_second),
            "writes": (self.write_bucket, self.write_refill_per_second),
            "deletes": (self.delete_bucket, self.delete_refill_per_second),
        }[operation]


# What the headers say when throttling is off: a full bucket minus this request, as ARM always sends them.
UNTHROTTLED = Throttle()


def full_remaining(operation: str) -> tuple[int, int]:
    size, _ = UNTHROTTLED.limits(operation)
    return size - 1, size * GLOBAL_FACTOR - 1


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self) -> int:
        """Whole seconds until a token is back (at least 1); 0 when one is there."""
        return 0 if self.tokens >= 1 else max(1, math.ceil((1 - self.tokens) / self.rate))


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's answer for one request: tokens left in each bucket, or how long to wait."""

    remaining: int
    remaining_global: int
    retry_after: int  # 0 when admitted


class RateLimiter:
    """A bucket per (subscription, principal, operation) and a global one per (subscription, operation)."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def _bucket(self, key: tuple[str, str, str], operation: str, factor: int, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            size, rate = self.throttle.limits(operation)
            bucket = self._buckets[key] = TokenBucket(size * factor, rate * factor, now)
        bucket.refill(now)
        return bucket

    def take(self, subscription_id: str, principal: str, operation: str) -> Admission:
        now = time.monotonic()
        own = self._bucket((subscription_id, principal, operation), operation, 1, now)
        shared = self._bucket((subscription_id, "*", operation), operation, GLOBAL_FACTOR, now)
        wait = max(own.wait(), shared.wait())
        if wait:
            return Admission(int(own.tokens), int(shared.tokens), wait)
        own.tokens -= 1
        shared.tokens -= 1
        return Admission(int(own.tokens), int(shared.tokens), 0)
