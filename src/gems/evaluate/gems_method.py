"""gems as an evaluation method: the model ``gems build`` makes from a split's training listens, ranked by the
very function ``gems export`` runs (:func:`gems.serve.export.rank_users`) — so the offline figures are those of
what a user exports, soundtrack caps, themes and the learned stage included.

The model is built once per split, into a folder of the evaluation's own, and shared by every variant
(discount strengths, ablations); its learned stage never trains on the users the split holds out.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from gems.config import BuildConfig, ListensSource
from gems.evaluate.data import TrainData, pad_invalid
from gems.evaluate.splits import Split
from gems.rank import RankOptions


class GemsModel:
    """The model of one split, built on first use with the evaluation's pipeline settings from its training
    listens and the catalogue the sources describe (``tracks``: the ingested catalogue — titles, artists,
    albums and audio paths), restricted to the tracks with training listens: a track only the held-out part
    names could never be a hit (the truth leaves out tracks absent from training)."""

    def __init__(
        self, config: BuildConfig, split: Split, tracks, folder: str | Path | None = None, show_progress: bool = False
    ):
        self.config = config
        self.split = split
        self.tracks = tracks
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="gems-evaluate-"))
        self.show_progress = show_progress
        self._model = None

    def params(self) -> dict:
        return {
            "cf": asdict(self.config.cf),
            "neighbours": asdict(self.config.neighbours),
            "ranker": asdict(self.config.ranker),
        }

    @property
    def model(self):
        """The built :class:`gems.model.Model` (built on first use)."""
        if self._model is None:
            from gems.model import Model
            from gems.stages import build_model

            self.folder.mkdir(parents=True, exist_ok=True)
            listens, catalog = self.folder / "train.parquet", self.folder / "catalog.parquet"
            self.split.train_listens.to_parquet(listens, index=False)
            known = self.tracks[self.tracks["track_id"].isin(set(self.split.train.item_ids))]
            known.drop(columns=["is_soundtrack", "soundtrack_reason"], errors="ignore").to_parquet(catalog, index=False)
            train = self.split.train
            held = np.concatenate([self.split.validation_users, self.split.test_users]).astype(np.int64)
            config = replace(
                self.config,
                model=self.folder / "model",
                catalog=catalog,
                audio=(),  # the catalogue holds the audio folders' files and their paths
                listens=(ListensSource(listens, "table"),),
            )
            result = build_model(
                config, show_progress=self.show_progress, exclude_users=set(train.user_ids[held].tolist())
            )
            self._model = Model(result.path)
        return self._model

    def maps(self, train: TrainData) -> tuple[np.ndarray, np.ndarray]:
        """(model listener row of each training user row, training item row of each model track row (−1: not
        in training))."""
        model = self.model
        users = np.asarray([model.user_ids.get(u, -1) for u in train.user_ids], dtype=np.int64)
        items = train.item_rows(np.asarray(list(model.track_ids), dtype=object))
        return users, items

    def audio(self, train: TrainData) -> tuple[np.ndarray, np.ndarray] | None:
        """(training item rows, unit audio vectors) of the model's audio space, for the AudioOnly baseline."""
        space = self.model.spaces.get("audio") if self.model.manifest.get("spaces") else None
        if space is None:
            return None
        items = self.maps(train)[1][space.rows]
        keep = items >= 0
        return items[keep], np.asarray(space.vectors)[keep]


class GemsRanker:
    """A :class:`~gems.evaluate.data.Recommender` running gems' export ranking with the given options."""

    def __init__(self, model: GemsModel, options: RankOptions, *, name: str = "gems", block: int = 512):
        self.gems = model
        self.options = options
        self.name = name
        self.block = block

    def params(self) -> dict:
        return {**self.gems.params(), "rank": self.options.to_section()}

    def fit(self, train: TrainData) -> GemsRanker:
        self.users_, self.items_ = self.gems.maps(train)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        from gems.serve.export import rank_users

        users = np.asarray(users, dtype=np.int64)
        options = replace(self.options, k=k)
        items = np.full((len(users), k), -1, dtype=np.int64)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        for start in range(0, len(users), self.block):
            rows = self.users_[users[start : start + self.block]]
            got, values = rank_users(self.gems.model, rows, options)
            mapped = np.where(got >= 0, self.items_[np.maximum(got, 0)], -1)
            items[start : start + len(rows)] = mapped
            scores[start : start + len(rows)] = np.where(mapped >= 0, values, -np.inf)
        return pad_invalid(items, scores, k)
