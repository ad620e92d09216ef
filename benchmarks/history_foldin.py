"""Histories the model never saw, against the same listeners inside the model, whole commands.

    python benchmarks/history_foldin.py [--tracks 150000] [--repeat 5] [--users 5000]

On the synthetic scale fixture (``scale_build.py``, 150k tracks by default):

- ``gems recommend --history`` of a 10,000-scrobble Last.fm export (names only: artist, album, title, date;
  linked to the model by name, 5% of the rows names the model does not hold), cold process, median of
  ``--repeat``; beside ``gems recommend --user`` for a listener the model holds. Target: under 1.5 s.
- ``gems export --histories`` of ``--users`` listeners given as a listens table (their listens as the model
  has them), folded in, against ``gems export --users`` of the same listeners from the model (users/s, 2
  workers); the ratio (fold-in / model) should be at least 0.7.

Writes results/history_foldin.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from benchkit import gems_command, scale_model, wall, write_result

ROWS = 10_000


def scrobbles(model: Path, path: Path, rows: int, seed: int = 0) -> None:
    """A Last.fm scrobbles CSV of ``rows`` listens of the model's tracks by name (5% names it lacks)."""
    import pyarrow.parquet as pq

    tracks = pq.read_table(model / "tracks.parquet", columns=["title", "artist", "soundtrack"]).to_pandas()
    rng = np.random.default_rng(seed)
    chosen = tracks.iloc[rng.choice(len(tracks), size=rows, replace=True)].reset_index(drop=True)
    unknown = rng.random(rows) < 0.05
    chosen.loc[unknown, "title"] = [f"Unheard Song {i}" for i in range(int(unknown.sum()))]
    dates = [f"{1 + i % 28:02d} Mar 2025 {i % 24:02d}:{i % 60:02d}" for i in range(rows)]
    lines = [
        f'"{a}","{s}","{t}","{d}"' for a, s, t, d in zip(chosen["artist"], chosen["soundtrack"], chosen["title"], dates)
    ]
    path.write_text("\n".join(lines) + "\n")


def listener_table(model: Path, users: int, path: Path) -> list[str]:
    """The listens of the model's first ``users`` listeners as a table (user_id, track_id, plays); their ids."""
    import pyarrow.parquet as pq

    listens = pq.read_table(model / "listens.parquet", columns=["user_id", "track_id", "weight"]).to_pandas()
    ids = sorted(listens["user_id"].unique())[:users]
    listens[listens["user_id"].isin(set(ids))].to_csv(path, index=False)
    return ids


def export_rate(command: list[str], users: int) -> float:
    started = time.perf_counter()
    import subprocess

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return users / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    model = scale_model(args.tracks)
    gems = gems_command()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        export = work / "scrobbles.csv"
        scrobbles(model, export, ROWS)
        import pyarrow.parquet as pq

        user = pq.read_table(model / "users.parquet").column("user_id")[10].as_py()
        base = [*gems, "recommend", "--model", str(model), "-k", "10"]
        history_s = statistics.median(
            wall([*base, "--history", str(export), "--history-format", "lastfm-scrobbles"], args.repeat)
        )
        user_s = statistics.median(wall([*base, "--user", user], args.repeat))
        table = work / "listeners.csv"
        ids = listener_table(model, args.users, table)
        (work / "users.txt").write_text("\n".join(ids) + "\n")
        common = [*gems, "export", "--model", str(model), "-k", "50", "--workers", "2", "--no-progress"]
        inside = export_rate([*common, "--users", str(work / "users.txt"), "--out", str(work / "a.parquet")], len(ids))
        folded = export_rate(
            [*common, "--histories", str(table), "--histories-format", "table", "--out", str(work / "b.parquet")],
            len(ids),
        )
    report = {
        "tracks": args.tracks,
        "history_rows": ROWS,
        "recommend_history_s": round(history_s, 3),
        "recommend_user_s": round(user_s, 3),
        "export_users": len(ids),
        "export_model_users_per_s": round(inside),
        "export_histories_users_per_s": round(folded),
        "export_ratio": round(folded / inside, 2),
    }
    print(f"{args.tracks:,}-track model, median of {args.repeat} cold runs")
    print(f"  gems recommend --history ({ROWS:,} scrobbles)  {history_s:.2f} s   (--user of the model: {user_s:.2f} s)")
    print(f"  gems export --histories  {folded:,.0f} users/s   --users from the model {inside:,.0f} users/s")
    print(f"  ratio {folded / inside:.2f}")
    write_result("history_foldin", report)


if __name__ == "__main__":
    main()
