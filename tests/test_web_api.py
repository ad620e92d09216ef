"""``gems serve``'s JSON API through FastAPI's test client, on a hand-made model whose files and answers are known:
the same objects as the CLI, audio with exact byte ranges, no path from a request reaching the filesystem,
playlists, uploads that are size-limited and always deleted, and the command itself."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from fastapi.testclient import TestClient  # noqa: E402

from gems import serve  # noqa: E402
from gems.cli import main  # noqa: E402
from gems.serve.flow import flow_order  # noqa: E402
from gems.web import create_app  # noqa: E402
from modelkit import write_model  # noqa: E402
from webkit import CLI_KEYS, TOKEN_HEADER, assert_error, multipart  # noqa: E402


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """Eight tracks of three soundtracks: t0-t1 real Ogg excerpts, t2 a WAV tone, t3 a file that is gone,
    t4-t7 no file."""
    root = tmp_path_factory.mktemp("web")
    demo_audio = Path(__file__).resolve().parents[1] / "data" / "demo" / "audio"
    oggs = [demo_audio / "wesnoth" / "main-theme.ogg", demo_audio / "hyperrogue" / "desert.ogg"]
    if not all(p.exists() for p in oggs):
        pytest.skip("the demo excerpts are missing from data/demo/audio")
    tone = root / "tone.wav"
    sf.write(tone, 0.2 * np.sin(np.linspace(0, 440 * 2 * np.pi, 22050)), 22050)
    gone = root / "gone.ogg"
    paths = [str(oggs[0]), str(oggs[1]), str(tone), str(gone), None, None, None, None]
    angles = np.radians([0, 10, 20, 30, 40, 50, 60, 70])
    return write_model(
        root / "model",
        titles=["Main Theme", "Desert", "Cue 2", "Cue 3", "Cue 4", "Cue 5", "Cue 6", "Cue 7"],
        soundtracks=["A", "B", "A", "B", "C", "C", "A", "B"],
        artists=[f"Composer {i % 3}" for i in range(8)],
        vectors=np.stack([np.cos(angles), np.sin(angles)], axis=1),
        listeners=[40, 9, 6, 5, 4, 3, 2, 1],
        paths=paths,
        simulated=True,
    )


def client_of(app) -> TestClient:
    """A client of ``app`` that sends the server's token, as its page does."""
    return TestClient(app, headers={TOKEN_HEADER: app.state.token})


@pytest.fixture(scope="module")
def client(model_path):
    return client_of(create_app(model_path))


def cli_json(capsys, model_path, *args) -> list[dict]:
    code = main(["recommend", "-m", str(model_path), "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


# --------------------------------------------------------------------------------------------- search, recommend


def test_search_returns_the_facade_suggestions_best_first(client, model_path):
    found = client.get("/api/search", params={"q": "main them"}).json()
    assert found[0] == {"track_id": "t0", "title": "Main Theme", "soundtrack": "A", "artist": "Composer 0"}
    assert all(set(s) == {"track_id", "title", "soundtrack", "artist"} for s in found)
    model = serve.open_model(model_path)
    assert [s["track_id"] for s in found] == [s.track_id for s in serve.search(model, "main them")]
    assert client.get("/api/search", params={"q": "cue", "limit": 3}).json().__len__() <= 3
    assert client.get("/api/search", params={"q": "  "}).json() == []
    assert_error(client.get("/api/search", params={"q": "cue", "limit": 21}), 422, "limit")


@pytest.mark.parametrize(
    "query, cli",
    [
        ({"like": ["t0"], "k": 4}, ["--like", "t0", "-k", "4"]),
        ({"like": ["Main Theme", "t5"], "discount": 0}, ["--like", "Main Theme", "--like", "t5", "--discount", "0"]),
        ({"like": ["t0"], "per_soundtrack": 1, "k": 5}, ["--like", "t0", "--per-soundtrack", "1", "-k", "5"]),
        ({"like": ["t0"], "deep_cuts": "true"}, ["--like", "t0", "--deep-cuts"]),
        ({"like": ["t3"], "tail_share": 0.5, "k": 3}, ["--like", "t3", "--tail-share", "0.5", "-k", "3"]),
    ],
)
def test_recommend_gives_exactly_the_objects_of_gems_recommend_json(client, model_path, capsys, query, cli):
    answer = client.get("/api/recommend", params=query)
    assert answer.status_code == 200, answer.text
    assert answer.json() == cli_json(capsys, model_path, *cli)
    assert answer.json() and all(set(pick) == CLI_KEYS for pick in answer.json())


def test_recommend_mistakes_are_json_errors_with_4xx(client):
    assert_error(client.get("/api/recommend", params={"like": "t0", "k": -1}), (400, 422), "k")
    assert_error(client.get("/api/recommend", params={"like": "t0", "k": 0}), (400, 422), "k")
    assert_error(client.get("/api/recommend", params={"like": "t0", "k": "ten"}), 422, "k", "integer", "ten")
    assert_error(client.get("/api/recommend", params={"like": "t0", "k": 10_000}), 422, "k")
    assert_error(client.get("/api/recommend", params={"like": "t0", "scope": "films"}), 400, "scope", "films")
    assert_error(client.get("/api/recommend", params={"like": "Nothing Like It"}), 404, "Nothing Like It")
    assert_error(client.get("/api/recommend"), 400, "like", "user")
    assert_error(client.get("/api/recommend", params={"user": "nobody"}), 400, "nobody")
    assert_error(client.get("/api/no-such-route"), 404, "/api/no-such-route")
    assert_error(client.post("/api/recommend"), 405)  # with the token: the method, not the token, is wrong


def test_tracks_popularity_and_info_describe_the_model(client, model_path):
    facts = client.get("/api/tracks", params={"id": ["t0", "t2", "t3", "t7"]}).json()
    assert [(f["track_id"], f["has_audio"], f["popularity_rank"], f["listeners"]) for f in facts] == [
        ("t0", True, 1, 40),
        ("t2", True, 3, 6),
        ("t3", False, 4, 5),  # its file is gone
        ("t7", False, 8, 1),
    ]
    assert_error(client.get("/api/tracks", params={"id": ["t0", "t99"]}), 404, "t99")
    curve = client.get("/api/popularity").json()
    assert curve["ranks"][0] == 1 and curve["ranks"][-1] == curve["n_tracks"] == 8
    assert curve["listeners"] == sorted(curve["listeners"], reverse=True) and curve["listeners"][0] == 40
    assert len(client.get("/api/popularity", params={"points": 3}).json()["ranks"]) == 3
    info = client.get("/api/info").json()
    assert info["tracks"] == 8 and info["simulated"] is True
    options = serve.open_model(model_path).rank_defaults
    assert info["defaults"] == {name: getattr(options, name) for name in info["defaults"]}
    assert info["defaults"]["k"] == 10 and info["defaults"]["per_soundtrack"] == 2
    assert "auto" in info["formats"] and "spotify-history" in info["formats"]


# --------------------------------------------------------------------------------------------- audio


@pytest.mark.parametrize("track_id, media_type", [("t0", "audio/ogg"), ("t2", "audio/wav")])
def test_audio_is_the_catalogue_file_with_its_type_and_byte_ranges(client, model_path, track_id, media_type):
    path = Path(serve.audio_file(serve.open_model(model_path), track_id))
    data = path.read_bytes()
    whole = client.get(f"/api/audio/{track_id}")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == media_type and whole.headers["accept-ranges"] == "bytes"
    for header, expected in (
        ("bytes=100-199", data[100:200]),
        ("bytes=0-0", data[:1]),
        ("bytes=-50", data[-50:]),
        (f"bytes={len(data) - 10}-", data[-10:]),
        (f"bytes=5-{len(data) + 100}", data[5:]),
    ):
        part = client.get(f"/api/audio/{track_id}", headers={"Range": header})
        assert part.status_code == 206 and part.content == expected, header
        start = data.index(expected) if header != "bytes=-50" else len(data) - 50
        assert part.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    refused = client.get(f"/api/audio/{track_id}", headers={"Range": f"bytes={len(data)}-"})
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{len(data)}"


def test_audio_never_reaches_a_path_named_by_the_request(client, model_path):
    tone = serve.audio_file(serve.open_model(model_path), "t2")
    assert_error(client.get("/api/audio/t99"), 404, "t99")  # unknown
    assert_error(client.get("/api/audio/t3"), 404, "t3")  # its file is gone
    assert_error(client.get("/api/audio/t5"), 404, "t5")  # no file in the catalogue
    for raw in (f"/api/audio/{tone}", f"/api/audio/{tone.name}", "/api/audio/..%2F..%2F..%2Fetc%2Fpasswd"):
        response = client.get(raw)
        assert response.status_code in (400, 404) and b"RIFF" not in response.content, raw
        assert "root:" not in response.text


# --------------------------------------------------------------------------------------------- playlists


def test_playlist_downloads_flow_like_gems_playlist_and_stream_from_the_server(client, model_path, tmp_path, capsys):
    query = {"like": "t0", "length": 5}
    m3u = client.get("/api/playlist", params=query)
    assert m3u.status_code == 200 and m3u.headers["content-disposition"] == 'attachment; filename="gems.m3u8"'
    lines = m3u.text.splitlines()
    assert lines[0] == "#EXTM3U" and sum(line.startswith("#EXTINF:") for line in lines) == 5
    out = tmp_path / "cli.m3u8"
    assert main(["playlist", "-m", str(model_path), "--like", "t0", "--length", "5", "--out", str(out)]) == 0
    capsys.readouterr()
    cli_lines = out.read_text().splitlines()
    assert [x for x in lines if x.startswith("#EXTINF")] == [x for x in cli_lines if x.startswith("#EXTINF")]
    streamed = 0
    for location in (line for line in lines[2:] if not line.startswith("#")):
        if location.startswith("http://testserver/api/audio/"):  # a file: streamed from this server
            assert client.get(location.removeprefix("http://testserver")).status_code == 200
            streamed += 1
        else:  # no file (its track URI), or a file that is gone (its path, as `gems playlist` writes it)
            assert location.startswith("gems:track:") or location.endswith("gone.ogg"), location
    assert streamed >= 2
    xspf = ET.fromstring(client.get("/api/playlist", params={**query, "format": "xspf"}).content)
    assert len(xspf.findall(".//{http://xspf.org/ns/0/}track")) == 5
    jspf = client.get("/api/playlist", params={**query, "format": "jspf"}).json()
    entries = client.get("/api/playlist", params={**query, "format": "json"}).json()
    assert [t["title"] for t in jspf["playlist"]["track"]] == [e["title"] for e in entries]
    assert [f"{e['artist']} - {e['title']}" for e in entries] == [
        x.split(",", 1)[1] for x in lines if x.startswith("#EXTINF:")
    ]


def test_a_playlist_of_chosen_tracks_keeps_or_flows_their_order(client, model_path):
    chosen = ["t7", "t1", "t5", "t2"]
    kept = client.get("/api/playlist", params={"track": chosen, "order": "keep", "format": "json"}).json()
    assert [e["track_id"] for e in kept] == chosen
    flowed = client.get("/api/playlist", params={"track": chosen, "like": "t0", "format": "json"}).json()
    order = flow_order(serve.open_model(model_path), np.array([7, 1, 5, 2]), np.array([0]))
    assert [e["track_id"] for e in flowed] == [chosen[i] for i in order]
    assert flowed[0]["track_id"] == "t1"  # 10° from the seed at 0°: the closest of the four starts
    assert_error(client.get("/api/playlist", params={"track": ["t1", "t99"]}), 404, "t99")
    assert_error(client.get("/api/playlist", params={"like": "t0", "format": "pls"}), 422, "format")
    assert_error(client.get("/api/playlist", params={"like": "t0", "length": -1}), 422, "length")


def test_playlists_stream_from_the_address_asked_whatever_forwarded_headers_say(model_path):
    from gems.web import running
    from webkit import ask

    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "10.0.0.1"}
    with running(create_app(model_path)) as url:
        for headers in ({}, forged):
            answer = ask(url, "/api/playlist", params={"like": "t0", "length": 3, "format": "json"}, headers=headers)
            locations = [entry["location"] or "" for entry in answer.json()]
            assert any(where.startswith(f"{url}api/audio/") for where in locations), locations
            assert not any("evil" in where or where.startswith("https:") for where in locations)


# --------------------------------------------------------------------------------------------- uploads


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    """Where the server's temporary files go during the test (checked empty afterwards)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_uploads_over_the_limit_are_refused_with_413_and_leave_nothing(model_path, temp_root):
    small = client_of(create_app(model_path, upload_limit=1000))
    export = b"user,track\n" + b"u1,t0\n" * 400  # 2,411 bytes
    assert_error(small.post("/api/history", files={"file": ("me.csv", export)}), 413, "limit")
    body, headers = multipart("me.csv", export)  # streamed without a Content-Length: counted as it arrives
    assert_error(small.post("/api/history", content=iter([body[:1500], body[1500:]]), headers=headers), 413)
    fits = small.post("/api/history", files={"file": ("me.csv", export[:1000])})
    assert fits.status_code == 200, fits.text
    assert list(temp_root.iterdir()) == []


def test_upload_mistakes_are_4xx_json_and_leave_nothing(client, temp_root):
    assert_error(client.post("/api/history", data={"format": "table"}), 400, "file")
    assert_error(client.post("/api/history", files={"file": ("me.csv", b"")}), 422, "empty")
    assert_error(client.post("/api/history?format=winamp", files={"file": ("me.csv", b"u,t0\n")}), 400, "winamp")
    assert_error(client.post("/api/history", files={"file": ("me.csv", b"user,track\n")}), 422, "holds no listens")
    unknown = client.post("/api/history", files={"file": ("me.csv", b"user,track\nu1,zz9\n")})  # the fallback
    assert unknown.status_code == 200 and unknown.json()[0]["why"].startswith("Nothing of your listening is in")
    assert list(temp_root.iterdir()) == []


def test_an_uploaded_history_is_folded_in_like_gems_recommend_history(client, capsys, model_path, temp_root, tmp_path):
    """The upload is read, linked and folded in: the CLI's objects for the same file, its own tracks never
    returned, and the file gone once answered."""
    export = b"user,track,plays\nme,t1,3\nme,t5,1\n"
    answer = client.post("/api/history", params={"k": 3, "format": "table"}, files={"file": ("plays.CSV", export)})
    assert answer.status_code == 200, answer.text
    picks = answer.json()
    assert len(picks) == 3 and all(set(p) == CLI_KEYS for p in picks)
    assert not {"t1", "t5"} & {p["track_id"] for p in picks}
    saved = tmp_path / "plays.csv"
    saved.write_bytes(export)
    assert picks == cli_json(capsys, model_path, "--history", str(saved), "--history-format", "table", "-k", "3")
    assert list(temp_root.iterdir()) == []


# --------------------------------------------------------------------------------------------- the command


def test_the_cli_does_not_import_the_web_stack():
    code = "import sys, gems.cli; print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_gems_serve_prints_its_url_serves_and_stops_cleanly(model_path, stop):
    import urllib.request

    command = [sys.executable, "-m", "gems.cli", "serve", "--model", str(model_path), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + process.stderr.read()
        with urllib.request.urlopen(url.group(0) + "api/search?q=desert", timeout=10) as response:
            assert json.load(response)[0]["track_id"] == "t1"
        with urllib.request.urlopen(url.group(0), timeout=10) as response:
            assert b'type="search"' in response.read()
        process.send_signal(stop)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_gems_serve_on_a_taken_port_says_so_in_one_line(model_path, capsys):
    from gems.web import bind

    taken = bind("127.0.0.1", 0)
    try:
        code = main(["serve", "--model", str(model_path), "--port", str(taken.getsockname()[1])])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 1 and "cannot listen on 127.0.0.1:" in err and "--port" in err and len(err.strip().splitlines()) == 1
    assert main(["serve", "--model", str(model_path.parent / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().err
