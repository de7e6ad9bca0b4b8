"""JSON documents from outside (a replay file, a queue message, an Event Grid delivery), bounded. Pure.

Every document is limited in size (read without taking in more than the limit and one byte) and
in nesting depth, so hostile input ends as one line naming what is wrong, never as a memory blow-up
or a RecursionError from deep in the json module. Callers turn `BadDocument` into their own error.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from typing import Any, BinaryIO, TextIO

# ARM's Event Grid events nest four levels (event > data > authorization > evidence, in the public
# samples); the auditor's own queue messages three. 32 leaves room for any ARM event and stays far below the
# interpreter's recursion limit (about 1,000), which every later step that walks a document relies on.
MAX_DEPTH = 32
# Event Grid refuses an event over 1 MB (learn.microsoft.com/azure/event-grid/event-schema: "Each event
# in the array is limited to 1 MB"), so no delivered event is larger.
MAX_EVENT_BYTES = 1024 * 1024
# A Storage queue message is at most 64 KiB (learn.microsoft.com/azure/storage/queues/storage-queues-introduction).
MAX_QUEUE_MESSAGE_BYTES = 64 * 1024
# `handle-event FILE`: 100,000 ARM events of the size the public samples have (2.5-3 KB) make about 300 MB.
MAX_REPLAY_BYTES = 512 * 1024 * 1024


class BadDocument(ValueError):
    """Not a bounded JSON document; the message is one line and never quotes the document."""


def read_file(path: str, stdin: TextIO, limit: int) -> str:
    """A regular file (or `-`, standard input) as UTF-8 text of at most `limit` bytes.

    The file is opened without blocking and checked on its open descriptor, so a FIFO, a device
    (`/dev/zero`) or a directory is refused before a byte is read, and no name can be swapped in between.
    """
    if path == "-":
        binary: BinaryIO | None = getattr(stdin, "buffer", None)
        data = binary.read(limit + 1) if binary is not None else stdin.read(limit + 1).encode("utf-8")
        return _text(data, limit, "standard input")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise BadDocument(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadDocument(f"cannot read {path}: not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise BadDocument(f"cannot read {path}: {exc.strerror}") from None
    return _text(data, limit, path)


def _text(data: bytes, limit: int, what: str) -> str:
    if len(data) > limit:
        raise BadDocument(f"{what} is larger than {_size(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadDocument(f"{what} is not UTF-8 text (byte {exc.start})") from None


def loads(text: str, limit: int, what: str) -> Any:
    """Parse JSON (RFC 8259: no NaN or Infinity) of at most `limit` UTF-8 bytes and MAX_DEPTH levels."""
    if len(text) > limit or _utf8_size(text) > limit:
        raise BadDocument(f"{what} is larger than {_size(limit)}")
    try:
        document = json.loads(text, parse_constant=lambda name: _not_json(name, what))
    except json.JSONDecodeError as exc:
        raise BadDocument(f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        # The json module recurses once per level and gives up near the interpreter's limit.
        raise BadDocument(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    check_depth(document, what)
    return document


def check_depth(document: object, what: str) -> None:
    """Refuse a parsed document nested deeper than MAX_DEPTH, walking it without recursion."""
    pending: list[tuple[object, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise BadDocument(f"{what} is nested deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)


def check_size(document: object, limit: int, what: str) -> None:
    """Refuse a parsed document (depth already checked) whose compact JSON is over `limit` bytes."""
    if _utf8_size(json.dumps(document, separators=(",", ":"), ensure_ascii=False)) > limit:
        raise BadDocument(f"{what} is larger than {_size(limit)}")


def _utf8_size(text: str) -> int:
    """Bytes of `text` as UTF-8; a lone surrogate (JSON may escape one, `\\ud800`) counts, not crashes."""
    return len(text.encode("utf-8", errors="surrogatepass"))


def _not_json(name: str, what: str) -> None:
    raise BadDocument(f"{what} is not JSON: {name} is not a JSON value")


def _size(limit: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"
