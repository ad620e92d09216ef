"""Playlists that flow: the order of a playlist's picks.

Ordering (:func:`flow_order`)
-----------------------------
The n picks are placed at positions 0..n−1. Every placement has a cost in [0, 1]:

    flow(i, j)  = (1 − cos(prev, j)) / 2      the step from the track before (position i − 1) to pick j, cosine
                                              in the best space both share (``Model.similarity``: blend, else
                                              audio, else cf); 1 (the largest step) when they share none.
                                              At position 0 the step is from the seeds: 1 − mean_s cos(s, j),
                                              halved, the mean over the seeds (or the history) j shares a space
                                              with.
    arc(i, j)   = |ê_j − target(i / (n − 1))|   only with ``arc``: ê_j the pick's energy (the audio feature
                                              ``rms_db_mean``; picks without audio take the picks' median) as
                                              its rank among the picks scaled to [0, 1]; target the tent
                                              t / PEAK rising to 1 at t = PEAK = 2/3, then (1 − t) / (1 − PEAK)
                                              falling back to 0 at the end.
    cost(i, j)  = (1 − λ) · flow(i, j) + λ · arc(i, j),   λ = ARC_WEIGHT (0.25) with ``arc``, else 0.

Energies enter by rank, so the tent asks for quantiles, not decibels: the rising two thirds and the falling
third can each sweep the picks' whole range of loudness. λ = 0.25 because on the demo's listeners (25 picks)
it gives energy sequences that follow the tent (correlation 0.88, against 0.28 without ``arc``) for a small
loss of flow (mean step cosine 0.22 against 0.25; 0.5 reaches 0.96 but steps no closer than rank order).

1. Start: the pick of least cost at position 0 — without ``arc`` the pick closest to the seeds (ties: the
   better-ranked pick).
2. Greedy walk: each next track is the unused pick of least cost after the current one, subject to the
   soundtrack rule: never the current track's soundtrack when a pick from another soundtrack is left (a hard
   rule). Among the picks the rule allows, only those after which the rest can still be ordered with the fewest
   unavoidable repeats are considered (a count known in closed form: with r tracks left after a track of
   soundtrack p, and c_g of them from soundtrack g, it is max(0, 2·c_p − r, max_{g≠p} 2·c_g − r − 1)), so the
   walk never corners itself into a run of one soundtrack it could have avoided. Picks without a soundtrack
   never clash.
3. Improvement (2-opt): reverse the segment between two positions (the start stays first) whenever that lowers
   the total cost Σ_i cost(i, ·), taking the best such reversal that keeps the soundtrack rule and adds no
   repeat, until none is left (at most 4n rounds). It removes the long jumps back a greedy walk leaves for its
   end: for 200 listeners of the MPD sample (25 picks, CF space) the mean step cosine goes 0.66 (rank order)
   -> 0.79 (greedy) -> 0.81, the weakest step 0.19 -> 0.28 -> 0.38; ~5 ms a playlist.

Everything is deterministic: ties go to the pick ranked higher.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

ARC_PEAK = 2 / 3
ARC_WEIGHT = 0.25
ENERGY_FEATURE = "rms_db_mean"


def arc_target(n: int) -> np.ndarray:
    """(n,) the energy each position asks for, in [0, 1]: a tent rising to 1 at ``ARC_PEAK`` of the way."""
    if n < 2:
        return np.zeros(n)
    t = np.arange(n) / (n - 1)
    return np.where(t <= ARC_PEAK, t / ARC_PEAK, (1 - t) / (1 - ARC_PEAK))


def energies(model, rows: np.ndarray) -> np.ndarray | None:
    """(n,) the ``rms_db_mean`` audio feature of each track (the median of the others for tracks without audio),
    or None when the model has no such feature or none of the tracks has audio."""
    features = model.audio_features
    if features is None or ENERGY_FEATURE not in features[2]:
        return None
    position, values, names = features
    at = position[np.asarray(rows, dtype=np.int64)]
    have = at >= 0
    if not have.any():
        return None
    column = names.index(ENERGY_FEATURE)
    out = np.full(len(at), np.nan)
    out[have] = np.asarray(values[at[have], column], dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    if np.isnan(out).all():
        return None
    return np.where(np.isnan(out), np.nanmedian(out), out)


def _rank01(values: np.ndarray) -> np.ndarray:
    """Each value's rank among ``values`` scaled to [0, 1] (ties share their mean rank)."""
    n = len(values)
    if n < 2:
        return np.full(n, 0.5)
    below = (values[None, :] < values[:, None]).sum(axis=1)
    equal = (values[None, :] == values[:, None]).sum(axis=1)
    return (below + (equal - 1) / 2) / (n - 1)


def _distance(sim: np.ndarray) -> np.ndarray:
    """Cosine similarity -> step size in [0, 1]; NaN (no shared space) -> 1."""
    return np.clip(np.nan_to_num((1 - sim) / 2, nan=1.0), 0.0, 1.0)


def _soundtrack_groups(model, rows: np.ndarray) -> np.ndarray:
    """(n,) a code per pick: equal for picks of one soundtrack; unique for picks with none."""
    codes: dict[str, int] = {}
    out = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        soundtrack = model.soundtracks[row]
        out[i] = len(rows) + i if soundtrack is None else codes.setdefault(soundtrack, len(codes))
    return out


def _forced_repeats(counts: np.ndarray, candidate_groups: np.ndarray, left: int) -> np.ndarray:
    """For each candidate next track (its group), the fewest same-soundtrack neighbours the tracks left after it
    must have. ``counts``: tracks left per group, candidates included; ``left``: their total."""
    order = np.argsort(-counts, kind="stable")
    top, m1 = order[0], counts[order[0]]
    m2 = counts[order[1]] if len(order) > 1 else 0
    other = np.where(candidate_groups == top, m2, m1)
    rest = left - 1
    own = counts[candidate_groups] - 1
    return np.maximum(0, np.maximum(2 * other - rest - 1, 2 * own - rest))


def _repeats(groups: np.ndarray) -> int:
    """How many times a track follows one of its own soundtrack."""
    return int((groups[1:] == groups[:-1]).sum())


def _follows_rule(groups: np.ndarray) -> bool:
    """No soundtrack twice in a row while another is left: after the first repeat, only that soundtrack."""
    same = np.flatnonzero(groups[1:] == groups[:-1])
    return len(same) == 0 or bool((groups[same[0] :] == groups[same[0]]).all())


def _greedy(step, first, groups, fit, weight) -> np.ndarray:
    n = len(first)
    order = [int(np.argmin(first))]
    left = np.ones(n, dtype=bool)
    left[order[0]] = False
    counts = np.bincount(groups, minlength=int(groups.max()) + 1)
    counts[groups[order[0]]] -= 1
    for i in range(1, n):
        current = order[-1]
        candidates = np.flatnonzero(left)
        if counts[groups[current]] > 0:  # a pick of the current soundtrack is left
            other = candidates[groups[candidates] != groups[current]]
            if len(other):
                candidates = other
        if counts.max() > 1:  # some soundtrack could still be forced to repeat
            repeats = _forced_repeats(counts, groups[candidates], n - i)
            candidates = candidates[repeats == repeats.min()]
        cost = (1 - weight) * step[current, candidates]
        if fit is not None:
            cost = cost + weight * fit[i, candidates]
        chosen = int(candidates[np.argmin(cost)])
        order.append(chosen)
        left[chosen] = False
        counts[groups[chosen]] -= 1
    return np.asarray(order, dtype=np.int64)


def _reversal_fit(fit: np.ndarray, order: np.ndarray) -> np.ndarray:
    """R[i, j] = Σ_{k=i..j} fit[k, order[i + j − k]]: the arc cost of positions i..j with that segment
    reversed (upper triangle)."""
    n = len(order)
    placed = fit[:, order]  # placed[k, m] = cost of the pick now at position m if it stood at position k
    reversed_ = np.zeros((n, n))
    reversed_[np.arange(n), np.arange(n)] = np.diag(placed)
    for length in range(1, n):
        i = np.arange(n - length)
        j = i + length
        inner = reversed_[i + 1, j - 1] if length > 1 else 0.0
        reversed_[i, j] = inner + placed[i, j] + placed[j, i]
    return reversed_


def _two_opt(order, step, groups, fit, weight) -> np.ndarray:
    n = len(order)
    if n < 3:
        return order
    i, j = np.triu_indices(n, 1)
    keep = i >= 1  # the start stays first
    i, j = i[keep], j[keep]
    last = j == n - 1
    for _ in range(4 * n):
        before, head, tail = order[i - 1], order[i], order[j]
        after = order[np.minimum(j + 1, n - 1)]
        delta = step[before, tail] - step[before, head] + np.where(last, 0.0, step[head, after] - step[tail, after])
        delta = (1 - weight) * delta
        if fit is not None:
            diagonal = np.r_[0.0, np.cumsum(fit[np.arange(n), order])]
            delta = delta + weight * (_reversal_fit(fit, order)[i, j] - (diagonal[j + 1] - diagonal[i]))
        better = np.flatnonzero(delta < -1e-9)
        if len(better) == 0:
            break
        better = better[np.argsort(delta[better], kind="stable")]
        repeats = _repeats(groups[order])
        for move in better[:64]:  # the best reversals first; the rule rarely rejects many
            candidate = order.copy()
            candidate[i[move] : j[move] + 1] = order[i[move] : j[move] + 1][::-1]
            if _repeats(groups[candidate]) <= repeats and _follows_rule(groups[candidate]):
                order = candidate
                break
        else:
            break
    return order


def flow_order(model, rows, seeds=None, *, arc: bool = False) -> np.ndarray:
    """The order (indices into ``rows``) in which to play the tracks ``rows``: see the module docstring.

    ``seeds``: the track rows the picks were chosen for (seeds or a listener's history) — the first track is the
    one closest to them; ``arc``: energy rises to a peak two thirds of the way, then falls.
    """
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    if n < 2:
        return np.arange(n)
    step = _distance(model.similarity(rows, rows))
    seeds = np.asarray([] if seeds is None else seeds, dtype=np.int64)
    if len(seeds):
        to_seeds = model.similarity(rows, np.unique(seeds))
        shared = ~np.isnan(to_seeds)
        mean = np.divide(
            np.where(shared, to_seeds, 0).sum(axis=1),
            shared.sum(axis=1),
            out=np.full(n, np.nan),
            where=shared.any(axis=1),
        )
        first = _distance(mean)
    else:
        first = np.full(n, 0.5)
    fit, weight = None, 0.0
    if arc:
        energy = energies(model, rows)
        if energy is None:
            log.warning(
                "--arc needs the audio feature %s, which none of these tracks has; ordered by flow only", ENERGY_FEATURE
            )
        else:
            weight = ARC_WEIGHT
            fit = np.abs(_rank01(energy)[None, :] - arc_target(n)[:, None])  # fit[position, pick]
            first = (1 - weight) * first + weight * fit[0]
    groups = _soundtrack_groups(model, rows)
    order = _greedy(step, first, groups, fit, weight)
    return _two_opt(order, step, groups, fit, weight)
