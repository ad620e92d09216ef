"""What ranking reads: per-track arrays of a model (or of an evaluation's training split), and the queries."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from gems.topk import NormOrdered

if TYPE_CHECKING:
    from gems.cf import FoldIn


class Ranker(Protocol):
    """The learned second stage as ranking uses it (:class:`gems.rank.learned.LearnedRanker`)."""

    def relevance(self, features: np.ndarray) -> np.ndarray:
        """The learned relevance of every candidate entry (``features``: one row each): the probability that it
        is a track the listener adds."""

    def contributions(self, features: np.ndarray) -> dict[str, float]:
        """What each kind of evidence gave one entry's relevance."""

    def for_batch(self) -> Ranker:
        """The same ranker prepared for blocks of many candidates."""


class AudioSpace(Protocol):
    """An audio space as retrieval searches it (:class:`gems.model.Space`): ``index``, the faiss index of the
    audio vectors."""

    @property
    def index(self): ...


@dataclass
class Queries:
    """b queries. ``histories[i]``: the track rows query i is made of (sorted, unique); ``user_rows[i]``: its
    row among the model's listeners, −1 for seeds or a history the model never saw (its taste is then folded
    in); ``weights[i]``: the summed listen weights of its tracks (1 each for seeds).

    A history the model never saw may also hold tracks the model links only to their artist or album
    (:mod:`gems.ingest.coarse`): ``coarse_counts[i]`` how many, ``coarse_codes["artist"][i]`` and
    ``coarse_codes["album"][i]`` their artist and album codes (one entry per such track and code: a name that
    fits two spellings of one artist lists both). They count only as kin: the share of a query by an artist
    is (its tracks by that artist + its coarse links to it) / (its tracks + its coarse links).

    ``words[i]``: the sound words query i asks for, as columns of the inputs' ``tag_probs`` (empty: none; no
    list at all: no query has words) — a query may be words alone, with no track (:mod:`gems.rank.words`)."""

    histories: list[np.ndarray]
    user_rows: np.ndarray
    weights: list[np.ndarray]
    coarse_counts: np.ndarray | None = None
    coarse_codes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    words: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def of(
        cls, histories, user_rows=None, weights=None, *, coarse_counts=None, coarse_codes=None, words=None
    ) -> Queries:
        """Queries from track rows (repeats add their weights up); ``user_rows`` default −1, ``weights`` 1;
        ``coarse_counts``, ``coarse_codes``: a history's artist and album links (class docstring), none by
        default; ``words``: each query's word columns, none by default."""
        out_histories, out_weights = [], []
        for i, history in enumerate(histories):
            rows = np.asarray(history, dtype=np.int64).ravel()
            given = np.ones(len(rows)) if weights is None else np.asarray(weights[i], dtype=np.float64).ravel()
            if len(rows) < 2 or bool((rows[1:] > rows[:-1]).all()):  # already sorted and unique (a CSR row)
                out_histories.append(rows)
                out_weights.append(given)
                continue
            unique, inverse = np.unique(rows, return_inverse=True)
            out_histories.append(unique)
            out_weights.append(np.bincount(inverse, weights=given, minlength=len(unique)))
        rows = np.full(len(out_histories), -1, dtype=np.int64) if user_rows is None else np.asarray(user_rows)
        counts = None if coarse_counts is None else np.asarray(coarse_counts, dtype=np.int64)
        codes = {name: [np.asarray(c, dtype=np.int64) for c in lists] for name, lists in (coarse_codes or {}).items()}
        queries = cls(out_histories, rows.astype(np.int64), out_weights, counts, codes)
        return queries if words is None else queries.with_words(words)

    def with_words(self, words) -> Queries:
        """These queries asking also for ``words`` (each query's word columns)."""
        if len(words) != len(self):
            raise ValueError(f"{len(words)} word lists for {len(self)} queries")
        return replace(self, words=[np.asarray(w, dtype=np.int64).ravel() for w in words])

    @classmethod
    def of_listeners(cls, interactions, users) -> Queries:
        """The queries of listeners ``users`` (rows) of a (users × tracks) CSR matrix of summed listen weights
        given as its (indptr, indices, weights) arrays."""
        rows = np.asarray(users, dtype=np.int64)
        found = [listened(interactions, int(u)) for u in rows]
        return cls.of([h for h, _ in found], rows, [w for _, w in found])

    def take(self, part) -> Queries:
        """The queries at ``part`` (a slice or positions), their coarse links with them."""
        pick = (lambda items: items[part]) if isinstance(part, slice) else (lambda items: [items[i] for i in part])
        return Queries(
            pick(self.histories),
            self.user_rows[part],
            pick(self.weights),
            None if self.coarse_counts is None else self.coarse_counts[part],
            {name: pick(lists) for name, lists in self.coarse_codes.items()},
            pick(self.words) if self.words else [],
        )

    def kin_sizes(self) -> np.ndarray:
        """(b,) what kin shares divide by: each query's tracks and coarse links."""
        sizes = np.array([len(h) for h in self.histories], dtype=np.int64)
        return sizes if self.coarse_counts is None else sizes + self.coarse_counts

    def coarse_pairs(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(query, code) of every ``name`` (artist/album) code the queries' coarse links point to."""
        lists = self.coarse_codes.get(name) or []
        query = np.repeat(np.arange(len(lists)), [len(c) for c in lists]).astype(np.int64)
        return query, np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.histories)

    def worded(self) -> np.ndarray:
        """(b,) bool: which queries ask for words."""
        return np.array([len(w) > 0 for w in self.words], dtype=bool) if self.words else np.zeros(len(self), bool)

    def bare(self) -> np.ndarray:
        """(b,) bool: the queries of words alone — no track, listener or artist/album link."""
        linked = np.zeros(len(self), bool) if self.coarse_counts is None else self.coarse_counts > 0
        empty = np.array([len(h) == 0 for h in self.histories], dtype=bool)
        return self.worded() & empty & (self.user_rows < 0) & ~linked

    def means(self, values: np.ndarray) -> np.ndarray:
        """(b,) each query's mean of ``values`` (n,) over its tracks; 0 for a query without tracks."""
        return history_means(self.histories, values)


def history_means(histories: list[np.ndarray], values: np.ndarray) -> np.ndarray:
    """(b,) the mean of ``values`` (n,) over each history's tracks; 0 for an empty history."""
    sizes = np.array([len(h) for h in histories], dtype=np.int64)
    flat = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
    query = np.repeat(np.arange(len(sizes)), sizes)
    sums = np.bincount(query, weights=np.asarray(values, dtype=np.float64)[flat], minlength=len(sizes))
    return np.divide(sums, sizes, out=np.zeros(len(sizes)), where=sizes > 0)


def listened(interactions, user: int) -> tuple[np.ndarray, np.ndarray]:
    """(track rows, summed weights) of one listener (row ``user``) of a CSR matrix's (indptr, indices, weights)."""
    indptr, indices, weights = interactions
    start, stop = int(indptr[user]), int(indptr[user + 1])
    return np.asarray(indices[start:stop], dtype=np.int64), np.asarray(weights[start:stop], dtype=np.float64)


@dataclass(frozen=True)
class RankingInputs:
    """Everything ranking reads, per track row (n tracks) — from a model folder or a training split. Made once,
    with every field at once; what ranking derives from the fields (below) is built on construction, so the
    inputs are read-only from then on and any number of threads may rank with them.

    listeners (n,) distinct listeners; is_tail, is_theme (n,) bool; soundtrack_codes, artist_codes (n,) the
    album/soundtrack and artist as integers, −1 when unknown; is_soundtrack (n,) bool or None; item_factors
    (n × f) and user_factors (n_users × f): ALS, zero rows for tracks without listens; fold: the
    :class:`gems.cf.FoldIn` of those factors; norm_order: (rows, norms, their factors or None) of the heard
    tracks by decreasing factor norm, when stored; neighbours: (indptr, indices, data) CSR arrays of the item-kNN similarity;
    audio_position (n,): row of a track in audio_vectors (m × d, unit rows) or −1; audio_space: the model's
    audio :class:`AudioSpace`, whose faiss ``index`` large catalogues search; tag_position (n,): row of a track
    in tag_probs (t × W float32, its sound words' probabilities: :mod:`gems.rank.words`) or −1; ranker: the
    learned second stage, or None; member_order: per kin kind ("artist", "album"), the tracks sorted by code
    when the model stores them; batch: prepared for blocks of many queries (:meth:`for_batch`).

    Derived: ``ordered`` (:class:`gems.topk.NormOrdered`), ``factor_norms`` (n,) float32, ``kin_codes`` {"artist"/"album": (n,) codes, where any is known}, ``kin_members`` {kind:
    (tracks sorted by code, (codes + 1,) bounds: code c's tracks are members[bounds[c]:bounds[c + 1]])}.
    """

    listeners: np.ndarray
    is_tail: np.ndarray
    is_theme: np.ndarray
    soundtrack_codes: np.ndarray
    artist_codes: np.ndarray | None = None
    is_soundtrack: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    user_factors: np.ndarray | None = None
    fold: FoldIn | None = None
    norm_order: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
    neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    audio_position: np.ndarray | None = None
    audio_vectors: np.ndarray | None = None
    audio_space: AudioSpace | None = None
    tag_position: np.ndarray | None = None
    tag_probs: np.ndarray | None = None
    ranker: Ranker | None = None
    batch: bool = False
    ordered: NormOrdered | None = field(init=False, repr=False, compare=False)
    factor_norms: np.ndarray | None = field(init=False, repr=False, compare=False)
    kin_codes: dict[str, np.ndarray] = field(init=False, repr=False, compare=False)
    kin_members: dict[str, tuple[np.ndarray, np.ndarray]] = field(init=False, repr=False, compare=False)
    member_order: dict[str, np.ndarray] | None = None

    def __post_init__(self):
        derive = {"ordered": None, "factor_norms": None}
        if self.item_factors is not None:
            derive["ordered"] = self._norm_ordered()
            derive["factor_norms"] = self._factor_norms(derive["ordered"])
        codes = {"artist": self.artist_codes, "album": self.soundtrack_codes}
        derive["kin_codes"] = {k: c for k, c in codes.items() if c is not None and bool((np.asarray(c) >= 0).any())}
        stored = self.member_order or {}
        derive["kin_members"] = {name: _members(c, stored.get(name)) for name, c in derive["kin_codes"].items()}
        for name, value in derive.items():
            object.__setattr__(self, name, value)

    def for_batch(self) -> RankingInputs:
        """These inputs prepared for blocks of many queries (the factors in norm order as one array: the stored
        one mapped, else a copy; the top-k merge and the ranker's trees compiled), made before worker processes
        fork so each starts with them."""
        if self.batch:
            return self
        if self.item_factors is not None:
            from gems.topk import merge_kernel

            merge_kernel()
        return replace(self, batch=True, ranker=self.ranker.for_batch() if self.ranker is not None else None)

    def factors_of(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows) × f) float32 ALS factors of ``rows``: from the copy in norm order when prepared for a
        batch (zeros for unheard tracks, as a model stores them), else read from the (memory-mapped) array."""
        vectors = self.ordered.vectors
        if not isinstance(vectors, np.ndarray):
            return np.asarray(self.item_factors[rows], dtype=np.float32)
        position = self.ordered.position[rows]
        out = vectors[np.maximum(position, 0)]
        out[position < 0] = 0.0
        return out

    @property
    def n_items(self) -> int:
        return len(self.listeners)

    @property
    def heard(self) -> np.ndarray:
        return self.listeners > 0

    def _norm_ordered(self) -> NormOrdered:
        if self.norm_order is None:
            return NormOrdered.of(self.item_factors, self.heard)
        rows, norms, vectors = self.norm_order
        return NormOrdered.stored(self.item_factors, rows, norms, vectors=vectors, materialize=self.batch)

    def _factor_norms(self, ordered: NormOrdered) -> np.ndarray:
        """(n,) float32 length of every track's ALS factors: the stored norms of the heard tracks (computed for
        the rest, whose factors are zero rows in a model folder)."""
        from gems.topk import norms_of

        if self.norm_order is None:
            chunks = range(0, self.n_items, 65536)
            return np.concatenate(
                [norms_of(np.asarray(self.item_factors[i : i + 65536], np.float32)) for i in chunks]
            ).astype(np.float32)
        out = np.zeros(self.n_items, dtype=np.float32)
        out[ordered.rows] = ordered.norms
        return out


def _members(codes: np.ndarray, members: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the tracks with a known code sorted by code, bounds) for one kin kind; ``members``: that order when a
    model folder stores it (its catalogue stage's)."""
    codes = np.asarray(codes)
    if members is None:
        known = np.flatnonzero(codes >= 0)
        members = known[np.argsort(codes[known], kind="stable")]
    members = np.asarray(members, dtype=np.int64)
    return members, np.searchsorted(codes[members], np.arange(int(codes.max()) + 2))
