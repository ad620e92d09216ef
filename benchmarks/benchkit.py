"""Shared plumbing of the benchmarks: where results go, the scale fixtures they run on, timing."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = Path(os.environ.get("GEMS_BENCH_WORK", ROOT / "benchmarks" / "work"))  # fixtures and models, reused


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_result(name: str, report: dict) -> Path:
    """``benchmarks/results/NAME.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **report}, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")
    return path


def scale_model(tracks: int, users: int = 100_000, listens: int = 10_000_000) -> Path:
    """The model folder of the synthetic scale fixture of this size, built (by scale_build.py) when missing."""
    work = WORK / f"scale-{tracks // 1000}k"
    model = work / "model"
    if not (model / "manifest.json").exists():
        command = [sys.executable, str(ROOT / "benchmarks" / "scale_build.py"), "--tracks", str(tracks)]
        command += ["--users", str(users), "--listens", str(listens), "--work", str(work)]
        subprocess.run(command, check=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    return model


def wall(command: list[str], repeat: int = 5) -> list[float]:
    """Wall seconds of ``repeat`` runs of a command (output discarded; a failure stops the benchmark)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def gems_command() -> list[str]:
    """The ``gems`` console script of the running environment."""
    return [str(Path(sys.executable).parent / "gems")]
