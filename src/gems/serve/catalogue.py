"""What a face asks of the catalogue itself: tracks a person may mean, the popularity curve of the long-tail
chart, and the local audio file of a track."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SEARCH_LIMIT = 20


@dataclass(frozen=True)
class Suggestion:
    """A track a search may mean (``row``: its catalogue row)."""

    track_id: str
    title: str
    soundtrack: str | None
    artist: str | None
    row: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("row")
        return out


def search(model, text: str, limit: int = SEARCH_LIMIT) -> list[Suggestion]:
    """Up to ``limit`` tracks ``text`` may name, best first: the track with that id, tracks with that title,
    titles starting with it, then fuzzy matches of ``Title (Soundtrack)`` and ``Artist - Title``."""
    rows = model.lookup.suggest(text, limit)
    return [
        Suggestion(
            track_id=model.track_ids[row],
            title=model.titles[row] or model.track_ids[row],
            soundtrack=model.soundtracks[row],
            artist=model.artists[row],
            row=int(row),
        )
        for row in rows
    ]


def popularity_ranks(model, rows) -> np.ndarray:
    """1-based popularity rank of each track: 1 + the number of tracks with more listeners (ties share one)."""
    ordered = _descending_listeners(model)
    listeners = np.asarray(model.listeners)[np.asarray(rows, dtype=np.int64)]
    # ordered is descending: count of values strictly greater than x
    return 1 + len(ordered) - np.searchsorted(ordered[::-1], listeners, side="right")


def _descending_listeners(model) -> np.ndarray:
    cached = getattr(model, "_descending_listeners", None)
    if cached is None:
        cached = np.sort(np.asarray(model.listeners))[::-1]
        model._descending_listeners = cached
    return cached


def popularity_curve(model, points: int = 400) -> dict:
    """The catalogue's popularity curve: listeners of the track at each rank (1 = most popular), at most
    ``points`` ranks spaced evenly on a log scale (always the first and the last), with the head size (the
    tracks outside the long tail) so a chart can shade the head."""
    ordered = _descending_listeners(model)
    n = len(ordered)
    if n == 0:
        return {"n_tracks": 0, "head": 0, "ranks": [], "listeners": []}
    ranks = np.unique(np.round(np.geomspace(1, n, num=min(points, n))).astype(np.int64))
    return {
        "n_tracks": int(n),
        "head": int((~np.asarray(model.is_tail)).sum()),
        "simulated": bool(model.simulated),
        "ranks": ranks.tolist(),
        "listeners": ordered[ranks - 1].astype(np.int64).tolist(),
    }


def audio_file(model, track_id: str) -> Path | None:
    """The local audio file of the track with this exact id, when the catalogue names one and it exists as a
    regular file; None otherwise. Only paths written in the model's catalogue are ever returned."""
    row = model.lookup.row_of_id(track_id)
    if row is None:
        return None
    path = model.paths[row]
    if not path:
        return None
    candidate = Path(path)
    return candidate if candidate.is_file() else None
