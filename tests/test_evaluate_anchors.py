"""RP3beta and EASE^R against their formulas computed densely on small matrices, and their validation tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gems.evaluate.anchors import EASE, PopularityReranked, RP3beta, tuned
from gems.evaluate.data import train_data
from gems.evaluate.splits import random_holdout
from test_evaluate_baselines import FixedScores


def small_train(seed=0, users=40, items=25):
    rng = np.random.default_rng(seed)
    pairs = [(u, i) for u in range(users) for i in range(items) if rng.random() < 0.25 * (1 + (i < 5))]
    listens = pd.DataFrame({"user_id": [f"u{u:02d}" for u, _ in pairs], "track_id": [f"t{i:02d}" for _, i in pairs]})
    return train_data(listens)


def test_rp3beta_weights_are_the_random_walk_with_popularity_penalty():
    train = small_train()
    x = (train.user_items.toarray() > 0).astype(float)
    p_ui = x / x.sum(axis=1, keepdims=True).clip(1)
    p_iu = x.T / x.sum(axis=0)[:, None].clip(1)
    alpha, beta = 0.7, 0.4
    dense = (p_iu**alpha) @ (p_ui**alpha) / np.power(x.sum(axis=0).clip(1), beta)[None, :]
    np.fill_diagonal(dense, 0.0)
    model = RP3beta(alpha=alpha, beta=beta, neighbours=train.n_items).fit(train, block=7)
    np.testing.assert_allclose(model.weights_.toarray(), dense, rtol=1e-5, atol=1e-7)
    pruned = RP3beta(alpha=alpha, beta=beta, neighbours=3).fit(train).weights_
    assert (np.diff(pruned.indptr) <= 3).all()


def test_ease_solves_its_closed_form_and_never_returns_heard_or_cut_items():
    train = small_train(1)
    model = EASE(lam=5.0, max_items=10).fit(train)
    kept = model.items_
    assert len(kept) <= 10 and (train.listeners[kept] >= model.min_listeners_).all()
    x = (train.user_items.toarray() > 0).astype(float)[:, kept]
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(len(kept)))
    expected = np.eye(len(kept)) - p / np.diag(p)[None, :]
    np.testing.assert_allclose(model.weights_[0][kept], expected, atol=1e-5)
    items, _ = model.recommend(np.arange(train.n_users), 5)
    heard = train.user_items.toarray() > 0
    for user, row in enumerate(items):
        row = row[row >= 0]
        assert np.isin(row, kept).all() and not heard[user, row].any()


def test_tuning_keeps_the_parameters_best_on_validation_users():
    rng = np.random.default_rng(0)
    rows = [
        (u, i)
        for u in range(120)
        for i in rng.choice(60, size=12, replace=False, p=np.r_[np.full(10, 0.05), np.full(50, 0.01)])
    ]
    listens = pd.DataFrame({"user_id": [f"u{u}" for u, _ in rows], "track_id": [f"t{i}" for _, i in rows]})
    split = random_holdout(listens, seed=0)
    best, scores = tuned(RP3beta, [{"beta": 0.0}, {"beta": 0.9}], split, ks=(10,), name="RP3beta")
    assert set(scores) == {"{'beta': 0.0}", "{'beta': 0.9}"}
    for metric in ("ndcg", "psr"):
        low, high = scores["{'beta': 0.0}"][f"{metric}@10"], scores["{'beta': 0.9}"][f"{metric}@10"]
        assert best[metric].beta == (0.0 if low >= high else 0.9)
        assert best[metric].train_ is split.train
    # the popularity penalty is what PSR pays for: the PSR-best never has the smaller β of a tie-free pair
    assert scores["{'beta': 0.9}"]["psr@10"] > scores["{'beta': 0.0}"]["psr@10"]


def test_als_over_popularity_reorders_the_base_by_score_over_listeners():
    train = small_train(2)
    base = FixedScores(np.linspace(1.0, 0.5, train.n_items))
    listeners = train.listeners.astype(float)
    users = np.arange(train.n_users)
    for beta in (0.0, 0.7):
        items, scores = PopularityReranked(base, beta=beta, n_candidates=train.n_items).fit(train).recommend(users, 5)
        for u in users[:5]:
            unheard = np.setdiff1d(np.arange(train.n_items), train.user_items[u].indices)
            value = np.linspace(1.0, 0.5, train.n_items)[unheard] / listeners[unheard] ** beta
            expected = unheard[np.argsort(-value, kind="stable")][:5]
            np.testing.assert_array_equal(items[u], expected)
            np.testing.assert_allclose(scores[u], np.sort(value)[::-1][:5], rtol=1e-6)
    plain, _ = FixedScores(np.linspace(1.0, 0.5, train.n_items)).fit(train).recommend(users, 5)
    same, _ = PopularityReranked(base, beta=0.0).fit(train).recommend(users, 5)
    np.testing.assert_array_equal(same, plain)  # β = 0 is the base
