"""Soundtracks first: the build makes ``soundtrack`` the default scope of a model that holds enough soundtrack
music (gems.stages.default_scope), ``gems info`` says so and why, and ``gems info --tracks --json`` lists every
track with its flag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gems.artifacts.reading import ModelFolder
from gems.cli import app, main
from gems.config import BuildConfig
from gems.rank.options import RankOptions
from gems.stages import SOUNDTRACK_SCOPE_MIN_SHARE, SOUNDTRACK_SCOPE_MIN_TRACKS, default_scope
from modelkit import write_model

SOUNDTRACK_ALBUM = "Night Sky (Original Motion Picture Soundtrack)"


def scope_of(tmp_path, flags: list[bool], listeners: list[int], rank: RankOptions | None = None) -> tuple[str, str]:
    n = len(flags)
    path = write_model(
        tmp_path / "m",
        titles=[f"Track {i}" for i in range(n)],
        soundtracks=[None] * n,
        vectors=np.eye(n, 4, dtype=np.float32) + 0.1,
        listeners=listeners,
        is_soundtrack=flags,
    )
    return default_scope(BuildConfig(model=path, rank=rank or RankOptions()), ModelFolder(path))


def test_the_rule_needs_enough_soundtrack_tracks_and_share(tmp_path):
    assert (SOUNDTRACK_SCOPE_MIN_TRACKS, SOUNDTRACK_SCOPE_MIN_SHARE) == (100, 0.01)
    scope, why = scope_of(tmp_path / "a", [True] * 100 + [False] * 200, [1] * 300)
    assert scope == "soundtrack" and why.startswith("100 of the 300 listened tracks (33.3%) are soundtrack music")
    assert scope_of(tmp_path / "b", [True] * 99 + [False] * 201, [1] * 300)[0] == "all"  # too few
    # 150 soundtracks in 20,000 listened tracks: 0.75%, about what the detector flags where there are none
    scope, why = scope_of(tmp_path / "c", [True] * 150 + [False] * 19_850, [1] * 20_000)
    assert scope == "all" and "(0.8%)" in why and "at least 100 and 1%" in why


def test_only_tracks_in_play_count_and_the_pipeline_can_name_the_scope(tmp_path):
    # 150 soundtracks nobody played beside 100 played other tracks: not a soundtrack model
    assert scope_of(tmp_path / "a", [True] * 150 + [False] * 100, [0] * 150 + [1] * 100)[0] == "all"
    # without any listens every track is in play
    assert scope_of(tmp_path / "b", [True] * 120 + [False] * 10, [0] * 130)[0] == "soundtrack"
    asked = scope_of(tmp_path / "c", [False] * 10, [1] * 10, RankOptions(scope="soundtrack"))
    assert asked == ("soundtrack", "the pipeline's [rank] scope")
    # and for everything: a catalogue that would qualify keeps every track when [rank] scope = "all"
    kept = scope_of(tmp_path / "d", [True] * 120 + [False] * 10, [1] * 130, RankOptions(scope="all"))
    assert kept == ("all", "the pipeline's [rank] scope")
    assert scope_of(tmp_path / "e", [True] * 120 + [False] * 10, [1] * 130)[0] == "soundtrack"  # auto decides


@pytest.fixture(scope="module")
def half_soundtrack_model(tmp_path_factory):
    """A built model of 240 tracks, the even ones from a film soundtrack album, each played by a few of 60
    listeners."""
    root = tmp_path_factory.mktemp("scope")
    rng = np.random.default_rng(0)
    rows = ["user,track,plays,title,artist,album"]
    for track in range(240):
        album = SOUNDTRACK_ALBUM if track % 2 == 0 else "Daylight"
        for user in rng.choice(60, size=3 + track % 4, replace=False):
            rows.append(f"u{user:02d},t{track:03d},1,Song {track},Band {track % 7},{album}")
    (root / "listens.csv").write_text("\n".join(rows) + "\n")
    model = root / "m"
    assert main(["build", "--listens", str(root / "listens.csv"), "--model", str(model), "--no-progress"]) == 0
    return model


def test_info_tracks_json_lists_every_track_and_nothing_else(half_soundtrack_model):
    result = CliRunner().invoke(app, ["info", "-m", str(half_soundtrack_model), "--tracks", "--json"])
    assert result.exit_code == 0, result.output
    tracks = json.loads(result.stdout)  # the whole of stdout is one JSON array
    assert isinstance(tracks, list) and len(tracks) == 240
    keys = {"track_id", "title", "artist", "listeners", "popularity_percentile", "is_soundtrack", "soundtrack"}
    assert all(keys <= set(t) for t in tracks)
    by_id = {t["track_id"]: t for t in tracks}
    assert all(by_id[f"t{i:03d}"]["is_soundtrack"] == (i % 2 == 0) for i in range(240))
    assert by_id["t000"]["soundtrack_reason"] == "album: … Original Motion Picture Soundtrack"
    assert by_id["t001"]["soundtrack_reason"] is None and by_id["t001"]["artist"] == "Band 1"
    assert all(3 <= t["listeners"] <= 6 and 0 < t["popularity_percentile"] <= 100 for t in tracks)
    top = max(t["listeners"] for t in tracks)
    assert all(t["popularity_percentile"] == 100.0 for t in tracks if t["listeners"] == top)


def test_info_states_the_default_scope_and_why(half_soundtrack_model):
    runner = CliRunner()
    summary = json.loads(runner.invoke(app, ["info", "-m", str(half_soundtrack_model), "--json"]).stdout)
    assert summary["scope"] == "soundtrack" and summary["rank_defaults"]["scope"] == "soundtrack"
    assert summary["scope_reason"].startswith("120 of the 240 listened tracks (50.0%) are soundtrack music")
    text = runner.invoke(app, ["info", "-m", str(half_soundtrack_model)]).stdout
    assert "default scope: soundtrack — 120 of the 240 listened tracks" in text


def test_a_soundtrack_model_recommends_soundtracks_unless_widened(half_soundtrack_model):
    def picks(*extra: str) -> list[dict]:
        args = ["recommend", "-m", str(half_soundtrack_model), "--like", "t001", "-k", "20", "--json", *extra]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    narrow, wide = picks(), picks("--scope", "all")
    assert len(narrow) == 20 and all(int(p["track_id"][1:]) % 2 == 0 for p in narrow)
    assert any(int(p["track_id"][1:]) % 2 == 1 for p in wide)
