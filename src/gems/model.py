"""A built model, opened for serving, export and evaluation. Imports only numpy, pyarrow and faiss, so
``gems recommend`` starts fast; arrays are memory-mapped and loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from gems.artifacts import ModelFolder, arrow_to_numpy
from gems.errors import ModelError, ParameterError

SPACE_PRIORITY = ("blend", "audio", "cf")  # the space used for a pair of tracks that are both in several


@dataclass
class Space:
    """One vector space: ``vectors[i]`` (unit rows) belongs to track row ``rows[i]``; ``position[row]`` is the
    inverse map (−1 for tracks not in this space). Its faiss index is read on first use."""

    name: str
    rows: np.ndarray
    vectors: np.ndarray
    position: np.ndarray
    folder: ModelFolder

    @cached_property
    def index(self):
        return self.folder.index(f"index/{self.name}.faiss")

    def has(self, rows: np.ndarray) -> np.ndarray:
        return self.position[rows] >= 0


class TrackColumn:
    """A catalogue (or listener) column as a read-only sequence: one value is read from Arrow when asked for (a query on a
    million-track model labels ten picks, it does not convert a million titles); iterating converts it whole."""

    def __init__(self, array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, row: int):
        return self.array[int(row)].as_py()

    @cached_property
    def _values(self) -> list:
        return self.array.to_pylist()

    def __iter__(self):
        return iter(self._values)


class Model:
    """Read view of a model folder built by ``gems build``."""

    def __init__(self, path: str | Path):
        self.folder = ModelFolder(path)
        self.path = self.folder.path
        self.manifest = self.folder.manifest
        popularity = self.folder.table(
            "popularity.parquet", ["listeners", "popularity_percentile", "is_tail", "is_theme"]
        )
        self.listeners = arrow_to_numpy(popularity.column("listeners"))
        self.percentile = arrow_to_numpy(popularity.column("popularity_percentile"))
        self.is_tail = arrow_to_numpy(popularity.column("is_tail"))
        self.is_theme = arrow_to_numpy(popularity.column("is_theme"))
        self.n_tracks = len(self.listeners)
        self.simulated = bool(self.manifest.get("listens_simulated", False))
        # the [dask] scheduler of the pipeline it was built with: where batch export runs by default
        self.scheduler = self.manifest.get("config", {}).get("dask", {}).get("scheduler") or None

    # ------------------------------------------------------------------ tracks, read when first asked for

    @cached_property
    def _display(self):
        return self.folder.arrow("catalogue/tracks.arrow")

    def _track_column(self, name: str) -> TrackColumn:
        return TrackColumn(self._display.column(name))  # chunked, memory-mapped: indexing reads one value

    @cached_property
    def track_ids(self) -> TrackColumn:
        return self._track_column("track_id")

    @cached_property
    def titles(self) -> TrackColumn:
        return self._track_column("title")

    @cached_property
    def artists(self) -> TrackColumn:
        return self._track_column("artist")

    @cached_property
    def soundtracks(self) -> TrackColumn:
        return self._track_column("soundtrack")

    @cached_property
    def paths(self) -> TrackColumn:
        return self._track_column("path")

    @cached_property
    def durations(self) -> np.ndarray:
        return arrow_to_numpy(self._display.column("duration_s"))

    # ------------------------------------------------------------------ vector spaces

    @cached_property
    def spaces(self) -> dict[str, Space]:
        spaces = {}
        for name in self.manifest.get("spaces", []):
            rows = self.folder.array(f"index/{name}_rows.npy", mmap=False)
            position = np.full(self.n_tracks, -1, dtype=np.int64)
            position[rows] = np.arange(len(rows))
            spaces[name] = Space(name, rows, self.folder.array(f"index/{name}_vectors.npy"), position, self.folder)
        if not spaces:
            raise ModelError(f"{self.path} has no audio embeddings and no listening data to compare tracks by")
        return spaces

    @cached_property
    def audio_standardized(self) -> tuple[np.ndarray, np.ndarray, dict[str, slice]] | None:
        """(position by track row, group-weighted standardised features, feature groups), or None."""
        if not self.folder.has("audio/standardized.npy"):
            return None
        rows = self.folder.array("audio/rows.npy", mmap=False)
        position = np.full(self.n_tracks, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        groups = {name: slice(*bounds) for name, bounds in self.folder.json("audio/groups.json").items()}
        return position, self.folder.array("audio/standardized.npy"), groups

    def similarity(self, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        """Cosine of every (a, b) pair of tracks in their best shared space (:data:`SPACE_PRIORITY`),
        shape (len(a) × len(b)); NaN where two tracks share no space."""
        sim = np.full((len(rows_a), len(rows_b)), np.nan)
        for name in SPACE_PRIORITY:
            space = self.spaces.get(name)
            if space is None:
                continue
            pa, pb = space.position[rows_a], space.position[rows_b]
            ia, ib = np.flatnonzero(pa >= 0), np.flatnonzero(pb >= 0)
            if len(ia) and len(ib):
                block = np.ix_(ia, ib)
                values = np.asarray(space.vectors[pa[ia]]) @ np.asarray(space.vectors[pb[ib]]).T
                sim[block] = np.where(np.isnan(sim[block]), values, sim[block])
        return sim

    @cached_property
    def inputs(self):
        """The :class:`~gems.rank.RankingInputs` of this model (arrays memory-mapped)."""
        from gems.rank import RankingInputs

        folder = self.folder
        inputs = RankingInputs(
            listeners=self.listeners,
            is_tail=self.is_tail,
            is_theme=self.is_theme,
            soundtrack_codes=folder.array("catalogue/soundtrack_codes.npy"),
            artist_codes=folder.array("catalogue/artist_codes.npy"),
        )
        for codes, name in ((inputs.soundtrack_codes, "soundtrack"), (inputs.artist_codes, "artist")):
            inputs.set_members(codes, folder.array(f"catalogue/{name}_order.npy"))
        if "is_soundtrack" in folder.columns("tracks.parquet"):
            inputs.is_soundtrack = arrow_to_numpy(folder.table("tracks.parquet", ["is_soundtrack"]).column(0))
        if folder.has("cf/item_factors.npy"):
            inputs.item_factors = folder.array("cf/item_factors.npy")
            inputs.user_factors = folder.array("cf/user_factors.npy")
        if folder.has("neighbours/indptr.npy"):
            inputs.neighbours = tuple(folder.array(f"neighbours/{name}.npy") for name in ("indptr", "indices", "data"))
        inputs.indexes = dict(self.spaces)
        if folder.has("index/audio_rows.npy"):
            rows = folder.array("index/audio_rows.npy", mmap=False)
            inputs.audio_position = np.full(self.n_tracks, -1, dtype=np.int64)
            inputs.audio_position[rows] = np.arange(len(rows))
            inputs.audio_vectors = folder.array("index/audio_vectors.npy")
        return inputs

    @cached_property
    def audio_features(self) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
        """(position by track row, raw features (m × D), feature names), or None without audio."""
        if not self.folder.has("audio/features.npy"):
            return None
        rows = self.folder.array("audio/rows.npy", mmap=False)
        position = np.full(self.n_tracks, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        return position, self.folder.array("audio/features.npy"), self.folder.json("audio/feature_names.json")

    # ------------------------------------------------------------------ listeners

    @cached_property
    def user_ids(self) -> dict[str, int]:
        if not self._has_users:
            return {}
        return {u: i for i, u in enumerate(self.folder.table("users.parquet").column("user_id").to_pylist())}

    @cached_property
    def interactions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.folder.array(f"interactions/{name}.npy") for name in ("indptr", "indices", "weights"))

    def user_row(self, user_id: str) -> int:
        """The row of one listener, by binary search (the interactions stage sorts the ids), reading ~17 ids
        rather than building ``user_ids``."""
        from gems.lookup import equal_range

        users = TrackColumn(self.folder.table("users.parquet").column("user_id")) if self._has_users else []
        found = equal_range(range(len(users)), users.__getitem__, user_id)
        if not found:
            example = f" (ids look like '{users[0]}')" if len(users) else " (this model was built without listens)"
            raise ParameterError(f"unknown user '{user_id}': not among the model's {len(users):,} listeners{example}")
        return found.start

    @property
    def _has_users(self) -> bool:
        return self.folder.has("users.parquet")

    def history(self, user_row: int) -> tuple[np.ndarray, np.ndarray]:
        """(track rows, summed weights) a user listened to."""
        indptr, indices, weights = self.interactions
        start, stop = indptr[user_row], indptr[user_row + 1]
        return np.asarray(indices[start:stop], dtype=np.int64), np.asarray(weights[start:stop], dtype=np.float64)

    # ------------------------------------------------------------------ describing tracks

    def label(self, row: int) -> str:
        soundtrack = self.soundtracks[row]
        return f"“{self.titles[row]}”" + (f" ({soundtrack})" if soundtrack else "")

    @cached_property
    def lookup(self):
        from gems.lookup import TrackLookup

        return TrackLookup(
            lambda name: getattr(self, name).array,
            self.folder.array("catalogue/id_order.npy"),
            self.folder.array("catalogue/title_order.npy"),
        )
