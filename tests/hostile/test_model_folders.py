"""Model folders are data someone may hand over, and files get damaged. A crafted manifest never makes gems read
or write outside the folder nor decide where work runs, and damage is one clear line naming the file — never a
traceback, "a bug in gems", nor different recommendations."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hostilekit import assert_one_clear_line

from gems.artifacts import integrity
from gems.cf import CFParams
from gems.config import BuildConfig
from gems.errors import ModelError
from gems.model import Model
from gems.stages import build_model
from listenskit import write_listens
from modelkit import write_model

USER = "u001"  # a listener of listenskit's log


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def rebuild(folder: Path, tmp_path: Path, **config):
    """`gems build` over ``folder`` from the same listening log as the fixture model."""
    listens = write_listens(tmp_path / "listens.csv")
    return build_model(BuildConfig(model=folder, listens=listens, **config))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------- crafted names


def test_a_stage_file_naming_a_path_outside_is_never_written_through(model_copy, tmp_path, gems_cli):
    outside = tmp_path / "X"
    outside.write_text("precious")
    (tmp_path / "d1" / "d2").mkdir(parents=True)
    (model_copy / "a").symlink_to(tmp_path / "d1" / "d2")  # a/../../X leads from the folder to tmp_path/X
    edit_manifest(model_copy, lambda m: m["stages"]["ingest"]["files"].append("a/../../X"))

    assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER), "a/../../X", "outside")
    result = rebuild(model_copy, tmp_path)  # the crafted model is replaced, not reused
    assert outside.read_text() == "precious"
    assert not (model_copy / "a").exists()
    assert Model(result.path).folder.verify()[0] > 0


def test_a_file_given_as_the_model_folder_is_named_as_a_file(tmp_path, gems_cli):
    handed = tmp_path / "model.zip"
    handed.write_bytes(b"PK\x05\x06" + bytes(18))
    line = assert_one_clear_line(gems_cli("recommend", "-m", handed, "--like", "x"), "is a file, not a model folder")
    assert "build it with" not in line


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "audio/../../../x", "index/evil.npy", ""])
def test_names_a_manifest_may_not_list(model_copy, gems_cli, name):
    edit_manifest(model_copy, lambda m: m["files"].update({name: {"size": 1, "hash": "0" * 32}}))
    assert_one_clear_line(gems_cli("info", "-m", model_copy), repr(name), "rebuild")


def test_a_space_named_outside_the_folder(model_copy, gems_cli):
    edit_manifest(model_copy, lambda m: m["spaces"].append("../../x"))
    assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER), "space '../../x'")


def test_a_symlinked_folder_inside_the_model_is_refused_and_never_followed(model_copy, tmp_path, gems_cli):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(model_copy / "cf", elsewhere)
    (model_copy / "cf").symlink_to(elsewhere)
    before = tree(elsewhere)

    assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER), "symbolic link")
    result = rebuild(model_copy, tmp_path)
    assert result.manifest["stages"]["cf"]["reused"] is False  # not taken from behind the link
    assert tree(elsewhere) == before  # nor deleted with the old folder
    assert not (model_copy / "cf").is_symlink()


def test_the_manifest_itself_may_not_be_a_symlink(model_copy, tmp_path, gems_cli):
    shutil.move(model_copy / "manifest.json", tmp_path / "manifest.json")
    (model_copy / "manifest.json").symlink_to(tmp_path / "manifest.json")
    assert_one_clear_line(gems_cli("info", "-m", model_copy), "symbolic link")


def test_a_fifo_in_place_of_a_model_file_never_blocks(model_copy, gems_cli):
    (model_copy / "popularity.parquet").unlink()
    os.mkfifo(model_copy / "popularity.parquet")
    assert_one_clear_line(gems_cli("info", "-m", model_copy), "popularity.parquet", "not a regular file")


@pytest.mark.parametrize(
    "manifest",
    [
        b"\x00\xff garbage",
        b"[]",
        b'{"format_version": 3}',
        b'{"format_version": "3"}',
        b'{"format_version": 3, "files": 5, "stages": {}, "spaces": [], "config": {}, "counts": {}}',
        b'{"format_version": 3, "files": {}, "stages": {"cf": 1}, "spaces": [], "config": {}, "counts": {}}',
        b'{"format_version": 3, "files": {}, "stages": {}, "spaces": "audio", "config": {}, "counts": {}}',
        b"[" * 100_000,
    ],
    ids=["binary", "list", "bare", "string-version", "files", "stage", "spaces", "deep"],
)
def test_a_garbage_manifest_is_one_clear_line(model_copy, gems_cli, manifest):
    (model_copy / "manifest.json").write_bytes(manifest)
    line = assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER))
    assert "manifest.json" in line or "format" in line


def test_wrong_types_inside_a_sound_manifest(model_copy, gems_cli):
    def change(m):
        m["counts"] = {"tracks": "many"}
        m["config"]["cf"] = "fast"
        m["created_at"] = {"when": "[bold]now[/]"}
        m["versions"] = {"numpy": ["1"]}

    edit_manifest(model_copy, change)
    code, out, err = gems_cli("info", "-m", model_copy)
    assert code == 0 and "bug in gems" not in err, err
    assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER), "regularization")


def test_export_never_runs_where_a_model_folder_says(model_copy, tmp_path, gems_cli):
    edit_manifest(model_copy, lambda m: m["config"].update({"dask": {"scheduler": "tcp://127.0.0.1:1"}}))
    code, out, err = gems_cli("export", "-m", model_copy, "-k", 3, "--out", tmp_path / "r.csv", "--no-progress")
    assert code == 0, err


def test_a_build_never_replaces_a_folder_that_is_not_a_model(tmp_path, gems_cli):
    music = tmp_path / "music"
    music.mkdir()
    (music / "theme.ogg").write_bytes(b"not really")
    listens = write_listens(tmp_path / "listens.csv")
    assert_one_clear_line(gems_cli("build", "--listens", listens, "--model", music, "--no-progress"), "not a gems")
    assert (music / "theme.ogg").read_bytes() == b"not really"


# --------------------------------------------------------------------------------------------- damage


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def scribble(path: Path) -> None:
    """Random bytes over the middle of the file, its size unchanged."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = np.random.default_rng(0).bytes(64)
    path.write_bytes(bytes(data))


RECOMMEND = ("recommend", "--user", USER, "-k", 5)
DAMAGE = [
    ("cf/item_factors.npy", truncate, RECOMMEND),
    ("popularity.parquet", scribble, RECOMMEND),
    ("users.parquet", truncate, RECOMMEND),
    ("interactions/indices.npy", scribble, RECOMMEND),
    ("catalogue/tracks.arrow", truncate, RECOMMEND),
    ("neighbours/data.npy", Path.unlink, RECOMMEND),
    ("ranker/info.json", lambda p: p.write_text("{"), ("info",)),
    ("ingest.json", lambda p: p.write_text("[1, 2]"), RECOMMEND),
]


@pytest.mark.parametrize("relpath, damage, command", DAMAGE, ids=[relpath for relpath, *_ in DAMAGE])
def test_damage_is_one_line_naming_the_file(model_copy, gems_cli, relpath, damage, command):
    damage(model_copy / relpath)
    assert_one_clear_line(gems_cli(command[0], "-m", model_copy, *command[1:]), relpath, "rebuild")
    assert_one_clear_line(gems_cli("info", "-m", model_copy, "--verify"), relpath, "rebuild")


@pytest.mark.parametrize(
    "name, content",
    [
        ("model.txt", b"garbage\ntree\n"),
        ("a.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }"),
        ("a.parquet", b"PAR1" + b"\x00" * 32),
        ("a.arrow", b"ARROW1\x00\x00" + b"\x00" * 32),
        ("a.faiss", b"\x00\x01\x02\x03" + b"\x00" * 32),
        ("a.npz", b"not a zip at all"),
    ],
)
def test_headers_that_do_not_fit_their_kind(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ModelError, match=f"{name} is damaged"):
        integrity.check(path, None)


def test_verify_reads_every_file(model_copy, gems_cli):
    code, out, err = gems_cli("info", "-m", model_copy, "--verify")
    assert code == 0 and "files intact" in out, err


def test_large_files_are_checked_by_size_and_header_and_verify_reads_them(model_copy, gems_cli, monkeypatch):
    """Files above HASHED_ON_READ are not hashed when opened: same-size damage shows in --verify, and rows
    that leave the catalogue are caught as they load."""
    monkeypatch.setattr(integrity, "HASHED_ON_READ", 0)
    rows = np.load(model_copy / "index/cf_rows.npy")
    np.save(model_copy / "index/cf_rows.npy", rows[::-1])  # a permutation: plausible, different answers
    assert gems_cli("recommend", "-m", model_copy, "--user", USER)[0] == 0
    assert_one_clear_line(gems_cli("info", "-m", model_copy, "--verify"), "index/cf_rows.npy", "differs")

    rows[0] = 10**9
    np.save(model_copy / "index/cf_rows.npy", rows)
    assert_one_clear_line(gems_cli("recommend", "-m", model_copy, "--user", USER), "index/cf_rows.npy")
    truncate(model_copy / "cf/gram.npy")
    line = assert_one_clear_line(gems_cli("info", "-m", model_copy, "--verify"), "more damaged file")
    assert "cf/gram.npy" in line  # the first, in name order


def faiss_model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 12
    return write_model(
        tmp_path / "fm",
        titles=[f"Track {i}" for i in range(n)],
        soundtracks=["A", "B", "C"] * 4,
        vectors=rng.normal(size=(n, 8)),
        listeners=list(range(1, n + 1)),
    )


@pytest.mark.parametrize("hashed", [True, False])
def test_a_damaged_faiss_index(tmp_path, monkeypatch, hashed):
    path = faiss_model(tmp_path)
    if not hashed:
        monkeypatch.setattr(integrity, "HASHED_ON_READ", 0)
    index = path / "index" / "audio.faiss"
    data = bytearray(index.read_bytes())
    data[-40:-32] = (10**6).to_bytes(8, "little")  # inside the stored vectors
    index.write_bytes(bytes(data))
    if hashed:
        with pytest.raises(ModelError, match="audio.faiss is damaged"):
            _ = Model(path).spaces["audio"].index
    with pytest.raises(ModelError, match="audio.faiss is damaged"):
        Model(path).folder.verify()
    index.write_bytes(b"junk" + bytes(data[4:]))  # an index type faiss does not know
    with pytest.raises(ModelError, match="audio.faiss is damaged"):
        _ = Model(path).spaces["audio"].index


def test_a_build_over_a_damaged_model_builds_the_damaged_stage_again(model_copy, tmp_path):
    truncate(model_copy / "cf/item_factors.npy")
    result = rebuild(model_copy, tmp_path)
    stages = result.manifest["stages"]
    assert stages["cf"]["reused"] is False and stages["ingest"]["reused"] is True
    assert Model(result.path).folder.verify()[0] > 0


def test_a_model_rebuilt_while_a_command_reads_it(model_copy, tmp_path):
    model = Model(model_copy)  # opened: manifest and popularity read, the rest read when first used
    rebuild(model_copy, tmp_path, cf=CFParams(factors=7, iterations=2))
    with pytest.raises(ModelError, match="was rebuilt while this command read it; run the command again"):
        _ = model.inputs


def test_a_catalogue_naming_files_that_are_not_audio_never_serves_them(tmp_path):
    from gems.serve import audio_file

    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (tmp_path / "disguised.ogg").symlink_to(secret)
    (tmp_path / "real.ogg").write_bytes(b"OggS")
    paths = [str(secret), str(tmp_path / "disguised.ogg"), str(tmp_path / "real.ogg")]
    model = Model(
        write_model(
            tmp_path / "m",
            titles=["a", "b", "c"],
            soundtracks=[None] * 3,
            vectors=np.eye(3),
            listeners=[1, 1, 1],
            paths=paths,
        )
    )
    assert [audio_file(model, f"t{i}") for i in range(3)] == [None, None, tmp_path / "real.ogg"]
