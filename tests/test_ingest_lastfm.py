"""Last.fm exports of one listener, in the layouts real exporters write (invented rows, names the MPD fixture
holds): detected by ``--listens-format auto``, read as one listener named after the file, and taken as a
history by ``recommend --history``, ``playlist --history`` and ``export --histories`` (issue 16)."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from gems.cli import main
from gems.config import BuildConfig
from gems.ingest import read_listens, scrobbles
from gems.ingest.formats import FORMAT_MODULES, detect_format
from gems.stages import build_model

FIXTURES = Path(__file__).parent / "fixtures"
LAYOUTS = FIXTURES / "exports" / "lastfm_layouts"
# file -> (its listener, its scrobbles' (artist, title, time) newest first)
EXPECTED = {
    "dana.csv": (  # header artist,album,song_title,date_time (the exporter)
        "dana",
        [
            ("Hans Zimmer", "Time", "2021-01-31 14:03"),
            ("John Williams", "Hedwig's Theme", "2021-01-31 13:58"),
            ("Joe Hisaishi", "One Summer's Day", "2021-01-30 22:10"),
            ("Idina Menzel", "Let It Go", "2021-01-30 22:06"),
        ],
    ),
    "gus.csv": (  # lastfm-to-csv: no header, artist,album,title,date; the now-playing row first
        "gus",
        [
            ("Hans Zimmer", "Time", "2021-01-31 14:03"),
            ("Joe Hisaishi", "One Summer's Day", "2021-01-30 22:10"),
            ("Radiohead", "Motion Picture Soundtrack", "2021-01-29 09:41"),
        ],
    ),
    "exported_tracks.txt": (  # lastexport.py: no header, uts<TAB>track<TAB>artist<TAB>album<TAB>3 MBIDs
        "me",
        [
            ("Hans Zimmer", "Time", "2021-01-31 14:03"),
            ("John Williams", "Hedwig's Theme", "2021-01-31 13:58"),
            ("Idina Menzel", "Let It Go", "2021-01-30 22:10"),
        ],
    ),
    "lastfm-backup-2021-01.csv": (  # lastfm-backup-cli: no header, date,time,artist,title
        "me",
        [
            ("Hans Zimmer", "Time", "2021-01-31 14:03:12"),
            ("John Williams", "Hedwig's Theme", "2021-01-31 13:58:40"),
            ("YOASOBI", "夜に駆ける", "2021-01-30 22:10:05"),
        ],
    ),
    "recenttracks-ivy-1612200000.csv": (  # BOM, CRLF, ';', capitalised "UTS;UTC Time;Artist;..."
        "ivy",
        [("Hans Zimmer", "Time", "2021-01-31 14:03"), ("Idina Menzel", "Let It Go", "2021-01-30 22:06")],
    ),
}


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", EXPECTED)
def test_each_layout_is_detected_and_read_as_one_listener(name):
    path = LAYOUTS / name
    assert detect_format(path) == "lastfm-scrobbles"
    others = [f for f in FORMAT_MODULES if f not in ("lastfm-scrobbles", "table")]
    assert not [f for f in others if importlib.import_module(FORMAT_MODULES[f]).sniff(path)]
    listens, report = read_listens(path)
    user, rows = EXPECTED[name]
    assert set(listens["user_id"]) == {user}
    got = listens.sort_values("timestamp", ascending=False)
    assert list(zip(got["artist"], got["title"])) == [(a, t) for a, t, _ in rows]
    assert list(got["timestamp"]) == [pd.Timestamp(w, tz="UTC") for _, _, w in rows]
    assert report.rows_kept == len(rows)


def test_header_names_are_read_in_any_case_and_spacing(tmp_path):
    path = tmp_path / "kim.csv"
    path.write_text("Song Title,Artist Name,Album-Name,Date/Time\nTime,Hans Zimmer,Inception,2021-01-31 14:03\n")
    listens, _ = read_listens(path)
    assert listens[["user_id", "artist", "title", "album"]].values.tolist() == [
        ["kim", "Hans Zimmer", "Time", "Inception"]
    ]


def test_a_user_column_makes_it_a_table_of_several_listeners(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("username,artist,song_title,date_time\nann,A,T,31 Jan 2021 14:03\nbob,B,U,31 Jan 2021 14:04\n")
    assert not scrobbles.sniff(path)
    assert detect_format(path) == "table"


@pytest.mark.parametrize("name", EXPECTED)
def test_gems_ingest_auto_reads_each(name, tmp_path, capsys):
    code, out, err = run(
        capsys, "ingest", "--listens", LAYOUTS / name, "--listens-format", "auto", "--out", tmp_path / "o.parquet"
    )
    assert code == 0, err
    table = pd.read_parquet(tmp_path / "o.parquet")
    assert len(table) == len(EXPECTED[name][1]) and table["user_id"].nunique() == 1
    assert "lastfm-scrobbles" in out + err


@pytest.fixture(scope="module")
def mpd_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lastfm")
    return build_model(BuildConfig(model=root / "m", listens=FIXTURES / "mpd" / "slices")).path


@pytest.mark.parametrize("name", EXPECTED)
def test_recommend_and_playlist_take_each_as_a_history(name, mpd_model, tmp_path, capsys):
    code, out, err = run(capsys, "recommend", "-m", mpd_model, "--history", LAYOUTS / name, "-k", "3", "--json")
    assert code == 0, err
    picks = json.loads(out)
    assert 1 <= len(picks) <= 3
    heard = {t.casefold() for _, t, _ in EXPECTED[name][1]}
    assert not heard & {p["title"].casefold() for p in picks}
    code, out, err = run(
        capsys, "playlist", "-m", mpd_model, "--history", LAYOUTS / name, "-n", "3", "--out", tmp_path / "p.m3u8"
    )
    assert code == 0, err
    assert (tmp_path / "p.m3u8").read_text().startswith("#EXTM3U")


def test_export_histories_reads_a_folder_of_one_listener_files(mpd_model, tmp_path, capsys):
    folder = tmp_path / "new"
    folder.mkdir()
    for name in ("dana.csv", "gus.csv", "recenttracks-ivy-1612200000.csv"):
        shutil.copy(LAYOUTS / name, folder / name)
    out = tmp_path / "recs.csv"
    code, printed, err = run(
        capsys, "export", "-m", mpd_model, "--histories", folder, "-k", "3", "--out", out, "--no-progress"
    )
    assert code == 0, err
    assert set(pd.read_csv(out)["user_id"]) == {"dana", "gus", "ivy"}
