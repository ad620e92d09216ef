"""The learned second stage: LightGBM LambdaRank over each candidate's evidence and popularity.

Training (``gems build``, :func:`choose_holdout` and :func:`fit_ranker`): a seeded sample of the model's own
listeners (never those an evaluation holds out) each keep a random share of their tracks and hold the rest
back; the components the ranker learns from — ALS, item neighbours, popularity — are fitted without the
held-back tracks; every sampled listener's candidates come from the first stage (:func:`gems.rank.retrieve`),
and a candidate's label is 2 when it is a held-back long-tail track, 1 a held-back head track, 0 otherwise.
LambdaRank optimises NDCG with gains 0, 1 and ``tail_gain`` for those labels, so the trade-off between
accuracy and reaching into the tail is learned from the data under a stated price, not hand-set per feature.

The ranker re-orders a shortlist (:func:`shortlist`): each query's best ``2k`` (at least 100) candidates by
the blend, and its best ``k`` long-tail candidates by the tail blend — in training and in serving alike.

Serving (:class:`LearnedRanker`): the model's ``ranker/model.txt`` is LightGBM's own text format (nothing
unpickled), scored through LightGBM's C library (``lib_lightgbm``) with ctypes — the Python package imports
scikit-learn (1.6 s), too slow for ``gems recommend``. Relevance is the ranker's score scaled per query to
[SIGNED_FLOOR, 1] on the shortlist, and SIGNED_FLOOR × the blend below it (so lists can still fill); the
popularity discount, reserved tail places and caps then apply as to the blend. ``why`` names the kinds whose
features gave the pick's score its largest positive SHAP contributions.

Features (:data:`FEATURES`, per candidate j of query q; NaN where j cannot take a kind):
cf/near/audio raw and scaled per query and their rank among q's candidates, the kin shares by artist and by
album, ‖v_j‖ (ALS factor norm), log(1 + L_j), whether j is long-tail, log(1 + L_j) − the mean over q's tracks,
and of q itself: log(1 + |q|), its long-tail share and mean log(1 + L).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import ClassVar

import numpy as np

from gems.errors import ModelError
from gems.params import BOOLEAN, Interval, Params
from gems.rank.inputs import Queries, RankingInputs
from gems.rank.retrieve import Candidates
from gems.rank.score import SIGNED_FLOOR, segment
from gems.rank.select import ranked, within

FEATURES = (
    ("cf", "cf"),
    ("cf_scaled", "cf"),
    ("cf_rank", "cf"),
    ("factor_norm", "cf"),
    ("near", "near"),
    ("near_scaled", "near"),
    ("near_rank", "near"),
    ("audio", "audio"),
    ("audio_scaled", "audio"),
    ("audio_rank", "audio"),
    ("kin_artist", "kin"),
    ("kin_album", "kin"),
    ("listeners", "popularity"),
    ("is_tail", "popularity"),
    ("popularity_gap", "popularity"),
    ("history_size", "query"),
    ("history_tail_share", "query"),
    ("history_popularity", "query"),
)
NAMES = tuple(name for name, _ in FEATURES)


@dataclass(frozen=True)
class RankerParams(Params):
    """The ``[ranker]`` section: whether and how ``gems build`` trains the learned second stage.

    enabled · min_queries: training listeners with a held-back track among their candidates needed, else the
    blend ranks · max_queries: listeners sampled at most · pair_budget: at most this share of all (listener,
    track) pairs held back · min_tracks: tracks a listener needs to be sampled · keep: range of the share of
    a sampled listener's tracks kept (drawn uniformly, so histories of every length are learned from) ·
    tail_gain: NDCG gain of a held-back long-tail track (a head one gains 1) · trees, leaves, learning_rate,
    min_data_in_leaf: LightGBM's · random_state.
    """

    enabled: bool = True
    min_queries: int = 200
    max_queries: int = 4000
    pair_budget: float = 0.3
    min_tracks: int = 5
    keep_low: float = 0.1
    keep_high: float = 0.9
    tail_gain: float = 5.0
    trees: int = 100
    leaves: int = 31
    learning_rate: float = 0.05
    min_data_in_leaf: int = 100
    random_state: int = 0

    constraints: ClassVar = {
        "enabled": BOOLEAN,
        "min_queries": Interval(int, 1, 10**7),
        "max_queries": Interval(int, 1, 10**7),
        "pair_budget": Interval(float, 0.0, 0.5),
        "min_tracks": Interval(int, 2, 10**6),
        "keep_low": Interval(float, 0.01, 0.99),
        "keep_high": Interval(float, "keep_low", 0.99),
        "tail_gain": Interval(float, 1.0, 100.0),
        "trees": Interval(int, 1, 10_000),
        "leaves": Interval(int, 2, 4096),
        "learning_rate": Interval(float, 1e-4, 1.0),
        "min_data_in_leaf": Interval(int, 1, 10**7),
        "random_state": Interval(int, 0, 2**31 - 1),
    }


# --------------------------------------------------------------------------------------------- features


def _rank_within(query: np.ndarray, values: np.ndarray) -> np.ndarray:
    """0-based rank of each entry's value (descending) among its query's entries; NaN stays NaN."""
    present = ~np.isnan(values)
    order = ranked(query, np.where(present, values, -np.inf).astype(np.float64))
    out = np.empty(len(values), dtype=np.float32)
    out[order] = within(query[order], np.ones(len(order), dtype=bool))
    return np.where(present, out, np.nan).astype(np.float32)


def features(
    inputs: RankingInputs, queries: Queries, candidates: Candidates, parts: dict, entries: np.ndarray | None = None
) -> np.ndarray:
    """(len(entries) × len(FEATURES)) float32 features of the candidate ``entries`` (default: all; ranks are
    taken among all of a query's candidates), see the module docstring."""
    query, rows = candidates.query, candidates.rows
    entries = np.arange(len(rows)) if entries is None else np.flatnonzero(entries) if entries.dtype == bool else entries
    q, r = query[entries], rows[entries]
    nan = np.full(len(entries), np.nan, dtype=np.float32)
    log_listeners = np.log1p(np.asarray(inputs.listeners, dtype=np.float64))
    history_popularity = queries.means(log_listeners)
    history_tail = queries.means(inputs.is_tail)
    history_size = np.log1p([len(h) for h in queries.histories])
    columns: dict[str, np.ndarray] = {}
    for kind in ("cf", "near", "audio"):
        raw = candidates.evidence.get(kind)
        if raw is None:
            columns[kind] = columns[f"{kind}_scaled"] = columns[f"{kind}_rank"] = nan
            continue
        columns[kind] = raw[entries]
        columns[f"{kind}_scaled"] = np.where(np.isnan(raw[entries]), np.nan, parts[kind][entries])
        columns[f"{kind}_rank"] = _rank_within(query, raw)[entries]
    heard = inputs.heard[r]
    columns["factor_norm"] = np.where(heard, inputs.factor_norms[r], np.nan) if inputs.item_factors is not None else nan
    columns["kin_artist"] = candidates.evidence["kin_artist"][entries] if "kin_artist" in candidates.evidence else nan
    columns["kin_album"] = candidates.evidence["kin_album"][entries] if "kin_album" in candidates.evidence else nan
    columns["listeners"] = log_listeners[r]
    columns["is_tail"] = inputs.is_tail[r]
    columns["popularity_gap"] = log_listeners[r] - history_popularity[q]
    columns["history_size"] = history_size[q]
    columns["history_tail_share"] = history_tail[q]
    columns["history_popularity"] = history_popularity[q]
    return np.ascontiguousarray(np.stack([np.asarray(columns[name], dtype=np.float32) for name in NAMES], axis=1))


SHORTLIST = (100, 2)  # the ranker scores each query's best max(100, 2k) by the blend (and k long-tail ones)


def shortlist(candidates: Candidates, blended: np.ndarray, tail_blended: np.ndarray, tail: np.ndarray, k: int):
    """(nnz,) bool: each query's best max(100, 2k) entries by ``blended`` and its best k long-tail entries
    (``tail`` (nnz,) bool) by ``tail_blended`` — what the ranker scores."""
    query = candidates.query
    keep = np.zeros(len(query), dtype=bool)
    order = ranked(query, blended)
    least, per_k = SHORTLIST
    keep[order[within(query[order], np.ones(len(order), dtype=bool)) < max(least, per_k * k)]] = True
    tails = np.flatnonzero(tail)
    order = tails[ranked(query[tails], tail_blended[tails])]
    keep[order[within(query[order], np.ones(len(order), dtype=bool)) < k]] = True
    return keep


# --------------------------------------------------------------------------------------------- serving


def _library() -> ctypes.CDLL:
    """LightGBM's C library, from the installed package, without importing the package."""
    spec = find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("this model ranks with LightGBM, which is not installed; run: pip install lightgbm")
    for folder in spec.submodule_search_locations:
        for name in ("lib/lib_lightgbm.so", "lib/lib_lightgbm.dylib", "lib/lib_lightgbm.dll", "lib_lightgbm.so"):
            if (Path(folder) / name).exists():
                return ctypes.cdll.LoadLibrary(str(Path(folder) / name))
    raise ModelError("LightGBM's C library (lib_lightgbm) was not found in its package; reinstall lightgbm")


class LearnedRanker:
    """A trained LambdaRank model, scored through LightGBM's C API. ``info``: what it was trained on."""

    _lock = threading.Lock()  # one prediction at a time per process (the web server answers from threads)

    def __init__(self, text: str, info: dict):
        if list(info.get("features", [])) != list(NAMES):
            raise ModelError(
                "this model's ranker was trained on other features than this gems computes; rebuild the model"
            )
        self.info = info
        self._lib = _library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        self._call(
            self._lib.LGBM_BoosterLoadModelFromString(
                ctypes.c_char_p(text.encode()), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )

    @classmethod
    def load(cls, folder) -> LearnedRanker:
        from gems.artifacts import layout

        return cls(folder.text(layout.RANKER_MODEL), folder.json(layout.RANKER_INFO))

    def _call(self, code: int) -> None:
        if code != 0:
            self._lib.LGBM_GetLastError.restype = ctypes.c_char_p
            message = self._lib.LGBM_GetLastError().decode(errors="replace")
            raise ModelError(f"LightGBM could not use this model's ranker ({message}); rebuild the model")

    def __del__(self):
        if getattr(self, "_handle", None) and self._handle.value:
            self._lib.LGBM_BoosterFree(self._handle)

    def predict(self, matrix: np.ndarray, *, contributions: bool = False) -> np.ndarray:
        """Raw scores (n,) of a (n × F) float32 feature matrix, or with ``contributions`` the SHAP values
        (n × (F + 1), the last column the expected value)."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        n, width = matrix.shape
        out = np.zeros(n * (width + 1) if contributions else n, dtype=np.float64)
        if n == 0:
            return out.reshape(n, -1) if contributions else out
        length = ctypes.c_int64(0)
        with self._lock:
            self._call(
                self._lib.LGBM_BoosterPredictForMat(
                    self._handle,
                    matrix.ctypes.data_as(ctypes.c_void_p),
                    ctypes.c_int(0),  # C_API_DTYPE_FLOAT32
                    ctypes.c_int32(n),
                    ctypes.c_int32(width),
                    ctypes.c_int(1),  # row major
                    ctypes.c_int(3 if contributions else 0),  # C_API_PREDICT_CONTRIB / NORMAL
                    ctypes.c_int(0),
                    ctypes.c_int(-1),
                    ctypes.c_char_p(b"num_threads=1"),
                    ctypes.byref(length),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        return out.reshape(n, width + 1) if contributions else out

    def relevance(self, candidates: Candidates, matrix: np.ndarray, listed: np.ndarray, blended) -> np.ndarray:
        """(nnz,) relevance: the ranker's scores of the ``listed`` entries (``matrix``: their features, in entry
        order) scaled per query to [SIGNED_FLOOR, 1]; SIGNED_FLOOR × ``blended`` for the others."""
        raw = np.full(len(listed), np.nan, dtype=np.float32)
        raw[listed] = self.predict(matrix)
        top = segment(np.maximum, np.where(listed, raw, -np.inf).astype(np.float32), candidates.indptr, -np.inf)
        low = segment(np.minimum, np.where(listed, raw, np.inf).astype(np.float32), candidates.indptr, np.inf)
        spread = top - low
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(spread > 0, SIGNED_FLOOR + (1 - SIGNED_FLOOR) * (raw - low) / spread, 1.0)
        return np.where(listed, scaled, SIGNED_FLOOR * blended).astype(np.float32)

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """Each evidence kind's summed SHAP contribution to one candidate's score."""
        values = self.predict(row[None, :], contributions=True)[0, :-1]
        out: dict[str, float] = {}
        for (_, kind), value in zip(FEATURES, values):
            if kind in ("cf", "near", "audio", "kin"):
                out[kind] = out.get(kind, 0.0) + float(value)
        return out
