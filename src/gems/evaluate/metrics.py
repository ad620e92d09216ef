"""Offline metrics: accuracy and beyond accuracy, on a (n_users × K) matrix of recommended item rows.

Conventions (the same as the independent evaluator's): ``recs[u]`` is user u's list, best first, item rows
of the training catalogue, −1 for an empty slot; ``truth[u]`` is u's held-out relevant item rows, **relevant
items absent from TRAIN already left out**. Gains are binary. A user with no relevant item is excluded from
every mean, list metrics and catalogue metrics included (its per-user values are NaN); lists are assumed free
of duplicates.

Per-user metrics (arrays with NaN where undefined; the reported value is the mean over defined users).
R_u = u's relevant items, L_i = item i's distinct training listeners, Tail = the long tail of
``gems.popularity.tail_mask`` on training listeners, "list" = the non-empty slots of the top K.

- Recall@K      = hits@K / min(|R_u|, K)                                           higher is better
- NDCG@K        = DCG@K / IDCG@K, DCG@K = Σ_{r ≤ K, rec_r ∈ R_u} 1 / log2(r + 1),
                  IDCG@K = Σ_{r=1}^{min(|R_u|, K)} 1 / log2(r + 1)                  higher is better
- R-precision   = hits in the top |R_u| / |R_u|; slots past the list's length are
                  misses, so it is exact for users with |R_u| ≤ the list length     higher is better
- HitRate@K     = 1 if hits@K ≥ 1 else 0                                           higher is better
- Tail recall@K = tail hits@K / min(|R_u ∩ Tail|, K), over users with a tail item   higher is better
- PSR@K         = popularity-stratified recall (Steck, RecSys 2011), γ = 1 (``psr``) or γ = ½ (``psr_half``):
                  Σ_{r ≤ K, rec_r ∈ R_u} w(rec_r) / Σ of the min(|R_u|, K) largest w(i), i ∈ R_u,
                  w(i) = 1 / max(L_i, 1)^γ (an item without training listeners weighs as one with a
                  single listener; with γ = 0 it is Recall@K)                      higher is better
- Hits@K        = |list ∩ Hits| / |list|, Hits = the tracks at popularity percentile ≥ 99 of the training
                  listeners (the 1% most played; ties with the track at the cut are hits too,
                  ``gems.popularity.hit_mask``)                                    lower = fewer hits picked
- ARP@K         = mean over the list of L_i                                        lower = less popular picks
- APLT@K        = |list ∩ Tail| / |list|                                           higher = more long tail
- Novelty@K     = mean over the list of −log2(L_i / n_users)                       higher = more novel

Catalogue metrics (one number for the whole population):

- Coverage@K    = |⋃_u list_u| / n_items (training items)                          higher is better
- Gini@K        = Gini coefficient of the exposure e_i = #lists containing item i, over every training
                  item: Σ_j (2j − n − 1) e_(j) / (n Σ e), e sorted ascending, j = 1..n. 0 = every item
                  recommended equally often, → 1 = one item gets all exposure      lower = fairer exposure

The soundtrack breakdown recomputes Recall/NDCG/HitRate/R-precision/tail recall with R_u restricted to
soundtrack items (and hits counted only on them), over users with ≥ 1 soundtrack relevant item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gems.errors import ParameterError
from gems.popularity import hit_mask, stratified_weight

DEFAULT_KS = (10, 50)

# name (without @K) -> (what it measures, which direction is better)
METRIC_INFO: dict[str, tuple[str, str]] = {
    "ndcg": ("normalised discounted cumulative gain, binary gains", "higher is better"),
    "recall": ("held-out items found, over min(|relevant|, K)", "higher is better"),
    "r_precision": ("hits in the top |relevant| over |relevant|", "higher is better"),
    "hit_rate": ("share of users with at least one hit", "higher is better"),
    "tail_recall": ("recall over held-out long-tail items only", "higher is better"),
    "psr": ("popularity-stratified recall, a found item counts 1 / listeners", "higher is better"),
    "psr_half": ("popularity-stratified recall, a found item counts 1 / √listeners", "higher is better"),
    "hits": ("share of each list among the 1% most played training items", "lower means fewer hits picked"),
    "arp": ("mean training listener count of recommended items", "lower means less popular picks"),
    "aplt": ("share of each list in the long tail", "higher means more long-tail picks"),
    "coverage": ("share of training items recommended to anyone", "higher is better"),
    "novelty": ("mean self-information −log2(L_i / n_users) of picks", "higher means more novel picks"),
    "gini": ("Gini coefficient of exposure over training items", "lower means fairer exposure (0 = equal)"),
}
ACCURACY = ("ndcg", "recall", "r_precision", "hit_rate")
BEYOND = ("psr", "psr_half", "hits", "tail_recall", "aplt", "arp", "novelty", "coverage", "gini")
PSR_GAMMAS = {"psr": 1.0, "psr_half": 0.5}
HITS_AT = 10  # hits@10 is reported whatever the cut-offs
SOUNDTRACK = ("ndcg", "recall", "r_precision", "hit_rate", "tail_recall")


# ---------------------------------------------------------------------------------------------- building blocks


def _check_recs(recs: np.ndarray) -> np.ndarray:
    recs = np.asarray(recs)
    if recs.ndim != 2:
        raise ParameterError(f"recommendations must be a (n_users × K) matrix, got shape {recs.shape}")
    return recs.astype(np.int64, copy=False)


def _cut(k: int, width: int) -> int:
    if k < 1:
        raise ParameterError(f"K must be ≥ 1, got {k}")
    return min(k, width)


def hit_matrix(recs: np.ndarray, truth: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """(n × K) bool: is ``recs[u, r]`` one of ``truth[u]``? Padding (−1) never hits."""
    recs = _check_recs(recs)
    if len(truth) != len(recs):
        raise ParameterError(f"{len(recs)} recommendation lists but {len(truth)} truth sets; they must pair up")
    n_items = max(int(n_items), 1)
    lengths = np.fromiter((len(t) for t in truth), dtype=np.int64, count=len(truth))
    if lengths.sum() == 0:
        return np.zeros(recs.shape, dtype=bool)
    truth_items = np.concatenate([np.asarray(t, dtype=np.int64) for t in truth])
    truth_keys = np.repeat(np.arange(len(truth), dtype=np.int64), lengths) * n_items + truth_items
    rec_keys = np.arange(len(recs), dtype=np.int64)[:, None] * n_items + recs
    return np.isin(rec_keys, truth_keys) & (recs >= 0)


def relevant_counts(truth: Sequence[np.ndarray], mask: np.ndarray | None = None) -> np.ndarray:
    """|R_u| per user, or |R_u ∩ {i : mask_i}| when ``mask`` (n_items bool) is given."""
    lengths = np.fromiter((len(t) for t in truth), dtype=np.int64, count=len(truth))
    if mask is None or lengths.sum() == 0:
        return lengths if mask is None else np.zeros(len(truth), dtype=np.int64)
    flags = np.asarray(mask, dtype=np.int64)[np.concatenate([np.asarray(t, dtype=np.int64) for t in truth])]
    owner = np.repeat(np.arange(len(truth)), lengths)
    return np.bincount(owner, weights=flags, minlength=len(truth)).astype(np.int64)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Recall@K = hits in the top K / min(|R_u|, K); NaN for users with |R_u| = 0. Higher is better."""
    kk = _cut(k, hits.shape[1])
    n_hits = hits[:, :kk].sum(axis=1).astype(np.float64)
    denom = np.minimum(n_relevant, k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, n_hits / denom, np.nan)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """NDCG@K with binary gains: Σ_{r≤K} hit_r / log2(r+1) over Σ_{r=1}^{min(|R_u|,K)} 1 / log2(r+1).

    NaN for users with |R_u| = 0. Higher is better (1 = all top slots relevant)."""
    kk = _cut(k, hits.shape[1])
    disc = _discounts(k)
    dcg = (hits[:, :kk] * disc[:kk]).sum(axis=1)
    ideal = np.r_[0.0, np.cumsum(disc)][np.minimum(n_relevant, k)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, dcg / ideal, np.nan)


def hit_rate_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """HitRate@K = 1 when at least one relevant item is in the top K, else 0; NaN when |R_u| = 0."""
    kk = _cut(k, hits.shape[1])
    return np.where(n_relevant > 0, hits[:, :kk].any(axis=1).astype(np.float64), np.nan)


def r_precision(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """R-precision = hits in the top |R_u| / |R_u| (slots past the list's end are misses); NaN when |R_u| = 0."""
    width = hits.shape[1]
    cum = np.concatenate([np.zeros((len(hits), 1)), np.cumsum(hits, axis=1)], axis=1)
    depth = np.minimum(n_relevant, width)
    found = cum[np.arange(len(hits)), depth]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_relevant > 0, found / n_relevant, np.nan)


def _list_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    count = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def arp_at_k(recs: np.ndarray, listeners: np.ndarray, k: int) -> np.ndarray:
    """ARP@K per user = mean training listener count L_i of the (non-empty) slots of the top K; NaN for an
    empty list. Lower means less popular picks."""
    recs = _check_recs(recs)[:, : _cut(k, np.shape(recs)[1])]
    valid = recs >= 0
    return _list_mean(np.asarray(listeners, dtype=np.float64)[np.where(valid, recs, 0)], valid)


def aplt_at_k(recs: np.ndarray, is_tail: np.ndarray, k: int) -> np.ndarray:
    """APLT@K per user = |top-K list ∩ Tail| / |top-K list| (non-empty slots); NaN for an empty list.
    Higher means more of the list in the long tail."""
    recs = _check_recs(recs)[:, : _cut(k, np.shape(recs)[1])]
    valid = recs >= 0
    return _list_mean(np.asarray(is_tail, dtype=np.float64)[np.where(valid, recs, 0)], valid)


def novelty_at_k(recs: np.ndarray, listeners: np.ndarray, n_users: int, k: int) -> np.ndarray:
    """Novelty@K per user = mean over the top-K list of −log2(L_i / n_users) (L_i ≥ 1 for training items);
    NaN for an empty list. Higher means more novel (less popular) picks."""
    recs = _check_recs(recs)[:, : _cut(k, np.shape(recs)[1])]
    valid = recs >= 0
    info = -np.log2(np.maximum(np.asarray(listeners, dtype=np.float64), 1.0) / max(int(n_users), 1))
    return _list_mean(info[np.where(valid, recs, 0)], valid)


def tail_recall_at_k(
    hits: np.ndarray, recs: np.ndarray, is_tail: np.ndarray, n_tail_relevant: np.ndarray, k: int
) -> np.ndarray:
    """Tail recall@K = tail hits in the top K / min(|R_u ∩ Tail|, K), NaN for users with no tail relevant item.
    Higher is better."""
    recs = _check_recs(recs)
    tail_hits = hits & np.asarray(is_tail, dtype=bool)[np.where(recs >= 0, recs, 0)]
    return recall_at_k(tail_hits, n_tail_relevant, k)


def psr_at_k(
    hits: np.ndarray, recs: np.ndarray, truth: Sequence[np.ndarray], listeners: np.ndarray, k: int, gamma: float
) -> np.ndarray:
    """PSR@K per user (module docstring): found weight over the best min(|R_u|, K) held-out weights,
    w(i) = 1 / max(L_i, 1)^γ; NaN for users with |R_u| = 0. Higher is better."""
    recs = _check_recs(recs)
    kk = _cut(k, recs.shape[1])
    weight = stratified_weight(listeners, gamma)
    found = np.where(hits[:, :kk], weight[np.where(recs[:, :kk] >= 0, recs[:, :kk], 0)], 0.0).sum(axis=1)
    lengths = relevant_counts(truth)
    best = np.zeros(len(truth))
    if lengths.sum():
        owner = np.repeat(np.arange(len(truth)), lengths)
        w = weight[np.concatenate([np.asarray(t, dtype=np.int64) for t in truth])]
        order = np.lexsort((-w, owner))
        place = np.arange(len(order)) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        counted = order[place < k]
        best = np.bincount(owner[counted], weights=w[counted], minlength=len(truth))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(lengths > 0, found / best, np.nan)


def hits_at_k(recs: np.ndarray, is_hit: np.ndarray, k: int) -> np.ndarray:
    """Hits@K per user = |top-K list ∩ Hits| / |top-K list| (non-empty slots), ``is_hit`` (n_items,) bool from
    :func:`gems.popularity.hit_mask`; NaN for an empty list. Lower means fewer of the most played picks."""
    return aplt_at_k(recs, is_hit, k)


def exposure(recs: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """Number of top-K lists each training item appears in, shape (n_items,)."""
    recs = _check_recs(recs)[:, : _cut(k, np.shape(recs)[1])]
    flat = recs[recs >= 0]
    return np.bincount(flat, minlength=n_items)[:n_items]


def coverage_at_k(recs: np.ndarray, n_items: int, k: int) -> float:
    """Coverage@K = distinct items in any top-K list / n_items (training items). Higher is better."""
    if n_items <= 0:
        return float("nan")
    return float((exposure(recs, n_items, k) > 0).sum() / n_items)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: Σ_j (2j − n − 1) x_(j) / (n Σ x), x sorted ascending, j = 1..n.
    0 when all are equal; (n − 1)/n when one value holds everything; NaN when the sum is 0."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    j = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * j - n - 1) * x).sum() / (n * total))


def gini_at_k(recs: np.ndarray, n_items: int, k: int) -> float:
    """Gini@K of exposure over every training item (items never recommended count with exposure 0).
    0 = equal exposure; lower is better for long-tail exposure."""
    return gini(exposure(recs, n_items, k))


def nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    return float(values[finite].mean()) if finite.any() else float("nan")


# ---------------------------------------------------------------------------------------------- all at once


@dataclass
class ListMetrics:
    """Every metric for one method: ``means`` (name@K → value), ``per_user`` (name@K → array over the
    evaluated users, NaN where undefined) and ``n_users`` (name@K → users counted in the mean)."""

    means: dict[str, float] = field(default_factory=dict)
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    n_users: dict[str, int] = field(default_factory=dict)

    def _put(self, key: str, values: np.ndarray) -> None:
        self.per_user[key] = values
        self.means[key] = nanmean(values)
        self.n_users[key] = int((~np.isnan(values)).sum())

    def _put_scalar(self, key: str, value: float) -> None:
        self.means[key] = float(value)


def list_metrics(
    recs: np.ndarray,
    truth: Sequence[np.ndarray],
    *,
    listeners: np.ndarray,
    is_tail: np.ndarray,
    n_train_users: int,
    ks: Sequence[int] = DEFAULT_KS,
    is_soundtrack: np.ndarray | None = None,
) -> ListMetrics:
    """All metrics at every K in ``ks`` for lists ``recs`` (n × ≥max K) against ``truth`` (n arrays).

    listeners/is_tail/is_soundtrack: per training item, shape (n_items,). R-precision uses the whole list.
    """
    recs = _check_recs(recs)
    n_items = len(listeners)
    if recs.size and recs.max() >= n_items:
        raise ParameterError(f"a recommended item row ({recs.max()}) is outside the {n_items} training items")
    ks = sorted({int(k) for k in ks})
    is_tail = np.asarray(is_tail, dtype=bool)
    is_hit = hit_mask(listeners)
    hits = hit_matrix(recs, truth, n_items)
    n_rel = relevant_counts(truth)
    n_tail = relevant_counts(truth, is_tail)
    active = n_rel > 0  # users with no relevant item are left out of every mean, list metrics included

    def only_active(values: np.ndarray) -> np.ndarray:
        return np.where(active, values, np.nan)

    out = ListMetrics()
    for k in ks:
        out._put(f"ndcg@{k}", ndcg_at_k(hits, n_rel, k))
        out._put(f"recall@{k}", recall_at_k(hits, n_rel, k))
        out._put(f"hit_rate@{k}", hit_rate_at_k(hits, n_rel, k))
        out._put(f"tail_recall@{k}", tail_recall_at_k(hits, recs, is_tail, n_tail, k))
        for name, gamma in PSR_GAMMAS.items():
            out._put(f"{name}@{k}", psr_at_k(hits, recs, truth, listeners, k, gamma))
        out._put(f"arp@{k}", only_active(arp_at_k(recs, listeners, k)))
        out._put(f"aplt@{k}", only_active(aplt_at_k(recs, is_tail, k)))
        out._put(f"novelty@{k}", only_active(novelty_at_k(recs, listeners, n_train_users, k)))
        out._put_scalar(f"coverage@{k}", coverage_at_k(recs[active], n_items, k))
        out._put_scalar(f"gini@{k}", gini_at_k(recs[active], n_items, k))
    for k in sorted(set(ks) | {HITS_AT}):
        out._put(f"hits@{k}", only_active(hits_at_k(recs, is_hit, k)))
    out._put("r_precision", r_precision(hits, n_rel))
    if is_soundtrack is not None:
        st = np.asarray(is_soundtrack, dtype=bool)
        st_hits = hits & st[np.where(recs >= 0, recs, 0)]
        n_st = relevant_counts(truth, st)
        n_st_tail = relevant_counts(truth, st & is_tail)
        for k in ks:
            out._put(f"soundtrack_ndcg@{k}", ndcg_at_k(st_hits, n_st, k))
            out._put(f"soundtrack_recall@{k}", recall_at_k(st_hits, n_st, k))
            out._put(f"soundtrack_hit_rate@{k}", hit_rate_at_k(st_hits, n_st, k))
            out._put(f"soundtrack_tail_recall@{k}", tail_recall_at_k(st_hits, recs, is_tail, n_st_tail, k))
        out._put("soundtrack_r_precision", r_precision(st_hits, n_st))
    return out
