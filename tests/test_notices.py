"""When people are told: new failures, reminders, resolutions. Pure."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from auditor.model import Cluster, FindingRecord, Status
from auditor.notify.notices import NoticeKind, delivered, next_notice
from auditor.rule import evaluate, unreadable
from auditor.settings import Settings

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
CLUSTER = Cluster(
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1",
    "aks1",
    SUB,
    "rg",
)
POLICY = Settings().policy()
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
FAIL = evaluate(CLUSTER, [], None, POLICY, T0.date())
PASS = dataclasses.replace(FAIL, status=Status.PASS, missing_categories=(), reasons=("ok",))
ERROR = unreadable(CLUSTER, "forbidden (403)", POLICY, T0.date())


def run(*steps):
    """Feed (finding, time) pairs through decide, carrying memory; return the notice kinds."""
    memory, kinds = None, []
    for finding, when in steps:
        claimed, notice = next_notice(memory, finding, when, renotify_hours=24)
        memory = delivered(claimed, claimed) if notice else claimed
        kinds.append(notice.kind if notice else None)
    return kinds, memory


def test_new_failure_is_told_once_then_reminded_after_the_interval():
    kinds, memory = run((FAIL, T0), (FAIL, T0 + timedelta(hours=1)), (FAIL, T0 + timedelta(hours=24)))
    assert kinds == [NoticeKind.NEW, None, NoticeKind.REMINDER]
    assert memory.first_failed_at == T0


def test_resolution_is_told_once():
    kinds, memory = run((FAIL, T0), (PASS, T0 + timedelta(hours=2)), (PASS, T0 + timedelta(hours=3)))
    assert kinds == [NoticeKind.NEW, NoticeKind.RESOLVED, None]
    assert memory.first_failed_at is None


def test_changed_reasons_are_new_news():
    other = dataclasses.replace(FAIL, missing_categories=("kube-audit-admin",), reasons=("only admin missing",))
    kinds, _ = run((FAIL, T0), (other, T0 + timedelta(hours=1)))
    assert kinds == [NoticeKind.NEW, NoticeKind.NEW]


def test_an_error_needs_action_like_a_failure():
    kinds, _ = run((ERROR, T0), (PASS, T0 + timedelta(hours=1)))
    assert kinds == [NoticeKind.NEW, NoticeKind.RESOLVED]


def test_a_passing_cluster_never_seen_failing_says_nothing():
    assert run((PASS, T0), (PASS, T0 + timedelta(days=3)))[0] == [None, None]


def test_undelivered_notice_is_decided_again():
    """The claim is undone when delivery fails: the memory of what people were told is the old one."""
    seen_only = FindingRecord(status="fail", first_failed_at=T0)
    _, notice = next_notice(seen_only, FAIL, T0 + timedelta(hours=1), 24)
    assert notice is not None
    assert notice.kind is NoticeKind.NEW
    assert notice.first_failed_at == T0


@given(st.lists(st.sampled_from([FAIL, PASS, ERROR]), min_size=1, max_size=12))
def test_never_two_notices_of_the_same_kind_for_the_same_state_within_the_interval(sequence):
    kinds, _ = run(*((finding, T0 + timedelta(minutes=i)) for i, finding in enumerate(sequence)))
    told = [k for k in kinds if k is not None]
    for previous, current in itertools.pairwise(told):
        assert not (previous is NoticeKind.RESOLVED and current is NoticeKind.RESOLVED)
    assert NoticeKind.REMINDER not in kinds  # all within 12 minutes
