"""Text from Azure made inert for people and tools to read (docs/reference.md, "Text from Azure").

Names, tags, display names, setting names, error messages and callers come from whoever answers at
ARM's endpoint or sent an event; the auditor treats them as untrusted. Real ARM refuses most control
characters in names at creation, but not in tags, display names or its own error texts, and a proxy
or a compromised endpoint may answer anything. Raw, an escape sequence in a cluster name could paint
a fake `PASS` line or retitle the terminal, a `\\r` could overwrite a line of the table, a bidi
override could show `gnp.exe` as `exe.png`.

So every output for people or tools spells each such character out as an ASCII escape, as Python
writes it (`\\x1b`, `\\r`, `\\u202e`, `\\U000e0041`): a reader sees that something was there and
what, and nothing of it acts. An escape sequence then reads as text whole (`\\x1b[32mPASS`).
Backslashes are left as they are, so inert text stays the same when made inert again.

Spelled out: control characters (C0 with tab and line breaks, DEL, C1 with CSI and OSC), format
characters (bidi embeddings, overrides, isolates and marks, zero-width spaces, the BOM, Unicode
tags), the line and paragraph separators, and lone surrogates (which cannot even be written as
UTF-8). Kept: every letter, mark, digit, symbol and space of any script (`rg-analytics-münchen`,
`東京`), and the two joiners U+200C/U+200D, which Arabic and Indic scripts and emoji need and which
reorder nothing.

Renderers apply it at the edge (`shown`), never the core or stored state: JSON and the records keep
the exact values. The auditor's logger makes its records inert once (`InertRecords`).
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from collections.abc import Mapping
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar, cast

from auditor.model import Fixes

T = TypeVar("T")

# Unicode general categories that act instead of showing: control, format, line and paragraph
# separator, surrogate.
_ACTING = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ: part of ordinary text in many scripts
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _acts(character: str) -> bool:
    """Whether a character does something to a terminal, a viewer or the text around it."""
    return unicodedata.category(character) in _ACTING and character not in _JOINERS


def inert(text: str) -> str:
    """`text` with every acting character spelled out; printable text comes back as it is."""
    if text.isprintable():  # the common case, in C: no control, format or separator character
        return text
    return "".join(_spelled(character) if _acts(character) else character for character in text)


def inert_lines(text: str) -> str:
    """Multi-line text the auditor wrote itself (a Bicep file, a traceback): each line inert, the breaks kept."""
    return "\n".join(inert(line) for line in text.split("\n"))


def shown(value: T) -> T:
    """A copy of a finding, notice, outcome or name map (any dataclass, tuple, mapping or string, nested)
    with every string inert, for a renderer. Enums (statuses) and other values are kept."""
    return cast(T, _shown(value))


def _shown(value: Any) -> Any:
    if isinstance(value, Enum):  # a StrEnum is a str: keep the member, not its text
        return value
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, Fixes):
        return Fixes(inert(value.az), inert_lines(value.bicep), inert_lines(value.terraform))  # az: one line
    if isinstance(value, tuple):
        return tuple(_shown(item) for item in value)
    if isinstance(value, Mapping):
        return {_shown(key): _shown(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _shown(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def _spelled(character: str) -> str:
    code = ord(character)
    if character in _SHORT:
        return _SHORT[character]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class InertRecords(logging.Filter):
    """Makes each record of the logger it is added to inert once, before any handler (the CLI's stderr,
    the Functions host's) formats it: the message with its arguments, and a traceback.

    A logger's filters see only records logged to that logger itself, not those of child loggers
    propagating to it, so the auditor logs to `auditor` alone (tests/test_architecture.py checks it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports that itself
            return True
        record.msg, record.args = inert(message), None
        if record.exc_info and not record.exc_text:  # formatters use exc_text when it is set
            record.exc_text = _traceback(record.exc_info)
        return True


def _traceback(exc_info: _ExcInfo) -> str:
    """The traceback line by line, each exception's message (which may quote Azure) wholly inert: a line
    break in it must not start a line that reads as a record of its own."""
    text = logging.Formatter().formatException(exc_info)
    exc, seen = exc_info[1], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        message = str(exc)
        text = text.replace(message, inert(message)) if message else text
        exc = exc.__cause__ or exc.__context__
    return inert_lines(text)
