"""One fit for serving and the learned stage when the learned stage holds back a small share of the listens
(gems.stages.fitting): the served ALS and neighbours are fitted without the held-back tracks, the holding
listeners served from all their listens; above the share, the served fit sees every listen."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from gems.artifacts import layout
from gems.cf import ALSModel, FoldIn
from gems.config import BuildConfig, CFParams, ListensSource, RankerParams
from gems.model import Model
from gems.neighbours import ItemNeighbours
from gems.rank.training import choose_holdout, without
from gems.stages import build_model
from gems.stages.fitting import gram_of
from test_ranker import planted_listens

CF = CFParams(factors=16, iterations=10)


def build(root, shared_fit: float) -> Model:
    path = root / "listens.csv"
    planted_listens().to_csv(path, index=False)
    ranker = RankerParams(min_queries=50, max_queries=300, trees=60, pair_budget=0.1, shared_fit=shared_fit)
    config = BuildConfig(model=root / "model", listens=(ListensSource(path, "table"),), cf=CF, ranker=ranker)
    return Model(build_model(config).path)


def listens_of(model: Model):
    import scipy.sparse as sp

    indptr, indices, data = (np.asarray(a) for a in model.interactions)
    return sp.csr_matrix(
        (data, indices, indptr), shape=(len(indptr) - 1, model.folder.array(layout.ITEM_FACTORS).shape[0])
    )


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared"), shared_fit=0.5)


def test_a_small_hold_out_is_left_out_of_the_served_fit_and_its_listeners_are_served_from_all_their_listens(shared):
    matrix = listens_of(shared)
    params = RankerParams(min_queries=50, max_queries=300, trees=60, pair_budget=0.1, shared_fit=0.5)
    holdout = choose_holdout(matrix, params, np.zeros(matrix.shape[0], dtype=bool))
    stages = shared.manifest["stages"]
    assert stages["cf"]["counts"]["fitted_without"] == len(holdout.items) == stages["ranker"]["counts"]["held_back"]
    kept = without(matrix, holdout)
    als = ALSModel(**asdict(CF)).fit(kept)  # what the served fit must be: never the held-back tracks
    np.testing.assert_allclose(shared.folder.array(layout.ITEM_FACTORS), als.item_factors_, rtol=1e-5, atol=1e-6)
    served_users = shared.folder.array(layout.USER_FACTORS)
    others = np.setdiff1d(np.arange(matrix.shape[0]), holdout.users)
    np.testing.assert_allclose(served_users[others], als.user_factors_[others], rtol=1e-5, atol=1e-6)
    fold = FoldIn(als.item_factors_, gram_of(als.item_factors_), CF.regularization, als.weighting_)
    histories = [matrix[u].indices for u in holdout.users]
    expected = fold.user_vectors(histories, [matrix[u].data for u in holdout.users])
    np.testing.assert_allclose(served_users[holdout.users], expected, rtol=1e-4, atol=1e-5)  # all their listens
    graph = ItemNeighbours(k=100).fit(kept).to_arrays()
    for relpath, name in zip(layout.NEIGHBOURS, ("indptr", "indices", "data")):
        np.testing.assert_array_equal(shared.folder.array(relpath), graph[name])


def test_the_learned_stage_trains_on_the_shared_fit(shared):
    info = shared.folder.json(layout.RANKER_INFO)
    assert "skipped" not in info
    validation = info["validation"]
    assert validation["ranker"]["discount 0"]["ndcg@50"] > validation["blend"]["discount 0"]["ndcg@50"]


def test_above_the_share_the_served_fit_sees_every_listen(tmp_path):
    model = build(tmp_path, shared_fit=0.0)
    assert "fitted_without" not in model.manifest["stages"]["cf"]["counts"]
    als = ALSModel(**asdict(CF)).fit(listens_of(model))
    np.testing.assert_allclose(model.folder.array(layout.ITEM_FACTORS), als.item_factors_, rtol=1e-5, atol=1e-6)
