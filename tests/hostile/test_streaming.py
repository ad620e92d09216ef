"""Files read a piece at a time (gems.ingest.streaming): the streamed JSON array gives exactly what
``json.loads`` gives (the oracle), with the same ``line:column`` for a broken file, whatever the size of the
pieces; lines and text keep their numbers and encodings across pieces."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path, PurePosixPath

import pytest
from hostilekit import FUZZ
from hypothesis import given
from hypothesis import strategies as st

from gems.errors import DataError
from gems.ingest import streaming
from gems.ingest.archive import SourceFile
from gems.ingest.streaming import json_array, json_array_lines, line_batches, text_chunks

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def source(path: Path) -> SourceFile:
    return SourceFile(path, PurePosixPath(path.name))


@pytest.fixture(params=[1, 3, 64])
def tiny_pieces(request, monkeypatch):
    """Pieces of 1, 3 and 64 bytes: every value, string and number gets cut somewhere."""
    monkeypatch.setattr(streaming, "CHUNK_BYTES", request.param)
    monkeypatch.setattr(streaming, "CHUNK_CHARS", request.param)


@FUZZ
@given(records=st.lists(JSON, max_size=6), indent=st.sampled_from([None, 0, 2]))
def test_a_streamed_array_is_what_json_loads_reads(tmp_path_factory, records, indent):
    path = tmp_path_factory.mktemp("s") / "a.json"
    text = json.dumps(records, indent=indent, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    for size in (1, 5, 4096):
        streaming.CHUNK_BYTES = streaming.CHUNK_CHARS = size
        try:
            assert list(json_array(source(path), expected="records")) == json.loads(text)
        finally:
            streaming.CHUNK_BYTES, streaming.CHUNK_CHARS = 1 << 20, 1 << 20


def test_a_broken_array_names_the_line_and_column_json_names(tmp_path, tiny_pieces):
    text = json.dumps([{"ts": "2023-01-01", "n": 12345, "s": "a\u00e9\u2028b"}, [1, 2.5e3, None, True]] * 3, indent=2)
    path = tmp_path / "a.json"
    for cut in range(1, len(text)):
        broken = text[:cut]
        if not broken.strip():
            continue
        path.write_text(broken, encoding="utf-8")
        with pytest.raises(json.JSONDecodeError) as oracle:
            json.loads(broken)
        with pytest.raises(DataError) as caught:
            list(json_array(source(path), expected="records"))
        where = re.search(r"a\.json:(\d+):(\d+): invalid JSON", str(caught.value))
        assert where, str(caught.value)
        assert (int(where[1]), int(where[2])) == (oracle.value.lineno, oracle.value.colno), (cut, str(caught.value))


def test_the_array_under_a_key_and_the_line_each_record_starts_on(tmp_path, tiny_pieces):
    path = tmp_path / "mpd.json"
    path.write_text('{"info": {"a": [1, {"b": "}"}]},\n "playlists": [\n  {"pid": 1},\n\n  {"pid": 2}\n ], "z": 0}\n')
    assert list(json_array_lines(source(path), expected="MPD", key="playlists")) == [(3, {"pid": 1}), (5, {"pid": 2})]
    path.write_text('{"info": {}, "playlist": []}')
    with pytest.raises(DataError, match="found an object with keys info, playlist"):
        list(json_array(source(path), expected="MPD", key="playlists"))
    path.write_text('{"playlists": {"0": []}}')
    with pytest.raises(DataError, match='found "playlists" as an object'):
        list(json_array(source(path), expected="MPD", key="playlists"))
    path.write_text('{"playlists": [1]} 7')
    with pytest.raises(DataError, match=r"mpd\.json:1:20: invalid JSON \(Extra data\)"):
        list(json_array(source(path), expected="MPD", key="playlists"))


def test_a_record_longer_than_the_limit_is_refused_without_reading_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 100)
    monkeypatch.setattr(streaming, "CHUNK_CHARS", 100)
    path = tmp_path / "a.json"
    path.write_text('[{"a": "' + "x" * 5000 + '"}, 1]')
    with pytest.raises(DataError, match=r"a\.json:1:2: one JSON value longer than"):
        list(json_array(source(path), expected="records"))


def test_json_nested_too_deep_in_a_stream_is_one_clear_error(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("[" + "[" * 100_000 + "]" * 100_000 + "]")
    with pytest.raises(DataError, match=r"a\.json: JSON nested too deep"):
        list(json_array(source(path), expected="records"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_text_keeps_its_characters_across_pieces(tmp_path, tiny_pieces, encoding):
    text = "a,b\nZoë,“quoted”\n日本語,𝄞\n"
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding) if encoding != "utf-16-le" else text.encode("utf-16-le"))
    assert "".join(text_chunks(source(path), expected="a table")) == text


def test_lines_are_numbered_across_pieces_and_split_at_line_feeds_only(tmp_path, tiny_pieces, monkeypatch):
    monkeypatch.setattr(streaming, "LINES_PER_BATCH", 2)
    path = tmp_path / "l.jsonl"
    path.write_text('{"a": 1}\n{"b": "x\u2028y"}\r\n\n{"c": 3}')
    batches = list(line_batches(source(path), expected="lines"))
    assert batches == [(1, ['{"a": 1}', '{"b": "x\u2028y"}\r']), (3, ["", '{"c": 3}'])]


def test_text_that_turns_out_not_utf8_names_the_byte_or_falls_back(tmp_path, tiny_pieces, monkeypatch):
    monkeypatch.setattr(streaming, "HEAD_BYTES", 16)  # the encoding is sniffed from plain ASCII
    path = tmp_path / "t.csv"
    path.write_bytes(b"artist,title\n" * 10 + "Zoë\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"t\.csv: not valid UTF-8 text at byte 132"):
        "".join(text_chunks(source(path), expected="a table"))
    used: list[str] = []
    text = "".join(text_chunks(source(path), expected="a table", fallback="latin-1", used=used))
    assert text.endswith("Zoë\n") and used == ["utf-8", "latin-1"]


@pytest.mark.parametrize("content", [b"", b"   \n\n  "])
def test_an_empty_or_blank_file_is_empty(tmp_path, content):
    path = tmp_path / "e.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"e\.json is empty; expected records"):
        list(json_array(source(path), expected="records"))


def test_a_bom_does_not_hide_the_array(tmp_path, tiny_pieces):
    path = tmp_path / "b.json"
    path.write_bytes(codecs.BOM_UTF8 + b'[{"a": 1}]')
    assert list(json_array(source(path), expected="records")) == [{"a": 1}]


def test_numbers_cut_by_a_piece_read_whole(tmp_path, tiny_pieces):
    """``0.`` of ``0.5`` or ``1e`` of ``1e-9`` at the end of a piece is not a number yet."""
    values = [0.0, 0.5, 1e-9, -12.5e3, 123456789, -7, 2.5e-300, [1.25, {"n": -0.0}]]
    path = tmp_path / "n.json"
    path.write_text(json.dumps(values))
    assert list(json_array(source(path), expected="records")) == values
