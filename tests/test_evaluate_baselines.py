"""Baselines on listening matrices whose right answer is known by construction, plus one shared contract."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gems.errors import ModelError, ParameterError
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
        from gems.evaluate.data import top_k

        block = np.tile(self.scores, (len(users), 1))
        return top_k(block, k, exclude=self.train_.user_items[users])


def all_methods(train):
    methods = [
        Random(seed=1),
        MostPopular(),
        ItemKNN(neighbours=20),
        ALS(factors=8, iterations=10),
        XQuAD(ALS(factors=8, iterations=10), lam=0.5, n_candidates=10),
    ]
    if train.audio is not None:
        methods.append(AudioOnly())
    return methods


@pytest.mark.parametrize("index", range(6))
def test_shared_contract_shapes_padding_and_no_training_items(index):
    train = block_train(audio=True)
    method = all_methods(train)[index]
    assert isinstance(method, Recommender)
    method.fit(train)
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
        valid = scores[u][items[u] >= 0]
        assert np.all(np.diff(valid) <= 1e-6), method.name  # best first
        assert len(got) <= train.n_items - len(heard)
    again, _ = type(method).recommend(method, users[::-1], k)
    np.testing.assert_array_equal(again[::-1], items)  # order/batching of users does not matter


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
