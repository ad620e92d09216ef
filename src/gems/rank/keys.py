"""Entries of a block of queries keyed ``query · n + row`` (int64): sorted key sets, lookups and per-query cuts.

Every kind of evidence is a sorted key array and its values, so a block of one query and a block of ten thousand
take the same code; membership and lookups are binary searches.
"""

from __future__ import annotations

import numpy as np


def own_keys(histories: list[np.ndarray], n: int) -> np.ndarray:
    """Sorted keys of each query's own tracks (histories: sorted unique track rows)."""
    sizes = [len(h) for h in histories]
    rows = np.concatenate(histories).astype(np.int64) if histories else np.zeros(0, dtype=np.int64)
    return np.repeat(np.arange(len(histories), dtype=np.int64) * n, sizes) + rows


SHIFT = 32  # row sums pack a key above a float32 value (its 32 bits) in one uint64, to sort them together
FIXED = 2.0**32  # row sums add values as integers in units of 2^-32: exact, so equal in any order
COUNTED = 48  # the sparse product packs each count above its sum, from this bit ...
COUNTED_MAX = 1 << (63 - COUNTED)  # ... for queries of fewer rows than this (sums of values ≤ 1 stay below it)


def _fixed(values: np.ndarray) -> np.ndarray:
    """float values as int64 multiples of 2^-32 (values ≤ 1 of the neighbour graph: exact to 2^-33)."""
    return np.rint(np.asarray(values, dtype=np.float64) * FIXED).astype(np.int64)


def _floats(fixed: np.ndarray) -> np.ndarray:
    return (fixed / FIXED).astype(np.float32)


def row_sums(matrix: tuple[np.ndarray, np.ndarray, np.ndarray], keys: np.ndarray, n: int, *, shift: int = SHIFT):
    """(sorted keys q · n + column, float32 sums, int32 counts) of Σ_{i ∈ h_q} M[i, :] for each query and of
    |{i ∈ h_q : M[i, column] stored}|, ``keys`` the sorted keys q · n + i of the queries' rows and ``matrix`` an
    (n × n) CSR matrix as (indptr, indices, data) of values in [0, 1]. The sparse product of a binary query
    matrix with M, in numpy: every (key, value) is packed into one uint64 and sorted, and a key's values are
    added as integers (:data:`FIXED`), so the sums are those of :func:`row_sums_product` to the bit."""
    indptr, indices, data = matrix
    width = max(1, (1 << (64 - shift - 1)) // n)  # queries per pass, so that keys fit their bits
    query, rows = keys // n, keys % n
    out_keys, out_values = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.float32)]
    out_counts = [np.zeros(0, dtype=np.int32)]
    for first in range(0, int(query[-1]) + 1 if len(query) else 0, width):
        lo, hi = np.searchsorted(query, (first, first + width))
        at, lengths = csr_positions(np.asarray(indptr), rows[lo:hi])
        local = np.repeat(query[lo:hi] - first, lengths) * n + np.asarray(indices)[at]
        packed = local.view(np.uint64) << np.uint64(shift)  # local ≥ 0: the view is its value
        packed |= np.asarray(data, dtype=np.float32)[at].view(np.uint32)
        packed.sort(kind="stable")  # runs: timsort
        key = (packed >> np.uint64(shift)).view(np.int64)
        value = packed.astype(np.uint32).view(np.float32)  # the low 32 bits
        starts_of = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        out_keys.append(key[starts_of] + first * n)
        out_values.append(_floats(np.add.reduceat(_fixed(value), starts_of)) if len(key) else value)
        out_counts.append(np.diff(starts_of, append=len(key)).astype(np.int32))
    return np.concatenate(out_keys), np.concatenate(out_values).astype(np.float32), np.concatenate(out_counts)


def csr_positions(bounds: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the stored entries of ``rows``, row after row; each row's length) in a CSR layout whose row
    i holds entries ``bounds[i]:bounds[i + 1]``."""
    starts, lengths = bounds[rows], (bounds[rows + 1] - bounds[rows]).astype(np.int64)
    return np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum())), lengths


def row_sums_product(matrix: tuple[np.ndarray, np.ndarray, np.ndarray], keys: np.ndarray, n: int):
    """:func:`row_sums` by scipy's sparse product (SMMP, no sort of the block's entries) — faster on blocks of
    many queries, the same keys, sums and counts: each stored value enters as its integer (:data:`FIXED`) plus
    1 << :data:`COUNTED`, so one product adds both exactly. A query of :data:`COUNTED_MAX` rows or more takes
    :func:`row_sums`."""
    if len(keys) == 0 or np.bincount(keys // n).max() >= COUNTED_MAX:
        return row_sums(matrix, keys, n)
    import scipy.sparse as sp

    indptr, indices, data = (np.asarray(a) for a in matrix)
    query, rows = keys // n, keys % n
    needed, column = np.unique(rows, return_inverse=True)
    at, lengths = csr_positions(indptr, needed)
    packed = _fixed(data[at]) + (1 << COUNTED)
    block = sp.csr_matrix((packed, indices[at], np.r_[0, np.cumsum(lengths)]), shape=(len(needed), n))
    b = int(query[-1]) + 1
    picks = sp.csr_matrix(
        (np.ones(len(keys), dtype=np.int64), column, np.r_[0, np.cumsum(np.bincount(query, minlength=b))]),
        shape=(b, len(needed)),
    )
    product = picks @ block
    product.sort_indices()
    out_keys = np.repeat(np.arange(b, dtype=np.int64) * n, np.diff(product.indptr)) + product.indices
    sums = np.asarray(product.data, dtype=np.int64)
    counts = sums >> COUNTED
    return out_keys, _floats(sums - (counts << COUNTED)), counts.astype(np.int32)


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
