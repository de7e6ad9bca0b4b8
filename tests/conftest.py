"""Shared fixtures: the local Azure simulation and Azurite, wired into the environment as Azure would be."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient
from support import SMTP_PASSWORD, STORAGE, WORKSPACE, point_at

from azsim import ArmSimulator, Tenant
from azsim.azurite import AzuriteUnavailable
from azsim.azurite import azurite as run_azurite


@pytest.fixture
def simulate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ArmSimulator]]:
    """Start a simulator for a tenant and point the environment at it (as App Service would).

    The tenant gets the workspace and storage account the tests' settings name (tests/support.py) unless it
    has them already; a test about a lost destination removes or changes them."""
    started: list[ArmSimulator] = []

    def start(tenant: Tenant, **options: Any) -> ArmSimulator:
        if tenant.find_destination(WORKSPACE) is None:
            tenant.add_workspace(WORKSPACE)
        if tenant.find_destination(STORAGE) is None:
            tenant.add_storage_account(STORAGE)
        sim = ArmSimulator(tenant, **options).start()
        started.append(sim)
        point_at(sim, monkeypatch)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """A real Azurite (queues, tables) for the session; yields its connection string."""
    try:
        with run_azurite() as connection_string:
            yield connection_string
    except AzuriteUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def storage(azurite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AzureWebJobsStorage pointed at Azurite, with the auditor's queues and table emptied for this test."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    queues = QueueServiceClient.from_connection_string(azurite)
    for queue in queues.list_queues():
        queues.delete_queue(queue.name)
    tables = TableServiceClient.from_connection_string(azurite)
    for table in tables.list_tables():
        tables.delete_table(table.name)
    return azurite


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A real SMTP server that insists on STARTTLS and a login, with a certificate from its own CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=mailbox.authenticate,
    )
    controller.start()
    mailbox.ca_pem = ca.cert_pem.bytes()
    mailbox.port = port
    yield mailbox
    controller.stop()
