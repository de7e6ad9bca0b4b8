"""The function's own storage account (AzureWebJobsStorage): queue and table clients.

Two ways to name it, as the Functions host accepts them: a connection string (Azurite,
local runs), or identity-based settings `AzureWebJobsStorage__queueServiceUri` /
`__tableServiceUri` (or `__accountName`) with `__credential=managedidentity` and
`__clientId` for a user-assigned identity, which is how infra/ deploys it (no keys).
Queue messages are Base64 text, the encoding the queue trigger expects by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from auditor.azure.credentials import default_credential
from auditor.settings import ConfigError

PREFIX = "AzureWebJobsStorage"


@dataclass(frozen=True, slots=True)
class StorageTarget:
    connection_string: str = ""
    queue_url: str = ""
    table_url: str = ""
    client_id: str = ""  # user-assigned managed identity, when identity-based

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StorageTarget | None:
        """None when no storage is configured (a plain CLI run)."""
        connection = environ.get(PREFIX, "").strip()
        if connection:
            if "=" not in connection:
                raise ConfigError(f"{PREFIX} is not a storage connection string")
            return cls(connection_string=connection)
        account = environ.get(f"{PREFIX}__accountName", "").strip()
        queue_url = environ.get(f"{PREFIX}__queueServiceUri", "").strip() or (
            f"https://{account}.queue.core.windows.net" if account else ""
        )
        table_url = environ.get(f"{PREFIX}__tableServiceUri", "").strip() or (
            f"https://{account}.table.core.windows.net" if account else ""
        )
        if not queue_url and not table_url:
            return None
        if not (queue_url.startswith("https://") and table_url.startswith("https://")):
            raise ConfigError(
                f"{PREFIX}__queueServiceUri and {PREFIX}__tableServiceUri (or {PREFIX}__accountName) must both be set"
                " to https:// URLs"
            )
        return cls(queue_url=queue_url, table_url=table_url, client_id=environ.get(f"{PREFIX}__clientId", "").strip())


class Storage:
    """Async context manager handing out queue and table clients that share one credential."""

    def __init__(self, target: StorageTarget) -> None:
        self._target = target
        self._credential: AsyncTokenCredential | None = None
        self._clients: list[Any] = []
        self._created: set[str] = set()

    async def __aenter__(self) -> Storage:
        if not self._target.connection_string:
            self._credential = default_credential(client_id=self._target.client_id or None)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self._clients:
            await client.close()
        self._clients.clear()
        if self._credential is not None:
            await self._credential.close()

    def queue(self, name: str) -> QueueClient:
        encode = TextBase64EncodePolicy()
        if self._target.connection_string:
            client = QueueClient.from_connection_string(
                self._target.connection_string, name, message_encode_policy=encode
            )
        else:
            client = QueueClient(
                self._target.queue_url, name, credential=self._credential, message_encode_policy=encode
            )
        self._clients.append(client)
        return client

    def table(self, name: str) -> TableClient:
        if self._target.connection_string:
            client = TableClient.from_connection_string(self._target.connection_string, name)
        else:
            client = TableClient(self._target.table_url, name, credential=self._credential)  # type: ignore[arg-type]
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
