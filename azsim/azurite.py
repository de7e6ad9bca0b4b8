"""Azurite, the Azure Storage emulator (npm package `azurite`), started on free loopback ports.

Tests and benchmarks run the function's queues and tables on it; installed by
`scripts/bootstrap --with-test-tools` into node_modules.
"""

import contextlib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

AZURITE = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "azurite"
# Azurite's well-known development account: public and documented, not a secret.
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def azurite(start_timeout: float = 60.0) -> Iterator[str]:
    """Run Azurite in memory (blob, queue, table) and yield its connection string."""
    if not AZURITE.exists():
        raise AzuriteUnavailable("Azurite is not installed: run 'bash scripts/bootstrap --with-test-tools'")
    ports = {service: _free_port() for service in ("blob", "queue", "table")}
    args = [str(AZURITE), "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent"]
    for service, port in ports.items():
        args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        process = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(process, ports.values(), start_timeout)
            base = "http://127.0.0.1:{}/devstoreaccount1"
            yield (
                f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_ACCOUNT_KEY};"
                f"BlobEndpoint={base.format(ports['blob'])};QueueEndpoint={base.format(ports['queue'])};"
                f"TableEndpoint={base.format(ports['table'])};"
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(process: "subprocess.Popen[bytes]", ports: Iterable[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    wanted = list(ports)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
            raise AzuriteUnavailable(f"Azurite exited: {detail[-500:]}")
        try:
            for port in wanted:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AzuriteUnavailable(f"Azurite did not start within {timeout:g} s")
