"""The CLI end to end on a listens-only model: JSON schema, errors as one line with exit code 1, playlists."""

from __future__ import annotations

import json
import statistics

import pytest
from typer.testing import CliRunner

from gems.cli import app, main
from listenskit import write_listens


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    listens = write_listens(root / "listens.csv")
    assert main(["build", "--listens", str(listens), "--model", str(root / "m"), "--no-progress"]) == 0
    return root / "m"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_recommend_json_schema_and_discount(model_dir, capsys):
    def picks(discount: str) -> list[dict]:
        code, out, _ = run(
            capsys,
            "recommend",
            "--model",
            str(model_dir),
            "--like",
            "g0-t0",
            "-k",
            "5",
            "--json",
            "--discount",
            discount,
            "--per-soundtrack",
            "0",
        )
        assert code == 0
        return json.loads(out)

    discounted, plain = picks("1.0"), picks("0")
    assert len(discounted) == len(plain) == 5
    for pick in discounted + plain:
        assert {
            "track_id",
            "title",
            "soundtrack",
            "score",
            "similarity",
            "popularity",
            "popularity_percentile",
            "is_tail",
            "why",
        } <= set(pick)
        assert pick["track_id"] != "g0-t0" and 0 < pick["popularity_percentile"] <= 100

    def median(rows):
        return statistics.median(p["popularity_percentile"] for p in rows)

    assert median(discounted) < median(plain)


def test_recommend_by_title_and_for_a_user(model_dir, capsys):
    code, out, _ = run(capsys, "recommend", "-m", str(model_dir), "--like", "Track 0 of 1", "-k", "3")
    assert code == 0 and "Hidden gems" in out and "Track 0 of 1" in out
    code, out, _ = run(capsys, "recommend", "-m", str(model_dir), "--user", "u001", "--json")
    assert code == 0 and len(json.loads(out)) >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--like", "Nonexistent Song"], "no track matches 'Nonexistent Song'"),
        (["--user", "nobody"], "unknown user 'nobody'"),
        ([], "give one of --like TRACK"),
        (["--like", "g0-t0", "--discount", "-1"], "discount must be between 0 and 10"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_1(model_dir, capsys, args, message):
    code, out, err = run(capsys, "recommend", "-m", str(model_dir), *args)
    assert code == 1 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_model_and_bad_usage(tmp_path, capsys):
    code, _, err = run(capsys, "recommend", "-m", str(tmp_path / "none"), "--like", "x")
    assert code == 1 and "does not exist" in err and "gems build" in err
    code, _, err = run(capsys, "recommend", "--like", "x")
    assert code == 1 and "Missing option '--model'" in err
    code, _, err = run(capsys, "build")
    assert code == 1 and "give a pipeline file or --model" in err


def test_playlist_m3u8(model_dir, tmp_path, capsys):
    out = tmp_path / "lists" / "gems.m3u8"
    code, _, err = run(
        capsys,
        "playlist",
        "-m",
        str(model_dir),
        "--like",
        "g0-t0",
        "--length",
        "5",
        "--per-soundtrack",
        "0",
        "--out",
        str(out),
    )
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#PLAYLIST:")
    entries = lines[2:]
    assert len(entries) == 10 and all(e.startswith("#EXTINF:-1,") for e in entries[::2])
    code, _, err = run(capsys, "playlist", "-m", str(model_dir), "--like", "g0-t0", "--out", str(tmp_path / "x.wav"))
    assert code == 1 and "cannot write a playlist" in err


def test_info(model_dir, capsys):
    code, out, _ = run(capsys, "info", "-m", str(model_dir), "--tracks")
    assert code == 0 and "36 tracks" in out and "g2-t11" in out


def test_every_command_has_help_with_examples():
    runner = CliRunner()
    for command in ("build", "extract", "recommend", "playlist", "info", "demo"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command
