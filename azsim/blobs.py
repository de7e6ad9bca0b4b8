"""The storage accounts' blob service: Azurite over HTTPS with OAuth, behind a front that can refuse.

Each simulated storage account is an Azurite account (AZURITE_ACCOUNTS), so a BlobServiceClient
with a bearer token (audience https://storage.azure.com) lists real blobs. Azurite's OAuth mode
wants HTTPS, so it serves a certificate from the simulation's CA. Azurite accepts any well-formed
token and so cannot say 403; the front every storage account's `primaryEndpoints.blob` points at
records each request, applies the simulation's faults and answers 403
AuthorizationPermissionMismatch (Storage's XML error) when the caller's roles lack the data action
the request needs, or for an account whose `blob_access` is "denied", then forwards the rest to
Azurite. The data actions are those the Storage REST docs list per operation ("Authorize with
Microsoft Entra ID": List Blobs and Get Blob need `containers/blobs/read`, Put Blob
`containers/blobs/write`, Delete Blob `containers/blobs/delete`), over the container.

`deliver()` writes what Azure Monitor would have written by now, as Azure docs ("Send Azure
resource logs to storage") describe it: append blobs named
`insights-logs-<category>/resourceId=/<RESOURCE ID IN UPPER CASE>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`,
one JSON record per line. Storage accounts must exist before the simulator starts.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import ssl
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient

from azsim.access import Need
from azsim.azurite import AzuriteUnavailable, wait_for
from azsim.destinations import SimStorageAccount
from azsim.gateway import Gateway, RequestRecord
from azsim.monitor import newest
from azsim.tenant import Tenant

AZURITE_BLOB = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "azurite-blob"
_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
_DATA_VERBS = {"GET": "read", "HEAD": "read", "DELETE": "delete"}
_HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


class BlobService:
    """Azurite (blob only) for the tenant's storage accounts, and the front clients reach it through."""

    def __init__(self, tenant: Tenant, gateway: Gateway, ca_file: str, cert_pem: bytes, key_pem: bytes) -> None:
        self.tenant = tenant
        self.gateway = gateway
        self._ca_file = ca_file
        self._keys = {
            account.name: base64.b64encode(secrets.token_bytes(64)).decode()
            for account in tenant.destinations
            if isinstance(account, SimStorageAccount)
        }
        self._workdir = tempfile.TemporaryDirectory(prefix="azsim-blobs-")
        self._cert, self._key = Path(self._workdir.name, "cert.pem"), Path(self._workdir.name, "key.pem")
        self._cert.write_bytes(cert_pem)
        self._key.write_bytes(key_pem)
        self._process: subprocess.Popen[bytes] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.azurite_endpoint = ""  # set by start(): without it the front answers 503

    def start(self) -> None:
        """Start Azurite for the storage accounts the tenant holds now."""
        if not AZURITE_BLOB.exists():
            raise AzuriteUnavailable("Azurite is not installed: run 'bash scripts/bootstrap --with-test-tools'")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        args = [
            str(AZURITE_BLOB),
            *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
            *("--cert", str(self._cert), "--key", str(self._key), "--oauth", "basic"),
            *("--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose"),
        ]
        accounts = ";".join(f"{name}:{key}" for name, key in self._keys.items())
        environment = {**os.environ, "AZURITE_ACCOUNTS": accounts} if accounts else dict(os.environ)
        self._process = subprocess.Popen(
            args, cwd=self._workdir.name, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_for(self._process, [port], 60.0)
        self.azurite_endpoint = f"https://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None
        self._workdir.cleanup()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the front -------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        return await self.gateway.data_plane(request, self.gateway.blob_requests, self._answer)

    async def _answer(self, request: web.Request, record: RequestRecord) -> web.Response:
        name = request.path.strip("/").split("/", 1)[0]
        account = next(
            (a for a in self.tenant.destinations if isinstance(a, SimStorageAccount) and a.name == name), None
        )
        if account is None or name not in self._keys:
            return _storage_error(400, "InvalidUri", "The requested URI does not represent any resource on the server.")
        if not self.azurite_endpoint:
            return _storage_error(
                503, "ServerBusy", "The simulation runs no blob service: start ArmSimulator with blob_service=True."
            )
        record.needs = (blob_need(account, request.method, request.path),)
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        principal = self.gateway.issuer.principal(token.strip())
        if account.blob_access == "denied" or self.tenant.access.missing(principal, record.needs):
            return _storage_error(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            )
        if self._session is None:
            context = ssl.create_default_context(cafile=self._ca_file)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(
            request.method, f"{self.azurite_endpoint}{request.path_qs}", headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=upstream.status, body=body, headers=answer_headers)

    # --- what Azure Monitor writes ---------------------------------------------------------------------

    def deliver(self, now: datetime | None = None) -> int:
        """Append the newest record of every (cluster, category) each account should hold; returns how many."""
        now = now or datetime.now(UTC)
        written = 0
        for account in self.tenant.destinations:
            if not isinstance(account, SimStorageAccount) or account.name not in self._keys:
                continue
            entries = newest(self.tenant, "storage", account.id, now)
            if not entries:
                continue
            with BlobServiceClient(
                f"{self.azurite_endpoint}/{account.name}",
                credential={"account_name": account.name, "account_key": self._keys[account.name]},
                connection_verify=self._ca_file,
            ) as client:
                created: set[str] = set()
                for entry in entries:
                    container = client.get_container_client(f"insights-logs-{entry.category}")
                    if entry.category not in created:
                        with contextlib.suppress(ResourceExistsError):
                            container.create_container()
                        created.add(entry.category)
                    blob = container.get_blob_client(_blob_name(entry.cluster.id, entry.time))
                    with contextlib.suppress(ResourceExistsError):
                        blob.create_append_blob(if_none_match="*")
                    blob.append_block(_record(entry.cluster.id, entry.category, entry.time))
                    written += 1
        return written


def blob_need(account: SimStorageAccount, method: str, path: str) -> Need:
    """The data action a blob request needs, over its container (`path`: /<account>/<container>/...)."""
    container = [*path.strip("/").split("/"), ""][1]
    scope = f"{account.id}/blobServices/default/containers/{container}"
    return Need(f"{_BLOBS}/{_DATA_VERBS.get(method, 'write')}", scope, data=True)


def _blob_name(cluster_id: str, moment: datetime) -> str:
    return f"resourceId={cluster_id.upper()}/y={moment:%Y}/m={moment:%m}/d={moment:%d}/h={moment:%H}/m=00/PT1H.json"


def _record(cluster_id: str, category: str, moment: datetime) -> bytes:
    record = {
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "resourceId": cluster_id.upper(),
        "category": category,
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "properties": {"log": "{}", "stream": "stdout", "pod": "kube-apiserver-0"},
    }
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def _storage_error(status: int, code: str, message: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return web.Response(
        status=status, body=body.encode(), content_type="application/xml", headers={"x-ms-error-code": code}
    )
