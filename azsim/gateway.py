"""ARM's front door and the identity endpoint's door: request log, latency, auth, faults, throttling, RBAC.

Order for an ARM request: latency, authentication, faults, api-version, throttling, authorization (the
caller's roles, azsim/access.py), then the resource route. ARM authorizes before the resource provider
sees the request, so an operation outside the caller's roles is 403 whether or not the resource exists.
"""

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web

from azsim.access import Need, arm_need, linked_needs
from azsim.arm import ArmRoutes
from azsim.faults import Fault, error_code
from azsim.identity import TokenIssuer
from azsim.responses import error, flat_error, forbidden, json_response, linked_forbidden
from azsim.throttle import RateLimiter, full_remaining, operation_of


@dataclass(slots=True)
class RequestRecord:
    """One request as the simulator saw it.

    `status` is None while the request is in flight and 0 when it got no HTTP answer (reset, or a hang
    released by stop). Times are time.monotonic().
    """

    method: str
    path: str  # decoded
    query: dict[str, str]
    subscription_id: str | None
    started: float
    ended: float | None = None
    status: int | None = None
    raw_path: str = ""  # as sent, percent-encoding included
    needs: tuple[Need, ...] = ()  # the operations it was authorized against (nothing for a tenant-level path)


_NEXT_MARKER = re.compile(rb"<NextMarker\s*/>|<NextMarker>[^<]*</NextMarker>")


@dataclass(frozen=True, slots=True)
class ForeignRequest:
    """A request that reached the foreign host, headers and all."""

    method: str
    url: str
    headers: dict[str, str]


class Gateway:
    """Shared by every site (ARM, identity, Log Analytics, blob front); settings are plain attributes that
    test threads may replace at any time. Faults match any site's paths."""

    def __init__(self, routes: ArmRoutes, issuer: TokenIssuer, latency: float, limiter: RateLimiter | None) -> None:
        self.routes = routes
        self.issuer = issuer
        self.latency = latency
        self.limiter = limiter
        self.faults: tuple[Fault, ...] = ()
        self.requests: list[RequestRecord] = []
        self.token_requests: list[RequestRecord] = []
        self.logs_requests: list[RequestRecord] = []
        self.blob_requests: list[RequestRecord] = []
        self.sink_requests: list[RequestRecord] = []
        self.foreign_requests: list[ForeignRequest] = []
        self.foreign_endpoint = ""  # https://localhost:<port>: another origin than every site of the simulation
        self.released = asyncio.Event()  # set at stop: hung requests give up

    async def arm(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        # Split the path as sent, then decode each segment: an encoded '/' (%2F) stays inside its segment.
        parts = [unquote(segment) for segment in request.raw_path.split("?", 1)[0].strip("/").split("/")]
        lower = [part.lower() for part in parts]
        subscription_id = parts[1] if len(parts) > 1 and lower[0] == "subscriptions" else None
        record = RequestRecord(
            request.method, path, dict(request.query), subscription_id, time.monotonic(), raw_path=request.raw_path
        )
        self.requests.append(record)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        refused, principal = self._authenticate(request)
        response: web.StreamResponse | None = refused
        if refused is None:
            response = await self._answer(request, parts, lower, subscription_id, principal, record)
            if isinstance(response, web.Response):
                response = self.relink(request, response, self.foreign_endpoint)
        return finish(request, record, response)

    async def foreign(self, request: web.Request) -> web.StreamResponse:
        """A host the auditor must never talk to: it records what reached it (a token, above all)."""
        self.foreign_requests.append(ForeignRequest(request.method, str(request.url), dict(request.headers)))
        return web.json_response({"value": []})

    async def identity(self, request: web.Request) -> web.StreamResponse:
        record = RequestRecord(request.method, request.path, dict(request.query), None, time.monotonic())
        self.token_requests.append(record)
        response: web.StreamResponse | None
        if request.path.rstrip("/") != "/msi/token":
            response = json_response({"statusCode": 404, "message": "Not found."}, 404)
        else:
            fired, response = await self.fault(request)
            if not fired:
                status, body = self.issuer.answer(request.query, request.headers.get("X-IDENTITY-HEADER"))
                response = json_response(body, status)
        return finish(request, record, response)

    async def _answer(
        self,
        request: web.Request,
        parts: list[str],
        lower: list[str],
        subscription_id: str | None,
        principal: str,
        record: RequestRecord,
    ) -> web.StreamResponse | None:
        fired, response = await self.fault(request)
        if fired:
            return response
        api_version = request.query.get("api-version")
        if not api_version:
            return error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if subscription_id is None:
            return await self._authorized(request, parts, lower, principal, record)
        operation = operation_of(request.method)
        header = f"x-ms-ratelimit-remaining-subscription-{operation}"
        global_header = f"x-ms-ratelimit-remaining-subscription-global-{operation}"
        limiter = self.limiter
        if limiter is None:
            remaining, remaining_global = full_remaining(operation)
        else:
            admission = limiter.take(subscription_id.lower(), principal, operation)
            remaining, remaining_global = admission.remaining, admission.remaining_global
            if admission.retry_after:
                kind = operation.removesuffix("s")
                return error(
                    429,
                    "SubscriptionRequestsThrottled",
                    f"Number of '{kind}' requests for subscription '{subscription_id}' exceeded. Please "
                    f"try again after '{admission.retry_after}' seconds after additional tokens are available. "
                    "Refer to https://aka.ms/arm-throttling for additional information.",
                    {
                        "Retry-After": str(admission.retry_after),
                        header: str(remaining),
                        global_header: str(remaining_global),
                    },
                )
        response = await self._authorized(request, parts, lower, principal, record)
        response.headers[header] = str(remaining)
        response.headers[global_header] = str(remaining_global)
        return response

    async def _authorized(
        self, request: web.Request, parts: list[str], lower: list[str], principal: str, record: RequestRecord
    ) -> web.Response:
        """The route's answer when the caller's roles permit the request (and what it links to), else ARM's 403.
        A subscription list is never refused: it shows what the caller may read (azsim/arm.py)."""
        need = arm_need(request.method, parts)
        if need is None:
            return await self.routes.dispatch(request, parts, lower, principal)
        needs = [need]
        if request.method in ("PUT", "PATCH"):
            with contextlib.suppress(ValueError):  # the route answers a body that is not JSON
                needs += linked_needs(need, json.loads(await request.read()))  # aiohttp keeps the body for the route
        record.needs = tuple(needs)
        missing = None if len(parts) == 1 else self.routes.tenant.access.missing(principal, needs)
        if missing is None:
            return await self.routes.dispatch(request, parts, lower, principal)
        caller = self.routes.tenant.principal(principal)
        if missing.linked:
            return linked_forbidden(caller, need.operation, need.scope, missing.operation, missing.scope)
        return forbidden(missing.operation, missing.scope, caller)

    def _authenticate(self, request: web.Request) -> tuple[web.Response | None, str]:
        """(None, principal) when the bearer token is one we issued, unexpired, for this ARM endpoint; else the 401."""
        header = request.headers.get("Authorization")
        scheme, _, token = (header or "").partition(" ")
        if not header:
            problem: tuple[str, str] | None = (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        elif scheme.lower() != "bearer" or not token.strip():
            problem = (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            )
        else:
            problem = self.issuer.problem(token.strip(), self.routes.endpoint)
        if problem is None:
            return None, self.issuer.principal(token.strip())
        code, message = problem
        challenge = (
            f'Bearer authorization_uri="https://login.microsoftonline.com/{self.routes.tenant.tenant_id}", '
            f'error="invalid_token", error_description="{message}"'
        )
        return error(401, code, message, {"WWW-Authenticate": challenge}), ""

    async def data_plane(
        self,
        request: web.Request,
        log: list[RequestRecord],
        answer: Callable[[web.Request, RequestRecord], Awaitable[web.Response]],
    ) -> web.StreamResponse:
        """The front of a data-plane site (Log Analytics, blobs): record, latency, faults, then its own answer."""
        record = RequestRecord(request.method, request.path, dict(request.query), None, time.monotonic())
        log.append(record)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        fired, response = await self.fault(request)
        if not fired:
            response = self.relink(request, await answer(request, record), self.foreign_endpoint)
        return finish(request, record, response)

    async def fault(self, request: web.Request) -> tuple[bool, web.StreamResponse | None]:
        """Whether a fault fired and its answer (None: no answer at all, the connection is dropped). A
        next-link fault does not answer here: `relink` rewrites the route's own answer."""
        for fault in self.faults:
            if fault.next_link is None and fault.fires(request.method, request.path):
                if fault.hang:
                    await self.released.wait()
                if fault.trickle:
                    return True, await self._trickle(request, fault.trickle)
                if fault.body_bytes:
                    return True, await self._oversized(request, fault.body_bytes, fault.declare_length)
                if fault.hang or fault.reset or not fault.status:
                    return True, None
                answer = flat_error if fault.flat else error
                message = f"Simulated failure ({fault.match})." if fault.message is None else fault.message
                response = answer(fault.status, error_code(fault.status), message)
                response.headers.update(fault.headers())
                return True, response
        return False, None

    async def _trickle(self, request: web.Request, seconds_per_byte: float) -> web.StreamResponse:
        """A 200 whose JSON body never ends: one byte at a time, until the client gives up or the simulator stops."""
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(b'{"value": [')
            while not self.released.is_set() and _open(request):
                await response.write(b" ")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.released.wait(), seconds_per_byte)
        return response

    async def _oversized(self, request: web.Request, size: int, declare: bool) -> web.StreamResponse:
        """A 200 JSON listing of `size` bytes (valid JSON: an empty value and padding)."""
        head, tail = b'{"value": [], "padding": "', b'"}'
        padding = max(0, size - len(head) - len(tail))
        headers = {"Content-Type": "application/json"}
        response = web.StreamResponse(status=200, headers=headers)
        if declare:
            response.content_length = len(head) + padding + len(tail)
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(head)
            chunk = b"x" * 65536
            while padding > 0 and not self.released.is_set() and _open(request):
                await response.write(chunk[: min(padding, len(chunk))])
                padding -= min(padding, len(chunk))
                await asyncio.sleep(0)  # let a client's disconnect be seen before the next chunk
            await response.write(tail)
        return response

    def relink(self, request: web.Request, response: web.Response, foreign: str) -> web.Response:
        """The route's answer with its continuation replaced, when a next-link fault matches the request: a
        JSON listing's `nextLink` (ARM), or a blob listing's XML `NextMarker` (a marker names no host, so
        "foreign" leaves a blob listing as it is)."""
        if response.body is None or response.content_type not in ("application/json", "application/xml"):
            return response
        for fault in self.faults:
            if fault.next_link is None or not fault.fires(request.method, request.path):
                continue
            body = bytes(response.body)  # type: ignore[arg-type]
            if response.content_type == "application/xml":
                replaced = self._remarked(request, body, fault)
            else:
                replaced = self._relinked(request, body, fault, foreign)
            if replaced is None:
                return response
            answer = web.Response(body=replaced, status=response.status, content_type=response.content_type)
            answer.headers.update({k: v for k, v in response.headers.items() if k.lower().startswith("x-ms-")})
            return answer
        return response

    def _relinked(self, request: web.Request, body: bytes, fault: Fault, foreign: str) -> bytes | None:
        listing = json.loads(body)
        if not isinstance(listing, dict):
            return None
        listing["nextLink"] = {
            "self": f"{self.routes.endpoint}{request.raw_path}",
            "foreign": f"{foreign}{request.raw_path}",
            "fresh": f"{self.routes.endpoint}{request.path}?api-version={request.query.get('api-version', '')}"
            f"&$skipToken=fresh{fault.fired}",
        }[fault.next_link or ""]
        return json.dumps(listing).encode()

    @staticmethod
    def _remarked(request: web.Request, body: bytes, fault: Fault) -> bytes | None:
        """A blob listing's NextMarker: the request's own marker again ("self"), or a new one every time."""
        if fault.next_link == "foreign" or b"<NextMarker" not in body:
            return None
        marker = (request.query.get("marker") or "azsim-loop") if fault.next_link == "self" else f"azsim-{fault.fired}"
        return _NEXT_MARKER.sub(f"<NextMarker>{marker}</NextMarker>".encode(), body, count=1)


def _open(request: web.Request) -> bool:
    """The client is still there (writing to a closed connection only logs a warning, per write)."""
    return request.transport is not None and not request.transport.is_closing()


def finish(request: web.Request, record: RequestRecord, response: web.StreamResponse | None) -> web.StreamResponse:
    """Record the outcome; with no response, drop the connection (the client sees a reset)."""
    record.ended = time.monotonic()
    if response is None:
        record.status = 0
        if request.transport is not None:
            request.transport.abort()
        return web.Response()  # never sent: the transport is gone
    record.status = response.status
    return response
