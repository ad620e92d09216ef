"""Bidirectional and other invisible format characters (issue 16): a title ``Theme U+202E 3pm.exe`` displays
reversed, a zero-width space hides a difference. Terminal text and playlist files show each character of
Unicode category Cf as a visible ``<U+202E>``; ``--json`` keeps the data exactly, as JSON ``\\u`` escapes."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET

import pytest
from hostilekit import assert_one_clear_line, named_model

from gems.terminal import json_text, printable

HIDDEN = [
    "Theme \u202egpj.exe\u202c",  # RIGHT-TO-LEFT OVERRIDE … POP DIRECTIONAL FORMATTING
    "Suite \u2067Nocturne\u2069",  # RIGHT-TO-LEFT ISOLATE … POP DIRECTIONAL ISOLATE
    "Zero\u200bwidth\u2060joined\ufeff",  # ZERO WIDTH SPACE, WORD JOINER, BOM
    "Tagged \U000e0041\U000e007f",  # TAG LATIN CAPITAL LETTER A, CANCEL TAG
    "Marks \u200e\u200f\u061c\u202a\u202b\u202d",  # LRM, RLM, ALM, LRE, RLE, LRO
]


def assert_visible(text: str) -> None:
    """No format character left raw in what a terminal or a player shows."""
    hidden = [c for c in text if unicodedata.category(c) == "Cf"]
    assert not hidden, [f"U+{ord(c):04X}" for c in hidden]


@pytest.fixture(scope="module")
def bidi_model(tmp_path_factory):
    return named_model(tmp_path_factory.mktemp("bidi") / "m", HIDDEN)


def test_printable_and_json_text():
    assert printable("Theme \u202egpj.exe\u202c") == "Theme <U+202E>gpj.exe<U+202C>"
    assert printable("\U000e0041") == "<U+E0041>" and printable("Zoë 日本 🎵") == "Zoë 日本 🎵"
    text = json_text({"t": HIDDEN})
    assert_visible(text)
    assert json.loads(text) == {"t": HIDDEN}


def test_info_and_recommend_show_the_characters(bidi_model, gems_cli):
    path, titles = bidi_model
    code, out, err = gems_cli("info", "-m", path, "--tracks")
    assert code == 0, err
    assert_visible(out + err)
    assert "<U+202E>" in out and "<U+2067>" in out
    code, out, err = gems_cli("recommend", "-m", path, "--like", "t0", "-k", 6)
    assert code == 0, err
    assert_visible(out + err)
    code, out, err = gems_cli("recommend", "-m", path, "--like", "t0", "-k", 6, "--json")
    assert code == 0, err
    assert_visible(out)
    assert {pick["title"] for pick in json.loads(out)} <= set(titles)


@pytest.mark.parametrize("suffix", [".m3u8", ".xspf", ".jspf"])
def test_playlist_files_show_them_too(bidi_model, gems_cli, tmp_path, suffix):
    path, _ = bidi_model
    out = tmp_path / f"p{suffix}"
    code, _, err = gems_cli("playlist", "-m", path, "--like", "t1", "--length", 6, "--out", out)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    if suffix == ".xspf":
        ET.fromstring(out.read_bytes())
    elif suffix == ".jspf":
        json.loads(text)
    assert_visible(text)
    assert "U+202E" in text  # <U+202E>, or &lt;U+202E&gt; in XML


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--like", "no such \u202etitle"],
        ["recommend", "--user", "\u2067nobody\u2069"],
        ["recommend", "--history", "/nowhere/scrobbles\u202ecsv.exe"],
    ],
)
def test_errors_show_what_was_typed_visibly(bidi_model, gems_cli, args):
    path, _ = bidi_model
    line = assert_one_clear_line(gems_cli(args[0], "-m", path, *args[1:]))
    assert_visible(line)
    assert "<U+" in line


def test_file_names_with_bidi_in_reports(tmp_path, gems_cli):
    source = tmp_path / "alice\u202evsc.csv"
    source.write_text('"Composer","OST","Theme","31 Jan 2021 14:03"\n')
    code, out, err = gems_cli("ingest", "--listens", source, "--out", tmp_path / "o.parquet")
    assert code == 0, err
    assert_visible(out + err)
    assert "alice<U+202E>vsc.csv" in out + err
