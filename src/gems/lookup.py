"""Find a track from what a person types: its id, its exact title, ``Artist - Title``, ``Title by Artist``,
``Title (Soundtrack)``, or a fuzzy title.

Ids and folded titles are found by binary search over sort orders the build wrote (``catalogue/id_order.npy``,
``catalogue/title_order.npy``), reading about twenty values however large the catalogue; only a fuzzy query
reads every title, for rapidfuzz. When several tracks carry the title asked for, they are one song when their
artists and titles have the same linking keys (:mod:`gems.ingest.names`: one recording on an album, a single
and a compilation) — then the most listened of those twins is the one meant, as in linking; different songs
are reported with their artists, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property

import numpy as np

from gems.errors import UnknownTrackError

FUZZY_ACCEPT = 88.0  # rapidfuzz WRatio (0-100) a lone best match needs
FUZZY_MARGIN = 6.0  # ...and its lead over the next different track
FUZZY_SUGGEST = 60.0  # score from which a fuzzy match is offered as a suggestion
TWIN_SECONDS = 10.0  # durations of one song's releases agree within this (the linking tolerance)
_WITH_SOUNDTRACK = re.compile(r"^(?P<title>.+?)\s*\((?P<soundtrack>[^()]+)\)\s*$")
_TITLE_BY = re.compile(r"^(?P<title>.+?)\s+by\s+(?P<artist>.+)$", re.IGNORECASE)


def title_key(text: str | None) -> str:
    """Case-folded, whitespace-collapsed text: the form titles are matched in."""
    return " ".join((text or "").casefold().split())


def equal_range(order: np.ndarray, key_of: Callable[[int], str], target: str) -> range:
    """The positions in ``order`` (row numbers sorted by ``key_of``) whose key equals ``target``."""
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if key_of(int(order[mid])) < target:
            lo = mid + 1
        else:
            hi = mid
    start, hi = lo, len(order)
    while lo < hi:
        mid = (lo + hi) // 2
        if key_of(int(order[mid])) <= target:
            lo = mid + 1
        else:
            hi = mid
    return range(start, lo)


def _artist_forms(query: str) -> list[tuple[str, str]]:
    """(title, artist) readings of ``Artist - Title`` (at every " - ") and ``Title by Artist``."""
    forms = []
    parts = query.split(" - ")
    for cut in range(1, len(parts)):
        forms.append((" - ".join(parts[cut:]).strip(), " - ".join(parts[:cut]).strip()))
    match = _TITLE_BY.match(query)
    if match:
        forms.append((match["title"].strip(), match["artist"].strip()))
    return [(title, artist) for title, artist in forms if title and artist]


class TrackLookup:
    """Resolve user queries to catalogue rows. ``column(name)`` gives the Arrow string array of ``track_ids``,
    ``titles``, ``artists`` or ``soundtracks`` when a query first needs it; ``id_order``/``title_order`` sort
    the rows by id and by folded title; ``listeners`` and ``durations`` (n,) tell and pick twins."""

    def __init__(
        self,
        column: Callable[[str], object],
        id_order: np.ndarray,
        title_order: np.ndarray,
        listeners: np.ndarray,
        durations: np.ndarray,
    ):
        self._column = column
        self.id_order = id_order
        self.title_order = title_order
        self.listeners = listeners
        self.durations = durations

    @cached_property
    def ids(self):
        return self._column("track_ids")

    @cached_property
    def titles(self):
        return self._column("titles")

    @cached_property
    def artists(self):
        return self._column("artists")

    @cached_property
    def soundtracks(self):
        return self._column("soundtracks")

    def _text(self, column, row: int) -> str | None:
        return column[row].as_py()

    def _title_key(self, row: int) -> str:
        return title_key(self._text(self.titles, row) or self._text(self.ids, row))

    def _rows_titled(self, title: str) -> list[int]:
        return [int(self.title_order[i]) for i in equal_range(self.title_order, self._title_key, title_key(title))]

    def label(self, row: int) -> str:
        """``Title by Artist (Soundtrack)``: what tells tracks of one title apart."""
        title = self._text(self.titles, row) or self._text(self.ids, row)
        artist, soundtrack = self._text(self.artists, row), self._text(self.soundtracks, row)
        return title + (f" by {artist}" if artist else "") + (f" ({soundtrack})" if soundtrack else "")

    def _suggestion(self, row: int) -> str:
        return f"{self.label(row)} [{self._text(self.ids, row)}]"

    def row_of_id(self, track_id: str) -> int | None:
        """The row of the track with exactly this id, or None."""
        found = equal_range(self.id_order, lambda row: self._text(self.ids, row), track_id)
        return int(self.id_order[found[0]]) if found else None

    def _song_key(self, row: int) -> tuple:
        from gems.ingest.names import normalise_artist, normalise_title

        title = normalise_title(self._text(self.titles, row))
        return normalise_artist(self._text(self.artists, row)), title.key, title.notes

    def _twins(self, rows: list[int]) -> bool:
        """Whether tracks are one song: the same known artist and title keys (version notes included), and
        durations within TWIN_SECONDS where known. Without an artist, equal titles prove nothing."""
        keys = {self._song_key(row) for row in rows}
        if len(keys) != 1 or not next(iter(keys))[0]:
            return False
        known = self.durations[rows][np.isfinite(self.durations[rows])]
        return len(known) < 2 or float(known.max() - known.min()) <= TWIN_SECONDS

    def _one_song(self, query: str, rows: list[int]) -> int:
        """The row ``query`` means among tracks sharing its title: the most listened twin when they are all one
        song (ties: the first by id); ambiguous otherwise."""
        if len(rows) == 1:
            return rows[0]
        if self._twins(rows):
            return min(rows, key=lambda row: (-int(self.listeners[row]), self._text(self.ids, row)))
        raise UnknownTrackError(query, [self._suggestion(r) for r in rows], ambiguous=True)

    def resolve(self, query: str) -> int:
        """The row of ``query``; raises :class:`UnknownTrackError` with suggestions when unknown or ambiguous."""
        query = query.strip()
        by_id = self.row_of_id(query)
        if by_id is not None:
            return by_id
        rows = self._rows_titled(query)
        if rows:
            return self._one_song(query, rows)
        match = _WITH_SOUNDTRACK.match(query)
        if match:
            hits = [
                r
                for r in self._rows_titled(match["title"])
                if title_key(self._text(self.soundtracks, r)) == title_key(match["soundtrack"])
            ]
            if hits:
                return self._one_song(query, hits)
        for title, artist in _artist_forms(query):
            hits = self._by_artist(self._rows_titled(title), artist)
            if hits:
                return self._one_song(query, hits)
        return self._fuzzy(query)

    def _by_artist(self, rows: list[int], artist: str) -> list[int]:
        """Those of ``rows`` by ``artist`` (compared by linking keys, first credited artist included)."""
        if not rows:
            return []
        from gems.ingest.names import artist_keys

        wanted = artist_keys([artist]).iloc[0]
        keys = artist_keys([self._text(self.artists, r) for r in rows])
        return [
            r
            for r, key, first in zip(rows, keys["key"], keys["first"])
            if wanted["key"] and (key == wanted["key"] or first == wanted["first"])
        ]

    def _rows_starting(self, prefix: str, limit: int) -> list[int]:
        """Up to ``limit`` rows whose folded title starts with the folded ``prefix``, in title order."""
        key = title_key(prefix)
        if not key:
            return []
        start = equal_range(self.title_order, self._title_key, key).start
        rows = []
        for i in range(start, min(len(self.title_order), start + limit)):
            row = int(self.title_order[i])
            if not self._title_key(row).startswith(key):
                break
            rows.append(row)
        return rows

    @cached_property
    def _labels(self) -> tuple[list[str], list[str]]:
        """Every track's title and its ``Artist - Title (Soundtrack)`` label, for fuzzy matching (read once)."""
        titles = [t or i for t, i in zip(self.titles.to_pylist(), self.ids.to_pylist())]
        labels = [
            (f"{a} - " if a else "") + t + (f" ({s})" if s else "")
            for t, a, s in zip(titles, self.artists.to_pylist(), self.soundtracks.to_pylist())
        ]
        return titles, labels

    def _fuzzy_hits(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(row, best WRatio over title and label) of the closest tracks, best first."""
        from rapidfuzz import fuzz, process, utils

        titles, labels = self._labels
        hits = process.extract(query, labels, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
        hits += process.extract(query, titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
        best: dict[int, float] = {}
        for _, score, row in hits:
            best[row] = max(score, best.get(row, 0.0))
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))

    def suggest(self, query: str, limit: int) -> list[int]:
        """Up to ``limit`` rows ``query`` may name, best first: the exact id, exact titles, titles starting with
        it, then — only when those leave room — fuzzy matches scoring at least FUZZY_SUGGEST."""
        query = query.strip()
        if not query or limit < 1:
            return []
        exact = self.row_of_id(query)
        candidates = ([exact] if exact is not None else []) + self._rows_titled(query)
        candidates += self._rows_starting(query, limit)
        found = list(dict.fromkeys(candidates))
        if len(found) < limit:
            fuzzy = [row for row, score in self._fuzzy_hits(query, limit) if score >= FUZZY_SUGGEST]
            found = list(dict.fromkeys(found + fuzzy))
        return found[:limit]

    def _fuzzy(self, query: str) -> int:
        ranked = self._fuzzy_hits(query, 6)
        suggestions = [self._suggestion(r) for r, s in ranked if s >= FUZZY_SUGGEST][:5]
        if ranked:
            top_row, top = ranked[0]
            runner_up = next((s for r, s in ranked[1:] if not self._twins([top_row, r])), 0.0)
            if top >= FUZZY_ACCEPT and top - runner_up >= FUZZY_MARGIN:
                return top_row
            if top >= FUZZY_ACCEPT:
                raise UnknownTrackError(query, suggestions, ambiguous=True)
        raise UnknownTrackError(query, suggestions)
