"""gems' own ranking as an evaluation method: the same :func:`gems.rank.recommend_batch` that ``gems export``
runs, on components (ALS, item neighbours, audio) fitted on the split's training data.

Several variants (discount strengths, tail shares, weights) share one :class:`GemsComponents`, fitted once per
training set, so an evaluation of ten variants fits ALS once.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np

from gems.config import CFParams, NeighbourParams
from gems.evaluate.data import TrainData, pad_invalid
from gems.rank import Queries, RankingInputs, RankOptions, rank


class GemsComponents:
    """ALS factors and item neighbours of one training set (fitted on first use, then shared)."""

    def __init__(self, cf: CFParams | None = None, neighbours: NeighbourParams | None = None):
        self.cf = cf or CFParams()
        self.neighbours = neighbours or NeighbourParams()
        self._train: TrainData | None = None

    def params(self) -> dict:
        return {"cf": asdict(self.cf), "neighbours": asdict(self.neighbours)}

    def inputs(self, train: TrainData) -> RankingInputs:
        if self._train is not train:
            from gems.cf import ALSModel
            from gems.neighbours import ItemNeighbours

            als = ALSModel(**asdict(self.cf)).fit(train.user_items)
            neighbours = ItemNeighbours(k=self.neighbours.k).fit(train.user_items)
            arrays = neighbours.to_arrays()
            audio_position = audio_vectors = None
            if train.audio is not None:
                rows, audio_vectors = train.audio
                audio_position = np.full(train.n_items, -1, dtype=np.int64)
                audio_position[rows] = np.arange(len(rows))
            self._inputs = RankingInputs(
                listeners=train.listeners,
                is_tail=train.is_tail,
                is_theme=np.zeros(train.n_items, dtype=bool),
                soundtrack_codes=(
                    train.album_codes if train.album_codes is not None else np.full(train.n_items, -1, dtype=np.int64)
                ),
                artist_codes=train.artist_codes,
                is_soundtrack=train.is_soundtrack,
                item_factors=als.item_factors_,
                user_factors=als.user_factors_,
                neighbours=(arrays["indptr"], arrays["indices"], arrays["data"]),
                audio_position=audio_position,
                audio_vectors=audio_vectors,
            )
            self._train = train
        return self._inputs


class GemsRanker:
    """A :class:`~gems.evaluate.data.Recommender` running gems' ranking with the given options."""

    def __init__(self, components: GemsComponents, options: RankOptions, *, name: str = "gems", block: int = 256):
        self.components = components
        self.options = options
        self.name = name
        self.block = block

    def params(self) -> dict:
        return {**self.components.params(), "rank": asdict(self.options)}

    def fit(self, train: TrainData) -> GemsRanker:
        self.inputs_ = self.components.inputs(train)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = np.asarray(users, dtype=np.int64)
        options = replace(self.options, k=k)
        items, scores = [], []
        for start in range(0, len(users), self.block):
            block = users[start : start + self.block]
            matrix = self.train_.user_items
            histories = [matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]].astype(np.int64) for u in block]
            ranked = rank(self.inputs_, Queries.of(histories, block), options)
            items.append(ranked.items)
            scores.append(ranked.scores)
        if not items:
            return pad_invalid(np.zeros((0, k)), np.zeros((0, k)), k)
        return np.vstack(items), np.vstack(scores)
