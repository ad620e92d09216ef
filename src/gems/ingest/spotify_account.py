"""Spotify basic account data: ``StreamingHistory0.json`` (older), ``StreamingHistory_music_0.json`` and
``StreamingHistory_podcast_0.json`` (newer), a folder of them, or the zip Spotify sends (``my_spotify_data.zip``
holding ``MyData/…`` or ``Spotify Account Data/…``), read in place.

Each file is a JSON array of plays: ``endTime`` (``YYYY-MM-DD HH:MM``, UTC, when the play ended), ``artistName``,
``trackName``, ``msPlayed``; podcast files hold ``podcastName`` and ``episodeName`` instead. A listen's
timestamp is when the play started (``endTime - msPlayed``), as for the extended history.

Track id: ``text_track_id(artist, title)`` (this export has no track uris), so the same song spelled with
another case or spacing is one item, and matches it in Last.fm or ListenBrainz exports. User id: the
``username`` of ``Userdata.json`` in the same export, else the owner the path names (see
:func:`gems.ingest.common.owner_of`), else ``me``.

Each row is kept or set aside for the first of these reasons that applies:
``not a streaming record`` (not a JSON object, or one with neither ``endTime`` nor ``msPlayed``) · ``podcast``
(rows of ``StreamingHistory_podcast_*`` files, or rows naming an episode) · ``audiobook`` / ``video`` (rows of
files so named) · ``unknown track`` (no track or no artist: ``Unknown Track``, ``Unknown Artist``, empty) ·
``missing play time`` · ``zero duration`` · ``too short`` (under
:data:`~gems.ingest.spotify_history.MIN_PLAY_MS`, the same 30 s as the extended history) · ``implausible play
time`` (over a day) · ``missing date`` · ``placeholder date`` · ``unparseable date`` · ``duplicate listen``
(the same user, track, end time and play time as an earlier row: overlapping files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gems.ingest.archive import SourceFile, source_files
from gems.ingest.common import (
    SNIFF_ERRORS,
    clean_names,
    first_json_record,
    missing_mask,
    numbers,
    shown,
    text_track_ids,
)
from gems.ingest.formats import ListensRead
from gems.ingest.report import IngestReport
from gems.ingest.rows import Collected, RowSieve, drop_bad_dates
from gems.ingest.safe_read import HEAD_BYTES
from gems.ingest.spotify_history import (
    MIN_PLAY_MS,
    finish_plays,
    play_time_checks,
    record_chunks,
    spotify_files,
)

__all__ = ["MIN_PLAY_MS", "read", "sniff"]

FORMAT = "spotify-account"
NAME = re.compile(r"^streaminghistory(_[a-z]+)?_?\d*\.json$", re.IGNORECASE)
FIELDS = ("endTime", "artistName", "trackName", "msPlayed", "podcastName", "episodeName")
KEYS = ("endTime", "msPlayed")  # every record has both
EXPECTED = "Spotify account streaming history (records with endTime, artistName, trackName, msPlayed)"
# rows of files whose name holds one of these words are not music
KIND_WORDS = {"podcast": "podcast", "audiobook": "audiobook", "video": "video"}


def _is_record(value) -> bool:
    return isinstance(value, dict) and all(key in value for key in KEYS)


def _looks_like(file: SourceFile) -> bool:
    return _is_record(first_json_record(file.read_bytes(HEAD_BYTES)))


def _belongs(file: SourceFile) -> bool:
    if NAME.match(file.file_name):
        return True
    return file.rel.suffix.lower() == ".json" and _looks_like(file)


def sniff(path: Path) -> bool:
    """``StreamingHistory0.json``/``StreamingHistory_music_0.json``..., a folder or zip holding them, or a
    ``.json`` whose first record has ``endTime`` and ``msPlayed``."""
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


def _kind(file: SourceFile) -> str | None:
    name = file.file_name.casefold()
    return next((reason for word, reason in KIND_WORDS.items() if word in name), None)


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """An account-data streaming-history file, folder or zip into canonical listens (``columns`` is ignored)."""
    path = Path(path)
    files, every = spotify_files(path, _belongs, "Spotify account streaming history (StreamingHistory*.json)")
    report = IngestReport(source=str(path), format=FORMAT)
    collected = Collected(files, report, lambda f, at: f"{files[f].name} record {at}")
    kinds = np.array([_kind(f) or "" for f in files], dtype=object)
    for raw, file, record in record_chunks(files, FIELDS, KEYS, EXPECTED, report):
        sieve = collected.sieve(file, record)
        collected.add(_plays(raw, sieve, kinds[file], [files[i].file_name for i in file]), sieve, file, record)
    frame = collected.frame(["track_id", "ms", "ended", "title", "artist"])
    named = pd.Series(pd.NA, index=frame.index, dtype="string")
    return finish_plays(collected, frame, named, every, "%Y-%m-%d %H:%M")


def _plays(raw: pd.DataFrame, sieve: RowSieve, kinds: np.ndarray, file_names: list[str]) -> pd.DataFrame:
    """One chunk of records as plays (the rows ``sieve`` keeps are the listens); ``kinds[i]``: what the name of
    row ``i``'s file says it holds (podcast, audiobook, video; '' for music), ``file_names[i]`` that name."""
    episode = ~missing_mask(raw["episodeName"]) | ~missing_mask(raw["podcastName"])
    sieve.drop((kinds == "podcast") | episode, "podcast", lambda i: f"episode {shown(raw['episodeName'].iloc[i])}")
    for reason in ("audiobook", "video"):
        sieve.drop(kinds == reason, reason, lambda i: file_names[i])
    title, artist = clean_names(raw["trackName"]), clean_names(raw["artistName"])
    sieve.drop(
        title.isna().to_numpy() | artist.isna().to_numpy(),
        "unknown track",
        lambda i: f"artistName={shown(raw['artistName'].iloc[i])}, trackName={shown(raw['trackName'].iloc[i])}",
    )
    ms = numbers(raw["msPlayed"])
    play_time_checks(sieve, ms, raw["msPlayed"], "msPlayed")
    ended = drop_bad_dates(sieve, raw["endTime"])
    return pd.DataFrame(
        {"track_id": text_track_ids(artist, title), "ms": ms, "ended": ended, "title": title, "artist": artist}
    )
