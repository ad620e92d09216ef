"""Values past what a machine number holds, and rows past what a table holds: an integer of 500 digits as a
time, a play time, a duration or a position, a CSV field of 20 MiB. Set aside with the reason, or one clear
line — never "int too large to convert to float … a bug in gems"."""

from __future__ import annotations

import json

import pytest
from hostilekit import assert_one_clear_line

from gems.ingest import read_listens

HUGE = 10**500


def test_listenbrainz_huge_times_and_durations(tmp_path):
    meta = {"artist_name": "Composer", "track_name": "Theme", "additional_info": {"duration_ms": HUGE}}
    lines = [
        {"listened_at": HUGE, "track_metadata": meta},
        {"listened_at": -HUGE, "track_metadata": meta},
        {"listened_at": 1_700_000_000, "track_metadata": meta},
    ]
    path = tmp_path / "listens.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    listens, report = read_listens(path)
    assert len(listens) == 1 and report.set_aside == {"unparseable date": 2}


def test_spotify_huge_play_times(tmp_path):
    play = {"ts": "2023-01-01T10:00:00Z", "master_metadata_track_name": "Theme"}
    play["master_metadata_album_artist_name"] = "Composer"
    plays = [
        play | {"ms_played": HUGE},
        play | {"ms_played": -HUGE},
        play | {"ms_played": 60_000, "ts": "2023-01-02T10:00:00Z"},
    ]
    path = tmp_path / "endsong_0.json"
    path.write_text(json.dumps(plays))
    listens, report = read_listens(path)
    assert len(listens) == 1 and report.set_aside == {"implausible play time": 1, "zero duration": 1}
    account = tmp_path / "StreamingHistory0.json"
    account.write_text(
        json.dumps([{"endTime": "2023-01-01 10:00", "artistName": "A", "trackName": "T", "msPlayed": HUGE}])
    )
    listens, report = read_listens(account)
    assert report.set_aside == {"implausible play time": 1}


def test_mpd_huge_positions_and_durations(tmp_path):
    track = {"track_uri": "spotify:track:a", "track_name": "Theme", "artist_name": "Composer", "duration_ms": HUGE}
    other = {"track_uri": "spotify:track:b", "track_name": "Reprise", "artist_name": "Composer", "pos": HUGE}
    path = tmp_path / "mpd.slice.0-999.json"
    path.write_text(
        json.dumps({"info": {}, "playlists": [{"pid": 1, "name": "x", "tracks": [track | {"pos": 0}, other]}]})
    )
    listens, report = read_listens(path)
    assert list(listens["position"]) == [0, 1] and report.rows_kept == 2


def test_a_csv_field_longer_than_a_block_is_one_clear_line(tmp_path, gems_cli):
    path = tmp_path / "listens.csv"
    path.write_text("user,track\nu,t\nu," + "x" * (20 << 20) + "\nu,s\n")
    line = assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"), str(path))
    assert "a row longer than 8 MiB" in line


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_quote_that_never_closes(tmp_path, gems_cli, quote):
    path = tmp_path / "alice.csv"
    path.write_text(
        f'"Composer","OST","Theme","31 Jan 2021 14:03"\n{quote}Composer,"OST","Reprise","31 Jan 2021 14:09"\n'
    )
    code, out, err = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert "Traceback" not in err and "bug in gems" not in err
    assert code == 0 or len(err.strip().splitlines()) == 1
