"""What ranking reads: per-track arrays of a model (or of an evaluation's training split), and the queries."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gems.topk import NormOrdered


@dataclass
class Queries:
    """b queries. ``histories[i]``: the track rows query i is made of (sorted, unique); ``user_rows[i]``: its
    row among the model's listeners, −1 for seeds or a history the model never saw (its taste is then folded
    in); ``weights[i]``: the summed listen weights of its tracks (1 each for seeds)."""

    histories: list[np.ndarray]
    user_rows: np.ndarray
    weights: list[np.ndarray]

    @classmethod
    def of(cls, histories, user_rows=None, weights=None) -> Queries:
        """Queries from track rows (repeats add their weights up); ``user_rows`` default −1, ``weights`` 1."""
        out_histories, out_weights = [], []
        for i, history in enumerate(histories):
            rows = np.asarray(history, dtype=np.int64).ravel()
            given = np.ones(len(rows)) if weights is None else np.asarray(weights[i], dtype=np.float64).ravel()
            unique, inverse = np.unique(rows, return_inverse=True)
            out_histories.append(unique)
            out_weights.append(np.bincount(inverse, weights=given, minlength=len(unique)))
        rows = np.full(len(out_histories), -1, dtype=np.int64) if user_rows is None else np.asarray(user_rows)
        return cls(out_histories, rows.astype(np.int64), out_weights)

    def __len__(self) -> int:
        return len(self.histories)


@dataclass
class RankingInputs:
    """Everything ranking reads, per track row (n tracks) — from a model folder or a training split.

    listeners (n,) distinct listeners; is_tail, is_theme (n,) bool; soundtrack_codes, artist_codes (n,) the
    album/soundtrack and artist as integers, −1 when unknown; is_soundtrack (n,) bool or None; item_factors
    (n × f) and user_factors (n_users × f): ALS, zero rows for tracks without listens; fold: the
    :class:`gems.cf.FoldIn` of those factors; norm_order: (rows, norms) of the heard tracks by decreasing
    factor norm, when stored; neighbours: (indptr, indices, data) CSR arrays of the item-kNN similarity;
    audio_position (n,): row of a track in audio_vectors (m × d, unit rows) or −1; audio_index: the audio
    space, whose ``.index`` (the faiss index of audio_vectors) large catalogues search; ranker: the learned
    second stage, or None.
    """

    listeners: np.ndarray
    is_tail: np.ndarray
    is_theme: np.ndarray
    soundtrack_codes: np.ndarray
    artist_codes: np.ndarray | None = None
    is_soundtrack: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    user_factors: np.ndarray | None = None
    fold: object | None = None
    norm_order: tuple[np.ndarray, np.ndarray] | None = None
    neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    audio_position: np.ndarray | None = None
    audio_vectors: np.ndarray | None = None
    audio_index: object | None = None
    ranker: object | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.listeners)

    @property
    def heard(self) -> np.ndarray:
        return self.listeners > 0

    def cached(self, key, make):
        """``make()`` computed once per key for these inputs."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def factor_norms(self) -> np.ndarray:
        """(n,) float32 length of every track's ALS factors (read once)."""

        def make() -> np.ndarray:
            from gems.topk import norms_of

            return np.concatenate(
                [
                    norms_of(np.asarray(self.item_factors[i : i + 65536], np.float32))
                    for i in range(0, self.n_items, 65536)
                ]
            ).astype(np.float32)

        return self.cached("factor_norms", make)

    def norm_ordered(self, *, materialize: bool) -> NormOrdered:
        """The heard tracks' factors by decreasing norm for :func:`gems.topk.top_k`; ``materialize`` copies
        them in that order (batches: ~0.7 s on a million tracks), else single queries read them per chunk."""

        def make() -> NormOrdered:
            if self.norm_order is None:
                return NormOrdered.of(self.item_factors, self.heard)
            rows, norms = self.norm_order
            return NormOrdered.stored(self.item_factors, rows, norms, materialize=materialize)

        return self.cached(("norms", materialize), make)

    def prepare(self, *, batch: bool) -> None:
        """Build now what ranking builds on first use (factor order and norms, the neighbour and membership
        matrices), so worker processes fork with it and a server's first query is as fast as the next."""
        if self.item_factors is not None:
            self.norm_ordered(materialize=batch)
            self.factor_norms()
        if self.neighbours is not None:
            self.neighbour_matrix()
        for name in self.kin_codes:
            self.membership(name)

    @property
    def kin_codes(self) -> dict[str, np.ndarray]:
        """The code arrays kin evidence is read from — ``artist`` and ``album`` (soundtrack) — where known."""
        codes = {"artist": self.artist_codes, "album": self.soundtrack_codes}
        return {name: c for name, c in codes.items() if c is not None and bool((np.asarray(c) >= 0).any())}

    def membership(self, name: str):
        """(n × codes) CSR indicator of each track's artist or album (``name``), built once."""

        def make():
            import scipy.sparse as sp

            codes = np.asarray(self.kin_codes[name])
            known = np.flatnonzero(codes >= 0)
            shape = (len(codes), int(codes.max()) + 1)
            return sp.csr_matrix((np.ones(len(known), np.float32), (known, codes[known])), shape=shape)

        return self.cached(("membership", name), make)

    def neighbour_matrix(self):
        """The (n × n) CSR item-kNN similarity."""

        def make():
            import scipy.sparse as sp

            indptr, indices, data = self.neighbours
            return sp.csr_matrix((data, indices, indptr), shape=(self.n_items, self.n_items))

        return self.cached("neighbours", make)
