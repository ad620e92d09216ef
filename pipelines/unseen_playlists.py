"""Fold-in on playlists a model never saw, scored as an independent evaluator would.

    python pipelines/unseen_playlists.py --slices ../shared/data/mpd-sample/slices --work /tmp/unseen [--playlists 500]

A seeded draw of playlists (more than 11 distinct tracks) is kept out of the model: ``gems build`` reads the
others; the drawn playlists' first 10 distinct tracks are written as an MPD slice and given to
``gems export --histories``; the rest of each playlist is the truth. The comparison is a plain implicit ALS
(gems' ALS baseline: 128 factors, BM25) trained *with* those 10 tracks. Both are scored by
``gems.evaluate.score_recommendations`` against the training listens (model + seeds), K = 50.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd


def split(slices: Path, work: Path, n: int, seed: int) -> set[int]:
    """Write WORK/train (the model's playlists), WORK/histories (the seeds) and WORK/truth.csv."""
    playlists = [p for f in sorted(slices.glob("*.json")) for p in json.loads(f.read_text())["playlists"]]
    eligible = [p for p in playlists if len({t["track_uri"] for t in p["tracks"]}) > 11]
    unseen = {p["pid"] for p in random.Random(seed).sample(eligible, n)}
    info = {"generated_on": "gems pipelines/unseen_playlists.py", "slice": "0-0", "version": "v1"}
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
    for name, chosen in (("train", [p for p in playlists if p["pid"] not in unseen]), ("histories", seeds)):
        (work / name).mkdir(parents=True, exist_ok=True)
        (work / name / "mpd.slice.0-999.json").write_text(json.dumps({"info": info, "playlists": chosen}))
    pd.DataFrame(truth, columns=["user_id", "track_id"]).to_csv(work / "truth.csv", index=False)
    return unseen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--playlists", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from gems.evaluate import score_recommendations
    from gems.evaluate.baselines import ALS
    from gems.evaluate.data import train_data
    from gems.ingest import read_listens

    work = args.work
    unseen = split(args.slices, work, args.playlists, args.seed)
    gems = [str(Path(sys.executable).parent / "gems")]
    subprocess.run([*gems, "build", "--listens", f"{work / 'train'}:mpd", "--model", str(work / "model")], check=True)
    export = [*gems, "export", "-m", str(work / "model"), "--histories", str(work / "histories"), "-k", "50"]
    subprocess.run([*export, "--histories-format", "mpd", "--out", str(work / "gems.csv"), "--no-progress"], check=True)
    listens = pd.concat([read_listens(work / name, format="mpd")[0] for name in ("train", "histories")])
    listens[["user_id", "track_id"]].to_csv(work / "train.csv", index=False)
    train = train_data(listens)
    users = train.user_rows(sorted(str(u) for u in unseen))
    items, _ = ALS(random_state=args.seed).fit(train).recommend(users, 50)
    rows = [
        (train.user_ids[u], r + 1, train.item_ids[i])
        for u, row in zip(users, items)
        for r, i in enumerate(row)
        if i >= 0
    ]
    pd.DataFrame(rows, columns=["user_id", "rank", "track_id"]).to_csv(work / "als.csv", index=False)
    for name in ("gems", "als"):
        scores = score_recommendations(work / f"{name}.csv", work / "truth.csv", work / "train.csv", (50,))
        print(name, {key: round(scores[key], 4) for key in ("ndcg@50", "recall@50", "tail_recall@50", "aplt@50")})


if __name__ == "__main__":
    main()
