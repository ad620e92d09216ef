"""One-STFT feature throughput: gems' decoding and features against a naive librosa script, same files and windows.

    python benchmarks/audio_throughput.py [--files DIR_OR_MANIFEST] [--limit N] [--repeat R] [--resample-check]

Files: ``--files`` (a folder searched recursively, or a manifest CSV with a ``path`` column relative to it);
by default the real soundtracks in ``../audio`` beside the project, else ``data/demo/audio``. Every path
analyses the same window of each file: its middle 30 s (the whole file when shorter).

- naive: per file ``librosa.load(offset=..., duration=...)``, then each feature as its own librosa call on the raw
  signal (each computes its own STFT, tonnetz its own CQT, beat_track its own onset envelope).
- gems: per file ``load_excerpt`` (the middle 30 s, mono, 16 kHz) and ``feature_vector``, in this process. The
  whole extraction (these features, musicnn's sound vector and tags, the cache, workers) is timed by
  ``benchmarks/sound_throughput.py``.

Each path is warmed up once on one file outside the timing (imports; numba compilation for the naive path).
Every path runs single-threaded BLAS (gems sets it itself; the naive path is given the same), so the ratio
compares the work done, not thread scheduling. The best of ``--repeat`` runs is reported. Results are
printed and written to ``benchmarks/results/audio_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "audio_throughput.json"
EXCERPT_S = 30.0
SR = 16000  # gems' analysis rate (musicnn's); the naive script keeps librosa's habit of 22,050 Hz
NAIVE_SR = 22050
TARGETS = {"gems_vs_naive": 3.0, "realtime_per_core": 300.0}


def find_files(source: str | None, limit: int | None) -> list[str]:
    """Audio paths from a folder or a manifest CSV; evenly spaced when ``limit`` is below their number."""
    from gems.audio.decode import AUDIO_EXTENSIONS

    candidates = [Path(source)] if source else [ROOT.parent / "audio", ROOT / "data" / "demo" / "audio"]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        sys.exit(f"no audio found at {' or '.join(map(str, candidates))}; pass --files DIR_OR_MANIFEST")
    if found.is_dir() and (found / "manifest.csv").is_file() and source is None:
        found = found / "manifest.csv"
    if found.is_file():
        import pandas as pd

        paths = [str(found.parent / p) for p in pd.read_csv(found)["path"]]
    else:
        paths = sorted(str(p) for p in found.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not paths:
        sys.exit(f"{found} holds no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}); pass --files")
    if limit and limit < len(paths):
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    return paths


def windows(paths: list[str]) -> list[tuple[float, float, str]]:
    """(offset s, duration s, format) of the middle-30-s window of each file, as gems.audio.decode picks it."""
    import soundfile as sf

    out = []
    for path in paths:
        info = sf.info(path)
        length = min(info.frames, round(EXCERPT_S * info.samplerate))
        kind = f"{info.format}/{info.subtype} {info.samplerate / 1000:g} kHz"
        out.append(((info.frames - length) // 2 / info.samplerate, length / info.samplerate, kind))
    return out


def naive(path: str, offset: float, duration: float) -> np.ndarray:
    """What a first script does: load, then one librosa call per feature, each from the raw signal."""
    import librosa

    y, sr = librosa.load(path, sr=NAIVE_SR, mono=True, offset=offset, duration=duration)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
    parts = [
        librosa.feature.melspectrogram(y=y, sr=sr),
        mfcc,
        librosa.feature.delta(mfcc),
        librosa.feature.chroma_stft(y=y, sr=sr),
        librosa.feature.spectral_contrast(y=y, sr=sr),
        librosa.feature.tonnetz(y=y, sr=sr),
        librosa.feature.rms(y=y),
        librosa.feature.spectral_centroid(y=y, sr=sr),
        librosa.feature.spectral_bandwidth(y=y, sr=sr),
        librosa.feature.spectral_rolloff(y=y, sr=sr),
        librosa.feature.spectral_flatness(y=y),
    ]
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    return np.concatenate([p.mean(axis=-1).ravel() for p in parts] + [np.atleast_1d(tempo)])


def busy_cores() -> tuple[float, float]:
    """(CPU seconds used by the whole machine, by this process and its finished children) so far.

    Their difference over a run is the load other processes put on the machine meanwhile (Linux only: raises
    OSError where /proc/stat is missing)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return machine, own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(run) -> tuple[float, float | None, object]:
    """(wall seconds, cores used by other processes meanwhile, result) of ``run()``."""
    try:
        before = busy_cores()
    except OSError:
        before = None
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    if before is None:
        return seconds, None, result
    after = busy_cores()
    return seconds, max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / seconds, result


def run_naive(paths, wins) -> tuple[float, float | None, None]:
    from threadpoolctl import threadpool_limits

    def run():
        for path, (offset, duration, _) in zip(paths, wins):
            naive(path, offset, duration)

    with threadpool_limits(limits=1):
        naive(paths[0], *wins[0][:2])  # warm-up: librosa imports and numba compilation
        return timed(run)


def run_gems(paths) -> tuple[float, float | None, object]:
    """Decode and one-STFT features of every file, single-threaded BLAS; returns the feature rows too."""
    from threadpoolctl import threadpool_limits

    from gems.audio.decode import load_excerpt
    from gems.audio.features import feature_vector

    def run():
        return [feature_vector(load_excerpt(path, sr=SR)[0], sr=SR) for path in paths]

    with threadpool_limits(limits=1):
        feature_vector(load_excerpt(paths[0], sr=SR)[0], sr=SR)  # warm-up: imports, filterbanks
        return timed(run)


STAGES = ("hash", "decode", "downmix", "resample", "stft", "features")


def breakdown(paths, repeat: int) -> np.ndarray:
    """Seconds of each of STAGES per file, shape (files, stages): the fastest of ``repeat`` stage-by-stage runs
    in this process (single-threaded BLAS); ``features`` is feature_vector minus its STFT."""
    import soundfile as sf
    import soxr
    from threadpoolctl import threadpool_limits

    from gems.artifacts.hashing import hash_file
    from gems.audio.decode import RESAMPLE_QUALITY, downmix
    from gems.audio.features import feature_vector, stft_magnitude

    times = np.full((repeat, len(paths), len(STAGES)), np.inf)
    with threadpool_limits(limits=1):
        for r, i in ((r, i) for r in range(repeat) for i in range(len(paths))):
            t0 = time.perf_counter()
            hash_file(paths[i])
            t1 = time.perf_counter()
            with sf.SoundFile(paths[i]) as f:
                length = min(f.frames, round(EXCERPT_S * f.samplerate))
                f.seek((f.frames - length) // 2)
                x = f.read(length, dtype="float32", always_2d=True)
                rate = f.samplerate
            t2 = time.perf_counter()
            y = downmix(x)
            t3 = time.perf_counter()
            y = soxr.resample(y, rate, SR, quality=RESAMPLE_QUALITY) if rate != SR else y
            t4 = time.perf_counter()
            stft_magnitude(y)
            t5 = time.perf_counter()
            feature_vector(y, sr=SR)
            t6 = time.perf_counter()
            times[r, i] = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5 - (t5 - t4))
    return times.min(axis=0)


def resample_check(paths, wins) -> dict[str, dict[str, float]]:
    """Cost of each soxr quality and how far it moves features from VHQ, in units of each feature's spread."""
    import soundfile as sf
    import soxr
    from threadpoolctl import threadpool_limits

    from gems.audio.decode import downmix
    from gems.audio.features import FEATURE_NAMES, feature_vector

    qualities = ("QQ", "LQ", "MQ", "HQ", "VHQ")
    vectors = {q: [] for q in qualities}
    cost = dict.fromkeys(qualities, 0.0)
    with threadpool_limits(limits=1):
        for path, (offset, duration, _) in zip(paths, wins):
            with sf.SoundFile(path) as f:
                if f.samplerate == SR:
                    continue
                f.seek(round(offset * f.samplerate))
                y = downmix(f.read(round(duration * f.samplerate), dtype="float32", always_2d=True))
                rate = f.samplerate
            for q in qualities:
                started = time.perf_counter()
                z = soxr.resample(y, rate, SR, quality=q)
                cost[q] += time.perf_counter() - started
                vectors[q].append(feature_vector(z, sr=SR))
    reference = np.array(vectors["VHQ"])
    spread = reference.std(axis=0) + 1e-9
    report = {}
    for q in qualities:
        deviation = np.abs(np.array(vectors[q]) - reference) / spread
        worst = int(deviation.max(axis=0).argmax())
        report[q] = {
            "ms_per_clip": 1e3 * cost[q] / len(reference),
            "max_deviation_sd": float(deviation.max()),
            "mean_deviation_sd": float(deviation.mean()),
            "worst_feature": FEATURE_NAMES[worst],
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--files", help="folder of audio files or a manifest CSV (default: ../audio, else data/demo/audio)"
    )
    parser.add_argument("--limit", type=int, help="use N files, evenly spaced over the sorted list")
    parser.add_argument("--repeat", type=int, default=1, help="runs per path; the fastest is reported")
    parser.add_argument("--resample-check", action="store_true", help="also compare soxr qualities")
    args = parser.parse_args()

    paths = find_files(args.files, args.limit)
    wins = windows(paths)
    audio_s = sum(w[1] for w in wins)
    formats = sorted({w[2] for w in wins})
    print(
        f"{len(paths)} files ({', '.join(formats)}), {audio_s:,.0f} s of audio analysed (middle {EXCERPT_S:g} s each)"
    )
    print("each path is warmed up once on one file before it is timed (imports, numba compilation)")

    # (seconds, cores busy with other processes meanwhile) per run; other processes on the machine slow a run
    # down, so each run says how much they took, and the fastest run of each path counts
    timings = {"naive": [], "gems_1_worker": []}
    for _ in range(args.repeat):  # interleaved, so a burst of outside load does not hit one path only
        timings["naive"].append(run_naive(paths, wins)[:2])
        timings["gems_1_worker"].append(run_gems(paths)[:2])

    rows = {}
    for name, runs in timings.items():
        best, background = min(runs)
        rows[name] = {
            "workers": 1,
            "seconds": best,
            "other_processes_cores": background,
            "all_runs": [{"seconds": s, "other_processes_cores": b} for s, b in runs],
            "ms_per_clip": 1e3 * best / len(paths),
            "realtime": audio_s / best,
            "realtime_per_core": audio_s / best,
        }
    ratio = rows["naive"]["seconds"] / rows["gems_1_worker"]["seconds"]
    per_file = breakdown(paths, args.repeat)
    stages = dict(zip(STAGES, 1e3 * per_file.mean(axis=0)))
    kinds = np.array([w[2] for w in wins])
    by_format = {
        kind: {"files": int((kinds == kind).sum()), **dict(zip(STAGES, 1e3 * per_file[kinds == kind].mean(axis=0)))}
        for kind in formats
    }

    print(
        f"\n{'path':16} {'workers':>7} {'seconds':>8} {'ms/clip':>8} {'x realtime':>11} {'x rt/core':>10}"
        f" {'other load (cores)':>19}"
    )
    for name, row in rows.items():
        other = "n/a" if row["other_processes_cores"] is None else f"{row['other_processes_cores']:.2f}"
        print(
            f"{name:16} {row['workers']:>7} {row['seconds']:>8.2f} {row['ms_per_clip']:>8.1f} "
            f"{row['realtime']:>11.0f} {row['realtime_per_core']:>10.0f} {other:>19}"
        )
    print(f"\ngems / naive (1 worker each): {ratio:.2f}x   (target >= {TARGETS['gems_vs_naive']:g}x)")
    per_core = rows["gems_1_worker"]["realtime_per_core"]
    print(f"gems per core: {per_core:.0f}x real time   (target >= {TARGETS['realtime_per_core']:g}x)")
    print(f"\nper clip, ms (fastest of {args.repeat} stage-by-stage runs in one process)")
    print(f"{'format':28} {'files':>5} " + " ".join(f"{stage:>8}" for stage in STAGES))
    for kind, row in [*by_format.items(), ("all", {"files": len(paths), **stages})]:
        print(f"{kind:28} {row['files']:>5} " + " ".join(f"{row[stage]:>8.1f}" for stage in STAGES))
    floor = stages["decode"] + stages["hash"]
    print(f"decode + hash alone cap one core at {audio_s / len(paths) / floor * 1e3:.0f}x real time on these files")

    report = {
        "files": len(paths),
        "formats": formats,
        "audio_seconds": audio_s,
        "excerpt_s": EXCERPT_S,
        "repeat": args.repeat,
        "paths": rows,
        "gems_vs_naive": ratio,
        "targets": TARGETS,
        "per_clip_ms": stages,
        "per_clip_ms_by_format": by_format,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
    if args.resample_check:
        report["resample_check"] = resample_check(paths, wins)
        print("\nsoxr quality   ms/clip   max dev (sd)   mean dev (sd)   worst feature")
        for q, r in report["resample_check"].items():
            deviation = f"{r['max_deviation_sd']:>14.4f} {r['mean_deviation_sd']:>15.5f}"
            print(f"{q:12} {r['ms_per_clip']:>9.2f} {deviation}   {r['worst_feature']}")
    from gems.artifacts.writing import library_versions

    report["versions"] = library_versions("numpy", "scipy", "librosa", "soundfile", "soxr", "numba")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
