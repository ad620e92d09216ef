"""Does `gems recommend --user U --json` give exactly the list `gems export` writes for U? (One ranking path.)

    python pipelines/recommend_export_parity.py --model models/mpd [--users 60] [--seed 0] [-k 50] [--scope all]

Draws ``--users`` listeners of the model (seeded), exports their top k once (``gems export --users``), asks
``gems recommend --user`` for each in its own cold process, and prints how many lists are identical (tracks and
order), naming the first difference of any that is not. Exit code 1 when any list differs.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path


def gems(*args: str) -> str:
    command = [str(Path(sys.executable).parent / "gems"), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=50)
    parser.add_argument("--scope", default=None, help="all or soundtrack [default: the model's]")
    args = parser.parse_args()
    import pandas as pd

    ids = pd.read_parquet(args.model / "users.parquet")["user_id"].astype(str).tolist()
    users = random.Random(args.seed).sample(ids, min(args.users, len(ids)))
    options = ["-k", str(args.k)] + (["--scope", args.scope] if args.scope else [])
    with tempfile.TemporaryDirectory() as folder:
        listed = Path(folder) / "users.txt"
        listed.write_text("\n".join(users) + "\n")
        out = Path(folder) / "recs.csv"
        gems("export", "-m", str(args.model), "--users", str(listed), "--out", str(out), "--no-progress", *options)
        exported = pd.read_csv(out, dtype={"user_id": str, "track_id": str})
    exported = exported.sort_values(["user_id", "rank"]).groupby("user_id")["track_id"].apply(list)
    same, first_difference = 0, None
    for user in users:
        picks = [
            p["track_id"]
            for p in json.loads(gems("recommend", "-m", str(args.model), "--user", user, "--json", *options))
        ]
        wanted = exported.get(user, [])
        if picks == wanted:
            same += 1
        elif first_difference is None:
            at = next((i for i, (a, b) in enumerate(zip(picks, wanted)) if a != b), min(len(picks), len(wanted)))
            first_difference = (
                f"listener {user}: position {at + 1} recommend {picks[at : at + 2]} export {wanted[at : at + 2]}"
            )
    print(f"{same} of {len(users)} listeners: recommend --user gives exactly the exported list")
    if first_difference:
        print(f"first difference — {first_difference}")
    sys.exit(0 if same == len(users) else 1)


if __name__ == "__main__":
    main()
