"""Personal Last.fm / Libre.fm scrobble exports: CSV (or TSV) files, one row per scrobble.

The layouts people have (:data:`BARE_LAYOUTS` without a header, :data:`HEADER_ROLES` with one):

* no header, four columns ``artist,album,track,date`` (lastfm-to-csv: ``"Artist","Album","Track","21 Nov 2026 11:54"``);
* no header, tab-separated ``uts,track,artist,album,track_mbid,artist_mbid,album_mbid`` (lastexport.py, the
  Libre.fm migration script: ``exported_tracks.txt``);
* no header, ``date,time,artist,track`` (lastfm-backup-cli: ``2021-04-01,10:42:53,Artist,Title``);
* a header naming the columns, e.g. ``uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid``
  (the mainstream.ghan.nl exporter), ``artist,album,song_title,date_time`` or ``utc_time,artist,album,track``
  (names compared case-insensitively, spaces, ``-`` and ``/`` read as ``_``).

A file of scrobbles is one listener's, so a header naming a user column (``user``, ``username``...) is a table of
several listeners': the generic table reader's job.

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
import re
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
# headerless layouts of real exporters, their columns in order; "day" + "clock" make the time of the last one
BARE_LAYOUTS: tuple[tuple[str, ...], ...] = (
    ("artist", "album", "track", "time"),
    ("uts", "track", "artist", "album", "mbid", "artist_mbid", "album_mbid"),
    ("day", "clock", "artist", "track"),
)
# header names per role (normalised: see _normal), first match wins
HEADER_ROLES: dict[str, tuple[str, ...]] = {
    "uts": ("uts", "date_uts", "timestamp_uts", "unix_timestamp", "unix_time", "unixtime", "epoch"),
    "time": (
        "utc_time",
        "date_time",
        "datetime",
        "date",
        "time",
        "timestamp",
        "played_at",
        "scrobble_time",
        "scrobbled_at",
        "listened_at",
        "utc_date",
        "date_utc",
    ),
    "artist": ("artist", "artist_name", "artistname", "track_artist"),
    "track": ("track", "title", "track_name", "trackname", "track_title", "song", "song_title", "song_name", "name"),
    "album": ("album", "album_name", "albumname", "album_title", "release", "release_name"),
    "mbid": ("track_mbid", "recording_mbid", "mbid"),
}
# a header with any of these is a table of several users' listens: the generic reader's job
USER_COLUMNS = frozenset({"user", "user_id", "userid", "username", "user_name", "uid", "listener", "listener_id"})
_SNIFF_LINES = 5
_SEPARATORS = re.compile(r"[\s_\-/.]+")


def _normal(name: str) -> str:
    """A header name as :data:`HEADER_ROLES` spells it: ``"Song Title"`` → ``song_title``."""
    return _SEPARATORS.sub("_", name.strip().casefold()).strip("_")


def _delimiter(line: str, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _layout(head: str, suffix: str) -> tuple[list[str] | None, dict[str, str]] | None:
    """How a scrobbles file's first lines read: ``(None, role -> column)`` for a header, ``(column names,
    role -> column)`` for a layout of :data:`BARE_LAYOUTS`; None for anything else."""
    lines = [line for line in head.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines:
        return None
    delimiter = _delimiter(lines[0], suffix)
    rows = list(csv.reader(lines[: _SNIFF_LINES + 1], delimiter=delimiter))
    header = {_normal(field): field.strip() for field in rows[0]}
    found = {role: next((n for n in names if n in header), None) for role, names in HEADER_ROLES.items()}
    if found["artist"] and found["track"] and (found["uts"] or found["time"]) and not USER_COLUMNS & set(header):
        return None, {role: header[n] for role, n in found.items() if n}
    # no header: a known number of fields a row, the first row's time readable (or empty: the now-playing row)
    # — which also tells a header such as user,track,plays,date (or a first scrobble titled "Time") from data
    sample = rows[:_SNIFF_LINES]
    for columns in BARE_LAYOUTS:
        if all(len(row) == len(columns) for row in sample) and _times_read(sample, columns):
            return list(columns), {c: c for c in columns}
    return None


def _times_read(sample: list[list[str]], columns: tuple[str, ...]) -> bool:
    """Whether the time column(s) of ``columns`` read as times in the first row and most of the others."""
    if "day" in columns:
        times = [f"{row[columns.index('day')]} {row[columns.index('clock')]}" for row in sample]
    else:
        times = [row[columns.index("uts" if "uts" in columns else "time")] for row in sample]
    stamps, unparseable, placeholder = classify_timestamps(pd.Series(times, dtype="string"))
    parsed = int(stamps.notna().sum())
    return not unparseable[0] and parsed > 0 and parsed >= int(unparseable.sum())


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
    and no user column, or that has no header and the columns of one of :data:`BARE_LAYOUTS` with readable times;
    or a folder whose first such file does."""
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
            "columns, or the columns artist,album,track,date without a header"
        )
    names, roles = layout
    batches = table_batches(path) if names is None else table_batches(path, known_names=set(), column_names=names)
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
        if "day" in roles:
            columns["time"] = frame[roles["day"]].astype("string") + " " + frame[roles["clock"]].astype("string")
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
