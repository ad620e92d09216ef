"""Odd audio folders, built here on the fly: FIFOs, sockets and devices posing as audio files, symlink loops and
broken links, unreadable files and folders. The scan sets each aside with its reason, hashing and decoding never
block on them, and the build goes on with the good files."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostilekit import FUZZ, assert_one_clear_line, running_as_root
from hypothesis import given
from hypothesis import strategies as st

from gems.artifacts.hashing import InputHasher
from gems.audio.decode import AUDIO_EXTENSIONS, AudioFileError, load_excerpt
from gems.audio.stage import hash_audio_files
from gems.errors import DataError
from gems.ingest import ingest_sources
from gems.ingest.catalog import read_tags, scan_audio_folder

SR = 22050


def tone(path: Path, freq: float, seconds: float = 3.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(int(freq))
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), SR, format="OGG", subtype="VORBIS")
    return path


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    """Three real tones in ``Skyward/music`` beside a FIFO, a socket, a link to /dev/zero, a link to itself, a
    link back to a folder above it, a broken link and a hidden file."""
    music = tmp_path / "odd" / "Skyward" / "music"
    for i, freq in enumerate((220.0, 330.0, 495.0)):
        tone(music / f"track{i}.ogg", freq)
    os.mkfifo(music / "pipe.ogg")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(music / "socket.ogg"))
    (music / "zero.ogg").symlink_to("/dev/zero")
    (music / "self.ogg").symlink_to("self.ogg")
    (music / "up").symlink_to("../..")
    (music / "gone.ogg").symlink_to("nowhere.ogg")
    (music / ".hidden.ogg").write_bytes(b"x")
    yield tmp_path / "odd"
    listener.close()


EXPECTED_SET_ASIDE = {"not a regular file": 3, "symlink loop": 2, "broken symlink": 1}


def test_the_scan_sets_odd_entries_aside_with_their_reason(odd_folder):
    frame, report = scan_audio_folder(odd_folder, extensions=AUDIO_EXTENSIONS)
    assert sorted(frame["title"]) == ["Track0", "Track1", "Track2"]
    assert set(frame["soundtrack"]) == {"Skyward"}
    assert dict(report.set_aside) == EXPECTED_SET_ASIDE
    examples = " ".join(e for found in report.examples.values() for e in found)
    for words in ("pipe.ogg: is a FIFO (named pipe)", "socket.ogg: is a socket", "zero.ogg: is a character device"):
        assert words in examples
    assert "leads back to" in examples and "nowhere.ogg" in examples


def test_hashing_the_folder_goes_on_and_notices_a_change(odd_folder):
    before = InputHasher().path(odd_folder)
    assert InputHasher().path(odd_folder) == before
    (odd_folder / "Skyward" / "music" / "gone.ogg").unlink()
    assert InputHasher().path(odd_folder) != before


def test_hashing_and_decoding_special_files_never_block(odd_folder):
    music = odd_folder / "Skyward" / "music"
    paths = [str(music / name) for name in ("pipe.ogg", "socket.ogg", "zero.ogg", "self.ogg", "gone.ogg")]
    hashed = hash_audio_files([str(music / "track0.ogg"), *paths], InputHasher())
    assert hashed.hashes[0] is not None
    codes = [hashed.problems[i][0] for i in range(1, 6)]
    assert codes == ["not_a_file", "not_a_file", "not_a_file", "unreadable", "missing"]
    assert "symlink loop" in hashed.problems[4][1]
    for path in paths[:3]:
        with pytest.raises(AudioFileError) as caught:
            load_excerpt(path)
        assert caught.value.code == "not_a_file" and "not a regular file" in caught.value.reason


def test_ingest_goes_on_with_the_good_files(odd_folder):
    ingested = ingest_sources(audio=odd_folder, audio_extensions=AUDIO_EXTENSIONS)
    assert len(ingested.tracks) == 3
    assert dict(ingested.reports[0].set_aside) == EXPECTED_SET_ASIDE


def test_unreadable_files_and_folders_are_set_aside(tmp_path, deny):
    """A ``chmod 000`` file and folder, as anyone but root meets them (the denial is injected: root reads all)."""
    music = tmp_path / "music" / "Skyward"
    for i, freq in enumerate((220.0, 330.0)):
        tone(music / f"track{i}.ogg", freq, seconds=0.5)
    locked = tone(music / "locked.ogg", 440.0, seconds=0.5)
    tone(music / "vault" / "inside.ogg", 550.0, seconds=0.5)
    deny(locked, music / "vault")
    frame, report = scan_audio_folder(tmp_path / "music", extensions=AUDIO_EXTENSIONS)
    assert sorted(frame["title"]) == ["Track0", "Track1"]
    assert dict(report.set_aside) == {"unreadable file": 1, "unreadable folder": 1}
    assert all("permission denied" in found[0] for found in report.examples.values())
    InputHasher().path(tmp_path / "music")  # goes on
    hashed = hash_audio_files([str(locked)], InputHasher())
    assert hashed.problems[0][0] == "unreadable" and "permission denied" in hashed.problems[0][1]


def test_a_folder_of_nothing_readable_says_why(tmp_path, deny, gems_cli):
    folder = tmp_path / "music"
    tone(folder / "a.ogg", 220.0, seconds=0.5)
    deny(folder)
    with pytest.raises(DataError, match=r"no audio files in .*music \(1 set aside, e\.g\. .*permission denied"):
        scan_audio_folder(folder, extensions=AUDIO_EXTENSIONS)
    result = gems_cli("build", "--audio", folder, "--model", tmp_path / "model", "--no-progress")
    assert_one_clear_line(result, "permission denied")


def test_chmod_000_with_real_permissions(tmp_path):
    if running_as_root():
        pytest.skip("running as root, which reads chmod 000 files; the injected denial above covers this case")
    folder = tmp_path / "music"
    tone(folder / "a.ogg", 220.0, seconds=0.5)
    locked = tone(folder / "b.ogg", 330.0, seconds=0.5)
    locked.chmod(0)
    try:
        frame, report = scan_audio_folder(folder, extensions=AUDIO_EXTENSIONS)
    finally:
        locked.chmod(0o644)
    assert len(frame) == 1 and dict(report.set_aside) == {"unreadable file": 1}


def test_a_catalogue_that_names_a_fifo(tmp_path):
    """The audio stage hashes the paths a catalogue names: a FIFO there is a failure, not a hang."""
    os.mkfifo(tmp_path / "pipe.ogg")
    hashed = hash_audio_files([str(tmp_path / "pipe.ogg")], InputHasher())
    assert hashed.problems == {0: ("not_a_file", hashed.problems[0][1])}


@pytest.mark.slow
def test_gems_build_reports_the_odd_entries_and_builds(odd_folder, tmp_path, gems_cli):
    code, out, err = gems_cli("build", "--audio", odd_folder, "--model", tmp_path / "model", "--no-progress")
    assert code == 0, err
    assert "3 of 9 rows kept" in out
    for reason in EXPECTED_SET_ASIDE:
        assert f"× {reason}" in out
    assert "bug in gems" not in out + err


@pytest.mark.slow
def test_gems_extract_lists_the_odd_files_and_a_full_disk_is_one_clear_line(
    odd_folder, tmp_path, gems_cli, monkeypatch
):
    code, out, err = gems_cli("extract", odd_folder, "--out", tmp_path / "e.parquet", "--no-progress")
    assert code == 0, err
    assert "not_a_file" in out and "FIFO" in out and "bug in gems" not in out + err
    import gems.safe_files

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(gems.safe_files, "write_atomic", full)
    result = gems_cli("extract", odd_folder, "--out", tmp_path / "f.parquet", "--no-progress")
    assert_one_clear_line(result, "f.parquet", "no space left")


HEADS = [b"", b"OggS\x00\x02", b"fLaC", b"ID3\x04\x00", b"\xff\xfb", b"RIFF\x00\x00\x00\x00WAVEfmt "]


@FUZZ
@given(head=st.sampled_from(HEADS), body=st.binary(max_size=3000), suffix=st.sampled_from(sorted(AUDIO_EXTENSIONS)))
def test_random_bytes_as_audio(head, body, suffix):
    """Tags of a damaged file read as none, and decoding it fails with a reason: never another exception."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(head + body)
        assert isinstance(read_tags(path), dict)
        try:
            load_excerpt(path, min_duration_s=0.1)
        except AudioFileError as exc:
            assert exc.reason
