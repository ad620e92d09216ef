"""Find a track from what a person types: its id, its exact title, ``Title (Soundtrack)``, or a fuzzy title.

Exact matches are found with Arrow compute over the catalogue's columns (milliseconds on a million tracks);
only a fuzzy query reads the titles into Python, for rapidfuzz.
"""

from __future__ import annotations

import re
from functools import cached_property

from gems.errors import UnknownTrackError

FUZZY_ACCEPT = 88.0  # rapidfuzz WRatio (0-100) a lone best match needs
FUZZY_MARGIN = 6.0  # ...and its lead over the next different track
_WITH_SOUNDTRACK = re.compile(r"^(?P<title>.+?)\s*\((?P<soundtrack>[^()]+)\)\s*$")


def _key(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


class TrackLookup:
    """Resolve user queries to catalogue rows; ``ids``, ``titles``, ``soundtracks`` are Arrow string arrays."""

    def __init__(self, ids, titles, soundtracks):
        self.ids, self.titles, self.soundtracks = ids, titles, soundtracks

    @cached_property
    def _folded_titles(self):
        import pyarrow.compute as pc

        spaced = pc.replace_substring_regex(pc.coalesce(self.titles, self.ids), pattern=r"\s+", replacement=" ")
        return pc.utf8_lower(pc.utf8_trim_whitespace(spaced))  # the same folding as _key

    def _rows_where(self, array, value: str) -> list[int]:
        import numpy as np
        import pyarrow.compute as pc

        from gems.artifacts import arrow_to_numpy

        mask = pc.equal(array, value).fill_null(False)
        return np.flatnonzero(arrow_to_numpy(mask)).tolist() if pc.any(mask).as_py() else []

    def label(self, row: int) -> str:
        """``Title (Soundtrack)``, the form that makes an ambiguous title unique."""
        title = self.titles[row].as_py() or self.ids[row].as_py()
        soundtrack = self.soundtracks[row].as_py()
        return f"{title} ({soundtrack})" if soundtrack else title

    def _suggestion(self, row: int) -> str:
        return f"{self.label(row)} [{self.ids[row].as_py()}]"

    def resolve(self, query: str) -> int:
        """The row of ``query``; raises :class:`UnknownTrackError` with suggestions when unknown or ambiguous."""
        query = query.strip()
        rows = self._rows_where(self.ids, query)
        if rows:
            return rows[0]
        rows = self._rows_where(self._folded_titles, _key(query))
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise UnknownTrackError(query, [self._suggestion(r) for r in rows], ambiguous=True)
        match = _WITH_SOUNDTRACK.match(query)
        if match:
            hits = [
                r
                for r in self._rows_where(self._folded_titles, _key(match["title"]))
                if _key(self.soundtracks[r].as_py()) == _key(match["soundtrack"])
            ]
            if len(hits) == 1:
                return hits[0]
        return self._fuzzy(query)

    def _fuzzy(self, query: str) -> int:
        from rapidfuzz import fuzz, process, utils

        titles = self._folded_titles.to_pylist()
        labels = [f"{t} ({s})" if s else t for t, s in zip(titles, self.soundtracks.to_pylist())]
        hits = process.extract(query, labels, scorer=fuzz.WRatio, processor=utils.default_process, limit=6)
        hits += process.extract(query, titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=6)
        best: dict[int, float] = {}
        for _, score, row in hits:
            best[row] = max(score, best.get(row, 0.0))
        ranked = sorted(best.items(), key=lambda item: -item[1])
        suggestions = [self._suggestion(r) for r, s in ranked if s >= 60][:5]
        if ranked:
            top_row, top = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if top >= FUZZY_ACCEPT and top - runner_up >= FUZZY_MARGIN:
                return top_row
            if top >= FUZZY_ACCEPT:
                raise UnknownTrackError(query, suggestions, ambiguous=True)
        raise UnknownTrackError(query, suggestions)
