"""Digits of other scripts (issue 16): a timestamp, play time or weight in full-width, Arabic-Indic or
Devanagari digits is read as its ASCII twin — never "unexpected ValueError … a bug in gems"."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hostilekit import assert_one_clear_line

from gems.ingest import read_listens
from gems.ingest.common import ascii_digits, numbers
from gems.ingest.timestamps import classify_timestamps

FULL_WIDTH = str.maketrans("0123456789:-", "０１２３４５６７８９：－")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC, DEVANAGARI])
@pytest.mark.parametrize("value", ["1700000000", "1700000000000", "2023-11-14 22:13", "14 Nov 2023 22:13"])
def test_a_timestamp_in_any_script_reads_as_its_ascii_twin(value, table):
    stamps, unparseable, placeholder = classify_timestamps(pd.Series([value.translate(table), value]))
    assert not unparseable.any() and not placeholder.any()
    assert stamps.iloc[0] == stamps.iloc[1] and stamps.notna().all()


def test_digits_that_are_not_decimal_never_crash():
    """Superscripts and fractions pass ``str.isdigit`` but no number reader: read after NFKC, or unparseable."""
    stamps, unparseable, placeholder = classify_timestamps(pd.Series(["¹⁷⁰⁰⁰⁰⁰⁰⁰⁰", "½", "١٧٠٠٠x", "𝟏𝟕𝟎𝟎𝟎𝟎𝟎𝟎𝟎𝟎"]))
    assert stamps.iloc[0] == stamps.iloc[3] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")
    assert unparseable[2] and (unparseable[1] or placeholder[1])


def test_numbers_and_ascii_digits():
    assert ascii_digits("２０２３－０１－０１ १०:००") == "2023-01-01 10:00"
    assert numbers(pd.Series(["٣٠٠٠٠", "１２.５", 7, True, None, "x"], dtype=object)).tolist()[:3] == [30000, 12.5, 7]
    assert numbers(pd.Series([True, None, "x"], dtype=object)).isna().all()


def test_scrobbles_with_arabic_indic_times_are_kept(tmp_path):
    path = tmp_path / "alice.csv"
    path.write_text(
        "uts,utc_time,artist,album,track\n"
        + "١٧٠٠٠٠٠٠٠٠,,Composer,OST,Theme\n"
        + "１７００００３６００,,Composer,OST,Reprise\n"
        + "17000x,,Composer,OST,Broken\n",
        encoding="utf-8",
    )
    listens, report = read_listens(path)
    assert list(listens["title"]) == ["Theme", "Reprise"] and report.set_aside == {"unparseable date": 1}
    assert listens["timestamp"].iloc[0] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")


def test_spotify_play_times_and_table_weights_in_other_digits(tmp_path):
    plays = [
        {
            "ts": "２０２３-01-01T10:00:00Z",
            "ms_played": "١٢٠٠٠٠",
            "master_metadata_track_name": "Theme",
            "master_metadata_album_artist_name": "Composer",
        },
    ]
    (tmp_path / "endsong_0.json").write_text(json.dumps(plays, ensure_ascii=False), encoding="utf-8")
    listens, report = read_listens(tmp_path / "endsong_0.json", format="spotify-history")
    assert report.rows_kept == 1
    assert listens["timestamp"].iloc[0] == pd.Timestamp("2023-01-01T09:58:00Z")
    table = tmp_path / "t.csv"
    table.write_text("user,track,plays\nu,t,٣\nu,s,x\n", encoding="utf-8")
    listens, report = read_listens(table, format="table")
    assert listens["weight"].tolist() == [3.0] and report.set_aside == {"weight is not a number": 1}


def test_a_scrobbles_upload_with_full_width_digits_through_the_cli(tmp_path, gems_cli):
    path = tmp_path / "bob.csv"
    path.write_text('"Composer","OST","Theme","３１ Jan ２０２１ １４:０３"\n', encoding="utf-8")
    code, out, err = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert code == 0, err
    assert pd.read_parquet(tmp_path / "o.parquet")["timestamp"].iloc[0] == pd.Timestamp("2021-01-31 14:03Z")
    path.write_text('"Composer","OST","Theme","３１ Jxx ２０２١"\n', encoding="utf-8")
    assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"))
