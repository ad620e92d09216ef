"""A built model, opened for serving, export and evaluation. Imports only numpy, pyarrow and faiss, so
``gems recommend`` starts fast; arrays are memory-mapped and loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from gems.artifacts import layout
from gems.artifacts.integrity import damaged
from gems.artifacts.reading import ModelFolder, arrow_to_numpy
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
        relpath = layout.space_index(self.name)
        index = self.folder.index(relpath)
        if index.ntotal != len(self.rows) or index.d != self.vectors.shape[1]:
            raise damaged(
                self.folder.path / relpath,
                f"{index.ntotal:,} vectors of {index.d} dimensions, not "
                f"the space's {len(self.rows):,} of {self.vectors.shape[1]}",
            )
        return index

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


@dataclass(frozen=True)
class TrackTags:
    """``position`` (n_tracks,): each track's row in ``probs``, −1 without analysed audio; ``probs`` (m × W)
    float32 tag probabilities; ``words`` (W,) the column names (the MTT vocabulary)."""

    position: np.ndarray
    probs: np.ndarray
    words: tuple[str, ...]

    def of(self, row: int) -> list[tuple[str, float]]:
        """A track's (word, probability) pairs, most probable first (ties in vocabulary order); [] without audio."""
        at = int(self.position[row])
        if at < 0:
            return []
        values = np.asarray(self.probs[at], dtype=np.float64)
        return [(self.words[j], float(values[j])) for j in np.argsort(-values, kind="stable")]


class Model:
    """Read view of a model folder built by ``gems build``."""

    def __init__(self, path: str | Path):
        self.folder = ModelFolder(path)
        self.path = self.folder.path
        self.manifest = self.folder.manifest
        popularity = self.folder.table(layout.POPULARITY, ["listeners", "popularity_percentile", "is_tail", "is_theme"])
        self.listeners = arrow_to_numpy(popularity.column("listeners"))
        self.percentile = arrow_to_numpy(popularity.column("popularity_percentile"))
        self.is_tail = arrow_to_numpy(popularity.column("is_tail"))
        self.is_theme = arrow_to_numpy(popularity.column("is_theme"))
        self.n_tracks = len(self.listeners)
        self.simulated = bool(self.manifest.get("listens_simulated", False))

    @cached_property
    def rank_defaults(self):
        """The :class:`~gems.rank.RankOptions` this model ranks with unless told otherwise."""
        from gems.rank import RankOptions

        return RankOptions.from_section(self.manifest.get("rank_defaults", {}), f"{self.path}: rank_defaults")

    @property
    def has_listens(self) -> bool:
        """Whether the model was built with listening data (an audio-only model has none)."""
        return self.folder.has(layout.USERS)

    @cached_property
    def listener_noun(self) -> str:
        """What a listener of this model is: "playlist" when every listens source is MPD playlists."""
        reports = self.folder.json(layout.INGEST_REPORT) if self.folder.has(layout.INGEST_REPORT) else []
        formats = {r.get("format") for r in reports if r.get("format") not in (None, "catalog", "audio folder")}
        return "playlist" if formats == {"mpd"} else "listener"

    # ------------------------------------------------------------------ tracks, read when first asked for

    @cached_property
    def _display(self):
        return self.folder.arrow(layout.DISPLAY)

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
        for name in self.manifest["spaces"]:
            vectors = self.folder.array(layout.space_vectors(name))
            rows, position = self._positions(layout.space_rows(name), len(vectors))
            spaces[name] = Space(name, rows, vectors, position, self.folder)
        if not spaces:
            raise ModelError(f"{self.path} has no audio embeddings and no listening data to compare tracks by")
        return spaces

    @cached_property
    def audio_standardized(self) -> tuple[np.ndarray, np.ndarray, dict[str, slice]] | None:
        """(position by track row, group-weighted standardised features, feature groups), or None."""
        if not self.folder.has(layout.AUDIO_STANDARDIZED):
            return None
        groups = {name: slice(*bounds) for name, bounds in self.folder.json(layout.AUDIO_GROUPS).items()}
        return self._audio_position, self.folder.array(layout.AUDIO_STANDARDIZED), groups

    @cached_property
    def _audio_position(self) -> np.ndarray:
        """Row of each track in the audio feature arrays, −1 without analysed audio."""
        return self._positions(layout.AUDIO_ROWS)[1]

    def _positions(self, relpath: str, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A track-rows array and its inverse: the position of each track in it, −1 for tracks it lacks. A row
        outside the catalogue, twice, or a length other than its vectors' is damage."""
        rows = self.folder.array(relpath, mmap=False)
        position = np.full(self.n_tracks, -1, dtype=np.int64)
        valid = rows.ndim == 1 and rows.dtype.kind in "iu" and (length is None or len(rows) == length)
        if valid and len(rows):
            valid = 0 <= rows.min() and rows.max() < self.n_tracks
        if valid:
            position[rows] = np.arange(len(rows))
            valid = int((position >= 0).sum()) == len(rows)
        if not valid:
            raise damaged(self.folder.path / relpath, f"not {length or 'the'} distinct rows of the catalogue's tracks")
        return rows, position

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
        """The :class:`~gems.rank.RankingInputs` of this model (arrays memory-mapped), for a few queries."""
        from gems.rank import RankingInputs

        folder = self.folder
        parts = {}
        if "is_soundtrack" in folder.columns(layout.TRACKS):
            parts["is_soundtrack"] = arrow_to_numpy(folder.table(layout.TRACKS, ["is_soundtrack"]).column(0))
        if folder.has(layout.ITEM_FACTORS):
            item_factors = folder.array(layout.ITEM_FACTORS)
            parts["item_factors"] = item_factors
            parts["user_factors"] = folder.array(layout.USER_FACTORS)
            parts["fold"] = self._fold_in(item_factors)
            parts["norm_order"] = (folder.array(layout.NORM_ORDER), folder.array(layout.NORM_SORTED))
        if folder.has(layout.NEIGHBOURS[0]):
            parts["neighbours"] = tuple(folder.array(relpath) for relpath in layout.NEIGHBOURS)
        if "audio" in self.spaces:
            audio = self.spaces["audio"]
            parts.update(audio_position=audio.position, audio_vectors=audio.vectors, audio_space=audio)
        if self.tags is not None:
            parts.update(tag_position=self.tags.position, tag_probs=self.tags.probs)
        if folder.has(layout.RANKER_MODEL):
            from gems.rank.learned import LearnedRanker

            parts["ranker"] = LearnedRanker.load(folder)
        return RankingInputs(
            listeners=self.listeners,
            is_tail=self.is_tail,
            is_theme=self.is_theme,
            soundtrack_codes=folder.array(layout.codes("soundtrack")),
            artist_codes=folder.array(layout.codes("artist")),
            **parts,
        )

    @cached_property
    def batch_inputs(self):
        """The ranking inputs prepared for blocks of many queries (export, evaluation)."""
        return self.inputs.for_batch()

    def _fold_in(self, item_factors):
        from gems.cf import FoldIn, Weighting

        stored = self.folder.json(layout.WEIGHTING)
        idf = self.folder.array(layout.IDF) if self.folder.has(layout.IDF) else None
        weighting = Weighting(stored["scheme"], float(stored["alpha"]), idf, float(stored["average_length"]))
        cf = self.manifest["config"].get("cf")
        regularization = cf.get("regularization") if isinstance(cf, dict) else None
        if isinstance(regularization, bool) or not isinstance(regularization, int | float):
            raise damaged(self.folder.path / layout.MANIFEST, "its [cf] regularization is not a number")
        return FoldIn(item_factors, self.folder.array(layout.GRAM), regularization, weighting)

    @cached_property
    def tags(self) -> TrackTags | None:
        """The words each track with analysed audio sounds like (:class:`TrackTags`), or None for a model without
        audio. ``probs`` row ``position[track]`` holds the track's 50 MTT tag probabilities: MTT_musicnn's sigmoid
        outputs averaged over the track's 3-s patches (gems.audio.musicnn.describe), columns named by ``words``."""
        if not self.folder.has(layout.AUDIO_TAGS):
            return None
        words = tuple(self.folder.json(layout.AUDIO_TAG_WORDS))
        probs = self.folder.array(layout.AUDIO_TAGS)
        rows = int((self._audio_position >= 0).sum())
        if probs.ndim != 2 or probs.shape != (rows, len(words)) or not all(isinstance(w, str) for w in words):
            raise damaged(self.folder.path / layout.AUDIO_TAGS, f"not {rows:,} rows of {len(words)} word probabilities")
        return TrackTags(self._audio_position, probs, words)

    @cached_property
    def audio_features(self) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
        """(position by track row, raw features (m × D), feature names), or None without audio."""
        if not self.folder.has(layout.AUDIO_FEATURES):
            return None
        names = self.folder.json(layout.AUDIO_FEATURE_NAMES)
        return self._audio_position, self.folder.array(layout.AUDIO_FEATURES), names

    # ------------------------------------------------------------------ listeners

    @cached_property
    def user_ids(self) -> dict[str, int]:
        if not self.has_listens:
            return {}
        return {u: i for i, u in enumerate(self.folder.table(layout.USERS).column("user_id").to_pylist())}

    @cached_property
    def interactions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.folder.array(relpath) for relpath in layout.INTERACTIONS)

    @cached_property
    def sorted_user_ids(self) -> TrackColumn | list:
        """The listeners' ids in row order, which is sorted (the interactions stage sorts them); read once."""
        return TrackColumn(self.folder.table(layout.USERS).column("user_id")) if self.has_listens else []

    def user_row(self, user_id: str) -> int:
        """The row of one listener, by binary search over :attr:`sorted_user_ids`, reading ~17 ids rather than
        building ``user_ids``."""
        from gems.lookup import equal_range

        users = self.sorted_user_ids
        found = equal_range(range(len(users)), users.__getitem__, user_id)
        if not found:
            example = f" (ids look like '{users[0]}')" if len(users) else " (this model was built without listens)"
            raise ParameterError(f"unknown user '{user_id}': not among the model's {len(users):,} listeners{example}")
        return found.start

    def history(self, user_row: int) -> tuple[np.ndarray, np.ndarray]:
        """(track rows, summed weights) a user listened to."""
        from gems.rank.inputs import listened

        return listened(self.interactions, user_row)

    # ------------------------------------------------------------------ describing tracks

    def label(self, row: int, *, artist: bool = True) -> str:
        """“Title” by Artist (Soundtrack), each part where the catalogue knows it (the artist left out when
        the sentence names it already)."""
        name, soundtrack = self.artists[row] if artist else None, self.soundtracks[row]
        return f"“{self.titles[row]}”" + (f" by {name}" if name else "") + (f" ({soundtrack})" if soundtrack else "")

    @cached_property
    def lookup(self):
        from gems.lookup import TrackLookup

        return TrackLookup(
            lambda name: getattr(self, name).array,
            self.folder.array(layout.ID_ORDER),
            self.folder.array(layout.TITLE_ORDER),
            self.listeners,
            self.durations,
        )
