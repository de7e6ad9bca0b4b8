"""`python -m auditor`: argument parsing, output formats and exit codes (CONTRACT §3).

Exit codes: 0 nothing failing; 1 a `fail` or an `error`; 2 bad input or configuration,
always as one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from auditor.model import Finding
from auditor.pipeline import ScanFailed, run_scan
from auditor.progress import Progress
from auditor.report.table import render_table
from auditor.scanner import Scope
from auditor.settings import ConfigError, Settings, parse_subscriptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
OUTPUTS = ("table", "json")


class UsageError(Exception):
    """Bad command-line input; reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m auditor", description="Audit AKS clusters for CIS 2.1.1 / C-0254 audit logs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log Azure SDK activity to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    scan = commands.add_parser("scan", help="scan every visible AKS cluster and report findings")
    scan.add_argument("--output", "-o", choices=OUTPUTS, default="table", help="output format (default: table)")
    scan.add_argument(
        "--subscription",
        action="append",
        default=[],
        metavar="ID",
        help="scan only this subscription (repeatable; overrides AUDITOR_SUBSCRIPTIONS)",
    )
    commands.add_parser("demo", help="run the whole loop on a simulated tenant (no Azure needed)")
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        _configure_logging(args.verbose, err)
        if args.command == "demo":
            from auditor.demo import run_demo

            return run_demo(out)
        settings = Settings.from_env(os.environ)
        if args.subscription:
            settings = dataclasses.replace(
                settings, subscriptions=parse_subscriptions("--subscription", args.subscription)
            )
        return asyncio.run(scan_command(settings, args.output, out, err))
    except (UsageError, ConfigError) as exc:
        print(f"auditor: {exc}", file=err)
        return EXIT_USAGE
    except ScanFailed as exc:
        print(f"auditor: {exc}", file=err)
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        print("auditor: interrupted", file=err)
        return 130


async def scan_command(settings: Settings, output: str, out: TextIO, err: TextIO) -> int:
    progress = Progress(err, enabled=err.isatty() and output == "table")

    def show(finding: Finding, scope: Scope) -> None:
        progress.update(finding, scope.listed, len(scope.scanned))

    try:
        outcome = await run_scan(settings, on_finding=show)
    finally:
        progress.close()
    if output == "json":
        json.dump(outcome.result.to_json(), out, indent=2)
        out.write("\n")
    else:
        width = shutil.get_terminal_size().columns if out.isatty() else None
        out.write(render_table(outcome.result, outcome.subscription_names, colour=_colour(out), width=width))
    return EXIT_FINDINGS if outcome.result.failing() else EXIT_OK


def _colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _configure_logging(verbose: bool, err: TextIO) -> None:
    """Quiet by default: the SDKs' own warnings are multi-line and duplicate our findings."""
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, handlers=[handler], force=True)
    logging.getLogger("azure").setLevel(logging.INFO if verbose else logging.CRITICAL)
