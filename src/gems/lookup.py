"""Find a track from what a person types: its id, its exact title, ``Artist - Title``, ``Title by Artist``,
``Title (Soundtrack)``, or a fuzzy title.

Ids and folded titles are found by binary search over sort orders the build wrote (``catalogue/id_order.npy``,
``catalogue/title_order.npy``), reading about twenty values however large the catalogue; only a fuzzy query
reads every title, for rapidfuzz, in chunks of FUZZY_CHUNK titles. When several tracks carry the title asked
for, they are one song when their artists and titles have the same linking keys (:mod:`gems.ingest.names`: one
recording on an album, a single and a compilation) — then the most listened of those twins is the one meant, as
in linking; different songs are reported with their artists, never guessed.

A :class:`MatchBudget` bounds the time the matches of one request may take (``gems serve`` gives every request
one): it is looked at before each step that may read many titles and between fuzzy chunks, and past it a
resolution stops with one ParameterError, a suggestion with what it found by then.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import cached_property

import numpy as np

from gems.errors import ParameterError, UnknownTrackError

FUZZY_ACCEPT = 88.0  # rapidfuzz WRatio (0-100) a lone best match needs
FUZZY_MARGIN = 6.0  # ...and its lead over the next different track
FUZZY_SUGGEST = 60.0  # score from which a fuzzy match is offered as a suggestion
TWIN_SECONDS = 10.0  # durations of one song's releases agree within this (the linking tolerance)
FUZZY_CHUNK = 65_536  # titles scored between two looks at a MatchBudget's clock (~30 ms on a 2-core machine)
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


class MatchBudget:
    """The time the title matches of one request may take together: ``spent`` once more than ``seconds`` have
    passed since the budget was made, when ``check`` raises ParameterError."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def spent(self) -> bool:
        return time.monotonic() > self.ends

    def check(self, query: str) -> None:
        if self.spent():
            raise ParameterError(
                f"matching titles took longer than this server allows one request ({self.seconds:g} s; stopped at "
                f"'{query[:80]}'); give track ids (from /api/search), or fewer, more exact titles"
            )


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

    def _song_keys(self, rows: list[int]) -> list[tuple[str, str, str]]:
        """(artist key, title key, version notes) of each row (:mod:`gems.ingest.names`), keyed in one batch."""
        import pandas as pd

        from gems.ingest.names import artist_keys, title_keys

        artists = artist_keys([self._text(self.artists, row) for row in rows])["key"]
        titles = title_keys(pd.Series([self._text(self.titles, row) for row in rows], dtype="object"))
        text = lambda value: "" if pd.isna(value) else value  # noqa: E731
        return [
            (text(artist), text(key), text(notes))
            for artist, key, notes in zip(artists, titles["key"], titles["notes"])
        ]

    def _twins(self, rows: list[int], keys: list[tuple] | None = None) -> bool:
        """Whether tracks are one song: the same known artist and title keys (version notes included; ``keys``:
        their :meth:`_song_keys` when known), and durations within TWIN_SECONDS where known. Without an artist,
        equal titles prove nothing."""
        distinct = set(self._song_keys(rows) if keys is None else keys)
        if len(distinct) != 1 or not next(iter(distinct))[0]:
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

    def resolve(self, query: str, budget: MatchBudget | None = None) -> int:
        """The row of ``query``; raises :class:`UnknownTrackError` with suggestions when unknown or ambiguous,
        ParameterError when ``budget`` runs out first."""
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
            if budget is not None:
                budget.check(query)
            hits = self._by_artist(self._rows_titled(title), artist)
            if hits:
                return self._one_song(query, hits)
        return self._fuzzy(query, budget)

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
    def _choices(self) -> tuple[list[str], list[str]]:
        """Every track's ``Artist - Title (Soundtrack)`` label and its title, as rapidfuzz's ``default_process``
        leaves them (read and processed once, not per query)."""
        from rapidfuzz.utils import default_process

        titles = [t or i for t, i in zip(self.titles.to_pylist(), self.ids.to_pylist())]
        labels = [
            (f"{a} - " if a else "") + t + (f" ({s})" if s else "")
            for t, a, s in zip(titles, self.artists.to_pylist(), self.soundtracks.to_pylist())
        ]
        return [default_process(label) for label in labels], [default_process(title) for title in titles]

    def prepare(self) -> None:
        """Read now what queries read on first use (the catalogue's columns, the fuzzy choices, the name keys'
        module), so that no later query opens a file of the model folder or waits for it."""
        import gems.ingest.names  # noqa: F401  (pandas and pyarrow.compute, for the name keys)

        _ = self.ids, self.titles, self.artists, self.soundtracks, self._choices

    def _fuzzy_hits(
        self, query: str, limit: int, budget: MatchBudget | None = None, *, partial: bool = False
    ) -> list[tuple[int, float]]:
        """(row, best WRatio over label and title) of the ``limit`` closest labels and the ``limit`` closest
        titles, best first (ties: the lower row), scored FUZZY_CHUNK choices at a time by rapidfuzz's ``cdist``,
        which lets other threads run meanwhile (``extract`` holds the interpreter for the whole chunk). When
        ``budget`` runs out: ParameterError, or with ``partial`` the closest of the choices scored by then."""
        from rapidfuzz import fuzz, process
        from rapidfuzz.utils import default_process

        wanted = [default_process(query)]
        best: dict[int, float] = {}
        for choices in self._choices:
            found = []
            for start in range(0, len(choices), FUZZY_CHUNK):
                if budget is not None and budget.spent():
                    if not partial:
                        budget.check(query)
                    break
                chunk = choices[start : start + FUZZY_CHUNK]
                scores = process.cdist(wanted, chunk, scorer=fuzz.WRatio, processor=None, dtype=np.float64)[0]
                top = np.argsort(-scores, kind="stable")[:limit]  # stable: equal scores keep the lower row first
                found += [(start + int(i), float(scores[i])) for i in top]
            for row, score in sorted(found, key=lambda hit: (-hit[1], hit[0]))[:limit]:
                best[row] = max(score, best.get(row, 0.0))
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))

    def suggest(self, query: str, limit: int, budget: MatchBudget | None = None) -> list[int]:
        """Up to ``limit`` rows ``query`` may name, best first: the exact id, exact titles, titles starting with
        it, then — only when those leave room — fuzzy matches scoring at least FUZZY_SUGGEST (of the titles
        read before ``budget`` ran out: a suggestion is a best effort, where :meth:`resolve` must decide)."""
        query = query.strip()
        if not query or limit < 1:
            return []
        exact = self.row_of_id(query)
        candidates = ([exact] if exact is not None else []) + self._rows_titled(query)
        candidates += self._rows_starting(query, limit)
        found = list(dict.fromkeys(candidates))
        if len(found) < limit:
            hits = self._fuzzy_hits(query, limit, budget, partial=True)
            fuzzy = [row for row, score in hits if score >= FUZZY_SUGGEST]
            found = list(dict.fromkeys(found + fuzzy))
        return found[:limit]

    def _fuzzy(self, query: str, budget: MatchBudget | None = None) -> int:
        ranked = self._fuzzy_hits(query, 6, budget)
        suggestions = [self._suggestion(r) for r, s in ranked if s >= FUZZY_SUGGEST][:5]
        if ranked:
            top_row, top = ranked[0]
            keys = self._song_keys([row for row, _ in ranked])
            runner_up = next(
                (s for (r, s), key in zip(ranked[1:], keys[1:]) if not self._twins([top_row, r], [keys[0], key])),
                0.0,
            )
            if top >= FUZZY_ACCEPT and top - runner_up >= FUZZY_MARGIN:
                return top_row
            if top >= FUZZY_ACCEPT:
                raise UnknownTrackError(query, suggestions, ambiguous=True)
        raise UnknownTrackError(query, suggestions)
