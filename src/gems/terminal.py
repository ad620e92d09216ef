"""Text from data, made safe to show. Titles, ids, paths and manifest values come from files anyone may have
written, and they reach a terminal and playlist files.

Rich would read ``[/]`` in a title as markup (and fail on it), and a terminal obeys escape sequences
(``ESC ] 0 ; … BEL`` retitles it; others move the cursor, clear the screen or rewrite what it shows).
:func:`printable` drops control characters — C0, DEL and C1 — and turns line breaks and tabs into spaces, so
a value stays on its line; :func:`shown` also escapes Rich markup: the CLI prints every value through it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

_BREAKS = re.compile("[\t\n\x0b\x0c\r\x85\u2028\u2029]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")  # what json.dumps(ensure_ascii=False) leaves unescaped


def printable(value: Any) -> str:
    """``str(value)`` on one line without control characters."""
    return _CONTROLS.sub("", _BREAKS.sub(" ", str(value)))


def shown(value: Any) -> str:
    """:func:`printable`, with Rich markup escaped: what a console may print as it is."""
    from rich.markup import escape

    return escape(printable(value))


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """JSON (indented, or on one line with ``indent=None``) whose strings keep their data exactly but cannot
    steer a terminal: json escapes C0 characters itself, and DEL, C1 and the Unicode line separators are written
    as ``\\u`` escapes too."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return _RAW_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class PrintableLog(logging.Filter):
    """A logging filter that makes each record's message :func:`printable` (user ids, paths and titles are
    logged as they are found)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        return True
