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
    common first (ties alphabetically) — the playlist-name signal used by :mod:`gems.soundtrack`.

A playlist's ``num_tracks`` that disagrees with its list (``num_samples`` in the challenge set) is noted and
the list is trusted; ``collaborative`` and the other playlist fields are not used.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.common import clean_name, load_json
from gems.ingest.formats import ListensRead
from gems.ingest.report import MAX_EXAMPLES, IngestReport
from gems.ingest.schema import finalize_catalog, finalize_listens

FORMAT = "mpd"
SLICE_GLOB = "mpd.slice.*.json"
CHALLENGE_NAME = "challenge_set.json"
CONTEXT_NAMES = 3
_SNIFF_BYTES = 4096
_NUMBER = re.compile(r"\d+")
_EXPECTED = 'an object with a "playlists" list (the Million Playlist Dataset\'s {"info": ..., "playlists": [...]})'


# ------------------------------------------------------------------------------------------------- sniffing


def _head(path: Path, size: int = _SNIFF_BYTES) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(size).decode("utf-8", errors="ignore")
    except OSError:
        return ""


def _looks_like_mpd(path: Path) -> bool:
    head = _head(path)
    return '"playlists"' in head and ('"pid"' in head or '"info"' in head)


def sniff(path: Path) -> bool:
    """A folder holding ``mpd.slice.*.json`` or ``challenge_set.json`` (or a JSON file that looks like one),
    or a ``.json`` file whose first bytes mention ``"playlists"`` and ``"pid"`` or ``"info"``."""
    path = Path(path)
    if path.is_dir():
        if next(path.rglob(SLICE_GLOB), None) is not None or next(path.rglob(CHALLENGE_NAME), None) is not None:
            return True
        candidates = sorted(p for p in path.glob("*.json") if p.is_file())[:5]
        return any(_looks_like_mpd(p) for p in candidates)
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
    named = [p for p in path.rglob("*.json") if p.is_file()]
    files = []
    skipped = []
    for file in named:
        if file.name.startswith("mpd.slice.") or file.name == CHALLENGE_NAME or _looks_like_mpd(file):
            files.append(file)
        else:
            skipped.append(file)
    if skipped:
        report.notes.append(
            f"skipped {len(skipped)} JSON file(s) that do not look like MPD slices, e.g. {skipped[0]}"
        )
    if not files:
        raise DataError(
            f"{path} holds no Million Playlist Dataset files; expected mpd.slice.*.json or {CHALLENGE_NAME}"
        )
    return sorted(files, key=_natural_key)


def _line_of(text: str, pid: Any) -> str:
    """``:line`` of the playlist with ``pid`` in ``text`` (for error messages only), or ''."""
    if text is None or pid is None:
        return ""
    match = re.search(r'"pid"\s*:\s*' + re.escape(str(pid)) + r"\b", text)
    return f":{text.count(chr(10), 0, match.start()) + 1}" if match else ""


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6])
        return f"an object with keys {keys}" if keys else "an empty object"
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _track_meta(track: dict) -> tuple:
    """(title, artist, album, duration_s, artist_uri, album_uri) of one MPD track object."""
    duration = track.get("duration_ms")
    return (
        clean_name(track.get("track_name")),
        clean_name(track.get("artist_name")),
        clean_name(track.get("album_name")),
        duration / 1000.0 if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None,
        clean_name(track.get("artist_uri")),
        clean_name(track.get("album_uri")),
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
        self.mismatched = 0
        self.mismatch_example = ""
        self.empty_playlists = 0
        self.repeat_examples: list[str] = []
        self.repeats = 0

    def set_aside(self, reason: str, where: str) -> None:
        self.report.set_aside_row(reason, where)

    def add_file(self, file: Path, text: str, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("playlists"), list):
            found = _describe(data)
            if isinstance(data, dict) and "playlists" in data:
                found = f'"playlists" as {_describe(data["playlists"])}'
            raise DataError(f"{file}: expected {_EXPECTED}; found {found}")
        for index, playlist in enumerate(data["playlists"]):
            self.add_playlist(file, text, index, playlist)

    def add_playlist(self, file: Path, text: str, index: int, playlist: Any) -> None:
        if not isinstance(playlist, dict):
            raise DataError(
                f"{file}: playlist #{index + 1} is {_describe(playlist)}; expected an object with pid and tracks"
            )
        pid = playlist.get("pid")
        tracks = playlist.get("tracks")
        if not isinstance(tracks, list):
            raise DataError(
                f"{file}{_line_of(text, pid)}: playlist #{index + 1} (pid={pid}) has "
                + ("no " if tracks is None else f"{_describe(tracks)} as ")
                + '"tracks"; expected a list of tracks'
            )
        report = self.report
        report.rows_read += len(tracks)
        if isinstance(pid, bool) or not isinstance(pid, (int, str)) or str(pid).strip() == "":
            report.set_aside_rows(
                "playlist without pid",
                len(tracks),
                [f"{file} playlist #{index + 1}: pid is {_describe(pid)}; expected a number"],
            )
            return
        user = str(pid).strip()
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
        meta = self.meta
        users, track_ids, positions, weights, names = self.users, self.tracks, self.positions, self.weights, self.names
        for number, track in enumerate(tracks):
            uri = track.get("track_uri") if isinstance(track, dict) else None
            if not isinstance(uri, str) or not uri.strip():
                where = f"{file} playlist pid={user} track #{number}"
                if not isinstance(track, dict):
                    self.set_aside("track is not a JSON object", f"{where}: {_describe(track)}")
                elif uri is None or isinstance(uri, str):
                    self.set_aside("track without uri", f"{where}: {track.get('track_name')!r}")
                else:
                    self.set_aside("track uri is not text", f"{where}: track_uri is {_describe(uri)}")
                continue
            if uri[0].isspace() or uri[-1].isspace():
                uri = uri.strip()
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
            positions.append(pos if type(pos) is int else number)
            weights.append(1)
            names.append(name)
            if uri not in meta:
                meta[uri] = _track_meta(track)

    def finish(self, source: str) -> ListensRead:
        report = self.report
        report.set_aside_rows("repeated track in playlist", self.repeats, self.repeat_examples)
        report.rows_kept = len(self.users)
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
        listens = finalize_listens(
            pd.DataFrame(
                {
                    "user_id": pd.array(self.users, dtype="string"),
                    "track_id": pd.array(self.tracks, dtype="string"),
                    "weight": np.asarray(self.weights, dtype=np.float32),
                    "position": np.asarray(self.positions, dtype=np.int64),
                }
            )
        )
        return ListensRead(listens=listens, report=report, items=self.items())

    def items(self) -> pd.DataFrame:
        ids = list(self.meta)
        columns = list(zip(*self.meta.values())) if ids else [()] * 6
        frame = pd.DataFrame(
            {
                "track_id": ids,
                "title": columns[0],
                "artist": columns[1],
                "soundtrack": columns[2],
                "duration_s": pd.array(columns[3], dtype="Float64").astype("float64") if ids else [],
            }
        )
        frame["title"] = frame["title"].where(frame["title"].notna(), frame["track_id"])
        for name, values in (("artist_uri", columns[4]), ("album_uri", columns[5])):
            if any(v is not None for v in values):
                frame[name] = values
        context = self.context()
        frame["context"] = pd.array([context.get(track) for track in ids], dtype="string")
        return finalize_catalog(frame)

    def context(self) -> dict[str, str]:
        """track_uri -> its three most common playlist names, '; '-joined (ties alphabetically)."""
        by_track: dict[str, dict[str, int]] = {}
        for track, name in zip(self.tracks, self.names):
            if name is None:
                continue
            counts = by_track.get(track)
            if counts is None:
                by_track[track] = {name: 1}
            else:
                counts[name] = counts.get(name, 0) + 1
        out = {}
        for track, counts in by_track.items():
            if len(counts) == 1:
                out[track] = next(iter(counts))
            else:
                top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:CONTEXT_NAMES]
                out[track] = "; ".join(name for name, _ in top)
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
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{file}: not UTF-8 text at byte {exc.start}; expected an MPD JSON file") from exc
        except OSError as exc:
            raise DataError(f"{file}: cannot be read ({exc.strerror})") from exc
        data = load_json(file, text=text)
        collector.add_file(file, text, data)
    return collector.finish(str(path))
