"""The function's own storage account (AzureWebJobsStorage): queue and table clients.

Two ways to name it, as the Functions host accepts them: a connection string (Azurite,
local runs), or identity-based settings `AzureWebJobsStorage__queueServiceUri` /
`__tableServiceUri` (or `__accountName`) with `__credential=managedidentity` and
`__clientId` for a user-assigned identity, which is how infra/ deploys it (no keys).
Queue messages are Base64 text, the encoding the queue trigger expects by default.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from auditor.azure import transport
from auditor.azure.credentials import default_credential
from auditor.azure.egress import Egress, GuardedTransport
from auditor.settings import ConfigError, Settings, https_url

PREFIX = "AzureWebJobsStorage"
# 3 to 24 lower-case letters and digits (learn.microsoft.com/azure/storage/common/storage-account-overview,
# "Storage account name"); the name becomes the host of the service URLs.
_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")


class StorageFailed(Exception):
    """The function's storage account failed a call: said as such, not as an ARM failure."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the function's storage ({PREFIX}) failed: {what}")


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """Where the function's storage account is and how to reach it (connection string or identity)."""

    connection_string: str = ""
    queue_url: str = ""
    table_url: str = ""
    client_id: str = ""  # a user-assigned identity for storage other than AZURE_CLIENT_ID

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StorageTarget | None:
        """None when no storage is configured (a plain CLI run)."""
        connection = environ.get(PREFIX, "").strip()
        if connection:
            if "=" not in connection:
                raise ConfigError(f"{PREFIX} is not a storage connection string")
            return cls(connection_string=connection)
        account = environ.get(f"{PREFIX}__accountName", "").strip()
        if account and not _ACCOUNT_NAME.fullmatch(account):
            raise ConfigError(f"{PREFIX}__accountName={account!r} is not a storage account name (3-24 a-z, 0-9)")
        queue_url = environ.get(f"{PREFIX}__queueServiceUri", "").strip() or (
            f"https://{account}.queue.core.windows.net" if account else ""
        )
        table_url = environ.get(f"{PREFIX}__tableServiceUri", "").strip() or (
            f"https://{account}.table.core.windows.net" if account else ""
        )
        if not queue_url and not table_url:
            return None
        if not (queue_url and table_url):
            raise ConfigError(
                f"{PREFIX}__queueServiceUri and {PREFIX}__tableServiceUri (or {PREFIX}__accountName) must both be set"
                " to https:// URLs"
            )
        https_url(f"{PREFIX}__queueServiceUri", queue_url)
        https_url(f"{PREFIX}__tableServiceUri", table_url)
        client_id = environ.get(f"{PREFIX}__clientId", "").strip()
        if client_id.lower() == environ.get("AZURE_CLIENT_ID", "").strip().lower():
            client_id = ""  # the invocation's own identity: its credential serves storage too
        return cls(queue_url=queue_url, table_url=table_url, client_id=client_id)

    def endpoints(self) -> tuple[str, ...]:
        """The queue and table endpoints the target names, the only places its clients may send.

        A connection string names them outright (`QueueEndpoint=`, `TableEndpoint=`), through the
        account and `EndpointSuffix`, or as the local emulator (`UseDevelopmentStorage=true`): Azure docs,
        "Configure Azure Storage connection strings"."""
        if not self.connection_string:
            return (self.queue_url, self.table_url)
        fields = {
            key.strip().lower(): value.strip()
            for key, _, value in (part.partition("=") for part in self.connection_string.split(";"))
        }
        if fields.get("usedevelopmentstorage", "").lower() == "true":
            return ("http://127.0.0.1:10001", "http://127.0.0.1:10002")
        protocol = fields.get("defaultendpointsprotocol") or "https"
        account, suffix = fields.get("accountname", ""), fields.get("endpointsuffix") or "core.windows.net"
        named = tuple(fields[key] for key in ("queueendpoint", "tableendpoint") if fields.get(key))
        return named + (
            (f"{protocol}://{account}.queue.{suffix}", f"{protocol}://{account}.table.{suffix}") if account else ()
        )


class Storage:
    """Async context manager handing out queue and table clients on the invocation's credential.

    A storage identity named apart (`__clientId` other than AZURE_CLIENT_ID) gets a credential
    of its own; otherwise the one credential of the invocation serves storage too."""

    def __init__(self, target: StorageTarget, credential: AsyncTokenCredential, settings: Settings | None) -> None:
        """`settings` bound each call (attempt deadline, longest retry wait); None takes the defaults."""
        self._target = target
        self._settings = settings
        self._shared = credential
        self._own: AsyncTokenCredential | None = None
        self._clients: list[Any] = []
        self._created: set[str] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def _credential(self) -> AsyncTokenCredential:
        return self._own or self._shared

    async def __aenter__(self) -> Storage:
        if not self._target.connection_string and self._target.client_id:
            self._own = default_credential(self._settings, client_id=self._target.client_id)
        self._session = transport.session(16)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await transport.close(self._clients, self._session)
        self._session = None
        if self._own is not None:
            await self._own.close()

    def _options(self) -> dict[str, Any]:
        """The shared transport (TLS trust, pooled connections), pinned to the account's own endpoints
        (the Storage SDK would follow a redirect), and the retry numbers for every client."""
        if self._session is None:
            raise RuntimeError("Storage used outside 'async with'")
        egress = Egress.for_run(self._settings, "the function's storage account", *self._target.endpoints())
        return {"transport": GuardedTransport(egress, self._session), "permit_redirects": False}

    def _queue_options(self) -> dict[str, Any]:
        """The queue SDK's ExponentialRetry waits 15 s, then 18 s, by default (it takes these keywords from
        the client's): 1 s, 3 s, 5 s instead, near the run's other numbers."""
        return {**self._options(), "retry_total": transport.RETRIES, "initial_backoff": 1, "increment_base": 2}

    def _table_options(self) -> dict[str, Any]:
        return {**self._options(), "retry_total": transport.RETRIES, "retry_backoff_factor": transport.BACKOFF_FACTOR}

    def queue(self, name: str) -> QueueClient:
        encode = TextBase64EncodePolicy()
        if self._target.connection_string:
            client = QueueClient.from_connection_string(
                self._target.connection_string, name, message_encode_policy=encode, **self._queue_options()
            )
        else:
            client = QueueClient(
                self._target.queue_url,
                name,
                credential=self._credential,
                message_encode_policy=encode,
                **self._queue_options(),
            )
        self._clients.append(client)
        return client

    def table(self, name: str) -> TableClient:
        if self._target.connection_string:
            client = TableClient.from_connection_string(self._target.connection_string, name, **self._table_options())
        else:
            client = TableClient(
                self._target.table_url,
                name,
                credential=self._credential,  # type: ignore[arg-type]
                **self._table_options(),
            )
        self._clients.append(client)
        return client

    async def send(self, queue: str, text: str, delay_seconds: int = 0) -> None:
        """Enqueue, creating the queue on first use; the delay keeps the message invisible that long."""
        client = self.queue(queue)
        await self._ensure(queue, client.create_queue)
        await client.send_message(text, visibility_timeout=delay_seconds or None)

    async def ensure_table(self, client: TableClient) -> None:
        await self._ensure(f"table:{client.table_name}", client.create_table)

    async def _ensure(self, key: str, create: Any) -> None:
        if key in self._created:
            return
        with contextlib.suppress(ResourceExistsError):
            await create()
        self._created.add(key)
