"""How the unseen playlists of ``pipelines/unseen_playlists.py`` were answered, and how each group scores.

    python pipelines/unseen_answers.py --work /tmp/unseen [--recs /tmp/unseen/gems.csv]

Reads WORK as that script leaves it (model, histories, truth.csv, train.csv, gems.csv), links each playlist's
seed tracks to the model as ``gems export --histories`` does, and groups the playlists: some seed track is in
the model; none is, but an artist or album is (ranked by kin); nothing is (the fallback). Each group's
recommendations (``--recs``, default WORK/gems.csv: another run's file scores the same groups) are scored by
``gems.evaluate.score_recommendations`` against the rest of each playlist, K = 50; a playlist without a
recommendation scores 0. Prints a table and writes WORK/answers.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

GROUPS = {2: "a seed track in the model", 1: "of which an artist or album", 0: "of which nothing (fallback)"}
METRICS = ("ndcg@50", "recall@50", "tail_recall@50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--recs", type=Path)
    args = parser.parse_args()
    from gems.evaluate import score_recommendations
    from gems.model import Model
    from gems.serve.history import read_histories

    work = args.work
    histories = read_histories(Model(work / "model"), work / "histories", fmt="mpd")
    group = pd.Series(histories.linked(), index=histories.users)
    recs = pd.read_csv(args.recs or work / "gems.csv", dtype={"user_id": str})
    truth = pd.read_csv(work / "truth.csv", dtype={"user_id": str})
    train = pd.read_csv(work / "train.csv", dtype={"user_id": str})
    rows = {"all": sorted(group.index), GROUPS[2]: sorted(group.index[group == 2])}
    rows["no seed track in the model"] = sorted(group.index[group < 2])
    rows.update({f"  {GROUPS[g]}": sorted(group.index[group == g]) for g in (1, 0)})
    report = {}
    print(f"{'playlists':<32} {'n':>4} {'answered':>8} " + " ".join(f"{m:>14}" for m in METRICS))
    for name, users in rows.items():
        wanted = set(users)
        answered = int(recs["user_id"].isin(wanted).groupby(recs["user_id"]).any().sum())
        scores = {m: 0.0 for m in METRICS}
        if users and truth["user_id"].isin(wanted).any():
            scored = score_recommendations(
                recs[recs["user_id"].isin(wanted)], truth[truth["user_id"].isin(wanted)], train, (50,)
            )
            scores = {m: round(float(scored[m]), 4) for m in METRICS}
        report[name.strip()] = {"playlists": len(users), "answered": answered, **scores}
        print(f"{name:<32} {len(users):>4} {answered:>8} " + " ".join(f"{scores[m]:>14.4f}" for m in METRICS))
    (work / "answers.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
