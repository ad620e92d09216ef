"""Two writers at once: two builds into one model folder, two exports into one file or playlist folder. The
second is refused with one clear line while the first runs (never a mixed output, never "Directory not
empty"), readers keep reading the model being rebuilt, and a writer that dies releases the folder."""

from __future__ import annotations

import signal
import subprocess
import sys

import pandas as pd
import pytest
from hostilekit import Paused, assert_one_clear_line

from gems.model import Model
from listenskit import write_listens

USER = "u001"


def gems_child(args: list, pause_at: str = "") -> str:
    """A child running ``gems ARGS`` that pauses (holding its locks) at ``pause_at``: a patch of the code."""
    return f"""
{pause_at}
from gems.cli import main
sys.exit(main({[str(a) for a in args]!r}))
"""


PAUSE_IN_BUILD = """
import gems.stages.runner as runner
real_run = runner.StageRunner.run
def run(self, name, *args, **kwargs):
    if name == "cf":
        pause()
    return real_run(self, name, *args, **kwargs)
runner.StageRunner.run = run
"""
PAUSE_IN_EXPORT = """
import gems.serve.export as export
export.rank_block = pause
"""


def test_a_second_build_into_one_folder_is_refused_while_the_first_runs(model_copy, tmp_path, gems_cli):
    listens = write_listens(tmp_path / "listens.csv")
    build = ["build", "--listens", listens, "--model", model_copy, "--no-progress"]
    first = Paused(gems_child(build, PAUSE_IN_BUILD), tmp_path / "barrier")
    first.wait_for_pause()
    try:
        line = assert_one_clear_line(gems_cli(*build), "being written by another gems process")
        assert f"process {first.process.pid}: gems build" in line
        code, out, err = gems_cli("recommend", "-m", model_copy, "--user", USER)  # readers read on
        assert code == 0, err
    finally:
        first.signal(signal.SIGKILL)
    code, out, err = gems_cli(*build)  # a dead writer holds nothing
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")) == []


@pytest.mark.parametrize("other", ["out", "playlists"])
def test_a_second_export_into_one_output_is_refused_while_the_first_runs(model_copy, tmp_path, gems_cli, other):
    if other == "out":
        target, spelled = ["--out", tmp_path / "recs.csv"], ["--out", tmp_path / "sub" / ".." / "recs.csv"]
    else:
        target, spelled = ["--playlists", tmp_path / "lists"], ["--playlists", tmp_path / "lists" / "."]
    (tmp_path / "sub").mkdir()
    export = ["export", "-m", model_copy, "--no-progress", "--workers", 1]
    first = Paused(gems_child([*export, "-k", 5, *target], PAUSE_IN_EXPORT), tmp_path / "barrier")
    first.wait_for_pause()
    try:
        for where in (target, spelled):
            assert_one_clear_line(gems_cli(*export, "-k", 3, *where), "being written by another gems process")
    finally:
        first.signal(signal.SIGKILL)
    code, out, err = gems_cli(*export, "-k", 3, *target)
    assert code == 0, err
    if other == "out":
        assert pd.read_csv(tmp_path / "recs.csv").groupby("user_id").size().max() == 3


@pytest.mark.slow
def test_racing_exports_with_different_k_never_leave_a_mixed_file(model_copy, tmp_path):
    out = tmp_path / "recs.parquet"
    for _ in range(3):
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "gems.cli", "export", "-m", str(model_copy), "-k", str(k), "--out", str(out)]
                + ["--no-progress", "--workers", "1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in (2, 6)
        ]
        results = [(child.wait(timeout=120), *child.communicate()) for child in children]
        for code, _, err in results:
            assert code == 0 or assert_one_clear_line((code, "", err), "being written by another gems process")
        sizes = pd.read_parquet(out).groupby("user_id").size()
        assert sizes.max() in (2, 6) and sizes.max() == sizes.mode()[0]  # one -k throughout


@pytest.mark.slow
def test_racing_builds_leave_a_model_and_nothing_else(model_copy, tmp_path):
    listens = write_listens(tmp_path / "listens.csv")
    for _ in range(3):
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "gems.cli", "build", "--listens", str(listens), "--model", str(model_copy)]
                + ["--no-progress"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for child in children:
            code = child.wait(timeout=120)
            _, err = child.communicate()
            assert code == 0 or assert_one_clear_line((code, "", err), "being written by another gems process")
        assert Model(model_copy).folder.verify()
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")) == []
