"""Training the learned second stage inside ``gems build`` (see :mod:`gems.rank.learned` for the design).

    choose_holdout   which listeners train it, and which of their tracks they hold back
    without          the listens with those tracks left out (what the components for training are fitted on)
    fit_ranker       candidates, features and labels of the training listeners -> LightGBM LambdaRank

LightGBM's Python package is imported here only: a build trains, serving scores through its C library.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np

from gems.rank.inputs import Queries, RankingInputs
from gems.rank.learned import NAMES, RankerParams, shortlist
from gems.rank.learned import features as features_of
from gems.rank.options import RankOptions
from gems.rank.retrieve import candidates_for
from gems.rank.score import blend, scaled_parts

log = logging.getLogger(__name__)

TRAIN_K = 50  # list length the ranker is trained for (its shortlist: 100 by the blend, 50 long-tail)
BLOCK = 256  # training listeners retrieved at once
VALIDATION_SHARE = 0.15  # of the training listeners, for early stopping and the report
PATIENCE = 50  # rounds without a better validation NDCG before training stops


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


def _labels(candidates, holdout: Holdout, positions: np.ndarray, is_tail: np.ndarray) -> np.ndarray:
    """Per entry: 2 held-back long-tail track, 1 held-back head track, 0 otherwise (``positions``: each
    candidate query's index into the holdout)."""
    n = len(is_tail)
    held_keys = np.concatenate(
        [q * n + holdout.held(p) for q, p in enumerate(positions)] or [np.zeros(0, dtype=np.int64)]
    )
    query = candidates.query
    hit = np.isin(query * n + candidates.rows, held_keys)
    return np.where(hit, np.where(is_tail[candidates.rows], 2, 1), 0).astype(np.int32)


def _ndcg(scores, labels, groups, gains, k: int) -> float:
    """Mean NDCG@k over queries (entries grouped by ``groups`` sizes) with the given gain per label."""
    out, start = [], 0
    for size in groups:
        s, g = scores[start : start + size], gains[labels[start : start + size]]
        start += size
        ideal = np.sort(g)[::-1][:k]
        discounts = 1 / np.log2(np.arange(2, k + 2))
        best = float((ideal * discounts[: len(ideal)]).sum())
        got = g[np.argsort(-s, kind="stable")][:k]
        out.append(float((got * discounts[: len(got)]).sum()) / best if best > 0 else 0.0)
    return float(np.mean(out)) if out else float("nan")


def training_rows(inputs: RankingInputs, queries: Queries, holdout: Holdout, options: RankOptions):
    """(features, labels, group sizes, blend scores) of the shortlists of every training listener with a
    held-back track on it, in blocks of BLOCK listeners."""
    options = replace(options, k=TRAIN_K, deep_cuts=False, scope="all")
    parts_out = ([], [], [], [])
    for start in range(0, len(queries), BLOCK):
        block = Queries(
            queries.histories[start : start + BLOCK],
            queries.user_rows[start : start + BLOCK],
            queries.weights[start : start + BLOCK],
        )
        candidates = candidates_for(inputs, block, options)
        parts = scaled_parts(candidates)
        blended = blend(candidates, parts, options.weights)
        tail_blended = blend(candidates, parts, options.tail_weights or options.weights)
        listed = shortlist(candidates, blended, tail_blended, inputs.is_tail[candidates.rows], TRAIN_K)
        labels = _labels(candidates, holdout, np.arange(start, start + len(block)), inputs.is_tail)
        query = candidates.query
        positive = np.bincount(query[listed & (labels > 0)], minlength=len(block)) > 0
        keep = listed & positive[query]
        parts_out[0].append(features_of(inputs, block, candidates, parts, keep))
        parts_out[1].append(labels[keep])
        parts_out[2].append(np.bincount(query[keep], minlength=len(block))[positive])
        parts_out[3].append(blended[keep])
    if not parts_out[0]:  # no listener to learn from
        return (
            np.zeros((0, len(NAMES)), np.float32),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
        )
    return tuple(np.concatenate(p) for p in parts_out)


def fit_ranker(
    inputs: RankingInputs, queries: Queries, holdout: Holdout, options: RankOptions, params: RankerParams
) -> tuple[str | None, dict]:
    """Train the ranker: (LightGBM's model text, or None when there are too few training listeners; what was
    trained and how it did on the validation listeners against the blend)."""
    import lightgbm

    matrix, labels, groups, blended = training_rows(inputs, queries, holdout, options)
    info = {"features": list(NAMES), "params": asdict(params), "queries": int(len(groups))}
    if len(groups) < params.min_queries:
        info["skipped"] = (
            f"only {len(groups)} training listeners had a held-back track among their candidates "
            f"(needs {params.min_queries}); ranking with the hand-set blend"
        )
        return None, info
    rng = np.random.default_rng(params.random_state)
    validation = rng.random(len(groups)) < VALIDATION_SHARE
    entry_query = np.repeat(np.arange(len(groups)), groups)
    train_rows, valid_rows = ~validation[entry_query], validation[entry_query]
    gains = np.array([0.0, 1.0, params.tail_gain])
    lgb_params = {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [TRAIN_K],
        "label_gain": gains.tolist(),
        "lambdarank_truncation_level": TRAIN_K,
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
    train_set = lightgbm.Dataset(
        matrix[train_rows], labels[train_rows], group=groups[~validation], feature_name=list(NAMES)
    )
    valid_set = lightgbm.Dataset(matrix[valid_rows], labels[valid_rows], group=groups[validation], reference=train_set)
    booster = lightgbm.train(
        lgb_params,
        train_set,
        num_boost_round=params.trees,
        valid_sets=[valid_set],
        callbacks=[lightgbm.early_stopping(PATIENCE, verbose=False)],
    )
    best = booster.best_iteration or params.trees
    valid_scores = booster.predict(matrix[valid_rows], num_iteration=best)
    importance = booster.feature_importance("gain", iteration=best)
    info.update(
        {
            "trees": int(best),
            "train_queries": int((~validation).sum()),
            "validation_queries": int(validation.sum()),
            "rows": int(len(labels)),
            "held_back_tracks_on_shortlists": int((labels > 0).sum()),
            "of_which_long_tail": int((labels == 2).sum()),
            f"validation_ndcg@{TRAIN_K}": {
                "ranker": _ndcg(valid_scores, labels[valid_rows], groups[validation], gains, TRAIN_K),
                "blend": _ndcg(blended[valid_rows], labels[valid_rows], groups[validation], gains, TRAIN_K),
            },
            "gain_by_feature": {name: round(float(v), 1) for name, v in zip(NAMES, importance)},
        }
    )
    log.info("ranker: %d trees on %d listeners, %s", best, info["train_queries"], info[f"validation_ndcg@{TRAIN_K}"])
    return booster.model_to_string(num_iteration=best), info
