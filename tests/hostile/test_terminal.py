"""Titles, ids and manifest values are data anyone may have written: Rich markup in them is printed as text
(``[/]`` used to crash ``gems info --tracks``), and escape sequences (an OSC that retitles the terminal, a CSI
that clears it, C1 controls) never reach a terminal or a playlist file."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from hostilekit import assert_one_clear_line, named_model

NASTY = [
    "Theme [/] of [bold red]Doom[/bold red] [link=https://example.org]here[/link]",
    "Retitle\x1b]0;pwned\x07 Song",
    "Clear\x1b[2J\x1b[H Screen",
    "Eight-bit\x9b31m CSI",
    "Two\nlines\rand\x00a NUL\x7f",
]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what a terminal or player may obey (\t and \n aside)


@pytest.fixture(scope="module")
def nasty_model(tmp_path_factory):
    path, titles = named_model(tmp_path_factory.mktemp("nasty") / "m", NASTY)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["created_at"] = "\x1b]0;owned\x07[/]2026"
    manifest["gems_version"] = "[bold]1.0\x1b[2J"
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path, titles


def assert_safe(text: str) -> None:
    assert not CONTROL.search(text), repr(CONTROL.search(text).group())


def test_info_lists_markup_and_escapes_as_plain_text(nasty_model, gems_cli):
    path, _ = nasty_model
    code, out, err = gems_cli("info", "-m", path, "--tracks")
    assert code == 0, err
    assert_safe(out + err)
    assert "Theme [/] of" in out and "[bold" in out and "[link=" in out  # shown as text (the table wraps them)
    assert "Retitle]0;pwned Song" in out and "built ]0;owned[/]2026 by gems [bold]1.0[2J" in out


def test_recommendations_print_safely_and_json_keeps_the_data(nasty_model, gems_cli):
    path, titles = nasty_model
    code, out, err = gems_cli("recommend", "-m", path, "--like", "t0", "-k", 6)
    assert code == 0, err
    assert_safe(out + err)
    code, out, err = gems_cli("recommend", "-m", path, "--like", "t0", "-k", 6, "--json")
    assert code == 0, err
    assert_safe(out.replace("\n", " "))
    picks = json.loads(out)
    assert {pick["title"] for pick in picks} <= set(titles)  # exactly the data, escaped only in the JSON text


@pytest.mark.parametrize("suffix", [".m3u8", ".xspf", ".jspf"])
def test_playlists_strip_control_characters(nasty_model, gems_cli, tmp_path, suffix):
    path, _ = nasty_model
    out = tmp_path / f"p{suffix}"
    code, _, err = gems_cli("playlist", "-m", path, "--like", "t1", "--length", 6, "--out", out)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert_safe(text.replace("\n", " "))
    if suffix == ".xspf":
        ET.fromstring(out.read_bytes())
    elif suffix == ".jspf":
        json.loads(text)
    else:
        lines = text.splitlines()
        assert all(line.startswith(("#EXT", "#PLAYLIST:", "../", "file:///music/")) for line in lines), lines


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--like", "\x1b]0;pwned\x07[/]"],
        ["recommend", "--user", "\x1b[2J[bold]u"],
        ["recommend", "--like", "t0", "-k", "\x1b[2J"],
        ["recommend", "--like", "t0", "--scope", "\x9b31m[/]"],
    ],
)
def test_errors_show_what_was_typed_without_its_escapes(nasty_model, gems_cli, args):
    path, _ = nasty_model
    line = assert_one_clear_line(gems_cli(args[0], "-m", path, *args[1:]))
    assert_safe(line)


def test_log_lines_are_stripped_too(nasty_model, gems_cli, tmp_path):
    path, _ = nasty_model
    users = tmp_path / "users.txt"
    users.write_text("u000\n\x1b]0;pwned\x07 nobody\nu000\n")
    code, out, err = gems_cli("export", "-m", path, "--users", users, "-k", 3, "--out", tmp_path / "r.csv")
    assert code == 0, err
    assert "pwned" in err and "more than once" in err
    assert_safe(out + err)
