"""Entries of a block of queries keyed ``query · n + row`` (int64): sorted key sets, lookups and per-query cuts.

Every kind of evidence is a sorted key array and its values, so a block of one query and a block of ten thousand
take the same code; membership and lookups are binary searches.
"""

from __future__ import annotations

import numpy as np


def keys_of(matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys query · n + column, values) of a (b × n) sparse matrix's stored entries, keys sorted."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64) * n, np.diff(matrix.indptr)) + matrix.indices
    return keys, np.asarray(matrix.data, dtype=np.float32)


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` of int64 keys by one sort (numpy's hash-based unique is several times slower on these)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def lookup(keys: np.ndarray, sorted_keys: np.ndarray, values: np.ndarray, missing: float = 0.0) -> np.ndarray:
    """values at ``keys`` in (sorted_keys, values), ``missing`` where absent."""
    out = np.full(len(keys), missing, dtype=np.float32)
    if len(sorted_keys):
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        hit = sorted_keys[at] == keys
        out[hit] = values[at[hit]]
    return out


def allowed(keys: np.ndarray, own_keys: np.ndarray, excluded: np.ndarray, n: int) -> np.ndarray:
    """Mask of ``keys`` that are neither a query's own track (``own_keys`` sorted) nor excluded."""
    own = np.zeros(len(keys), dtype=bool)
    if len(own_keys):
        at = np.minimum(np.searchsorted(own_keys, keys), len(own_keys) - 1)
        own = own_keys[at] == keys
    return ~own & ~excluded[keys % n]


def strongest(inputs, keys: np.ndarray, values: np.ndarray, limit: int, *, tie_break: bool):
    """The keys of each query's ``limit`` strongest entries (keys sorted by query); ``tie_break``: among equal
    values the less played track first (kin values tie often: every track of an artist shares one)."""
    if len(keys) == 0:
        return keys
    query = keys // inputs.n_items
    starts = np.searchsorted(query, np.arange(query[-1] + 2))
    keep = np.ones(len(keys), dtype=bool)
    for q in np.flatnonzero(np.diff(starts) > limit):  # only the queries with more entries than the limit
        segment = slice(starts[q], starts[q + 1])
        if tie_break:
            order = np.lexsort((keys[segment], inputs.listeners[keys[segment] % inputs.n_items], -values[segment]))
            keep[segment][order[limit:]] = False
        else:  # the query's own entries decide, whatever else is in the block
            keep[segment][np.argpartition(values[segment], len(values[segment]) - limit)[:-limit]] = False
    return keys[keep]
