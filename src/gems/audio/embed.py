"""The one-STFT features of a collection, standardised and group-weighted: what explanations compare.

A track's place in sound space is its musicnn vector (:mod:`gems.audio.musicnn`); the one-STFT features stay as
named, interpretable measurements ("close in rhythm and energy", a playlist's energy arc). :class:`FeatureScaler`
puts them on one scale across the collection: each feature standardised, each group weighted so that it counts
as much as any other. Plain numpy; its learned arrays are stored without pickle (:meth:`to_arrays`).
"""

from __future__ import annotations

import numpy as np

from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
from gems.errors import ModelError, ParameterError


def group_weights() -> np.ndarray:
    """Per-column weight 1 / sqrt(size of the column's group), shape (D,).

    A standardised column has variance 1, so a group of m columns holds total variance m; scaling its columns
    by 1 / sqrt(m) brings every group's total variance to 1, so the 54 timbre columns do not drown the
    5 rhythm columns.
    """
    weights = np.empty(len(FEATURE_NAMES))
    for group in FEATURE_GROUPS.values():
        weights[group] = 1.0 / np.sqrt(group.stop - group.start)
    return weights


class FeatureScaler:
    """``(X - mean_) / scale_ * group_weights_``, learned on features X (n, D).

    Learned state: ``mean_`` and ``scale_`` (D,), the columns' mean and standard deviation (a constant column
    gets scale 1), and ``group_weights_`` (D,) from :func:`group_weights`.
    """

    def _check(self, X) -> np.ndarray:
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
        return X

    def fit(self, X) -> FeatureScaler:
        """Learn the columns' mean and spread from features ``X`` (n ≥ 1, D). Returns self."""
        X = self._check(X)
        if len(X) == 0:
            raise ParameterError("standardising audio features needs at least one analysed file, got none")
        self.mean_ = X.mean(axis=0)
        spread = X.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)
        self.group_weights_ = group_weights()
        return self

    def standardize(self, X) -> np.ndarray:
        """Group-weighted standardised features (n, D) float32."""
        X = self._check(X)
        if not hasattr(self, "mean_"):
            raise ModelError("this FeatureScaler is not fitted yet; call fit first")
        return ((X - self.mean_) / self.scale_ * self.group_weights_).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Learned state and feature names as plain arrays (store with np.savez)."""
        if not hasattr(self, "mean_"):
            raise ModelError("this FeatureScaler is not fitted yet; call fit first")
        names = ("mean_", "scale_", "group_weights_")
        return {"feature_names": np.asarray(FEATURE_NAMES), **{name: getattr(self, name) for name in names}}
