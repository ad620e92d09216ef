"""Exact top-k by inner product for blocks of queries, pruned by vector norms — numpy, so a single
``gems recommend`` never imports implicit (0.7 s) for it; batches (``compiled``) merge each block of scores
into the best so far with a numba loop instead (half the time; the same answer, tested against numpy's).

Items are scanned in order of decreasing norm, in chunks that double in size; a query stops as soon as no
remaining item can beat its k-th best score, since q·v ≤ |q|·|v| (Cauchy–Schwarz) and every remaining item is
no longer than the next one. ALS item factors have heavy-tailed norms (popular tracks are long vectors), so most
queries stop after a few percent of the catalogue. The answer is that of a full scan; among exactly tied scores
(tracks heard by the same few listeners have identical factors) the smaller item row wins, so a query gets the
same items alone or in a block of any size. A model folder stores the norm order (``cf/norm_order.npy``, ``cf/norm_sorted.npy``), so a
single query reads only the items of its first chunk from the memory-mapped factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gems.compiled import compiled

FIRST_CHUNK = 1 / 32  # share of the items scanned by every query (then 2/32, 4/32, ... for those not done)
MARGIN = 1e-5  # relative slack on the bound, for float32 rounding of the dot products
CELLS = 1 << 23  # queries × items scored at once (32 MB of float32)


class Gathered:
    """Rows ``rows`` of ``matrix`` (memory-mapped) read only when a slice of them is asked for."""

    def __init__(self, matrix, rows: np.ndarray):
        self.matrix, self.rows = matrix, rows

    def __getitem__(self, part: slice) -> np.ndarray:
        rows = self.rows[part]
        order = np.argsort(rows)  # read the file in ascending order, then put the rows back in theirs
        out = np.empty((len(rows), self.matrix.shape[1]), dtype=np.float32)
        out[order] = self.matrix[rows[order]]
        return out


@dataclass(frozen=True)
class NormOrdered:
    """The searchable items by decreasing norm: ``rows`` (m,) their item rows, ``vectors`` (m × f) float32 in
    that order (an array, or :class:`Gathered` read per chunk), ``norms`` (m,) decreasing, ``position``
    (n_items,) each item row's place in it (−1: absent)."""

    rows: np.ndarray
    vectors: np.ndarray | Gathered
    norms: np.ndarray
    position: np.ndarray

    @classmethod
    def of(cls, items: np.ndarray, searchable: np.ndarray) -> NormOrdered:
        """``items`` (n × f); ``searchable`` (n,) bool: the rows a query may ever get."""
        rows = np.flatnonzero(searchable)
        vectors = np.asarray(items[rows], dtype=np.float32)
        norms = norms_of(vectors)
        order = np.argsort(-norms, kind="stable")
        return cls.stored(items, rows[order], norms[order], materialize=True)

    @classmethod
    def stored(cls, items, rows: np.ndarray, norms: np.ndarray, *, vectors=None, materialize: bool) -> NormOrdered:
        """From an order computed earlier (a model folder's), with the ``vectors`` in that order when stored
        (memory-mapped: a chunk is one contiguous read); else ``materialize`` copies them in that order
        (batches), or they are gathered chunk by chunk (single queries)."""
        rows = np.asarray(rows, dtype=np.int64)
        position = np.full(len(items), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        if vectors is None:
            vectors = np.ascontiguousarray(items[rows], dtype=np.float32) if materialize else Gathered(items, rows)
        return cls(rows, vectors, np.asarray(norms, dtype=np.float64), position)


def norms_of(vectors: np.ndarray) -> np.ndarray:
    """Row lengths in float64 (einsum: np.linalg.norm on float64 rows is ~40x slower)."""
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))


def top_k(
    ordered: NormOrdered,
    queries: np.ndarray,
    k: int,
    own_indptr: np.ndarray,
    own_rows: np.ndarray,
    blocked: np.ndarray | None = None,
    *,
    compiled: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` items of largest ``query · item`` for each query (b × f), never its own items (CSR layout:
    query i owns ``own_rows[own_indptr[i]:own_indptr[i + 1]]``) nor ``blocked`` (n_items,) ones; ``compiled``:
    merge with :func:`merge_kernel`, compiled (batches).

    Returns (item rows, scores), each (b × k), best first (equal scores: the smaller row first); −1 and −inf
    pad queries with fewer."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    b, m = len(queries), len(ordered.rows)
    best_rows = np.full((b, k), -1, dtype=np.int64)
    best = np.full((b, k), -np.inf, dtype=np.float32)
    if m == 0 or b == 0 or k == 0:
        return best_rows, best
    own_query, own_position = _own_positions(ordered, own_indptr, own_rows)
    blocked_positions = np.flatnonzero(blocked[ordered.rows]) if blocked is not None else np.zeros(0, np.int64)
    query_norms = norms_of(queries)
    active = np.arange(b)
    start, size = 0, max(k, int(np.ceil(m * FIRST_CHUNK)))
    while len(active) and start < m:
        stop = min(m, start + size)
        chunk = ordered.vectors[start:stop]
        lo, hi = np.searchsorted(blocked_positions, (start, stop))
        step = max(1, CELLS // (stop - start))
        for first in range(0, len(active), step):
            group = active[first : first + step]
            scores = group_scores(chunk, queries[group], group, own_query, own_position, start, stop)
            scores[:, blocked_positions[lo:hi] - start] = -np.inf
            if compiled:
                merge_kernel()(scores, group, ordered.rows[start:stop], best_rows, best)
                continue
            (query, column), values = _contenders(scores, best[group, k - 1], k)
            rows = ordered.rows[start + column]
            best_rows[group], best[group] = _merged(best_rows[group], best[group], query, rows, values, k)
        if stop < m:  # a query is done when even the longest remaining item cannot reach its k-th best
            reach = query_norms[active] * ordered.norms[stop] * (1 + MARGIN)
            active = active[~(best[active, k - 1] > reach)]
        start, size = stop, 2 * size
    best_rows[~np.isfinite(best)] = -1
    return best_rows, best


def _contenders(scores: np.ndarray, kth: np.ndarray, k: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The entries of a (g × w) score block that may enter their query's top k: finite and at least the
    query's current k-th best ``kth`` (g,) — or, while a query has fewer than k, at least the block's own k-th
    largest (anything below has k better in this block alone). Returns ((query, column) indices, values)."""
    floor = kth.copy()
    short = np.flatnonzero(~np.isfinite(kth))
    if len(short):
        width = scores.shape[1]
        cut = width - min(k, width)
        floor[short] = np.partition(scores[short], cut, axis=1)[:, cut]
    hits = np.nonzero((scores >= floor[:, None]) & (scores > -np.inf))
    return hits, scores[hits]


def _merged(best_rows, best, query, rows, values, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The (g × k) best of each query among its current ``best_rows``/``best`` and the new (query, rows,
    values) entries: by value, then the smaller row."""
    g = len(best)
    query = np.r_[np.repeat(np.arange(g), k), query]
    values = np.r_[best.ravel(), values]
    rows = np.r_[best_rows.ravel(), rows]
    order = np.lexsort((rows, -values, query))
    query, values, rows = query[order], values[order], rows[order]
    place = np.arange(len(query)) - np.searchsorted(query, query)
    keep = place < k
    out_rows = np.full((g, k), -1, dtype=np.int64)
    out = np.full((g, k), -np.inf, dtype=np.float32)
    out_rows[query[keep], place[keep]] = rows[keep]
    out[query[keep], place[keep]] = values[keep]
    return out_rows, out


def _merge_example() -> tuple:
    scores, rows = np.zeros((1, 1), np.float32), np.zeros(1, np.int64)
    return scores, rows, rows, np.full((1, 1), -1, np.int64), np.full((1, 1), -np.inf, np.float32)


@compiled(_merge_example)
def merge_kernel(scores, group, rows, best_rows, best):
    """Merge a (g × w) block of ``scores`` of the queries ``group`` (g,) over the items ``rows`` (w,) into their
    ``best_rows``/``best`` (b × k, best first, ties to the smaller row; updated in place): an entry enters by
    insertion when it beats the k-th best — what :func:`_contenders` and :func:`_merged` do with numpy."""
    k = best.shape[1]
    for i in range(scores.shape[0]):
        query = group[i]
        kth, kth_row = best[query, k - 1], best_rows[query, k - 1]
        for column in range(scores.shape[1]):
            value = scores[i, column]
            if not (value >= kth) or value == -np.inf:  # NaN and −inf never enter
                continue
            row = rows[column]
            if value == kth and row > kth_row:
                continue
            j = k - 1
            while j > 0 and (
                best[query, j - 1] < value or (best[query, j - 1] == value and best_rows[query, j - 1] > row)
            ):
                best[query, j], best_rows[query, j] = best[query, j - 1], best_rows[query, j - 1]
                j -= 1
            best[query, j], best_rows[query, j] = value, row
            kth, kth_row = best[query, k - 1], best_rows[query, k - 1]


def group_scores(chunk, queries, group, own_query, own_position, start: int, stop: int) -> np.ndarray:
    """(len(group) × chunk) scores with each query's own items at −inf."""
    scores = queries @ chunk.T
    lo, hi = np.searchsorted(own_query, (group[0], group[-1] + 1))
    query, position = own_query[lo:hi], own_position[lo:hi]
    local = np.minimum(np.searchsorted(group, query), len(group) - 1)
    inside = (group[local] == query) & (position >= start) & (position < stop)
    scores[local[inside], position[inside] - start] = -np.inf
    return scores


def _own_positions(ordered: NormOrdered, indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, position in the norm order) of every own item that is searchable, sorted by query."""
    query = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    position = ordered.position[np.asarray(rows, dtype=np.int64)]
    present = position >= 0
    return query[present], position[present]
