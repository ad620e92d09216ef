"""ListenBrainz listens exports: the zip of ``listens/YYYY/M.jsonl`` (with ``user.json`` at the top), the folder
it extracts to, a single JSON-lines file, or a JSON array of listens (the older export), read in place.

Each listen: ``listened_at`` (epoch seconds, an integer or a decimal), ``track_metadata`` {``artist_name``,
``track_name``, ``release_name``, ``additional_info`` {``duration_ms``/``duration``, ``recording_mbid``,
``recording_msid``...}, ``mbid_mapping`` {``recording_mbid``, ``recording_name``, ``artists``...} or null},
sometimes ``user_name``. Where the submitted names are missing, the MusicBrainz mapping's are used.

Track id: ``text_track_id(artist, title)`` for every listen, MBID or not. Recording MBIDs exist only for the
listens the mapper (or the player) matched, so ids built from them would split one song in two, its mapped
and unmapped listens, and would not match the same song from Last.fm or Spotify account exports (text ids
there). The MBID, when known, rides along in the items as ``recording_mbid``.

User id: the listen's ``user_name``; else ``username`` of the nearest ``user.json``; else the owner the path
names (``listenbrainz_alice_1732200000.zip`` → ``alice``; see :func:`gems.ingest.common.owner_of`); else ``me``.

Each row (one line of JSON lines, one record of an array) is kept or set aside for the first of these reasons
that applies: ``invalid JSON line`` (e.g. a truncated last line) · ``not a listen`` (not an object with
``listened_at`` or ``track_metadata``) · ``unknown track`` (no track name or no artist, even in the mapping) ·
``missing date`` · ``placeholder date`` · ``unparseable date`` · ``duplicate listen`` (the same user, track
and time as an earlier listen).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile, source_files, with_sibling
from gems.ingest.common import (
    SNIFF_ERRORS,
    as_number,
    clean_names,
    first_json_record,
    json_lines,
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
from gems.ingest.safe_read import HEAD_BYTES, decode_head, describe_json
from gems.ingest.streaming import json_array

FORMAT = "listenbrainz"
SUFFIXES = (".jsonl", ".json")
LISTENS_ENTRY = re.compile(r"(^|/)listens/.*\.jsonl$", re.IGNORECASE)
NOT_LISTENS = frozenset({"user.json", "feedback.jsonl", "pinned_recording.jsonl"})
EXPECTED = "ListenBrainz listens (JSON objects with listened_at and track_metadata)"


def _is_listen(value: Any) -> bool:
    return isinstance(value, dict) and "listened_at" in value and "track_metadata" in value


def _looks_like(file: SourceFile) -> bool:
    return _is_listen(first_json_record(file.read_bytes(HEAD_BYTES)))


def _belongs(file: SourceFile) -> bool:
    if file.file_name.casefold() in NOT_LISTENS or file.rel.suffix.lower() not in SUFFIXES:
        return False
    return bool(LISTENS_ENTRY.search(str(file.rel))) or _looks_like(file)


def sniff(path: Path) -> bool:
    """A zip or folder holding ``listens/…jsonl`` (or JSON files of listens), or a ``.jsonl``/``.json`` whose first
    record has ``listened_at`` and ``track_metadata``."""
    path = Path(path)
    try:
        if path.is_dir() or path.suffix.lower() == ".zip":
            files = source_files(path, limit=500)
            if any(LISTENS_ENTRY.search(str(f.rel)) for f in files):
                return True
            candidates = [
                f for f in files if f.rel.suffix.lower() in SUFFIXES and f.file_name.casefold() not in NOT_LISTENS
            ]
            return any(_looks_like(f) for f in candidates[:3])
        return path.is_file() and path.suffix.lower() in SUFFIXES and _looks_like(source_files(path)[0])
    except SNIFF_ERRORS:
        return False


def _files(path: Path) -> tuple[list[SourceFile], list[SourceFile]]:
    every = source_files(path)
    if not path.is_dir() and path.suffix.lower() != ".zip":
        # a month file listens/YYYY/M.jsonl has its export's user.json three folders up
        return every, with_sibling(path, every, "user.json", up=2)
    chosen = []
    for file in every:
        try:
            if _belongs(file):
                chosen.append(file)
        except SNIFF_ERRORS:
            continue
    if not chosen:
        raise DataError(f"{path} holds no ListenBrainz listens (listens/YYYY/M.jsonl); is this the right export?")
    return chosen, every


def _records(file: SourceFile, report: IngestReport, array: bool) -> Iterator[tuple[int, Any]]:
    """``(line or record number, record)`` for every record of a JSON array (``array``) or JSON-lines file,
    streamed; lines that are not JSON are set aside, and a file none of whose lines is JSON is a DataError."""
    if array:
        for number, record in enumerate(json_array(file, expected=EXPECTED), start=1):
            report.rows_read += 1
            yield number, record
        return
    any_good, first_bad = False, None
    for good, bad in json_lines(file, expected=EXPECTED):
        report.rows_read += len(good) + len(bad)
        any_good = any_good or bool(good)
        first_bad = first_bad or (bad[0] if bad else None)
        for line, message in bad:
            report.set_aside_row("invalid JSON line", f"{file.name}:{line}: {message}")
        yield from good
    if first_bad and not any_good:
        line, message = first_bad
        raise DataError(f"{file.name}:{line}: invalid JSON ({message}); expected {EXPECTED}, one per line")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _credit(mapping: dict) -> str | None:
    """The artist credit of an MBID mapping: names joined by their join phrases."""
    artists = mapping.get("artists")
    if not isinstance(artists, list) or not artists:
        return None
    parts = []
    for artist in artists:
        artist = _dict(artist)
        parts.append(str(artist.get("artist_credit_name") or ""))
        parts.append(str(artist.get("join_phrase") or ""))
    return "".join(parts).strip() or None


COLUMNS = [
    "listened_at",
    "user_name",
    "artist",
    "title",
    "album",
    "mapped_artist",
    "mapped_title",
    "duration_s",
    "recording_mbid",
]


def _row(record: dict) -> dict:
    meta = _dict(record.get("track_metadata"))
    info = _dict(meta.get("additional_info"))
    mapping = _dict(meta.get("mbid_mapping") or record.get("mbid_mapping"))
    milliseconds, seconds = as_number(info.get("duration_ms")), as_number(info.get("duration"))
    duration_s = milliseconds / 1000.0 if milliseconds is not None else seconds
    return {
        "listened_at": record.get("listened_at"),
        "user_name": record.get("user_name"),
        "artist": meta.get("artist_name"),
        "title": meta.get("track_name"),
        "album": meta.get("release_name"),
        "mapped_artist": _credit(mapping),
        "mapped_title": mapping.get("recording_name"),
        "duration_s": duration_s,
        "recording_mbid": info.get("recording_mbid") or mapping.get("recording_mbid"),
    }


def _chunks(files: list[SourceFile], arrays: list[bool], report: IngestReport, where) -> Iterator[tuple]:
    """``(rows, file index of each, its line or record number)`` for chunks of up to :data:`CHUNK_RECORDS`
    listens of the files (a chunk may span files); records that are not listens are set aside (``where(file
    index, number)`` locates them). A file whose first 1,000 records hold no listen is a DataError."""
    rows: list[dict] = []
    file_of: list[int] = []
    at: list[int] = []
    for index, file in enumerate(files):
        first, matched = None, False
        for count, (number, record) in enumerate(_records(file, report, arrays[index]), start=1):
            first = (number, record) if first is None else first
            matched = matched or _is_listen(record)
            if not matched and count >= 1000:
                break
            if not isinstance(record, dict) or not ("listened_at" in record or "track_metadata" in record):
                report.set_aside_row("not a listen", f"{where(index, number)}: {describe_json(record)}")
                continue
            rows.append(_row(record))
            file_of.append(index)
            at.append(number)
            if matched and len(rows) >= CHUNK_RECORDS:
                yield pd.DataFrame(rows, columns=COLUMNS).astype(object), np.asarray(file_of), np.asarray(at)
                rows, file_of, at = [], [], []
        if first is not None and not matched:
            raise DataError(f"{where(index, first[0])}: expected {EXPECTED}, found {describe_json(first[1])}")
    if rows:
        yield pd.DataFrame(rows, columns=COLUMNS).astype(object), np.asarray(file_of), np.asarray(at)


def _is_array(file: SourceFile) -> bool:
    """Whether the file holds a JSON array (the older export), not JSON lines."""
    return decode_head(file.read_bytes(HEAD_BYTES)).lstrip(" \t\r\n").startswith("[")


def _listens(raw: pd.DataFrame, sieve: RowSieve) -> pd.DataFrame:
    """One chunk of listens (the rows ``sieve`` keeps): names (the mapping's where the submitted ones are
    missing), time, the user name each carries, duration and MBID."""
    title = clean_names(raw["title"]).fillna(clean_names(raw["mapped_title"]))
    artist = clean_names(raw["artist"]).fillna(clean_names(raw["mapped_artist"]))
    sieve.drop(
        title.isna().to_numpy() | artist.isna().to_numpy(),
        "unknown track",
        lambda i: f"artist_name={shown(raw['artist'].iloc[i])}, track_name={shown(raw['title'].iloc[i])}",
    )
    stamps = drop_bad_dates(sieve, raw["listened_at"])
    return pd.DataFrame(
        {
            "named": clean_names(raw["user_name"]),
            "track_id": text_track_ids(artist, title),
            "timestamp": stamps,
            "title": title,
            "artist": artist,
            "album": clean_names(raw["album"]),
            "duration_s": pd.to_numeric(raw["duration_s"], errors="coerce"),
            "recording_mbid": clean_names(raw["recording_mbid"]),
        }
    )


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """A ListenBrainz export (zip, folder, JSON-lines or JSON-array file) into canonical listens (``columns`` is
    ignored)."""
    path = Path(path)
    files, every = _files(path)
    report = IngestReport(source=str(path), format=FORMAT)
    arrays = [_is_array(file) for file in files]

    def where(f: int, at: int) -> str:
        return f"{files[f].name} record {at}" if arrays[f] else f"{files[f].name}:{at}"

    collected = Collected(files, report, where)
    for raw, file, at in _chunks(files, arrays, report, where):
        sieve = collected.sieve(file, at)
        collected.note_names(file, raw["user_name"])
        collected.add(_listens(raw, sieve), sieve, file, at)
    frame = collected.frame(["named", "track_id", "timestamp", "title", "artist", "album"])
    file_index = frame["_file"].to_numpy(dtype=np.int64)
    users = resolve_users(collected, file_index, frame["named"], account_file="user.json", all_files=every)
    sieve = collected.final_sieve(frame)
    drop_repeats(
        sieve,
        pd.DataFrame({"u": users, "t": frame["track_id"], "s": frame["timestamp"]}),
        lambda i: f"{frame['title'].iloc[i]} at {frame['timestamp'].iloc[i]}",
    )
    frame = frame.assign(user_id=users, weight=1.0)
    return finish_listens(frame, sieve.keep, report, extra=("duration_s", "recording_mbid"))
