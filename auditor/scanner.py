"""A scan: subscriptions -> clusters -> one settings read each -> findings, streamed.

Listing and judging overlap: clusters flow through a bounded queue to a fixed pool of
workers, so memory holds only what is in flight (plus whatever findings the caller keeps)
and no subscription waits for another. Every cluster ends as a finding; a cluster whose
settings cannot be read is `error`, a subscription whose clusters cannot be listed is one
`error` finding, never a silent gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from azure.core.credentials_async import AsyncTokenCredential

from auditor import arm_rules, fixes, rule
from auditor.arm_rules import CategoryGroups
from auditor.azure.connection import ArmConnection
from auditor.azure.delivery import DeliveryReader
from auditor.azure.destinations import DestinationReader
from auditor.azure.diagnostics import CategoryGroupCache, read_settings
from auditor.azure.errors import describe, is_azure_failure, is_transient
from auditor.azure.inventory import ProviderNotRegistered, SubscriptionInfo, Unlisted, iter_clusters, list_subscriptions
from auditor.azure.remediator import Remediator
from auditor.azure.state import RemediationLedger
from auditor.azure.transport import call_budget
from auditor.destinations import DestinationCheck, Records
from auditor.events import Expectation
from auditor.model import Cluster, Destination, DiagnosticSetting, Finding
from auditor.resource_id import resource_key
from auditor.rule import Trail
from auditor.settings import Settings

LOGGER = logging.getLogger("auditor")
_LISTERS = 8  # subscriptions listed at once; cluster reads are bounded separately


@dataclass(slots=True)
class Scope:
    """Which subscriptions a scan covered, which it skipped by state, and which hold no clusters
    because they have not registered Microsoft.ContainerService."""

    scanned: list[SubscriptionInfo] = field(default_factory=list)
    skipped: list[SubscriptionInfo] = field(default_factory=list)
    unregistered: list[SubscriptionInfo] = field(default_factory=list)
    listed: int = 0  # subscriptions whose cluster listing has finished (for progress)


class StaleRead(Exception):
    """The settings read contradicts what the triggering event says happened; read again later."""

    def __init__(self, disagreement: str) -> None:
        super().__init__(disagreement)
        self.disagreement = disagreement


class Judge:
    """Reads one cluster's settings (and the category map if needed) and applies the rule; a failing
    finding gets its fixes to paste (auditor/fixes.py)."""

    def __init__(
        self, settings: Settings, connection: ArmConnection, today: date, ledger: RemediationLedger | None = None
    ) -> None:
        self._settings = settings
        self._connection = connection
        self._policy = settings.policy()
        self._today = today
        self._groups = CategoryGroupCache()
        enabled = settings.remediation.enabled
        self._remediator = Remediator(settings, connection, today, ledger) if enabled else None
        expect = self._policy.expectations
        reads = expect.check is not DestinationCheck.OFF or expect.min_retention_days or expect.lookback_hours
        self.destinations = (
            DestinationReader(connection, settings.required_categories, expect.min_retention_days) if reads else None
        )
        self.delivery = DeliveryReader(settings, connection) if expect.lookback_hours else None

    async def judge(
        self, cluster: Cluster, raise_transient: bool = False, expectation: Expectation | None = None
    ) -> Finding:
        """A finding, `error` when the settings cannot be read.

        With `raise_transient`, a failure worth retrying (throttling, 5xx, timeout) raises
        instead, so Event Grid or the queue retries the whole check later. With an
        `expectation` (a drift event's), a read that contradicts it raises StaleRead until
        the re-reads are used up; the finding then says what was re-read and why.
        """
        budget = call_budget(self._settings.http_timeout_seconds)
        notes: list[str] = []
        try:
            settings = await asyncio.wait_for(read_settings(self._connection, cluster.resource_id), budget)
        except ProviderNotRegistered as exc:  # no setting can exist: the cluster exports nothing
            settings = []
            notes.append(
                f"the subscription has not registered {exc.namespace} ({exc.evidence}), so the cluster can have no "
                "diagnostic settings; registering it is the subscription owner's decision"
            )
        except Exception as exc:
            if raise_transient and is_transient(exc):
                raise
            _log_if_bug(exc, cluster)
            reason = describe(exc, self._settings.http_timeout_seconds)
            return rule.unreadable(cluster, reason, self._policy, self._today)
        if expectation is not None:
            disagreement = expectation.disagreement(setting.name for setting in settings)
            if disagreement and not expectation.exhausted:
                raise StaleRead(disagreement)
            notes.extend(expectation.notes(disagreement))
        groups = None
        groups_problem = ""
        if arm_rules.needs_category_groups(settings):
            try:
                groups = await asyncio.wait_for(self._groups.get(self._connection, cluster.resource_id), budget)
            except Exception as exc:  # the rule turns a decisive unknown group into `error`, saying why
                if raise_transient and is_transient(exc):
                    raise
                _log_if_bug(exc, cluster)
                groups_problem = describe(exc, self._settings.http_timeout_seconds)
        trail = None
        if self.destinations is not None:
            try:
                trail = await self._trail(cluster, settings, groups)
            except Exception as exc:  # the readers answer every Azure failure themselves: this is a bug
                _log_if_bug(exc, cluster)
                reason = f"its destinations could not be checked ({describe(exc, self._settings.http_timeout_seconds)})"
                return rule.unreadable(cluster, reason, self._policy, self._today)
        finding = rule.evaluate(cluster, settings, groups, self._policy, self._today, notes, trail, groups_problem)
        if self._remediator is not None:
            finding = await self._remediator.remediate(cluster, finding, settings, groups)
        target = self._settings.remediation
        return fixes.attach(finding, target.setting_name, target.workspace_id)

    async def _trail(
        self, cluster: Cluster, settings: Sequence[DiagnosticSetting], groups: CategoryGroups | None
    ) -> Trail:
        """Read every accepted destination that carries a required category (once per scan each) and,
        with delivery checks on, what it holds of this cluster."""
        assert self.destinations is not None
        wanted: dict[str, tuple[Destination, str, set[str]]] = {}  # destination key -> (kind, ID, categories)
        for setting in settings:
            sent = arm_rules.exported(setting, groups)
            categories = {category for category in self._policy.required_categories if sent.sends(category)}
            for kind, target in arm_rules.destinations(setting).items() if categories else ():
                if kind in self._policy.accepted_destinations:
                    wanted.setdefault(resource_key(target), (kind, target, set()))[2].update(categories)
        read = await asyncio.gather(*(self.destinations.state(kind, target) for kind, target, _ in wanted.values()))
        states = dict(zip(wanted, read, strict=True))
        records: dict[str, Records] = {}
        delivery = self.delivery
        if delivery is None:
            return Trail(states, records, datetime.now(UTC))
        for key, (kind, _, categories) in wanted.items():
            state = states[key]
            if not (state.readable and state.exists):
                continue
            if kind is Destination.WORKSPACE and state.customer_id:
                records[key] = await delivery.workspace(state.customer_id)
            elif kind is Destination.STORAGE and state.blob_endpoint:
                records[key] = await delivery.blobs(state.blob_endpoint, cluster.resource_id, sorted(categories))
        return Trail(states, records, datetime.now(UTC))


def _log_if_bug(exc: BaseException, cluster: Cluster) -> None:
    """A failure that is neither Azure's nor a timeout is a bug: the finding stays `error`, and the
    log gets the traceback, so it is never mistaken for an Azure problem."""
    if not is_azure_failure(exc):
        LOGGER.error("C-0254 unexpected failure judging %s", cluster.resource_id, exc_info=exc)


class Scanner:
    """Lists every subscription in scope and judges each cluster, streaming findings as they come."""

    def __init__(
        self, settings: Settings, connection: ArmConnection, today: date, ledger: RemediationLedger | None = None
    ) -> None:
        self._settings = settings
        self._connection = connection
        self._policy = settings.policy()
        self._judge = Judge(settings, connection, today, ledger)
        self._today = today
        self._deadline = asyncio.get_running_loop().time() + settings.scan_deadline_seconds
        self.scope = Scope()

    @property
    def connection(self) -> ArmConnection:
        return self._connection

    @property
    def credential(self) -> AsyncTokenCredential:
        """The invocation's credential, for the other clients of the same run (Storage, Event Grid)."""
        return self._connection.credential

    async def resolve_scope(self, subscription_ids: Sequence[str]) -> list[SubscriptionInfo]:
        """Explicit IDs are taken as given; otherwise every visible subscription in a running state."""
        if subscription_ids:
            self.scope.scanned = [SubscriptionInfo(sid, sid, "") for sid in subscription_ids]
        else:
            visible = await list_subscriptions(self._connection)
            self.scope.scanned = [sub for sub in visible if sub.active]
            self.scope.skipped = [sub for sub in visible if not sub.active]
        return self.scope.scanned

    def _too_late(self, clusters: Iterable[Cluster], subscriptions: Iterable[SubscriptionInfo]) -> list[Finding]:
        """What the deadline cut off: each cluster listed but not judged, each subscription not wholly listed."""
        limit = f"AUDITOR_SCAN_DEADLINE_SECONDS={self._settings.scan_deadline_seconds:g}"
        unjudged = f"not judged before the deadline ({limit}); the next scan judges it"
        late = [rule.unreadable(cluster, unjudged, self._policy, self._today) for cluster in clusters]
        unlisted = f"not wholly listed before the deadline ({limit}); the next scan lists it"
        cut = [
            rule.subscription_unreadable(sub.subscription_id, sub.display_name, unlisted, self._policy)
            for sub in subscriptions
        ]
        LOGGER.error(
            "C-0254 scan deadline reached: %d clusters not judged, %d subscriptions not listed", len(late), len(cut)
        )
        return late + cut

    def _unlisted(self, item: Unlisted) -> Finding:
        return rule.unlisted(
            item.subscription_id, item.resource_id, item.name, item.problem, item.excerpt, self._policy
        )

    async def _list(
        self,
        subscription: SubscriptionInfo,
        clusters: asyncio.Queue[Cluster | None],
        results: asyncio.Queue[Finding | None],
        unjudged: dict[str, Cluster],
    ) -> None:
        """Hand on each listed cluster for judging (and each unreadable item as its finding); a listing
        that fails is one `error` for the subscription, an unregistered provider none."""
        try:
            async for listed in iter_clusters(self._connection, subscription.subscription_id):
                if isinstance(listed, Unlisted):
                    await results.put(self._unlisted(listed))
                else:
                    unjudged[resource_key(listed.resource_id)] = listed
                    await clusters.put(listed)
        except ProviderNotRegistered:
            self.scope.unregistered.append(subscription)
        except Exception as exc:
            reason = describe(exc, self._settings.http_timeout_seconds, listing=True)
            await results.put(
                rule.subscription_unreadable(
                    subscription.subscription_id, subscription.display_name, reason, self._policy
                )
            )

    async def findings(self) -> AsyncIterator[Finding]:
        """Stream a finding for every cluster (and every unlistable subscription) of the resolved scope.

        The scan ends at AUDITOR_SCAN_DEADLINE_SECONDS from the scanner's start whatever Azure does:
        a cluster listed but not judged by then is `error` "not judged before the deadline", a
        subscription not wholly listed is one `error`, and the findings so far go out as usual."""
        subscriptions = self.scope.scanned
        workers = self._settings.max_concurrency
        clusters: asyncio.Queue[Cluster | None] = asyncio.Queue(maxsize=workers * 2)
        results: asyncio.Queue[Finding | None] = asyncio.Queue(maxsize=workers * 2)
        listers = asyncio.Semaphore(_LISTERS)
        unjudged: dict[str, Cluster] = {}  # listed, not yet judged: the deadline reports them
        unlisted = {sub.subscription_id: sub for sub in subscriptions}

        async def list_one(subscription: SubscriptionInfo) -> None:
            async with listers:
                await self._list(subscription, clusters, results, unjudged)
                unlisted.pop(subscription.subscription_id, None)
                self.scope.listed += 1

        async def produce() -> None:
            await asyncio.gather(*(list_one(sub) for sub in subscriptions))
            for _ in range(workers):
                await clusters.put(None)

        async def work() -> None:
            while (cluster := await clusters.get()) is not None:
                finding = await self._judge.judge(cluster)
                unjudged.pop(resource_key(cluster.resource_id), None)
                await results.put(finding)

        failure: list[BaseException] = []

        async def run_all() -> None:
            try:
                async with asyncio.timeout_at(self._deadline), asyncio.TaskGroup() as group:
                    group.create_task(produce())
                    for _ in range(workers):
                        group.create_task(work())
            except TimeoutError:
                for finding in self._too_late(unjudged.values(), unlisted.values()):
                    await results.put(finding)
            except Exception as exc:  # a bug, not an Azure failure: those become findings
                failure.append(exc)
            await results.put(None)

        runner = asyncio.create_task(run_all())
        try:
            while (finding := await results.get()) is not None:
                yield finding
            if failure:
                raise failure[0]
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
