"""Playlists: orders whose right answer is known by construction, and files that parse as their formats."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import gems.serve.flow as flow_module
from gems.cli import main
from gems.errors import ParameterError
from gems.model import Model
from gems.serve.flow import _rank01, arc_target, energies, flow_order
from gems.serve.playlist_files import Entry, Playlist, is_uri, safe_filename, track_uri, write_playlist
from listenskit import write_listens
from modelkit import record_files, write_model

NS = "{http://xspf.org/ns/0/}"
XSPF_TRACK_ORDER = [
    "location",
    "identifier",
    "title",
    "creator",
    "annotation",
    "info",
    "image",
    "album",
    "trackNum",
    "duration",
    "link",
    "meta",
    "extension",
]


def on_arc(degrees) -> np.ndarray:
    """Unit vectors at these angles: the cosine between two falls with their angular distance."""
    radians = np.radians(np.asarray(degrees, dtype=float))
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def add_energy(model_path: Path, energy: dict[int, float]) -> None:
    """Give tracks (row -> rms_db_mean) raw audio features, as `gems build` stores them."""
    rows = np.array(sorted(energy), dtype=np.int64)
    features = np.array([[energy[r], 0.0] for r in rows], dtype=np.float32)
    (model_path / "audio").mkdir(exist_ok=True)
    np.save(model_path / "audio" / "rows.npy", rows)
    np.save(model_path / "audio" / "features.npy", features)
    (model_path / "audio" / "feature_names.json").write_text(json.dumps(["rms_db_mean", "zcr_mean"]))
    record_files(model_path, "audio/rows.npy", "audio/features.npy", "audio/feature_names.json")


def line_model(tmp_path, degrees, soundtracks=None, name="m") -> Model:
    """Row 0 is the seed at −10°; rows 1.. are picks at ``degrees``."""
    n = len(degrees) + 1
    return Model(
        write_model(
            tmp_path / name,
            titles=[f"Track {i}" for i in range(n)],
            soundtracks=[None] * n if soundtracks is None else [None, *soundtracks],
            vectors=on_arc([-10, *degrees]),
            listeners=[1] * n,
        )
    )


# --------------------------------------------------------------------------------------------- ordering


def test_picks_on_a_line_come_out_in_line_order_from_the_seed(tmp_path):
    degrees = [0, 10, 20, 30, 40, 50, 60, 70]
    model = line_model(tmp_path, degrees)
    rows = np.array([5, 2, 8, 1, 7, 3, 6, 4])  # the ranker's order, shuffled with respect to the line
    order = flow_order(model, rows, seeds=[0])
    assert rows[order].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert flow_order(model, rows, seeds=[0]).tolist() == order.tolist()  # deterministic


def test_without_seeds_the_best_ranked_pick_opens(tmp_path):
    model = line_model(tmp_path, [0, 10, 20, 30])
    rows = np.array([3, 1, 2, 4])
    assert rows[flow_order(model, rows)][0] == 3


def test_two_soundtracks_alternate_even_when_each_is_a_tight_cluster(tmp_path):
    degrees = [0, 2, 4, 6, 40, 42, 44, 46]
    soundtracks = ["A", "A", "A", "A", "B", "B", "B", "B"]
    model = line_model(tmp_path, degrees, soundtracks)
    order = np.arange(1, 9)[flow_order(model, np.arange(1, 9), seeds=[0])]
    names = [model.soundtracks[r] for r in order]
    assert order[0] == 1  # the pick closest to the seed opens
    assert names == ["A", "B"] * 4


def test_the_walk_never_corners_itself_into_a_run_it_could_avoid(tmp_path):
    # a greedy walk would go A(0°) -> B(60°) -> C(62°) and be left with A, A; three A need B and C between them
    model = line_model(tmp_path, [0, 3, 6, 60, 62], ["A", "A", "A", "B", "C"])
    order = np.arange(1, 6)[flow_order(model, np.arange(1, 6), seeds=[0])]
    names = [model.soundtracks[r] for r in order]
    assert names[0] == "A" and names[::2] == ["A", "A", "A"] and set(names[1::2]) == {"B", "C"}


def test_an_unavoidable_repeat_comes_only_when_no_other_soundtrack_is_left(tmp_path):
    model = line_model(tmp_path, [0, 3, 6, 60], ["A", "A", "A", "B"])
    order = np.arange(1, 5)[flow_order(model, np.arange(1, 5), seeds=[0])]
    assert [model.soundtracks[r] for r in order] == ["A", "B", "A", "A"]


def total_step(model, rows) -> float:
    sim = model.similarity(rows, rows)
    return float(sum((1 - sim[i, i + 1]) / 2 for i in range(len(rows) - 1)))


def test_the_improvement_pass_only_shortens_the_walk_and_keeps_the_rule(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    n = 24
    model = Model(
        write_model(
            tmp_path / "random",
            titles=[f"T{i}" for i in range(n)],
            soundtracks=[f"S{i % 6}" for i in range(n)],
            vectors=rng.normal(size=(n, 6)),
            listeners=[1] * n,
        )
    )
    rows = np.arange(1, n)
    improved = rows[flow_order(model, rows, seeds=[0])]
    monkeypatch.setattr(flow_module, "_two_opt", lambda order, *args: order)
    greedy = rows[flow_order(model, rows, seeds=[0])]
    assert improved[0] == greedy[0]  # the opening stays
    assert total_step(model, improved) <= total_step(model, greedy) + 1e-9
    for order in (improved, greedy):
        names = [model.soundtracks[r] for r in order]
        assert all(a != b for a, b in zip(names, names[1:]))
    assert sorted(improved.tolist()) == rows.tolist()


def test_arc_rises_to_a_peak_two_thirds_of_the_way_then_falls(tmp_path):
    n = 10
    path = write_model(
        tmp_path / "arc",
        titles=[f"T{i}" for i in range(n)],
        soundtracks=[None] * n,
        vectors=np.ones((n, 3)),  # every step alike: only the energy decides
        listeners=[1] * n,
    )
    loudness = [-30, -12, -26, -8, -22, -16, -28, -10, -20, -14]
    add_energy(path, dict(enumerate(loudness)))
    model = Model(path)
    rows = np.arange(n)
    energy = np.asarray(loudness, dtype=float)[flow_order(model, rows, arc=True)]
    peak = int(np.argmax(energy))
    assert 5 <= peak <= 7  # two thirds of the way through positions 0..9
    assert np.all(np.diff(energy[: peak + 1]) > 0) and np.all(np.diff(energy[peak:]) < 0)
    assert flow_order(model, rows).tolist() == list(range(n))  # without --arc: nothing to choose, rank order


def test_arc_trades_a_little_flow_for_the_shape(tmp_path):
    rng = np.random.default_rng(0)
    n = 20
    path = write_model(
        tmp_path / "arc2",
        titles=[f"T{i}" for i in range(n)],
        soundtracks=[f"S{i % 5}" for i in range(n)],
        vectors=rng.normal(size=(n, 8)),
        listeners=[1] * n,
    )
    loudness = rng.uniform(-35, -8, size=n)
    add_energy(path, {i: float(loudness[i]) for i in range(n) if i != 4})  # track 4 has no audio
    model = Model(path)
    rows = np.arange(n)
    assert energies(model, rows)[4] == pytest.approx(np.median(np.delete(loudness, 4)))

    def shape(order):  # how closely the loudness ranks follow the tent
        return np.corrcoef(_rank01(energies(model, rows[order])), arc_target(n))[0, 1]

    with_arc, without = flow_order(model, rows, arc=True), flow_order(model, rows)
    assert shape(with_arc) > 0.7 and shape(without) < 0.0
    assert total_step(model, rows[with_arc]) < 1.3 * total_step(model, rows[without])
    names = [model.soundtracks[r] for r in rows[with_arc]]
    assert all(a != b for a, b in zip(names, names[1:]))


# --------------------------------------------------------------------------------------------- formats


@pytest.fixture
def sample(tmp_path) -> tuple[Playlist, Path]:
    music = tmp_path / "music" / "Sound Tracks"
    music.mkdir(parents=True)
    local = music / "Überfahrt #2.ogg"
    local.write_bytes(b"")
    entries = [
        Entry("Überfahrt", "Zoë & Co", "Rivers <OST>", 61.4, str(local), track_uri("local-1"), "close to “X”"),
        Entry("Stream", "Band", None, None, None, track_uri("spotify:track:4uLU6hMCjMI75M1A2tKUQC"), None),
        Entry('Plain "id"', None, "Game\x07 OST", 200.0, None, track_uri("g0 t1/ä"), "why & how"),
    ]
    return Playlist("gems: hidden gems like Überfahrt", "Hidden gems. Listener counts are simulated.", entries), local


def test_m3u8_lines_relative_paths_and_uris(sample, tmp_path):
    playlist, local = sample
    out = write_playlist(playlist, tmp_path / "lists" / "mine.m3u8")
    raw = out.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[1] == "#PLAYLIST:gems: hidden gems like Überfahrt"
    assert lines[2] == "#EXTINF:61,Zoë & Co - Überfahrt"
    assert lines[3] == "../music/Sound Tracks/Überfahrt #2.ogg"
    assert (out.parent / lines[3]).resolve() == local.resolve()
    assert lines[4:] == [
        "#EXTINF:-1,Band - Stream",
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        '#EXTINF:200,Plain "id"',
        "gems:track:g0%20t1/%C3%A4",
    ]
    assert b"\r" not in raw and raw.endswith(b"\n")


def test_xspf_is_xml_in_the_xspf_namespace_with_one_tracklist(sample, tmp_path):
    playlist, local = sample
    out = write_playlist(playlist, tmp_path / "mine.xspf")
    assert out.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.parse(out).getroot()
    assert root.tag == f"{NS}playlist" and root.get("version") == "1"
    assert root.findtext(f"{NS}creator") == "gems" and "simulated" in root.findtext(f"{NS}annotation")
    assert len(root.findall(f"{NS}trackList")) == 1
    tracks = root.findall(f"{NS}trackList/{NS}track")
    assert [t.findtext(f"{NS}title") for t in tracks] == ["Überfahrt", "Stream", 'Plain "id"']
    for track in tracks:
        tags = [child.tag.removeprefix(NS) for child in track]
        assert tags == sorted(tags, key=XSPF_TRACK_ORDER.index)  # the spec's element order
        assert len(track.findall(f"{NS}identifier")) == 1 and track.findtext(f"{NS}title")
    first, stream, plain = tracks
    assert first.findtext(f"{NS}location") == local.resolve().as_uri()
    assert first.findtext(f"{NS}creator") == "Zoë & Co" and first.findtext(f"{NS}album") == "Rivers <OST>"
    assert first.findtext(f"{NS}duration") == "61400" and first.findtext(f"{NS}annotation") == "close to “X”"
    assert (
        stream.findtext(f"{NS}location") == stream.findtext(f"{NS}identifier") == "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    )
    assert stream.find(f"{NS}duration") is None and stream.find(f"{NS}album") is None
    assert plain.find(f"{NS}location") is None  # an identifier that locates nothing is not a location
    assert plain.findtext(f"{NS}identifier") == "gems:track:g0%20t1/%C3%A4"
    assert plain.findtext(f"{NS}album") == "Game OST"  # a control character XML cannot hold is dropped


def test_jspf_is_xspf_as_json_with_location_and_identifier_arrays(sample, tmp_path):
    playlist, local = sample
    out = write_playlist(playlist, tmp_path / "mine.JSPF")
    body = json.loads(out.read_text(encoding="utf-8"))
    assert set(body) == {"playlist"}
    pl = body["playlist"]
    assert pl["creator"] == "gems" and pl["title"] == playlist.title and "simulated" in pl["annotation"]
    first, stream, plain = pl["track"]
    assert first["location"] == [local.resolve().as_uri()] and first["identifier"] == ["gems:track:local-1"]
    assert first["duration"] == 61400 and isinstance(first["duration"], int)
    assert stream["location"] == stream["identifier"] == ["spotify:track:4uLU6hMCjMI75M1A2tKUQC"]
    assert "duration" not in stream and "location" not in plain
    assert all(isinstance(t["identifier"], list) for t in pl["track"])


def test_an_unknown_suffix_names_the_three_formats(sample, tmp_path):
    with pytest.raises(ParameterError, match=r"\.m3u8.*\.xspf.*\.jspf"):
        write_playlist(sample[0], tmp_path / "mine.pls")
    assert not list(tmp_path.glob("mine*"))


def test_track_uris():
    assert is_uri("spotify:track:4uLU6hMCjMI75M1A2tKUQC") and is_uri("https://example.org/a.ogg")
    assert is_uri("urn:isrc:USRC17607839")
    assert not is_uri("g0-t1") and not is_uri("audio:wesnoth/main-theme") and not is_uri("a — b")
    assert not is_uri("C:\\music\\a.ogg") and not is_uri("")
    assert track_uri("spotify:track:x1") == "spotify:track:x1"
    assert track_uri("wesnoth/main theme") == "gems:track:wesnoth/main%20theme"


def test_safe_filenames_are_portable_and_never_shared():
    ids = ["u001", "Alice", "alice", "ALICE", "bob/../x", "a b", "a_b", "a~b", ".hidden", "..", "CON", "con",
           "nul.txt", "Zoë", "", "x" * 300, "x" * 299 + "y"]  # fmt: skip
    names = [safe_filename(i) for i in ids]
    assert names[0] == "u001" and names[2] == "alice"
    assert len({n.casefold() for n in names}) == len(ids)  # distinct even on case-insensitive filesystems
    for name in names:
        assert re.fullmatch(r"[a-z0-9._~-]+", name) and len(name) <= 200 and not name.startswith(".")
        assert name.split(".")[0] not in {"con", "nul", "prn", "aux"}


# --------------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def music_model(tmp_path) -> Path:
    """Eight tracks of three soundtracks, files under tmp/music, the last without a file or a duration."""
    music = tmp_path / "music"
    titles = [f"Cue {i}" for i in range(8)]
    paths = [str(music / f"cue {i}.ogg") for i in range(7)] + [None]
    path = write_model(
        tmp_path / "model",
        titles=titles,
        soundtracks=["A", "A", "B", "B", "C", "C", "A", "B"],
        artists=[f"Composer {i % 3}" for i in range(8)],
        vectors=on_arc([0, 8, 16, 24, 32, 40, 48, 56]),
        listeners=[30, 2, 3, 1, 4, 2, 1, 1],
        paths=paths,
        durations=[90.0, 121.6, 45.0, 60.0, 30.0, 240.0, 75.0, math.nan],
        simulated=True,
    )
    add_energy(path, {i: -30.0 + 3 * i for i in range(7)})
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_gems_playlist_writes_the_same_order_in_all_three_formats(music_model, tmp_path, capsys):
    titles = {}
    for suffix in ("m3u8", "xspf", "jspf"):
        out = tmp_path / "lists" / f"gems.{suffix}"
        code, stdout, err = run(
            capsys, "playlist", "-m", music_model, "--like", "Cue 0", "-n", "6", "--per-soundtrack", "0", "--arc",
            "--out", out,
        )  # fmt: skip
        assert code == 0, err
        assert stdout.strip().startswith("6 tracks -> ") and str(out) in stdout
        if suffix == "m3u8":
            lines = out.read_text(encoding="utf-8").splitlines()
            titles[suffix] = [line.split(" - ", 1)[1] for line in lines[2::2]]
            for location in lines[3::2]:
                assert location.startswith("../music/cue ") or location.startswith("gems:track:t")
        elif suffix == "xspf":
            root = ET.parse(out).getroot()
            titles[suffix] = [t.findtext(f"{NS}title") for t in root.iter(f"{NS}track")]
            assert "simulated" in root.findtext(f"{NS}annotation") and "“Cue 0”" in root.findtext(f"{NS}annotation")
        else:
            titles[suffix] = [t["title"] for t in json.loads(out.read_text())["playlist"]["track"]]
    assert titles["m3u8"] == titles["xspf"] == titles["jspf"]
    assert len(titles["m3u8"]) == 6 and "Cue 0" not in titles["m3u8"]
    code, _, err = run(capsys, "playlist", "-m", music_model, "--like", "Cue 0", "--out", tmp_path / "x.wav")
    assert code == 1 and "cannot write a playlist as '.wav'" in err and ".jspf" in err


@pytest.fixture(scope="module")
def listens_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    listens = write_listens(root / "listens.csv", users=24)
    with listens.open("a") as f:  # listeners whose ids are no file names as they stand
        f.write("Alice,g0-t1,2,Track 1 of 0,Soundtrack 0\nalice,g0-t2,2,Track 2 of 0,Soundtrack 0\n")
        f.write("CON,g1-t1,1,Track 1 of 1,Soundtrack 1\nbob/../x,g2-t3,1,Track 3 of 2,Soundtrack 2\n")
    assert main(["build", "--listens", str(listens), "--model", str(root / "m"), "--no-progress"]) == 0
    return root / "m"


def test_export_playlists_writes_one_file_per_user_matching_the_table(listens_model, tmp_path, capsys):
    folder, table = tmp_path / "playlists", tmp_path / "recs.jsonl"
    code, out, err = run(
        capsys, "export", "-m", listens_model, "-k", "5", "--playlists", folder, "--playlist-format", "jspf",
        "--out", table, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    model = Model(listens_model)
    users = list(model.user_ids)
    files = sorted(folder.iterdir())
    assert len(files) == len(users) == 28 and "28 playlists" in out
    assert {f.name for f in files} == {safe_filename(u) + ".jspf" for u in users}
    assert {"_alice.jspf", "alice.jspf", "_c_o_n.jspf", "bob~2f..~2fx.jspf"} <= {f.name for f in files}
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    for user in users:
        tracks = json.loads((folder / f"{safe_filename(user)}.jspf").read_text())["playlist"]["track"]
        expected = {track_uri(r["track_id"]) for r in rows if r["user_id"] == user}
        assert {t["identifier"][0] for t in tracks} == expected and len(tracks) == len(expected)
        assert all(t["annotation"].startswith("pick ") for t in tracks)


def test_export_playlists_alone_and_mistakes(listens_model, tmp_path, capsys):
    code, out, err = run(
        capsys, "export", "-m", listens_model, "-k", "3", "--playlists", tmp_path / "p", "--no-progress"
    )
    assert code == 0, err
    assert out.startswith("28 playlists (") and str(tmp_path / "p") in out
    m3u = (tmp_path / "p" / "u000.m3u8").read_text().splitlines()
    assert m3u[0] == "#EXTM3U" and len(m3u) == 2 + 2 * 3 and m3u[3].startswith("gems:track:g0-t")
    code, _, err = run(capsys, "export", "-m", listens_model)
    assert code == 1 and "--playlists" in err and "--out" in err
    code, _, err = run(capsys, "export", "-m", listens_model, "--playlists", tmp_path / "q", "--playlist-format", "pls")
    assert code == 1 and "m3u8, xspf or jspf" in err
