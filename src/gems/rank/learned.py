"""The learned second stage: a LightGBM model of how likely each candidate is a track the listener would add,
and the popularity discount applied to that probability.

Training (``gems build``, :mod:`gems.rank.training`): a seeded sample of the model's own listeners (never those
an evaluation holds out) each keep a random share of their tracks and hold the rest back; the components the
ranker learns from — ALS, item neighbours, popularity — are fitted without the held-back tracks; every
sampled listener's candidates come from the first stage (:func:`gems.rank.retrieve.candidates_for`), each
labelled 1 when it is a held-back track, and a binary LightGBM model learns P(held back | features) over all of
them (:mod:`gems.rank.features`).

Why a probability: popularity-stratified recall counts a found track j as max(L_j, 1)^−γ, so the list that
maximises its expectation holds the k candidates with the largest P_j · L_j^−γ. The model estimates P_j; the
discount (``score = P_j · (1 + L_j)^−discount``, :mod:`gems.rank.score`) sets γ: 0 ranks for accuracy (the
familiar end), about 1 for lesser-known finds. So the discount is applied to a relevance that means the same
in every query, and training and serving rank the same candidates with the same features.

Serving (:class:`LearnedRanker`): the model's ``ranker/model.txt`` is LightGBM's own text format (nothing
unpickled), scored through LightGBM's C library (``lib_lightgbm``) with ctypes — the Python package imports
scikit-learn (1.6 s), too slow for ``gems recommend``; batches (export, evaluation) walk the same trees
compiled by :mod:`gems.rank.forest`, to the bit the same probabilities at twice the speed. ``why`` names the
kinds whose features gave the pick's score its largest positive SHAP contributions.
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
from gems.rank.features import FEATURES, NAMES


@dataclass(frozen=True)
class RankerParams(Params):
    """The ``[ranker]`` section: whether and how ``gems build`` trains the learned second stage.

    enabled · min_queries: training listeners with a held-back track among their candidates needed, else the
    blend ranks · max_queries: listeners sampled at most · pair_budget: at most this share of all (listener,
    track) pairs held back · min_tracks: tracks a listener needs to be sampled · keep: range of the share of
    a sampled listener's tracks kept (drawn uniformly, so histories of every length are learned from) ·
    shared_fit: when the held-back tracks are at most this share of all listens, the served ALS and neighbours
    are fitted without them too and the learned stage reads those (one fit; :mod:`gems.stages.fitting`) ·
    trees (at most; early stopping on the validation listeners decides), leaves, learning_rate,
    min_data_in_leaf: LightGBM's · random_state. (15 leaves at rate 0.1 rather than 31 at 0.05: HetRec PSR@50
    over seeds 0-2 0.226 against 0.229, the same worst seed against the anchors (1.22×), and a prediction a
    third cheaper: 2.0 against 3.1 µs per candidate on the 200k-track fixture.)
    """

    enabled: bool = True
    min_queries: int = 200
    max_queries: int = 4000
    pair_budget: float = 0.3
    min_tracks: int = 5
    keep_low: float = 0.1
    keep_high: float = 0.9
    trees: int = 300
    leaves: int = 15
    learning_rate: float = 0.1
    min_data_in_leaf: int = 100
    random_state: int = 0
    shared_fit: float = 0.025

    constraints: ClassVar = {
        "enabled": BOOLEAN,
        "min_queries": Interval(int, 1, 10**7),
        "max_queries": Interval(int, 1, 10**7),
        "pair_budget": Interval(float, 0.0, 0.5),
        "min_tracks": Interval(int, 2, 10**6),
        "keep_low": Interval(float, 0.01, 0.99),
        "keep_high": Interval(float, "keep_low", 0.99),
        "trees": Interval(int, 1, 10_000),
        "leaves": Interval(int, 2, 4096),
        "learning_rate": Interval(float, 1e-4, 1.0),
        "min_data_in_leaf": Interval(int, 1, 10**7),
        "random_state": Interval(int, 0, 2**31 - 1),
        "shared_fit": Interval(float, 0.0, 0.5),
    }


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
    """A trained LightGBM model, scored through LightGBM's C API. ``info``: what it was trained on."""

    _lock = threading.Lock()  # one prediction at a time per process (the web server answers from threads)

    def __init__(self, text: str, info: dict, *, batch: bool = False):
        if list(info.get("features", [])) != list(NAMES):
            raise ModelError(
                "this model's ranker was trained on other features than this gems computes; rebuild the model"
            )
        self.info = info
        self._text = text
        self._forest = None
        if batch:  # parsed and compiled now: before export's workers fork, so each starts with the kernel
            from gems.rank.forest import Forest, walk_kernel

            self._forest = Forest.from_text(text)
            walk_kernel()
        self._lib = _library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        self._call(
            self._lib.LGBM_BoosterLoadModelFromString(
                ctypes.c_char_p(text.encode()), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )

    def for_batch(self) -> LearnedRanker:
        """This ranker for blocks of many candidates: its relevance through the compiled trees of
        :mod:`gems.rank.forest` (the same probabilities, twice as fast; numba's import and compilation once)."""
        return self if self._forest is not None else LearnedRanker(self._text, self.info, batch=True)

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

    def relevance(self, matrix: np.ndarray) -> np.ndarray:
        """(n,) float32 probability that each candidate (``matrix``: its features, n × F) is a track the listener
        would add — what the popularity discount multiplies. Prepared for a batch, through the compiled trees."""
        if self._forest is not None:
            return self._forest.probability(matrix).astype(np.float32)
        return self.predict(matrix).astype(np.float32)

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """Each evidence kind's summed SHAP contribution to one candidate's score."""
        values = self.predict(row[None, :], contributions=True)[0, :-1]
        out: dict[str, float] = {}
        for (_, kind), value in zip(FEATURES, values):
            if kind in ("cf", "near", "audio", "kin"):
                out[kind] = out.get(kind, 0.0) + float(value)
        return out
