"""`python -m azsim serve`: the simulator in its own process, so its CPU does not share a GIL with the client;
`python -m azsim demo`: the auditor's demo on the simulated tenant.

Prints one JSON line (`sim.env()`) on stdout, then serves until SIGTERM/SIGINT, or until stdin closes when
stdin is a pipe (so the server dies with the parent that holds the pipe; /dev/null or a terminal is ignored).
"""

import argparse
import json
import os
import signal
import stat
import sys
import threading
from types import FrameType

from azsim.samples import demo_tenant, scale_tenant
from azsim.server import ArmSimulator
from azsim.throttle import Throttle


def _throttle(value: str) -> Throttle:
    bucket, _, rate = value.partition(",")
    try:
        return Throttle(bucket=int(bucket), refill_per_second=float(rate))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected BUCKET,RATE such as 250,25") from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m azsim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the simulated ARM and identity endpoints")
    serve.add_argument("--demo", action="store_true", help="serve the demo tenant (default: a scale tenant)")
    serve.add_argument("--subscriptions", type=int, default=8)
    serve.add_argument("--clusters-per-subscription", type=int, default=100)
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added to every ARM request")
    serve.add_argument("--throttle", type=_throttle, default=None, metavar="BUCKET,RATE")
    serve.add_argument("--page-size", type=int, default=100)
    commands.add_parser("demo", help="the auditor's whole loop on the demo tenant (what ./scripts/demo runs)")
    return parser


def _watch_stdin(done: threading.Event) -> None:
    try:
        fd = sys.stdin.fileno()
        is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
    except (OSError, ValueError, AttributeError):
        return
    if not is_pipe:
        return

    def wait_for_eof() -> None:
        while os.read(fd, 65536):
            pass
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from azsim.demo import run_demo  # the demo loads the whole auditor; serving needs none of it

        return run_demo(sys.stdout)
    tenant = demo_tenant() if args.demo else scale_tenant(args.subscriptions, args.clusters_per_subscription)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with ArmSimulator(tenant, latency=args.latency, throttle=args.throttle, page_size=args.page_size) as sim:
        print(json.dumps(sim.env()), flush=True)
        _watch_stdin(done)
        while not done.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
