"""Find a track from what a person types: its id, its exact title, ``Title (Soundtrack)``, or a fuzzy title.

Ids and folded titles are found by binary search over sort orders the build wrote (``catalogue/id_order.npy``,
``catalogue/title_order.npy``), reading about twenty values however large the catalogue; only a fuzzy query
reads every title, for rapidfuzz.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property

import numpy as np

from gems.errors import UnknownTrackError

FUZZY_ACCEPT = 88.0  # rapidfuzz WRatio (0-100) a lone best match needs
FUZZY_MARGIN = 6.0  # ...and its lead over the next different track
_WITH_SOUNDTRACK = re.compile(r"^(?P<title>.+?)\s*\((?P<soundtrack>[^()]+)\)\s*$")


def fold(text: str | None) -> str:
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


class TrackLookup:
    """Resolve user queries to catalogue rows. ``column(name)`` gives the Arrow string array of ``track_ids``,
    ``titles`` or ``soundtracks`` when a query first needs it; ``id_order``/``title_order`` sort the rows by id
    and by folded title."""

    def __init__(self, column: Callable[[str], object], id_order: np.ndarray, title_order: np.ndarray):
        self._column = column
        self.id_order = id_order
        self.title_order = title_order

    @cached_property
    def ids(self):
        return self._column("track_ids")

    @cached_property
    def titles(self):
        return self._column("titles")

    @cached_property
    def soundtracks(self):
        return self._column("soundtracks")

    def _title_key(self, row: int) -> str:
        return fold(self.titles[row].as_py() or self.ids[row].as_py())

    def _rows_titled(self, title: str) -> list[int]:
        return [int(self.title_order[i]) for i in equal_range(self.title_order, self._title_key, fold(title))]

    def label(self, row: int) -> str:
        """``Title (Soundtrack)``, the form that makes an ambiguous title unique."""
        title = self.titles[row].as_py() or self.ids[row].as_py()
        soundtrack = self.soundtracks[row].as_py()
        return f"{title} ({soundtrack})" if soundtrack else title

    def _suggestion(self, row: int) -> str:
        return f"{self.label(row)} [{self.ids[row].as_py()}]"

    def row_of_id(self, track_id: str) -> int | None:
        """The row of the track with exactly this id, or None."""
        found = equal_range(self.id_order, lambda row: self.ids[row].as_py(), track_id)
        return int(self.id_order[found[0]]) if found else None

    def _rows_starting(self, prefix: str, limit: int) -> list[int]:
        """Up to ``limit`` rows whose folded title starts with the folded ``prefix``, in title order."""
        key = fold(prefix)
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
        """Every track's title and its ``Title (Soundtrack)`` label, for fuzzy matching (read once)."""
        titles = [t or i for t, i in zip(self.titles.to_pylist(), self.ids.to_pylist())]
        labels = [f"{t} ({s})" if s else t for t, s in zip(titles, self.soundtracks.to_pylist())]
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
        it, then fuzzy matches scoring at least 60."""
        query = query.strip()
        if not query or limit < 1:
            return []
        found: list[int] = []
        exact = self.row_of_id(query)
        candidates = ([exact] if exact is not None else []) + self._rows_titled(query)
        candidates += self._rows_starting(query, limit)
        candidates += [row for row, score in self._fuzzy_hits(query, limit) if score >= 60]
        for row in candidates:
            if row not in found:
                found.append(row)
        return found[:limit]

    def resolve(self, query: str) -> int:
        """The row of ``query``; raises :class:`UnknownTrackError` with suggestions when unknown or ambiguous."""
        query = query.strip()
        by_id = self.row_of_id(query)
        if by_id is not None:
            return by_id
        rows = self._rows_titled(query)
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise UnknownTrackError(query, [self._suggestion(r) for r in rows], ambiguous=True)
        match = _WITH_SOUNDTRACK.match(query)
        if match:
            hits = [
                r
                for r in self._rows_titled(match["title"])
                if fold(self.soundtracks[r].as_py()) == fold(match["soundtrack"])
            ]
            if len(hits) == 1:
                return hits[0]
        return self._fuzzy(query)

    def _fuzzy(self, query: str) -> int:
        ranked = self._fuzzy_hits(query, 6)
        suggestions = [self._suggestion(r) for r, s in ranked if s >= 60][:5]
        if ranked:
            top_row, top = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if top >= FUZZY_ACCEPT and top - runner_up >= FUZZY_MARGIN:
                return top_row
            if top >= FUZZY_ACCEPT:
                raise UnknownTrackError(query, suggestions, ambiguous=True)
        raise UnknownTrackError(query, suggestions)
