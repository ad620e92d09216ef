"""Build a model from a synthetic scale fixture (see scale_fixture.py) and report time and peak memory per stage.

    python benchmarks/scale_build.py --tracks 1000000 --users 100000 --listens 10000000 --work /tmp/scale1m

Memory is the process's resident set size, sampled every 50 ms (peak per stage) and its overall peak.
Writes WORK/build.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from pathlib import Path

from scale_fixture import make


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    import pyarrow.parquet as pq

    from gems.config import BuildConfig
    from gems.stages import build_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--listens", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.work / "listens.parquet").exists():
        catalog, listens = make(args.tracks, args.users, args.listens)
        pq.write_table(catalog, args.work / "catalog.parquet")
        pq.write_table(listens, args.work / "listens.parquet")
        del catalog, listens
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter() - started, rss_mb()))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    config = BuildConfig(
        model=args.work / "model", catalog=args.work / "catalog.parquet", listens=args.work / "listens.parquet"
    )
    build_started = time.perf_counter() - started
    result = build_model(config)
    done.set()
    sampler.join()
    report_path = args.work / "build.json"
    if all(stage["reused"] for stage in result.manifest["stages"].values()) and report_path.exists():
        print(f"the model in {args.work} is up to date: keeping the figures of the build that made it")
        show(json.loads(report_path.read_text()))
        return
    rows = []
    stages = sorted(result.manifest["stages"].items(), key=lambda item: item[1]["started_s"])
    for i, (name, stage) in enumerate(stages):
        begin = build_started + stage["started_s"]
        end = build_started + (stages[i + 1][1]["started_s"] if i + 1 < len(stages) else result.seconds)
        # a stage shorter than the sampling period: the last sample taken before it ended
        before_end = [m for t, m in samples if t <= end] or [samples[0][1]]
        peak = max((m for t, m in samples if begin <= t <= end), default=before_end[-1])
        rows.append(
            {"stage": name, "seconds": round(stage["seconds"], 2), "peak_rss_mb": round(peak), **stage["counts"]}
        )
    report = {
        "tracks": args.tracks,
        "users": args.users,
        "listens": args.listens,
        "total_seconds": round(result.seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "stages": rows,
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    show(report)


def show(report: dict) -> None:
    print(f"{'stage':<14}{'seconds':>9}{'peak RSS MB':>13}")
    for row in report["stages"]:
        print(f"{row['stage']:<14}{row['seconds']:>9.1f}{row['peak_rss_mb']:>13,}")
    print(f"total {report['total_seconds']} s, peak RSS {report['peak_rss_mb']:,} MB")


if __name__ == "__main__":
    main()
