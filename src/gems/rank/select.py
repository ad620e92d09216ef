"""Selection: each query's final k tracks from its scored candidates, vectorised over a block of queries.

In order, for each query:
1. the best-scoring candidates (score > 0) fill the first k − q places, q = its reserved long-tail places;
2. the best long-tail candidates by the tail score fill the places left (the reserved q, and any the first
   pass could not fill);
3. the next best candidates fill whatever is still empty;
at most ``per_soundtrack`` picks of one soundtrack in every pass (0: no cap); then, within a soundtrack
the query loves, its theme moves behind that soundtrack's last deep cut in the list; then, when popularity is
discounted (discount > 0), the hits (popularity percentile ≥ 99) are spaced: the j-th hit of a list (j ≥ 1)
moves down behind (j − 1) · (``hit_spacing`` − 1) other picks where the list has them (after all of them
where it has not), so the first hit_spacing places hold at most one hit. So that those places can be filled,
the three passes take at most k − min(k, hit_spacing) + 1 hits, the best-scoring (a list of 10 holds one hit,
not ten moved to its end; a list of 50, up to 41); a fourth pass fills a list that the other candidates could
not with the hits left out, after everything else.

A greedy pass with a cap takes an entry exactly when fewer than ``cap`` entries of its soundtrack were taken
before it — those earlier in the same pass within the cap, plus those of earlier passes — and the pass still
has room; so each pass is a few sorts over all entries at once, not a loop. (The loop it equals lives in
the tests as their oracle.)
"""

from __future__ import annotations

import numpy as np

from gems.popularity import hit_mask
from gems.rank.inputs import RankingInputs, history_means
from gems.rank.options import RankOptions
from gems.rank.retrieve import Candidates


def tail_places(inputs: RankingInputs, options: RankOptions, histories: list[np.ndarray]) -> np.ndarray:
    """Reserved long-tail places of each query: ⌈tail_share · k⌉, or when ``calibrated``
    round(k · min(1, tail_share · 10 · f)), f the query's own share of long-tail tracks (so a listener deep in
    the tail gets more of it, a mainstream one less; tail_share 0.1 gives f's own share)."""
    if not options.calibrated:
        return np.full(len(histories), options.tail_places, dtype=np.int64)
    shares = history_means(histories, inputs.is_tail)
    return np.round(options.k * np.minimum(1.0, options.tail_share * 10 * shares)).astype(np.int64)


def ranked(query: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Order of entries grouped by ``query`` (ascending), then by ``values`` descending; ties keep entry order."""
    if len(values) and values.min() >= 0 and values.max() <= 1:
        # one float64 key, exact for float32 values in [0, 1]: one sort instead of lexsort's two passes
        return np.argsort(query * 2.0 + (1.0 - values.astype(np.float64)), kind="stable")
    return np.lexsort((-values, query))


def within(query: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """For entries grouped by query, the 0-based count of earlier flagged entries of the same query."""
    if len(query) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.cumsum(flags) - flags
    starts = np.r_[0, np.flatnonzero(np.diff(query)) + 1]
    offsets = np.repeat(counts[starts], np.diff(np.r_[starts, len(query)]))
    return counts - offsets


class _Caps:
    """Picks taken so far per (query, soundtrack), as sorted keys query · width + code and their counts."""

    def __init__(self, cap: int, width: int):
        self.cap, self.width = cap, width
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)

    def allowance(self, keys: np.ndarray) -> np.ndarray:
        """How many more picks each (query, soundtrack) key may take."""
        used = np.zeros(len(keys), dtype=np.int64)
        if len(self.keys):
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            hit = self.keys[at] == keys
            used[hit] = self.counts[at[hit]]
        return self.cap - used

    def add(self, keys: np.ndarray) -> None:
        """Count one more pick for each of ``keys``."""
        merged, inverse = np.unique(np.r_[self.keys, keys], return_inverse=True)
        weights = np.r_[self.counts, np.ones(len(keys), dtype=np.int64)]
        self.keys, self.counts = merged, np.bincount(inverse, weights=weights, minlength=len(merged)).astype(np.int64)


def _take(entries, query, codes, limit, caps: _Caps | None) -> np.ndarray:
    """Which of ``entries`` (in pass order, grouped by query) a greedy pass takes, with ``limit`` (b,) places."""
    eligible = np.ones(len(entries), dtype=bool)
    if caps is not None:
        code = codes[entries]
        capped = code >= 0
        group = query[entries] * caps.width + code
        order = np.argsort(np.where(capped, group, -1), kind="stable")
        sorted_group = np.where(capped, group, -1)[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_group)) + 1]
        rank = np.empty(len(entries), dtype=np.int64)
        rank[order] = np.arange(len(entries)) - np.repeat(starts, np.diff(np.r_[starts, len(entries)]))
        eligible = ~capped | (rank < caps.allowance(group))
    position = within(query[entries], eligible)
    taken = eligible & (position < limit[query[entries]])
    if caps is not None:
        caps.add((query[entries] * caps.width + codes[entries])[taken & (codes[entries] >= 0)])
    return taken


def final_lists(
    inputs: RankingInputs,
    candidates: Candidates,
    scores: np.ndarray,
    tail_scores: np.ndarray,
    options: RankOptions,
    histories: list[np.ndarray],
) -> np.ndarray:
    """(b × k) track rows of each query's final list, best first, −1 padding (module docstring)."""
    b, k = candidates.n_queries, options.k
    query, rows = candidates.query, candidates.rows
    places = np.minimum(tail_places(inputs, options, histories), k)
    codes = np.asarray(inputs.soundtrack_codes)[rows]
    caps = None
    if options.per_soundtrack > 0 and bool((codes >= 0).any()):
        caps = _Caps(options.per_soundtrack, int(codes.max()) + 1)
    order = ranked(query, scores)
    by_score = order[scores[order] > 0]
    if tail_scores is not scores:
        order = ranked(query, tail_scores)
    by_tail = order[(tail_scores[order] > 0) & inputs.is_tail[rows[order]]]
    spaced = options.discount > 0 and options.hit_spacing > 0
    is_hit = hit_mask(inputs.listeners) if spaced else None
    if spaced:  # room for k − min(k, hit_spacing) + 1 hits, the best-scoring: the first places need the others
        hit = is_hit[rows[by_score]]
        kept = np.ones(len(rows), dtype=bool)
        kept[is_hit[rows]] = False
        kept[by_score[hit & (within(query[by_score], hit) < k - min(k, options.hit_spacing) + 1)]] = True
        by_score, by_tail, by_score_all = by_score[kept[by_score]], by_tail[kept[by_tail]], by_score
    out = np.full((b, k), -1, dtype=np.int64)
    filled = np.zeros(b, dtype=np.int64)
    taken = np.zeros(len(rows), dtype=bool)
    passes = [(by_score, k - places), (by_tail, None), (by_score, None)]
    if spaced:  # a list the others cannot fill takes the hits left out, last
        passes.append((by_score_all, None))
    for entries, room in passes:
        entries = entries[~taken[entries]]
        limit = k - filled if room is None else room
        picked = entries[_take(entries, query, codes, limit, caps)]
        slot = filled[query[picked]] + within(query[picked], np.ones(len(picked), dtype=bool))
        out[query[picked], slot] = rows[picked]
        taken[picked] = True
        filled += np.bincount(query[picked], minlength=b)
    if inputs.is_theme.any():
        out = themes_last(inputs, out, histories)
    if spaced:
        out = hits_spaced(out, is_hit, options.hit_spacing)
    return out


def hits_spaced(out: np.ndarray, is_hit: np.ndarray, spacing: int) -> np.ndarray:
    """A (b × k) block of lists with hit j of each (from 0) no earlier than place j · spacing (from 0), the hits and
    the other picks each in their order: a merge in which hit j follows max(a_j, (spacing − 1) · j) other picks,
    a_j the other picks before it in the list (a hit that cannot be placed so goes after all of them)."""
    valid = out >= 0
    hit = valid & is_hit[np.maximum(out, 0)]
    other = valid & ~hit
    nth_hit = np.cumsum(hit, axis=1) - 1
    others_before = np.cumsum(other, axis=1) - other
    key = np.where(hit, np.maximum(others_before, (spacing - 1) * nth_hit) - 0.5, others_before).astype(np.float64)
    key[~valid] = np.inf  # padding stays last
    return np.take_along_axis(out, np.argsort(key, axis=1, kind="stable"), axis=1)


def themes_last(inputs: RankingInputs, out: np.ndarray, histories) -> np.ndarray:
    """A pick that is the theme of a soundtrack its query loves moves just behind the last pick of the same
    soundtrack, for a (b × k) block of lists."""
    b, k = out.shape
    valid = out >= 0
    codes = np.where(valid, inputs.soundtrack_codes[np.maximum(out, 0)], -1)
    own_query = np.repeat(np.arange(b), [len(h) for h in histories])
    own_codes = inputs.soundtrack_codes[np.concatenate(histories)] if histories else np.zeros(0, dtype=np.int64)
    width = int(max(inputs.soundtrack_codes.max(), 0)) + 1
    loved_keys = np.unique(own_query[own_codes >= 0] * width + own_codes[own_codes >= 0])
    loved = np.isin(np.arange(b)[:, None] * width + codes, loved_keys) & (codes >= 0)
    theme = loved & inputs.is_theme[np.maximum(out, 0)] & valid
    if not theme.any():
        return out
    same = (codes[:, :, None] == codes[:, None, :]) & (codes[:, :, None] >= 0)  # (b × k × k)
    last_same = np.where(same, np.arange(k)[None, None, :], -1).max(axis=2)
    key = np.where(theme & (last_same > np.arange(k)), last_same + 0.5, np.arange(k, dtype=np.float64))
    return np.take_along_axis(out, np.argsort(key, axis=1, kind="stable"), axis=1)
