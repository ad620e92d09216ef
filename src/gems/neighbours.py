"""Item-to-item neighbours from co-listening: implicit's CosineRecommender, kept as a sparse matrix.

    S[i, j] = |users(i) ∩ users(j)| / sqrt(|users(i)| · |users(j)|)      (binarised listens)

keeping each item's ``k`` largest entries. A listener's co-listening score for item j is Σ_{i ∈ history} S[i, j]:
unlike latent factors, it can name a rarely played track that shares even one listener with the history,
which is why it reaches far deeper into the long tail than ALS does.
"""

from __future__ import annotations

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
        """Fit on a (users × items) CSR matrix of listens (binarised: co-listening counts, not plays).

        implicit's k-nearest-neighbour search (what its CosineRecommender runs, on columns scaled to unit
        length) returns n × k (row, column, float64) triples, unused ones zero; they are packed here into
        float32 CSR a block of rows at a time — implicit's own conversion would hold a second full copy, the
        memory peak of a million-track build."""
        import scipy.sparse as sp
        from implicit._nearest_neighbours import all_pairs_knn

        weighted = binarize(user_items).astype(np.float64)
        weighted.data /= np.sqrt(np.bincount(weighted.indices, minlength=weighted.shape[1]))[weighted.indices]
        pairs = all_pairs_knn(weighted, self.k, num_threads=1, show_progress=False)
        del weighted
        n = pairs.shape[0]
        rows, columns, values = pairs.row, pairs.col, pairs.data
        del pairs
        counts, kept_columns, kept_values = np.zeros(n, dtype=np.int64), [], []
        step = max(1, (1 << 22) // self.k)  # rows per block: ~4M triples
        for first in range(0, n, step):
            block = slice(first * self.k, min(n, first + step) * self.k)
            keep = (values[block] != 0) & (columns[block] != rows[block])  # unused slots, the track itself
            counts[first : first + step] = keep.reshape(-1, self.k).sum(axis=1)
            kept_columns.append(columns[block][keep])
            kept_values.append(values[block][keep].astype(np.float32))
        del rows, columns, values
        indptr = np.r_[0, np.cumsum(counts)]
        similarity = sp.csr_matrix((np.concatenate(kept_values), np.concatenate(kept_columns), indptr), shape=(n, n))
        similarity.sort_indices()
        self.similarity_ = similarity
        return self

    def to_arrays(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "similarity_"):
            raise ModelError("these ItemNeighbours are not fitted; call fit first")
        s = self.similarity_
        return {"indptr": s.indptr.astype(np.int64), "indices": s.indices.astype(np.int32), "data": s.data}
