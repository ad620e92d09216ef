"""Hostile inputs: every probe ends with the right result or one clear line and exit code 1, never a hang, a
traceback or "a bug in gems". A probe that hangs fails after :data:`HANG_S` seconds instead of blocking the run."""

from __future__ import annotations

import errno
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from gems.cli import main

HANG_S = 60


@pytest.fixture(autouse=True)
def _no_hang():
    """Fail a probe that blocks (a FIFO opened for reading waits for a writer forever)."""

    def hung(signum, frame):
        raise TimeoutError(f"the probe hung for {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def gems_cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Run ``gems ARGS...`` in-process: ``(exit code, stdout, stderr)``."""

    def run(*args) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def deny(monkeypatch) -> Callable[..., None]:
    """``deny(path, ...)``: opening or listing those paths fails with "permission denied", as a ``chmod 000``
    file or folder does for anyone but root (these tests run as root, which reads everything)."""
    denied: set[str] = set()
    real_open, real_scandir = os.open, os.scandir

    def refused(path) -> bool:
        return not isinstance(path, int) and os.path.abspath(path) in denied  # an int is an open folder's fd

    def guarded_open(path, *args, **kwargs):
        if refused(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, *args, **kwargs)

    def guarded_scandir(path="."):
        if refused(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    return lambda *paths: denied.update(os.path.abspath(p) for p in paths)


@pytest.fixture(scope="session")
def built_model(tmp_path_factory) -> Path:
    """A model `gems build` made from listenskit's listening log (listens, ALS, item neighbours, ranker; no
    audio). Tests change a copy (:func:`model_copy`), never this folder."""
    from gems.config import BuildConfig
    from gems.stages import build_model
    from listenskit import write_listens

    root = tmp_path_factory.mktemp("built")
    return build_model(BuildConfig(model=root / "m", listens=write_listens(root / "listens.csv"))).path


@pytest.fixture
def model_copy(built_model, tmp_path) -> Path:
    """A copy of :func:`built_model` at ``tmp_path / "m"``, to damage or craft."""
    return Path(shutil.copytree(built_model, tmp_path / "m"))
