"""Helpers shared by the listens readers: missing-value markers, text track ids; and for the personal exports
(Last.fm scrobbles, ListenBrainz, Spotify): JSON records, vectorised missing values, rows set aside by reason,
user ids from file names, item tables. Files of folders and zips are in :mod:`gems.ingest.archive`; encodings,
bounded JSON and machine errors in :mod:`gems.ingest.safe_read`."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile
from gems.ingest.safe_read import decode_head, decode_text, first_json_value, parse_json
from gems.ingest.streaming import line_batches

# values that mean "nothing here" in real exports (compared case-insensitively, after stripping)
MISSING_MARKERS = frozenset(
    {"", "unknown", "null", "none", "nan", "n/a", "[unknown]", "unknown artist", "unknown track"}
)


def is_missing(value: Any) -> bool:
    """True for None, NaN and the textual placeholders of :data:`MISSING_MARKERS`."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value.strip().casefold() in MISSING_MARKERS


def clean_name(value: Any) -> str | None:
    """A display name with stray spaces removed and Unicode normalised (NFC); None when missing."""
    if is_missing(value):
        return None
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


# typographic quotes services disagree on (Spotify's "One Summer’s Day", Last.fm's "One Summer's Day")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})


_ANY_DIGIT = re.compile(r"\d")  # a decimal digit of any script (Unicode category Nd)


def ascii_digits(value: str) -> str:
    """``value`` in NFKC with every decimal digit of any script written as an ASCII digit:
    ``"２０２３－０１－０１"`` → ``"2023-01-01"``, ``"١٧٠٠"`` → ``"1700"`` (``\\d`` matches them, ``float`` reads
    them, but pandas and Arrow do not)."""
    return _ANY_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), unicodedata.normalize("NFKC", value))


def as_number(value: Any) -> float | None:
    """A JSON number or numeric text (any script's digits, full-width too) as a float — one too large for a
    float is ``inf`` — else None (true/false included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(ascii_digits(value) if isinstance(value, str) and not value.isascii() else value)
    except OverflowError:  # an integer of hundreds of digits
        return float("inf") if value > 0 else float("-inf")
    except ValueError:
        return None


def numeric_column(values: pd.Series) -> bool:
    """Whether ``values`` is an integer or float64 column: :func:`as_number` of a value, and of its text, is its
    ``float``."""
    return values.dtype.kind in "iu" or values.dtype == np.float64


def numbers(values: pd.Series) -> pd.Series:
    """:func:`as_number` of each value, as float64 (None: NaN): a NumPy integer or float64 column cast whole (each
    value's ``float``), text read once per distinct value (a weight column repeats a few hundred counts), any
    other column value by value (``True`` and ``1`` are one value to a hash, not to ``as_number``)."""
    if numeric_column(values):
        return values.astype("float64")
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values)
        read = np.array([as_number(u) for u in uniques] + [None], dtype="float64")
        return pd.Series(read[codes], index=values.index, name=values.name)
    return values.map(as_number).astype("float64")


def text_track_id(artist: str | None, title: str | None) -> str | None:
    """A stable id for sources without track ids: ``artist — title``, case-folded and space-normalised, with
    typographic quotes made plain, so the same song from two exports (or two spellings of its case) is one
    item. None without a title."""
    title = clean_name(title)
    if title is None:
        return None
    artist = clean_name(artist) or ""
    return f"{artist.casefold()} — {title.casefold()}".translate(_QUOTES)


# ----------------------------------------------------------------------------------------------------------
# Personal exports (Last.fm scrobbles, ListenBrainz, Spotify): files in folders and zips, JSON records,
# vectorised missing values, rows set aside by reason, user ids from file names, item tables.
# ----------------------------------------------------------------------------------------------------------


# what a sniffer may meet in a file that is not its format; it answers False instead of raising
SNIFF_ERRORS = (OSError, ValueError, EOFError, RuntimeError)
# the user id of a personal export that names no user, neither inside nor in its file names
DEFAULT_USER = "me"


ACCOUNT_BYTES = 1 << 20  # a user.json / Userdata.json is a few hundred bytes


def json_username(file: SourceFile | None, key: str = "username") -> str | None:
    """``key`` of the JSON object in ``file`` (ListenBrainz ``user.json``, Spotify ``Userdata.json``); None when
    the file is absent, unreadable, longer than :data:`ACCOUNT_BYTES` or lacks it (the caller then names users
    another way)."""
    if file is None:
        return None
    try:
        raw = file.read_bytes(ACCOUNT_BYTES + 1)
        if len(raw) > ACCOUNT_BYTES:
            return None
        data = parse_json(decode_text(raw, file.name, expected="an account file"), file.name)
    except DataError:
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return clean_name(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


# words of export file names that say what the file is, not whose (compared case-insensitively)
EXPORT_NAME_WORDS = frozenset(
    """scrobbles scrobble lastfm last fm librefm libre recenttracks recent tracks export exported exports download
    backup history listens listenbrainz spotify my data mydata streaming streaminghistory extended audio video music
    podcast podcasts audiobook endsong endvideo account csv json jsonl user copy""".split()
)
_NAME_TOKEN = re.compile(r"[^\s_\-.()\[\]]+")


def owner_from_name(name: str) -> str | None:
    """What is left of a file or folder name once export boilerplate is removed: ``scrobbles-alice-1732200000``
    → ``alice``, ``listenbrainz_bob_1700000000`` → ``bob``, ``alice`` → ``alice``, ``Streaming_History_Audio_2023_1``
    → None. Tokens (split at spaces, ``_``, ``-``, ``.``) that are numbers or words of
    :data:`EXPORT_NAME_WORDS` (with or without trailing digits: ``StreamingHistory0``) are dropped; the span
    from the first to the last remaining token is kept."""
    tokens = [
        m
        for m in _NAME_TOKEN.finditer(name)
        if not m.group().isdigit() and m.group().casefold().rstrip("0123456789") not in EXPORT_NAME_WORDS
    ]
    if not tokens:
        return None
    return clean_name(name[tokens[0].start() : tokens[-1].end()])


def owner_of(file: SourceFile) -> str | None:
    """The user a file's path names (see :func:`owner_from_name`), innermost name first; None if none does."""
    for name in file.owner_names():
        owner = owner_from_name(name)
        if owner:
            return owner
    return None


def first_json_record(head: bytes) -> Any:
    """The first record of a JSON array, or the first object of a JSON-lines file, from a file's first bytes
    (UTF-8 or UTF-16); None when they do not start one (or it is longer than ``head``, or nests too deep)."""
    text = decode_head(head).lstrip(" \t\r\n")
    if text.startswith("["):
        body = text[1:].lstrip()
        return first_json_value(body) if body.startswith("{") else None
    return first_json_value(text) if text.startswith("{") else None


def json_lines(file: SourceFile, *, expected: str) -> Iterator[tuple[list[tuple[int, Any]], list[tuple[int, str]]]]:
    """A JSON-lines file in batches of lines: ``(line, value)`` pairs and ``(line, error)`` for lines that are
    not JSON (a truncated last line, say, or one nested too deep); blank lines are skipped. Lines end at line
    feeds only: a raw U+2028 inside a JSON string is text, not a line break."""
    for first, lines in line_batches(file, expected=expected):
        numbered = [(n, line.strip()) for n, line in enumerate(lines, start=first) if line.strip()]
        good: list[tuple[int, Any]] = []
        bad: list[tuple[int, str]] = []
        # fast path: one object a line (the usual case) parses as one array, twice as fast as line by line
        if all(line.startswith("{") and line.endswith("}") for _, line in numbered):
            try:
                values = json.loads("[" + ",".join(line for _, line in numbered) + "]")
            except (ValueError, RecursionError):
                values = None
            if isinstance(values, list) and len(values) == len(numbered):
                yield [(n, v) for (n, _), v in zip(numbered, values)], bad
                continue
        for number, line in numbered:
            try:
                good.append((number, json.loads(line)))
            except ValueError as exc:
                bad.append((number, getattr(exc, "msg", str(exc))))
            except RecursionError:
                bad.append((number, "nested too deep"))
        yield good, bad


def shown(value: Any) -> str:
    """A raw value for a message: its repr, or ``missing`` for null, NaN and absent values."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "missing"
    return repr(value)


def missing_mask(values: pd.Series) -> np.ndarray:
    """Vectorised :func:`is_missing`: null, NaN, empty and the placeholders of :data:`MISSING_MARKERS`."""
    text = values.astype("string").str.strip().str.casefold()
    return (text.isna() | text.isin(list(MISSING_MARKERS))).to_numpy(dtype=bool)


def _plain(values) -> np.ndarray:
    """Which values are printable ASCII text (no control character): the ones Arrow cleans exactly as
    :func:`clean_name` does (NFC, Python's whitespace and ``casefold`` agree with Arrow's there)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, type=pa.string())
    plain = pc.and_(
        pc.string_is_ascii(text), pc.invert(pc.match_substring_regex(text, "[\\x00-\\x08\\x0b\\x0e-\\x1f\\x7f]"))
    )
    return np.asarray(pc.fill_null(plain, False).to_numpy(zero_copy_only=False), dtype=bool)


def _clean_plain(values) -> np.ndarray:
    """:func:`clean_name` of printable ASCII values, in Arrow: whitespace runs to one space, trimmed,
    placeholders to None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(pa.array(values, type=pa.string()), r"\s+", " "))
    missing = pc.is_in(pc.utf8_lower(text), value_set=pa.array(sorted(MISSING_MARKERS)))
    return np.asarray(pc.if_else(missing, None, text).to_numpy(zero_copy_only=False), dtype=object)


def clean_names(values: pd.Series) -> pd.Series:
    """Vectorised :func:`clean_name` (missing values become ``<NA>``; other values are read as text). Each
    distinct value is cleaned once — exports repeat the same names thousands of times —, printable ASCII in
    Arrow, the rest by :func:`clean_name` itself."""
    codes, uniques = pd.factorize(values.astype("string"))
    uniques = np.asarray(uniques, dtype=object)
    cleaned = np.empty(len(uniques) + 1, dtype=object)
    plain = _plain(uniques)
    cleaned[:-1][plain] = _clean_plain(uniques[plain])
    cleaned[:-1][~plain] = [clean_name(u) for u in uniques[~plain]]
    return pd.Series(cleaned[codes], index=values.index, dtype="string")


def text_track_ids(artists: pd.Series, titles: pd.Series) -> pd.Series:
    """Vectorised :func:`text_track_id`: ``artist — title`` of the cleaned names, lower-cased (printable ASCII
    in Arrow, the rest by :func:`text_track_id` itself)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    artist, title = clean_names(artists), clean_names(titles)
    plain = _plain(artist.fillna("").to_numpy(dtype=object)) & _plain(title.fillna("").to_numpy(dtype=object))
    ids = np.empty(len(title), dtype=object)
    joined = pc.binary_join_element_wise(
        pa.array(artist.fillna("").to_numpy(dtype=object)[plain], pa.string()),
        pa.array(title.fillna("").to_numpy(dtype=object)[plain], pa.string()),
        " — ",
    )
    ids[plain] = pc.utf8_lower(joined).to_numpy(zero_copy_only=False)
    ids[~plain] = [
        text_track_id(a, t)
        for a, t in zip(artists.to_numpy(dtype=object)[~plain], titles.to_numpy(dtype=object)[~plain])
    ]
    ids[title.isna().to_numpy()] = None
    return pd.Series(ids, index=titles.index, dtype="string")


def is_true(values: pd.Series) -> np.ndarray:
    """JSON ``true`` (or the text ``"true"``) per value; null and anything else is False."""
    return values.map(lambda v: v is True or (isinstance(v, str) and v.strip().casefold() == "true")).to_numpy(
        dtype=bool
    )
