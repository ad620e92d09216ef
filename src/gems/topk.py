"""Exact top-k by inner product for blocks of listeners, pruned by vector norms.

Items are scanned in order of decreasing norm, in chunks that double in size; a query stops as soon as no
remaining item can beat its k-th best score, since q·v ≤ |q|·|v| (Cauchy–Schwarz) and every remaining item is
no longer than the next one. ALS item factors have heavy-tailed norms (popular tracks are long vectors), so most
listeners stop after a few percent of the catalogue. The answer is that of a full scan (implicit's ``topk`` over
every item), up to the order of exactly tied scores; each chunk is searched by implicit's ``topk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

FIRST_CHUNK = 1 / 32  # share of the items scanned by every query (then 2/32, 4/32, ... for those not done)
MARGIN = 1e-5  # relative slack on the bound, for float32 rounding of the dot products


@dataclass(frozen=True)
class NormOrdered:
    """The searchable items by decreasing norm: ``rows`` (m,) their item rows, ``vectors`` (m × f) float32 in
    that order, ``norms`` (m,) decreasing, ``position`` (n_items,) each item row's place in it (−1: absent)."""

    rows: np.ndarray
    vectors: np.ndarray
    norms: np.ndarray
    position: np.ndarray

    @classmethod
    def of(cls, items: np.ndarray, searchable: np.ndarray) -> NormOrdered:
        """``items`` (n × f); ``searchable`` (n,) bool: the rows a query may ever get."""
        rows = np.flatnonzero(searchable)
        vectors = np.asarray(items[rows], dtype=np.float32)
        norms = _norms(vectors)
        order = np.argsort(-norms, kind="stable")
        position = np.full(len(searchable), -1, dtype=np.int64)
        position[rows[order]] = np.arange(len(rows))
        return cls(rows[order], np.ascontiguousarray(vectors[order]), norms[order], position)


class _ChunkRows:
    """The own items of the active queries inside one chunk, as implicit's ``filter_query_items``: only
    ``[i].indices`` is read (positions relative to the chunk)."""

    def __init__(self, indptr: np.ndarray, positions: np.ndarray, queries: np.ndarray, start: int, stop: int):
        self.indptr, self.positions, self.queries = indptr, positions, queries
        self.start, self.stop = start, stop

    def __getitem__(self, i: int) -> SimpleNamespace:
        q = self.queries[i]
        own = self.positions[self.indptr[q] : self.indptr[q + 1]]
        lo, hi = np.searchsorted(own, (self.start, self.stop))
        return SimpleNamespace(indices=own[lo:hi] - self.start)


def top_k(
    ordered: NormOrdered,
    queries: np.ndarray,
    k: int,
    own_indptr: np.ndarray,
    own_rows: np.ndarray,
    blocked: np.ndarray | None = None,
    *,
    num_threads: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` items of largest ``query · item`` for each query (b × f), never its own items (CSR layout:
    query i owns ``own_rows[own_indptr[i]:own_indptr[i + 1]]``) nor ``blocked`` (n_items,) ones.

    Returns (item rows, scores), each (b × k) in no particular order; −1 and −inf pad queries with fewer."""
    from implicit.cpu.topk import topk

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    b, m = len(queries), len(ordered.rows)
    best_rows = np.full((b, k), -1, dtype=np.int64)
    best = np.full((b, k), -np.inf, dtype=np.float32)
    if m == 0 or b == 0 or k == 0:
        return best_rows, best
    indptr, positions = _own_positions(ordered, own_indptr, own_rows)
    blocked_positions = np.flatnonzero(blocked[ordered.rows]) if blocked is not None else np.zeros(0, np.int64)
    query_norms = _norms(queries)
    active = np.arange(b)
    start, size = 0, max(k, int(np.ceil(m * FIRST_CHUNK)))
    floor = -np.finfo(np.float32).max  # implicit's score of a filtered item
    while len(active) and start < m:
        stop = min(m, start + size)
        lo, hi = np.searchsorted(blocked_positions, (start, stop))
        width = min(k, stop - start)
        ids, values = topk(
            ordered.vectors[start:stop],
            queries[active],
            width,
            filter_query_items=_ChunkRows(indptr, positions, active, start, stop),
            filter_items=(blocked_positions[lo:hi] - start).astype(np.int32) if hi > lo else None,
            num_threads=num_threads,
        )
        found = (ids >= 0) & (values > floor)
        merged_rows = np.concatenate([best_rows[active], np.where(found, ordered.rows[start + ids], -1)], axis=1)
        merged = np.concatenate([best[active], np.where(found, values, -np.inf).astype(np.float32)], axis=1)
        keep = np.argpartition(-merged, k - 1, axis=1)[:, :k]
        best_rows[active] = np.take_along_axis(merged_rows, keep, axis=1)
        best[active] = np.take_along_axis(merged, keep, axis=1)
        if stop < m:  # a query is done when even the longest remaining item cannot reach its k-th best
            reach = query_norms[active] * ordered.norms[stop] * (1 + MARGIN)
            active = active[~(best[active].min(axis=1) > reach)]
        start, size = stop, 2 * size
    return best_rows, best


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Row lengths in float64 (einsum: np.linalg.norm on float64 rows is ~40x slower)."""
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))


def _own_positions(ordered: NormOrdered, indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query's own items as sorted positions in the norm order (CSR: indptr, positions)."""
    query = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    position = ordered.position[rows]
    present = position >= 0
    keys = np.sort(query[present] * len(ordered.position) + position[present])
    counts = np.bincount(query[present], minlength=len(indptr) - 1)
    return np.r_[0, np.cumsum(counts)].astype(np.int64), keys % len(ordered.position)
