"""Training the learned second stage inside ``gems build`` (see :mod:`gems.rank.learned` for the design).

    choose_holdout   which listeners train it, and which of their tracks they hold back
    without          the listens with those tracks left out (what the components for training are fitted on)
    fit_ranker       candidates, features and labels of the training listeners -> LightGBM, binary: P(held back)

LightGBM's Python package is imported here only: a build trains, serving scores through its C library.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np

from gems.popularity import popularity_discount, stratified_weight
from gems.rank.features import NAMES
from gems.rank.features import features as features_of
from gems.rank.inputs import Queries, RankingInputs
from gems.rank.learned import RankerParams
from gems.rank.options import RankOptions
from gems.rank.retrieve import candidates_for
from gems.rank.score import blend, scaled_parts

log = logging.getLogger(__name__)

TRAIN_K = 50  # list length the ranker is trained for: retrieval pools as for a top 50
BLOCK = 256  # training listeners retrieved at once
VALIDATION_SHARE = 0.15  # of the training listeners, for early stopping and the report
PATIENCE = 50  # rounds without a better validation log loss before training stops


@dataclass
class Holdout:
    """The listeners that train the ranker (``users``: rows) and the tracks each holds back (CSR layout:
    user i holds back ``items[indptr[i]:indptr[i + 1]]``, sorted)."""

    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray

    def held(self, i: int) -> np.ndarray:
        return self.items[self.indptr[i] : self.indptr[i + 1]]

    def matrix(self, shape: tuple[int, int]):
        """(users × items) binary CSR matrix of the held-back pairs."""
        import scipy.sparse as sp

        rows = np.repeat(self.users, np.diff(self.indptr))
        return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, self.items)), shape=shape)


def choose_holdout(user_items, params: RankerParams, excluded: np.ndarray) -> Holdout:
    """A seeded sample of listeners with at least ``min_tracks`` tracks, none of ``excluded`` (n_users,) bool,
    each keeping a share drawn from [keep_low, keep_high] of its tracks (at least one) and holding back the
    rest (at least one), until ``max_queries`` listeners or ``pair_budget`` of all pairs are held back."""
    rng = np.random.default_rng(params.random_state)
    counts = np.diff(user_items.indptr)
    eligible = np.flatnonzero((counts >= params.min_tracks) & ~excluded)
    budget = params.pair_budget * user_items.nnz
    users, held, spent = [], [], 0
    for user in rng.permutation(eligible):
        if len(users) >= params.max_queries or spent >= budget:
            break
        tracks = user_items.indices[user_items.indptr[user] : user_items.indptr[user + 1]]
        keep = min(len(tracks) - 1, max(1, int(round(rng.uniform(params.keep_low, params.keep_high) * len(tracks)))))
        back = np.sort(rng.choice(tracks, size=len(tracks) - keep, replace=False))
        users.append(int(user))
        held.append(back)
        spent += len(back)
    order = np.argsort(users, kind="stable")
    users = np.asarray(users, dtype=np.int64)[order]
    held = [held[i] for i in order]
    indptr = np.r_[0, np.cumsum([len(h) for h in held])].astype(np.int64)
    items = np.concatenate(held).astype(np.int64) if held else np.zeros(0, dtype=np.int64)
    return Holdout(users, indptr, items)


def without(user_items, holdout: Holdout):
    """``user_items`` (CSR) with the held-back pairs removed."""
    held = holdout.matrix(user_items.shape)
    kept = user_items - user_items.multiply(held)
    kept.eliminate_zeros()
    return kept.tocsr()


def _held_back(candidates, holdout: Holdout, positions: np.ndarray, n: int) -> np.ndarray:
    """(nnz,) bool: is the entry one of its query's held-back tracks (``positions``: each candidate query's
    index into the holdout)?"""
    held_keys = np.concatenate(
        [q * n + holdout.held(p) for q, p in enumerate(positions)] or [np.zeros(0, dtype=np.int64)]
    )
    return np.isin(candidates.query * n + candidates.rows, held_keys)


def _list_scores(scores, labels, listeners, groups, discount: float, k: int) -> dict[str, float]:
    """Mean NDCG@k (binary gains) and PSR@k (γ 1) over queries (entries grouped by ``groups`` sizes) of the lists
    ranked by scores · (1 + L)^−discount; the ideal of each is taken over the held-back tracks on the candidates."""
    ranked_by = scores * popularity_discount(listeners, discount)
    weight = stratified_weight(listeners, 1.0)
    discounts = 1 / np.log2(np.arange(2, k + 2))
    ndcg, psr, start = [], [], 0
    for size in groups:
        part = slice(start, start + size)
        start += size
        hit, w = labels[part] > 0, weight[part]
        top = np.argsort(-ranked_by[part], kind="stable")[:k]
        n_hit = min(int(hit.sum()), k)
        ndcg.append(float((hit[top] * discounts[: len(top)]).sum() / discounts[:n_hit].sum()))
        psr.append(float((w[top] * hit[top]).sum() / np.sort(w[hit])[::-1][:k].sum()))
    return {f"ndcg@{k}": float(np.mean(ndcg)), f"psr@{k}": float(np.mean(psr))}


def training_rows(inputs: RankingInputs, queries: Queries, holdout: Holdout, options: RankOptions):
    """(features, labels (1: a held-back track), group sizes, blend scores) of every candidate of every training
    listener with a held-back track among its candidates, in blocks of BLOCK listeners."""
    options = replace(options, k=TRAIN_K, deep_cuts=False, scope="all")
    parts_out = ([], [], [], [])
    for start in range(0, len(queries), BLOCK):
        block = queries.take(slice(start, start + BLOCK))
        candidates = candidates_for(inputs, block, options)
        parts = scaled_parts(candidates)
        labels = _held_back(candidates, holdout, np.arange(start, start + len(block)), inputs.n_items)
        query = candidates.query
        positive = np.bincount(query[labels], minlength=len(block)) > 0
        keep = positive[query]
        parts_out[0].append(features_of(inputs, block, candidates, parts)[keep])
        parts_out[1].append(labels[keep].astype(np.int32))
        parts_out[2].append(np.bincount(query[keep], minlength=len(block))[positive])
        parts_out[3].append(blend(candidates, parts, options.weights)[keep])
    if not parts_out[0]:  # no listener to learn from
        return (
            np.zeros((0, len(NAMES)), np.float32),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
        )
    return tuple(np.concatenate(p) for p in parts_out)


def validation_queries(groups: np.ndarray, params: RankerParams) -> np.ndarray:
    """(len(groups),) bool: the seeded share of training listeners kept for early stopping and the report."""
    return np.random.default_rng(params.random_state).random(len(groups)) < VALIDATION_SHARE


def fit_booster(matrix: np.ndarray, labels: np.ndarray, groups: np.ndarray, params: RankerParams):
    """LightGBM's binary model of P(held back) on the training rows (``groups``: entries per listener), early
    stopped on the validation listeners' log loss; returns (its model text, the booster)."""
    import lightgbm

    validation = validation_queries(groups, params)
    entry_query = np.repeat(np.arange(len(groups)), groups)
    train_rows, valid_rows = ~validation[entry_query], validation[entry_query]
    lgb_params = {
        "objective": "binary",
        "metric": "binary_logloss",
        "num_leaves": params.leaves,
        "learning_rate": params.learning_rate,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": params.random_state,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }
    train_set = lightgbm.Dataset(matrix[train_rows], labels[train_rows], feature_name=list(NAMES))
    valid_set = lightgbm.Dataset(matrix[valid_rows], labels[valid_rows], reference=train_set)
    booster = lightgbm.train(
        lgb_params,
        train_set,
        num_boost_round=params.trees,
        valid_sets=[valid_set],
        callbacks=[lightgbm.early_stopping(PATIENCE, verbose=False)],
    )
    booster.best_iteration = booster.best_iteration or params.trees
    return booster.model_to_string(num_iteration=booster.best_iteration), booster


def fit_ranker(
    inputs: RankingInputs, queries: Queries, holdout: Holdout, options: RankOptions, params: RankerParams
) -> tuple[str | None, dict]:
    """Train the ranker: (LightGBM's model text, or None when there are too few training listeners; what was
    trained and how it did on the validation listeners against the blend)."""
    matrix, labels, groups, blended = training_rows(inputs, queries, holdout, options)
    info = {"features": list(NAMES), "params": asdict(params), "queries": int(len(groups))}
    if len(groups) < params.min_queries:
        info["skipped"] = (
            f"only {len(groups)} training listeners had a held-back track among their candidates "
            f"(needs {params.min_queries}); ranking with the hand-set blend"
        )
        return None, info
    text, booster = fit_booster(matrix, labels, groups, params)
    best = booster.best_iteration
    validation = validation_queries(groups, params)
    valid_rows = validation[np.repeat(np.arange(len(groups)), groups)]
    valid_scores = booster.predict(matrix[valid_rows], num_iteration=best)
    importance = booster.feature_importance("gain", iteration=best)
    listeners = np.expm1(matrix[valid_rows, NAMES.index("listeners")].astype(np.float64))
    groups_valid = groups[validation]

    def lists(scores) -> dict[str, dict[str, float]]:
        return {
            f"discount {d:g}": _list_scores(scores, labels[valid_rows], listeners, groups_valid, d, TRAIN_K)
            for d in sorted({0.0, options.discount})
        }

    info.update(
        {
            "trees": int(best),
            "train_queries": int((~validation).sum()),
            "validation_queries": int(validation.sum()),
            "rows": int(len(labels)),
            "held_back_tracks_among_candidates": int(labels.sum()),
            "validation": {"ranker": lists(valid_scores), "blend": lists(blended[valid_rows])},
            "gain_by_feature": {name: round(float(v), 1) for name, v in zip(NAMES, importance)},
        }
    )
    log.info("ranker: %d trees on %d listeners, %s", best, info["train_queries"], info["validation"])
    return text, info
