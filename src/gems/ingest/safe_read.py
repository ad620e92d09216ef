"""Reading input files the same careful way in every reader: the text encoding sniffed from the first bytes,
JSON parsed with bounded nesting, and the machine's errors (permission, a missing file, a FIFO) turned into a
:class:`~gems.errors.DataError` that names the file and says what to do.

Encodings (:func:`sniff_encoding`): a byte-order mark says UTF-8, UTF-16 (LE/BE) or UTF-32; without one, text
whose every other byte is NUL is UTF-16 (LE or BE by where the NULs are: ASCII text saved as UTF-16); else
UTF-8 when it decodes as such. Anything else is named in the error (binary data, or a legacy 8-bit encoding
that only readers of legacy files, such as tables, accept as Latin-1).
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gems.errors import DataError
from gems.safe_files import describe_os_error, read_regular

HEAD_BYTES = 65536
# longest first: a UTF-32-LE mark starts like a UTF-16-LE one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NUL_SAMPLE = 4096
LABELS = {
    "utf-8-sig": "UTF-8",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16-LE",
    "utf-16-be": "UTF-16-BE",
}


def sniff_encoding(head: bytes, *, whole: bool = False) -> str | None:
    """The Python codec of a text file from its first bytes (see the module's docstring); None for binary data
    or text in a legacy 8-bit encoding. ``whole``: ``head`` is the entire file, so a multi-byte character cut
    at its end is an error, not the end of the sample."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    sample = head[:_NUL_SAMPLE]
    sample = sample[: len(sample) - len(sample) % 2]
    if b"\x00" in sample:
        pairs = len(sample) // 2
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd >= 0.3 * pairs and even <= 0.05 * pairs:
            return "utf-16-le"
        if even >= 0.3 * pairs and odd <= 0.05 * pairs:
            return "utf-16-be"
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the end of the sample is still UTF-8
        cut = not whole and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
        return "utf-8" if cut else None
    return "utf-8"


def _not_text(head: bytes, name: str, expected: str) -> DataError:
    """The error for bytes :func:`sniff_encoding` cannot read as text."""
    nul = head.find(b"\x00")
    if nul >= 0:
        return DataError(f"{name}: binary data (a NUL byte at byte {nul}), not text; expected {expected}")
    try:
        head.decode("utf-8")
        where = ""
    except UnicodeDecodeError as exc:
        where = f" (byte 0x{head[exc.start]:02X} at byte {exc.start} is not UTF-8)"
    return DataError(
        f"{name}: not UTF-8 or UTF-16 text{where}; expected {expected} — re-save it as UTF-8 (it may be in a "
        "legacy encoding such as Windows-1252)"
    )


def text_encoding(head: bytes, name: str, *, expected: str, fallback: str | None = None) -> str:
    """The codec to read a file with, from its first :data:`HEAD_BYTES` (fewer: the whole file); ``fallback``
    (e.g. ``latin-1``) for text in a legacy 8-bit encoding, else a DataError naming what was found."""
    encoding = sniff_encoding(head, whole=len(head) < HEAD_BYTES)
    if encoding is not None:
        return encoding
    if fallback is not None and b"\x00" not in head:
        return fallback
    raise _not_text(head, name, expected)


def decode_text(raw: bytes, name: str, *, expected: str, fallback: str | None = None) -> str:
    """A whole file's bytes as text in the encoding :func:`text_encoding` picks; text that turns out invalid
    further on is read with ``fallback`` when given, else a DataError naming the encoding and the byte."""
    encoding = text_encoding(raw[:HEAD_BYTES], name, expected=expected, fallback=fallback)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if fallback is not None:
            return raw.decode(fallback)
        raise invalid_text(name, encoding, exc.start, exc.reason, expected) from None


def invalid_text(name: str, encoding: str, at: int, reason: str, expected: str) -> DataError:
    """The error for text that is not valid in ``encoding`` at byte ``at``."""
    return DataError(
        f"{name}: not valid {LABELS.get(encoding, encoding)} text at byte {at:,} ({reason}); expected {expected} — "
        "is the file complete, and saved in one encoding?"
    )


def decode_head(head: bytes) -> str:
    """The first bytes of a file as text for a format sniffer: never raises (undecodable bytes are replaced)."""
    encoding = sniff_encoding(head) or "utf-8"
    if encoding.startswith(("utf-16", "utf-32")):
        head = head[: len(head) - len(head) % (4 if encoding == "utf-32" else 2)]
    return head.decode(encoding, errors="replace").lstrip("\ufeff")


# ----------------------------------------------------------------------------------------------------- JSON


def too_deep(name: str) -> DataError:
    """The error for JSON nested deeper than the parser's recursion limit."""
    return DataError(
        f"{name}: JSON nested too deep (arrays or objects inside each other more than about "
        f"{sys.getrecursionlimit():,} levels; exports nest a few); this is not an export gems reads"
    )


def parse_json(text: str, name: str) -> Any:
    """Parse JSON text; a syntax error names ``name``:line:column, nesting too deep for the parser (a hostile
    or broken file) is a DataError too, never a RecursionError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); is the file complete?") from None
    except RecursionError:
        raise too_deep(name) from None


def describe_json(value: Any) -> str:
    """What a JSON value is, for a message: ``an object with keys a, b`` or ``a number``..."""
    if isinstance(value, dict):
        return f"an object with keys {', '.join(map(str, list(value)[:6]))}" if value else "an empty object"
    kinds = {list: "an array", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def first_json_value(text: str) -> Any:
    """The JSON value at the start of ``text`` (what follows it is ignored); None when there is none, it is
    cut off, or it nests too deep."""
    try:
        return json.JSONDecoder().raw_decode(text)[0]
    except (ValueError, RecursionError):
        return None


# ------------------------------------------------------------------------------------------- machine errors


def read_input(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of an input file (the first ``limit``); a FIFO, a missing or unreadable file is a DataError
    naming the file and what to do."""
    try:
        return read_regular(path, limit)
    except OSError as exc:
        raise DataError(f"{path}: {describe_os_error(exc)}") from None


@contextmanager
def machine_errors(source: str | Path) -> Iterator[None]:
    """Turn an OSError (permission denied, a file gone, a disk full, nesting too deep for Python) met while
    reading ``source`` into a DataError naming the file and what to do: the backstop of every reader."""
    try:
        yield
    except RecursionError:
        raise too_deep(str(source)) from None
    except OSError as exc:
        raise DataError(f"{exc.filename or source}: {describe_os_error(exc)}") from None
