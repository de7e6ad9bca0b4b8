"""The read pacer against a modelled ARM token bucket, on a fake clock (no sleeping, no network)."""

from __future__ import annotations

import pytest

from auditor.azure.pacing import REMAINING_GLOBAL_READS, REMAINING_READS, ReadPacer, subscription_of

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drive(bucket: int, refill: float, reads: int, low_water: int = 40) -> tuple[float, int, ReadPacer]:
    """Send `reads` reads one after another through the pacer; return elapsed time, 429s and the pacer."""
    clock = FakeClock()
    pacer = ReadPacer(low_water=low_water, clock=clock)
    tokens, last, throttled = float(bucket), 0.0, 0
    done = 0
    while done < reads:
        clock.now += pacer.delay(SUB)
        pacer.sent(SUB)
        tokens = min(bucket, tokens + (clock.now - last) * refill)
        last = clock.now
        if tokens >= 1:
            tokens -= 1
            done += 1
            pacer.observe(SUB, {REMAINING_READS: int(tokens), REMAINING_GLOBAL_READS: 3000})
        else:
            throttled += 1
            pacer.observe(SUB, {REMAINING_READS: 0, REMAINING_GLOBAL_READS: 3000}, took_token=False)
            clock.now += 1.0  # Retry-After: 1
        clock.now += 0.001  # the client's own time per request
    return clock.now, throttled, pacer


def test_no_pacing_while_tokens_are_plentiful():
    pacer = ReadPacer(low_water=40, clock=FakeClock())
    assert pacer.delay(SUB) == 0.0
    pacer.observe(SUB, {REMAINING_READS: 249, REMAINING_GLOBAL_READS: 3749})
    assert pacer.delay(SUB) == 0.0


def test_reads_in_flight_count_against_the_remaining_tokens():
    pacer = ReadPacer(low_water=10, clock=FakeClock())
    pacer.sent(SUB)
    pacer.observe(SUB, {REMAINING_READS: 30})
    waits = []
    for _ in range(25):  # 25 reads sent, none answered yet
        waits.append(pacer.delay(SUB))
        pacer.sent(SUB)
    assert waits[:20] == [0.0] * 20  # 30 - in flight stays above 10
    assert all(wait > 0 for wait in waits[21:])


@pytest.mark.parametrize(("bucket", "refill"), [(100, 100.0), (250, 25.0), (250, 10.0)])
def test_paced_reads_run_near_the_bucket_limit_without_429(bucket, refill):
    reads = bucket + int(refill * 8)
    elapsed, throttled, pacer = drive(bucket, refill, reads)
    floor = (reads - bucket) / refill
    assert throttled == 0
    assert elapsed <= floor * 1.2  # the target: within 1.2x of the bucket's floor
    assert pacer.refill_rate(SUB) == pytest.approx(refill, rel=0.25)


def test_subscription_is_read_from_the_url():
    assert subscription_of(f"https://management.azure.com/subscriptions/{SUB.upper()}/providers/x?a=1") == SUB
    assert subscription_of("https://management.azure.com/subscriptions?api-version=2022-12-01") is None
    assert subscription_of(f"https://h/subscriptions/{SUB}") == SUB


def test_the_lower_of_the_principal_and_the_global_bucket_binds():
    """Other principals can drain the subscription's global bucket while ours is full."""
    pacer = ReadPacer(low_water=10, clock=FakeClock())
    pacer.observe(SUB, {REMAINING_READS: 249, REMAINING_GLOBAL_READS: 5})
    assert pacer.delay(SUB) == 0.0  # the first paced read goes at once
    assert pacer.delay(SUB) > 0.0  # the next ones are spaced: the global bucket is nearly empty
    calm = ReadPacer(low_water=10, clock=FakeClock())
    calm.observe(SUB, {REMAINING_READS: 249, REMAINING_GLOBAL_READS: 3749})
    assert [calm.delay(SUB) for _ in range(5)] == [0.0] * 5
