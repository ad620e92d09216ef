"""What every recommender under evaluation sees: the training matrix, its ids, popularity and the head/tail split.

``TrainData`` is built once per split from the training listens (``train_data``); every method is fitted on it
and asked for item *rows* of it. Popularity (``listeners``) and the head/tail split (``is_tail``, the Elliot
convention of :func:`gems.popularity.tail_mask`) are always taken from the training listens only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gems.cf import interaction_matrix
from gems.errors import DataError
from gems.popularity import tail_mask


@dataclass
class TrainData:
    """The training interactions of one split.

    user_items:    (n_users × n_items) float32 CSR of summed listen weights, training interactions only
    user_ids:      (n_users,) str, sorted
    item_ids:      (n_items,) str, sorted; only items with at least one training listen
    listeners:     (n_items,) int64, distinct training users per item
    is_tail:       (n_items,) bool, ``gems.popularity.tail_mask(listeners)``
    is_soundtrack: (n_items,) bool from the catalogue when known, else None
    audio:         (item rows (m,), unit audio vectors (m × d) float32) for the items with audio, else None
    artist_codes, album_codes: (n_items,) int64 artist and album/soundtrack of each item (−1 unknown), or None
    """

    user_items: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    listeners: np.ndarray
    is_tail: np.ndarray
    is_soundtrack: np.ndarray | None = None
    audio: tuple[np.ndarray, np.ndarray] | None = None
    artist_codes: np.ndarray | None = None
    album_codes: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return self.user_items.shape[0]

    @property
    def n_items(self) -> int:
        return self.user_items.shape[1]

    def user_rows(self, user_ids) -> np.ndarray:
        """Rows of the given user ids (−1 for ids not in training)."""
        return _lookup(self.user_ids, np.asarray(user_ids, dtype=object).astype(str))

    def item_rows(self, item_ids) -> np.ndarray:
        """Rows of the given track ids (−1 for ids not in training)."""
        return _lookup(self.item_ids, np.asarray(item_ids, dtype=object).astype(str))


@runtime_checkable
class Recommender(Protocol):
    """What the runner needs of a method: a name, ``fit`` on TrainData, batched top-k by user row."""

    name: str

    def fit(self, train: TrainData) -> Recommender: ...

    def recommend(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """users: row indices into train.user_items. Returns (items, scores), each (len(users) × k),
        item row indices best first, −1 / −inf padding; a user's training items are never returned."""
        ...


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.clip(pos, 0, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    """DataError naming the table and the missing column(s) when ``frame`` lacks any of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what}: expected a table (DataFrame), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what} lacks column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns)) or 'none'}. "
            f"Give a table with columns {', '.join(columns)}"
        )


def train_data(
    listens: pd.DataFrame,
    items: pd.DataFrame | None = None,
    audio: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainData:
    """TrainData from canonical training listens (``user_id``, ``track_id``, optional ``weight``).

    items: optional catalogue with ``track_id`` and ``is_soundtrack`` (tracks missing from it count as
    not soundtrack), and optionally ``artist`` and ``soundtrack`` (album) for gems' kin evidence. audio: optional ``(track_ids (m,), vectors (m × d))``; tracks not in training are
    dropped and vectors are scaled to unit length (zero vectors are dropped).
    """
    require_columns(listens, ("user_id", "track_id"), "training listens")
    if len(listens) == 0:
        raise DataError("the training listens are empty; a split needs at least one training listen")
    users = listens["user_id"].astype(str).to_numpy()
    tracks = listens["track_id"].astype(str).to_numpy()
    if "weight" in listens:
        weights = pd.to_numeric(listens["weight"], errors="coerce").fillna(1.0).to_numpy(np.float32)
    else:
        weights = np.ones(len(listens), dtype=np.float32)
    if (weights <= 0).any():
        raise DataError(
            f"training listens have {(weights <= 0).sum()} non-positive weight(s) (e.g. track "
            f"{tracks[np.argmax(weights <= 0)]}); weights must be > 0 (plays, 1 when unknown)"
        )
    user_ids, user_idx = np.unique(users, return_inverse=True)
    item_ids, item_idx = np.unique(tracks, return_inverse=True)
    matrix = interaction_matrix(user_idx, item_idx, weights, (len(user_ids), len(item_ids)))
    listeners = np.bincount(matrix.indices, minlength=len(item_ids)).astype(np.int64)
    is_soundtrack = artist_codes = album_codes = None
    if items is not None:
        require_columns(items, ("track_id", "is_soundtrack"), "catalogue")
        catalogue = items.drop_duplicates("track_id").set_index(
            items.drop_duplicates("track_id")["track_id"].astype(str)
        )
        catalogue = catalogue.reindex(item_ids)
        is_soundtrack = catalogue["is_soundtrack"].fillna(False).astype(bool).to_numpy()
        if "artist" in catalogue:
            artist_codes = pd.factorize(catalogue["artist"], use_na_sentinel=True)[0].astype(np.int64)
        if "soundtrack" in catalogue:
            album_codes = pd.factorize(catalogue["soundtrack"], use_na_sentinel=True)[0].astype(np.int64)
    audio_rows = None
    if audio is not None:
        audio_rows = _audio_rows(item_ids, audio)
    return TrainData(
        user_items=matrix,
        user_ids=user_ids.astype(str),
        item_ids=item_ids.astype(str),
        listeners=listeners,
        is_tail=tail_mask(listeners),
        is_soundtrack=is_soundtrack,
        audio=audio_rows,
        artist_codes=artist_codes,
        album_codes=album_codes,
    )


def _audio_rows(item_ids: np.ndarray, audio) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        track_ids, vectors = audio
    except (TypeError, ValueError):
        raise DataError("audio must be a pair (track_ids, vectors); got " + type(audio).__name__) from None
    track_ids = np.asarray(track_ids).astype(str)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(track_ids):
        raise DataError(
            f"audio vectors must be (n_tracks × d) with one row per track id; got shape {vectors.shape} "
            f"for {len(track_ids)} track ids"
        )
    rows = _lookup(item_ids, track_ids)
    norms = np.linalg.norm(vectors, axis=1)
    keep = (rows >= 0) & (norms > 0)
    rows, vectors, norms = rows[keep], vectors[keep], norms[keep]
    rows, first = np.unique(rows, return_index=True)
    if len(rows) == 0:
        return None
    return rows.astype(np.int64), np.ascontiguousarray(vectors[first] / norms[first, None], dtype=np.float32)


def best_columns(
    scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None, *, copy: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of ``scores`` (n × n_items), best first (ties: lower column first
    among the selected). Returns (items (n × k) int64, scores (n × k) float32).

    ``exclude``: a CSR matrix (n × n_items) whose stored entries are set to −inf first (a user's training
    items). Non-finite scores are never returned: their slots are padded with item −1 and score −inf.
    ``copy=False`` lets the function overwrite a float32 ``scores`` in place (saves memory on big blocks).
    """
    scores = np.array(scores, dtype=np.float32, copy=copy)
    n, m = scores.shape
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(n), np.diff(exclude.indptr))
        scores[rows, exclude.indices] = -np.inf
    scores[~np.isfinite(scores)] = -np.inf
    kk = min(k, m)
    if kk == 0:
        return np.full((n, k), -1, dtype=np.int64), np.full((n, k), -np.inf, dtype=np.float32)
    if kk < m:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(m), (n, m))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    best = np.take_along_axis(part_scores, order, axis=1)
    return pad_invalid(items, best, k)


def pad_invalid(items: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Items scored −inf (or implicit's filtered −FLT_MAX) become −1 / −inf; the arrays are cut or widened to
    ``k`` columns, padding with −1 / −inf."""
    items = np.asarray(items, dtype=np.int64).copy()
    scores = np.asarray(scores, dtype=np.float32).copy()
    invalid = ~np.isfinite(scores) | (scores <= -np.finfo(np.float32).max) | (items < 0)
    items[invalid] = -1
    scores[invalid] = -np.inf
    if items.shape[1] < k:
        pad = k - items.shape[1]
        items = np.hstack([items, np.full((len(items), pad), -1, dtype=np.int64)])
        scores = np.hstack([scores, np.full((len(scores), pad), -np.inf, dtype=np.float32)])
    return items[:, :k], scores[:, :k]


def block_size(n_items: int, *, budget: int = 1 << 24, cap: int = 4096) -> int:
    """Users per block so that a dense (block × n_items) float32 score matrix stays near ``budget`` cells
    (64 MB by default)."""
    return int(max(1, min(cap, budget // max(1, n_items))))
