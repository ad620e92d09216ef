"""Issue 18's check on MPD playlists a model never saw, scored as an independent evaluator would.

    python pipelines/unseen_playlists.py --slices ../shared/data/mpd-sample/slices --work /tmp/unseen \
        [--playlists 1000] [--seeds 0,1,2] [--points 0.5:0.3,1:0.3] [--skip-anchors]

Per seed, a seeded draw of playlists (more than 11 distinct tracks) is held out; their first 10 distinct tracks
are the seeds, the rest of each playlist the truth. Then, with gems' DEFAULT parameters throughout:

- ``inmodel``: ``gems build`` on the other playlists plus the held-out playlists' seeds; ``gems export
  --users HELD -k 50 --scope all`` with the default ranking, with ``--discount 0 --tail-share 0`` (the familiar
  end) and at each extra ``--points`` DISCOUNT:TAIL_SHARE;
- ``foldin``: ``gems build`` on the other playlists only; ``gems export --histories SEEDS --histories-format
  mpd -k 50 --scope all`` (the playlists folded in);
- the anchors on the in-model training listens: implicit ALS (the build's own settings), ItemKNN, and ALS /
  pop^β, RP3beta and EASE^R each tuned for PSR@50 and for NDCG@50 on these very playlists (the issue's rule:
  generous to the anchors).

Everything is scored by ``gems.evaluate.score_recommendations`` against the in-model training listens at K = 10
and 50: PSR@50 (γ 1), psr_half@50, NDCG@50, hits@10, recall@50, the playlists answered, and the share of
playlists with more than one hit (popularity percentile ≥ 99) in their top 10. Several seeds give the mean and
a 95% t interval. Writes WORK/results.json and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

K = 50
COLUMNS = ("psr@50", "psr_half@50", "ndcg@50", "hits@10", "recall@50", "answered", "over_one_hit@10")
INFO = {"generated_on": "gems pipelines/unseen_playlists.py", "slice": "0-0", "version": "v1"}


def split(slices: Path, work: Path, n: int, seed: int) -> list[str]:
    """Write WORK/rest (the other playlists), WORK/histories (the seeds), WORK/inmodel (both) and
    WORK/truth.csv; returns the held-out playlist ids."""
    playlists = [p for f in sorted(slices.glob("*.json")) for p in json.loads(f.read_text())["playlists"]]
    eligible = [p for p in playlists if len({t["track_uri"] for t in p["tracks"]}) > 11]
    unseen = {p["pid"] for p in random.Random(seed).sample(eligible, min(n, len(eligible)))}
    seeds, truth = [], []
    for p in playlists:
        if p["pid"] in unseen:
            first, seen = [], set()
            for t in p["tracks"]:
                if t["track_uri"] not in seen:
                    seen.add(t["track_uri"])
                    if len(first) < 10:
                        first.append(t)
                    else:
                        truth.append((str(p["pid"]), t["track_uri"]))
            seeds.append({**p, "tracks": first, "num_tracks": len(first)})
    rest = [p for p in playlists if p["pid"] not in unseen]
    for name, parts in (
        ("rest", {"0-999": rest}),
        ("histories", {"0-999": seeds}),
        ("inmodel", {"0-999": rest, "1000-1999": seeds}),
    ):
        (work / name).mkdir(parents=True, exist_ok=True)
        for label, chosen in parts.items():
            text = json.dumps({"info": {**INFO, "slice": label}, "playlists": chosen})
            (work / name / f"mpd.slice.{label}.json").write_text(text)
    pd.DataFrame(truth, columns=["user_id", "track_id"]).to_csv(work / "truth.csv", index=False)
    held = sorted(str(pid) for pid in unseen)
    (work / "users.txt").write_text("\n".join(held) + "\n")
    return held


def gems(*args) -> None:
    subprocess.run([str(Path(sys.executable).parent / "gems"), *map(str, args)], check=True)


def run_gems(work: Path, points) -> dict[str, Path]:
    """The builds and exports of one seed; returns the recommendation files by method name."""
    out = {}
    for name in ("inmodel", "rest"):  # a build reuses every stage whose inputs and code version are unchanged
        gems("build", "--listens", f"{work / name}:mpd", "--model", work / f"{name}_model", "--no-progress")
    common = ["-k", K, "--scope", "all", "--no-progress"]
    runs = {"gems (defaults)": [], "gems --discount 0 --tail-share 0": ["--discount", 0, "--tail-share", 0]}
    runs.update({f"gems --discount {d:g} --tail-share {t:g}": ["--discount", d, "--tail-share", t] for d, t in points})
    for i, (name, options) in enumerate(runs.items()):
        path = work / f"gems_{i}.csv"
        path.unlink(missing_ok=True)
        gems("export", "-m", work / "inmodel_model", "--users", work / "users.txt", *options, *common, "--out", path)
        out[name] = path
    path = work / "foldin.csv"
    path.unlink(missing_ok=True)
    gems(
        "export",
        "-m",
        work / "rest_model",
        "--histories",
        work / "histories",
        "--histories-format",
        "mpd",
        *common,
        "--out",
        path,
    )
    out["gems fold-in (defaults)"] = path
    return out


def run_anchors(work: Path, held: list[str], train_listens: pd.DataFrame, seed: int) -> tuple[dict[str, Path], dict]:
    """The anchors' recommendation files (tuned on these playlists for PSR@50 and NDCG@50) and their tuning;
    read back from WORK/anchors.json when a run of the same draw wrote them."""
    done = work / "anchors.json"
    if done.exists():
        saved = json.loads(done.read_text())
        return {name: Path(path) for name, path in saved["files"].items()}, saved["tuning"]
    from dataclasses import asdict

    from gems.config import CFParams
    from gems.evaluate.anchors import (
        EASE,
        EASE_GRID,
        POP_BETA_GRID,
        RP3BETA_GRID,
        PopularityReranked,
        RP3beta,
        tune,
    )
    from gems.evaluate.baselines import ALS, ItemKNN
    from gems.evaluate.data import train_data

    train = train_data(train_listens)
    users = train.user_rows(held)
    truth_frame = pd.read_csv(work / "truth.csv", dtype=str)
    truth_frame["item"] = train.item_rows(truth_frame["track_id"].to_numpy())
    by_user = {
        u: np.sort(g.to_numpy(np.int64)) for u, g in truth_frame[truth_frame["item"] >= 0].groupby("user_id")["item"]
    }
    truth = [by_user.get(u, np.zeros(0, dtype=np.int64)) for u in held]
    cf = {key: value for key, value in asdict(CFParams()).items() if key != "random_state"}
    als = ALS(random_state=seed, **cf).fit(train)
    methods = {"ALS": als, "ItemKNN": ItemKNN().fit(train)}
    tuning = {}
    makers = (
        ("ALS / pop^β", lambda beta, name: PopularityReranked(als, beta=beta, name=name), POP_BETA_GRID),
        ("RP3beta", RP3beta, RP3BETA_GRID),
        ("EASE^R", EASE, EASE_GRID),
    )
    for name, make, grid in makers:
        best, tuning[name] = tune(make, grid, train, users, truth, k=K, name=name)
        methods[f"{name} (NDCG-tuned)"] = best["ndcg"]
        methods[f"{name} (PSR-tuned)"] = best["psr"]
    out = {}
    for i, (name, method) in enumerate(methods.items()):
        items, _ = method.recommend(users, K)
        rows = [
            (train.user_ids[u], r + 1, train.item_ids[t])
            for u, row in zip(users, items)
            for r, t in enumerate(row)
            if t >= 0
        ]
        path = work / f"anchor_{i}.csv"
        pd.DataFrame(rows, columns=["user_id", "rank", "track_id"]).to_csv(path, index=False)
        out[name] = path
    done.write_text(json.dumps({"files": {name: str(path) for name, path in out.items()}, "tuning": tuning}))
    return out, tuning


def score(files: dict[str, Path], work: Path, train_listens: pd.DataFrame, n_held: int) -> dict[str, dict]:
    from gems.evaluate import score_recommendations
    from gems.evaluate.data import train_data
    from gems.popularity import hit_mask

    train = train_data(train_listens)
    is_hit = hit_mask(train.listeners)
    out = {}
    for name, path in files.items():
        recs = pd.read_csv(path, dtype={"user_id": str, "track_id": str})
        scored = score_recommendations(recs, work / "truth.csv", train_listens, (10, K))
        top = recs[recs["rank"] <= 10]
        rows = train.item_rows(top["track_id"].to_numpy())
        hits_per_list = (
            pd.Series(np.where(rows >= 0, is_hit[np.maximum(rows, 0)], False)).groupby(top["user_id"].to_numpy()).sum()
        )
        out[name] = {key: scored[key] for key in COLUMNS if key in scored}
        out[name]["answered"] = int(recs["user_id"].nunique())
        out[name]["over_one_hit@10"] = float((hits_per_list > 1).sum() / n_held)
    return out


def t_interval(values) -> tuple[float, float]:
    from gems.evaluate.seeds import t_interval as interval

    return interval(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--playlists", type=int, default=1000)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the draw (each its own models)")
    parser.add_argument("--points", default="", help="extra gems operating points DISCOUNT:TAIL_SHARE,...")
    parser.add_argument("--skip-anchors", action="store_true", help="score gems only (the anchors take longest)")
    args = parser.parse_args()
    from gems.ingest import read_listens

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    points = [tuple(float(x) for x in p.split(":")) for p in args.points.split(",") if p.strip()]
    results, tuning = {}, {}
    for seed in seeds:
        work = args.work / f"seed{seed}"
        held = split(args.slices, work, args.playlists, seed)
        train_listens = read_listens(work / "inmodel", format="mpd")[0][["user_id", "track_id"]]
        files = run_gems(work, points)
        if not args.skip_anchors:
            anchors, tuning[seed] = run_anchors(work, held, train_listens, seed)
            files.update(anchors)
        results[seed] = score(files, work, train_listens, len(held))
        print(f"\nseed {seed}: {len(held)} held-out playlists")
        print(pd.DataFrame(results[seed]).T.to_string(float_format=lambda v: f"{v:.4f}"))
    names = list(results[seeds[0]])
    summary = {}
    for name in names:
        summary[name] = {}
        for key in COLUMNS:
            values = [results[s][name][key] for s in seeds]
            low, high = t_interval(values)
            summary[name][key] = {"mean": float(np.mean(values)), "interval": [low, high], "per_seed": values}
    table = pd.DataFrame({name: {key: v["mean"] for key, v in cols.items()} for name, cols in summary.items()}).T
    print(f"\nmean over seeds {seeds}:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    anchors = [n for n in names if n.endswith("(PSR-tuned)")]
    if anchors:
        best = max(anchors, key=lambda n: table.loc[n, "psr@50"])
        ratios = {
            "best anchor for PSR@50": best,
            "defaults PSR@50 / best anchor's": table.loc["gems (defaults)", "psr@50"] / table.loc[best, "psr@50"],
            "defaults NDCG@50 / best anchor's": table.loc["gems (defaults)", "ndcg@50"] / table.loc[best, "ndcg@50"],
            "familiar NDCG@50 / ALS's": table.loc["gems --discount 0 --tail-share 0", "ndcg@50"]
            / table.loc["ALS", "ndcg@50"],
            "fold-in PSR@50 / best anchor's": table.loc["gems fold-in (defaults)", "psr@50"]
            / table.loc[best, "psr@50"],
        }
        for key, value in ratios.items():
            print(f"{key}: {value if isinstance(value, str) else f'{value:.3f}'}")
        summary["ratios"] = ratios
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "results.json").write_text(
        json.dumps({"seeds": seeds, "summary": summary, "per_seed": results, "tuning": tuning}, indent=2, default=float)
    )


if __name__ == "__main__":
    main()
