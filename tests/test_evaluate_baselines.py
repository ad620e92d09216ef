"""Baselines on listening matrices whose right answer is known by construction, plus one shared contract."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gems.errors import ModelError, ParameterError
from gems.evaluate.anchors import EASE, PopularityReranked, RP3beta
from gems.evaluate.baselines import ALS, AudioOnly, ItemKNN, MostPopular, Random, XQuAD, default_baselines
from gems.evaluate.data import Recommender, TrainData, train_data
from gems.evaluate.metrics import aplt_at_k


def block_train(n_users=60, n_items=12, groups=3, seed=0, drop=((0, 3),), audio=False) -> TrainData:
    """Users of group g listen to most items of group g and nothing else; ``drop`` removes (user, item) pairs."""
    rng = np.random.default_rng(seed)
    per_group = n_items // groups
    rows = []
    for u in range(n_users):
        g = u % groups
        chosen = rng.choice(per_group, size=per_group - 1, replace=False) + g * per_group
        rows += [(u, int(i)) for i in chosen]
    rows += [(u, g * per_group + j) for u in range(3) for g in [u % groups] for j in range(per_group)]
    frame = pd.DataFrame(rows, columns=["u", "i"]).drop_duplicates()
    frame = frame[~frame.apply(lambda r: (r.u, r.i) in set(drop), axis=1)]
    listens = pd.DataFrame({"user_id": frame.u.map("u{:03d}".format), "track_id": frame.i.map("i{:03d}".format)})
    vectors = None
    if audio:
        ids = np.array([f"i{i:03d}" for i in range(n_items)])
        vecs = np.eye(groups)[np.arange(n_items) // per_group] + 0.01 * rng.standard_normal((n_items, groups))
        vectors = (ids, vecs)
    return train_data(listens, audio=vectors)


class FixedScores:
    """A stub base recommender: the same item scores for every user (training items excluded)."""

    name = "fixed"

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def fit(self, train):
        self.train_ = train
        return self

    def recommend(self, users, k):
        from gems.evaluate.data import best_columns

        block = np.tile(self.scores, (len(users), 1))
        return best_columns(block, k, exclude=self.train_.user_items[users])


def block_listens(n_users=60, n_items=12, groups=3, seed=0) -> pd.DataFrame:
    """The listens of :func:`block_train` as a table (user_id, track_id)."""
    train = block_train(n_users, n_items, groups, seed, drop=())
    rows, cols = train.user_items.nonzero()
    return pd.DataFrame({"user_id": train.user_ids[rows], "track_id": train.item_ids[cols]})


class RecommenderContract:
    """What every recommender under evaluation promises (implicit's checkerboard mixin is the model): one class
    of tests each recommender runs by subclassing it and saying how to make and fit it (``fitted``)."""

    def fitted(self, tmp_path) -> tuple[Recommender, TrainData]:
        raise NotImplementedError

    def test_lists_are_shaped_padded_unique_and_never_a_training_item(self, tmp_path):
        method, train = self.fitted(tmp_path)
        assert isinstance(method, Recommender)
        users = np.arange(train.n_users)
        k = train.n_items  # more than any user has left: the rest must be padding
        items, scores = method.recommend(users, k)
        assert items.shape == scores.shape == (len(users), k)
        for u in users:
            heard = set(train.user_items[u].indices)
            got = items[u][items[u] >= 0]
            assert not heard & set(got), method.name
            assert len(set(got)) == len(got)
            assert np.all(np.isneginf(scores[u][items[u] < 0]))
            assert len(got) <= train.n_items - len(heard)
            assert (items[u] >= 0).sum() == 0 or items[u][0] >= 0  # padding only at the end
            assert np.all(np.diff((items[u] < 0).astype(int)) >= 0)

    def test_the_order_and_batching_of_users_does_not_matter(self, tmp_path):
        method, train = self.fitted(tmp_path)
        users = np.arange(train.n_users)
        items, _ = method.recommend(users, 4)
        again, _ = method.recommend(users[::-1], 4)
        np.testing.assert_array_equal(again[::-1], items)
        halves = np.vstack([method.recommend(users[:7], 4)[0], method.recommend(users[7:], 4)[0]])
        np.testing.assert_array_equal(halves, items)

    def test_a_listener_gets_the_tracks_of_their_own_group_first(self, tmp_path):
        method, train = self.fitted(tmp_path)
        if getattr(self, "any_item", False):  # Random and MostPopular do not read the listener's taste
            pytest.skip("a method that ignores the listener's taste")
        groups = np.arange(train.n_items) * 3 // train.n_items  # block_train's 3 groups of items
        own = np.array([groups[train.user_items[u].indices[0]] for u in range(train.n_users)])
        left = np.array([(groups == own[u]).sum() > train.user_items[u].nnz for u in range(train.n_users)])
        users = np.flatnonzero(left)  # listeners with a track of their own group still unheard
        items, _ = method.recommend(users, 1)
        own = own[users]
        found = items[:, 0] >= 0
        assert found.mean() > 0.5
        # by chance 1 in 9 (each listener has one own-group track left among nine unheard)
        assert (groups[items[found, 0]] == own[found]).mean() > 0.6


class ScoresBestFirst:
    """Recommenders whose lists are sorted by the scores they return."""

    def test_scores_are_best_first(self, tmp_path):
        method, train = self.fitted(tmp_path)
        items, scores = method.recommend(np.arange(train.n_users), train.n_items)
        for row, values in zip(items, scores):
            assert np.all(np.diff(values[row >= 0]) <= 1e-6), method.name


class TestRandom(RecommenderContract, ScoresBestFirst):
    any_item = True

    def fitted(self, tmp_path):
        train = block_train()
        return Random(seed=1).fit(train), train


class TestMostPopular(RecommenderContract, ScoresBestFirst):
    any_item = True

    def fitted(self, tmp_path):
        train = block_train()
        return MostPopular().fit(train), train


class TestItemKNN(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        return ItemKNN(neighbours=20).fit(train), train


class TestALS(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        return ALS(factors=4, iterations=15, regularization=0.01).fit(train), train


class TestXQuAD(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        return XQuAD(ALS(factors=4, iterations=15, regularization=0.01), lam=0.5, n_candidates=10).fit(train), train


class TestAudioOnly(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train(audio=True)
        return AudioOnly().fit(train), train


class TestRP3beta(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        return RP3beta(alpha=0.8, beta=0.3, neighbours=20).fit(train), train


class TestEASE(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        return EASE(lam=10.0).fit(train), train


class TestALSOverPopularity(RecommenderContract, ScoresBestFirst):
    def fitted(self, tmp_path):
        train = block_train()
        base = ALS(factors=4, iterations=15, regularization=0.01)
        return PopularityReranked(base, beta=0.5, n_candidates=8).fit(train), train


class TestGems(RecommenderContract):
    """gems as ``gems evaluate`` runs it: a model built by ``gems build`` from a split's training listens, ranked
    by the function ``gems export`` runs. Its lists may keep reserved long-tail places last and a loved
    soundtrack's theme behind its deep cuts, so they need not be sorted by score."""

    @pytest.fixture(scope="class")
    @classmethod
    def gems(cls, tmp_path_factory):
        from gems.config import BuildConfig
        from gems.evaluate.gems_method import GemsModel, GemsRanker
        from gems.evaluate.splits import random_holdout
        from gems.rank import RankOptions

        listens = block_listens()
        split = random_holdout(listens, seed=0, max_users=3)
        tracks = pd.DataFrame({"track_id": np.unique(listens["track_id"]), "is_soundtrack": False})
        tracks["title"] = tracks["track_id"]
        config = BuildConfig(model=tmp_path_factory.mktemp("gems") / "unused")
        model = GemsModel(config, split, tracks, tmp_path_factory.mktemp("gems-model"))
        return GemsRanker(model, RankOptions()).fit(split.train), split.train

    @pytest.fixture(autouse=True)
    def _model(self, gems):
        self._gems = gems

    def fitted(self, tmp_path):
        return self._gems


@pytest.mark.parametrize(
    "make", [lambda: ItemKNN(neighbours=20), lambda: ALS(factors=4, iterations=15, regularization=0.01)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_held_out_item_of_the_users_group_ranks_first(make, seed):
    # users 0-2 heard their whole group; user 0 (group 0) now misses item 3 and user 1 (group 1) item 5
    train = block_train(drop=((0, 3), (1, 5)), seed=seed)
    method = make().fit(train)
    users = train.user_rows(["u000", "u001"])
    items, _ = method.recommend(users, 3)
    assert train.item_ids[items[0, 0]] == "i003"
    assert train.item_ids[items[1, 0]] == "i005"


def test_most_popular_returns_the_most_popular_unheard_item():
    listens = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "a", "b", "a", "d"],
            "track_id": ["x", "x", "x", "y", "y", "z", "w"],
        }
    )
    train = train_data(listens)
    method = MostPopular().fit(train)
    items, scores = method.recommend(train.user_rows(["a", "d", "c"]), 2)
    names = [[train.item_ids[i] if i >= 0 else None for i in row] for row in items]
    assert names[0] == ["w", None]  # a heard x, y, z
    assert names[1] == ["x", "y"]
    assert names[2] == ["y", "w"]  # ties (w, z: one listener each) by row order
    assert scores[1].tolist() == [3.0, 2.0]


def test_random_is_seeded():
    train = block_train()
    users = np.arange(10)
    a, _ = Random(seed=5).fit(train).recommend(users, 4)
    b, _ = Random(seed=5).fit(train).recommend(users, 4)
    c, _ = Random(seed=6).fit(train).recommend(users, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_xquad_lambda_zero_is_the_base_order_and_positive_lambda_raises_aplt():
    # 12 items, 6..11 in the tail; every user heard item 0 (head) and item 11 (tail): P(tail | u) = ½
    listens = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in range(10) for _ in (0, 1)],
            "track_id": [f"i{i:02d}" for _ in range(10) for i in (0, 11)],
        }
    )
    listens = pd.concat([listens, pd.DataFrame({"user_id": "other", "track_id": [f"i{i:02d}" for i in range(12)]})])
    train = replace(train_data(listens), is_tail=np.arange(12) >= 6)
    base = FixedScores(np.linspace(1.0, 0.1, 12)).fit(train)  # head items score highest
    users = train.user_rows([f"u{u}" for u in range(10)])
    base_items, _ = base.recommend(users, 3)
    assert base_items[0].tolist() == [1, 2, 3]
    same, _ = XQuAD(base, lam=0.0, n_candidates=10).fit(train).recommend(users, 3)
    np.testing.assert_array_equal(same, base_items)
    more, scores = XQuAD(base, lam=0.7, n_candidates=10).fit(train).recommend(users, 3)
    # candidates 1..10 have relevance (10 − i) / 9; step 1: item 1 = 0.3 + 0.35 beats item 6 = 0.3·4/9 + 0.35;
    # step 2: head is covered, item 6 (0.483) beats item 2 (0.267); step 3: item 2 (0.267) beats item 7 (0.1)
    assert more[0].tolist() == [1, 6, 2]
    assert scores[0] == pytest.approx([0.65, 0.3 * 4 / 9 + 0.35, 0.3 * 8 / 9], abs=1e-6)
    assert aplt_at_k(more, train.is_tail, 3).mean() > aplt_at_k(base_items, train.is_tail, 3).mean()


def test_audio_only_needs_audio_and_follows_the_sound():
    train = block_train(audio=True)
    method = AudioOnly().fit(train)
    items, _ = method.recommend(train.user_rows(["u000"]), 1)
    assert train.item_ids[items[0, 0]] == "i003"  # the only unheard item sounding like group 0
    with pytest.raises(ParameterError, match="audio"):
        AudioOnly().fit(block_train())
    assert "AudioOnly" in default_baselines(train)
    assert "AudioOnly" not in default_baselines(block_train())


def test_unfitted_baseline_says_call_fit_first():
    with pytest.raises(ModelError, match="call fit first"):
        MostPopular().recommend(np.array([0]), 3)
    with pytest.raises(ParameterError):
        XQuAD(MostPopular(), lam=2.0)
