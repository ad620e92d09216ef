"""Scoring: each kind of evidence scaled per query, blended, and discounted by popularity.

Each kind is scaled to [0, 1] over the query's candidates — signed kinds (audio cosines) linearly from their
[min, max] to [SIGNED_FLOOR, 1], the others (ALS preference, co-listening, kin shares) divided by their
maximum, negatives to 0 — then blended with weights renormalised over the kinds track j can take:

    relevance(j) = Σ_c w_c · ŝ_c(j) / Σ_{c available for j} w_c
    score(j)     = relevance(j) · (1 + listeners_j) ^ (−discount)

A model with a learned second stage (:mod:`gems.rank.learned`) replaces the blend by the ranker's relevance.
"""

from __future__ import annotations

import numpy as np

from gems.errors import DataError
from gems.popularity import popularity_discount
from gems.rank.options import KINDS, RankOptions
from gems.rank.retrieve import Candidates

SIGNED = ("audio",)
SIGNED_FLOOR = 0.01  # scaled similarity of the least similar candidate: last, but still able to fill a list


def segment(reduce, values: np.ndarray, indptr: np.ndarray, empty: float) -> np.ndarray:
    """``reduce`` (np.maximum / np.minimum) of each query's entries, broadcast back to the entries."""
    lengths = np.diff(indptr)
    per_query = np.full(len(lengths), empty, dtype=np.float32)
    nonempty = lengths > 0
    if nonempty.any():
        per_query[nonempty] = reduce.reduceat(values, indptr[:-1][nonempty])
    return np.repeat(per_query, lengths)


def scaled(values: np.ndarray, indptr: np.ndarray, signed: bool) -> np.ndarray:
    """Evidence mapped to [0, 1] per query over its candidates (NaN = cannot take it -> 0); module docstring."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        if signed:
            top = segment(np.maximum, np.where(present, values, -np.inf).astype(np.float32), indptr, -np.inf)
            low = segment(np.minimum, np.where(present, values, np.inf).astype(np.float32), indptr, np.inf)
            spread = top - low
            out = np.where(spread > 0, SIGNED_FLOOR + (1 - SIGNED_FLOOR) * (values - low) / spread, 1.0)
        else:
            positive = np.where(present, np.maximum(values, 0), 0).astype(np.float32)
            top = segment(np.maximum, positive, indptr, 0.0)
            out = np.where(top > 0, positive / top, 0.0)
    return np.where(present, out, 0.0).astype(np.float32, copy=False)


def scaled_parts(candidates: Candidates) -> dict[str, np.ndarray]:
    """Each present kind's evidence scaled to [0, 1] per query, (nnz,) each."""
    return {
        kind: scaled(candidates.evidence[kind], candidates.indptr, kind in SIGNED)
        for kind in KINDS
        if kind in candidates.evidence
    }


def blend(candidates: Candidates, parts: dict[str, np.ndarray], weights) -> np.ndarray:
    """Relevance per candidate entry: the kinds each track can take, weights renormalised over them."""
    total = np.zeros(len(candidates.rows), dtype=np.float32)
    weight_sum = np.zeros(len(candidates.rows), dtype=np.float32)
    for kind, weight in zip(KINDS, weights):
        if kind in parts and weight > 0:
            total += weight * parts[kind]
            weight_sum += weight * ~np.isnan(candidates.evidence[kind])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight_sum > 0, total / weight_sum, 0.0).astype(np.float32)


def discount(listeners: np.ndarray, candidates: Candidates, options: RankOptions) -> np.ndarray:
    """(nnz,) (1 + listeners)^−discount of each candidate."""
    return popularity_discount(listeners[candidates.rows], options.discount).astype(np.float32)


def check_comparable(parts: dict) -> None:
    if not parts:
        raise DataError("nothing to compare these tracks with: they have neither listens nor analysed audio")
