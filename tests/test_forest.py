"""The learned stage's compiled trees (gems.rank.forest) against LightGBM's own predictor: the same probability,
bit for bit, on boosters trained here with every kind of missing value, values on the thresholds, and trees of
one leaf; models it cannot score are refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from gems.errors import ModelError
from gems.rank.features import NAMES
from gems.rank.forest import Forest
from gems.rank.learned import LearnedRanker

WIDTH = len(NAMES)


def booster_text(seed: int, *, rows: int = 4000, nan_share: float = 0.2, **params) -> tuple[str, np.ndarray]:
    """(model text, training matrix) of a binary LightGBM model on noisy synthetic features: the first columns
    hold NaN where ``nan_share`` says, the last three never do (LightGBM gives their splits the missing type
    None), and a label that depends on several of them."""
    import lightgbm

    rounds = params.pop("rounds", 40)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, WIDTH)).astype(np.float32)
    x[:, 3] = rng.integers(0, 4, rows)  # few distinct values: thresholds between them
    holes = rng.random((rows, WIDTH - 3)) < nan_share
    x[:, : WIDTH - 3][holes] = np.nan
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 3]) - x[:, -1] + np.isnan(x[:, 1])
    labels = (signal + rng.normal(scale=0.5, size=rows) > 0.5).astype(np.int32)
    settings = {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": seed, **params}
    booster = lightgbm.train(settings, lightgbm.Dataset(x, labels), num_boost_round=rounds)
    return booster.model_to_string(), x


def probe_rows(forest: Forest, x: np.ndarray, seed: int) -> np.ndarray:
    """Rows that reach every branch: the training rows, rows with each feature set exactly to a split threshold
    (float32, as the features arrive) and just above it, NaN everywhere, zeros, LightGBM's zero threshold (it
    reads |v| <= 1e-35 as 0), infinities."""
    rng = np.random.default_rng(seed)
    on_threshold = []
    for t in np.flatnonzero(forest.root >= 0):
        for node in range(forest.feature.shape[1]):
            if forest.left[t, node] == 0 and forest.right[t, node] == 0:
                continue
            for value in (forest.threshold[t, node], np.nextafter(np.float32(forest.threshold[t, node]), np.inf)):
                row = x[rng.integers(len(x))].copy()
                row[forest.feature[t, node]] = np.float32(value)
                on_threshold.append(row)
    special = np.array(
        [np.full(WIDTH, v, dtype=np.float32) for v in (np.nan, 0.0, -0.0, 1e-35, -1e-35, 2e-35, np.inf, -np.inf)]
    )
    return np.vstack([x, np.asarray(on_threshold, dtype=np.float32), special])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_compiled_trees_give_lightgbms_probability_to_the_bit(seed):
    text, x = booster_text(seed)
    forest = Forest.from_text(text)
    rows = probe_rows(forest, x, seed)
    expected = LearnedRanker(text, {"features": list(NAMES)}).predict(rows)
    np.testing.assert_array_equal(forest.probability(rows), expected)
    single = LearnedRanker(text, {"features": list(NAMES)})
    batch = single.for_batch()
    np.testing.assert_array_equal(batch.relevance(rows), single.relevance(rows))
    assert batch.for_batch() is batch


def test_a_model_of_one_leaf_trees_scores_its_constant():
    text, x = booster_text(3, rows=300, min_data_in_leaf=1000, rounds=3)
    forest = Forest.from_text(text)
    assert (forest.root < 0).all()  # no tree could split
    expected = LearnedRanker(text, {"features": list(NAMES)}).predict(x)
    np.testing.assert_array_equal(forest.probability(x), expected)


def test_what_the_trees_cannot_score_is_refused_with_the_reason():
    import lightgbm

    text, _ = booster_text(4)
    with pytest.raises(ModelError, match="damaged"):
        Forest.from_text(text.replace("leaf_value=", "leaf_value=1 ", 1))
    with pytest.raises(ModelError, match="not binary"):
        Forest.from_text(text.replace("objective=binary", "objective=regression", 1))
    with pytest.raises(ModelError, match="reads 27 features"):
        Forest.from_text(text).probability(np.zeros((2, 5), dtype=np.float32))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(500, 2)).astype(np.float64)
    labels = (x[:, 0] == 2).astype(int)
    categorical = lightgbm.train(
        {"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1},
        lightgbm.Dataset(x, labels, categorical_feature=[0]),
        num_boost_round=3,
    )
    with pytest.raises(ModelError, match="categorical"):
        Forest.from_text(categorical.model_to_string())
