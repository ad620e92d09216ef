"""Audio feature vectors -> unit-length embeddings for cosine similarity.

:class:`AudioEmbedder` standardises each feature, weights the feature groups so each counts equally, and
projects onto principal components. scikit-learn is used in :meth:`AudioEmbedder.fit` only; applying a fitted
embedder is plain numpy on its learned arrays, which :meth:`to_arrays` / :meth:`from_arrays` store without
pickle.
"""

from __future__ import annotations

import numpy as np

from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
from gems.errors import ModelError, ParameterError

_STATE = ("mean_", "scale_", "group_weights_", "components_", "pca_mean_", "explained_variance_ratio_")


def _group_weights() -> np.ndarray:
    """Per-column weight 1 / sqrt(size of the column's group), shape (D,).

    A standardised column has variance 1, so a group of m columns holds total variance m; scaling its columns
    by 1 / sqrt(m) brings every group's total variance to 1, so the 54 timbre columns do not drown the
    5 rhythm columns in the distances and in the principal components.
    """
    weights = np.empty(len(FEATURE_NAMES))
    for group in FEATURE_GROUPS.values():
        weights[group] = 1.0 / np.sqrt(group.stop - group.start)
    return weights


class AudioEmbedder:
    """Standardise -> weight feature groups equally -> PCA to ``n_components`` -> L2-normalise.

    Learned state: ``mean_`` and ``scale_`` (D,) of the standardisation (StandardScaler; constant columns get
    scale 1), ``group_weights_`` (D,) per column, ``components_`` (k, D), ``pca_mean_`` (D,) and
    ``explained_variance_ratio_`` (k,), with k = min(n_components, n_samples - 1, D).
    """

    def __init__(self, *, n_components: int = 32, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    def _check(self, X, *, fitting: bool = False) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES):
            raise ParameterError(
                f"expected audio features of shape (n, {len(FEATURE_NAMES)}) from gems.audio.extractor, "
                f"got shape {X.shape}"
            )
        if not np.isfinite(X).all():
            bad = int((~np.isfinite(X).all(axis=1)).sum())
            raise ParameterError(
                f"{bad} row(s) of the audio features are NaN or infinite (files that failed extraction?); "
                "pass only the rows whose status is 'ok'"
            )
        if not fitting and not hasattr(self, "components_"):
            raise ModelError("this AudioEmbedder is not fitted yet; call fit first")
        return X

    def fit(self, X) -> AudioEmbedder:
        """Learn the standardisation and the principal components of features ``X`` (n, D). Returns self."""
        X = self._check(X, fitting=True)
        if len(X) < 3:
            raise ParameterError(
                f"an audio embedding needs the features of at least 3 tracks, got {len(X)}; add audio files"
            )
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ParameterError(f"n_components must be a positive integer, got {self.n_components!r}")
        if not isinstance(self.random_state, (int, np.integer)):
            raise ParameterError(f"random_state must be an integer seed, got {self.random_state!r}")
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(X)
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        self.group_weights_ = _group_weights()
        k = min(int(self.n_components), len(X) - 1, X.shape[1])
        pca = PCA(n_components=k, random_state=self.random_state).fit(
            (X - self.mean_) / self.scale_ * self.group_weights_
        )
        self.components_, self.pca_mean_ = pca.components_, pca.mean_
        self.explained_variance_ratio_ = pca.explained_variance_ratio_
        return self

    def standardize(self, X) -> np.ndarray:
        """Group-weighted standardised features (n, D) float32: (X - mean_) / scale_ * group_weights_."""
        X = self._check(X)
        return ((X - self.mean_) / self.scale_ * self.group_weights_).astype(np.float32)

    def transform(self, X) -> np.ndarray:
        """Unit-length embeddings, shape (n, k) float32 (a row exactly at the data's centre maps to zeros)."""
        projected = (self.standardize(X) - self.pca_mean_) @ self.components_.T
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Hyper-parameters, learned state and feature names as plain arrays (store with np.savez)."""
        if not hasattr(self, "components_"):
            raise ModelError("this AudioEmbedder is not fitted yet; call fit first")
        return {
            "n_components": np.asarray(self.n_components),
            "random_state": np.asarray(self.random_state),
            "feature_names": np.asarray(FEATURE_NAMES),
            **{name: np.asarray(getattr(self, name)) for name in _STATE},
        }

    @classmethod
    def from_arrays(cls, arrays) -> AudioEmbedder:
        """The embedder stored by :meth:`to_arrays` (e.g. read by ``np.load(..., allow_pickle=False)``)."""
        keys = ("n_components", "random_state", "feature_names", *_STATE)
        missing = [key for key in keys if key not in arrays]
        if missing:
            raise ModelError(f"the stored audio embedder lacks {', '.join(missing)}; rebuild the model")
        if tuple(str(name) for name in arrays["feature_names"]) != FEATURE_NAMES:
            raise ModelError(
                "the stored audio embedder was fitted on other audio features than this gems version "
                "computes; rebuild the model"
            )
        embedder = cls(n_components=int(arrays["n_components"]), random_state=int(arrays["random_state"]))
        for name in _STATE:
            setattr(embedder, name, np.asarray(arrays[name], dtype=np.float64))
        return embedder
