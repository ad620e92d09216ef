"""Popularity: listener counts, percentiles, the head/tail split, each soundtrack's theme, and the discount.

Definitions (``n`` tracks, ``L_i`` = distinct listeners of track ``i`` in the training listens):

- percentile_i = 100 · |{j : L_j ≤ L_i}| / n — 100 is the most popular track.
- head = the largest set of most popular tracks, never splitting equally popular ones, that holds at most
  ``head_share`` (80%) of all training interactions (user–track pairs): with L* the listener count of the
  first track, in decreasing order of L, at which the running total passes ``head_share`` of all interactions,
  head = {i : L_i > L*}. Every other track is the long tail — so every track exactly as popular as the one
  that crosses the share is in the tail, and which of two equally popular tracks is "head" never depends on
  row order. This is the Elliot framework's convention with ties kept together.
- hit = a track at percentile ≥ HIT_PERCENTILE (99): at least 99% of the catalogue is played as much or less —
  the 1% most played, the track at the cut and every track tied with it included.
- theme of a soundtrack = its track with the most listeners (ties: more plays, then catalogue order);
  only soundtracks with at least two tracks and one listener have a theme; the others are its deep cuts.
- discount_i = (1 + L_i) ^ (−strength); strength 0 means no discount.
- stratified weight_i = max(L_i, 1) ^ (−γ): what finding track i is worth to popularity-stratified recall
  (Steck 2011) and to the learned stage that is trained for it; a track nobody played weighs as one listener.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gems.params import Interval, Params

HEAD_SHARE = 0.8
HIT_PERCENTILE = 99.0


@dataclass(frozen=True)
class PopularityParams(Params):
    """The ``[popularity]`` section: ``head_share``, the share of interactions the head holds at most."""

    head_share: float = HEAD_SHARE

    constraints: ClassVar = {"head_share": Interval(float, 1e-9, 1 - 1e-9)}


@dataclass
class Popularity:
    """Per-track popularity arrays, all of shape (n_tracks,)."""

    listeners: np.ndarray  # int64, distinct users
    plays: np.ndarray  # float64, summed listen weights
    percentile: np.ndarray  # float64 in (0, 100]
    is_tail: np.ndarray  # bool
    is_theme: np.ndarray  # bool

    @property
    def n_head(self) -> int:
        return int((~self.is_tail).sum())

    def to_columns(self) -> dict[str, np.ndarray]:
        return {
            "listeners": self.listeners,
            "plays": self.plays,
            "popularity_percentile": self.percentile,
            "is_tail": self.is_tail,
            "is_theme": self.is_theme,
        }


def listener_counts(user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> np.ndarray:
    """Distinct users per item from parallel arrays of (user, item) events, shape (n_items,) int64."""
    if len(item_idx) == 0:
        return np.zeros(n_items, dtype=np.int64)
    pairs = np.unique(np.stack([item_idx.astype(np.int64), user_idx.astype(np.int64)]), axis=1)
    return np.bincount(pairs[0], minlength=n_items).astype(np.int64)


def popularity_percentile(counts: np.ndarray) -> np.ndarray:
    """100 · share of tracks whose count is ≤ this track's (ties share the higher value)."""
    n = len(counts)
    if n == 0:
        return np.zeros(0)
    sorted_counts = np.sort(counts)
    return 100.0 * np.searchsorted(sorted_counts, counts, side="right") / n


def hit_floor(counts: np.ndarray) -> float:
    """The fewest listeners of a hit: the ⌈0.99 n⌉-th smallest count, since percentile ≥ HIT_PERCENTILE ⟺ at
    least ⌈0.99 n⌉ counts are ≤ the track's (a partial sort, O(n)); inf for an empty catalogue."""
    counts = np.asarray(counts)
    if len(counts) == 0:
        return float("inf")
    at = max(math.ceil(HIT_PERCENTILE / 100 * len(counts) - 1e-9), 1) - 1
    return float(np.partition(counts, at)[at])


def hit_mask(counts: np.ndarray) -> np.ndarray:
    """True for the hits: tracks at popularity percentile ≥ HIT_PERCENTILE (the module docstring) that anyone
    played (in a catalogue nobody listened to, nothing is a hit)."""
    counts = np.asarray(counts)
    return (counts >= hit_floor(counts)) & (counts > 0)


def tail_mask(counts: np.ndarray, head_share: float = HEAD_SHARE) -> np.ndarray:
    """True for long-tail tracks: outside the head (the module docstring), ties never split."""
    counts = np.asarray(counts)
    total = counts.sum()
    if total == 0:
        return np.ones(len(counts), dtype=bool)
    ordered = np.sort(counts)[::-1]
    crossing = int(np.searchsorted(np.cumsum(ordered), head_share * total, side="right"))
    if crossing >= len(ordered):  # head_share ≥ 1: nothing passes it
        return np.zeros(len(counts), dtype=bool)
    return counts <= ordered[crossing]


def soundtrack_themes(soundtrack_codes: np.ndarray, listeners: np.ndarray, plays: np.ndarray) -> np.ndarray:
    """True for each soundtrack's theme. ``soundtrack_codes``: int per track, −1 when unknown."""
    is_theme = np.zeros(len(listeners), dtype=bool)
    order = np.lexsort((np.arange(len(listeners)), -plays, -listeners, soundtrack_codes))
    codes = soundtrack_codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    for start, size in zip(starts, sizes):
        track = order[start]
        if codes[start] >= 0 and size >= 2 and listeners[track] > 0:
            is_theme[track] = True
    return is_theme


def compute_popularity(
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    weights: np.ndarray,
    soundtrack_codes: np.ndarray,
    *,
    head_share: float = HEAD_SHARE,
) -> Popularity:
    """All popularity arrays from the training events (parallel arrays) and each track's soundtrack code."""
    n = len(soundtrack_codes)
    listeners = listener_counts(user_idx, item_idx, n)
    plays = np.bincount(item_idx, weights=weights, minlength=n).astype(np.float64) if len(item_idx) else np.zeros(n)
    return popularity_from_counts(listeners, plays, soundtrack_codes, head_share=head_share)


def popularity_from_matrix(user_items, soundtrack_codes: np.ndarray, *, head_share: float = HEAD_SHARE) -> Popularity:
    """All popularity arrays from a (users × tracks) CSR matrix of summed weights (one entry per listener)."""
    n = len(soundtrack_codes)
    listeners = np.bincount(user_items.indices, minlength=n).astype(np.int64)
    plays = np.bincount(user_items.indices, weights=user_items.data, minlength=n).astype(np.float64)
    return popularity_from_counts(listeners, plays, soundtrack_codes, head_share=head_share)


def popularity_from_counts(
    listeners: np.ndarray, plays: np.ndarray, soundtrack_codes: np.ndarray, *, head_share: float = HEAD_SHARE
) -> Popularity:
    """All popularity arrays from listeners and plays per track."""
    return Popularity(
        listeners=listeners,
        plays=plays,
        percentile=popularity_percentile(listeners),
        is_tail=tail_mask(listeners, head_share),
        is_theme=soundtrack_themes(soundtrack_codes, listeners, plays),
    )


def popularity_discount(listeners: np.ndarray, strength: float) -> np.ndarray:
    """(1 + listeners) ** −strength: 1 for an unheard track, smaller the more listeners a track has."""
    if strength < 0:
        raise ValueError(f"discount strength must be ≥ 0, got {strength}")
    return np.power(1.0 + np.asarray(listeners, dtype=np.float64), -strength)


def stratified_weight(listeners: np.ndarray, gamma: float) -> np.ndarray:
    """max(listeners, 1) ** −γ (float64): the worth of finding each track under popularity-stratified recall."""
    return np.power(np.maximum(np.asarray(listeners, dtype=np.float64), 1.0), -float(gamma))
