"""ARM's per-subscription token-bucket throttling (reads and writes counted separately).

Real ARM: 250 reads burst refilled at 25/s, 200 writes refilled at 10/s, per subscription and principal.
Buckets live in the server thread only, so they need no lock.
"""

import math
import time
from dataclasses import dataclass

# Sent when throttling is off, as ARM always sends the header.
UNTHROTTLED_REMAINING_READS = 249
UNTHROTTLED_REMAINING_WRITES = 199


@dataclass(frozen=True)
class Throttle:
    """Bucket sizes and refill rates (tokens per second)."""

    bucket: int = 250
    refill_per_second: float = 25.0
    write_bucket: int = 200
    write_refill_per_second: float = 10.0

    def __post_init__(self) -> None:
        if min(self.bucket, self.write_bucket) < 1 or min(self.refill_per_second, self.write_refill_per_second) <= 0:
            raise ValueError("buckets need at least one token and a positive refill rate")


class TokenBucket:
    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = now

    def take(self, now: float) -> tuple[int, int]:
        """(tokens left, 0) when a token was taken, else (0, whole seconds until one is back, at least 1)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return int(self.tokens), 0
        return 0, max(1, math.ceil((1 - self.tokens) / self.rate))


class RateLimiter:
    """One read bucket and one write bucket per subscription, created on first use."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._reads: dict[str, TokenBucket] = {}
        self._writes: dict[str, TokenBucket] = {}

    def take(self, subscription_id: str, write: bool) -> tuple[int, int]:
        """See TokenBucket.take."""
        now = time.monotonic()
        buckets = self._writes if write else self._reads
        bucket = buckets.get(subscription_id)
        if bucket is None:
            t = self.throttle
            bucket = buckets[subscription_id] = (
                TokenBucket(t.write_bucket, t.write_refill_per_second, now)
                if write
                else TokenBucket(t.bucket, t.refill_per_second, now)
            )
        return bucket.take(now)
