"""Helpers shared by the listens readers: tolerant JSON loading, missing-value markers, text track ids; and for
the personal exports (Last.fm scrobbles, ListenBrainz, Spotify): files in folders and zips, JSON records,
vectorised missing values, rows set aside by reason, user ids from file names, item tables."""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.report import MAX_EXAMPLES, IngestReport

# values that mean "nothing here" in real exports (compared case-insensitively, after stripping)
MISSING_MARKERS = frozenset(
    {"", "unknown", "null", "none", "nan", "n/a", "[unknown]", "unknown artist", "unknown track"}
)


def is_missing(value: Any) -> bool:
    """True for None, NaN and the textual placeholders of :data:`MISSING_MARKERS`."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value.strip().casefold() in MISSING_MARKERS


def clean_name(value: Any) -> str | None:
    """A display name with stray spaces removed and Unicode normalised (NFC); None when missing."""
    if is_missing(value):
        return None
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def text_track_id(artist: str | None, title: str | None) -> str | None:
    """A stable id for sources without track ids: ``artist — title``, case-folded and space-normalised, so
    the same song from two exports (or two spellings of its case) is one item. None without a title."""
    title = clean_name(title)
    if title is None:
        return None
    artist = clean_name(artist) or ""
    return f"{artist.casefold()} — {title.casefold()}"


def load_json(path: Path, *, text: str | None = None) -> Any:
    """Parse a JSON file (UTF-8, with or without a byte-order mark); a syntax error names file, line, column."""
    if text is None:
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text at byte {exc.start}; expected a JSON export") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}); is the file complete?") from exc


# ----------------------------------------------------------------------------------------------------------
# Personal exports (Last.fm scrobbles, ListenBrainz, Spotify): files in folders and zips, JSON records,
# vectorised missing values, rows set aside by reason, user ids from file names, item tables.
# ----------------------------------------------------------------------------------------------------------


# what a sniffer may meet in a file that is not its format; it answers False instead of raising
SNIFF_ERRORS = (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error)
_ZIP_ERRORS = (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)
HEAD_BYTES = 65536
# the user id of a personal export that names no user, neither inside nor in its file names
DEFAULT_USER = "me"


def _skipped_name(parts: Sequence[str]) -> bool:
    """Hidden files and the ``__MACOSX`` resource forks macOS adds to zips."""
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


@dataclass(frozen=True)
class SourceFile:
    """One file of a listens source: the file given, a file inside the folder given, or a member of the zip
    given. ``rel`` is its path inside the source (just its name for a single file); ``name`` is how messages
    show it (``folder/sub/file.json``, ``archive.zip:sub/file.json``)."""

    source: Path
    rel: PurePosixPath
    member: str | None = None

    @property
    def name(self) -> str:
        if self.member is not None:
            return f"{self.source}:{self.member}"
        return str(self.path)

    @property
    def path(self) -> Path:
        """The file on disk (the archive, for a zip member)."""
        if self.member is not None or self.source.is_file():
            return self.source
        return self.source.joinpath(*self.rel.parts)

    @property
    def file_name(self) -> str:
        return self.rel.name

    def read_bytes(self, limit: int | None = None) -> bytes:
        """The file's bytes (the first ``limit`` of them when given); a broken zip is a :class:`DataError`."""
        if self.member is None:
            if limit is None:
                return self.path.read_bytes()
            with open(self.path, "rb") as handle:
                return handle.read(limit)
        try:
            with zipfile.ZipFile(self.source) as archive, archive.open(self.member) as handle:
                return handle.read() if limit is None else handle.read(limit)
        except _ZIP_ERRORS as exc:
            raise DataError(f"{self.name}: cannot read this member of the zip archive ({exc}); is the download complete?") from exc

    def read_text(self) -> str:
        """The file as UTF-8 text (a byte-order mark dropped); other encodings are a :class:`DataError`."""
        raw = self.read_bytes()
        if not raw.strip():
            raise DataError(f"{self.name} is empty; expected an export file")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.name}: not UTF-8 text at byte {exc.start}; expected a JSON export") from exc

    def owner_names(self) -> list[str]:
        """Names that may carry the owner's user name, innermost first: the file's stem, the folders between
        it and the source, then the source itself (a zip's or a folder's name)."""
        names = [PurePosixPath(self.rel.name).stem]
        names += list(reversed(self.rel.parent.parts))
        if self.member is not None:
            names.append(self.source.stem)
        elif self.source.is_dir():
            names.append(self.source.name)
        return names


def _zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return [i.filename for i in archive.infolist() if not i.is_dir()]
    except _ZIP_ERRORS as exc:
        raise DataError(f"{path} is not a readable zip archive ({exc}); expected the export as downloaded") from exc


def source_files(path: Path, *, limit: int | None = None) -> list[SourceFile]:
    """Every file of a source: ``path`` itself, the files under a folder (recursively, sorted), or the members
    of a ``.zip`` (read in place, never extracted). Hidden files and ``__MACOSX`` entries are skipped.
    ``limit`` stops early (for sniffing a big folder cheaply)."""
    path = Path(path)
    if path.is_dir():
        found = (p for p in sorted(path.rglob("*")) if p.is_file())
        files = []
        for p in islice(found, limit):
            rel = PurePosixPath(*p.relative_to(path).parts)
            if not _skipped_name(rel.parts):
                files.append(SourceFile(path, rel))
        return files
    if path.suffix.lower() == ".zip":
        members = [m for m in _zip_members(path) if not _skipped_name(PurePosixPath(m).parts)]
        return [SourceFile(path, PurePosixPath(m), member=m) for m in sorted(members)[:limit]]
    return [SourceFile(path, PurePosixPath(path.name))]


def nearest_file(files: Sequence[SourceFile], of: SourceFile, name: str) -> SourceFile | None:
    """The file called ``name`` (case-insensitive) in ``of``'s folder or the nearest folder above it within the
    source, e.g. a ListenBrainz ``user.json`` beside ``listens/``."""
    by_rel = {str(f.rel).casefold(): f for f in files}
    for folder in of.rel.parents:
        hit = by_rel.get(str(folder / name).casefold().removeprefix("./"))
        if hit is not None:
            return hit
    return None


def json_username(file: SourceFile | None, key: str = "username") -> str | None:
    """``key`` of the JSON object in ``file`` (ListenBrainz ``user.json``, Spotify ``Userdata.json``); None when
    the file is absent, unreadable or lacks it (the caller then names users another way)."""
    if file is None:
        return None
    try:
        data = load_json(file.name, text=file.read_text())
    except DataError:
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return clean_name(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


# words of export file names that say what the file is, not whose (compared case-insensitively)
EXPORT_NAME_WORDS = frozenset(
    {
        "scrobbles", "scrobble", "lastfm", "last", "fm", "librefm", "libre", "recenttracks", "recent", "tracks",
        "export", "exported", "exports", "download", "backup", "history", "listens", "listenbrainz", "spotify",
        "my", "data", "mydata", "streaming", "streaminghistory", "extended", "audio", "video", "music", "podcast",
        "podcasts", "audiobook", "endsong", "endvideo", "account", "csv", "json", "jsonl", "user", "copy",
    }
)
_NAME_TOKEN = re.compile(r"[^\s_\-.()\[\]]+")


def owner_from_name(name: str) -> str | None:
    """What is left of a file or folder name once export boilerplate is removed: ``scrobbles-alice-1732200000``
    → ``alice``, ``listenbrainz_bob_1700000000`` → ``bob``, ``alice`` → ``alice``, ``Streaming_History_Audio_2023_1``
    → None. Tokens (split at spaces, ``_``, ``-``, ``.``) that are numbers or words of
    :data:`EXPORT_NAME_WORDS` (with or without trailing digits: ``StreamingHistory0``) are dropped; the span from the first to the last remaining token is kept."""
    tokens = [
        m for m in _NAME_TOKEN.finditer(name)
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
    """The first record of a JSON array, or the first object of a JSON-lines file, from a file's first bytes;
    None when they do not start one (or it is longer than ``head``)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    decoder = json.JSONDecoder()
    try:
        if text.startswith("["):
            body = text[1:].lstrip()
            return decoder.raw_decode(body)[0] if body.startswith("{") else None
        if text.startswith("{"):
            return decoder.raw_decode(text)[0]
    except ValueError:
        return None
    return None


def json_records(file: SourceFile, *, expected: str) -> list[Any]:
    """The records of a file holding one JSON array; anything else is a :class:`DataError` saying ``expected``."""
    data = load_json(file.name, text=file.read_text())
    if not isinstance(data, list):
        kind = f"an object with keys {', '.join(list(data)[:6])}" if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{file.name}: expected {expected} (a JSON array of records), found {kind}")
    return data


def json_lines(file: SourceFile) -> tuple[list[tuple[int, Any]], list[tuple[int, str]]]:
    """A JSON-lines file as ``(line, value)`` pairs and ``(line, error)`` for lines that are not JSON (a
    truncated last line, say); blank lines are skipped."""
    good: list[tuple[int, Any]] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            good.append((number, json.loads(line)))
        except ValueError as exc:
            bad.append((number, getattr(exc, "msg", str(exc))))
    return good, bad


def missing_mask(values: pd.Series) -> np.ndarray:
    """Vectorised :func:`is_missing`: null, NaN, empty and the placeholders of :data:`MISSING_MARKERS`."""
    text = values.astype("string").str.strip().str.casefold()
    return (text.isna() | text.isin(list(MISSING_MARKERS))).to_numpy(dtype=bool)


def clean_names(values: pd.Series) -> pd.Series:
    """Vectorised :func:`clean_name` (missing values become ``<NA>``)."""
    return pd.Series([clean_name(v) for v in values], index=values.index, dtype="string")


def text_track_ids(artists: pd.Series, titles: pd.Series) -> pd.Series:
    """Vectorised :func:`text_track_id`."""
    return pd.Series(
        [text_track_id(a, t) for a, t in zip(artists, titles, strict=True)], index=titles.index, dtype="string"
    )


def is_true(values: pd.Series) -> np.ndarray:
    """JSON ``true`` (or the text ``"true"``) per value; null and anything else is False."""
    return values.map(lambda v: v is True or (isinstance(v, str) and v.strip().casefold() == "true")).to_numpy(dtype=bool)


class RowSieve:
    """Keeps rows and sets aside the rest by reason; each row gets the first reason that applies.

    ``where(i)`` locates row ``i`` ("file:line" or "file record N") for the report's examples.
    """

    def __init__(self, report: IngestReport, n: int, where: Callable[[int], str]):
        self.report = report
        self.where = where
        self.keep = np.ones(n, dtype=bool)

    def drop(self, mask: Iterable[bool], reason: str, detail: Callable[[int], str] | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        hit = np.flatnonzero(mask & self.keep)
        examples = [self.where(i) + (f": {detail(i)}" if detail else "") for i in hit[:MAX_EXAMPLES]]
        self.report.set_aside_rows(reason, len(hit), examples)
        self.keep &= ~mask


def items_from_listens(frame: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """One catalogue row per listened track id: its first known title, artist and album (as ``soundtrack``),
    plus the ``extra`` columns (``duration_s``, ``recording_mbid``...) that ``frame`` has."""
    columns = [c for c in ("title", "artist", "album", *extra) if c in frame]
    items = frame.groupby("track_id", sort=False)[columns].first().reset_index()
    return items.rename(columns={"album": "soundtrack"})


def resolve_users(
    files: Sequence[SourceFile],
    file_index: np.ndarray,
    named: pd.Series,
    *,
    account_file: str | None = None,
    all_files: Sequence[SourceFile] = (),
) -> tuple[pd.Series, list[str]]:
    """The user id of every row of a personal export, and notes saying where ids came from.

    ``named`` holds the user name each row carries (Spotify ``username``, ListenBrainz ``user_name``), if any.
    A row without one takes, in order: the one name the other rows of files in the same folder carry (older
    and newer Spotify files of one export); the ``username`` of the nearest ``account_file`` (ListenBrainz
    ``user.json``, Spotify ``Userdata.json``) among ``all_files``; the owner its path names
    (:func:`owner_of`); else :data:`DEFAULT_USER`.
    """
    users = clean_names(named)
    folders = np.array([str(files[i].rel.parent) for i in file_index], dtype=object)
    notes: list[str] = []
    for folder in dict.fromkeys(folders):
        in_folder = folders == folder
        missing = in_folder & users.isna().to_numpy()
        if not missing.any():
            continue
        distinct = users[in_folder].dropna().unique()
        if len(distinct) == 1:
            users[missing] = distinct[0]
            continue
        for i in np.unique(file_index[missing]):
            rows = missing & (file_index == i)
            account = nearest_file(all_files, files[i], account_file) if account_file else None
            user = json_username(account) or owner_of(files[i])
            if user is None:
                user = DEFAULT_USER
                if not any(DEFAULT_USER in n for n in notes):
                    notes.append(f"no user name in the export or its file names; its listens are user '{DEFAULT_USER}'")
            users[rows] = user
    return users, notes
