"""Helpers of the hostile tests (fixtures are in this folder's conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

# GEMS_FUZZ_EXAMPLES=2000 fuzzes harder (a few minutes); the default keeps `make test` quick
FUZZ = settings(
    max_examples=int(os.environ.get("GEMS_FUZZ_EXAMPLES", "40")),
    deadline=5000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def assert_one_clear_line(result: tuple[int, str, str], *words: str) -> str:
    """Exit code 1 and a single error line holding ``words``; never a traceback or "a bug in gems"."""
    code, out, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "bug in gems" not in err and "Traceback" not in err + out, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def named_model(folder: Path, names: list[str]) -> tuple[Path, list[str]]:
    """A small model (modelkit) whose titles, soundtracks, artists and file paths are made of ``names`` (each
    twice, numbered); returns its folder and titles."""
    import numpy as np

    from modelkit import write_model

    n = len(names) * 2
    titles = [names[i % len(names)] + f" {i}" for i in range(n)]
    path = write_model(
        folder,
        titles=titles,
        soundtracks=[f"OST {names[i % 3]}" for i in range(n)],
        artists=[names[(i + 1) % len(names)] for i in range(n)],
        paths=[f"/music/{names[i % len(names)]}.ogg" for i in range(n)],
        vectors=np.random.default_rng(0).normal(size=(n, 6)),
        listeners=[n - i for i in range(n)],
    )
    return path, titles


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


PAUSE = """
import os, sys, time
from pathlib import Path

def pause(*args, **kwargs):
    Path(os.environ["GEMS_TEST_BARRIER"]).write_text(str(os.getpid()))
    time.sleep(600)
"""


class Paused:
    """A Python ``script`` run in a child process until it calls ``pause()`` (defined for it, see
    :data:`PAUSE`): the test then kills it there, or signals it, at a known point."""

    def __init__(self, script: str, barrier: Path):
        import subprocess
        import sys

        env = {**os.environ, "GEMS_TEST_BARRIER": str(barrier), "OPENBLAS_NUM_THREADS": "1"}
        self.barrier = barrier
        self.process = subprocess.Popen(
            [sys.executable, "-c", PAUSE + script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_for_pause(self, seconds: float = 60) -> None:
        import time

        deadline = time.monotonic() + seconds
        while not self.barrier.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the child ended before its pause: {self.process.communicate()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError("the child never reached its pause")
            time.sleep(0.05)

    def signal(self, number: int) -> tuple[int, str, str]:
        """Send ``number`` at the pause; (exit code, stdout, stderr) once it ended."""
        self.wait_for_pause()
        self.process.send_signal(number)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err
