"""Outputs that name a special file (issue 16): ``--out`` naming an existing character device, FIFO or socket was
replaced by a regular file with a success message. Every command that writes an output now refuses it in one
line before any work, and the file stays what it was. ``/dev/null`` is refused too: it is a character device,
and renaming a finished file over it is what gems' atomic writes would do."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from hostilekit import assert_one_clear_line

from gems.safe_files import NotRegularFile, output_kind, write_atomic

KINDS = ("fifo", "socket", "device")


def make(path: Path, kind: str) -> Path:
    """A FIFO, a bound UNIX socket, or a link to /dev/null (a character device) at ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    else:
        path.symlink_to("/dev/null")
    return path


def still(path: Path, kind: str) -> None:
    mode = os.stat(path).st_mode
    assert {"fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "device": stat.S_ISCHR}[kind](mode), oct(mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


WORDS = {"fifo": "FIFO", "socket": "socket", "device": "character device"}


@pytest.fixture
def scrobbles(tmp_path) -> Path:
    path = tmp_path / "alice.csv"
    path.write_text('"Composer","Soundtrack 1","Track 1 of 1","31 Jan 2021 14:03"\n')
    return path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "command, name",
    [
        ("ingest", "o.parquet"),
        ("link", "links.csv"),
        ("export", "recs.csv"),
        ("export", "recs.parquet"),
        ("playlist", "p.m3u8"),
        ("extract", "e.parquet"),
    ],
)
def test_every_out_refuses_a_special_file(tmp_path, gems_cli, built_model, scrobbles, command, name, kind):
    out = make(tmp_path / name, kind)
    args = {
        "ingest": ["ingest", "--listens", scrobbles],
        "link": ["link", "-m", built_model, "--listens", scrobbles],
        "export": ["export", "-m", built_model, "-k", "3", "--no-progress"],
        "playlist": ["playlist", "-m", built_model, "--user", "u000"],
        "extract": ["extract", tmp_path],
    }[command]
    assert_one_clear_line(gems_cli(*args, "--out", out), str(out), WORDS[kind], "choose another path")
    still(out, kind)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary, no lock


@pytest.mark.parametrize("kind", KINDS)
def test_export_playlists_and_evaluate_refuse_a_special_folder(tmp_path, gems_cli, built_model, kind):
    folder = make(tmp_path / "lists", kind)
    line = assert_one_clear_line(gems_cli("export", "-m", built_model, "-k", "3", "--playlists", folder))
    assert WORDS[kind] in line and "not a folder" in line
    line = assert_one_clear_line(
        gems_cli("evaluate", "--recs", "r.csv", "--truth", "t.csv", "--listens", "l.csv", "--out", folder)
    )
    assert WORDS[kind] in line and "not a folder" in line
    still(folder, kind)


def test_dev_null_itself_is_refused(gems_cli, built_model):
    line = assert_one_clear_line(gems_cli("export", "-m", built_model, "-k", "3", "--playlists", "/dev/null"))
    assert "/dev/null is a character device" in line
    still(Path("/dev/null"), "device")


def test_a_special_file_inside_the_playlists_folder_is_not_replaced(tmp_path, gems_cli, built_model):
    folder = tmp_path / "lists"
    folder.mkdir()
    fifo = make(folder / "u000.m3u8", "fifo")
    users = tmp_path / "users.txt"
    users.write_text("u000\n")
    args = ["export", "-m", built_model, "-k", "3", "--users", users, "--playlists", folder, "--no-progress"]
    assert_one_clear_line(gems_cli(*args), "u000.m3u8", "FIFO")
    still(fifo, "fifo")


@pytest.mark.parametrize("kind", KINDS)
def test_write_atomic_never_replaces_a_special_file(tmp_path, kind):
    path = make(tmp_path / "x.bin", kind)
    assert (
        output_kind(path) == {"fifo": "a FIFO (named pipe)", "socket": "a socket", "device": "a character device"}[kind]
    )
    with pytest.raises(NotRegularFile):
        write_atomic(path, b"data")
    still(path, kind)
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
    regular = tmp_path / "y.bin"
    write_atomic(regular, b"data")
    assert regular.read_bytes() == b"data" and output_kind(regular) is None and output_kind(tmp_path / "z") is None
