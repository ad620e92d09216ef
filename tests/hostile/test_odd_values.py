"""Odd values: NaN, infinities, zero and negative counts, absurd worker counts, repeated user ids — each is one
clear line or a sensible run, never an empty answer with exit code 0 — and outputs made with the user's umask."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
from hostilekit import assert_one_clear_line

from gems.parallel import WORKERS_PER_CORE, Runner, cores

USER = "u001"

BAD = [
    (["recommend", "--user", USER, "--discount", "nan"], "discount"),
    (["recommend", "--user", USER, "--discount", "inf"], "discount"),
    (["recommend", "--user", USER, "--discount", "-1"], "discount"),
    (["recommend", "--user", USER, "--discount", "1e400"], "discount"),
    (["recommend", "--user", USER, "--tail-share", "nan"], "tail_share"),
    (["recommend", "--user", USER, "--tail-share", "1.5"], "tail_share"),
    (["recommend", "--user", USER, "-k", "0"], "k must be"),
    (["recommend", "--user", USER, "-k", "-5"], "k must be"),
    (["recommend", "--user", USER, "-k", "99999999"], "k must be"),
    (["recommend", "--user", USER, "--per-soundtrack", "-1"], "per_soundtrack"),
    (["playlist", "--user", USER, "--length", "0", "--out", "{tmp}/p.m3u8"], "--length"),
    (["playlist", "--user", USER, "--length", "-3", "--out", "{tmp}/p.m3u8"], "--length"),
    (["export", "--out", "{tmp}/r.csv", "--workers", "0"], "--workers"),
    (["export", "--out", "{tmp}/r.csv", "--workers", "-2"], "--workers"),
    (["export", "--out", "{tmp}/r.csv", "-k", "nan"], "-k"),
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--port", "-1"], "--port"),
]


@pytest.mark.parametrize("args, word", BAD, ids=[" ".join(args[:1] + args[-2:]) for args, _ in BAD])
def test_values_out_of_range_are_one_clear_line(model_copy, tmp_path, gems_cli, args, word):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_one_clear_line(gems_cli(args[0], "-m", model_copy, *args[1:]), word)
    assert not list(tmp_path.glob("p.m3u8")) and not list(tmp_path.glob("r.csv"))


@pytest.mark.parametrize(
    "args, word",
    [
        (["extract", "{tmp}", "--out", "{tmp}/e.parquet", "--workers", "0"], "workers"),
        (["extract", "{tmp}", "--out", "{tmp}/e.parquet", "--excerpt", "nan"], "excerpt"),
        (["extract", "{tmp}", "--out", "{tmp}/e.parquet", "--excerpt", "-3"], "excerpt"),
        (["build", "--listens", "{tmp}/l.csv", "--model", "{tmp}/m", "--workers", "0"], "--workers"),
        (["evaluate", "--listens", "{tmp}/l.csv", "--out", "{tmp}/r", "-k", "0"], "-k"),
        (["evaluate", "--listens", "{tmp}/l.csv", "--out", "{tmp}/r", "--seed", "-1"], "--seed"),
    ],
)
def test_other_commands_check_their_numbers(tmp_path, gems_cli, args, word):
    (tmp_path / "l.csv").write_text("user,track\nu1,t1\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_one_clear_line(gems_cli(*args), word)


def test_absurd_worker_counts_are_capped_with_a_note(model_copy, tmp_path, gems_cli, caplog):
    most = WORKERS_PER_CORE * cores()
    assert Runner(workers=1000).workers == most
    assert "using" in caplog.text
    code, out, err = gems_cli("export", "-m", model_copy, "-k", 3, "--out", tmp_path / "r.csv", "--workers", 1000)
    assert code == 0, err
    assert f"using {most}" in err


def test_repeated_user_ids_are_exported_once(model_copy, tmp_path, gems_cli):
    users = tmp_path / "users.txt"
    users.write_text(f"{USER}\n u002 \n{USER}\n\n{USER}\n")
    code, out, err = gems_cli("export", "-m", model_copy, "--users", users, "-k", 4, "--out", tmp_path / "r.csv")
    assert code == 0, err
    recs = pd.read_csv(tmp_path / "r.csv")
    assert sorted(recs["user_id"].unique()) == [USER, "u002"]
    assert recs.groupby("user_id").size().max() == 4 and not recs.duplicated(["user_id", "rank"]).any()
    assert "more than once" in err


@pytest.fixture
def umask():
    """Set the process umask for a test; restored after."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_follow_the_users_umask(model_copy, tmp_path, gems_cli, umask, mask):
    umask(mask)
    outputs = [tmp_path / "p.m3u8", tmp_path / "r.csv", tmp_path / "lists"]
    assert gems_cli("playlist", "-m", model_copy, "--user", USER, "--length", 5, "--out", outputs[0])[0] == 0
    assert gems_cli("export", "-m", model_copy, "-k", 3, "--out", outputs[1], "--no-progress")[0] == 0
    assert gems_cli("export", "-m", model_copy, "-k", 3, "--playlists", outputs[2], "--no-progress")[0] == 0
    files = [outputs[0], outputs[1], *outputs[2].iterdir()]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path

    from gems.config import BuildConfig
    from gems.stages import build_model
    from listenskit import write_listens

    model = build_model(BuildConfig(model=tmp_path / "m2", listens=write_listens(tmp_path / "l.csv"))).path
    assert stat.S_IMODE(model.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((model / "manifest.json").stat().st_mode) == 0o666 & ~mask
