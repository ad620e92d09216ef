"""Find a track from what a person types: its id, its exact title, ``Title (Soundtrack)``, or a fuzzy title."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gems.errors import UnknownTrackError

FUZZY_ACCEPT = 88.0  # rapidfuzz WRatio (0-100) a lone best match needs
FUZZY_MARGIN = 6.0  # ...and its lead over the next different track
_WITH_SOUNDTRACK = re.compile(r"^(?P<title>.+?)\s*\((?P<soundtrack>[^()]+)\)\s*$")


def _key(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


class TrackLookup:
    """Resolve user queries to catalogue rows. Built once per process from the id, title, soundtrack columns."""

    def __init__(self, track_ids: Sequence[str], titles: Sequence[str], soundtracks: Sequence[str | None]):
        self.track_ids = list(track_ids)
        self.titles = [t or i for t, i in zip(titles, self.track_ids)]
        self.soundtracks = list(soundtracks)
        self._by_id = {track_id: row for row, track_id in enumerate(self.track_ids)}
        self._by_title: dict[str, list[int]] = {}
        for row, title in enumerate(self.titles):
            self._by_title.setdefault(_key(title), []).append(row)
        self._labels = [self.label(row) for row in range(len(self.track_ids))]

    def label(self, row: int) -> str:
        """``Title (Soundtrack)``, the form that makes an ambiguous title unique."""
        soundtrack = self.soundtracks[row]
        return f"{self.titles[row]} ({soundtrack})" if soundtrack else self.titles[row]

    def resolve(self, query: str) -> int:
        """The row of ``query``; raises :class:`UnknownTrackError` with suggestions when unknown or ambiguous."""
        query = query.strip()
        if query in self._by_id:
            return self._by_id[query]
        rows = self._by_title.get(_key(query), [])
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise UnknownTrackError(query, [f"{self._labels[r]} [{self.track_ids[r]}]" for r in rows], ambiguous=True)
        match = _WITH_SOUNDTRACK.match(query)
        if match:
            hits = [
                r
                for r in self._by_title.get(_key(match["title"]), [])
                if _key(self.soundtracks[r]) == _key(match["soundtrack"])
            ]
            if len(hits) == 1:
                return hits[0]
        return self._fuzzy(query)

    def _fuzzy(self, query: str) -> int:
        from rapidfuzz import fuzz, process, utils

        hits = process.extract(query, self._labels, scorer=fuzz.WRatio, processor=utils.default_process, limit=6)
        hits += process.extract(query, self.titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=6)
        best: dict[int, float] = {}
        for _, score, row in hits:
            best[row] = max(score, best.get(row, 0.0))
        ranked = sorted(best.items(), key=lambda item: -item[1])
        suggestions = [f"{self._labels[r]} [{self.track_ids[r]}]" for r, s in ranked if s >= 60][:5]
        if ranked:
            top_row, top = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if top >= FUZZY_ACCEPT and top - runner_up >= FUZZY_MARGIN:
                return top_row
            if top >= FUZZY_ACCEPT:
                raise UnknownTrackError(query, suggestions, ambiguous=True)
        raise UnknownTrackError(query, suggestions)
