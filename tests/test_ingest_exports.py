"""Personal exports: Last.fm scrobbles, ListenBrainz, Spotify extended history and Spotify account data.

The fixtures under ``fixtures/exports`` are small hand-written files in each real format, messy on purpose
(podcasts, audiobooks, videos, placeholders, repeats, BOMs, CRLF, escapes, CJK/Cyrillic/emoji); zips are built
here from them the way the services ship them.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gems.errors import DataError, GemsError
from gems.ingest import ingest_sources, listenbrainz, scrobbles, spotify_account, spotify_history
from gems.ingest.common import owner_from_name, text_track_id
from gems.ingest.formats import detect_format, read_listens_source
from gems.ingest.timestamps import classify_timestamps

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
READERS = {
    "lastfm-scrobbles": scrobbles,
    "listenbrainz": listenbrainz,
    "spotify-history": spotify_history,
    "spotify-account": spotify_account,
}
DAVE = EXPORTS / "listenbrainz" / "listenbrainz_dave_1741100000"


def zip_folder(folder: Path, archive: Path, *, prefix: str = "", extra: dict[str, bytes] | None = None) -> Path:
    """Zip every file under ``folder`` as ``prefix/relative/path`` (how the services ship their exports)."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, arcname=f"{prefix}{path.relative_to(folder).as_posix()}")
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return archive


def read(path: Path, format: str):
    result = read_listens_source(path, format=format)
    report = result.report
    assert report.rows_read == report.rows_kept + report.rows_set_aside, report.summary_lines()
    assert len(result.listens) == report.rows_kept
    assert set(result.listens["track_id"]) <= set(result.items["track_id"])
    assert result.items["track_id"].is_unique and result.items["title"].notna().all()
    return result


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ------------------------------------------------------------------------------------------------ detection


@pytest.fixture
def zips(tmp_path) -> dict[str, Path]:
    """The three zips as the services send them (each in its own folder, as downloads are)."""
    for folder in ("extended", "account"):
        (tmp_path / folder).mkdir()
    history = zip_folder(
        EXPORTS / "spotify_history",
        tmp_path / "extended" / "my_spotify_data.zip",
        prefix="Spotify Extended Streaming History/",
        extra={"Spotify Extended Streaming History/ReadMeFirst_ExtendedStreamingHistory.pdf": b"%PDF-1.4 not really"},
    )
    account = zip_folder(
        EXPORTS / "spotify_account" / "MyData", tmp_path / "account" / "my_spotify_data.zip", prefix="MyData/"
    )
    brainz = zip_folder(DAVE, tmp_path / "listenbrainz_dave_1741100000.zip")
    return {"spotify-history": history, "spotify-account": account, "listenbrainz": brainz}


CASES = [
    ("scrobbles/alice.csv", "lastfm-scrobbles"),
    ("scrobbles/scrobbles-bob-1741100000.csv", "lastfm-scrobbles"),
    ("scrobbles/carol.tsv", "lastfm-scrobbles"),
    ("scrobbles", "lastfm-scrobbles"),
    ("listenbrainz/listenbrainz_dave_1741100000", "listenbrainz"),
    ("listenbrainz/listenbrainz_dave_1741100000/listens/2025/1.jsonl", "listenbrainz"),
    ("listenbrainz/erin-listens.jsonl", "listenbrainz"),
    ("listenbrainz/listenbrainz_frank_1600000000.json", "listenbrainz"),
    ("listenbrainz", "listenbrainz"),
    ("spotify_history/endsong_0.json", "spotify-history"),
    ("spotify_history/Streaming_History_Audio_2022-2025_0.json", "spotify-history"),
    ("spotify_history/Streaming_History_Video_2022-2025.json", "spotify-history"),
    ("spotify_history", "spotify-history"),
    ("spotify_account/MyData/StreamingHistory0.json", "spotify-account"),
    ("spotify_account/Spotify Account Data/StreamingHistory_podcast_0.json", "spotify-account"),
    ("spotify_account/MyData", "spotify-account"),
    ("spotify_account", "spotify-account"),
]


@pytest.mark.parametrize("relative, expected", CASES)
def test_each_fixture_is_detected_as_its_format_and_only_that(relative, expected):
    path = EXPORTS / relative
    assert detect_format(path) == expected
    assert {name for name, module in READERS.items() if module.sniff(path)} == {expected}


def test_the_zips_the_services_send_are_detected(zips):
    for expected, path in zips.items():
        assert detect_format(path) == expected
        assert {name for name, module in READERS.items() if module.sniff(path)} == {expected}


def test_renamed_files_are_recognised_by_their_first_record(tmp_path):
    copies = {
        "spotify-history": "spotify_history/Streaming_History_Audio_2022-2025_0.json",
        "spotify-account": "spotify_account/MyData/StreamingHistory0.json",
        "listenbrainz": "listenbrainz/listenbrainz_frank_1600000000.json",
    }
    for expected, relative in copies.items():
        path = write(tmp_path / f"{expected}-renamed.json", (EXPORTS / relative).read_bytes())
        assert detect_format(path) == expected


@pytest.mark.parametrize(
    "header",
    ["user_id,track_id,plays", "user,track,plays,date", "user_id,artist,track,timestamp", "item,score"],
)
def test_generic_tables_are_not_scrobbles(tmp_path, header):
    path = write(tmp_path / "listens.csv", f"{header}\nu1,t1,3,2025-01-02T10:00:00Z\nu2,t2,1,1735812000\n")
    assert not scrobbles.sniff(path)
    assert detect_format(path) == "table"


# ------------------------------------------------------------------------------------------------ scrobbles


def test_scrobbles_without_header_newest_first_crlf_quoted(tmp_path):
    result = read(EXPORTS / "scrobbles" / "alice.csv", "lastfm-scrobbles")
    listens, report = result.listens, result.report
    assert report.rows_read == 17 and report.rows_kept == 11
    assert report.set_aside == {
        "now playing (no date)": 1,
        "duplicate scrobble": 1,
        "unknown track": 2,
        "placeholder date": 1,
        "unparseable date": 1,
    }
    assert report.examples["now playing (no date)"][0].endswith("alice.csv:1: no date")
    assert report.examples["duplicate scrobble"][0].split(": ")[0].endswith("alice.csv:3")
    assert [e.split(": ")[0][-6:] for e in report.examples["unknown track"]] == ["csv:10", "csv:13"]
    assert "alice.csv:14" in report.examples["placeholder date"][0]
    assert "'yesterday, 20:15'" in report.examples["unparseable date"][0]
    assert set(listens["user_id"]) == {"alice"}
    assert listens["timestamp"].is_monotonic_increasing  # sorted, though the file is newest first
    angel = listens[listens["track_id"] == text_track_id("Nobuo Uematsu", "One-Winged Angel")]
    assert len(angel) == 3  # "  nobuo uematsu " / "one-winged  ANGEL" is the same song
    assert angel["timestamp"].tolist() == [
        pd.Timestamp("2025-03-01 08:00", tz="UTC"),
        pd.Timestamp("2025-03-03 20:02", tz="UTC"),
        pd.Timestamp("2025-03-03 21:14", tz="UTC"),
    ]
    gladiator = listens[listens["title"] == "Now We Are Free"].iloc[0]
    assert gladiator["artist"] == "Hans Zimmer, Lisa Gerrard"  # a comma inside a quoted field
    assert {"菅野よう子", "Эдуард Артемьев", "Ludwig Göransson"} <= set(listens["artist"])
    items = result.items.set_index("track_id")
    assert (
        items.loc[text_track_id("nobuo uematsu", "one-winged angel"), "title"] == "One-Winged Angel"
    )  # the usual spelling
    assert items.loc[text_track_id("Эдуард Артемьев", "Поле"), "soundtrack"] == "Солярис"


def test_scrobbles_with_uts_header_bom_and_a_short_row():
    result = read(EXPORTS / "scrobbles" / "scrobbles-bob-1741100000.csv", "lastfm-scrobbles")
    listens, report = result.listens, result.report
    assert report.rows_read == 9 and report.rows_kept == 4
    assert report.set_aside == {
        "malformed row": 1,
        "now playing (no date)": 1,
        "placeholder date": 1,
        "duplicate scrobble": 1,
        "unknown track": 1,
    }
    assert report.examples["malformed row"][0].endswith("bob-1741100000.csv:9: expected 8 fields, found 3")
    assert "'Unknown Artist'" in report.examples["unknown track"][0]
    assert set(listens["user_id"]) == {"bob"}  # scrobbles-bob-<timestamp>.csv
    by_title = listens.set_index("title")["timestamp"]
    assert by_title["Cornfield Chase"] == pd.Timestamp("2025-03-02 21:40", tz="UTC")  # from uts
    assert by_title["One Summer's Day"] == pd.Timestamp("2025-03-02 10:00", tz="UTC")  # uts empty: utc_time
    items = result.items.set_index("title")
    assert items.loc["Cornfield Chase", "recording_mbid"] == "0b0a2c1e-2222-4f5b-8e7a-1c2d3e4f5a6b"


def test_scrobbles_tsv_with_iso_dates_and_no_final_newline():
    result = read(EXPORTS / "scrobbles" / "carol.tsv", "lastfm-scrobbles")
    assert result.report.rows_kept == 4 and not result.report.set_aside
    listens = result.listens
    assert listens["track_id"].value_counts()[text_track_id("Lena Raine", "Resurrections")] == 2
    assert listens["timestamp"].tolist()[0] == pd.Timestamp("2025-01-05 12:00", tz="UTC")
    assert listens["timestamp"].tolist()[2] == pd.Timestamp("2025-01-05 12:09", tz="UTC")  # epoch 1736078940


def test_a_folder_of_scrobbles_reads_every_file_with_its_owner(tmp_path):
    result = read(EXPORTS / "scrobbles", "lastfm-scrobbles")
    assert result.listens.groupby("user_id").size().to_dict() == {"alice": 11, "bob": 4, "carol": 4}
    assert result.report.rows_read == 17 + 9 + 4
    # another table in the folder is not read, and the report says so
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "alice.csv", (EXPORTS / "scrobbles" / "alice.csv").read_bytes())
    write(folder / "notes.csv", "user_id,track_id,plays\nu,t,1\n")
    result = read(folder, "lastfm-scrobbles")
    assert result.report.rows_kept == 11 and "notes.csv" in result.report.notes[0]


def test_headerless_scrobbles_whose_first_row_looks_like_header_words(tmp_path):
    path = write(
        tmp_path / "dana.csv",
        '"Hans Zimmer","Time","Time","21 Nov 2024 11:54"\n"Artist","Album","Track","21 Nov 2024 11:50"\n',
    )
    assert detect_format(path) == "lastfm-scrobbles"
    assert read(path, "lastfm-scrobbles").listens["title"].tolist() == ["Track", "Time"]


def test_headerless_scrobbles_with_bom_unquoted_and_a_now_playing_first_row(tmp_path):
    text = "\ufeffC418,Minecraft - Volume Alpha,Sweden,\nC418,Minecraft - Volume Alpha,Sweden,05 Jan 2025 12:09\n"
    path = write(tmp_path / "scrobbles.csv", text)
    assert detect_format(path) == "lastfm-scrobbles"
    result = read(path, "lastfm-scrobbles")
    assert result.listens["artist"].tolist() == ["C418"]  # no byte-order mark glued to the name
    assert result.listens["user_id"].tolist() == ["me"]  # the name holds no user
    assert any("'me'" in note for note in result.report.notes)


# ------------------------------------------------------------------------------------------------ ListenBrainz


def test_listenbrainz_export_folder():
    result = read(DAVE, "listenbrainz")
    listens, report = result.listens, result.report
    assert report.rows_read == 9 and report.rows_kept == 5
    assert report.set_aside == {
        "placeholder date": 1,
        "duplicate listen": 1,
        "unknown track": 1,
        "unparseable date": 1,
    }
    assert report.examples["placeholder date"][0].split(": ")[0].endswith("listens/2024/12.jsonl:2")
    assert report.examples["unknown track"][0].split(": ")[0].endswith("listens/2025/1.jsonl:3")
    assert set(listens["user_id"]) == {"dave"}  # from user.json
    # names missing from track_metadata come from the MusicBrainz mapping
    assert ("Jeremy Soule", "Dragonborn") in set(zip(listens["artist"], listens["title"]))
    assert listens["timestamp"].iloc[0] == pd.Timestamp(1735600000, unit="s", tz="UTC")


def test_listenbrainz_ids_are_text_ids_so_mapped_and_unmapped_listens_are_one_song():
    result = read(DAVE, "listenbrainz")
    song = text_track_id("Gustavo Santaolalla", "The Last of Us")
    # one listen carries a recording MBID, the other ("gustavo  santaolalla", "THE LAST OF US ") none
    assert (result.listens["track_id"] == song).sum() == 2
    item = result.items.set_index("track_id").loc[song]
    assert item["recording_mbid"] == "1f9a5e8b-3c2d-4b6a-9e1f-2a3b4c5d6e7f"
    assert item["duration_s"] == 176.0
    assert item["title"] == "The Last of Us"  # the spelling heard first wins a tie
    otani = result.items.set_index("title").loc["The Opened Way (Shadow of the Colossus)"]
    assert otani["duration_s"] == 236.0  # additional_info.duration is in seconds


def test_listenbrainz_zip_with_and_without_user_json(tmp_path, zips):
    result = read(zips["listenbrainz"], "listenbrainz")
    assert result.report.rows_kept == 5 and set(result.listens["user_id"]) == {"dave"}
    assert "listenbrainz_dave_1741100000.zip:listens/2024/12.jsonl:2" in result.report.examples["placeholder date"][0]
    listens_only = tmp_path / "listens-only"
    (listens_only / "listens").mkdir(parents=True)
    for month in (DAVE / "listens").rglob("*.jsonl"):
        target = listens_only / "listens" / month.relative_to(DAVE / "listens")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(month.read_bytes())
    named = zip_folder(listens_only, tmp_path / "listenbrainz_dave_1741100000.zip")
    assert set(read(named, "listenbrainz").listens["user_id"]) == {"dave"}  # from the zip's name
    anonymous = zip_folder(listens_only, tmp_path / "export.zip")
    assert set(read(anonymous, "listenbrainz").listens["user_id"]) == {"me"}


def test_listenbrainz_json_lines_with_junk_and_a_truncated_last_line():
    result = read(EXPORTS / "listenbrainz" / "erin-listens.jsonl", "listenbrainz")
    report = result.report
    assert report.rows_read == 5 and report.rows_kept == 2
    assert report.set_aside == {"not a listen": 2, "invalid JSON line": 1}
    assert report.examples["not a listen"][0].endswith("erin-listens.jsonl:2: a number")
    assert "erin-listens.jsonl:5:" in report.examples["invalid JSON line"][0]
    assert set(result.listens["user_id"]) == {"erin"}  # user_name of each listen
    assert result.listens["timestamp"].iloc[1] == pd.Timestamp(1700000400, unit="s", tz="UTC")  # epoch as text


def test_listenbrainz_older_json_array_with_unicode_escapes():
    result = read(EXPORTS / "listenbrainz" / "listenbrainz_frank_1600000000.json", "listenbrainz")
    report = result.report
    assert report.rows_read == 4 and report.rows_kept == 2
    assert report.set_aside == {"unknown track": 1, "missing date": 1}
    assert "record 3" in report.examples["unknown track"][0] and "record 4" in report.examples["missing date"][0]
    assert result.listens["artist"].tolist() == ["Эдуард Артемьев", "Joe Hisaishi"]


def test_a_folder_mixing_listenbrainz_exports_keeps_each_user():
    result = read(EXPORTS / "listenbrainz", "listenbrainz")
    assert result.listens.groupby("user_id").size().to_dict() == {"dave": 5, "erin": 2, "frank": 2}
    assert result.report.rows_read == 9 + 5 + 4  # feedback.jsonl and user.json are not listens


# ------------------------------------------------------------------------------------------------ Spotify


def test_spotify_extended_history_folder():
    result = read(EXPORTS / "spotify_history", "spotify-history")
    listens, report = result.listens, result.report
    assert report.rows_read == 8 + 9 + 2 and report.rows_kept == 6
    assert report.set_aside == {
        "video": 2,
        "podcast": 2,
        "audiobook": 1,
        "unknown track": 2,
        "private session": 1,
        "zero duration": 1,
        "too short": 2,
        "placeholder date": 1,
        "duplicate listen": 1,  # the same 2022 play in the older and the newer export
    }
    assert "Video_2022-2025.json record 1" in report.examples["video"][0]
    assert "Audio_2022-2025_0.json record 2: audiobook 'Dune'" in report.examples["audiobook"][0]
    assert [e.split(": ")[1] for e in report.examples["too short"]] == ["29.999 s < 30 s", "12 s < 30 s"]
    # the newer files carry no username: they take the one the older file of the same export carries
    assert set(listens["user_id"]) == {"spotifan"}
    assert listens["track_id"].str.startswith("spotify:track:").sum() == 5
    local = listens[~listens["track_id"].str.startswith("spotify:track:")].iloc[0]
    assert local["track_id"] == text_track_id("Me & The Band 🎸", "Main Theme (demo)")
    assert local["title"] == "Main Theme (demo)"  # stray space trimmed
    # a listen starts ms_played before ts (the end of the play)
    time = listens[listens["title"] == "Time"].iloc[0]
    assert time["timestamp"] == pd.Timestamp("2021-03-17T19:51:15Z") - pd.Timedelta(milliseconds=275000)
    assert "  Эдуард Артемьев " not in set(listens["artist"]) and "Эдуард Артемьев" in set(listens["artist"])


def test_spotify_extended_history_zip(zips):
    result = read(zips["spotify-history"], "spotify-history")
    assert result.report.rows_kept == 6 and result.report.rows_read == 19  # the PDF is not read
    assert (
        "my_spotify_data.zip:Spotify Extended Streaming History/endsong_0.json record"
        in (result.report.examples["zero duration"][0])
    )


def test_spotify_minimum_play_time_is_thirty_seconds(tmp_path):
    assert spotify_history.MIN_PLAY_MS == spotify_account.MIN_PLAY_MS == 30_000
    record = '{{"ts":"2024-01-01T10:0{0}:00Z","ms_played":{1},"master_metadata_track_name":"T","master_metadata_album_artist_name":"A","spotify_track_uri":"spotify:track:x{0}"}}'
    path = write(
        tmp_path / "Streaming_History_Audio_2024.json",
        "[" + ",".join(record.format(i, ms) for i, ms in enumerate([29_999, 30_000, "31000"])) + "]",
    )
    result = read(path, "spotify-history")
    assert result.listens["track_id"].tolist() == ["spotify:track:x1", "spotify:track:x2"]
    assert result.report.set_aside == {"too short": 1}


def test_spotify_account_data_folder():
    result = read(EXPORTS / "spotify_account", "spotify-account")
    listens, report = result.listens, result.report
    assert report.rows_read == 7 + 1 + 4 + 1 and report.rows_kept == 6
    assert report.set_aside == {
        "unknown track": 2,
        "zero duration": 1,
        "too short": 1,
        "duplicate listen": 1,
        "podcast": 1,
        "unparseable date": 1,
    }
    assert "'Unknown Artist'" in report.examples["unknown track"][0]
    assert report.examples["zero duration"][0].endswith("StreamingHistory0.json record 4: msPlayed=0")
    # MyData has Userdata.json; "Spotify Account Data" has none and its names say nothing: "me"
    assert listens.groupby("user_id").size().to_dict() == {"me": 2, "spotifan": 4}
    time = listens[listens["track_id"] == text_track_id("Hans Zimmer", "Time")]
    assert len(time) == 2  # "Time" by "Hans Zimmer" and "TIME" by "hans  zimmer "
    assert time["timestamp"].iloc[0] == pd.Timestamp("2022-01-03 21:14", tz="UTC") - pd.Timedelta(seconds=275)
    assert "梶浦由記" in set(listens["artist"])  # the file with a byte-order mark


def test_spotify_account_zip_and_a_single_file_take_the_username_beside_them(zips):
    result = read(zips["spotify-account"], "spotify-account")
    assert result.report.rows_kept == 4 and set(result.listens["user_id"]) == {"spotifan"}
    single = read(EXPORTS / "spotify_account" / "MyData" / "StreamingHistory0.json", "spotify-account")
    assert set(single.listens["user_id"]) == {"spotifan"}


def test_a_folder_with_both_spotify_exports_gives_each_reader_its_own_files(tmp_path):
    for folder in ("spotify_history", "spotify_account/MyData"):
        for path in (EXPORTS / folder).iterdir():
            write(tmp_path / path.name, path.read_bytes())
    assert detect_format(tmp_path) == "spotify-history"  # the richer export wins the folder
    assert read(tmp_path, "spotify-history").report.rows_read == 19
    account = read(tmp_path, "spotify-account")
    assert account.report.rows_read == 8 and set(account.listens["user_id"]) == {"spotifan"}


def test_the_same_song_from_different_exports_is_one_item():
    ids = {
        read(EXPORTS / "scrobbles", "lastfm-scrobbles")
        .listens.query('title == "One Summer\'s Day"')["track_id"]
        .iloc[0],
        read(EXPORTS / "listenbrainz", "listenbrainz").listens.query("artist == 'Joe Hisaishi'")["track_id"].iloc[0],
    }
    assert len(ids) == 1  # "One Summer's Day" and "One Summer’s Day"
    assert text_track_id(" hans  ZIMMER", "Time ") == text_track_id("Hans Zimmer", "time")


def test_ingest_builds_a_catalogue_from_a_spotify_zip(zips):
    ingested = ingest_sources(listens=zips["spotify-history"])
    tracks = ingested.tracks.set_index("track_id")
    assert len(tracks) == 6 and set(ingested.listens["track_id"]) == set(tracks.index)
    assert (
        tracks.loc["spotify:track:3aK9uXwQb2fT7mZp1LcR0e", "soundtrack"] == "Inception (Music from the Motion Picture)"
    )


# ------------------------------------------------------------------------------------------------ broken files


@pytest.mark.parametrize(
    "format, name, text, message",
    [
        ("lastfm-scrobbles", "s.csv", "foo,bar\n1,2\n", r"s\.csv:1: not a Last\.fm scrobbles export"),
        ("listenbrainz", "l.jsonl", '{"listened_at": 1,\n{{{\n', r"l\.jsonl:1: invalid JSON .*expected ListenBrainz"),
        (
            "listenbrainz",
            "l.json",
            '[{"listened_at": 1, "track_metadata": {}},\n {"listened',
            r"l\.json:2:\d+: invalid JSON",
        ),
        (
            "listenbrainz",
            "l.jsonl",
            '{"score": 1}\n{"score": 2}\n',
            r"l\.jsonl:1: expected ListenBrainz listens .*keys score",
        ),
        (
            "spotify-history",
            "endsong_0.json",
            '[\n  {"ts": "2024-01-01T00:00:00Z",\n  "ms_played": ',
            r"endsong_0\.json:3:\d+: invalid JSON",
        ),
        (
            "spotify-history",
            "endsong_0.json",
            '{"ts": "x", "ms_played": 1}',
            r"endsong_0\.json: expected Spotify extended .*found an object with keys ts",
        ),
        (
            "spotify-history",
            "endsong_0.json",
            '[{"endTime": "2024-01-01 10:00", "msPlayed": 1}]',
            r"endsong_0\.json record 1: expected Spotify extended",
        ),
        (
            "spotify-account",
            "StreamingHistory0.json",
            '[{"endTime": "2024-01-01 10:00"',
            r"StreamingHistory0\.json:1:\d+: invalid JSON",
        ),
        (
            "spotify-account",
            "StreamingHistory0.json",
            "[1, 2, 3]",
            r"StreamingHistory0\.json record 1: expected Spotify account .*found a number",
        ),
    ],
)
def test_a_malformed_file_names_the_place(tmp_path, format, name, text, message):
    with pytest.raises(DataError, match=message):
        read_listens_source(write(tmp_path / name, text), format=format)


def test_broken_zips_and_empty_folders_are_data_errors(tmp_path):
    broken = write(tmp_path / "my_spotify_data.zip", b"PK\x03\x04 cut short")
    for format in ("spotify-history", "spotify-account", "listenbrainz"):
        with pytest.raises(DataError, match="not a readable zip archive"):
            read_listens_source(broken, format=format)
    (tmp_path / "empty").mkdir()
    for format in READERS:
        with pytest.raises(DataError, match="holds no"):
            read_listens_source(tmp_path / "empty", format=format)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return buffer.getvalue()


def garbage_files(folder: Path) -> list[Path]:
    rng = np.random.default_rng(7)
    files = {
        "empty.json": b"",
        "blank.csv": b"\n\n  \n",
        "binary.json": rng.integers(0, 256, 512, dtype=np.uint8).tobytes(),
        "binary.csv": b"\x00\x01\x02\xff\xfe" * 50,
        "truncated.json": b'[{"ts": "2024-01-01T00:00:00Z", "ms_played": 1234, "master_',
        "truncated.jsonl": b'{"listened_at": 1700000000, "track_metadata": {"artist_na',
        "object.json": b'{"a": 1, "b": [1, 2]}',
        "scalar.json": b"42",
        "null.json": b"null",
        "numbers.json": b"[1, 2, 3]",
        "strings.jsonl": b'"a"\n"b"\n',
        "latin1.json": '[{"ts": "caf\xe9"}]'.encode("latin-1"),
        "random.csv": "\n".join(
            ",".join("".join(rng.choice(list("abcxyz ;\"'"), size=6)) for _ in range(4)) for _ in range(20)
        ).encode(),
        "words.txt": b"hello world\nthis is not an export\n",
        "fake.zip": b"PK\x05\x06" + b"\x00" * 18,
        "junk.zip": _zip_bytes({"listens/2024/1.jsonl": b"\xff\xfe junk", "endsong_0.json": b"[{]"}),
        "other.zip": _zip_bytes({"Spotify Account Data/StreamingHistory_music_0.json": b'{"endTime": 1}'}),
        "endsong_0.json": b'{"not": "an array"}',
        "StreamingHistory0.json": b"[[1, 2], [3]]",
    }
    return [write(folder / name, data) for name, data in files.items()]


@pytest.mark.parametrize("format", list(READERS))
def test_garbage_gives_a_gems_error_never_a_traceback(tmp_path, format):
    for path in garbage_files(tmp_path):
        for module in READERS.values():
            assert module.sniff(path) in (True, False)
        with pytest.raises(GemsError):
            READERS[format].read(path)


@pytest.mark.parametrize("format", ["spotify-history", "spotify-account", "listenbrainz"])
def test_records_with_odd_values_are_set_aside_not_crashed_on(tmp_path, format):
    odd = [None, True, 1.5, -3, "", "  ", [], {}, {"x": 1}, "1e99", "9" * 30, "NaN", "unknown"]
    if format == "spotify-history":
        records = [
            {
                "ts": v,
                "ms_played": w,
                "master_metadata_track_name": v,
                "master_metadata_album_artist_name": w,
                "spotify_track_uri": v,
                "incognito_mode": w,
                "username": v,
            }
            for v, w in zip(odd, reversed(odd))
        ]
    elif format == "spotify-account":
        records = [{"endTime": v, "msPlayed": w, "artistName": v, "trackName": w} for v, w in zip(odd, reversed(odd))]
    else:
        records = [
            {
                "listened_at": v,
                "user_name": w,
                "track_metadata": {"artist_name": v, "track_name": w, "additional_info": v, "mbid_mapping": w},
            }
            for v, w in zip(odd, reversed(odd))
        ]
    path = write(tmp_path / "odd.json", json.dumps(records))
    result = read(path, format)
    assert result.report.rows_read == len(odd)


# ------------------------------------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    "name, owner",
    [
        ("scrobbles-alice-1732200000", "alice"),
        ("listenbrainz_bob_1700000000", "bob"),
        ("alice", "alice"),
        ("scrobbles-alice_smith", "alice_smith"),
        ("Streaming_History_Audio_2023-2024_1", None),
        ("StreamingHistory0", None),
        ("my_spotify_data", None),
        ("Spotify Extended Streaming History", None),
        ("endsong_12", None),
    ],
)
def test_owner_from_name(name, owner):
    assert owner_from_name(name) == owner


def test_timestamps_tell_placeholders_from_unreadable_values():
    values = pd.Series(
        ["01 Jan 1970 00:00", "0", "yesterday", "9" * 20, "", None, 1735689600.5, "1735689600.000000"], dtype=object
    )
    stamps, unparseable, placeholder = classify_timestamps(values)
    assert placeholder.tolist() == [True, True, False, False, False, False, False, False]
    assert unparseable.tolist() == [False, False, True, True, False, False, False, False]
    assert stamps.iloc[6] == pd.Timestamp("2025-01-01 00:00:00.5", tz="UTC")
    assert stamps.iloc[7] == pd.Timestamp("2025-01-01", tz="UTC")
