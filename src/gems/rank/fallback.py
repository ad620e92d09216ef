"""The answer when nothing of a listener's history leads anywhere in the model: its soundtracks' best
lesser-known tracks, the same list for everyone it answers.

"Best lesser-known", from what the model knows: its long-tail tracks (outside the head, ties together:
:mod:`gems.popularity`) that are soundtrack music (``is_soundtrack``; every long-tail track when the model
flags none), the most listened first (ties: the smaller row), at most ``per_soundtrack`` of one soundtrack
(CAP when the options set no cap), within the options' scope, ``k`` of them — through the selection every list
goes through (:func:`gems.rank.select.final_lists`, without reserved long-tail places: every candidate is in
the tail). score = (1 + listeners) / (1 + the most listeners among them): the first scores 1, and no popularity
discount applies (the list is already the long tail).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gems.rank.inputs import RankingInputs
from gems.rank.options import RankOptions
from gems.rank.retrieve import Candidates, out_of_scope
from gems.rank.select import final_lists

CAP = 2  # picks of one soundtrack when the options set no cap: the fallback shows the breadth of the model


def fallback_rows(inputs: RankingInputs) -> np.ndarray:
    """(n,) bool: the tracks the fallback chooses from, before the scope (module docstring)."""
    pool = inputs.heard & np.asarray(inputs.is_tail, dtype=bool)
    if inputs.is_soundtrack is not None and bool((pool & inputs.is_soundtrack).any()):
        pool &= np.asarray(inputs.is_soundtrack, dtype=bool)
    return pool


def fallback_list(inputs: RankingInputs, options: RankOptions) -> tuple[np.ndarray, np.ndarray]:
    """(k,) track rows of the fallback, best first (−1 padding), and their (k,) float32 scores (−inf padding)."""
    rows = np.flatnonzero(fallback_rows(inputs) & ~out_of_scope(inputs, options))
    listeners = np.asarray(inputs.listeners, dtype=np.float64)[rows]
    scores = ((1.0 + listeners) / (1.0 + listeners.max(initial=0.0))).astype(np.float32)
    candidates = Candidates(np.array([0, len(rows)], dtype=np.int64), rows, rows.astype(np.int64), {})
    chosen = replace(options, per_soundtrack=options.per_soundtrack or CAP, tail_share=0.0, calibrated=False)
    items = final_lists(inputs, candidates, scores, scores, chosen, [np.zeros(0, dtype=np.int64)])[0]
    values = np.full(len(items), -np.inf, dtype=np.float32)
    values[items >= 0] = scores[np.searchsorted(rows, items[items >= 0])]
    return items, values
