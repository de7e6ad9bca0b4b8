"""Turning Azure failures into one-line reasons a person can act on."""

from __future__ import annotations

import asyncio
import re

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from auditor.azure.credentials import TokenUnavailable
from auditor.azure.storage import StorageFailed
from auditor.azure.transport import RETRIES, Refused

_MAX_DETAIL = 240
# ARM names what was missing: "... does not have authorization to perform action '<op>' over scope ...", or for
# a write whose target links another resource (LinkedAuthorizationFailed) "... does not have permission to
# perform action '<op>' on the linked scope(s) '<id>' ..." (JimGBritt/AzurePolicy issue 17).
_DENIED = re.compile(r"does not have authorization to perform action '([^']+)'")
_LINK_DENIED = re.compile(r"does not have permission to perform action '([^']+)' on the linked scope\(s\) '([^']+)'")
_ROLES = "docs/deploy.md, 'What the identity may do', names the role that grants it"


def describe(exc: BaseException, timeout_seconds: float, listing: bool = False) -> str:
    """Why a read failed, on one line, with what to do about it where that is clear.

    `listing`: the failed read listed a subscription's clusters (a 404 then means the
    subscription is gone, not a cluster)."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ServiceResponseTimeoutError):
        return f"no answer from ARM within {timeout_seconds:g}s per attempt ({RETRIES} retries): timed out"
    if isinstance(exc, Refused | StorageFailed):  # egress refused it, or it says which storage call failed
        return first_line(exc)
    if isinstance(exc, TokenUnavailable) or (
        isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None
    ):
        return f"could not get a token: {first_line(exc)}"
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        code = error_code(exc)
        if status == 403:
            return f"forbidden (403 {code or 'AuthorizationFailed'}): {_forbidden(exc)}"
        if status == 404:
            gone = (
                "the subscription no longer exists or ARM cannot find it"
                if listing
                else ("deleted or moved after it was listed")
            )
            return f"not found (404 {code or 'ResourceNotFound'}): {gone}"
        if status == 429:
            return f"still throttled by ARM (429) after {RETRIES} retries"
        if status >= 500:
            return f"ARM answered {status} {code or exc.reason or ''}".rstrip() + f" after {RETRIES} retries"
        return f"ARM answered {status} {code or exc.reason or ''}: {first_line(exc)}"
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return f"could not reach ARM ({type(exc).__name__}): {first_line(exc)}"
    return f"{type(exc).__name__}: {first_line(exc)}"


def _forbidden(exc: HttpResponseError) -> str:
    """What the identity lacks, as ARM's message names it."""
    message = str(getattr(getattr(exc, "error", None), "message", None) or exc.message or "")
    if linked := _LINK_DENIED.search(message):
        return f"the identity may write it but lacks {linked[1]} on the linked {linked[2]} ({_ROLES})"
    if denied := _DENIED.search(message):
        return f"the identity lacks {denied[1]} there ({_ROLES})"
    return "the identity may not read it (docs/deploy.md, 'What the identity may do', says what each check needs)"


def is_azure_failure(exc: BaseException) -> bool:
    """An answer (or silence) from Azure or the identity endpoint, as opposed to a bug of ours."""
    return isinstance(exc, AzureError | Refused | TimeoutError | asyncio.TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later (Event Grid or the queue will): throttling, 5xx, timeouts, broken connections,
    and failures to get or use a token, which say nothing about the cluster."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, ClientAuthenticationError):
        return True
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        return exc.status_code in {408, 429} or exc.status_code >= 500
    return False


def error_code(exc: HttpResponseError) -> str:
    """ARM's error code, from either body shape: `{"error": {"code", ...}}` or the flat
    `{"code", "message"}` that microsoft.insights answers with (azure-core reads both)."""
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", "") or "")


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"
