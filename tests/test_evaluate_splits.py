"""Splits: seeded, disjoint, and holding out exactly what the protocol says."""

import numpy as np
import pandas as pd
import pytest

from gems.errors import DataError
from gems.evaluate.data import train_data
from gems.evaluate.splits import playlist_continuation, random_holdout, temporal_holdout


def listens_table(n_users=60, n_items=40, per_user=12, seed=0, timestamps=True):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user, replace=False)
        for pos, i in enumerate(items):
            rows.append((f"u{u:03d}", f"t{i:03d}", float(rng.integers(1, 4)), pos))
    frame = pd.DataFrame(rows, columns=["user_id", "track_id", "weight", "position"])
    if timestamps:
        frame["timestamp"] = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(frame["position"], unit="D")
    return frame


def as_sets(split, part):
    users, truth = split.part(part)
    return {split.train.user_ids[u]: set(split.train.item_ids[t]) for u, t in zip(users, truth)}


@pytest.mark.parametrize("protocol", [random_holdout, temporal_holdout, playlist_continuation])
def test_same_seed_same_split_and_parts_are_disjoint(protocol):
    listens = listens_table()
    kwargs = {"n_validation": 10, "n_test": 10} if protocol is playlist_continuation else {"max_users": 10}
    a = protocol(listens, seed=3, **kwargs)
    b = protocol(listens.sample(frac=1.0, random_state=1), seed=3, **kwargs)  # row order must not matter
    assert as_sets(a, "validation") == as_sets(b, "validation")
    assert as_sets(a, "test") == as_sets(b, "test")
    assert (a.train.user_items != b.train.user_items).nnz == 0
    assert not set(a.validation_users) & set(a.test_users)
    assert len(a.validation_users) == 10 and len(a.test_users) == 10
    c = protocol(listens, seed=4, **kwargs)
    assert as_sets(a, "test") != as_sets(c, "test")


def test_random_holdout_hides_a_fraction_and_never_a_training_item():
    listens = listens_table(per_user=10)
    split = random_holdout(listens, fraction=0.2, max_users=15, seed=0)
    for part in ("validation", "test"):
        users, truth = split.part(part)
        for u, t in zip(users, truth):
            heard = set(split.train.user_items[u].indices)
            assert not heard & set(t)
            assert len(heard) == 8  # 10 distinct items, 2 hidden
            assert len(t) <= 2


def test_users_below_min_items_are_not_evaluated():
    listens = listens_table(per_user=4)
    split = random_holdout(listens, min_items=5, seed=0)
    assert split.counts["eligible_users"] == 0 and len(split.test_users) == 0


def test_truth_items_absent_from_train_are_dropped_and_counted():
    # every user's rare track r-u is heard by that user only; when held out it is absent from TRAIN
    rows = []
    for u in range(40):
        for i in range(12):
            rows.append((f"u{u:02d}", f"t{(u + i) % 15:02d}", i))
        rows.append((f"u{u:02d}", f"r-{u:02d}", 12))  # last position: always held out by continuation
    listens = pd.DataFrame(rows, columns=["user_id", "track_id", "position"])
    split = playlist_continuation(listens, n_seeds=10, n_validation=5, n_test=5, seed=0)
    for part in ("validation", "test"):
        for tracks in as_sets(split, part).values():
            assert not any(t.startswith("r-") for t in tracks)
        assert split.counts[f"{part}_truth_items_absent_from_train"] == 5


def test_users_left_without_truth_are_dropped():
    rows = [(f"u{u:02d}", f"t{i:02d}", i) for u in range(20) for i in range(10)]
    rows += [(f"u{u:02d}", f"only-{u:02d}", 10) for u in range(20)]  # the one hidden track is unique
    listens = pd.DataFrame(rows, columns=["user_id", "track_id", "position"])
    split = playlist_continuation(listens, n_seeds=10, n_validation=3, n_test=3, seed=0)
    assert len(split.test_users) == 0
    assert split.counts["test_users_dropped_no_truth"] == 3


def test_playlist_continuation_keeps_exactly_the_first_positions():
    listens = listens_table(n_users=40, per_user=15, timestamps=False)
    shuffled = listens.sample(frac=1.0, random_state=0)  # positions, not row order, define the order
    split = playlist_continuation(shuffled, n_seeds=10, n_validation=5, n_test=5, seed=0)
    assert split.params["order"] == "position"
    for part in ("validation", "test"):
        users, truth = split.part(part)
        assert len(users) == 5
        for u, t in zip(users, truth):
            uid = split.train.user_ids[u]
            mine = listens[listens["user_id"] == uid].sort_values("position")
            seeds = set(mine["track_id"].iloc[:10])
            assert set(split.train.item_ids[split.train.user_items[u].indices]) == seeds
            hidden = set(mine["track_id"].iloc[10:])
            assert set(split.train.item_ids[t]) <= hidden
    # a playlist that was not drawn trains whole
    drawn = set(split.validation_users) | set(split.test_users)
    other = next(u for u in range(split.train.n_users) if u not in drawn)
    assert split.train.user_items[other].nnz == 15


def test_playlist_order_falls_back_to_row_order():
    listens = listens_table(n_users=30, per_user=13, timestamps=False).drop(columns="position")
    split = playlist_continuation(listens, n_seeds=10, n_validation=3, n_test=3, seed=0)
    assert split.params["order"] == "row order"
    u = split.test_users[0]
    uid = split.train.user_ids[u]
    seeds = set(listens[listens["user_id"] == uid]["track_id"].iloc[:10])
    assert set(split.train.item_ids[split.train.user_items[u].indices]) == seeds


def test_small_data_holds_out_fewer_playlists():
    listens = listens_table(n_users=20, per_user=15)
    split = playlist_continuation(listens, n_validation=500, n_test=500, seed=0)
    assert split.counts["validation_users_drawn"] + split.counts["test_users_drawn"] == 10
    assert split.counts["validation_users_drawn"] == 5


def test_temporal_holdout_hides_the_latest_items_and_needs_timestamps():
    listens = listens_table(per_user=10)
    split = temporal_holdout(listens, fraction=0.2, max_users=10, seed=0)
    for uid, tracks in as_sets(split, "test").items():
        mine = listens[listens["user_id"] == uid].sort_values("timestamp")
        assert tracks <= set(mine["track_id"].iloc[-2:])
        u = split.train.user_rows([uid])[0]
        assert set(split.train.item_ids[split.train.user_items[u].indices]) == set(mine["track_id"].iloc[:-2])
    with pytest.raises(DataError, match="no timestamps"):
        temporal_holdout(listens.drop(columns="timestamp"))
    untimed = listens.assign(timestamp=pd.NaT)
    with pytest.raises(DataError, match="timestamps"):
        temporal_holdout(untimed)


def test_train_data_popularity_and_catalogue():
    listens = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c", "a"],
            "track_id": ["x", "y", "x", "z", "x", "x"],
            "weight": [1, 2, 1, 1, 1, 3],
        }
    )
    items = pd.DataFrame({"track_id": ["x", "z"], "is_soundtrack": [True, True]})
    train = train_data(listens, items=items, audio=(np.array(["y", "q"]), np.array([[3.0, 4.0], [1.0, 0.0]])))
    assert train.item_ids.tolist() == ["x", "y", "z"]
    assert train.listeners.tolist() == [3, 1, 1]
    assert train.user_items[0, 0] == 4.0  # repeated listens add up
    assert train.is_soundtrack.tolist() == [True, False, True]
    rows, vectors = train.audio
    assert rows.tolist() == [1] and np.allclose(vectors, [[0.6, 0.8]])
    with pytest.raises(DataError, match="track_id"):
        train_data(listens.drop(columns="track_id"))
