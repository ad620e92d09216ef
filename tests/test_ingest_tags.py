"""Tags of real music folders: multi-valued titles, missing tags, placeholder values and generic folder names,
on small files written here (a short sine, tagged with mutagen), plus a look at the real game soundtracks when
they have been fetched."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import soundfile as sf
from mutagen.easyid3 import EasyID3
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis

from gems.audio.decode import AUDIO_EXTENSIONS
from gems.ingest.catalog import album_from_folders, is_generic_folder, pick_title, read_tags, scan_audio_folder

SR = 8000
# the HyperRogue files as Debian ships them: each file's title tag holds every earlier title of the album
ACCUMULATED = ["Living Caves", "Crossroads", "Desert", "Graveyard", "Hell", "Icy Lands", "Land of Mirrors"]


def tone(path: Path, fmt: str, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.3 * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR, format=fmt, subtype=subtype)
    return path


def ogg(path: Path, **tags: str | list[str]) -> Path:
    tone(path, "OGG", "VORBIS")
    audio = OggVorbis(path)
    for key, value in tags.items():
        audio[key] = value if isinstance(value, list) else [value]
    audio.save()
    return path


def test_a_multi_valued_title_gives_the_value_the_file_is_named_after(tmp_path):
    folder = tmp_path / "hyperrogue"
    ogg(folder / "hr3-desert.ogg", title=ACCUMULATED, album="HyperRogue", artist="NeonCorridor")
    ogg(folder / "hr3-icyland.ogg", title=ACCUMULATED[:6], album="HyperRogue")
    ogg(folder / "hr3-mirror.ogg", title=ACCUMULATED, album="HyperRogue")
    ogg(folder / "hr3-rlyeh.ogg", title=[*ACCUMULATED, "R'Lyeh"], album="HyperRogue")
    ogg(folder / "bonus.ogg", title=["First Name", "Second Name"], album="HyperRogue")
    assert read_tags(folder / "hr3-desert.ogg")["title"] == "Desert"  # not the first, nor the last
    assert read_tags(folder / "hr3-icyland.ogg")["title"] == "Icy Lands"  # icyland inside icylands
    assert read_tags(folder / "hr3-mirror.ogg")["title"] == "Land of Mirrors"
    assert read_tags(folder / "hr3-rlyeh.ogg")["title"] == "R'Lyeh"  # punctuation ignored
    assert read_tags(folder / "bonus.ogg")["title"] == "Second Name"  # nothing matches: the last


def test_multi_valued_tags_in_flac_and_id3(tmp_path):
    flac = tone(tmp_path / "ost" / "02 - town.flac", "FLAC")
    tags = FLAC(flac)
    tags["title"] = ["Overture", "Town"]
    tags["album"] = ["Old Name", "Game OST"]
    tags.save()
    assert read_tags(flac) | {"duration_s": None} == {
        "title": "Town",
        "artist": None,
        "album": "Game OST",
        "duration_s": None,
    }
    mp3 = tone(tmp_path / "ost" / "boss_fight.mp3", "MP3", "MPEG_LAYER_III")
    id3 = EasyID3()
    id3["title"] = ["Main Theme", "Boss Fight"]
    id3["artist"] = ["Composer"]
    id3.save(mp3)
    assert read_tags(mp3)["title"] == "Boss Fight" and read_tags(mp3)["artist"] == "Composer"


@pytest.mark.parametrize(
    "values, stem, expected",
    [
        ([], "x", None),
        (["Only"], "something else", "Only"),  # a single value is taken as it is
        (["Living Caves", "Crossroads"], "hr3-crossroads", "Crossroads"),
        (["Crossroads", "Living Caves"], "hr3-caves", "Living Caves"),
        (["Main Theme", "Main Theme Reprise"], "03 - main_theme", "Main Theme"),  # the same beats contained
        (["A", "B", "C"], "track01", "C"),
    ],
)
def test_pick_title(values, stem, expected):
    assert pick_title(values, stem) == expected


def test_missing_and_placeholder_tags_fall_back_to_the_file_and_folder_names(tmp_path):
    ogg(tmp_path / "Frozen Bubble" / "snd" / "frozen-mainzik-1p.ogg")  # no tags at all
    ogg(tmp_path / "Frozen Bubble" / "snd" / "01 - Guillaume - intro.ogg", artist="Unknown Artist", title=" ")
    frame, report = scan_audio_folder(tmp_path, extensions=AUDIO_EXTENSIONS)
    rows = frame.set_index("title")
    assert rows.loc["Frozen Mainzik 1P", "soundtrack"] == "Frozen Bubble"  # not "Snd"
    assert rows.loc["intro", "artist"] == "Guillaume"  # the placeholder artist is no artist
    assert frame["duration_s"].between(0.2, 0.4).all()
    assert report.rows_kept == 2


def test_untagged_files_take_the_album_their_tagged_neighbours_share(tmp_path):
    music = tmp_path / "usr" / "share" / "hyperrogue" / "music"
    ogg(music / "hr3-caves.ogg", title="Living Caves", album="HyperRogue")
    ogg(music / "hr-domina-hunting.ogg")
    two = tmp_path / "singularity" / "music"
    ogg(two / "a.ogg", album="Original Soundtrack")
    ogg(two / "b.ogg", album="Advanced Research")
    ogg(two / "c.ogg")
    frame, _ = scan_audio_folder(tmp_path, extensions=AUDIO_EXTENSIONS)
    albums = dict(zip(frame["track_id"].map(lambda t: t.rsplit("/", 1)[-1]), frame["soundtrack"]))
    assert albums["hr-domina-hunting"] == "HyperRogue"
    assert albums["c"] == "Singularity"  # its neighbours disagree: the folders name it


@pytest.mark.parametrize(
    "folder, expected",
    [
        ("usr/share/games/wesnoth/1.16/data/core/music", "Wesnoth"),
        ("lincity-ng/music/default", "Lincity Ng"),
        ("frozen-bubble/snd", "Frozen Bubble"),
        ("Chrono Trigger/CD1", "Chrono Trigger"),
        ("warzone2100/music/albums/aftermath_soundtrack", "Aftermath Soundtrack"),
        ("My Music/Sounds/Audio/OGG", "My Music"),
        ("music/data/games", None),
        (".", None),
    ],
)
def test_generic_folders_never_name_an_album(folder, expected):
    assert album_from_folders(PurePosixPath(folder)) == expected


def test_generic_folder_names():
    for name in ("music", "Music", "snd", "sound", "Sounds", "data", "default", "audio", "ogg", "usr", "share"):
        assert is_generic_folder(name), name
    for name in ("games", "1.16", "v2", "Disc 2", "cd1"):
        assert is_generic_folder(name), name
    for name in ("Wesnoth", "HyperRogue", "Sound of Music", "Data Drain", "2112 Overture"):
        assert not is_generic_folder(name), name


def test_a_file_at_the_top_of_the_scanned_folder_has_no_folder_album(tmp_path):
    ogg(tmp_path / "theme.ogg")
    frame, _ = scan_audio_folder(tmp_path, extensions=AUDIO_EXTENSIONS)
    assert frame["soundtrack"].isna().all() and frame["title"].tolist() == ["Theme"]


REAL = Path(os.environ.get("GEMS_SOUNDTRACK_AUDIO", "/tmp/ost"))


def test_real_game_soundtracks_get_their_own_titles_and_albums():
    if not (REAL / "hyperrogue-music").is_dir():
        pytest.skip(
            f"the real game soundtracks are not at {REAL}; fetch them with "
            "`../shared/tools/fetch-game-soundtracks DIR` and set GEMS_SOUNDTRACK_AUDIO=DIR"
        )
    frame, _ = scan_audio_folder(REAL, extensions=AUDIO_EXTENSIONS)
    titles = dict(zip(frame["track_id"].map(lambda t: t.rsplit("/", 1)[-1]), frame["title"]))
    assert (
        titles["hr3-desert"] == "Desert" and titles["hr3-rlyeh"] == "R'Lyeh" and titles["hr3-caves"] == "Living Caves"
    )
    hr3 = [title for track, title in titles.items() if track.startswith("hr3-")]
    assert len(set(hr3)) == len(hr3)  # eleven files, eleven titles
    assert not any(is_generic_folder(album) for album in frame["soundtrack"].dropna())
    assert frame["soundtrack"].notna().all()
