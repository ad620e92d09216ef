"""End to end on real soundtrack excerpts from data/demo: build, broken files, recommend, extract, re-build."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gems.cli import main

EXCERPTS = [
    "wesnoth/main-theme.ogg",
    "wesnoth/the-king-is-dead.ogg",
    "wesnoth/weight-of-revenge.ogg",
    "hyperrogue/living-caves.ogg",
    "hyperrogue/desert.ogg",
    "singularity/a-new-journey.ogg",
    "singularity/through-space.ogg",
    "asc/frontiers.ogg",
]


@pytest.fixture(scope="module")
def audio_folder(demo_dir, tmp_path_factory):
    """Eight real excerpts, plus a truncated Ogg, an empty file and a text file named .mp3."""
    root = tmp_path_factory.mktemp("music")
    for relative in EXCERPTS:
        source = demo_dir / "audio" / relative
        if not source.exists():
            pytest.skip(f"demo excerpt {source} is missing")
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    whole = (demo_dir / "audio" / "wesnoth" / "sad.ogg").read_bytes()
    (root / "broken").mkdir()
    (root / "broken" / "truncated.ogg").write_bytes(whole[: len(whole) // 2])
    (root / "broken" / "empty.ogg").write_bytes(b"")
    (root / "broken" / "notes.mp3").write_text("these are my liner notes, not audio\n")
    return root


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_folder_with_broken_files_still_builds_and_reports_them(audio_folder, tmp_path, capsys):
    model = tmp_path / "model"
    code, out, err = run(capsys, "build", "--audio", str(audio_folder), "--model", str(model), "--no-progress")
    assert code == 0, err
    assert "3 audio file(s) skipped" in out
    for name, status in (("truncated.ogg", "truncated"), ("empty.ogg", "empty"), ("notes.mp3", "not_audio")):
        line = next(line for line in out.splitlines() if name in line)
        assert line.strip().startswith(status), line
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["counts"]["audio_ok"] == 8 and manifest["counts"]["audio_failed"] == 3
    assert manifest["spaces"] == ["audio"]

    code, out, err = run(capsys, "recommend", "-m", str(model), "--like", "Main Theme", "-k", "4", "--json")
    assert code == 0, err
    picks = json.loads(out)
    assert len(picks) == 4 and all(p["track_id"] != "wesnoth/main-theme" for p in picks)
    assert all("“Main Theme”" in p["why"] for p in picks)  # every pick names the seed it comes from

    # unchanged: every stage reused, nothing decoded again
    code, out, _ = run(capsys, "build", "--audio", str(audio_folder), "--model", str(model), "--no-progress")
    stages = json.loads((model / "manifest.json").read_text())["stages"]
    assert code == 0 and all(stage["reused"] for stage in stages.values())


def test_extract_writes_a_row_per_file_with_its_status(audio_folder, tmp_path, capsys):
    out_file = tmp_path / "embeddings.parquet"
    code, out, err = run(
        capsys, "extract", str(audio_folder), "--out", str(out_file), "--workers", "1", "--no-progress"
    )
    assert code == 0, err
    table = pq.read_table(out_file).to_pydict()
    assert len(table["path"]) == 11
    status = dict(zip((p.rsplit("/", 1)[-1] for p in table["path"]), table["status"]))
    assert status["truncated.ogg"] == "truncated" and status["empty.ogg"] == "empty"
    assert status["notes.mp3"] == "not_audio" and status["main-theme.ogg"] == "ok"
    embedded = [e for e, s in zip(table["embedding"], table["status"]) if s == "ok"]
    assert len(embedded) == 8 and all(abs(sum(x * x for x in e) - 1) < 1e-4 for e in embedded)
    assert all(r for r, s in zip(table["reason"], table["status"]) if s != "ok")
    code, _, _ = run(capsys, "extract", str(audio_folder), "--out", str(out_file), "--strict", "--no-progress")
    assert code == 1


@pytest.fixture(scope="module")
def demo_model(demo_dir, tmp_path_factory) -> Path:
    """models/demo as `make demo` builds it, in a temporary folder with its own feature cache."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GEMS_CACHE_DIR", str(root / "cache"))
        patch.chdir(demo_dir.parents[1])
        assert main(["build", "pipelines/demo.toml", "--model", str(root / "demo"), "--no-progress"]) == 0
    return root / "demo"


@pytest.mark.slow
def test_the_demo_discount_lowers_the_median_popularity(demo_model, capsys):
    """The issue's check: k tracks, no seeds, lower median popularity percentile than with --discount 0."""
    model = demo_model

    def picks(*extra):
        code, out, err = run(
            capsys, "recommend", "-m", str(model), "--like", "Main Theme", "-k", "10", "--json", *extra
        )
        assert code == 0, err
        return json.loads(out)

    gems, plain = picks(), picks("--discount", "0")
    assert len(gems) == len(plain) == 10
    assert all(p["track_id"] != "wesnoth-main-theme" for p in gems + plain)
    assert statistics.median(p["popularity_percentile"] for p in gems) < statistics.median(
        p["popularity_percentile"] for p in plain
    )
    assert all("simulated" in p["why"] for p in gems)


@pytest.mark.slow
@pytest.mark.parametrize("word", ["ambient", "electronic"])
def test_searching_the_demo_by_a_word_finds_tracks_that_carry_it(demo_model, capsys, word):
    """Issue 17's check, literally: 5 picks, at least 4 with the word among the first 5 of their tags."""
    args = ("recommend", "-m", str(demo_model), "--sounds", word, "--discount", "0", "-k", "5", "--json")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    picks = json.loads(out)
    assert len(picks) == 5
    assert sum(word in [tag["word"] for tag in pick["tags"][:5]] for pick in picks) >= 4


@pytest.mark.slow
def test_demo_seed_picks_carry_tags_and_an_unknown_word_names_the_vocabulary(demo_model, capsys):
    code, out, err = run(capsys, "recommend", "-m", str(demo_model), "--like", "Main Theme", "-k", "5", "--json")
    assert code == 0, err
    assert all(len(pick["tags"]) >= 5 for pick in json.loads(out))
    code, out, err = run(capsys, "recommend", "-m", str(demo_model), "--sounds", "zzqx")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "vocabulary" in err
