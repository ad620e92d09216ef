"""Crashes at the worst moment: a build killed while it swaps the new model in, a SIGTERM in the middle of a
build, an export killed while it joins its parts. The model path never stands empty, a rerun gives the same
answer and the right count, and what the dead process left is cleaned up by the next run."""

from __future__ import annotations

import json
import signal

import pandas as pd
import pytest
from hostilekit import Paused, assert_one_clear_line

from gems.config import BuildConfig
from gems.model import Model
from gems.stages import build_model
from listenskit import write_listens


def build_script(model, listens, patch: str) -> str:
    """A child that applies ``patch`` (which may call ``pause()``), then builds ``model`` from ``listens``."""
    return f"""
from gems.stages import build_model
from gems.config import BuildConfig
{patch}
build_model(BuildConfig(model={str(model)!r}, listens={str(listens)!r}))
"""


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def created(folder) -> str:
    return json.loads((folder / "manifest.json").read_text())["created_at"]


def test_a_build_killed_just_before_its_swap_leaves_the_old_model(model_copy, tmp_path):
    listens = write_listens(tmp_path / "listens.csv")
    before = created(model_copy)
    patch = "import gems.artifacts.swap\ngems.artifacts.swap.replace = pause"
    child = Paused(build_script(model_copy, listens, patch), tmp_path / "barrier")
    child.signal(signal.SIGKILL)
    assert created(model_copy) == before and Model(model_copy).folder.verify()
    assert any(".tmp-" in name for name in leftovers(model_copy))  # what the dead build had written

    build_model(BuildConfig(model=model_copy, listens=listens))  # sweeps it, and takes the dead build's lock
    assert leftovers(model_copy) == []


def test_a_build_killed_between_two_renames_is_recovered_when_read(model_copy, tmp_path, gems_cli):
    """Where the system cannot exchange two folders atomically (macOS, NFS) the swap takes two renames: a kill
    between them leaves the old model beside an empty path, and the next reader puts it back."""
    listens = write_listens(tmp_path / "listens.csv")
    before = created(model_copy)
    patch = f"""
import gems.artifacts.swap
gems.artifacts.swap._exchange = lambda a, b: False
real_replace = os.replace
def replace(src, dst):
    if str(dst) == {str(model_copy)!r} and ".tmp-" in str(src):
        pause()
    return real_replace(src, dst)
os.replace = replace
"""
    child = Paused(build_script(model_copy, listens, patch), tmp_path / "barrier")
    child.signal(signal.SIGKILL)
    assert not model_copy.exists()  # the window the kill hit
    code, out, err = gems_cli("info", "-m", model_copy)
    assert code == 0, err
    assert created(model_copy) == before
    assert not any(".old-" in name for name in leftovers(model_copy))
    build_model(BuildConfig(model=model_copy, listens=listens))
    assert leftovers(model_copy) == []


def test_sigterm_during_a_build_is_one_line_and_leaves_nothing(model_copy, tmp_path):
    listens = write_listens(tmp_path / "listens.csv")
    before = created(model_copy)
    script = f"""
import gems.stages.runner as runner
real_run = runner.StageRunner.run
def run(self, name, *args, **kwargs):
    if name == "neighbours":
        pause()
    return real_run(self, name, *args, **kwargs)
runner.StageRunner.run = run
from gems.cli import main
sys.exit(main(["build", "--listens", {str(listens)!r}, "--model", {str(model_copy)!r}, "--no-progress",
               "--workers", "2"]))
"""
    result = Paused(script, tmp_path / "barrier").signal(signal.SIGTERM)
    assert_one_clear_line(result, "terminated; nothing half-written was kept")
    assert leftovers(model_copy) == []  # neither the temporary folder nor the lock file
    assert created(model_copy) == before and Model(model_copy).folder.verify()


def export_script(model, out, patch: str) -> str:
    return f"""
{patch}
from gems.cli import main
sys.exit(main(["export", "-m", {str(model)!r}, "-k", "5", "--out", {str(out)!r}, "--no-progress", "--workers", "1"]))
"""


JOIN_KILLS = {
    # killed with the joined file written aside, before it is renamed into place
    "before the rename": """
real_replace = os.replace
def replace(src, dst):
    if ".joining-" in str(src):
        pause()
    return real_replace(src, dst)
os.replace = replace
""",
    # killed with the joined file in place, while the parts are tidied away
    "while tidying": """
import shutil
real_rmtree = shutil.rmtree
def rmtree(path, *args, **kwargs):
    if str(path).endswith(".parts"):
        pause()
    return real_rmtree(path, *args, **kwargs)
shutil.rmtree = rmtree
""",
}


@pytest.mark.parametrize("moment", JOIN_KILLS)
def test_an_export_killed_while_joining_reruns_to_the_same_file_and_count(model_copy, tmp_path, gems_cli, moment):
    fresh = tmp_path / "fresh.csv"
    code, out, err = gems_cli("export", "-m", model_copy, "-k", 5, "--out", fresh, "--no-progress")
    assert code == 0, err
    rows = len(pd.read_csv(fresh))

    target = tmp_path / "recs.csv"
    Paused(export_script(model_copy, target, JOIN_KILLS[moment]), tmp_path / "barrier").signal(signal.SIGKILL)
    code, out, err = gems_cli("export", "-m", model_copy, "-k", 5, "--out", target, "--no-progress")
    assert code == 0, err
    assert f"{rows:,} recommendations" in out
    assert target.read_bytes() == fresh.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".recs")) == []


def test_a_playlist_left_half_written_is_swept_by_the_next_export(model_copy, tmp_path, gems_cli):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / ".u001.m3u8.0badf00d.tmp").write_text("#EXTM3U\n#EXTINF")  # what a killed write leaves
    (lists / ".notes.tmp").write_text("the user's own")
    code, out, err = gems_cli("export", "-m", model_copy, "-k", 3, "--playlists", lists, "--no-progress")
    assert code == 0, err
    assert sorted(p.name for p in lists.iterdir() if p.name.startswith(".")) == [".notes.tmp"]


def test_the_workers_of_an_export_killed_with_sigkill_end_quietly(model_copy, tmp_path):
    """``kill -9`` of ``gems export --workers 2``: its orphaned workers used to finish their task, find the result
    pipe broken and print BrokenPipeError tracebacks on the terminal. They now end with it, silently."""
    import os
    import subprocess
    import sys
    import time

    barrier = tmp_path / "barrier"
    script = f"""
import os, sys, time
from pathlib import Path
import gems.serve.export as export
real = export.rank_block
def slow(task):
    Path({str(barrier)!r}).write_text(str(os.getpid()))
    time.sleep(3)
    return real(task)
export.rank_block = slow
export.export_batch.__kwdefaults__["block"] = 8  # several blocks, so two worker processes take them
from gems.cli import main
sys.exit(main(["export", "-m", {str(model_copy)!r}, "-k", "3", "--workers", "2", "--no-progress",
               "--out", {str(tmp_path / "recs.csv")!r}]))
"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while not barrier.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.05)
    worker = int(barrier.read_text())
    assert worker != child.pid
    child.kill()
    out, err = child.communicate(timeout=30)  # returns once every holder of the pipes (the workers) is gone
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode(errors="replace")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker {worker} outlived its parent")
