"""The Last.fm HetRec 2011 reader: artists as items, play counts as weights, Latin-1 tags, bad lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gems.errors import DataError
from gems.ingest import lastfm_hetrec as hetrec
from gems.ingest import mpd
from gems.ingest.formats import detect_format, read_listens_source
from listenskit import write_hetrec

FIXTURES = Path(__file__).parent / "fixtures"


def copy_fixture(tmp_path: Path) -> Path:
    return write_hetrec(tmp_path / "hetrec")


def test_listens_are_play_counts_of_artists_with_bad_lines_set_aside(hetrec_dir):
    result = hetrec.read(hetrec_dir)
    listens, report = result.listens, result.report
    assert list(listens.columns) == ["user_id", "track_id", "weight", "timestamp"]
    assert list(zip(listens["user_id"], listens["track_id"], listens["weight"])) == [
        ("2", "51", 4210.0),
        ("2", "52", 3175.0),
        ("3", "99", 7.0),
        ("3", "52", 5.0),
        ("4", "53", 15.0),
    ]
    assert str(listens["weight"].dtype) == "float32" and listens["timestamp"].isna().all()
    assert report.format == "lastfm-hetrec" and report.rows_read == 9 and report.rows_kept == 5
    assert report.set_aside == {
        "weight is not a number": 1,
        "weight is zero or negative": 1,
        "repeated user–artist pair": 1,
        "malformed row": 1,
    }
    assert report.examples["weight is not a number"] == [f"{hetrec_dir / 'user_artists.dat'}:4: weight='abc'"]
    assert report.examples["weight is zero or negative"][0].endswith("user_artists.dat:5: weight=0")
    assert report.examples["repeated user–artist pair"][0].endswith(
        "user_artists.dat:9: user 4, artist 53 (weights added)"
    )
    assert report.examples["malformed row"][0].endswith(":10: expected 3 tab-separated fields, found 2")


def test_items_are_artists_with_their_tags(hetrec_dir):
    result = hetrec.read(hetrec_dir)
    items = result.items.set_index("track_id")
    # every artist of artists.dat (listened or not) and every listened artist
    assert list(items.index) == ["51", "52", "53", "54", "99"]
    assert items.loc["54", "title"] == "Sigur Rós" and items.loc["54", "artist"] == "Sigur Rós"  # UTF-8
    assert items.loc["99", "title"] == "artist 99"
    assert any("missing from artists.dat" in note and "99" in note for note in result.report.notes)
    assert items["soundtrack"].isna().all()
    # tags.dat is ISO-8859-1; most-used first, ties alphabetically
    assert items.loc["52", "tags"] == "électronique; música"
    assert items.loc["51", "tags"] == "pop; soundtrack of my life"
    assert items.loc["53", "tags"] == "composer; soundtrack"
    assert items.loc["54", "tags"] == "post-rock"
    assert items["tags"].isna().tolist() == [False, False, False, False, True]
    assert any("1 tagging(s) of a tagID missing from tags.dat" in note for note in result.report.notes)


def test_the_user_artists_file_itself_and_the_timestamps_variant(tmp_path):
    folder = copy_fixture(tmp_path)
    lines = (folder / "user_taggedartists.dat").read_bytes().split(b"\r\n")
    stamped = [b"userID\tartistID\ttagID\ttimestamp"] + [
        b"\t".join(line.split(b"\t")[:3] + [b"1238536800000"]) for line in lines[1:] if line
    ]
    (folder / "user_taggedartists.dat").unlink()
    (folder / "user_taggedartists-timestamps.dat").write_bytes(b"\r\n".join(stamped) + b"\r\n")
    result = hetrec.read(folder / "user_artists.dat")
    assert result.report.rows_kept == 5
    assert result.items.set_index("track_id").loc["52", "tags"] == "électronique; música"


def test_a_utf8_tags_file_reads_right_too(tmp_path):
    folder = copy_fixture(tmp_path)
    text = (folder / "tags.dat").read_bytes().decode("latin-1")
    (folder / "tags.dat").write_bytes(text.encode("utf-8"))
    items = hetrec.read(folder).items.set_index("track_id")
    assert items.loc["52", "tags"] == "électronique; música"


def test_without_the_optional_files(hetrec_dir, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    shutil.copy(hetrec_dir / "user_artists.dat", folder)
    result = hetrec.read(folder)
    assert result.report.rows_kept == 5
    assert result.items["title"].tolist() == ["artist 51", "artist 52", "artist 99", "artist 53"]
    assert result.items["tags"].isna().all()
    assert any("no artists.dat" in note for note in result.report.notes)


def test_a_file_without_its_header_is_refused_with_the_reason(tmp_path):
    folder = copy_fixture(tmp_path)
    body = (folder / "user_artists.dat").read_bytes().split(b"\r\n", 1)[1]
    (folder / "user_artists.dat").write_bytes(body)
    with pytest.raises(
        DataError,
        match=r"user_artists\.dat:1: expected the header userID<TAB>artistID<TAB>weight.*found '2\\t51\\t4210'",
    ):
        hetrec.read(folder)
    (folder / "user_artists.dat").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        hetrec.read(folder)
    (folder / "user_artists.dat").unlink()
    with pytest.raises(DataError, match="holds no user_artists.dat"):
        hetrec.read(folder)
    with pytest.raises(DataError, match="does not exist"):
        hetrec.read(tmp_path / "nowhere")


def test_sniff_accepts_hetrec_and_rejects_the_rest(hetrec_dir, tmp_path):
    assert hetrec.sniff(hetrec_dir) and hetrec.sniff(hetrec_dir / "user_artists.dat")
    csv = tmp_path / "listens.csv"
    csv.write_text("user,track\nu,t\n")
    random_json = tmp_path / "random.json"
    random_json.write_text('{"a": 1}')
    mpd_folder = FIXTURES / "mpd" / "slices"
    for path in (
        hetrec_dir / "tags.dat",
        hetrec_dir / "artists.dat",
        csv,
        random_json,
        mpd_folder,
        mpd_folder / "full" / "playlists-full-schema.json",
        tmp_path,
    ):
        assert not hetrec.sniff(path), path
    assert not mpd.sniff(hetrec_dir) and not mpd.sniff(hetrec_dir / "user_artists.dat")


def test_detection_and_the_format_registry(hetrec_dir):
    assert detect_format(hetrec_dir) == "lastfm-hetrec"
    assert detect_format(hetrec_dir / "user_artists.dat") == "lastfm-hetrec"
    result = read_listens_source(hetrec_dir)
    assert result.report.format == "lastfm-hetrec" and len(result.items) == 5


@pytest.mark.slow
def test_the_shared_hetrec_data(lastfm_hetrec):
    result = hetrec.read(lastfm_hetrec)
    listens, items, report = result.listens, result.items, result.report
    # the data README: 1,892 users, 17,632 artists, 92,834 user-artist play counts
    assert report.rows_read == report.rows_kept == len(listens) == 92_834 and not report.set_aside
    assert listens["user_id"].nunique() == 1_892 and listens["track_id"].nunique() == 17_632
    assert len(items) == 17_632 and set(listens["track_id"]) == set(items["track_id"])
    assert listens["weight"].min() >= 1
    by_id = items.set_index("track_id")
    assert by_id.loc["51", "title"] == "Duran Duran"
    assert by_id.loc["3462", "title"] == "[unknown]"  # Last.fm's placeholder artist, kept as is
    tags = "; ".join(items["tags"].dropna())
    for accented in ("rock français", "düsseldorf", "tropicália", "español"):
        assert accented in tags
    assert "Ã" not in tags  # no mojibake
