"""Write an evaluation: ``metrics.json`` (machine-readable), ``report.md`` (tables a person reads) and plots.

Files in ``out_dir`` (written to a temporary name, then renamed):

- ``metrics.json``  title, protocol, part, seed and seeds, split parameters and counts, Ks, per method
  (``methods.<name>``) its parameters, every metric (``metrics``: flat ``name@K``, e.g. ``psr@50``, ``hits@10``;
  the mean over the seeds when there are several, with ``interval`` (name@K → [low, high], 95%) and
  ``per_seed``; and nested ``by_k``), users counted per metric, timings (the only part that changes between
  runs with the same seeds, under the top-level ``timings`` key) and the significance rows.
- ``report.md``     split description, accuracy, beyond-accuracy, soundtrack and significance tables (mean ±
  half the 95% interval over several seeds), timings, and which direction is better for each metric.
- ``frontier_k{K}.png``  two panels per method: NDCG@K (y) against PSR@K (x), and PSR@K (y) against hits@10
  (x); names "family (setting)" (e.g. "gems (discount 0.5, tail share 0.3)", "RP3beta (PSR-tuned)") are
  joined by a line per family.
- ``popularity.png``  distribution (CDF) of the training listener counts of what each method recommends,
  beside the catalogue's and the held-out truth's.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from gems.evaluate.metrics import ACCURACY, BEYOND, METRIC_INFO, SOUNDTRACK

SCORED_KEYS = ("ndcg", "recall", "tail_recall", "aplt", "arp", "coverage")
_FAMILY = re.compile(r"^(?P<family>.+?)\s*\((?P<setting>[^()]*)\)\s*$")


def _clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to None, arrays to lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _write_atomic(path: Path, text: str | bytes) -> None:
    """:func:`gems.safe_files.write_atomic` of text or bytes (never over a FIFO, socket or device)."""
    from gems.safe_files import write_atomic

    write_atomic(path, text if isinstance(text, bytes) else text.encode("utf-8"))


def _save(fig, path: Path) -> None:
    """A figure as PNG, written atomically."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    _write_atomic(path, buffer.getvalue())


def _dump(data: dict) -> str:
    return json.dumps(_clean(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def metrics_document(result, *, title: str, extra: dict | None = None) -> dict:
    """The content of ``metrics.json`` for an EvaluationResult."""
    methods = {}
    for name, m in result.methods.items():
        by_k: dict[str, dict] = {}
        for key, value in m.metrics.items():
            metric, _, k = key.partition("@")
            by_k.setdefault(k or "all", {})[metric] = value
        methods[name] = {"params": m.params, "metrics": m.metrics, "by_k": by_k, "n_users": m.n_users}
        if m.per_seed:
            methods[name]["interval"] = {key: list(bounds) for key, bounds in m.interval.items()}
            methods[name]["per_seed"] = {str(seed): values for seed, values in m.per_seed.items()}
    return {
        "title": title,
        "protocol": result.protocol,
        "part": result.part,
        "seed": result.seed,
        "seeds": list(result.seeds or (result.seed,)),
        "ks": list(result.ks),
        "depth": result.depth,
        "split": {"params": result.split_params, "counts": result.counts, "description": result.description},
        "reference": result.reference,
        "methods": methods,
        "significance": result.significance,
        "timings": {
            name: {
                "fit_seconds": m.fit_seconds,
                "recommend_seconds": m.recommend_seconds,
                "users": int(len(m.recs)),
                "users_per_second": m.users_per_second,
            }
            for name, m in result.methods.items()
        },
        "extra": extra or {},
    }


def _fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    value = float(value)
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.1e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_table(result, names, ks, prefix: str = "") -> str | None:
    columns = []
    for name in names:
        if name in ("r_precision",):
            columns.append(prefix + name)
        else:
            columns += [f"{prefix}{name}@{k}" for k in ks]
    first = next(iter(result.methods.values()))
    columns = [c for c in columns if c in first.metrics]
    if not columns:
        return None
    rows = [[f"**{name}**"] + [_with_interval(m, c) for c in columns] for name, m in result.methods.items()]
    return _table(["method"] + columns, rows)


def _with_interval(method, key: str) -> str:
    """The value, and ± half its 95% interval when the method has one (several seeds)."""
    low, high = method.interval.get(key, (None, None))
    if low is None or not (math.isfinite(low) and math.isfinite(high)):
        return _fmt(method.metrics.get(key))
    return f"{_fmt(method.metrics.get(key))} ± {_fmt((high - low) / 2)}"


def _markdown(result, title: str, plots: list[str], extra: dict | None) -> str:
    ks = result.ks
    out = [
        f"# {title}",
        "",
        f"**Split.** {result.description}",
        "",
        f"Scored on the **{result.part}** users; {_seed_words(result)}. Popularity, the head/tail split "
        "(head = the largest set of most popular items holding at most 80% of training interactions, equally "
        "popular items never split) and the hits (popularity percentile ≥ 99) come from the training data.",
        "",
    ]
    out += ["## Accuracy", "", _metric_table(result, ACCURACY, ks), ""]
    out += ["## Beyond accuracy", "", _metric_table(result, BEYOND, ks), ""]
    if result.has_soundtracks:
        table = _metric_table(result, SOUNDTRACK, ks, prefix="soundtrack_")
        if table:
            out += [
                "## Soundtrack breakdown",
                "",
                "Accuracy with the relevant items restricted to soundtrack tracks (users with at least one).",
                "",
                table,
                "",
            ]
    if result.significance:
        rows = [
            [
                r["metric"],
                f"**{r['method']}**",
                _fmt(r["mean_diff"]),
                f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                _fmt(r["p_wilcoxon"], 3),
                _fmt(r["p_holm"], 3),
                _fmt(r["n_users"]),
            ]
            for r in result.significance
        ]
        out += [
            f"## Significance against {result.reference}",
            "",
            f"Paired over users: mean difference (method − {result.reference}), 95% bootstrap CI, two-sided "
            "Wilcoxon signed-rank p and Holm-adjusted p across methods per metric.",
            "",
            _table(["metric", "method", "mean diff", "95% CI", "p", "p (Holm)", "users"], rows),
            "",
        ]
    rows = [
        [f"**{name}**", _fmt(m.fit_seconds, 2), _fmt(m.recommend_seconds, 2), _fmt(m.users_per_second, 0)]
        for name, m in result.methods.items()
    ]
    out += ["## Timings", "", _table(["method", "fit (s)", "recommend (s)", "users/s"], rows), ""]
    out += ["## Reading the metrics", ""]
    out += [f"- **{name}**: {what}; {better}." for name, (what, better) in METRIC_INFO.items()]
    out += [
        "- Accuracy means leave out users with no relevant item; tail recall counts only users with a held-out "
        f"long-tail item; R-precision uses the whole list of {result.depth} items.",
        "",
    ]
    if plots:
        out += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if extra:
        out += ["## Notes", "", "```json", json.dumps(_clean(extra), indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(out)


def _seed_words(result) -> str:
    seeds = result.seeds or (result.seed,)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return (
        f"seeds {', '.join(map(str, seeds))} (each its own split, tuning and model): means over the seeds ± half "
        "their 95% t interval"
    )


def _families(names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        match = _FAMILY.match(name)
        groups.setdefault(match.group("family") if match else name, []).append(name)
    return groups


def _plot_frontier(result, k: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    panels = (
        (f"psr@{k}", f"ndcg@{k}", f"PSR@{k} (higher = finds more lesser-known held-out items)", f"NDCG@{k}"),
        ("hits@10", f"psr@{k}", "hits@10 (share of the top 10 among the 1% most played; lower = fewer)", f"PSR@{k}"),
    )
    for ax, (x_key, y_key, x_label, y_label) in zip(axes, panels):
        for i, (family, members) in enumerate(_families(list(result.methods)).items()):
            xs = [result.methods[n].metrics.get(x_key, float("nan")) for n in members]
            ys = [result.methods[n].metrics.get(y_key, float("nan")) for n in members]
            colour = colours[i % len(colours)]
            if len(members) > 1:
                order = np.argsort(xs)
                ax.plot(np.asarray(xs)[order], np.asarray(ys)[order], "-", color=colour, alpha=0.6)
            ax.scatter(xs, ys, color=colour, label=family, zorder=3)
            for n, x, y in zip(members, xs, ys):
                if np.isfinite(x) and np.isfinite(y):
                    ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=6)
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Accuracy / lesser-known frontier ({result.protocol}, {result.part})")
    fig.tight_layout()
    _save(fig, path)


def _plot_popularity(result, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))

    def cdf(values, **style):
        values = np.sort(np.asarray(values, dtype=np.float64))
        if len(values) == 0:
            return
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", **style)

    cdf(result.listeners, color="black", linewidth=2, label="catalogue (each item once)")
    if result.truth_listeners is not None and len(result.truth_listeners):
        cdf(result.truth_listeners, color="grey", linestyle="--", linewidth=2, label="held-out truth")
    styles = ("-", "--", ":", "-.")
    for i, (name, m) in enumerate(result.methods.items()):
        top = m.recs[:, : max(result.ks)]
        picks = top[top >= 0]
        cdf(result.listeners[picks], label=name, alpha=0.85, linestyle=styles[(i // 10) % len(styles)])
    ax.set_xscale("log")
    ax.set_xlabel("training listeners of the item (log scale)")
    ax.set_ylabel(f"share of items / recommendations (top {max(result.ks)}) ≤ x")
    ax.set_title("Popularity of what each method recommends")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)


def write_report(result, out_dir, *, title: str, extra: dict | None = None) -> dict[str, Path]:
    """Write metrics.json, report.md and the PNG plots for an EvaluationResult; returns the paths by name."""
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    plots = []
    for k in result.ks:
        name = f"frontier_k{k}.png"
        _plot_frontier(result, k, out / name)
        paths[f"frontier@{k}"] = out / name
        plots.append(name)
    _plot_popularity(result, out / "popularity.png")
    paths["popularity"] = out / "popularity.png"
    plots.append("popularity.png")
    _write_atomic(out / "metrics.json", _dump(metrics_document(result, title=title, extra=extra)))
    paths["metrics"] = out / "metrics.json"
    _write_atomic(out / "report.md", _markdown(result, title, plots, extra))
    paths["report"] = out / "report.md"
    return paths


def write_scored(metrics: dict, out_dir) -> Path:
    """Write ``score_recommendations`` output as ``out_dir/metrics.json`` (top-level ``ndcg@K``, ``recall@K``,
    ``tail_recall@K``, ``aplt@K``, ``arp@K``, ``coverage@K`` for each K, then every other metric and count)."""
    ks = metrics.get("ks") or sorted({int(k.rpartition("@")[2]) for k in metrics if "@" in k})
    missing = [f"{name}@{k}" for k in ks for name in SCORED_KEYS if f"{name}@{k}" not in metrics]
    if missing:
        from gems.errors import ParameterError

        raise ParameterError(f"scored metrics lack {', '.join(missing)}; pass the output of score_recommendations")
    ordered = {f"{name}@{k}": metrics[f"{name}@{k}"] for k in ks for name in SCORED_KEYS}
    ordered.update({key: value for key, value in metrics.items() if key not in ordered})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "metrics.json", _dump(ordered))
    return out / "metrics.json"
