"""Strong simple anchors for the comparison, each a :class:`gems.evaluate.data.Recommender`, and their tuning
on the validation users.

- ``RP3beta`` (Paudel, Christoffel, Newell & Bernstein 2016, "Updatable, accurate, diverse, and scalable
  recommendations for interactive applications"): a random walk user → item → user → item, its transition
  probabilities raised to ``alpha`` and the landing item's popularity discounted by ``beta``:

      W[i, j] = (Σ_u P_iu[i, u]^α · P_ui[u, j]^α) / L_j^β,   P_ui = 1/|I_u|,  P_iu = 1/|U_i|  (binarised listens)

  keeping each item's ``neighbours`` largest entries; score(u, j) = Σ_{i ∈ u} W[i, j].
- ``EASE`` (Steck 2019, "Embarrassingly shallow autoencoders for sparse data"): the closed-form item-item
  regression B = I − P · diag(1 / diag(P)), P = (XᵀX + λI)⁻¹, score(u) = x_u B. B is dense (items × items), so
  it is fitted on the most listened items only: those with at least ``min_listeners`` listeners, raised until
  at most ``max_items`` remain (6,000 items: a 6,000² float64 inverse takes ~300 MB and seconds); the other
  items are never recommended — which is why EASE reaches no further into the tail than its cut.

- ``PopularityReranked`` ("ALS / pop^β"): a base's (ALS's) top ``n_candidates`` re-ranked by
  score(u, i) / L_i^β, positive scores only — the simplest popularity-debiased recommender (β = 0: the base).

:func:`tuned` picks a method's parameters on the validation users twice — by NDCG and by PSR
(popularity-stratified recall, γ = 1) at the largest K — as fairness demands: every anchor gets the tuning
gems' own defaults had, for each end of the accuracy / long-tail frontier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from gems.errors import ParameterError
from gems.evaluate.baselines import _Baseline, _binary
from gems.evaluate.data import TrainData, best_columns, pad_invalid

log = logging.getLogger(__name__)

RP3BETA_GRID = [{"alpha": a, "beta": b} for a in (0.25, 0.5, 0.75, 1.0) for b in (0.0, 0.15, 0.3, 0.45, 0.6, 0.8)]
EASE_GRID = [{"lam": lam} for lam in (100.0, 300.0, 1000.0, 3000.0, 10000.0)]
POP_BETA_GRID = [{"beta": b} for b in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0)]
TUNED_BY = ("ndcg", "psr")  # each anchor is tuned for each of these, at the largest K


def _top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest stored entries of each row (ties: lower column first)."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(len(order)) - np.repeat(matrix.indptr[:-1], np.diff(matrix.indptr))
    keep = order[rank < k]
    return sp.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)


class _ItemItem(_Baseline):
    """score(u, j) = Σ_{i ∈ u} W[i, j] for a fitted item-item matrix ``weights_`` (CSR or dense)."""

    def recommend(self, users, k: int):
        users = self._users(users)
        train = self.train_
        heard = _binary(train.user_items[users])
        scores = heard @ self.weights_
        scores = scores.toarray() if sp.issparse(scores) else np.asarray(scores)
        scores = np.where(scores > 0, scores, -np.inf).astype(np.float32)
        return best_columns(scores, k, exclude=heard, copy=False)


class RP3beta(_ItemItem):
    """RP3beta item-item random walks (module docstring)."""

    def __init__(self, *, alpha: float = 1.0, beta: float = 0.5, neighbours: int = 100, name: str = "RP3beta"):
        if alpha <= 0 or beta < 0 or neighbours < 1:
            raise ParameterError(
                f"RP3beta needs alpha > 0, beta ≥ 0, neighbours ≥ 1; got {alpha}, {beta}, {neighbours}"
            )
        self.alpha, self.beta, self.neighbours, self.name = alpha, beta, neighbours, name

    def params(self) -> dict:
        return {"alpha": self.alpha, "beta": self.beta, "neighbours": self.neighbours}

    def fit(self, train: TrainData, *, block: int = 4096) -> RP3beta:
        if getattr(self, "train_", None) is train:  # fitted already (by its tuning)
            return self
        binary = _binary(train.user_items)
        per_user = np.maximum(np.diff(binary.indptr), 1).astype(np.float64)
        user_item = sp.diags(1.0 / per_user) @ binary  # P_ui
        item_user = (sp.diags(1.0 / np.maximum(train.listeners, 1)) @ binary.T.tocsr()).tocsr()  # P_iu
        user_item.data **= self.alpha
        item_user.data **= self.alpha
        penalty = sp.diags(np.power(np.maximum(train.listeners, 1).astype(np.float64), -self.beta))
        parts = []
        for start in range(0, train.n_items, block):
            walk = (item_user[start : start + block] @ user_item @ penalty).tocsr()
            rows = np.repeat(np.arange(walk.shape[0]), np.diff(walk.indptr)) + start
            walk.data[rows == walk.indices] = 0.0  # never an item with itself
            walk.eliminate_zeros()
            parts.append(_top_per_row(walk, self.neighbours))
        self.weights_ = sp.vstack(parts).tocsr().astype(np.float32)
        self.train_ = train
        return self


class EASE(_ItemItem):
    """EASE^R on the most listened items (module docstring)."""

    def __init__(self, *, lam: float = 500.0, min_listeners: int = 2, max_items: int = 6000, name: str = "EASE^R"):
        if lam <= 0 or min_listeners < 1 or max_items < 2:
            raise ParameterError(
                f"EASE needs λ > 0, min_listeners ≥ 1, max_items ≥ 2; got {lam}, {min_listeners}, {max_items}"
            )
        self.lam, self.min_listeners, self.max_items, self.name = lam, min_listeners, max_items, name

    def params(self) -> dict:
        return {"lambda": self.lam, "min_listeners": self.min_listeners_, "items": int(len(self.items_))}

    def fit(self, train: TrainData) -> EASE:
        if getattr(self, "train_", None) is train:  # fitted already (by its tuning)
            return self
        listeners = train.listeners
        cut = self.min_listeners
        while int((listeners >= cut).sum()) > self.max_items:
            cut += 1
        self.min_listeners_ = cut
        self.items_ = np.flatnonzero(listeners >= cut)
        x = _binary(train.user_items)[:, self.items_]
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.lam
        inverse = np.linalg.inv(gram)
        weights = -inverse / np.diag(inverse)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        full = np.zeros((train.n_items, len(self.items_)), dtype=np.float32)
        full[self.items_] = weights
        self.weights_ = (full, self.items_)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        heard = _binary(self.train_.user_items[users])
        weights, items = self.weights_
        scores = np.asarray(heard @ weights, dtype=np.float32)  # (users × kept items)
        scores[np.asarray(heard[:, items].toarray(), dtype=bool)] = -np.inf
        scores[scores <= 0] = -np.inf
        ids, values = best_columns(scores, k)
        return pad_invalid(np.where(ids >= 0, items[np.maximum(ids, 0)], -1), values, k)


class PopularityReranked(_Baseline):
    """A base recommender's top ``n_candidates`` re-ranked by score / L_i^β (module docstring); items the base
    scores ≤ 0 are dropped. The base is fitted unless it was already fitted on this very TrainData."""

    def __init__(self, base, *, beta: float = 0.25, n_candidates: int = 1000, name: str = "ALS / pop^β"):
        if beta < 0 or n_candidates < 1:
            raise ParameterError(f"ALS / pop^β needs β ≥ 0 and n_candidates ≥ 1; got {beta}, {n_candidates}")
        self.base, self.beta, self.n_candidates, self.name = base, beta, n_candidates, name

    def params(self) -> dict:
        return {"beta": self.beta, "n_candidates": self.n_candidates, "base": self.base.name}

    def fit(self, train: TrainData) -> PopularityReranked:
        if getattr(self.base, "train_", None) is not train:
            self.base.fit(train)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        items, scores = self.base.recommend(users, max(k, self.n_candidates))
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float64)
        valid = (items >= 0) & np.isfinite(scores) & (scores > 0)
        penalty = np.power(np.maximum(self.train_.listeners[np.maximum(items, 0)], 1).astype(np.float64), self.beta)
        reranked = np.where(valid, scores / penalty, -np.inf)
        order = np.argsort(-reranked, axis=1, kind="stable")[:, :k]
        return pad_invalid(np.take_along_axis(items, order, axis=1), np.take_along_axis(reranked, order, axis=1), k)


def tuned(
    make: Callable[..., object], grid: Sequence[dict], split, *, ks: Sequence[int], name: str, by=TUNED_BY
) -> tuple[dict[str, object], dict[str, dict[str, float]]]:
    """For each metric of ``by``, the method ``make(**params)`` whose params in ``grid`` score best on it at
    max(ks) on the split's validation users (:func:`tune`)."""
    users, truth = split.part("validation")
    return tune(make, grid, split.train, users, truth, k=max(ks), name=name, by=by)


def tune(
    make: Callable[..., object], grid: Sequence[dict], train, users, truth, *, k: int, name: str, by=TUNED_BY
) -> tuple[dict[str, object], dict[str, dict[str, float]]]:
    """For each metric of ``by``, the method ``make(**params)`` whose params in ``grid`` score best on it at K
    for ``users`` (rows of ``train``) against ``truth``; returns ({metric: that method, fitted, named
    ``name``}, each candidate's scores {str(params): {metric@K: value}})."""
    from gems.evaluate.metrics import list_metrics

    scores: dict[str, dict[str, float]] = {}
    best: dict[str, tuple[object, float]] = {}
    for params in grid:
        method = make(**params, name=name).fit(train)
        recs, _ = method.recommend(users, k)
        means = list_metrics(
            recs, truth, listeners=train.listeners, is_tail=train.is_tail, n_train_users=train.n_users, ks=(k,)
        ).means
        scores[str(params)] = {f"{metric}@{k}": round(float(means[f"{metric}@{k}"]), 4) for metric in by}
        log.info("%s %s: %s", name, params, scores[str(params)])
        for metric in by:
            value = means[f"{metric}@{k}"]
            if metric not in best or value > best[metric][1]:
                best[metric] = (method, value)
    return {metric: method for metric, (method, _) in best.items()}, scores
