"""The Spotify Million Playlist Dataset (MPD): ``mpd.slice.*.json`` files, a folder of them, or the RecSys
Challenge 2018 ``challenge_set.json``.

Each file is ``{"info": {...}, "playlists": [...]}`` (the challenge set has ``date``/``version`` instead of
``info``). Each playlist has ``pid`` and ``tracks``; each track has ``track_uri``, ``track_name`` and
``artist_name``, and in the full schema also ``pos``, ``album_name``, ``album_uri``, ``artist_uri`` and
``duration_ms`` (a reduced schema without those is accepted too).

listens
    one row per (playlist, track): ``user_id`` = ``str(pid)`` (playlists are the users), ``track_id`` =
    ``track_uri``, ``position`` = the track's ``pos`` (its index in the list when ``pos`` is absent), and
    ``weight`` = how many times the track is listed in the playlist (1 almost always). Every listing after the
    first is set aside as "repeated track in playlist", so the table has set semantics for evaluation while
    the weight keeps the count for collaborative filtering. ``timestamp`` is NaT: the full schema's
    ``modified_at`` is the playlist's last edit, not when a track was added, so it is not used as a time.
items
    one row per track: ``title`` = ``track_name``, ``artist`` = ``artist_name``, ``soundtrack`` =
    ``album_name`` and ``duration_s`` = ``duration_ms`` / 1000 when present, ``artist_uri``/``album_uri`` when
    present, and ``context``: the track's three most common (lower-cased) playlist names, '; '-joined, most
    common first (ties alphabetically) — the playlist-name signal used by :mod:`gems.ingest.soundtrack`.

A playlist's ``num_tracks`` that disagrees with its list (``num_samples`` in the challenge set) is noted and
the list is trusted; ``collaborative`` and the other playlist fields are not used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile
from gems.ingest.common import MISSING_MARKERS, as_number, clean_name
from gems.ingest.formats import ListensRead
from gems.ingest.report import MAX_EXAMPLES, IngestReport
from gems.ingest.safe_read import decode_head, describe_json, read_input
from gems.ingest.schema import finalize_catalog, finalize_listens
from gems.ingest.streaming import json_array_lines
from gems.safe_files import iter_files

FORMAT = "mpd"
SLICE_GLOB = "mpd.slice.*.json"
CHALLENGE_NAME = "challenge_set.json"
CONTEXT_NAMES = 3
_SNIFF_BYTES = 4096
_SNIFF_DEPTH = 3
_SNIFF_ENTRIES = 5_000
_NUMBER = re.compile(r"\d+")
_MAX_POSITION = 1 << 62  # a pos past this cannot be an int64: the track's index in its list is used
_EXPECTED = 'an object with a "playlists" list (the Million Playlist Dataset\'s {"info": ..., "playlists": [...]})'


# ------------------------------------------------------------------------------------------------- sniffing


def _head(path: Path, size: int = _SNIFF_BYTES) -> str:
    try:
        return decode_head(read_input(path, size))
    except DataError:  # a FIFO, an unreadable file: not a slice
        return ""


def _looks_like_mpd(path: Path) -> bool:
    head = _head(path)
    return '"playlists"' in head and ('"pid"' in head or '"info"' in head)


def _files_nearby(folder: Path, *, depth: int = _SNIFF_DEPTH, budget: int = _SNIFF_ENTRIES):
    """Files under ``folder`` down to ``depth`` levels, at most ``budget`` entries (sniffing is cheap)."""
    level = [folder]
    for _ in range(depth + 1):
        below = []
        for directory in level:
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        budget -= 1
                        if budget < 0:
                            return
                        if entry.is_dir(follow_symlinks=False):
                            below.append(Path(entry.path))
                        else:
                            yield Path(entry.path)
            except OSError:
                continue
        level = below


def sniff(path: Path) -> bool:
    """A folder holding ``mpd.slice.*.json`` or ``challenge_set.json`` (a few levels down at most), or JSON
    files that look like MPD slices; or a ``.json`` file whose first bytes mention ``"playlists"`` and ``"pid"``
    or ``"info"``."""
    path = Path(path)
    if path.is_dir():
        others = []
        for file in _files_nearby(path):
            name = file.name
            if name == CHALLENGE_NAME or (name.startswith("mpd.slice.") and name.endswith(".json")):
                return True
            if name.lower().endswith(".json") and len(others) < 5:
                others.append(file)
        return any(_looks_like_mpd(p) for p in others)
    return path.is_file() and path.suffix.lower() == ".json" and _looks_like_mpd(path)


# ------------------------------------------------------------------------------------------------- reading


def _natural_key(path: Path) -> tuple:
    """Sort ``mpd.slice.1000-1999`` after ``mpd.slice.0-999`` (numbers compared as numbers)."""
    parts = _NUMBER.split(path.name)
    numbers = [int(n) for n in _NUMBER.findall(path.name)]
    return (str(path.parent), parts, numbers)


def _files(path: Path, report: IngestReport) -> list[Path]:
    if not path.is_dir():
        return [path]
    named = [p for p in iter_files(path) if isinstance(p, Path) and p.name.endswith(".json")]
    files = []
    skipped = []
    for file in named:
        if file.name.startswith("mpd.slice.") or file.name == CHALLENGE_NAME or _looks_like_mpd(file):
            files.append(file)
        else:
            skipped.append(file)
    if skipped:
        report.notes.append(f"skipped {len(skipped)} JSON file(s) that do not look like MPD slices, e.g. {skipped[0]}")
    if not files:
        raise DataError(
            f"{path} holds no Million Playlist Dataset files; expected mpd.slice.*.json or {CHALLENGE_NAME}"
        )
    return sorted(files, key=_natural_key)


def _name(value: Any) -> str | None:
    """:func:`clean_name`, with a fast path for the usual plain ASCII name (most of the 400k in a sample)."""
    if type(value) is str:
        text = value.strip()
        if text.isascii() and text.isprintable() and "  " not in text:
            return None if len(text) <= 14 and text.casefold() in MISSING_MARKERS else text
    return clean_name(value)


def _uri(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _track_meta(track: dict) -> tuple:
    """(title, artist, album, duration_s, artist_uri, album_uri) of one MPD track object."""
    duration = as_number(track.get("duration_ms")) if isinstance(track.get("duration_ms"), (int, float)) else None
    return (
        _name(track.get("track_name")),
        _name(track.get("artist_name")),
        _name(track.get("album_name")),
        duration / 1000.0 if duration is not None else None,
        _uri(track.get("artist_uri")),
        _uri(track.get("album_uri")),
    )


class _Collector:
    """Lists built row by row, turned into frames once at the end (no per-row pandas work)."""

    def __init__(self, report: IngestReport):
        self.report = report
        self.users: list[str] = []
        self.tracks: list[str] = []
        self.positions: list[int] = []
        self.weights: list[int] = []
        self.names: list[str | None] = []  # playlist name of each kept row
        self.meta: dict[str, tuple] = {}  # track_uri -> (title, artist, album, duration_s, artist_uri, album_uri)
        self.uris: dict[str, str] = {}
        self.mismatched = 0
        self.mismatch_example = ""
        self.empty_playlists = 0
        self.repeat_examples: list[str] = []
        self.repeats = 0
        self.pids: set[str] = set()
        self.repeated_pids: list[str] = []

    def set_aside(self, reason: str, where: str) -> None:
        self.report.set_aside_row(reason, where)

    def add_file(self, file: Path) -> None:
        """Every playlist of one MPD file, streamed one playlist at a time."""
        source = SourceFile(file, PurePosixPath(file.name))
        records = json_array_lines(source, expected=_EXPECTED, key="playlists")
        for index, (line, playlist) in enumerate(records):
            self.add_playlist(file, line, index, playlist)

    def add_playlist(self, file: Path, line: int, index: int, playlist: Any) -> None:
        if not isinstance(playlist, dict):
            raise DataError(
                f"{file}: playlist #{index + 1} is {describe_json(playlist)}; expected an object with pid and tracks"
            )
        pid = playlist.get("pid")
        tracks = playlist.get("tracks")
        if not isinstance(tracks, list):
            raise DataError(
                f"{file}:{line}: playlist #{index + 1} (pid={pid}) has "
                + ("no " if tracks is None else f"{describe_json(tracks)} as ")
                + '"tracks"; expected a list of tracks'
            )
        report = self.report
        report.rows_read += len(tracks)
        if isinstance(pid, bool) or not isinstance(pid, (int, str)) or str(pid).strip() == "":
            report.set_aside_rows(
                "playlist without pid",
                len(tracks),
                [f"{file} playlist #{index + 1}: pid is {describe_json(pid)}; expected a number"],
            )
            return
        user = str(pid).strip()
        if user in self.pids:
            self.repeated_pids.append(user)
        self.pids.add(user)
        expected = playlist.get("num_samples", playlist.get("num_tracks"))
        if isinstance(expected, int) and not isinstance(expected, bool) and expected != len(tracks):
            self.mismatched += 1
            if not self.mismatch_example:
                self.mismatch_example = f"{file} playlist pid={user}: says {expected}, lists {len(tracks)}"
        if not tracks:
            self.empty_playlists += 1
        name = clean_name(playlist.get("name"))
        name = name.lower().replace(";", ",") if name else None
        seen: dict[str, int] = {}  # track_uri -> index of its kept row
        meta, uris = self.meta, self.uris
        users, track_ids, positions, weights, names = self.users, self.tracks, self.positions, self.weights, self.names
        for number, track in enumerate(tracks):
            uri = track.get("track_uri") if isinstance(track, dict) else None
            if not isinstance(uri, str) or not uri.strip():
                where = f"{file} playlist pid={user} track #{number}"
                if not isinstance(track, dict):
                    self.set_aside("track is not a JSON object", f"{where}: {describe_json(track)}")
                elif uri is None or isinstance(uri, str):
                    self.set_aside("track without uri", f"{where}: {track.get('track_name')!r}")
                else:
                    self.set_aside("track uri is not text", f"{where}: track_uri is {describe_json(uri)}")
                continue
            if uri[0].isspace() or uri[-1].isspace():
                uri = uri.strip()
            uri = uris.setdefault(uri, uri)  # one string per track, however many playlists list it
            kept = seen.get(uri)
            if kept is not None:
                weights[kept] += 1
                self.repeats += 1
                if len(self.repeat_examples) < MAX_EXAMPLES:
                    self.repeat_examples.append(
                        f"{file} playlist pid={user} track #{number}: {uri} (first at #{positions[kept]})"
                    )
                continue
            pos = track.get("pos")
            seen[uri] = len(users)
            users.append(user)
            track_ids.append(uri)
            positions.append(pos if type(pos) is int and 0 <= pos < _MAX_POSITION else number)
            weights.append(1)
            names.append(name)
            if uri not in meta:
                meta[uri] = _track_meta(track)

    def finish(self) -> ListensRead:
        report = self.report
        report.set_aside_rows("repeated track in playlist", self.repeats, self.repeat_examples)
        if self.mismatched:
            report.notes.append(
                f"{self.mismatched:,} playlist(s) list a different number of tracks than their num_tracks says; "
                f"the track lists were trusted (e.g. {self.mismatch_example})"
            )
        if self.empty_playlists:
            report.notes.append(f"{self.empty_playlists:,} playlist(s) have no tracks and add no listens")
        if self.repeats:
            report.notes.append(
                "a track listed more than once in a playlist is one listen whose weight is the number of listings"
            )
        frame = pd.DataFrame(
            {
                "user_id": pd.array(self.users, dtype="string"),
                "track_id": pd.array(self.tracks, dtype="string"),
                "weight": np.asarray(self.weights, dtype=np.float32),
                "position": np.asarray(self.positions, dtype=np.int64),
            }
        )
        if self.repeated_pids:
            frame = self._merge_repeated_pids(frame)
        report.rows_kept = len(frame)
        return ListensRead(listens=finalize_listens(frame), report=report, items=self.items())

    def _merge_repeated_pids(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Playlists sharing a pid are one user: a track in both is one listen (weights added)."""
        report = self.report
        report.notes.append(
            f"{len(set(self.repeated_pids)):,} pid(s) name more than one playlist (e.g. pid={self.repeated_pids[0]}); "
            "each pid is read as one user"
        )
        keys = ["user_id", "track_id"]
        repeat = frame.duplicated(keys, keep="first").to_numpy()
        if not repeat.any():
            return frame
        frame = frame.assign(weight=frame.groupby(keys, sort=False)["weight"].transform("sum"))
        examples = [
            f"playlist pid={u}: {t} (in two playlists with this pid)"
            for u, t in frame.loc[repeat, keys].head(3).to_numpy()
        ]
        report.set_aside_rows("repeated track in playlist", int(repeat.sum()), examples)
        return frame[~repeat]

    def items(self) -> pd.DataFrame:
        ids = list(self.meta)
        columns = list(zip(*self.meta.values())) if ids else [()] * 6
        frame = pd.DataFrame(
            {
                "track_id": ids,
                "title": columns[0],
                "artist": columns[1],
                "soundtrack": columns[2],
                "duration_s": np.array(columns[3], dtype=np.float64) if ids else [],
            }
        )
        frame["title"] = frame["title"].where(frame["title"].notna(), frame["track_id"])
        for name, values in (("artist_uri", columns[4]), ("album_uri", columns[5])):
            if any(v is not None for v in values):
                frame[name] = pd.array(values, dtype="string")
        context = self.context()
        frame["context"] = pd.array([context.get(track) for track in ids], dtype="string")
        return finalize_catalog(frame)

    def context(self) -> dict[str, str]:
        """track_uri -> its three most common playlist names, '; '-joined (ties alphabetically)."""
        names = pd.array(self.names, dtype=object)
        track_codes, tracks = pd.factorize(pd.array(self.tracks, dtype=object))
        name_codes, unique_names = pd.factorize(names)  # a playlist without a name: -1
        named = name_codes >= 0
        if not named.any():
            return {}
        width = np.int64(len(unique_names))
        pairs, counts = np.unique(track_codes[named].astype(np.int64) * width + name_codes[named], return_counts=True)
        track, name = pairs // width, pairs % width
        alphabetical = np.empty(len(unique_names), dtype=np.int64)
        alphabetical[np.argsort(np.asarray(unique_names, dtype=object))] = np.arange(len(unique_names))
        order = np.lexsort((alphabetical[name], -counts, track))
        track, name = track[order], name[order]
        starts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        rank = np.arange(len(track)) - np.repeat(starts, np.diff(np.r_[starts, len(track)]))
        keep = rank < CONTEXT_NAMES
        out: dict[str, str] = {}
        for code, text in zip(track[keep].tolist(), np.asarray(unique_names, dtype=object)[name[keep]].tolist()):
            uri = tracks[code]
            out[uri] = f"{out[uri]}; {text}" if uri in out else text
        return out


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """Read one MPD JSON file, or every MPD file under a folder, into listens and items (``columns`` is
    ignored: the format names its own fields)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; expected an mpd.slice.*.json file or a folder of them")
    report = IngestReport(source=str(path), format=FORMAT)
    collector = _Collector(report)
    for file in _files(path, report):
        collector.add_file(file)
    return collector.finish()
