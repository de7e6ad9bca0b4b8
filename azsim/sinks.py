"""HTTPS receivers for what the auditor sends out: an Event Grid custom topic and a Teams Workflows webhook.

Both check what the real services check that matters here: the topic wants CloudEvents in a
batch under 1 MB with an `aeg-sas-key` or a bearer token for https://eventgrid.azure.net; the
webhook wants its `sig` query parameter and answers 202 like Power Automate does. Tests can
queue failure statuses to see retries.
"""

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from azsim.identity import TokenIssuer

EVENTGRID_AUDIENCE = "https://eventgrid.azure.net"
MAX_EVENTGRID_REQUEST = 1_048_576


@dataclass(slots=True)
class EventGridRequest:
    size: int
    auth: str  # "key" or "bearer"
    events: list[dict[str, Any]]


@dataclass(slots=True)
class Sinks:
    issuer: TokenIssuer
    eventgrid_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    teams_signature: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    eventgrid_requests: list[EventGridRequest] = field(default_factory=list)
    teams_posts: list[dict[str, Any]] = field(default_factory=list)
    teams_sizes: list[int] = field(default_factory=list)
    teams_failures: list[int] = field(default_factory=list)  # statuses answered (in order) before success
    eventgrid_failures: list[int] = field(default_factory=list)

    @property
    def eventgrid_events(self) -> list[dict[str, Any]]:
        return [event for request in self.eventgrid_requests for event in request.events]

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "POST" and request.path == "/api/events":
            return await self._eventgrid(request)
        if request.method == "POST" and request.path.startswith("/workflows/"):
            return await self._teams(request)
        return web.json_response({"error": {"code": "NotFound", "message": "no such sink"}}, status=404)

    async def _eventgrid(self, request: web.Request) -> web.Response:
        auth = self._eventgrid_auth(request)
        if auth is None:
            return _error(401, "Unauthorized", "The request authorization key is not authorized.")
        if self.eventgrid_failures:
            return _error(self.eventgrid_failures.pop(0), "ServiceUnavailable", "Simulated failure.")
        body = await request.read()
        if len(body) > MAX_EVENTGRID_REQUEST:
            return _error(413, "RequestEntityTooLarge", f"The request size {len(body)} exceeds 1 MB.")
        if not request.content_type.startswith("application/cloudevents-batch+json"):
            return _error(400, "BadRequest", f"Unexpected content type {request.content_type}.")
        events = json.loads(body)
        if not isinstance(events, list) or not all(
            isinstance(e, dict) and e.get("specversion") == "1.0" and e.get("id") and e.get("source") and e.get("type")
            for e in events
        ):
            return _error(400, "BadRequest", "Not a batch of CloudEvents 1.0.")
        self.eventgrid_requests.append(EventGridRequest(len(body), auth, events))
        return web.Response(status=200)

    def _eventgrid_auth(self, request: web.Request) -> str | None:
        key = request.headers.get("aeg-sas-key")
        if key is not None:
            return "key" if secrets.compare_digest(key, self.eventgrid_key) else None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.issuer.problem(token.strip(), EVENTGRID_AUDIENCE) is None:
            return "bearer"
        return None

    async def _teams(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.query.get("sig", ""), self.teams_signature):
            return _error(401, "DirectApiAuthorizationRequired", "The request must be authenticated.")
        if self.teams_failures:
            return _error(self.teams_failures.pop(0), "TooManyRequests", "Simulated failure.", {"Retry-After": "0"})
        body = await request.read()
        self.teams_sizes.append(len(body))
        self.teams_posts.append(json.loads(body))
        return web.Response(status=202)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)
