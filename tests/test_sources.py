"""Several sources in one build and `gems link`: real export formats, linked into one catalogue by id or name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from mutagen.flac import FLAC

from gems.cli import main
from gems.config import BuildConfig, ListensSource, load_pipeline
from gems.model import Model
from gems.stages import build_model

FIXTURES = Path(__file__).parent / "fixtures"


def tagged_flac(path: Path, *, title: str, artist: str, album: str, seconds: float = 3.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(8000 * seconds)) / 8000
    tone = (0.3 * np.sin(2 * np.pi * 330 * t * (1 + len(title) / 50))).astype(np.float32)
    sf.write(path, tone, 8000, format="FLAC")
    audio = FLAC(path)
    audio.update({"title": [title], "artist": [artist], "album": [album]})
    audio.save()
    return path


def test_mpd_a_spotify_export_scrobbles_and_an_audio_folder_make_one_model(tmp_path):
    music = tmp_path / "music"
    # as long as the recording the MPD playlist names (275 s): linking compares known durations
    tagged_flac(music / "inception" / "time.flac", title="Time", artist="Hans Zimmer", album="Inception", seconds=275)
    tagged_flac(music / "ff7" / "angel.flac", title="One-Winged Angel", artist="Nobuo Uematsu", album="FF VII")
    tagged_flac(music / "other" / "unheard.flac", title="Nobody Played This", artist="Someone", album="Else")
    config = BuildConfig(
        model=tmp_path / "m",
        listens=(
            ListensSource(FIXTURES / "mpd" / "slices" / "full", "mpd"),
            ListensSource(FIXTURES / "exports" / "spotify_history" / "endsong_0.json"),
            ListensSource(FIXTURES / "exports" / "scrobbles" / "alice.csv", "lastfm-scrobbles"),
        ),
        audio=(music,),
    )
    result = build_model(config)
    model = Model(result.path)
    notes = [note for report in result.reports for note in report["notes"] if note.startswith("linked")]
    assert len(notes) == 3  # the Spotify export, the scrobbles and the audio folder, each linked to what came before
    # the export's listener is a listener of the model; the scrobbler too
    assert {"spotifan", "alice"} <= set(model.user_ids)
    assert len(model.history(model.user_row("alice"))[0]) > 0
    tracks = pd.read_parquet(result.path / "tracks.parquet")
    # "Time" by Hans Zimmer: one track whatever the source (MPD and Spotify give it different URIs)
    times = tracks[(tracks["title"] == "Time") & (tracks["artist"] == "Hans Zimmer")]
    assert len(times) == 1
    row = int(times.index[0])
    assert Path(model.paths[row]).resolve() == (music / "inception" / "time.flac").resolve()
    history = model.history(model.user_row("spotifan"))[0]
    assert row in history
    angel = tracks[tracks["title"].str.casefold() == "one-winged angel"]
    assert len(angel) == 1 and str(angel["path"].iloc[0]).endswith("angel.flac")
    assert int(angel.index[0]) in model.history(model.user_row("alice"))[0]
    # a file nobody listened to joins the catalogue as its own track
    assert (tracks["title"] == "Nobody Played This").sum() == 1


def test_a_pipeline_file_holds_several_listens_sources_and_audio_folders(tmp_path):
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        '[sources]\naudio = ["a", "b"]\n'
        '[[sources.listens]]\npath = "x.json"\nformat = "mpd"\n'
        '[[sources.listens]]\npath = "y.csv"\nformat = "table"\nsimulated = true\n[sources.listens.columns]\nuser = "u"\n'
    )
    config = load_pipeline(pipeline)
    assert config.audio == (tmp_path / "a", tmp_path / "b")
    assert [(s.path.name, s.format, s.columns, s.simulated) for s in config.listens] == [
        ("x.json", "mpd", {}, False),
        ("y.csv", "table", {"user": "u"}, True),
    ]
    assert config.simulated
    assert ListensSource.parse("plays.csv:table").format == "table"
    assert ListensSource.parse("c:/odd:name.csv").path == Path("c:/odd:name.csv")  # not a format: part of the path


def test_gems_link_writes_a_row_per_track_and_says_how_each_linked(tmp_path, capsys):
    config = BuildConfig(model=tmp_path / "m", listens=ListensSource(FIXTURES / "mpd" / "slices" / "full", "mpd"))
    build_model(config)
    out = tmp_path / "links.csv"
    source = FIXTURES / "exports" / "spotify_history" / "endsong_0.json"
    assert main(["link", "-m", str(config.model), "--listens", str(source), "--out", str(out)]) == 0
    links = pd.read_csv(out)
    assert {"artist", "title", "source_id", "track_id", "how"} <= set(links.columns)
    assert links["source_id"].is_unique
    time = links[links["title"] == "Time"].iloc[0]
    assert time["how"] == "name" and time["track_id"] == "spotify:track:6ZFbXIJkuI1dVNWvzJzown"
    assert set(links["how"]) <= {"id", "name", "ambiguous", "none"}
    printed = capsys.readouterr().out
    assert "linked by id" in printed and "not in the model" in printed
