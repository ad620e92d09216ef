"""Batch export against implicit's own batched ``recommend``, for the same listeners of the same model.

    python benchmarks/export_throughput.py [--tracks 200000] [--users 100000] [--workers N]

On the synthetic scale fixture (``scale_build.py``; 200k tracks, 100k listeners, 10M listens by default):

- implicit: ``AlternatingLeastSquares.recommend(users, user_items[users], N=50)`` in blocks of 1,000, with the
  model's own ALS factors, one BLAS thread (implicit's top-k runs its own threads over every core).
- gems: the whole ``gems export --model M --out recs.parquet --k 50`` command (start-up, model loading, the
  hidden-gem ranking, Parquet written) in worker processes, one per core.

Reported: users per second of each and their ratio (gems / implicit); writes results/export_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from benchkit import gems_command, scale_model, write_result


def implicit_recommend(model_path: Path, n_users: int) -> float:
    """Seconds for implicit's recommend over the first ``n_users`` listeners."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from gems.model import Model

    model = Model(model_path)
    indptr, indices, weights = (np.asarray(a) for a in model.interactions)
    user_items = sp.csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1, model.n_tracks))
    als = AlternatingLeastSquares(factors=model.inputs.item_factors.shape[1])
    als.user_factors = np.asarray(model.inputs.user_factors)
    als.item_factors = np.asarray(model.inputs.item_factors)
    users = np.arange(n_users)
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        for start in range(0, n_users, 1000):
            block = users[start : start + 1000]
            als.recommend(block, user_items[block], N=50)
        return time.perf_counter() - started


def gems_export(model_path: Path, n_users: int, workers: int | None) -> float:
    """Seconds of the ``gems export`` command for the first ``n_users`` listeners."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as folder:
        users = Path(folder) / "users.txt"
        ids = pq.read_table(model_path / "users.parquet").column("user_id").to_pylist()[:n_users]
        users.write_text("\n".join(ids) + "\n")
        command = [*gems_command(), "export", "--model", str(model_path), "--users", str(users), "--k", "50"]
        command += ["--out", str(Path(folder) / "recs.parquet"), "--no-progress"]
        command += ["--workers", str(workers)] if workers else []
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        rows = pq.ParquetFile(Path(folder) / "recs.parquet").metadata.num_rows
        if rows != 50 * n_users:
            raise SystemExit(f"gems export wrote {rows} rows for {n_users} users, expected {50 * n_users}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=100_000, help="listeners exported (the fixture has 100k)")
    parser.add_argument("--workers", type=int, help="gems worker processes [default: one per core]")
    args = parser.parse_args()
    model = scale_model(args.tracks)
    implicit_s = implicit_recommend(model, args.users)
    gems_s = gems_export(model, args.users, args.workers)
    report = {
        "tracks": args.tracks,
        "users": args.users,
        "k": 50,
        "implicit_users_per_s": round(args.users / implicit_s),
        "gems_users_per_s": round(args.users / gems_s),
        "ratio": round(implicit_s / gems_s, 3),
        "gems_workers": args.workers or os.cpu_count(),
    }
    print(f"{args.users:,} users × {args.tracks:,} tracks, top 50")
    print(f"  implicit recommend  {report['implicit_users_per_s']:>7,} users/s")
    print(f"  gems export         {report['gems_users_per_s']:>7,} users/s   ratio {report['ratio']:.2f}")
    write_result("export_throughput", report)


if __name__ == "__main__":
    main()
