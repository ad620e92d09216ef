"""Wall time of ``gems recommend`` on the 1,000,000-track scale model, whole command, cold start each time.

    python benchmarks/recommend_latency.py [--tracks 1000000] [--repeat 5]

Three queries: seeds by id (``--like ID --like ID``), a seed by title (``--like "Track 5002"``) and a known
listener (``--user ID``). The comparison is the obvious script: a fresh Python process that loads the
model's ALS item factors with ``np.load`` and scans them all for the seeds' nearest tracks (no lookup, no
popularity, no explanation; ``--naive`` runs it). The median of ``--repeat`` runs is reported.
Writes results/recommend_latency.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from benchkit import gems_command, scale_model, wall, write_result


def naive(model: Path, seeds: list[int]) -> None:
    """Load every item factor, score them all against the seeds' mean, print the best 10 rows."""
    factors = np.load(model / "cf" / "item_factors.npy")
    unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    scores = unit @ unit[seeds].mean(axis=0)
    scores[seeds] = -np.inf
    best = np.argpartition(-scores, 10)[:10]
    print(best[np.argsort(-scores[best])])


def main() -> None:
    if sys.argv[1:2] == ["--naive"]:
        naive(Path(sys.argv[2]), [int(s) for s in sys.argv[3:]])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import pyarrow.parquet as pq

    model = scale_model(args.tracks)
    tracks = pq.read_table(model / "tracks.parquet", columns=["track_id", "title"])
    user = pq.read_table(model / "users.parquet").column("user_id")[10].as_py()
    rows = [5000, 5001]
    ids = [tracks.column("track_id")[r].as_py() for r in rows]
    title = tracks.column("title")[5002].as_py()
    gems = [*gems_command(), "recommend", "--model", str(model)]
    queries = {
        "--like ID --like ID": [*gems, "--like", ids[0], "--like", ids[1]],
        "--like TITLE": [*gems, "--like", title],
        "--user ID": [*gems, "--user", user],
    }
    naive_s = statistics.median(wall([sys.executable, __file__, "--naive", str(model), *map(str, rows)], args.repeat))
    results = []
    print(f"gems recommend on {args.tracks:,} tracks (median of {args.repeat}, whole command)")
    print(f"  naive script (np.load + full scan): {naive_s:.2f} s")
    for name, command in queries.items():
        seconds = statistics.median(wall(command, args.repeat))
        results.append({"query": name, "gems_s": round(seconds, 3), "ratio_to_naive": round(naive_s / seconds, 2)})
        print(f"  {name:22} {seconds:.2f} s   {naive_s / seconds:.2f}x the naive script")
    write_result("recommend_latency", {"tracks": args.tracks, "naive_s": round(naive_s, 3), "queries": results})


if __name__ == "__main__":
    main()
