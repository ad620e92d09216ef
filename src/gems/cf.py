"""Collaborative filtering: implicit's ALS on confidence-weighted listens, and fold-in of listeners it never saw.

Confidence of a (user, track) pair with summed weight ``w`` (plays), as implicit is given it:
    ``log``    c = alpha · log(1 + w)              (Hu, Koren & Volinsky 2008, log scaling)
    ``linear`` c = alpha · w
    ``bm25``   c = alpha · w (K1 + 1) / (K1 · ((1 − B) + B · |u| / avg|u|) + w) · idf_i
                                                   implicit's ``bm25_weight`` (K1=100, B=0.8): |u| the user's summed
                                                   weights, idf_i = log N − log(1 + users of i) over the fitted matrix
The weighting of the fitted matrix is kept (:class:`Weighting`), so a new listener's row is weighted the same.

Fold-in (:class:`FoldIn`, implicit's ``recalculate_user``): with the item factors Y fixed, a listener's factors
solve x = (YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ)⁻¹ Σ_i c_i y_i over the tracks i they heard — numpy only, so a
history that is not in the model is ranked without importing implicit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gems.errors import ModelError, ParameterError
from gems.params import Choice, Interval, Params

log = logging.getLogger(__name__)

CONFIDENCE_SCHEMES = ("log", "linear", "bm25")
BM25_K1, BM25_B = 100.0, 0.8


def interaction_matrix(user_idx: np.ndarray, item_idx: np.ndarray, weights: np.ndarray, shape: tuple[int, int]):
    """Sparse (users × items) float32 CSR matrix of summed weights; repeated events add up."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(
        (weights.astype(np.float32), (user_idx.astype(np.int64), item_idx.astype(np.int64))), shape=shape
    )
    matrix.sum_duplicates()
    return matrix


@dataclass(frozen=True)
class Weighting:
    """How summed listen weights become confidences (module docstring). ``idf`` (n_items,) and
    ``average_length`` are those of the fitted matrix (bm25 only)."""

    scheme: str
    alpha: float
    idf: np.ndarray | None = None
    average_length: float = 1.0

    @classmethod
    def fit(cls, user_items, *, scheme: str = "log", alpha: float = 1.0) -> Weighting:
        """The weighting of a (users × items) CSR matrix of summed weights."""
        if scheme not in CONFIDENCE_SCHEMES:
            raise ParameterError(f"unknown confidence scheme '{scheme}'; choose one of {', '.join(CONFIDENCE_SCHEMES)}")
        if scheme != "bm25":
            return cls(scheme, float(alpha))
        n_users, n_items = user_items.shape
        users_per_item = np.bincount(user_items.indices, minlength=n_items)
        idf = (np.log(max(n_users, 1)) - np.log1p(users_per_item)).astype(np.float64)
        lengths = np.asarray(user_items.sum(axis=1), dtype=np.float64).ravel()
        return cls(scheme, float(alpha), idf, float(lengths.mean()) if n_users else 1.0)

    def apply(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> np.ndarray:
        """Confidences of the stored values of CSR rows (indptr, indices, data), float32."""
        data = np.asarray(data, dtype=np.float64)
        if self.scheme == "log":
            out = np.log1p(data)
        elif self.scheme == "linear":
            out = data
        else:
            counts = np.diff(indptr)
            sums = np.zeros(len(counts))
            nonempty = counts > 0
            if data.size:
                sums[nonempty] = np.add.reduceat(data, np.asarray(indptr[:-1])[nonempty])
            length_norm = (1.0 - BM25_B) + BM25_B * sums / max(self.average_length, 1e-12)
            rows = np.repeat(np.arange(len(counts)), counts)
            out = data * (BM25_K1 + 1.0) / (BM25_K1 * length_norm[rows] + data) * self.idf[indices]
        return (self.alpha * out).astype(np.float32)

    def matrix(self, user_items):
        """The confidence matrix implicit fits on (same sparsity as ``user_items``)."""
        weighted = user_items.astype(np.float32, copy=True).tocsr()
        weighted.data = self.apply(weighted.indptr, weighted.indices, weighted.data)
        return weighted

    def to_json(self) -> dict:
        return {"scheme": self.scheme, "alpha": self.alpha, "average_length": self.average_length}


def confidence(user_items, *, scheme: str = "log", alpha: float = 1.0):
    """The confidence matrix implicit fits on (same sparsity as ``user_items``)."""
    return Weighting.fit(user_items, scheme=scheme, alpha=alpha).matrix(user_items)


@dataclass
class FoldIn:
    """Listener factors from their tracks with the item factors fixed (module docstring).

    item_factors (n × f), gram = YᵀY (f × f float64), regularization λ, weighting of the fitted matrix."""

    item_factors: np.ndarray
    gram: np.ndarray
    regularization: float
    weighting: Weighting

    def user_vectors(self, histories: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
        """(b × f) float32 factors of b listeners: ``histories[i]`` their track rows (unique), ``weights[i]``
        the summed listen weights of those tracks."""
        f = self.item_factors.shape[1]
        indptr = np.r_[0, np.cumsum([len(h) for h in histories])].astype(np.int64)
        indices = np.concatenate(histories).astype(np.int64) if histories else np.zeros(0, np.int64)
        data = np.concatenate(weights) if histories else np.zeros(0)
        confidences = self.weighting.apply(indptr, indices, data).astype(np.float64)
        base = self.gram + self.regularization * np.eye(f)
        out = np.zeros((len(histories), f), dtype=np.float32)
        live = [i for i in range(len(histories)) if indptr[i + 1] > indptr[i]]
        systems = np.empty((len(live), f, f))
        targets = np.empty((len(live), f))
        for j, i in enumerate(live):
            part = slice(indptr[i], indptr[i + 1])
            vectors = np.asarray(self.item_factors[indices[part]], dtype=np.float64)
            c = confidences[part]
            systems[j] = base + vectors.T @ (vectors * (c - 1.0)[:, None])
            targets[j] = vectors.T @ c
        if live:  # one batched solve: LAPACK's loop, not Python's
            out[live] = np.linalg.solve(systems, targets[:, :, None])[:, :, 0]
        return out


@dataclass(frozen=True)
class CFParams(Params):
    """The ``[cf]`` section: ALS's hyper-parameters, their defaults and ranges — the only ones (the build, the
    learned stage's refit and the ALS baseline of ``gems evaluate`` all read them from here).

    factors · regularization (λ) · iterations · alpha (confidence scale) · confidence: how listen weights become
    confidences (:class:`Weighting`) · random_state."""

    factors: int = 128
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 1.0
    confidence: str = "bm25"
    random_state: int = 0

    constraints: ClassVar = {
        "factors": Interval(int, 1, 4096),
        "regularization": Interval(float, 0.0, 1e6),
        "iterations": Interval(int, 1, 1000),
        "alpha": Interval(float, 1e-9, 1e6),
        "confidence": Choice(CONFIDENCE_SCHEMES),
        "random_state": Interval(int, 0, 2**32 - 1),
    }


class ALSModel:
    """Implicit-feedback ALS (implicit's CPU solver), estimator style: ``ALSModel(factors=64).fit(matrix)``.

    ``params``: the fields of :class:`CFParams` (its defaults and ranges). After :meth:`fit`: ``user_factors_``
    (n_users × factors) and ``item_factors_`` (n_items × factors), float32.
    """

    def __init__(self, *, show_progress: bool = False, **params):
        self.params = CFParams(**params)
        self.show_progress = show_progress

    def fit(self, user_items) -> ALSModel:
        """Fit on a (users × items) CSR matrix of summed listen weights. BLAS runs single-threaded for it."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        if user_items.nnz == 0:
            raise ParameterError("cannot fit ALS on an empty listens table")
        started = time.perf_counter()
        self.weighting_ = Weighting.fit(user_items, scheme=self.params.confidence, alpha=self.params.alpha)
        weighted = self.weighting_.matrix(user_items)
        with threadpool_limits(limits=1, user_api="blas"):  # implicit checks the BLAS threads when constructed
            model = AlternatingLeastSquares(
                factors=self.params.factors,
                regularization=self.params.regularization,
                iterations=self.params.iterations,
                alpha=1.0,
                random_state=self.params.random_state,
                calculate_training_loss=False,
            )
            model.fit(weighted, show_progress=self.show_progress)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        log.info(
            "ALS: %d users × %d items, %d listens, %d factors, %.2fs",
            *user_items.shape,
            user_items.nnz,
            self.params.factors,
            time.perf_counter() - started,
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_factors_"):
            raise ModelError("this ALSModel is not fitted; call fit first")

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
