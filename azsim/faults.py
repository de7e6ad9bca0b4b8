"""Injected failures and hostile answers: error statuses, requests that never get an answer, connection resets,
answers that trickle or never end, oversized bodies, and listings whose nextLink loops or leaves the host.

Real ARM does none of the hostile things; a broken proxy, a compromised endpoint or a bug in a provider can,
and the auditor must end every wait and keep its token home whatever answers at its endpoint.
"""

import random
import re
from dataclasses import dataclass, field
from http import HTTPStatus

# ARM error codes for the statuses a fault may answer with.
ERROR_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def error_code(status: int) -> str:
    return ERROR_CODES.get(status) or HTTPStatus(status).phrase.replace(" ", "")


@dataclass
class Fault:
    """Answer requests whose path matches `match` (a case-insensitive regex, searched) with a failure.

    Exactly one behaviour applies, in this order: `hang` (never answer; released when the simulator stops),
    `reset` (drop the connection without a response), `trickle` (a 200 whose body comes one byte every
    `trickle` seconds and never ends), `body_bytes` (a 200 JSON listing padded to that many bytes, with a
    Content-Length when `declare_length`, else chunked), `next_link` (the real answer, its `nextLink` replaced:
    "self" points at the request's own URL, "foreign" at the simulator's foreign host, "fresh" at a new
    page of the same listing every time; in a blob listing its `NextMarker`, "self" the request's own
    marker, "fresh" a new one), `status` (an ARM error body; a 429 always carries Retry-After,
    other statuses only when `retry_after` is set). `method` None matches any method. `times`
    None fires forever, else that many times; `after` lets that many matching requests through first.
    `probability` < 1 fires at random (`seed` makes it repeatable). `flat` answers the error body without
    the "error" wrapper, as microsoft.insights does. `message` is the error body's message (by default
    "Simulated failure (<match>)."): served as given, control characters and all, since the auditor must
    treat whatever answers at ARM's endpoint as untrusted. `fired` counts the requests it answered.
    """

    match: str
    method: str | None = "GET"
    status: int | None = 500
    hang: bool = False
    reset: bool = False
    trickle: float | None = None
    body_bytes: int | None = None
    declare_length: bool = True
    next_link: str | None = None  # "self", "foreign" or "fresh"
    times: int | None = None
    probability: float = 1.0
    retry_after: float | None = None
    seed: int | None = None
    after: int = 0  # let this many matching requests through first (e.g. fail the second page of a list)
    flat: bool = False
    message: str | None = None
    fired: int = field(default=0, init=False)
    _passed: int = field(default=0, init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.hang or self.reset or self.status or self.trickle or self.body_bytes or self.next_link):
            raise ValueError("a Fault needs a status, hang, reset, trickle, body_bytes or next_link")
        if self.next_link not in (None, "self", "foreign", "fresh"):
            raise ValueError("next_link is 'self', 'foreign' or 'fresh'")
        self._pattern = re.compile(self.match, re.IGNORECASE)
        self._random = random.Random(self.seed)

    def fires(self, method: str, path: str) -> bool:
        """Whether this request is answered by the fault (counts it when so). Server thread only."""
        if self.times is not None and self.fired >= self.times:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if not self._pattern.search(path):
            return False
        if self._passed < self.after:
            self._passed += 1
            return False
        if self.probability < 1.0 and self._random.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def headers(self) -> dict[str, str]:
        if self.retry_after is not None:
            return {"Retry-After": f"{self.retry_after:g}"}
        return {"Retry-After": "1"} if self.status == 429 else {}
