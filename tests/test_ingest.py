"""Ingest: generic listens tables, catalogues, audio folders and their combination."""

from __future__ import annotations

import pandas as pd
import pytest

from gems.config import ListensSource
from gems.errors import DataError, ParameterError
from gems.ingest import ingest_sources, read_listens
from gems.ingest.catalog import read_catalog, scan_audio_folder, title_from_name
from gems.ingest.timestamps import parse_timestamps

EXTENSIONS = frozenset({".ogg", ".mp3", ".wav", ".flac", ".opus"})


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_listens_csv_with_common_names(tmp_path):
    path = write(
        tmp_path / "l.csv", "user_id,track_id,plays,timestamp\nu1,t1,3,2025-01-02T10:00:00Z\nu2,t2,1,1735812000\n"
    )
    frame, report = read_listens(path)
    assert list(frame.columns) == ["user_id", "track_id", "weight", "timestamp"]
    assert frame["weight"].tolist() == [3.0, 1.0]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2025-01-02 10:00:00", tz="UTC")
    assert report.rows_kept == 2 and report.rows_set_aside == 0


def test_listens_bad_rows_are_counted_with_their_lines(tmp_path):
    text = (
        "user,track,plays,date\n"
        "u1,t1,2,2025-03-01 10:00\n"  # line 2 ok
        "u2,t2\n"  # line 3 malformed
        ",t3,1,2025-03-01 10:00\n"  # line 4 missing user
        "u4,t4,abc,2025-03-01 10:00\n"  # line 5 bad weight
        "u5,t5,-1,2025-03-01 10:00\n"  # line 6 negative weight
        "u6,t6,1,yesterday-ish\n"  # line 7 bad date
        "u7,t7,1,\n"  # line 8 ok, no date
    )
    frame, report = read_listens(write(tmp_path / "l.csv", text))
    assert frame["user_id"].tolist() == ["u1", "u7"]
    assert report.rows_read == 7 and report.rows_kept == 2
    assert report.set_aside == {
        "malformed row": 1,
        "missing user id": 1,
        "weight is not a number": 1,
        "weight is zero or negative": 1,
        "unparseable timestamp": 1,
    }
    assert report.examples["malformed row"][0].endswith("l.csv:3: expected 4 fields, found 2")
    assert ":5:" in report.examples["weight is not a number"][0]
    assert ":7:" in report.examples["unparseable timestamp"][0]
    assert pd.isna(frame["timestamp"].iloc[1])


def test_listens_tsv_with_bom_windows_endings_and_mapping(tmp_path):
    text = "\ufefflistener\tsong\tn\r\nanna\tx\t4\r\nbob\ty\t1\r\n"
    frame, _ = read_listens(
        write(tmp_path / "l.tsv", text), columns={"user": "listener", "track": "song", "weight": "n"}
    )
    assert frame["user_id"].tolist() == ["anna", "bob"] and frame["weight"].tolist() == [4.0, 1.0]


def test_listens_parquet(tmp_path):
    pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"]}).to_parquet(tmp_path / "l.parquet")
    frame, report = read_listens(tmp_path / "l.parquet")
    assert frame["track_id"].tolist() == ["x", "y"] and frame["weight"].tolist() == [1.0, 1.0]
    assert report.rows_kept == 2


def test_listens_without_a_user_column_says_how_to_map_it(tmp_path):
    with pytest.raises(DataError, match="no user column.*--listens-columns user=NAME"):
        read_listens(write(tmp_path / "l.csv", "who,track_id\na,b\n"))
    with pytest.raises(DataError, match="'nope' you mapped is not there"):
        read_listens(write(tmp_path / "m.csv", "user,track\na,b\n"), columns={"user": "nope"})
    with pytest.raises(ParameterError, match="unknown listens column role"):
        read_listens(write(tmp_path / "n.csv", "user,track\na,b\n"), columns={"colour": "x"})
    with pytest.raises(ParameterError, match="unknown listens format"):
        read_listens(tmp_path / "n.csv", format="vinyl")


def test_timestamps_in_the_forms_people_have():
    values = pd.Series(
        [
            "2025-01-02T03:04:05Z",
            "1735787045",
            "1735787045000",
            "02 Jan 2025 03:04",
            "02 Jan 2025, 03:04",
            "2025-01-02 03:04",
            "",
            None,
            "1970-01-01T00:00:00Z",
            "not a date",
        ]
    )
    stamps, bad = parse_timestamps(values)
    assert stamps.iloc[0] == pd.Timestamp("2025-01-02 03:04:05", tz="UTC")
    assert stamps.iloc[1] == stamps.iloc[2] == stamps.iloc[0]
    assert stamps.iloc[3] == stamps.iloc[4] == stamps.iloc[5] == pd.Timestamp("2025-01-02 03:04", tz="UTC")
    assert bad.tolist() == [False] * 8 + [True, True]
    assert stamps.iloc[6:].isna().all()


def test_catalogue_resolves_paths_and_sets_aside_repeats(tmp_path):
    (tmp_path / "sub").mkdir()
    text = (
        "track_id,title,composer,album,duration\na,Alpha,Ann,OST,30\nb,,Bo,OST,12.5\na,Again,Ann,OST,1\n,NoId,X,Y,2\n"
    )
    frame, report = read_catalog(write(tmp_path / "sub" / "cat.csv", text))
    assert frame["track_id"].tolist() == ["a", "b"]
    assert frame["title"].tolist() == ["Alpha", "b"]  # a missing title falls back to the id
    assert frame["artist"].tolist() == ["Ann", "Bo"] and frame["composer"].tolist() == ["Ann", "Bo"]
    assert frame["soundtrack"].tolist() == ["OST", "OST"] and frame["duration_s"].tolist() == [30.0, 12.5]
    assert report.set_aside == {"repeated track id": 1, "missing track id": 1}
    assert "cat.csv:4" in report.examples["repeated track id"][0]


def test_catalogue_paths_are_relative_to_its_folder(tmp_path):
    (tmp_path / "cat").mkdir()
    frame, _ = read_catalog(write(tmp_path / "cat" / "t.csv", "track_id,title,path\na,A,audio/a.ogg\n"))
    assert frame["path"].iloc[0] == str((tmp_path / "cat" / "audio" / "a.ogg").resolve())


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("01 - pronobozo - lincity", ("lincity", "pronobozo")),
        ("machine_wars", ("Machine Wars", None)),
        ("03_Intro", ("Intro", None)),
        ("Main Theme", ("Main Theme", None)),
    ],
)
def test_titles_from_file_names(stem, expected):
    assert title_from_name(stem) == expected


def test_audio_folder_scan(tmp_path):
    (tmp_path / "my_ost").mkdir()
    for name in ("01 - Composer - Opening.ogg", "b.mp3", "cover.jpg", ".hidden.ogg"):
        (tmp_path / "my_ost" / name).write_bytes(b"x")
    frame, report = scan_audio_folder(tmp_path, extensions=EXTENSIONS)
    assert frame["track_id"].tolist() == ["my_ost/01 - Composer - Opening", "my_ost/b"]
    assert frame["title"].tolist() == ["Opening", "B"] and frame["artist"].tolist()[0] == "Composer"
    assert frame["soundtrack"].tolist() == ["My Ost", "My Ost"]
    assert report.set_aside == {"not an audio file by its extension": 1}
    with pytest.raises(DataError, match="no audio files"):
        scan_audio_folder(tmp_path / "my_ost" / "..", extensions=frozenset({".flac"}))


def test_ingest_sets_aside_listens_of_unknown_tracks(tmp_path):
    catalog = write(tmp_path / "c.csv", "track_id,title\na,A\nb,B\n")
    listens = write(tmp_path / "l.csv", "user,track\nu,a\nu,zzz\nv,b\n")
    ingested = ingest_sources(catalog=catalog, listens=listens)
    assert ingested.tracks["track_id"].tolist() == ["a", "b"]
    assert ingested.listens["track_id"].tolist() == ["a", "b"]
    report = ingested.reports[-1]
    assert report.set_aside["track not in the catalogue"] == 1 and report.rows_kept == 2
    assert "'zzz'" in report.examples["track not in the catalogue"][0]


def test_listens_alone_define_the_catalogue(tmp_path):
    listens = write(tmp_path / "l.csv", "user,track,title,artist\nu,a,Alpha,Ann\nv,b,,\nv,a,Alpha,Ann\n")
    ingested = ingest_sources(listens=listens)
    assert ingested.tracks["track_id"].tolist() == ["a", "b"]
    assert ingested.tracks["title"].tolist() == ["Alpha", "b"]
    with pytest.raises(ParameterError, match="nothing to build from"):
        ingest_sources()


def test_several_listens_sources_link_rename_and_set_aside(tmp_path):
    """A second source links to the tracks the first added (by id and by name), adds its own titled tracks,
    sets aside the untitled ones nothing knows, and its listener ids met before are renamed after its file."""
    catalog = write(tmp_path / "c.csv", "track_id,title,artist\nc1,Song A,Art\nc2,Song B,Art\n")
    one = write(tmp_path / "one.csv", "user,track,title,artist\nu1,c1,Song A,Art\nu1,s2,Song B,Art\nu2,n1,Fresh,New\n")
    two = write(
        tmp_path / "two.csv",
        "user,track,title,artist\nu1,n1,,\nu3,m9,Fresh,New\nu2,q,,\nu3,q,,\nu2,z,Zed,Zz\nu2,c2,,\nu2,q,,\n",
    )
    ingested = ingest_sources(catalog=catalog, listens=[ListensSource(one), ListensSource(two)])
    assert ingested.tracks["track_id"].tolist() == ["c1", "c2", "n1", "z"]
    listens = ingested.listens
    assert listens["track_id"].tolist() == ["c1", "c2", "n1", "n1", "n1", "z", "c2"]
    assert listens["user_id"].tolist() == ["u1", "u1", "u2", "two:u1", "u3", "two:u2", "two:u2"]
    report = ingested.reports[-1]
    assert report.set_aside == {"track not in the catalogue": 3} and report.rows_kept == 4
    assert report.examples["track not in the catalogue"] == [f"{two}: track id 'q'"]
    assert "2 listener id(s) also used by an earlier source are renamed 'two:<id>'" in report.notes
    assert "7 rows, 5 distinct tracks: 2 linked by id, 1 by name" in report.notes[0]
