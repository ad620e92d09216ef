"""The integer indexes linking is built on: distinct strings coded (:class:`Codes`) and catalogue rows grouped
by a code (:class:`Groups`), both looked up for whole columns at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

STRING = pd.StringDtype("pyarrow")
SHOWN = 5  # candidates listed per source row


class Groups:
    """Catalogue rows grouped by an integer key (-1: none), for vectorised look-ups by binary search."""

    def __init__(self, keys: np.ndarray):
        rows = np.flatnonzero(keys >= 0)
        order = np.argsort(keys[rows], kind="stable")
        self.keys, self.rows = keys[rows][order], rows[order]

    def pairs(self, keys: np.ndarray, take: np.ndarray, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(position in ``keys``, row) for every row sharing the key of a position where ``take`` holds; at most
        ``limit`` + 1 rows per key when given."""
        low = np.searchsorted(self.keys, keys, "left")
        sizes = np.where(take & (keys >= 0), np.searchsorted(self.keys, keys, "right") - low, 0)
        if limit is not None:
            sizes = np.minimum(sizes, limit + 1)
        at = np.repeat(np.arange(len(keys)), sizes)
        within = np.arange(len(at)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return at, self.rows[low[at] + within]


class Codes:
    """Distinct strings and their codes; ``of(values)`` codes other strings (-1 when unseen or missing)."""

    def __init__(self, values):
        self.codes, uniques = pd.factorize(pd.Series(values, dtype=STRING))
        self.index = pd.Index(uniques, dtype=object)
        self.index.get_indexer(self.index[:1])  # builds the hash table now, not on the first look-up

    def of(self, values) -> np.ndarray:
        return self.index.get_indexer(pd.Series(values, dtype=STRING).to_numpy(dtype=object, na_value=None))


def pair_codes(left: np.ndarray, right: np.ndarray, width: int) -> np.ndarray:
    """One code per (left, right) pair of codes, left · width + right; −1 where either is −1."""
    both = (left >= 0) & (right >= 0)
    return np.where(both, left.astype(np.int64) * width + right, -1)


def listing(names: pd.Series) -> str:
    """The first :data:`SHOWN` of ``names``, "; "-joined, "; …" when there are more."""
    return "; ".join(names.head(SHOWN)) + ("; …" if len(names) > SHOWN else "")
