"""The shared careful reading: encodings sniffed from the first bytes, bounded JSON, folder walks."""

from __future__ import annotations

import codecs
import os

import pytest

from gems.errors import DataError
from gems.ingest.common import first_json_record
from gems.ingest.safe_read import decode_text, parse_json, sniff_encoding
from gems.safe_files import Skipped, iter_files

TEXT = 'user,track\nalice,"Zoë"\n'


@pytest.mark.parametrize(
    "raw, expected",
    [
        (TEXT.encode(), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("cp1252"), None),  # a legacy 8-bit encoding
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),  # binary
        ("é".encode() * 10 + "é".encode()[:1], "utf-8"),  # a character cut by the end of a sample
    ],
)
def test_sniff_encoding(raw, expected):
    assert sniff_encoding(raw) == expected


def test_a_character_cut_at_the_end_of_a_whole_file_is_not_utf8():
    assert sniff_encoding("é".encode() + b"\xc3", whole=True) is None


def test_decode_text_names_what_it_found():
    assert decode_text(TEXT.encode("utf-16"), "x.csv", expected="a table") == TEXT
    with pytest.raises(DataError, match=r"x\.json: not UTF-8 or UTF-16 text \(byte 0xEB at byte 3 is not UTF-8\)"):
        decode_text('"Zoë"'.encode("cp1252"), "x.json", expected="a JSON export")
    assert decode_text('"Zoë"'.encode("cp1252"), "x.csv", expected="a table", fallback="latin-1") == '"Zoë"'


def test_parse_json_bounds_nesting_and_names_the_place():
    assert parse_json("[" * 500 + "]" * 500, "ok.json") == parse_json("[" * 500 + "]" * 500, "ok.json")
    with pytest.raises(DataError, match=r"deep\.json: JSON nested too deep"):
        parse_json("[" * 100_000 + "]" * 100_000, "deep.json")
    with pytest.raises(DataError, match=r"cut\.json:1:7: invalid JSON"):
        parse_json('{"a": ', "cut.json")


def test_first_json_record_of_utf16_and_of_deep_heads():
    assert first_json_record(b'[{"ts": 1}, {"ts": 2}]'.decode().encode("utf-16")) == {"ts": 1}
    assert first_json_record(b"[" + b"{" * 50_000) is None


def test_walks_list_files_before_subfolders_follow_links_and_skip_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.ogg").write_bytes(b"x")
    (tmp_path / "c.ogg").write_bytes(b"x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "3.ogg").write_bytes(b"x")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "4.ogg").write_bytes(b"x")
    (tmp_path / "a").symlink_to(elsewhere)
    (tmp_path / "b" / "again").symlink_to(tmp_path / "b")
    found = list(iter_files(tmp_path))
    files = [os.path.relpath(p, tmp_path) for p in found if not isinstance(p, Skipped)]
    assert files == ["c.ogg", "a/4.ogg", "b/2.ogg"]
    assert [(os.path.relpath(s.path, tmp_path), s.reason) for s in found if isinstance(s, Skipped)] == [
        ("b/again", "symlink loop")
    ]
