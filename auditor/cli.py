"""`python -m auditor`: argument parsing, output formats and exit codes (docs/reference.md, "CLI").

Exit codes: 0 nothing failing; 1 a `fail` or an `error`; 2 bad input or configuration,
always as one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from auditor import json_input
from auditor.azure.errors import describe
from auditor.azure.storage import StorageTarget
from auditor.events import MalformedEvent, load_events, parse_event
from auditor.inert import inert
from auditor.model import Finding, Status
from auditor.notify.dispatch import Delivery
from auditor.pipeline import ScanFailed, run_scan
from auditor.progress import Progress
from auditor.reactions import EventNotHandled, handle_events
from auditor.report.render import EVENT_OUTPUTS, SCAN_OUTPUTS, render, render_outcomes
from auditor.scanner import Scope
from auditor.settings import CONTROL, ConfigError, Settings, parse_subscriptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors turned into one line and exit 2 instead of its own exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    control = CONTROL
    parser = _Parser(
        prog="python -m auditor",
        description=f"{control.subject}: {control.label} ({control.title}), across every subscription.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log Azure SDK activity to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    scan = commands.add_parser("scan", help="scan every visible AKS cluster and report findings")
    scan.add_argument("--output", "-o", choices=SCAN_OUTPUTS, default="table", help="output format (default: table)")
    scan.add_argument("--out", metavar="FILE", help="write the output to FILE (whole or not at all) instead of stdout")
    scan.add_argument(
        "--subscription",
        action="append",
        default=[],
        metavar="ID",
        help="scan only this subscription (repeatable; overrides AUDITOR_SUBSCRIPTIONS)",
    )
    replay = commands.add_parser(
        "handle-event", help="process Event Grid events from a file (- for stdin) exactly as the function does"
    )
    replay.add_argument("file", metavar="FILE", help="one event or an array, EventGridEvent or CloudEvent schema")
    replay.add_argument("--output", "-o", choices=EVENT_OUTPUTS, default="table", help="output format (default: table)")
    commands.add_parser("demo", help="run the whole loop on a simulated tenant (no Azure needed)")
    return parser


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args.verbose, err)
        if args.command == "demo":
            return _demo(out, err)
        settings = Settings.from_env(os.environ)
        if args.command == "handle-event":
            events = _read_events(args.file, stdin or sys.stdin)
            return asyncio.run(handle_events_command(settings, events, args.output, out))
        if args.subscription:
            settings = dataclasses.replace(
                settings, subscriptions=parse_subscriptions("--subscription", args.subscription)
            )
        return asyncio.run(scan_command(settings, args.output, out, err, args.out))
    except (UsageError, ConfigError, MalformedEvent) as exc:
        print(f"auditor: {inert(str(exc))}", file=err)  # it may quote an event or ARM
        return EXIT_USAGE
    except ScanFailed as exc:
        print(f"auditor: {inert(str(exc))}", file=err)  # it may quote an event or ARM
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        print("auditor: interrupted", file=err)
        return 130


async def scan_command(settings: Settings, output: str, out: TextIO, err: TextIO, path: str | None = None) -> int:
    if path is not None:
        _check_writable(path)
    progress = Progress(err, enabled=err.isatty() and (output == "table" or path is not None))

    def show(finding: Finding, scope: Scope) -> None:
        progress.update(finding, scope.listed, len(scope.scanned))

    try:
        outcome = await run_scan(settings, StorageTarget.from_env(os.environ), on_finding=show)
    finally:
        progress.close()
    text = render(output, outcome.result, outcome.subscription_names, out if path is None else None)
    if path is None:
        out.write(text)
    else:
        _write_whole(path, text)
        print(f"auditor: wrote {output} report to {path}", file=err)
    delivered = _delivery_line(outcome.delivery)
    if delivered:
        print(f"auditor: {inert(delivered)}", file=err)
    failing = outcome.result.failing() or bool(outcome.delivery.errors)
    return EXIT_FINDINGS if failing else EXIT_OK


def _check_writable(path: str) -> None:
    """Refuse a bad --out before scanning (exit 2), not after."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise UsageError(f"--out {path}: directory {directory} does not exist or is not writable")


def _write_whole(path: str, text: str) -> None:
    """Write to a temporary file beside the target and rename it: a report is never half written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".auditor-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _delivery_line(delivery: Delivery) -> str:
    parts = []
    if delivery.eventgrid_requests:
        parts.append(f"{delivery.eventgrid_requests} Event Grid request(s)")
    if delivery.teams_messages:
        parts.append(f"{delivery.teams_messages} Teams message(s)")
    if delivery.emails:
        parts.append(f"{delivery.emails} email(s)")
    text = ("sent " + ", ".join(parts)) if parts else ""
    if delivery.errors:
        text += ("; " if text else "") + "notification problems: " + "; ".join(delivery.errors)
    return text


def _read_events(path: str, stdin: TextIO) -> list[dict[str, Any]]:
    """Every event must parse before any is acted on: bad input changes nothing."""
    try:
        text = json_input.read_file(path, stdin, json_input.MAX_REPLAY_BYTES)
    except json_input.BadDocument as exc:
        raise UsageError(str(exc)) from None
    events = load_events(text, "standard input" if path == "-" else path)
    for index, event in enumerate(events):
        try:
            parse_event(event)
        except MalformedEvent as exc:
            raise MalformedEvent(f"event {index} ({exc.event_id or 'no id'}) in {path}: {exc}") from None
    return [dict(event) for event in events]


async def handle_events_command(settings: Settings, events: list[dict[str, Any]], output: str, out: TextIO) -> int:
    """The Event Grid trigger's path, event by event, with the function's storage when configured."""
    try:
        outcomes = await handle_events(
            settings, StorageTarget.from_env(os.environ), events, logging.getLogger("auditor")
        )
    except EventNotHandled as exc:
        reason = describe(exc.cause, settings.http_timeout_seconds)
        raise ScanFailed(f"event {exc.event_id}: not handled now ({reason}); Event Grid would retry it") from exc
    out.write(render_outcomes(outcomes, output, out))
    failing = any(o.finding is not None and o.finding.status in {Status.FAIL, Status.ERROR} for o in outcomes)
    return EXIT_FINDINGS if failing else EXIT_OK


def _demo(out: TextIO, err: TextIO) -> int:
    """The demo lives with the simulation (azsim), a development tool the deployed app does not carry:
    start it as its own program rather than import it, so the auditor never depends on it."""
    spec = importlib.util.find_spec("azsim")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the demo needs the development checkout: run ./scripts/demo (python -m azsim demo)")
    home = os.path.dirname(next(iter(spec.submodule_search_locations)))  # where azsim (and auditor) were found
    path = os.pathsep.join(filter(None, (home, os.environ.get("PYTHONPATH"))))
    completed = subprocess.run(
        [sys.executable, "-m", "azsim", "demo"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    out.write(completed.stdout)
    err.write(completed.stderr)
    return completed.returncode


def _configure_logging(verbose: bool, err: TextIO) -> None:
    """Quiet by default: the SDKs' own warnings are multi-line and duplicate our findings."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, handlers=[handler], force=True)
    logging.getLogger("azure").setLevel(logging.INFO if verbose else logging.CRITICAL)
