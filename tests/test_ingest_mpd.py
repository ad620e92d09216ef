"""The Million Playlist Dataset reader: both schemas, the challenge set, messy playlists, errors, sniffing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gems.errors import DataError
from gems.ingest import lastfm_hetrec, mpd
from gems.ingest.formats import detect_format, read_listens_source

FIXTURES = Path(__file__).parent / "fixtures"
SLICES = FIXTURES / "mpd" / "slices"
FULL = SLICES / "full" / "playlists-full-schema.json"
REDUCED = SLICES / "reduced" / "playlists-reduced-schema.json"
CHALLENGE = FIXTURES / "mpd" / "challenge" / "challenge_set.json"
BAD = FIXTURES / "mpd" / "bad"

TIME = "spotify:track:6ZFbXIJkuI1dVNWvzJzown"  # Hans Zimmer, in playlists 0 and 1
HEDWIG = "spotify:track:1n8NKQRg8LVHy7oUhUgbFF"  # John Williams, in playlists 0 and 2
YORU = "spotify:track:3dPtXHP0oXQ4HCWHsOA9js"  # listed twice in playlist 1000
SUMMER = "spotify:track:0xVG2cTJzVyRkCYWTnzUxj"  # Joe Hisaishi, in playlists 1000 and 1001


def write_json(path: Path, data, **kwargs) -> Path:
    path.write_text(json.dumps(data, **kwargs), encoding="utf-8")
    return path


def test_full_schema_slice():
    result = mpd.read(FULL)
    listens, items, report = result.listens, result.items, result.report
    assert list(listens.columns) == ["user_id", "track_id", "weight", "timestamp", "position"]
    assert listens["user_id"].tolist() == ["0", "0", "0", "1", "1", "2", "2"]
    assert listens["position"].tolist() == [0, 1, 2, 0, 1, 0, 1]
    assert listens["weight"].tolist() == [1.0] * 7 and str(listens["weight"].dtype) == "float32"
    assert listens["timestamp"].isna().all() and str(listens["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert report.format == "mpd" and report.rows_read == 7 and report.rows_kept == 7 and not report.set_aside
    # playlist 1 says num_tracks 5 but lists 2: the list is trusted, and the disagreement noted
    assert any("pid=1: says 5, lists 2" in note for note in report.notes)

    assert items["track_id"].is_unique and set(listens["track_id"]) <= set(items["track_id"])
    time_row = items.set_index("track_id").loc[TIME]
    assert time_row["title"] == "Time" and time_row["artist"] == "Hans Zimmer"
    assert time_row["soundtrack"] == "Inception (Music from the Motion Picture)"
    assert time_row["duration_s"] == 275.0
    assert time_row["artist_uri"] == "spotify:artist:0YC192cP3KPCRWx8zr8MfZ"
    # lower-cased playlist names, most common first, ties alphabetically; the emoji survives the \ud83c escape
    assert time_row["context"] == "movie soundtracks; movie soundtracks \U0001f3ac"
    assert items.set_index("track_id").loc[HEDWIG, "context"] == "disney; movie soundtracks \U0001f3ac"


def test_reduced_schema_compact_with_bom_repeats_and_a_track_without_uri():
    result = mpd.read(REDUCED)
    listens, items, report = result.listens, result.items, result.report
    assert listens["user_id"].tolist() == ["1000", "1000", "1001", "1001", "1002"]
    assert listens["track_id"].tolist()[:2] == [YORU, SUMMER]
    # the repeated track is one listen of weight 2 at its first position; the repeat is set aside
    assert listens["weight"].tolist() == [2.0, 1.0, 1.0, 1.0, 1.0]
    assert listens["position"].tolist() == [0, 1, 0, 1, 0]  # no "pos": the index in the list
    assert report.rows_read == 7 and report.rows_kept == 5
    assert report.set_aside == {"repeated track in playlist": 1, "track without uri": 1}
    assert report.examples["repeated track in playlist"][0].endswith(
        f"playlist pid=1000 track #2: {YORU} (first at #0)"
    )
    assert "playlist pid=1000 track #3: 'a track without uri'" in report.examples["track without uri"][0]
    assert report.rows_read == report.rows_kept + report.rows_set_aside

    by_id = items.set_index("track_id")
    assert by_id.loc[YORU, "title"] == "夜に駆ける" and by_id.loc[YORU, "context"] == "カラオケ 🎤"
    assert by_id.loc[SUMMER, "context"] == "kdrama ost; カラオケ 🎤"
    assert items["soundtrack"].isna().all() and items["duration_s"].isna().all()
    assert "artist_uri" not in items  # the reduced schema has none


def test_a_folder_reads_every_slice_in_order():
    result = mpd.read(SLICES)
    assert result.report.rows_read == 14 and result.report.rows_kept == 12
    assert result.listens["user_id"].unique().tolist() == ["0", "1", "2", "1000", "1001", "1002"]
    assert len(result.items) == 9
    assert result.items.set_index("track_id").loc[TIME, "soundtrack"].startswith("Inception")


def test_challenge_set_playlists_without_names_and_sampled_positions():
    result = mpd.read(CHALLENGE)
    assert result.listens["user_id"].tolist() == ["1000000", "1000000", "1000001"]
    assert result.listens["position"].tolist() == [0, 2, 0]  # "pos" as given, gaps and all
    assert result.report.rows_kept == 3
    # num_samples (not num_tracks) is what the challenge set lists: no disagreement to note
    assert not any("num_tracks" in note for note in result.report.notes)
    assert any("1 playlist(s) have no tracks" in note for note in result.report.notes)
    items = result.items.set_index("track_id")
    megalovania = "spotify:track:6wVWJl64yoTzU27EI8ep20"
    assert items.loc[megalovania, "title"] == "Megalovania" and pd.isna(items.loc[megalovania, "context"])
    assert items.drop(megalovania)["context"].tolist() == ["pokemon", "pokemon"]


def test_a_folder_with_a_challenge_set_and_unrelated_json(tmp_path):
    (tmp_path / "challenge_set.json").write_bytes(CHALLENGE.read_bytes())
    write_json(tmp_path / "notes.json", {"who": "me"})
    write_json(tmp_path / "my_playlists.json", {"info": {}, "playlists": [{"pid": 7, "name": "x", "tracks": []}]})
    assert mpd.sniff(tmp_path)
    result = mpd.read(tmp_path)
    assert result.report.rows_kept == 3
    assert any("skipped 1 JSON file" in note and "notes.json" in note for note in result.report.notes)


def test_truncated_json_names_file_line_and_column():
    with pytest.raises(DataError, match=r"truncated-playlists\.json:55:22: invalid JSON"):
        mpd.read(BAD / "truncated-playlists.json")


def test_json_of_another_shape_says_what_was_expected(tmp_path):
    with pytest.raises(
        DataError, match=r'not_mpd\.json: expected an object with a "playlists" list.*found an object with keys foo'
    ):
        mpd.read(BAD / "not_mpd.json")
    with pytest.raises(DataError, match=r'found "playlists" as an object'):
        mpd.read(write_json(tmp_path / "a.json", {"info": {}, "playlists": {"0": []}}))
    with pytest.raises(DataError, match=r"found an array"):
        mpd.read(write_json(tmp_path / "b.json", [{"pid": 1}]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no Million Playlist Dataset files"):
        mpd.read(tmp_path / "empty")


def test_playlist_errors_name_the_playlist_and_its_line(tmp_path):
    text = '{"info": {},\n "playlists": [\n  {"pid": 3, "name": "a", "tracks": []},\n  {"pid": 4, "name": "b", "tracks": {"0": 1}}\n ]}\n'
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(
        DataError, match=r"p\.json:4: playlist #2 \(pid=4\) has an object with keys 0 as \"tracks\"; expected a list"
    ):
        mpd.read(path)
    write_json(path, {"info": {}, "playlists": [{"pid": 5, "name": "no tracks key"}]})
    with pytest.raises(DataError, match=r'playlist #1 \(pid=5\) has no "tracks"'):
        mpd.read(path)
    write_json(path, {"info": {}, "playlists": ["not a playlist"]})
    with pytest.raises(DataError, match=r"playlist #1 is a string; expected an object with pid and tracks"):
        mpd.read(path)


def test_messy_rows_are_set_aside_with_their_place(tmp_path):
    track = {"artist_name": "A", "track_name": "T", "track_uri": "spotify:track:x"}
    data = {
        "info": {},
        "playlists": [
            {"name": "no pid", "tracks": [track, track]},
            {"pid": True, "name": "bool pid", "tracks": [track]},
            {
                "pid": "9",
                "name": "Text pid",
                "collaborative": "true",
                "tracks": [
                    track,
                    "not an object",
                    {"artist_name": "B", "track_name": "U", "track_uri": 12345},
                    {"artist_name": "C", "track_name": "V", "track_uri": "  "},
                    {"artist_name": "D", "track_name": "W", "track_uri": " spotify:track:y ", "pos": "7"},
                ],
            },
        ],
    }
    result = mpd.read(write_json(tmp_path / "m.json", data, indent=2))
    report = result.report
    assert report.rows_read == 8 and report.rows_kept == 2
    assert report.set_aside == {
        "playlist without pid": 3,
        "track is not a JSON object": 1,
        "track uri is not text": 1,
        "track without uri": 1,
    }
    assert "playlist #1: pid is null" in report.examples["playlist without pid"][0]
    assert "playlist pid=9 track #2: track_uri is a number" in report.examples["track uri is not text"][0]
    assert result.listens["track_id"].tolist() == ["spotify:track:x", "spotify:track:y"]
    assert result.listens["position"].tolist() == [0, 4]  # a "pos" that is not a number: the index
    assert result.items["context"].tolist() == ["text pid", "text pid"]


def test_playlists_sharing_a_pid_are_one_user(tmp_path):
    track = {"artist_name": "A", "track_name": "T", "track_uri": "spotify:track:x"}
    other = {"artist_name": "B", "track_name": "U", "track_uri": "spotify:track:y"}
    write_json(tmp_path / "mpd.slice.0-0.json", {"info": {}, "playlists": [{"pid": 5, "name": "a", "tracks": [track]}]})
    write_json(
        tmp_path / "mpd.slice.1-1.json", {"info": {}, "playlists": [{"pid": 5, "name": "b", "tracks": [track, other]}]}
    )
    result = mpd.read(tmp_path)
    assert result.listens["track_id"].tolist() == ["spotify:track:x", "spotify:track:y"]
    assert result.listens["weight"].tolist() == [2.0, 1.0]
    assert result.report.rows_read == 3 and result.report.rows_kept == 2
    assert result.report.set_aside == {"repeated track in playlist": 1}
    assert any("1 pid(s) name more than one playlist (e.g. pid=5)" in note for note in result.report.notes)


def test_an_empty_slice_reads_as_no_listens(tmp_path):
    result = mpd.read(write_json(tmp_path / "mpd.slice.0-0.json", {"info": {}, "playlists": []}))
    assert result.listens.empty and result.items.empty and result.report.rows_read == 0


def test_sniff_accepts_mpd_and_rejects_the_rest(hetrec_dir, tmp_path):
    for path in (FULL, REDUCED, CHALLENGE, SLICES, SLICES / "full", CHALLENGE.parent, BAD / "truncated-playlists.json"):
        assert mpd.sniff(path), path
    csv = tmp_path / "listens.csv"
    csv.write_text("user,track\nu,t\n")
    random_json = write_json(tmp_path / "random.json", {"playlists_count": 3, "items": [1, 2]})
    history = write_json(tmp_path / "StreamingHistory0.json", [{"endTime": "2024-01-01 10:00", "trackName": "x"}])
    for path in (
        hetrec_dir,
        hetrec_dir / "user_artists.dat",
        csv,
        random_json,
        history,
        BAD / "not_mpd.json",
        tmp_path / "missing.json",
    ):
        assert not mpd.sniff(path), path
    assert not lastfm_hetrec.sniff(FULL) and not lastfm_hetrec.sniff(SLICES)


def test_detection_and_the_format_registry():
    assert detect_format(SLICES) == "mpd" and detect_format(FULL) == "mpd"
    result = read_listens_source(REDUCED)
    assert result.report.format == "mpd" and result.report.rows_kept == 5
    full = read_listens_source(FULL, format="mpd")
    assert len(full.items) == 5 and full.items["track_id"].str.startswith("spotify:track:").all()


@pytest.mark.slow
def test_the_shared_mpd_sample(mpd_sample):
    result = mpd.read(mpd_sample)
    listens, report = result.listens, result.report
    # the data README: 930 files, 4,292 playlists, 417,651 playlist-track rows; 6,513 rows repeat a track
    # already in their playlist (the only rows set aside)
    assert report.rows_read == 417_651
    assert report.set_aside == {"repeated track in playlist": 6_513}
    assert report.rows_kept == len(listens) == 411_138
    assert listens["user_id"].nunique() == 4_292
    assert float(listens["weight"].sum()) == 417_651.0
    assert not listens.duplicated(["user_id", "track_id"]).any()
    assert set(listens["track_id"]) <= set(result.items["track_id"])
    assert result.items["context"].notna().all()
    assert pd.api.types.is_integer_dtype(listens["position"])
