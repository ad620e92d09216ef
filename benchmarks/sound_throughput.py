"""Sound extraction throughput: gems' whole extraction on 30-s excerpts, 1 worker, in × real time, beside the
one-STFT features alone and beside a naive per-patch version of the same network, in the same run.

    python benchmarks/sound_throughput.py [--files DIR_OR_MANIFEST] [--limit N] [--repeat R]

Files as ``audio_throughput.py`` finds them (default: ``../audio`` beside the project, else the demo's 107 30-s
excerpts), ``--limit`` of them evenly spaced (default 24); every path analyses the middle 30 s of each file,
single-threaded BLAS, each warmed up once on one file, the fastest of ``--repeat`` runs counted:

- extraction, 1 worker: ``FeatureExtractor(workers=1)`` with an empty cache: hashing, decoding (16 kHz),
  one-STFT features, musicnn MTT and MSD (sound vector and tags) and cache writes;
- extraction, 2 workers: the same with ``workers=2`` (the machine's two cores);
- one-STFT features alone: ``load_excerpt`` + ``feature_vector`` per file (what gems extracted before musicnn);
- naive network: ``load_excerpt`` + ``feature_vector`` + the literal network (``tests/musicnnkit.py``: every
  filter, batch norms where TensorFlow has them, one patch at a time) of both models.

Also per clip: ms of decoding, features, log-mel and each model's forward pass (fast path). Besides wall time,
each path's CPU seconds (this process and its worker processes) are kept: on a machine other processes keep
busy, CPU time is the steadier measure of per-core throughput (``realtime_per_cpu_second``). Printed, and
written to ``benchmarks/results/sound_throughput.json``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time

import numpy as np
from audio_throughput import find_files, timed, windows
from benchkit import ROOT, write_result

sys.path.insert(0, str(ROOT / "tests"))
TARGET_REALTIME_PER_CORE = 100.0


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(run):
    """(wall seconds, other processes' cores, CPU seconds, result) of ``run()``."""
    before = cpu_seconds()
    seconds, background, result = timed(run)
    return seconds, background, cpu_seconds() - before, result


def run_extraction(paths, workers: int):
    from gems.audio.extractor import FeatureExtractor

    with tempfile.TemporaryDirectory() as warm:  # warm-up: imports, filterbanks, weights, one pool start
        FeatureExtractor(workers=workers, cache_dir=warm).extract(paths[:workers])
    with tempfile.TemporaryDirectory() as cache:
        return timed_cpu(lambda: FeatureExtractor(workers=workers, cache_dir=cache).extract(paths))


def run_features(paths):
    from threadpoolctl import threadpool_limits

    from gems.audio.decode import load_excerpt
    from gems.audio.features import feature_vector

    with threadpool_limits(limits=1):
        feature_vector(load_excerpt(paths[0])[0], sr=16000)
        return timed_cpu(lambda: [feature_vector(load_excerpt(path)[0], sr=16000) for path in paths])


def naive_sound(y, weights) -> np.ndarray:
    """The same sound vector through the literal network, one patch at a time."""
    from gems.audio import musicnn
    from musicnnkit import naive_forward

    x = musicnn.patches(musicnn.log_mel(y))
    parts = []
    for name in musicnn.SOUND_MODELS:
        penultimate = np.stack([naive_forward(weights[name], patch)["penultimate"] for patch in x])
        parts += [penultimate.mean(axis=0), penultimate.max(axis=0)]
    return np.concatenate(parts)


def run_naive(paths):
    from threadpoolctl import threadpool_limits

    from gems.audio import musicnn
    from gems.audio.decode import load_excerpt
    from gems.audio.features import feature_vector

    weights = {name: musicnn.load_weights(name) for name in musicnn.SOUND_MODELS}

    def one(path):
        y, _ = load_excerpt(path)
        return feature_vector(y, sr=16000), naive_sound(y, weights)

    with threadpool_limits(limits=1):
        one(paths[0])
        return timed_cpu(lambda: [one(path) for path in paths])


def breakdown(paths, repeat: int) -> dict[str, float]:
    """Mean ms per clip of each step of the fast path (fastest of ``repeat``)."""
    from threadpoolctl import threadpool_limits

    from gems.audio import musicnn
    from gems.audio.decode import load_excerpt
    from gems.audio.features import feature_vector

    steps = ("decode", "features", "log_mel", *musicnn.SOUND_MODELS)
    times = np.full((repeat, len(paths), len(steps)), np.inf)
    with threadpool_limits(limits=1):
        for r, i in ((r, i) for r in range(repeat) for i in range(len(paths))):
            t0 = time.perf_counter()
            y, _ = load_excerpt(paths[i])
            t1 = time.perf_counter()
            feature_vector(y, sr=16000)
            t2 = time.perf_counter()
            x = musicnn.patches(musicnn.log_mel(y))
            marks = [t0, t1, t2, time.perf_counter()]
            for name in musicnn.SOUND_MODELS:
                musicnn.Musicnn.load(name).forward(x)
                marks.append(time.perf_counter())
            times[r, i] = np.diff(marks)
    return dict(zip(steps, (1e3 * times.min(axis=0).mean(axis=0)).round(1).tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files", help="folder of audio files or a manifest CSV (default: ../audio, else data/demo/audio)"
    )
    parser.add_argument("--limit", type=int, default=24, help="use N files, evenly spaced (default 24)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per path; the fastest is reported")
    args = parser.parse_args()

    paths = find_files(args.files, args.limit)
    wins = windows(paths)
    audio_s = sum(w[1] for w in wins)
    formats = sorted({w[2] for w in wins})
    print(f"{len(paths)} files ({', '.join(formats)}), {audio_s:,.0f} s of audio (middle 30 s each)")
    runs: dict[str, list] = {"extraction_1_worker": [], "extraction_2_workers": [], "features_alone": [], "naive": []}
    for _ in range(args.repeat):  # interleaved, so a burst of outside load does not hit one path only
        *timing, one = run_extraction(paths, 1)
        runs["extraction_1_worker"].append(tuple(timing))
        *timing, two = run_extraction(paths, 2)
        runs["extraction_2_workers"].append(tuple(timing))
        runs["features_alone"].append(run_features(paths)[:3])
        runs["naive"].append(run_naive(paths)[:3])
    rows = {}
    for name, timings in runs.items():
        best, background, cpu = min(timings)
        workers = 2 if name.endswith("2_workers") else 1
        rows[name] = {
            "workers": workers,
            "seconds": best,
            "cpu_seconds": min(t[2] for t in timings),
            "other_processes_cores": background,
            "ms_per_clip": 1e3 * best / len(paths),
            "realtime": audio_s / best,
            "realtime_per_core": audio_s / best / workers,
            "realtime_per_cpu_second": audio_s / min(t[2] for t in timings),
        }
    same = np.allclose(one.analysis, two.analysis, rtol=1e-5, atol=1e-5, equal_nan=True)
    steps = breakdown(paths, args.repeat)
    report = {
        "files": len(paths),
        "formats": formats,
        "audio_seconds": audio_s,
        "paths": rows,
        "extraction_vs_naive": rows["naive"]["seconds"] / rows["extraction_1_worker"]["seconds"],
        "extraction_vs_features_alone": rows["features_alone"]["seconds"] / rows["extraction_1_worker"]["seconds"],
        "two_worker_speedup": rows["extraction_1_worker"]["seconds"] / rows["extraction_2_workers"]["seconds"],
        "same_output_1_and_2_workers": bool(same),
        "failed": [f"{p}: {c}" for p, c, _ in one.failures()],
        "per_clip_ms": steps,
        "target_realtime_per_core": TARGET_REALTIME_PER_CORE,
    }
    print(
        f"\n{'path':22} {'workers':>7} {'seconds':>8} {'ms/clip':>8} {'x realtime':>11} {'CPU s':>7} "
        f"{'x rt/CPU s':>10} {'other load (cores)':>19}"
    )
    for name, row in rows.items():
        other = "n/a" if row["other_processes_cores"] is None else f"{row['other_processes_cores']:.2f}"
        print(
            f"{name:22} {row['workers']:>7} {row['seconds']:>8.2f} {row['ms_per_clip']:>8.1f} "
            f"{row['realtime']:>11.0f} {row['cpu_seconds']:>7.2f} {row['realtime_per_cpu_second']:>10.0f} {other:>19}"
        )
    print(f"\nextraction vs naive network: {report['extraction_vs_naive']:.2f}x faster")
    print(f"extraction costs {1 / report['extraction_vs_features_alone']:.1f}x the one-STFT features alone")
    print(f"two workers vs one: {report['two_worker_speedup']:.2f}x; same output: {same}")
    per_core = rows["extraction_1_worker"]["realtime_per_core"]
    per_cpu = rows["extraction_1_worker"]["realtime_per_cpu_second"]
    print(
        f"extraction per core: {per_core:.0f}x real time by the wall clock, {per_cpu:.0f}x per CPU second "
        f"(goal >= {TARGET_REALTIME_PER_CORE:g}x)"
    )
    print("per clip, ms (fast path, fastest of --repeat): " + ", ".join(f"{k} {v}" for k, v in steps.items()))
    from gems.artifacts.writing import library_versions

    report["versions"] = library_versions("numpy", "scipy", "soundfile", "soxr")
    write_result("sound_throughput", report)


if __name__ == "__main__":
    main()
