"""Paired significance of each method against a reference (ALS) over the same evaluated users.

For a metric with per-user values a_u (method) and b_u (reference), over users where both are defined
(tail recall is defined only for users with a tail relevant item), with d_u = a_u − b_u:

- mean difference  d̄ = mean_u d_u (positive: the method scores higher than the reference);
- Wilcoxon signed-rank test, two-sided (``scipy.stats.wilcoxon``, zero differences dropped — Wilcox's
  method); p = 1 when every difference is 0;
- a seeded paired bootstrap: users resampled with replacement ``n_resamples`` times; the percentile interval
  of the resampled mean differences at ``confidence`` (95% by default) is the CI of d̄;
- Holm's step-down correction of the Wilcoxon p-values across the methods compared on one metric
  (``p_holm``): sorted p_(1) ≤ … ≤ p_(m), adjusted p_(j) = max_{i≤j} min(1, (m − i + 1) p_(i)).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from gems.errors import ParameterError

N_RESAMPLES = 10_000


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Wilcoxon signed-rank p and bootstrap CI of mean(a − b) over users where both are defined (not NaN)."""
    from scipy.stats import wilcoxon

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ParameterError(f"paired test needs values for the same users; got {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence}")
    both = ~np.isnan(a) & ~np.isnan(b)
    d = a[both] - b[both]
    out = {
        "n_users": int(len(d)),
        "mean_a": _mean(a[both]),
        "mean_b": _mean(b[both]),
        "mean_diff": _mean(d),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "p_wilcoxon": float("nan"),
    }
    if len(d) == 0:
        return out
    if np.all(d == 0):
        out.update(ci_low=0.0, ci_high=0.0, p_wilcoxon=1.0)
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["p_wilcoxon"] = float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    low, high = bootstrap_ci(d, n_resamples=n_resamples, confidence=confidence, seed=seed)
    out.update(ci_low=low, ci_high=high)
    return out


def bootstrap_ci(
    d: np.ndarray, *, n_resamples: int = N_RESAMPLES, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``d`` (users resampled with replacement, seeded)."""
    d = np.asarray(d, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    chunk = max(1, (1 << 22) // max(len(d), 1))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, len(d), size=(stop - start, len(d)))
        means[start:stop] = d[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN and does not count towards m)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def compare_to_reference(
    per_user: Mapping[str, Mapping[str, np.ndarray]],
    *,
    reference: str,
    metrics: Sequence[str],
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict]:
    """One row per (metric, method ≠ reference): the paired test and Holm-adjusted p across methods.

    per_user: method → metric → per-user array (same users, same order, for every method)."""
    if reference not in per_user:
        raise ParameterError(f"reference method '{reference}' was not evaluated; methods: {', '.join(per_user)}")
    rows = []
    for metric in metrics:
        base = per_user[reference].get(metric)
        if base is None:
            continue
        block = []
        for method, values in per_user.items():
            if method == reference or metric not in values:
                continue
            test = paired_test(values[metric], base, n_resamples=n_resamples, confidence=confidence, seed=seed)
            block.append({"metric": metric, "method": method, "reference": reference, **test})
        for row, adjusted in zip(block, holm([r["p_wilcoxon"] for r in block])):
            row["p_holm"] = float(adjusted)
        rows.extend(block)
    return rows


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")
