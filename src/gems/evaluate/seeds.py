"""One experiment over several seeds (each its own split, tuning and model): means and 95% intervals.

For a metric with per-seed means m_1 … m_n (n ≥ 2 seeds), the reported value is their mean m̄ and its 95%
interval is Student's t interval m̄ ± t_{0.975, n−1} · s / √n, s the sample standard deviation of the m_s
(so the interval says how much the figure moves between splits, not between users). Per-user values are
pooled over the seeds (a user drawn by two seeds counts twice, once per split), so the paired tests against the
reference compare the same (seed, user) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gems.errors import ParameterError
from gems.evaluate.run import EvaluationResult, MethodResult
from gems.evaluate.significance import N_RESAMPLES, compare_to_reference


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of Student's t interval of the mean of ``values`` (NaN ignored; NaN when fewer than two)."""
    from scipy.stats import t

    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    half = t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def combine(results: Sequence[EvaluationResult], *, n_resamples: int = N_RESAMPLES) -> EvaluationResult:
    """One EvaluationResult of several seeds' results of the same methods: metrics are the means over seeds,
    ``interval`` their 95% t intervals, ``per_seed`` each seed's means; per-user values and lists pooled (each
    seed's item rows shifted past the previous seeds' catalogues, whose listener counts follow one another)."""
    if not results:
        raise ParameterError("no results to combine")
    first = results[0]
    if len(results) == 1:
        return first
    names = list(first.methods)
    for result in results[1:]:
        if list(result.methods) != names:
            raise ParameterError("results of different methods cannot be combined; run the same methods per seed")
    # each seed's item rows are its own training catalogue's: pooled, they follow one another
    offsets = np.cumsum([0] + [len(result.listeners) for result in results[:-1]])
    methods = {}
    for name in names:
        runs = [result.methods[name] for result in results]
        keys = list(runs[0].metrics)
        per_seed = {result.seed: dict(run.metrics) for result, run in zip(results, runs)}
        metrics = {key: float(np.nanmean([run.metrics.get(key, np.nan) for run in runs])) for key in keys}
        interval = {key: t_interval([run.metrics.get(key, np.nan) for run in runs]) for key in keys}
        per_user = {key: np.concatenate([run.per_user[key] for run in runs]) for key in runs[0].per_user}
        methods[name] = MethodResult(
            name=name,
            params=runs[0].params,
            metrics=metrics,
            n_users={key: int(sum(run.n_users.get(key, 0) for run in runs)) for key in runs[0].n_users},
            per_user=per_user,
            fit_seconds=float(np.mean([run.fit_seconds for run in runs])),
            recommend_seconds=float(np.sum([run.recommend_seconds for run in runs])),
            recs=np.concatenate([np.where(run.recs >= 0, run.recs + at, -1) for run, at in zip(runs, offsets)]),
            interval=interval,
            per_seed=per_seed,
        )
    combined = EvaluationResult(
        protocol=first.protocol,
        split_params=first.split_params,
        counts={f"seed {result.seed}": result.counts for result in results},
        description=" ".join(f"Seed {result.seed}: {result.description}" for result in results),
        part=first.part,
        ks=first.ks,
        seed=first.seed,
        seeds=tuple(result.seed for result in results),
        methods=methods,
        listeners=np.concatenate([result.listeners for result in results]),
        truth_listeners=np.concatenate([result.truth_listeners for result in results]),
        has_soundtracks=first.has_soundtracks,
        depth=first.depth,
    )
    if first.reference is not None:
        combined.reference = first.reference
        combined.significance = compare_to_reference(
            {name: m.per_user for name, m in methods.items()},
            reference=first.reference,
            metrics=[f"{metric}@{k}" for k in first.ks for metric in ("ndcg", "psr", "tail_recall")],
            n_resamples=n_resamples,
            seed=first.seed,
        )
    return combined
