"""Personal Last.fm / Libre.fm scrobble exports: CSV (or TSV) files, one row per scrobble.

The layouts people have:

* no header, four columns ``artist,album,track,date`` (lastfm-to-csv: ``"Artist","Album","Track","21 Nov 2026 11:54"``);
* a header naming the columns, e.g. ``uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid``
  (the mainstream.ghan.nl exporter) or ``utc_time,artist,album,track``.

Dates may be epoch seconds (``uts``, preferred when present) or text (``DD Mon YYYY HH:MM``,
``"DD Mon YYYY, HH:MM"``, ISO 8601), all read as UTC by :func:`~gems.ingest.timestamps.classify_timestamps`.

Track ids are ``text_track_id(artist, track)`` for every row, so the same song is one item however its case
and spaces are spelled, and matches the same song from a Spotify account export or ListenBrainz. (A
``track_mbid`` column, when present, rides along in the items as ``recording_mbid``.)

User id: the file name with export boilerplate removed (``scrobbles-alice-1732200000.csv`` → ``alice``,
``alice.csv`` → ``alice``; see :func:`~gems.ingest.common.owner_from_name`), else the folders above it within
the source, else ``me``.

Each row is kept or set aside for the first of these reasons that applies:
``malformed row`` (wrong number of fields) · ``unknown track`` (no track name, or no artist: ``Unknown Artist``,
``[unknown]``, empty) · ``now playing (no date)`` (the empty-date row exporters write for the track playing
during the export) · ``placeholder date`` (before 1971: ``01 Jan 1970 00:00``, uts 0) · ``unparseable date`` ·
``duplicate scrobble`` (the same user, track and second as an earlier row: exporters repeat rows at page
boundaries).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile, source_files
from gems.ingest.common import DEFAULT_USER, SNIFF_ERRORS, clean_names, owner_of, shown, text_track_ids
from gems.ingest.formats import ListensRead
from gems.ingest.report import IngestReport
from gems.ingest.rows import Collected, RowSieve, drop_bad_dates, drop_repeats, finish_listens, rebatched
from gems.ingest.safe_read import decode_head, read_input
from gems.ingest.tabular import table_batches
from gems.ingest.timestamps import classify_timestamps

FORMAT = "lastfm-scrobbles"
SUFFIXES = (".csv", ".tsv", ".txt")
BARE_COLUMNS = ["artist", "album", "track", "date"]
# header names per role, first match wins (compared case-insensitively)
HEADER_ROLES: dict[str, tuple[str, ...]] = {
    "uts": ("uts", "date_uts", "timestamp_uts", "unix_timestamp"),
    "time": ("utc_time", "date", "time", "timestamp", "datetime", "played_at", "scrobble_time", "listened_at"),
    "artist": ("artist", "artist_name", "artist name"),
    "track": ("track", "title", "track_name", "track name", "song", "name"),
    "album": ("album", "album_name", "album name", "release"),
    "mbid": ("track_mbid", "recording_mbid"),
}
# a header with any of these is a table of several users' listens: the generic reader's job
USER_COLUMNS = frozenset({"user", "user_id", "userid", "username", "user_name", "uid", "listener", "listener_id"})
_SNIFF_LINES = 5


def _delimiter(line: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _layout(head: str, suffix: str) -> tuple[str, dict[str, str]] | None:
    """``("header", role -> column)`` or ``("bare", {})`` for a scrobbles file's first lines; None otherwise."""
    lines = [line for line in head.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines:
        return None
    delimiter = _delimiter(lines[0], suffix)
    rows = list(csv.reader(lines[: _SNIFF_LINES + 1], delimiter=delimiter))
    header = [field.strip().casefold() for field in rows[0]]
    found = {role: next((n for n in names if n in header), None) for role, names in HEADER_ROLES.items()}
    if found["artist"] and found["track"] and (found["uts"] or found["time"]) and not USER_COLUMNS & set(header):
        names = {f.strip().casefold(): f.strip() for f in rows[0]}
        return "header", {role: names[n] for role, n in found.items() if n}
    # no header: four fields a row, the first row's last one a date (or empty: the now-playing row) — which
    # also tells a header such as user,track,plays,date (or a first scrobble titled "Time") from data
    sample = rows[:_SNIFF_LINES]
    if any(len(row) != 4 for row in sample):
        return None
    stamps, unparseable, placeholder = classify_timestamps(pd.Series([row[3] for row in sample], dtype="string"))
    parsed = int(stamps.notna().sum())
    if unparseable[0] or parsed == 0 or parsed < int(unparseable.sum()):
        return None
    return "bare", {}


def _head(path: Path, size: int = 8192) -> str:
    """The first lines of a file (UTF-8 or UTF-16); when the file is longer, the last (possibly cut) line is
    dropped."""
    raw = read_input(path, size)
    text = decode_head(raw)
    if len(raw) == size and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _is_scrobbles_file(path: Path) -> bool:
    try:
        return (
            path.is_file() and path.suffix.lower() in SUFFIXES and _layout(_head(path), path.suffix.lower()) is not None
        )
    except (DataError, *SNIFF_ERRORS):  # a FIFO, an unreadable file: not a scrobbles export
        return False


def sniff(path: Path) -> bool:
    """A ``.csv``/``.tsv``/``.txt`` whose header names artist, track and a time (``uts``/``utc_time``/``date``)
    and no user column, or that has no header and four columns whose last reads as a date; or a folder whose
    first such file does."""
    path = Path(path)
    if path.is_dir():
        try:
            files = source_files(path, limit=200)
        except SNIFF_ERRORS:
            return False
        tables = [f.path for f in files if f.rel.suffix.lower() in SUFFIXES][:3]
        return bool(tables) and _is_scrobbles_file(tables[0])
    return _is_scrobbles_file(path)


def _batches(file: SourceFile, report: IngestReport) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """One scrobbles file as batches of raw text columns (artist, track, album, uts, time, mbid) with their line
    numbers; malformed rows are set aside here."""
    path = file.path
    if not path.is_file() or path.stat().st_size == 0:
        raise DataError(f"{path} is empty; expected a Last.fm scrobbles CSV")
    layout = _layout(_head(path), path.suffix.lower())
    if layout is None:
        raise DataError(
            f"{path}:1: not a Last.fm scrobbles export; expected a header with artist, track and uts/utc_time/date "
            "columns, or four columns artist,album,track,date without a header"
        )
    kind, roles = layout
    if kind == "header":
        batches = table_batches(path)
    else:
        batches = table_batches(path, known_names=set(), column_names=BARE_COLUMNS)
        roles = {"artist": "artist", "album": "album", "track": "track", "time": "date"}
    for raw in batches:
        frame = raw.frame
        report.rows_read += len(frame) + len(raw.malformed)
        for line, detail in raw.malformed:
            report.set_aside_row("malformed row", f"{path}:{line}: {detail}")

        empty = pd.Series(pd.NA, index=frame.index, dtype="string")
        columns = {
            role: frame[roles[role]].astype("string") if role in roles else empty
            for role in ("artist", "track", "album", "uts", "time", "mbid")
        }
        yield pd.DataFrame(columns), raw.lines[: len(frame)]


def _scrobbles(raw: pd.DataFrame, sieve: RowSieve, owners: np.ndarray) -> pd.DataFrame:
    """One batch of scrobbles (the rows ``sieve`` keeps are the listens; ``owners[i]``: row ``i``'s user)."""
    artist, title = clean_names(raw["artist"]), clean_names(raw["track"])
    uts = raw["uts"]
    date_text = uts.where(uts.notna() & (uts.str.strip() != ""), raw["time"])
    no_title, no_artist = title.isna().to_numpy(), artist.isna().to_numpy()
    sieve.drop(
        no_title | no_artist,
        "unknown track",
        lambda i: f"track={shown(raw['track'].iloc[i])}" if no_title[i] else f"artist={shown(raw['artist'].iloc[i])}",
    )
    stamps = drop_bad_dates(sieve, date_text, missing="now playing (no date)")
    return pd.DataFrame(
        {
            "user_id": pd.Series(owners, index=raw.index, dtype="string"),
            "track_id": text_track_ids(artist, title),
            "timestamp": stamps,
            "title": title,
            "artist": artist,
            "album": clean_names(raw["album"]),
            "recording_mbid": clean_names(raw["mbid"]),
        }
    )


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """A scrobbles file, or every scrobbles file under a folder, into canonical listens (``columns`` is ignored:
    the layout is recognised from the header or the four-column shape)."""
    path = Path(path)
    report = IngestReport(source=str(path), format=FORMAT)
    if path.is_dir():
        files = [f for f in source_files(path) if f.rel.suffix.lower() in SUFFIXES]
        chosen = [f for f in files if _is_scrobbles_file(f.path)]
        if not chosen:
            raise DataError(f"{path} holds no Last.fm scrobbles CSV files (artist, album, track, date)")
        others = [f for f in files if f not in chosen]
        if others:
            report.notes.append(
                f"ignored {len(others)} table file(s) that are not scrobble exports (e.g. {others[0].name})"
            )
    else:
        chosen = [SourceFile(path, PurePosixPath(path.name))]
    collected = Collected(chosen, report, lambda f, at: f"{chosen[f].path}:{at}")
    owners = np.array([owner_of(file) or DEFAULT_USER for file in chosen], dtype=object)
    pieces = (
        (raw, np.full(len(raw), index), lines)
        for index, file in enumerate(chosen)
        for raw, lines in _batches(file, report)
    )
    for raw, file, lines in rebatched(pieces):
        sieve = collected.sieve(file, lines)
        collected.add(_scrobbles(raw, sieve, owners[file]), sieve, file, lines)
    frame = collected.frame(["user_id", "track_id", "timestamp", "title", "artist", "album", "recording_mbid"])
    sieve = collected.final_sieve(frame)
    drop_repeats(
        sieve,
        frame[["user_id", "track_id", "timestamp"]],
        lambda i: f"{frame['title'].iloc[i]} at {frame['timestamp'].iloc[i]}",
        reason="duplicate scrobble",
    )
    return finish_listens(frame.assign(weight=1.0), sieve.keep, report, extra=("recording_mbid",))
