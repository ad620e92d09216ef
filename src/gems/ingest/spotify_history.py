"""Spotify Extended Streaming History: ``endsong_N.json`` (older exports), ``Streaming_History_Audio_*.json`` and
``Streaming_History_Video_*.json`` (newer), a folder of them, or the zip Spotify sends (``my_spotify_data.zip``
holding ``Spotify Extended Streaming History/…``), read in place.

Each file is a JSON array of plays: ``ts`` (when the play ended, ISO 8601 UTC), ``ms_played``,
``master_metadata_track_name`` / ``_album_artist_name`` / ``_album_album_name``, ``spotify_track_uri``, the
podcast fields ``episode_name`` / ``episode_show_name`` / ``spotify_episode_uri``, the newer audiobook fields
``audiobook_title`` / ``audiobook_uri`` / ``audiobook_chapter_uri`` / ``audiobook_chapter_title``, and context
(``reason_start``, ``reason_end``, ``shuffle``, ``skipped``, ``offline``, ``offline_timestamp``,
``incognito_mode``, ``platform``, ``conn_country``, ``ip_addr``...). Older files also carry ``username``.

A listen's timestamp is when the play *started* (``ts - ms_played``), like a scrobble's or a ListenBrainz
listen's, so the same play from two services lines up.

Track id: the ``spotify_track_uri`` (``spotify:track:…``); a track without one (a local file) gets
``text_track_id(artist, title)``. User id: the ``username`` field; rows without it (newer files) take the one
username of the other files in their folder, else ``Userdata.json``'s (from the account-data export, when it
sits beside them), else the owner the path names (see :func:`gems.ingest.common.owner_of`), else ``me``.

Each row is kept or set aside for the first of these reasons that applies:
``not a streaming record`` (not a JSON object, or one with neither ``ts`` nor ``ms_played``) · ``video`` (every
row of a ``Streaming_History_Video_*`` file) · ``podcast`` (an episode uri or name) · ``audiobook`` (any
``audiobook_*`` field) · ``unknown track`` (no track name, or neither a track uri nor an artist) ·
``private session`` (``incognito_mode``: the listener asked Spotify not to learn from these plays, and gems
honours that) · ``missing play time`` · ``zero duration`` · ``too short`` (under :data:`MIN_PLAY_MS`) ·
``implausible play time`` (over :data:`MAX_PLAY_MS`, a day) · ``missing date`` · ``placeholder date`` ·
``unparseable date`` · ``duplicate listen`` (the same user, track, end time and play time as an earlier row:
overlapping exports). ``offline_timestamp`` (milliseconds, seconds or null) is not used: ``ts`` is the time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile, source_files, with_sibling
from gems.ingest.common import (
    SNIFF_ERRORS,
    clean_names,
    first_json_record,
    is_true,
    missing_mask,
    numbers,
    shown,
    text_track_ids,
)
from gems.ingest.formats import ListensRead
from gems.ingest.report import IngestReport
from gems.ingest.rows import (
    CHUNK_RECORDS,
    Collected,
    RowSieve,
    drop_bad_dates,
    drop_repeats,
    finish_listens,
    resolve_users,
)
from gems.ingest.safe_read import HEAD_BYTES, describe_json
from gems.ingest.streaming import json_array

FORMAT = "spotify-history"
# A play counts as a listen from 30 s on: the threshold Spotify (and the charts) use to count a stream.
# Shorter plays are skips and previews, not taste. Shared with the basic account-data reader.
MIN_PLAY_MS = 30_000
# A single play longer than a day is a broken counter, not a listen (and would make its start time absurd).
MAX_PLAY_MS = 24 * 3_600_000
NAME = re.compile(r"^(endsong(_\d+)?|endvideo(_\d+)?|streaming_history_(audio|video)(_.*)?)\.json$", re.IGNORECASE)
VIDEO_NAME = re.compile(r"^(endvideo|streaming_history_video)", re.IGNORECASE)
FIELDS = (
    "ts",
    "username",
    "ms_played",
    "master_metadata_track_name",
    "master_metadata_album_artist_name",
    "master_metadata_album_album_name",
    "spotify_track_uri",
    "episode_name",
    "episode_show_name",
    "spotify_episode_uri",
    "audiobook_title",
    "audiobook_uri",
    "audiobook_chapter_uri",
    "audiobook_chapter_title",
    "incognito_mode",
)
KEYS = ("ts", "ms_played")  # every record has both
EXPECTED = "Spotify extended streaming history (records with ts, ms_played, master_metadata_track_name...)"


def _is_record(value) -> bool:
    return isinstance(value, dict) and all(key in value for key in KEYS)


def _looks_like(file: SourceFile) -> bool:
    return _is_record(first_json_record(file.read_bytes(HEAD_BYTES)))


def _belongs(file: SourceFile) -> bool:
    """Named like an extended-history file, or a ``.json`` whose first record has ``ts`` and ``ms_played``."""
    if NAME.match(file.file_name):
        return True
    return file.rel.suffix.lower() == ".json" and _looks_like(file)


def sniff(path: Path) -> bool:
    """``endsong_N.json``/``Streaming_History_Audio|Video_*.json``, a folder or zip holding them, or a ``.json``
    whose first record has ``ts`` and ``ms_played``."""
    path = Path(path)
    try:
        if path.is_dir() or path.suffix.lower() == ".zip":
            files = source_files(path, limit=500)
            if any(NAME.match(f.file_name) for f in files):
                return True
            return any(_looks_like(f) for f in [f for f in files if f.rel.suffix.lower() == ".json"][:3])
        return path.is_file() and path.suffix.lower() == ".json" and _belongs(source_files(path)[0])
    except SNIFF_ERRORS:
        return False


def spotify_files(path: Path, belongs, what: str) -> tuple[list[SourceFile], list[SourceFile]]:
    """``(files of the format, every file of the source)``: a single file is taken as given; in a folder or zip
    the files ``belongs`` accepts (an error if none)."""
    every = source_files(path)
    if not path.is_dir() and path.suffix.lower() != ".zip":
        return every, with_sibling(path, every, "Userdata.json")
    chosen = []
    for file in every:
        try:
            if belongs(file):
                chosen.append(file)
        except SNIFF_ERRORS:
            continue
    if not chosen:
        raise DataError(f"{path} holds no {what} files; is this the right export?")
    return chosen, every


def record_chunks(
    files: list[SourceFile], fields: tuple[str, ...], keys: tuple[str, str], expected: str, report: IngestReport
) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
    """``(frame of fields, file index of each row, its record number)`` for chunks of up to
    :data:`CHUNK_RECORDS` records of the files, streamed (record numbers are 1-based; a chunk may span files).

    A file whose first records (up to 1,000) have none with both ``keys`` is not of the format: a DataError.
    A record that is not an object, or has neither key, is set aside as ``not a streaming record``.
    """
    kept: list[tuple] = []
    file_of: list[int] = []
    numbers: list[int] = []
    first_key, second_key = keys
    for index, file in enumerate(files):
        first, matched, number = None, False, 0
        for number, record in enumerate(json_array(file, expected=expected), start=1):
            is_dict = type(record) is dict
            if not matched:  # until the file shows a record of the format
                first = describe_json(record) if first is None else first
                matched = is_dict and first_key in record and second_key in record
                if not matched and number >= 1000:
                    break
            if is_dict and (first_key in record or second_key in record):
                kept.append(tuple(map(record.get, fields)))  # the fields only: the record itself is let go
                file_of.append(index)
                numbers.append(number)
            else:
                report.set_aside_row("not a streaming record", f"{file.name} record {number}: {describe_json(record)}")
            if matched and len(kept) >= CHUNK_RECORDS:
                yield _frame(kept, fields), np.asarray(file_of), np.asarray(numbers, dtype=np.int64)
                kept, file_of, numbers = [], [], []
        report.rows_read += number
        if first is not None and not matched:
            raise DataError(f"{file.name} record 1: expected {expected}, found {first}")
    if kept:
        yield _frame(kept, fields), np.asarray(file_of), np.asarray(numbers, dtype=np.int64)


def _frame(rows: list[tuple], fields: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=list(fields)).astype(object)


def play_time_checks(sieve: RowSieve, ms: pd.Series, raw: pd.Series, field: str = "ms_played") -> None:
    """Set aside plays without a play time, of zero length, shorter than :data:`MIN_PLAY_MS` or longer than
    :data:`MAX_PLAY_MS`."""
    sieve.drop(ms.isna().to_numpy(), "missing play time", lambda i: f"{field}={shown(raw.iloc[i])}")
    sieve.drop((ms <= 0).fillna(False).to_numpy(), "zero duration", lambda i: f"{field}={shown(raw.iloc[i])}")
    sieve.drop(
        (ms < MIN_PLAY_MS).fillna(False).to_numpy(),
        "too short",
        lambda i: f"{ms.iloc[i] / 1000:g} s < {MIN_PLAY_MS / 1000:g} s",
    )
    sieve.drop(
        (ms > MAX_PLAY_MS).fillna(False).to_numpy(),
        "implausible play time",
        lambda i: f"{field}={shown(raw.iloc[i])}, over {MAX_PLAY_MS // 3_600_000} hours",
    )


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """An extended-history file, folder or zip into canonical listens (``columns`` is ignored)."""
    path = Path(path)
    files, every = spotify_files(
        path, _belongs, "Spotify extended streaming history (endsong_N.json, Streaming_History_Audio_*.json)"
    )
    report = IngestReport(source=str(path), format=FORMAT)
    collected = Collected(files, report, lambda f, at: f"{files[f].name} record {at}")
    video_file = np.array([bool(VIDEO_NAME.match(f.file_name)) for f in files], dtype=bool)
    for raw, file, record in record_chunks(files, FIELDS, KEYS, EXPECTED, report):
        sieve = collected.sieve(file, record)
        collected.note_names(file, raw["username"])
        collected.add(_plays(raw, sieve, video_file[file]), sieve, file, record)
    frame = collected.frame(["named", "track_id", "ms", "ended", "title", "artist", "album"])
    return finish_plays(collected, frame, frame["named"], every, "%Y-%m-%dT%H:%M:%SZ")


def finish_plays(
    collected: Collected, frame: pd.DataFrame, named: pd.Series, every: list[SourceFile], shown_as: str
) -> ListensRead:
    """The listens of every kept play of a Spotify export (``frame``: track_id, ms, ended, title...; ``named``:
    the user name each carries): users resolved, repeated plays (same user, track, end and play time) set
    aside, each timestamp the start of its play (``shown_as``: how an end time is spelled in a message)."""
    file_index = frame["_file"].to_numpy(dtype=np.int64)
    users = resolve_users(collected, file_index, named, account_file="Userdata.json", all_files=every)
    sieve = collected.final_sieve(frame)
    drop_repeats(
        sieve,
        pd.DataFrame({"u": users, "t": frame["track_id"], "s": frame["ended"], "m": frame["ms"]}),
        lambda i: f"{frame['title'].iloc[i]} at {frame['ended'].iloc[i].strftime(shown_as)}",
    )
    started = frame["ended"] - pd.to_timedelta(frame["ms"].fillna(0), unit="ms")
    return finish_listens(frame.assign(user_id=users, weight=1.0, timestamp=started), sieve.keep, collected.report)


def _plays(raw: pd.DataFrame, sieve: RowSieve, video: np.ndarray) -> pd.DataFrame:
    """One chunk of records as plays (the rows ``sieve`` keeps are the listens; ``video``: which rows come from
    a video history file): track id, play time, end time, names and the user name the record carries."""
    title = clean_names(raw["master_metadata_track_name"])
    artist = clean_names(raw["master_metadata_album_artist_name"])
    uri = clean_names(raw["spotify_track_uri"])
    uri = uri.where(uri.str.startswith("spotify:track:").fillna(False))
    sieve.drop(
        video,
        "video",
        lambda i: f"video {shown(raw['episode_name'].iloc[i] if pd.isna(title.iloc[i]) else title.iloc[i])}",
    )
    present = lambda column: ~missing_mask(raw[column])  # noqa: E731
    episode = present("spotify_episode_uri") | present("episode_name") | present("episode_show_name")
    sieve.drop(
        episode,
        "podcast",
        lambda i: f"episode {shown(raw['episode_name'].iloc[i])} of {shown(raw['episode_show_name'].iloc[i])}",
    )
    book = (
        present("audiobook_uri")
        | present("audiobook_title")
        | present("audiobook_chapter_uri")
        | present("audiobook_chapter_title")
    )
    sieve.drop(book, "audiobook", lambda i: f"audiobook {shown(raw['audiobook_title'].iloc[i])}")
    unknown = title.isna().to_numpy() | (uri.isna() & artist.isna()).to_numpy()
    sieve.drop(
        unknown,
        "unknown track",
        lambda i: (
            f"track={shown(raw['master_metadata_track_name'].iloc[i])}, uri={shown(raw['spotify_track_uri'].iloc[i])}"
        ),
    )
    sieve.drop(is_true(raw["incognito_mode"]), "private session", lambda i: f"{title.iloc[i]} (incognito_mode)")
    ms = numbers(raw["ms_played"])
    play_time_checks(sieve, ms, raw["ms_played"])
    ended = drop_bad_dates(sieve, raw["ts"])
    track_id = uri.copy()
    no_uri = uri.isna()
    track_id[no_uri] = text_track_ids(artist[no_uri], title[no_uri])
    return pd.DataFrame(
        {
            "named": clean_names(raw["username"]),
            "track_id": track_id,
            "ms": ms,
            "ended": ended,
            "title": title,
            "artist": artist,
            "album": clean_names(raw["master_metadata_album_album_name"]),
        }
    )
