"""What every entry point does with a scan: authenticate, stream findings, collect the result.

The CLI and the function app both call `run_scan`; later stages (recording state,
notifying, remediating) hang off the `on_finding` hook so each finding flows through them
once, as it is produced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from auditor.azure.connection import ArmConnection
from auditor.azure.errors import describe, first_line
from auditor.model import Finding, Status
from auditor.report.document import ScanResult
from auditor.scanner import Scanner, Scope
from auditor.settings import ConfigError, Settings

FindingHook = Callable[[Finding, Scope], Awaitable[None] | None]


class AuthenticationFailed(ConfigError):
    """No usable Azure credential: a set-up problem, reported once, not once per cluster."""


class ScanFailed(Exception):
    """The scan could not even start (the subscription list is unreadable): one line, exit 1."""


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    result: ScanResult
    subscription_names: dict[str, str]


async def run_scan(settings: Settings, on_finding: FindingHook | None = None) -> ScanOutcome:
    started = datetime.now(UTC)
    findings: list[Finding] = []
    async with ArmConnection(settings) as connection:
        try:
            await connection.check_credential()
        except Exception as exc:
            raise AuthenticationFailed(
                f"could not authenticate to Azure ({first_line(exc)}); run 'az login', or set AZURE_CLIENT_ID "
                "for a user-assigned managed identity"
            ) from None
        scanner = Scanner(settings, connection, started.date())
        try:
            await scanner.resolve_scope(settings.subscriptions)
        except Exception as exc:
            raise ScanFailed(f"could not list subscriptions: {describe(exc, settings.http_timeout_seconds)}") from None
        async for finding in scanner.findings():
            findings.append(finding)
            if on_finding is not None:
                outcome = on_finding(finding, scanner.scope)
                if outcome is not None:
                    await outcome
    scope = scanner.scope
    result = ScanResult(started, findings, len(scope.scanned), len(scope.skipped))
    return ScanOutcome(result, {sub.subscription_id: sub.display_name for sub in scope.scanned})


async def scheduled_scan(environ: Mapping[str, str], logger: logging.Logger) -> ScanResult:
    """The timer's job: scan everything in scope and leave a trace of every finding that needs action."""
    outcome = await run_scan(Settings.from_env(environ))
    result = outcome.result
    for finding in result.findings:
        if finding.status in {Status.FAIL, Status.ERROR}:
            logger.warning("C-0254 %s %s: %s", finding.status, finding.resource_id, "; ".join(finding.reasons))
    logger.info("C-0254 scan summary: %s", json.dumps(result.summary()))
    return result
