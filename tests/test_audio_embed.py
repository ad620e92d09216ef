"""FeatureScaler on synthetic feature matrices whose structure is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from gems.audio.embed import FeatureScaler
from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
from gems.audio.stage import unit_rows
from gems.errors import ModelError, ParameterError

D = len(FEATURE_NAMES)


def features(n: int = 60, seed: int = 0) -> np.ndarray:
    """Columns on very different scales (Hz, dB, ratios), as real features are."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, D)) * rng.uniform(0.01, 1000.0, D) + rng.uniform(-100, 100, D)


def test_each_feature_group_carries_equal_total_variance():
    X = features()
    Z = FeatureScaler().fit(X).standardize(X)
    assert Z.shape == (60, D) and Z.dtype == np.float32
    for group in FEATURE_GROUPS.values():
        assert Z[:, group].var(axis=0).sum() == pytest.approx(1.0, rel=1e-4)


def test_clusters_differing_in_a_small_group_are_told_apart_by_that_group():
    """Rhythm is 5 of the D columns: after scaling, the rhythm group alone separates two clusters shifted by
    ±2 sd in it, as an explanation comparing groups needs."""
    X = features()
    labels = np.repeat([0, 1], 30)
    rhythm = FEATURE_GROUPS["rhythm"]
    X[:, rhythm] += np.where(labels[:, None] == 0, 2.0, -2.0) * X[:, rhythm].std(axis=0)
    Z = unit_rows(FeatureScaler().fit(X).standardize(X)[:, rhythm])
    similarity = Z @ Z.T
    np.fill_diagonal(similarity, -np.inf)
    assert (labels[similarity.argmax(axis=1)] == labels).all()


def test_a_constant_column_and_a_single_track_are_scaled_by_one():
    X = features(n=1)
    scaler = FeatureScaler().fit(X)
    np.testing.assert_array_equal(scaler.scale_, np.ones(D))
    np.testing.assert_array_equal(scaler.standardize(X), np.zeros((1, D), np.float32))


def test_arrays_name_the_features_and_hold_the_state():
    scaler = FeatureScaler().fit(features())
    arrays = scaler.to_arrays()
    assert tuple(arrays["feature_names"]) == FEATURE_NAMES
    np.testing.assert_array_equal(arrays["mean_"], scaler.mean_)


def test_unfitted_scaler_says_call_fit_first():
    with pytest.raises(ModelError, match="call fit first"):
        FeatureScaler().standardize(features(n=3))
    with pytest.raises(ModelError, match="call fit first"):
        FeatureScaler().to_arrays()


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((5, D - 1)), f"shape \\(n, {D}\\)"),
        (np.full((5, D), np.nan), "NaN"),
        (np.zeros(D), f"shape \\(n, {D}\\)"),
        (np.zeros((0, D)), "at least one analysed file"),
    ],
    ids=["wrong-width", "nan", "1-d", "empty"],
)
def test_bad_feature_matrices_are_rejected(X, message):
    with pytest.raises(ParameterError, match=message):
        FeatureScaler().fit(X)


def test_unit_rows_keeps_zero_rows_zero():
    out = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
