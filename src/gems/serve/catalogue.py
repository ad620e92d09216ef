"""What a face asks of the catalogue itself: tracks a person may mean, the popularity curve of the long-tail
chart, and the local audio file of a track."""

from __future__ import annotations

import os
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


def search(model, text: str, limit: int = SEARCH_LIMIT, match_budget=None) -> list[Suggestion]:
    """Up to ``limit`` tracks ``text`` may name, best first: the track with that id, tracks with that title,
    titles starting with it, then fuzzy matches of ``Title (Soundtrack)`` and ``Artist - Title`` (within
    ``match_budget``, a :class:`gems.lookup.MatchBudget`, when given)."""
    rows = model.lookup.suggest(text, limit, match_budget)
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
    regular file; None otherwise. Only paths written in the model's catalogue are ever returned, and only audio
    files (by the suffix of the file a symbolic link leads to): a model folder may come from anyone, and its
    catalogue must not make ``gems serve`` hand out ``/etc/passwd``."""
    from gems.audio.decode import AUDIO_EXTENSIONS

    row = model.lookup.row_of_id(track_id)
    if row is None:
        return None
    path = model.paths[row]
    if not path:
        return None
    candidate = Path(path)
    real = Path(os.path.realpath(candidate))
    return candidate if real.suffix.lower() in AUDIO_EXTENSIONS and real.is_file() else None


def has_audio(model, track_id: str) -> bool:
    """Whether :func:`audio_file` finds a local file for this track (what a page needs to offer a player)."""
    return audio_file(model, track_id) is not None


def track_facts(model, track_ids: list[str]) -> list[dict]:
    """What a page shows beside a track and does not find in a recommendation: for each id, in order,
    ``{track_id, title, soundtrack, artist, listeners, popularity_rank, is_tail, has_audio}``
    (``popularity_rank`` as in :func:`popularity_ranks`). UnknownTrackError for an id the model lacks."""
    rows = [_row_of(model, track_id) for track_id in track_ids]
    ranks = popularity_ranks(model, rows) if rows else []
    return [
        {
            "track_id": track_id,
            "title": model.titles[row] or track_id,
            "soundtrack": model.soundtracks[row],
            "artist": model.artists[row],
            "listeners": int(model.listeners[row]),
            "popularity_rank": int(rank),
            "is_tail": bool(model.is_tail[row]),
            "has_audio": has_audio(model, track_id),
        }
        for track_id, row, rank in zip(track_ids, rows, ranks)
    ]


def _row_of(model, track_id: str) -> int:
    """The row of the track with exactly this id; UnknownTrackError (with close titles) otherwise."""
    from gems.errors import UnknownTrackError

    row = model.lookup.row_of_id(track_id)
    if row is None:
        raise UnknownTrackError(track_id, [s.track_id for s in search(model, track_id, 5)])
    return int(row)


def playlist_of(
    model, track_ids: list[str], *, like: list[str] = (), user: str | None = None, arc: bool = False, flow: bool = True
):
    """A :class:`gems.serve.playlist.Playlist` of exactly these tracks (ids): ordered for flow from the seed tracks
    (``like``: ids) or the listener's history (``user``) as ``gems playlist`` orders its picks, or kept in the
    given order (``flow=False``)."""
    from gems.errors import ParameterError
    from gems.serve.playlist import assemble
    from gems.serve.recommend import for_whom

    if not track_ids:
        raise ParameterError("a playlist needs at least one track: give track=ID (repeatable)")
    rows = np.asarray([_row_of(model, t) for t in track_ids], dtype=np.int64)
    seeds = np.asarray([_row_of(model, t) for t in like], dtype=np.int64)
    if user is not None:
        seeds = model.history(model.user_row(user))[0]
    who = for_whom(model, user=user, seeds=seeds)
    return assemble(model, rows, who, seeds=seeds if len(seeds) else None, arc=arc, flow=flow)


def listens_formats() -> list[str]:
    """The names a listening export's format may be given by: ``auto``, each format and its aliases."""
    from gems.ingest.formats import ALIASES, available_formats

    return ["auto", *available_formats(), *ALIASES]


def model_summary(model) -> dict:
    """What a page needs to set itself up: counts, whether the listens are simulated, and the ranking
    defaults its controls start from (``{k, discount, per_soundtrack, tail_share, scope}``)."""
    options = model.rank_defaults
    counts = model.manifest.get("counts", {})
    return {
        "tracks": int(model.n_tracks),
        "listeners": int(counts.get("users", 0)),
        "simulated": bool(model.simulated),
        "defaults": {
            "k": options.k,
            "discount": options.discount,
            "per_soundtrack": options.per_soundtrack,
            "tail_share": options.tail_share,
            "scope": options.scope,
        },
    }


def ranking_summary(model) -> str:
    """One sentence on how this model ranks: the learned second stage (what it was trained on and how it did
    on its validation listeners against the blend), or the hand-set blend and why."""
    from gems.artifacts import layout

    folder = model.folder
    if not folder.has(layout.RANKER_INFO):
        enabled = model.manifest.get("config", {}).get("ranker", {}).get("enabled", True)
        why = "the learned stage is disabled in [ranker]" if not enabled else "the model has no listening data"
        return f"ranking: the hand-set blend ({why})"
    info = folder.json(layout.RANKER_INFO)
    if "skipped" in info:
        return f"ranking: the hand-set blend — {info['skipped']}"
    scores = info["validation"]
    at = f"discount {model.rank_defaults.discount:g}"
    ranker, blend = (scores[who].get(at, {}).get("psr@50", float("nan")) for who in ("ranker", "blend"))
    return (
        f"ranking: learned (LightGBM, the probability of a track a listener adds, {info['trees']} trees from "
        f"{info['train_queries']:,} listeners' held-back tracks); on {info['validation_queries']:,} validation "
        f"listeners PSR@50 {ranker:.3f} against the blend's {blend:.3f} (at the default discount)"
    )
