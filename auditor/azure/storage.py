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
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from auditor.azure import transport
from auditor.azure.credentials import default_credential
from auditor.settings import ConfigError, https_url

PREFIX = "AzureWebJobsStorage"
# 3 to 24 lower-case letters and digits (learn.microsoft.com/azure/storage/common/storage-account-overview,
# "Storage account name"); the name becomes the host of the service URLs.
_ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")


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


class Storage:
    """Async context manager handing out queue and table clients on the invocation's credential.

    A storage identity named apart (`__clientId` other than AZURE_CLIENT_ID) gets a credential
    of its own; otherwise the one credential of the invocation serves storage too."""

    def __init__(self, target: StorageTarget, credential: AsyncTokenCredential) -> None:
        self._target = target
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
            self._own = default_credential(client_id=self._target.client_id)
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
        """The shared transport (TLS trust, pooled connections) and retry numbers for every client."""
        if self._session is None:
            raise RuntimeError("Storage used outside 'async with'")
        return {
            "transport": AioHttpTransport(session=self._session, session_owner=False),
            "retry_total": transport.RETRIES,
        }

    def queue(self, name: str) -> QueueClient:
        encode = TextBase64EncodePolicy()
        if self._target.connection_string:
            client = QueueClient.from_connection_string(
                self._target.connection_string, name, message_encode_policy=encode, **self._options()
            )
        else:
            client = QueueClient(
                self._target.queue_url,
                name,
                credential=self._credential,
                message_encode_policy=encode,
                **self._options(),
            )
        self._clients.append(client)
        return client

    def table(self, name: str) -> TableClient:
        if self._target.connection_string:
            client = TableClient.from_connection_string(self._target.connection_string, name, **self._options())
        else:
            client = TableClient(
                self._target.table_url,
                name,
                credential=self._credential,  # type: ignore[arg-type]
                **self._options(),
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
