"""Item-to-item neighbours from co-listening: implicit's CosineRecommender, kept as a sparse matrix.

    S[i, j] = |users(i) ∩ users(j)| / sqrt(|users(i)| · |users(j)|)      (binarised listens)

keeping each item's ``k`` largest entries. A listener's co-listening score for item j is Σ_{i ∈ history} S[i, j]:
unlike latent factors, it can name a rarely played track that shares even one listener with the history,
which is why it reaches far deeper into the long tail than ALS does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gems.errors import ModelError
from gems.params import Interval, Params


def binarize(user_items):
    """The same sparsity pattern with every stored value 1 (float32 CSR)."""
    binary = user_items.tocsr().astype(np.float32, copy=True)
    binary.data[:] = 1.0
    return binary


@dataclass(frozen=True)
class NeighbourParams(Params):
    """The ``[neighbours]`` section: ``k``, the item-kNN neighbours kept per track."""

    k: int = 100

    constraints: ClassVar = {"k": Interval(int, 1, 100_000)}


class ItemNeighbours:
    """Cosine item-kNN over co-listening (estimator style). ``params``: the fields of :class:`NeighbourParams`.
    After :meth:`fit`: ``similarity_`` (items × items CSR, float32, at most ``k`` entries per row, zero
    diagonal)."""

    def __init__(self, **params):
        self.params = NeighbourParams(**params)
        self.k = self.params.k

    def fit(self, user_items) -> ItemNeighbours:
        """Fit on a (users × items) CSR matrix of listens (binarised: co-listening counts, not plays)."""
        from implicit.nearest_neighbours import CosineRecommender

        model = CosineRecommender(K=self.k, num_threads=1)
        with warnings.catch_warnings():  # CosineRecommender hands its own normalised COO to fit and warns
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(binarize(user_items), show_progress=False)
        similarity = model.similarity.tocsr().astype(np.float32)
        similarity.setdiag(0.0)
        similarity.eliminate_zeros()
        self.similarity_ = similarity
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "similarity_"):
            raise ModelError("these ItemNeighbours are not fitted; call fit first")
        s = self.similarity_
        return {"indptr": s.indptr.astype(np.int64), "indices": s.indices.astype(np.int32), "data": s.data}
