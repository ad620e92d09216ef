"""Fuzzed and hostile listening exports, built here on the fly: JSON nested 100,000 deep, zip bombs, zips of
thousands of members or with names outside the archive, UTF-16 and byte-order-marked text, machine errors, and
random bytes and structures (Hypothesis). A reader returns listens and a report, or raises a GemsError: never
another exception, never a hang."""

from __future__ import annotations

import codecs
import errno
import json
import os
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hostilekit import FUZZ, assert_one_clear_line, running_as_root
from hypothesis import given
from hypothesis import strategies as st

from gems.errors import DataError, GemsError
from gems.ingest import archive, read_listens
from gems.ingest.formats import available_formats

DEEP = 100_000
LISTEN = {"listened_at": 1_700_000_000, "track_metadata": {"artist_name": "Composer", "track_name": "Theme"}}
PLAY = {"ts": "2023-01-01T10:00:00Z", "ms_played": 60_000, "master_metadata_track_name": "Theme"}
PLAY["master_metadata_album_artist_name"] = "Composer"


def listens_zip(path: Path, members: dict[str, bytes | str], **kwargs) -> Path:
    with zipfile.ZipFile(path, "w", **kwargs) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# ---------------------------------------------------------------------------------------------- deep JSON


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("mpd.slice.0-999.json", "mpd"),
        ("listens.json", "listenbrainz"),
        ("endsong_0.json", "spotify-history"),
        ("StreamingHistory0.json", "spotify-account"),
        ("listens.json", "auto"),
    ],
)
def test_json_nested_100000_deep_is_one_clear_error(tmp_path, name, fmt):
    path = tmp_path / name
    path.write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(DataError) as caught:
        read_listens(path, format=fmt)
    assert str(path) in str(caught.value)
    if fmt != "auto":  # detection finds no format in it
        assert "nested too deep" in str(caught.value)


def test_deep_json_inside_a_zip_names_the_member(tmp_path):
    deep = '{"a":' * DEEP + "1" + "}" * DEEP
    path = listens_zip(tmp_path / "export.zip", {"Spotify Extended Streaming History/endsong_0.json": f"[{deep}]"})
    with pytest.raises(DataError, match=r"export\.zip:Spotify Extended Streaming History/endsong_0\.json.*too deep"):
        read_listens(path, format="spotify-history")


def test_a_json_lines_file_keeps_its_good_lines_and_sets_aside_the_deep_one(tmp_path):
    path = tmp_path / "listens" / "2023" / "1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(LISTEN) + "\n" + '{"a":' * DEEP + "1" + "}" * DEEP + "\n")
    listens, report = read_listens(path, format="listenbrainz")
    assert len(listens) == 1 and report.set_aside == {"invalid JSON line": 1}
    assert "nested too deep" in report.examples["invalid JSON line"][0]


def test_deep_json_through_the_cli(tmp_path, gems_cli):
    path = tmp_path / "endsong_0.json"
    path.write_text("[" * DEEP + "]" * DEEP)
    result = gems_cli(
        "ingest", "--listens", path, "--listens-format", "spotify-history", "--out", tmp_path / "o.parquet"
    )
    assert_one_clear_line(result, str(path), "nested too deep")


# ---------------------------------------------------------------------------------------------- archives


def bomb(path: Path, size: int) -> Path:
    """A zip whose one listens member inflates to ``size`` zero bytes (about 1,000 to 1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("listens/2023/1.jsonl", "w", force_zip64=True) as member:
            chunk = bytes(1 << 24)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return path


def test_a_1_gib_member_of_a_small_zip_is_refused_without_inflating_it(tmp_path, gems_cli):
    path = bomb(tmp_path / "listens.zip", 1 << 30)
    assert path.stat().st_size < 8 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            read_listens(path, format="listenbrainz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB allocated"
    message = str(caught.value)
    assert "listens.zip:listens/2023/1.jsonl" in message and "1,024.0 MiB" in message and "256.0 MiB" in message
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "1.jsonl", "MiB")


def test_a_member_under_the_size_limit_but_compressed_a_thousand_to_one_is_refused(tmp_path):
    path = bomb(tmp_path / "listens.zip", 64 << 20)
    with pytest.raises(DataError, match=r"listens/2023/1\.jsonl: inflates [\d,]+ to 1 .*100 to 1"):
        read_listens(path, format="listenbrainz")


def test_a_member_that_lies_about_its_size_is_never_inflated_past_it(tmp_path):
    """The directory says 100 bytes; the data inflates to 64 MiB: reading stops at 100 and the CRC fails."""
    data = bytes(64 << 20)
    path = listens_zip(tmp_path / "listens.zip", {"listens/2023/1.jsonl": data}, compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    raw[local + 22 : local + 26] = (100).to_bytes(4, "little")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"listens\.zip:listens/2023/1\.jsonl"):
            read_listens(path, format="listenbrainz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB allocated"


def test_a_zip_of_5000_members_is_opened_once(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBERS_READ", 5000)  # the default budget refuses past 1,000 (see below)
    members = {f"listens/2023/{i}.jsonl": json.dumps(LISTEN | {"listened_at": 1_700_000_000 + i}) for i in range(5000)}
    path = listens_zip(tmp_path / "listenbrainz_alice.zip", members)
    opened = []
    real = archive.zipfile.ZipFile
    monkeypatch.setattr(archive.zipfile, "ZipFile", lambda *a, **k: opened.append(1) or real(*a, **k))
    started = time.perf_counter()
    listens, report = read_listens(path, format="listenbrainz")
    assert len(listens) == 5000 and report.rows_kept == 5000 and set(listens["user_id"]) == {"alice"}
    assert len(opened) == 1
    assert time.perf_counter() - started < 30  # minutes before: every member reopened the zip


def test_too_many_members_is_one_clear_error(tmp_path, monkeypatch, gems_cli):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 100)
    path = listens_zip(tmp_path / "export.zip", {f"listens/{i}.jsonl": json.dumps(LISTEN) for i in range(101)})
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "101 members", "more than the 100")


def test_a_huge_list_of_members_is_refused_before_it_is_parsed(tmp_path, monkeypatch, gems_cli):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 100)
    path = listens_zip(tmp_path / "export.zip", {f"listens/{'x' * 400}{i}.jsonl": "{}" for i in range(150)})
    parsed = []
    monkeypatch.setattr(archive.zipfile, "ZipFile", lambda *a, **k: parsed.append(1))
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "list of members takes", "more than 100 members need")
    assert not parsed


@pytest.mark.parametrize(
    "name", ["../../etc/listens.jsonl", "/abs/listens/1.jsonl", "listens/../../x.jsonl", "C:/x.jsonl"]
)
def test_member_names_outside_the_archive_are_refused(tmp_path, gems_cli, name):
    path = listens_zip(tmp_path / "export.zip", {"listens/2023/1.jsonl": json.dumps(LISTEN), name: json.dumps(LISTEN)})
    result = gems_cli("ingest", "--listens", path, "--listens-format", "listenbrainz", "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "points outside the archive", repr(name))
    assert not (tmp_path.parent / "etc").exists()


def test_a_truncated_zip_is_one_clear_error(tmp_path, gems_cli):
    path = listens_zip(tmp_path / "export.zip", {f"listens/2023/{i}.jsonl": json.dumps(LISTEN) for i in range(50)})
    path.write_bytes(path.read_bytes()[:-200])
    result = gems_cli("ingest", "--listens", path, "--listens-format", "listenbrainz", "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "export.zip")


# ---------------------------------------------------------------------------------------------- encodings

TABLE = "user,track,plays\nalice,Zoë's Theme,3\nbob,Town,1\n"


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),  # no byte-order mark: told by where its NULs are
        ("utf-16-be", b""),
    ],
)
def test_csv_in_utf8_or_utf16_reads_the_same(tmp_path, encoding, bom):
    path = tmp_path / "plays.csv"
    path.write_bytes(bom + TABLE.encode(encoding))
    listens, report = read_listens(path)
    assert report.rows_kept == 2 and sorted(listens["track_id"]) == ["Town", "Zoë's Theme"]


def test_a_utf16_scrobbles_export_is_detected(tmp_path):
    path = tmp_path / "scrobbles-alice.csv"
    path.write_text('"Composer","Album","Theme","21 Nov 2023 11:54"\n', encoding="utf-16")
    listens, _ = read_listens(path)
    assert listens["user_id"].tolist() == ["alice"]


def test_a_utf16_spotify_history_reads(tmp_path):
    path = tmp_path / "endsong_0.json"
    path.write_text(json.dumps([PLAY]), encoding="utf-16")
    listens, _ = read_listens(path)
    assert listens["title"].tolist() == ["Theme"]


@pytest.mark.parametrize("text", [TABLE, "user,track\nalice,Zoë\n"])  # the second ends in a lone 0xEB
def test_legacy_8_bit_csv_is_still_read_as_latin1(tmp_path, text):
    path = tmp_path / "plays.csv"
    path.write_bytes(text.encode("cp1252"))
    listens, _ = read_listens(path)
    assert {"Zoë's Theme", "Zoë"} & set(listens["track_id"])


def test_legacy_bytes_far_into_a_utf8_table_are_one_clear_error(tmp_path, gems_cli):
    """UTF-8 for 64 KiB, then a malformed Windows-1252 row: pyarrow cannot even show the row."""
    path = tmp_path / "plays.csv"
    path.write_bytes(("user,track\n" + "alice,Theme\n" * 8000).encode() + "bob,Zoë,extra\n".encode("cp1252"))
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, str(path), "not utf-8 text")


def test_encodings_that_are_not_text_are_named(tmp_path, gems_cli):
    binary = tmp_path / "plays.csv"
    binary.write_bytes(b"user,track\n\x00\x01\x02\x03\xff\xfe\x00garbage" * 20)
    result = gems_cli("ingest", "--listens", binary, "--listens-format", "table", "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "binary data", "NUL byte")
    legacy = tmp_path / "endsong_0.json"
    legacy.write_bytes(json.dumps([PLAY | {"master_metadata_track_name": "Zoë"}], ensure_ascii=False).encode("cp1252"))
    result = gems_cli("ingest", "--listens", legacy, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "not UTF-8 or UTF-16", "0xEB")


# ---------------------------------------------------------------------------------------------- machine errors


def test_permission_denied_is_a_user_error_with_what_to_do(tmp_path, gems_cli, deny):
    path = tmp_path / "plays.csv"
    path.write_text(TABLE)
    deny(path)
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, str(path), "permission denied", "check its permissions")
    export = listens_zip(tmp_path / "export.zip", {"listens/2023/1.jsonl": json.dumps(LISTEN)})
    deny(export)
    result = gems_cli(
        "ingest", "--listens", export, "--listens-format", "listenbrainz", "--out", tmp_path / "o.parquet"
    )
    assert_one_clear_line(result, "export.zip", "permission denied")


def test_a_chmod_000_export_with_real_permissions(tmp_path, gems_cli):
    if running_as_root():
        pytest.skip("running as root, which reads a chmod 000 file; the injected denial above covers this case")
    path = tmp_path / "plays.csv"
    path.write_text(TABLE)
    path.chmod(0)
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "permission denied")


def test_a_fifo_given_as_listens_never_blocks(tmp_path, gems_cli):
    fifo = tmp_path / "listens.json"
    os.mkfifo(fifo)
    for fmt in ("auto", "listenbrainz", "spotify-history", "mpd", "table"):
        code, _, err = gems_cli("ingest", "--listens", fifo, "--listens-format", fmt, "--out", tmp_path / "o.parquet")
        assert code == 1 and "bug in gems" not in err, (fmt, err)


def test_a_full_disk_when_writing_the_ingested_listens(tmp_path, gems_cli, monkeypatch):
    import gems.safe_files

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(gems.safe_files, "write_atomic", full)
    path = tmp_path / "plays.csv"
    path.write_text(TABLE)
    result = gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet")
    assert_one_clear_line(result, "o.parquet", "no space left", "free some space")


# ---------------------------------------------------------------------------------------------- fuzzing

READERS = ["auto", *available_formats()]
NAMES = ["x.json", "x.jsonl", "x.csv", "endsong_0.json", "StreamingHistory0.json", "mpd.slice.0-999.json", "x.zip"]


def read_only_gems_errors(path: Path, fmt: str) -> None:
    """Read ``path`` as ``fmt``: listens and a report, or a GemsError; anything else fails the test."""
    try:
        listens, report = read_listens(path, format=fmt)
    except GemsError:
        return
    assert report.rows_read >= report.rows_kept == len(listens)


@FUZZ
@given(data=st.binary(max_size=2000), name=st.sampled_from(NAMES), fmt=st.sampled_from(READERS))
def test_random_bytes(data, name, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        read_only_gems_errors(path, fmt)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                sorted(
                    {
                        *LISTEN,
                        *PLAY,
                        "endTime",
                        "msPlayed",
                        "artistName",
                        "trackName",
                        "playlists",
                        "pid",
                        "tracks",
                        "track_uri",
                        "x",
                    }
                )
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@FUZZ
@given(value=JSON, name=st.sampled_from(NAMES[:6]), fmt=st.sampled_from(READERS), lines=st.booleans())
def test_random_json_structures(value, name, fmt, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        items = value if lines and isinstance(value, list) else [value]
        text = "\n".join(json.dumps(v) for v in items) if lines else json.dumps(value)
        path.write_text(text)
        read_only_gems_errors(path, fmt)


@FUZZ
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
    cut=st.integers(min_value=0, max_value=4000),
    fmt=st.sampled_from(["auto", "listenbrainz", "spotify-history", "spotify-account"]),
)
def test_damaged_zips(flips, cut, fmt):
    with tempfile.TemporaryDirectory() as folder:
        members = {"user.json": '{"username": "alice"}'}
        members |= {f"listens/2023/{i}.jsonl": json.dumps(LISTEN) for i in range(3)}
        members["Spotify Extended Streaming History/endsong_0.json"] = json.dumps([PLAY])
        path = listens_zip(Path(folder) / "export.zip", members, compression=zipfile.ZIP_DEFLATED)
        raw = bytearray(path.read_bytes())
        for at, byte in flips:
            raw[at % len(raw)] = byte
        path.write_bytes(bytes(raw[: len(raw) - cut % len(raw)]))
        read_only_gems_errors(path, fmt)


@FUZZ
@given(
    text=st.text(alphabet=st.sampled_from(list('ab,;\t"\n\r 1é\ufeff\u2028')), max_size=200),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]),
    header=st.sampled_from(["user,track\n", "artist,track,uts\n", ""]),
)
def test_random_delimited_text(text, encoding, header):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plays.csv"
        path.write_bytes((header + text).encode(encoding, errors="replace"))
        for fmt in ("auto", "table", "lastfm-scrobbles"):
            read_only_gems_errors(path, fmt)
