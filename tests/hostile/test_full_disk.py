"""Errors of the machine while writing: a full disk (an OSError(ENOSPC) injected, the short write numpy reports
without an errno, a real small tmpfs where one can be mounted) and a folder one may not write to. Each is one
clear line saying what to do — never "a bug in gems" — the previous model stays, no temporary is left, and an
export says which finished parts it keeps for the rerun."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostilekit import assert_one_clear_line

import gems.artifacts.writing
import gems.safe_files
from gems.errors import DataError
from gems.model import Model
from gems.rank import RankOptions
from gems.serve.export import export_batch
from listenskit import write_listens

USER = "u001"
FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fail_on_call(n: int, error: BaseException, real):
    """A stand-in for ``real`` that raises ``error`` from its ``n``-th call on."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) >= n:
            raise error
        return real(*args, **kwargs)

    return wrapper


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("short_write", [False, True], ids=["ENOSPC", "numpy's short write"])
def test_a_full_disk_while_building_keeps_the_previous_model(model_copy, tmp_path, gems_cli, monkeypatch, short_write):
    listens = write_listens(tmp_path / "listens.csv", seed=1)  # other listens: every stage is built again
    before = (model_copy / "manifest.json").read_bytes()
    error = OSError("300000 requested and 131056 written") if short_write else FULL
    monkeypatch.setattr(np, "save", fail_on_call(1, error, np.save))
    if short_write:  # numpy drops the errno: the free space on the disk tells
        monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))
    command = ["build", "--listens", listens, "--model", model_copy, "--no-progress"]
    assert_one_clear_line(gems_cli(*command), "no space left", "free some space")
    assert (model_copy / "manifest.json").read_bytes() == before
    assert leftovers(tmp_path) == []


def test_faiss_reports_a_failed_write_as_a_runtime_error(tmp_path, monkeypatch):
    import faiss

    from gems.errors import ModelError

    monkeypatch.setattr(faiss, "write_index", fail_on_call(1, RuntimeError("fwrite failed"), faiss.write_index))
    with (
        gems.artifacts.writing.ModelWriter(tmp_path / "m") as writer,
        pytest.raises(ModelError, match="faiss could not"),
    ):
        writer.save_index("index/audio.faiss", faiss.IndexFlatIP(4))
    assert leftovers(tmp_path) == []


def test_a_full_disk_while_exporting_keeps_the_finished_parts_and_says_so(model_copy, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    model = Model(model_copy)
    options = RankOptions(k=5)
    export_batch(model, options, out=tmp_path / "fresh.csv", block=16)
    out = tmp_path / "recs.csv"
    monkeypatch.setattr(pq, "write_table", fail_on_call(3, FULL, pq.write_table))
    with pytest.raises(DataError) as caught:
        export_batch(model, options, out=out, block=16)
    message = str(caught.value)
    assert "no space left" in message and "2 finished block(s)" in message and ".recs.csv.parts" in message
    assert not out.exists()

    monkeypatch.undo()  # space freed: the rerun resumes
    summary = export_batch(model, options, out=out, block=16)
    assert out.read_bytes() == (tmp_path / "fresh.csv").read_bytes()
    assert summary.rows == len(pd.read_csv(out))
    assert leftovers(tmp_path) == []


def test_a_full_disk_while_joining_leaves_no_half_file(model_copy, tmp_path, gems_cli, monkeypatch):
    import pyarrow.csv as pacsv

    class FullCSVWriter(pacsv.CSVWriter):
        def write_table(self, table, *args, **kwargs):
            raise FULL

    monkeypatch.setattr(pacsv, "CSVWriter", FullCSVWriter)
    out = tmp_path / "recs.csv"
    line = assert_one_clear_line(
        gems_cli("export", "-m", model_copy, "-k", 3, "--out", out, "--no-progress"), "no space left"
    )
    assert "kept in" in line and not out.exists()
    assert [name for name in leftovers(tmp_path) if "joining" in name] == []


def test_a_full_disk_while_writing_a_playlist(model_copy, tmp_path, gems_cli, monkeypatch):
    monkeypatch.setattr(gems.safe_files, "write_atomic", fail_on_call(1, FULL, gems.safe_files.write_atomic))
    for out in ("mine.m3u8", "mine.xspf", "mine.jspf"):
        command = ["playlist", "-m", model_copy, "--user", USER, "--length", 5, "--out", tmp_path / out]
        assert_one_clear_line(gems_cli(*command), out, "no space left")
    lists = tmp_path / "lists"
    assert_one_clear_line(gems_cli("export", "-m", model_copy, "--playlists", lists, "--no-progress"), "no space")
    assert leftovers(tmp_path) == []


def test_a_folder_one_may_not_write_to(model_copy, tmp_path, gems_cli, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refused(path) -> bool:
        return not isinstance(path, int) and str(os.path.abspath(path)).startswith(str(locked))

    def guarded_open(path, flags, *args, **kwargs):
        if refused(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if refused(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    listens = write_listens(tmp_path / "listens.csv")
    commands = [
        ["build", "--listens", listens, "--model", locked / "m", "--no-progress"],
        ["playlist", "-m", model_copy, "--user", USER, "--length", 5, "--out", locked / "p.m3u8"],
        ["export", "-m", model_copy, "-k", 3, "--out", locked / "r.csv", "--no-progress"],
        ["export", "-m", model_copy, "-k", 3, "--playlists", locked / "lists", "--no-progress"],
    ]
    for command in commands:
        assert_one_clear_line(gems_cli(*command), "permission denied")
    assert list(locked.iterdir()) == []


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        probe = "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || mount -t tmpfs -o size=64k tmpfs /tmp"
        return subprocess.run(["unshare", "-rm", "sh", "-c", probe], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.slow
def test_a_real_full_tmpfs(model_copy, tmp_path):
    """A 256 kB tmpfs, mounted in a private mount namespace (unshare -rm: no privileges needed where user
    namespaces are enabled), too small for a model, an export or a playlist of the fixture model."""
    if not _unshare_works():
        pytest.skip("mounting a small tmpfs needs user namespaces (unshare -rm), which this machine refuses")
    small = tmp_path / "small"
    small.mkdir()
    listens = write_listens(tmp_path / "listens.csv")
    gems = f"{sys.executable} -m gems.cli"
    commands = [
        f"build --listens {listens} --model {small}/m --no-progress",
        f"export -m {model_copy} -k 20 --out {small}/recs.csv --no-progress",
        f"export -m {model_copy} -k 20 --playlists {small}/lists --no-progress",
        f"playlist -m {model_copy} --user {USER} --length 20 --out {small}/p.xspf",
    ]
    fill = f"head -c 250000 /dev/zero > {small}/fill"
    script = f"mount -t tmpfs -o size=256k tmpfs {small} && " + " ; ".join(
        f"{fill} ; {gems} {command} ; echo rc=$?" for command in commands
    )
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    codes = [line for line in done.stdout.splitlines() if line.startswith("rc=")]
    errors = [line for line in done.stderr.splitlines() if line.strip() and "━" not in line]
    assert codes == ["rc=1"] * len(commands), (done.stdout, done.stderr)
    assert len(errors) == len(commands), done.stderr
    for line in errors:
        assert line.startswith("error: ") and "no space left" in line and "bug in gems" not in line, line
