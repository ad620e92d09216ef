"""Collaborative filtering: implicit's ALS on confidence-weighted listens. Wraps implicit, never re-implements it.

Confidence of a (user, track) pair with summed weight ``w`` (plays):
    ``log``    c = alpha · log(1 + w)              (Hu, Koren & Volinsky 2008, log scaling)
    ``linear`` c = alpha · w
    ``bm25``   c = alpha · BM25(w)                 (implicit's ``bm25_weight``, K1=100, B=0.8)
implicit treats ``c`` as the extra confidence of an observed pair (total confidence 1 + c).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from gems.errors import ModelError, ParameterError

log = logging.getLogger(__name__)

CONFIDENCE_SCHEMES = ("log", "linear", "bm25")


def interaction_matrix(user_idx: np.ndarray, item_idx: np.ndarray, weights: np.ndarray, shape: tuple[int, int]):
    """Sparse (users × items) float32 CSR matrix of summed weights; repeated events add up."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(
        (weights.astype(np.float32), (user_idx.astype(np.int64), item_idx.astype(np.int64))), shape=shape
    )
    matrix.sum_duplicates()
    return matrix


def confidence(user_items, *, scheme: str = "log", alpha: float = 1.0):
    """The confidence matrix implicit fits on (same sparsity as ``user_items``)."""
    if scheme not in CONFIDENCE_SCHEMES:
        raise ParameterError(f"unknown confidence scheme '{scheme}'; choose one of {', '.join(CONFIDENCE_SCHEMES)}")
    matrix = user_items.astype(np.float32, copy=True)
    if scheme == "log":
        matrix.data = np.log1p(matrix.data)
    elif scheme == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        matrix = bm25_weight(matrix, K1=100, B=0.8).tocsr().astype(np.float32)
    matrix.data *= np.float32(alpha)
    return matrix


class ALSModel:
    """Implicit-feedback ALS (implicit's CPU solver), estimator style.

    After :meth:`fit`: ``user_factors_`` (n_users × factors) and ``item_factors_`` (n_items × factors), float32.
    """

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 1.0,
        confidence: str = "log",
        random_state: int = 0,
        show_progress: bool = False,
    ):
        if factors < 1 or iterations < 1 or regularization < 0 or alpha <= 0:
            raise ParameterError(
                "ALS needs factors ≥ 1, iterations ≥ 1, regularization ≥ 0 and alpha > 0; "
                f"got factors={factors}, iterations={iterations}, regularization={regularization}, alpha={alpha}"
            )
        if confidence not in CONFIDENCE_SCHEMES:
            raise ParameterError(
                f"unknown confidence scheme '{confidence}'; choose one of {', '.join(CONFIDENCE_SCHEMES)}"
            )
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.confidence = confidence
        self.random_state = random_state
        self.show_progress = show_progress

    def params(self) -> dict:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "random_state": self.random_state,
        }

    def fit(self, user_items) -> ALSModel:
        """Fit on a (users × items) CSR matrix of summed listen weights. BLAS runs single-threaded for it."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        if user_items.nnz == 0:
            raise ParameterError("cannot fit ALS on an empty listens table")
        started = time.perf_counter()
        weighted = confidence(user_items, scheme=self.confidence, alpha=self.alpha)
        with threadpool_limits(limits=1, user_api="blas"):  # implicit checks the BLAS threads when constructed
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                iterations=self.iterations,
                alpha=1.0,
                random_state=self.random_state,
                calculate_training_loss=False,
            )
            model.fit(weighted, show_progress=self.show_progress)
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        log.info(
            "ALS: %d users × %d items, %d listens, %d factors, %.2fs",
            *user_items.shape,
            user_items.nnz,
            self.factors,
            time.perf_counter() - started,
        )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "item_factors_"):
            raise ModelError("this ALSModel is not fitted; call fit first")

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
