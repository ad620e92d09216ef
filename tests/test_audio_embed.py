"""AudioEmbedder on synthetic feature matrices whose structure is known by construction."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gems.audio.embed import AudioEmbedder
from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
from gems.errors import ModelError, ParameterError

D = len(FEATURE_NAMES)


def features(n: int = 60, seed: int = 0) -> np.ndarray:
    """Columns on very different scales (Hz, dB, ratios), as real features are."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, D)) * rng.uniform(0.01, 1000.0, D) + rng.uniform(-100, 100, D)


def two_clusters(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Half the rows shifted by +2 sd, half by -2 sd, in the rhythm columns only (5 of the D columns)."""
    X = features(2 * n, seed)
    labels = np.repeat([0, 1], n)
    spread = X.std(axis=0)
    rhythm = FEATURE_GROUPS["rhythm"]
    X[:, rhythm] += np.where(labels[:, None] == 0, 2.0, -2.0) * spread[rhythm]
    return X, labels


def test_transform_gives_unit_rows_of_k_dims():
    X = features()
    Z = AudioEmbedder(n_components=8).fit(X).transform(X)
    assert Z.shape == (60, 8) and Z.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)


def test_components_are_capped_by_the_number_of_tracks():
    X = features(n=5)
    model = AudioEmbedder(n_components=32).fit(X)
    assert model.components_.shape == (4, D) and model.transform(X).shape == (5, 4)


def test_each_feature_group_carries_equal_total_variance():
    X = features()
    Z = AudioEmbedder().fit(X).standardize(X)
    for group in FEATURE_GROUPS.values():
        assert Z[:, group].var(axis=0).sum() == pytest.approx(1.0, rel=1e-4)


def test_clusters_differing_in_a_small_group_stay_separated():
    """Rhythm is 5 of the D columns; weighted equally with the other groups it decides every neighbour
    (unweighted, the 84 noise columns pull 4 of these 60 tracks to a neighbour from the other cluster)."""
    X, labels = two_clusters()
    Z = AudioEmbedder(n_components=8).fit(X).transform(X)
    similarity = Z @ Z.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = similarity.argmax(axis=1)
    assert (labels[nearest] == labels).all()


def test_same_seed_same_embedding():
    X = features()
    first = AudioEmbedder(random_state=3).fit(X).transform(X)
    second = AudioEmbedder(random_state=3).fit(X).transform(X)
    np.testing.assert_array_equal(first, second)


def test_round_trip_through_arrays_without_pickle_or_sklearn(tmp_path):
    X = features()
    model = AudioEmbedder(n_components=6).fit(X)
    np.savez(tmp_path / "embedder.npz", **model.to_arrays())
    np.save(tmp_path / "X.npy", X)
    with np.load(tmp_path / "embedder.npz", allow_pickle=False) as stored:
        loaded = AudioEmbedder.from_arrays(stored)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.standardize(X), model.standardize(X))
    assert loaded.n_components == 6

    script = (
        "import sys, numpy as np\n"
        "from gems.audio.embed import AudioEmbedder\n"
        f"stored = np.load({str(tmp_path / 'embedder.npz')!r}, allow_pickle=False)\n"
        "model = AudioEmbedder.from_arrays(stored)\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "model.transform(X); model.standardize(X)\n"
        "assert 'sklearn' not in sys.modules, 'applying an embedder imported sklearn'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_unfitted_embedder_says_call_fit_first():
    with pytest.raises(ModelError, match="call fit first"):
        AudioEmbedder().transform(features(n=3))
    with pytest.raises(ModelError, match="call fit first"):
        AudioEmbedder().to_arrays()


def test_fewer_than_three_tracks_is_a_parameter_error():
    with pytest.raises(ParameterError, match="at least 3 tracks, got 2"):
        AudioEmbedder().fit(features(n=2))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((5, D - 1)), f"shape \\(n, {D}\\)"),
        (np.full((5, D), np.nan), "NaN"),
        (np.zeros(D), f"shape \\(n, {D}\\)"),
    ],
    ids=["wrong-width", "nan", "1-d"],
)
def test_bad_feature_matrices_are_rejected(X, message):
    with pytest.raises(ParameterError, match=message):
        AudioEmbedder().fit(X)


def test_stored_embedder_for_other_features_is_refused():
    arrays = AudioEmbedder().fit(features()).to_arrays()
    arrays["feature_names"] = arrays["feature_names"][::-1]
    with pytest.raises(ModelError, match="rebuild the model"):
        AudioEmbedder.from_arrays(arrays)
    del arrays["components_"]
    with pytest.raises(ModelError, match="lacks components_"):
        AudioEmbedder.from_arrays(arrays)
