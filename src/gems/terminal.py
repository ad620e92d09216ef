"""Text from data, made safe to show. Titles, ids, paths and manifest values come from files anyone may have
written, and they reach a terminal and playlist files.

Rich would read ``[/]`` in a title as markup (and fail on it), and a terminal obeys escape sequences
(``ESC ] 0 ; … BEL`` retitles it; others move the cursor, clear the screen or rewrite what it shows).
:func:`printable` drops control characters — C0, DEL and C1 — and turns line breaks and tabs into spaces, so
a value stays on its line; and it writes every invisible format character (Unicode category Cf: the bidi
controls U+202A–202E and U+2066–2069 that display a name reversed, zero-width spaces and joiners, the BOM, tag
characters) as a visible ``<U+202E>``, so what is shown is what the file says. :func:`shown` also escapes Rich
markup: the CLI prints every value through it, and playlist files take their text from :func:`printable`.
:func:`json_text` keeps the data exactly, with those characters as JSON ``\\u`` escapes.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")  # what json.dumps(ensure_ascii=False) leaves unescaped


def printable(value: Any) -> str:
    """``str(value)`` on one line without control characters, its invisible format characters made visible
    (``<U+202E>``)."""
    text = _CONTROLS.sub("", _BREAKS.sub(" ", str(value)))
    hidden = set() if text.isascii() else _invisible(text)
    return "".join(f"<U+{ord(c):04X}>" if c in hidden else c for c in text) if hidden else text


def _invisible(text: str) -> set[str]:
    """The characters of ``text`` of Unicode category Cf (format: invisible, yet they change what is shown)."""
    return {c for c in set(text) if not c.isascii() and unicodedata.category(c) == "Cf"}


def shown(value: Any) -> str:
    """:func:`printable`, with Rich markup escaped: what a console may print as it is."""
    from rich.markup import escape

    return escape(printable(value))


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """JSON (indented, or on one line with ``indent=None``) whose strings keep their data exactly but cannot
    steer a terminal: json escapes C0 characters itself, and DEL, C1, the Unicode line separators and the format
    characters (Cf) are written as ``\\u`` escapes too."""
    text = _RAW_IN_JSON.sub(
        lambda match: _json_escape(match.group()), json.dumps(obj, ensure_ascii=False, indent=indent)
    )
    hidden = set() if text.isascii() else _invisible(text)
    return "".join(_json_escape(c) if c in hidden else c for c in text) if hidden else text


def _json_escape(char: str) -> str:
    """``char`` as a JSON ``\\u`` escape (a surrogate pair beyond the BMP)."""
    return json.dumps(char)[1:-1]


class PrintableLog(logging.Filter):
    """A logging filter that makes each record's message :func:`printable` (user ids, paths and titles are
    logged as they are found)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True
