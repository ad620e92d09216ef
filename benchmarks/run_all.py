"""Every benchmark in one run (``make bench``): one JSON file and one table.

    python benchmarks/run_all.py [--skip NAME ...]

Runs, each as its own process: audio_throughput, sound_throughput, cf_fit, export_throughput, recommend_latency,
index_search, history_foldin, web_latency, soundtrack_classify, ingest_memory (the scale fixtures of 150k, 200k and
1M tracks are built first when missing: ~3, ~3 and ~5 minutes, up to 4.1 GB peak; ingest_memory writes ~200 MiB of
each export format, ~1.3 GB on disk; set GEMS_BENCH_WORK to keep them elsewhere than benchmarks/work). Every
figure stands beside its comparison from the same run, as a ratio (>1: gems is faster). Writes results/bench.json
and prints the table as Markdown, ready for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchkit import RESULTS, ROOT, WORK, machine

BENCHMARKS = (  # recommend_latency builds the 1M-track model that index_search then reads
    "audio_throughput",
    "sound_throughput",
    "cf_fit",
    "export_throughput",
    "recommend_latency",
    "index_search",
    "history_foldin",
    "web_latency",
    "soundtrack_classify",
    "ingest_memory",
)


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def rows_of(results: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(what, gems, comparison, ratio) rows of the summary table."""
    rows = []
    if audio := results.get("audio_throughput"):
        paths = audio["paths"]
        rows.append(
            (
                f"one-STFT audio features, {audio['files']} files, 1 worker",
                f"{paths['gems_1_worker']['realtime']:.0f}× real time",
                f"naive librosa {paths['naive']['realtime']:.0f}× real time",
                f"{audio['gems_vs_naive']:.2f}",
            )
        )
    if sound := results.get("sound_throughput"):
        paths = sound["paths"]
        extraction = f"{paths['extraction_1_worker']['realtime']:.0f}× real time"
        what = f"sound extraction (decode, features, musicnn MTT + MSD), {sound['files']} 30-s excerpts, 1 worker"
        rows.append(
            (
                what,
                extraction,
                f"naive per-patch network {paths['naive']['realtime']:.0f}× real time",
                f"{sound['extraction_vs_naive']:.2f}",
            )
        )
        rows.append(
            (
                what,
                extraction,
                f"one-STFT features alone {paths['features_alone']['realtime']:.0f}× real time",
                f"{sound['extraction_vs_features_alone']:.2f}",
            )
        )
    if cf := results.get("cf_fit"):
        rows.append(
            (
                f"CF build, ALS {cf['factors']} factors on {cf['users']:,} × {cf['tracks']:,} ({cf['pairs']:,} pairs)",
                f"{cf['gems_s']:.1f} s",
                f"implicit fit {cf['implicit_s']:.1f} s",
                f"{cf['ratio']:.2f}",
            )
        )
    if export := results.get("export_throughput"):
        rows.append(
            (
                f"export top 50, {export['users']:,} users × {export['tracks']:,} tracks",
                f"{export['gems_users_per_s']:,} users/s",
                f"implicit recommend {export['implicit_users_per_s']:,} users/s",
                f"{export['ratio']:.2f}",
            )
        )
    if index := results.get("index_search"):
        for row in index["rows"]:
            rows.append(
                (
                    f"index queries, {row['vectors']}, {row['n']:,} ({row['index']}), recall@50 {row['recall@50']:.3f}",
                    f"{row['index_qps']:,} q/s",
                    f"exact {row['exact_qps']:,} q/s",
                    f"{row['speedup']:.2f}",
                )
            )
    if latency := results.get("recommend_latency"):
        for query in latency["queries"]:
            rows.append(
                (
                    f"`gems recommend {query['query']}`, {latency['tracks']:,}-track model",
                    f"{query['gems_s']:.2f} s",
                    f"naive script {latency['naive_s']:.2f} s",
                    f"{query['ratio_to_naive']:.2f}",
                )
            )
    if history := results.get("history_foldin"):
        rows.append(
            (
                f"`gems recommend --history` ({history['history_rows']:,}-scrobble Last.fm export, linked by name), "
                f"{history['tracks']:,}-track model",
                f"{history['recommend_history_s']:.2f} s",
                f"`--user` of the model {history['recommend_user_s']:.2f} s",
                f"{history['recommend_user_s'] / history['recommend_history_s']:.2f}",
            )
        )
        rows.append(
            (
                f"`gems export --histories`, {history['export_users']:,} listeners folded in, "
                f"{history['tracks']:,}-track model",
                f"{history['export_histories_users_per_s']:,} users/s",
                f"`--users` from the model {history['export_model_users_per_s']:,} users/s",
                f"{history['export_ratio']:.2f}",
            )
        )
    if web := results.get("web_latency"):
        for row in web["rows"]:
            seq, crowd = row["sequential"], row["concurrent"]
            rows.append(
                (
                    f"`/api/recommend` on a warm `gems serve`, {row['tracks']:,}-track model: p95 of {seq['calls']} "
                    f"sequential calls (p50 {seq['p50_ms']:.0f} ms; {crowd['clients']} concurrent clients: p95 "
                    f"{crowd['p95_ms']:.0f} ms, {crowd['errors']} errors)",
                    f"{seq['p95_ms']:.0f} ms",
                    f"cold `gems recommend` {row['cli_cold_s']:.2f} s",
                    f"{row['cli_cold_s'] * 1000 / seq['p95_ms']:.2f}",
                )
            )
    if classify := results.get("soundtrack_classify"):
        rows.append(
            (
                f"soundtrack detection, the MPD sample's {classify['tracks']:,} tracks",
                f"{classify['gems_s']:.2f} s",
                f"the rules before covers and playlist evidence {classify['before_s']:.2f} s",
                f"{classify['ratio']:.2f}",
            )
        )
    if ingest := results.get("ingest_memory"):
        for row in ingest["rows"]:
            rows.append(
                (
                    f"`gems ingest` peak memory, {row['format']} export ({row['input_mib']:,} MiB of text, "
                    f"{row['rows_kept']:,} listens kept; >1: gems holds less)",
                    f"{row['gems_peak_mib']:,} MiB",
                    f"naive whole-file read {row['naive_peak_mib']:,} MiB",
                    f"{row['ratio']:.2f}",
                )
            )
    return rows


def build_rows(scale: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """A row per whole scale build (not one that reused its ALS and neighbours): the build against the stages
    it runs implicit in (ALS, item neighbours)."""
    rows = []
    for build in scale.values():
        seconds = {stage["stage"]: stage["seconds"] for stage in build["stages"]}
        wrapped = seconds.get("cf", 0.0) + seconds.get("neighbours", 0.0)
        if not (seconds.get("cf") and seconds.get("neighbours")):
            continue
        rows.append(
            (
                f"`gems build`, {build['tracks']:,} tracks × {build['users']:,} listeners (synthetic), peak "
                f"{build['peak_rss_mb']:,} MB",
                f"{build['total_seconds']:.0f} s",
                f"its ALS fit + item neighbours {wrapped:.0f} s",
                f"{wrapped / build['total_seconds']:.2f}",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=BENCHMARKS, help="benchmarks not to run")
    args = parser.parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "benchmarks")}
    failed = []
    for name in BENCHMARKS:
        if name in args.skip:
            continue
        print(f"\n=== {name}", flush=True)
        if subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py")], env=env).returncode:
            failed.append(name)
    results = {name: result for name in BENCHMARKS if (result := load(name)) is not None}
    scale = {}
    for size in ("200k", "1000k"):
        build = WORK / f"scale-{size}" / "build.json"
        if build.exists():
            scale[size] = json.loads(build.read_text())
    rows = rows_of(results) + build_rows(scale)
    summary = {"machine": machine(), "summary": [dict(zip(("what", "gems", "comparison", "ratio"), r)) for r in rows]}
    (RESULTS / "bench.json").write_text(
        json.dumps({**summary, "results": results, "scale_builds": scale, "failed": failed}, indent=2) + "\n"
    )
    print("\n| benchmark | gems | comparison (same run) | ratio |\n|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for size, build in scale.items():
        stages = ", ".join(f"{s['stage']} {s['seconds']:.0f} s" for s in build["stages"])
        print(f"\nscale build {size} tracks: {build['total_seconds']} s, peak {build['peak_rss_mb']:,} MB ({stages})")
    print(f"\nwritten to {(RESULTS / 'bench.json').relative_to(ROOT)}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
