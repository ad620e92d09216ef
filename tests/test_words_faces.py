"""Search by sound and a track's words on every face, on the hand-made model of tests/wordkit.py: ``gems recommend
--sounds`` and ``gems playlist --sounds`` (typer's CliRunner through gems' entry point), ``gems info --tracks``,
and the API (the same objects as the CLI; 400s that name the vocabulary or say how to get words)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gems.audio.musicnn import TAG_WORDS
from gems.cli import main
from gems.rank.words import CONFIDENT
from wordkit import write_worded_model

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from fastapi.testclient import TestClient  # noqa: E402

from gems.web import create_app  # noqa: E402
from webkit import CLI_KEYS, TOKEN_HEADER, assert_error  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return write_worded_model(tmp_path_factory.mktemp("words") / "m")


@pytest.fixture(scope="module")
def wordless_path(tmp_path_factory) -> Path:
    return write_worded_model(tmp_path_factory.mktemp("wordless") / "m", tags=False)


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def picks_of(capsys, *args) -> list[dict]:
    code, out, err = run(capsys, "recommend", *args, "--json")
    assert code == 0, err
    return json.loads(out)


# --------------------------------------------------------------------------------------------- the CLI


def test_recommend_sounds_alone_returns_picks_carrying_the_word_first(capsys, model_path):
    picks = picks_of(capsys, "-m", model_path, "--sounds", "ambient", "--discount", "0", "-k", "3")
    assert [p["track_id"] for p in picks] == ["t1", "t2", "t3"]
    assert all(set(p) == CLI_KEYS and p["tags"][0]["word"] == "ambient" for p in picks)
    assert [p["tags"][0]["p"] for p in picks] == [0.9, 0.8, 0.3]


def test_sounds_repeat_and_combine_with_seeds_and_listeners(capsys, model_path):
    repeated = picks_of(capsys, "-m", model_path, "--sounds", "slow", "--sounds", "strings", "-k", "2")
    assert repeated == picks_of(capsys, "-m", model_path, "--sounds", "slow strings", "-k", "2")
    liked = picks_of(capsys, "-m", model_path, "--like", "Seed Strings", "--sounds", "ambient", "-k", "3")
    assert "t0" not in {p["track_id"] for p in liked} and all(p["seed"] == "t0" for p in liked)
    listener = picks_of(capsys, "-m", model_path, "--user", "u050", "--sounds", "ambient", "-k", "2")  # heard t1 only
    assert len(listener) == 2 and all(p["tags"] for p in listener) and "t1" not in {p["track_id"] for p in listener}


def test_like_picks_carry_tags_and_the_table_shows_confident_words(capsys, model_path):
    picks = picks_of(capsys, "-m", model_path, "--like", "Seed Strings", "-k", "3")
    assert all(len(p["tags"]) == 10 for p in picks if p["track_id"] != "t7")
    code, out, err = run(capsys, "recommend", "-m", model_path, "--sounds", "ambient", "--discount", "0", "-k", "3")
    assert code == 0, err
    assert out.splitlines()[0] == "Hidden gems sounding ambient"
    lines = [line for line in out.splitlines() if "“" in line and "listeners" in line]
    assert "sounds ambient" in lines[0] and "sounds ambient" not in lines[2]  # t3's ambient .3: not said


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--sounds", "zzqx"], ["'zzqx'", "vocabulary", *TAG_WORDS]),
        (["--sounds", "slow strngs"], ["'strngs'", "vocabulary"]),
    ],
)
def test_a_word_outside_the_vocabulary_exits_1_with_one_line_naming_the_vocabulary(capsys, model_path, args, words):
    code, out, err = run(capsys, "recommend", "-m", model_path, *args)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert all(word in err for word in words)


def test_a_model_without_words_exits_1_saying_how_to_get_them(capsys, wordless_path):
    code, _, err = run(capsys, "recommend", "-m", wordless_path, "--sounds", "ambient")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "no sound words" in err and "rebuild it with audio" in err


def test_playlist_sounds_writes_the_picks_of_the_words(capsys, model_path, tmp_path):
    out = tmp_path / "calm.m3u8"
    code, printed, err = run(
        capsys, "playlist", "-m", model_path, "--sounds", "ambient", "--length", "3", "--discount", "0", "--out", out
    )
    assert code == 0, err
    assert "3 tracks" in printed
    text = out.read_text()
    assert all(title in text for title in ("Ambient Hit", "Ambient Gem", "Faint Ambient"))
    assert "sounding ambient" in text  # the playlist's title says for what


def test_info_tracks_shows_each_tracks_confident_words(capsys, model_path, wordless_path):
    code, out, err = run(capsys, "info", "-m", model_path, "--tracks", "--json")
    assert code == 0, err
    records = {r["track_id"]: r for r in json.loads(out)}
    assert records["t1"]["tags"][0] == {"word": "ambient", "p": 0.9} and records["t7"]["tags"] == []
    code, out, err = run(capsys, "info", "-m", model_path, "--tracks")
    assert code == 0, err
    assert "sounds" in out and f"p ≥ {CONFIDENT:g}" in out
    row_of = {line.split()[0]: line for line in out.splitlines() if line.startswith("t") and line[1:2].isdigit()}
    assert "ambient" in row_of["t1"] and "ambient" not in row_of["t3"]  # .3: below the confidence
    code, out, err = run(capsys, "info", "-m", wordless_path, "--tracks")
    header = next(line for line in out.splitlines() if line.startswith("track_id"))
    assert code == 0 and "theme" in header and "sounds" not in out  # no words: no column


# --------------------------------------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def client(model_path):
    app = create_app(model_path)
    return TestClient(app, headers={TOKEN_HEADER: app.state.token})


def test_api_recommend_sounds_answers_the_clis_objects(capsys, client, model_path):
    answer = client.get("/api/recommend", params={"sounds": "ambient", "discount": 0, "k": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json() == picks_of(capsys, "-m", model_path, "--sounds", "ambient", "--discount", "0", "-k", "3")
    both = client.get("/api/recommend", params={"sounds": ["slow", "strings"], "like": "t0", "k": 2})
    assert both.json() == picks_of(
        capsys, "-m", model_path, "--sounds", "slow", "--sounds", "strings", "--like", "t0", "-k", "2"
    )


def test_api_history_takes_sounds_too(capsys, client, model_path, tmp_path):
    export = b"user,track\nme,t0\n"
    answer = client.post(
        "/api/history", params={"format": "table", "sounds": "ambient", "k": 2}, files={"file": ("me.csv", export)}
    )
    assert answer.status_code == 200, answer.text
    saved = tmp_path / "me.csv"
    saved.write_bytes(export)
    cli = picks_of(
        capsys, "-m", model_path, "--history", saved, "--history-format", "table", "--sounds", "ambient", "-k", "2"
    )
    assert answer.json() == cli and all(p["tags"] for p in cli)


def test_api_sound_mistakes_are_400s(client, wordless_path):
    message = assert_error(client.get("/api/recommend", params={"sounds": "zzqx"}), 400, "zzqx", "vocabulary")
    assert all(word in message for word in TAG_WORDS)
    assert_error(client.get("/api/recommend", params={"sounds": ["ambient"] * 21}), 400, "at most 20")
    wordless = TestClient(create_app(wordless_path))
    assert_error(wordless.get("/api/recommend", params={"sounds": "ambient"}), 400, "no sound words")
    assert wordless.get("/api/info").json()["sounds"] is None


def test_api_info_states_the_vocabulary_and_the_confidence(client):
    sounds = client.get("/api/info").json()["sounds"]
    assert sounds == {"words": list(TAG_WORDS), "confident": CONFIDENT}


def test_api_playlist_of_sounds(client):
    answer = client.get("/api/playlist", params={"sounds": "ambient", "length": 2, "discount": 0, "format": "json"})
    assert answer.status_code == 200, answer.text
    assert sorted(e["track_id"] for e in answer.json()) == ["t1", "t2"]
