"""Large and many-membered inputs (issue 16): budgets on a zip as a whole — the bytes its members inflate to
together, their ratio, how many are opened — refuse before inflating, in one clear line, and reading any
export is streamed, so memory follows the rows kept, not the size of the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hostilekit import assert_one_clear_line

from gems.errors import DataError
from gems.ingest import archive, read_listens, streaming

LISTEN = {"listened_at": 1_700_000_000, "track_metadata": {"artist_name": "Composer", "track_name": "Theme"}}


def probe_zip(path: Path, members: int, size: int) -> Path:
    """The issue's probe: a ListenBrainz export whose ``members`` members of ``size`` bytes each (listens, then
    blank lines) deflate to almost nothing."""
    line = (json.dumps(LISTEN) + "\n").encode()
    body = line + b"\n" * (size - len(line))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("user.json", '{"username": "alice"}')
        for i in range(members):
            zf.writestr(f"listens/{2000 + i // 12}/{1 + i % 12}.jsonl", body)
    return path


@pytest.fixture(scope="module")
def issue_probe(tmp_path_factory) -> Path:
    return probe_zip(tmp_path_factory.mktemp("probe") / "listenbrainz_alice.zip", 2000, 1 << 20)


def test_the_issues_2000_members_of_1_mib_are_refused_before_anything_is_inflated(issue_probe, tmp_path, gems_cli):
    path = issue_probe
    assert path.stat().st_size < 16 << 20
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            read_listens(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 10 and peak < 64 << 20, peak
    assert "its 2,001 members together inflates to" in str(caught.value)
    line = assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"), str(path))
    assert "2,000.0 MiB" in line and "1,024.0 MiB" in line


@pytest.mark.parametrize("command", ["recommend", "playlist"])
def test_recommend_and_playlist_history_refuse_it_too(issue_probe, tmp_path, gems_cli, built_model, command):
    out = ["--out", tmp_path / "p.m3u8"] if command == "playlist" else []
    assert_one_clear_line(gems_cli(command, "-m", built_model, "--history", issue_probe, *out), "together")


def test_an_archive_that_inflates_more_than_100_to_1_in_all_is_a_zip_bomb(tmp_path, gems_cli):
    path = probe_zip(tmp_path / "listenbrainz_alice.zip", 100, 1 << 20)  # 100 MiB: under 1 GiB, ~1,000 to 1
    line = assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"), "zip bomb")
    assert "together inflates" in line and "100 to 1" in line


def test_opening_more_members_than_the_budget_is_one_clear_error(tmp_path, monkeypatch, gems_cli):
    monkeypatch.setattr(archive, "MAX_MEMBERS_READ", 40)
    path = probe_zip(tmp_path / "listenbrainz_alice.zip", 41, 200)
    line = assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"), str(path))
    assert "more than 40 of its members" in line
    path = probe_zip(tmp_path / "listenbrainz_bob.zip", 39, 200)
    listens, report = read_listens(path)
    assert len(listens) == 1 and report.set_aside == {"duplicate listen": 38}


def test_bytes_inflated_are_counted_whatever_the_directory_says(tmp_path, monkeypatch):
    path = probe_zip(tmp_path / "listenbrainz_alice.zip", 3, 4096)
    zipped = archive.Archive(path)
    monkeypatch.setattr(archive, "MAX_INFLATED", 10_000)
    with zipped.open("listens/2000/1.jsonl") as first, zipped.open("listens/2000/2.jsonl") as second:
        assert len(first.read()) == 4096 and len(second.read(4096)) == 4096
        with zipped.open("listens/2000/3.jsonl") as third, pytest.raises(DataError, match="more than 9.8 KiB|10,000"):
            third.read()


def test_a_line_longer_than_the_limit_is_refused(tmp_path, monkeypatch, gems_cli):
    """A line is held until it ends: one that never does (past the limit) is refused instead of filling memory."""
    monkeypatch.setattr(streaming, "MAX_LINE_CHARS", 1000)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 256)
    path = tmp_path / "listens.jsonl"
    path.write_text(json.dumps(LISTEN) + "\n" + '{"a": "' + "x" * 5000 + '"}\n')
    line = assert_one_clear_line(gems_cli("ingest", "--listens", path, "--out", tmp_path / "o.parquet"), str(path))
    assert "a line longer than" in line


PEAK = """
import json, sys
from pathlib import Path
path = Path(sys.argv[2])
if sys.argv[1] == "naive":
    records = json.loads(path.read_text())
else:
    from gems.ingest import read_listens
    listens, report = read_listens(path, format="spotify-history")
    assert report.rows_kept == int(sys.argv[3]), report.summary_lines()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the process that started this one
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def spotify_history(path: Path, plays: int) -> Path:
    """``plays`` plays of 1,000 distinct tracks, pretty-printed as Spotify writes them (~560 bytes a play); one
    in 100 is a listen, the others are skips (1 s)."""
    record = {
        "ts": "",
        "platform": "android",
        "ms_played": 60_000,
        "conn_country": "DE",
        "ip_addr": "192.0.2.1",
        "master_metadata_track_name": "",
        "master_metadata_album_artist_name": "Composer",
        "master_metadata_album_album_name": "Soundtrack",
        "spotify_track_uri": "",
        "episode_name": None,
        "reason_start": "trackdone",
        "reason_end": "trackdone",
        "shuffle": False,
        "skipped": False,
        "offline": False,
        "incognito_mode": False,
    }
    with path.open("w") as out:
        out.write("[\n")
        for i in range(plays):
            record["ts"] = f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}Z"
            record["master_metadata_track_name"] = f"Track {i % 1000}"
            record["spotify_track_uri"] = f"spotify:track:{i % 1000:022d}"
            record["ms_played"] = 60_000 if i % 100 == 0 else 1_000
            out.write(json.dumps(record, indent=4) + (",\n" if i < plays - 1 else "\n"))
        out.write("]\n")
    return path


def test_memory_follows_the_rows_kept_not_the_size_of_the_file(tmp_path):
    """120,000 plays (~70 MB of JSON, 1,200 of them listens) against 1,000: what reading them adds to the peak
    memory of a process stays under half of what a bare ``json.loads`` adds (it holds every record at once)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}

    def peak(mode: str, path: Path, plays: int) -> int:
        command = [sys.executable, "-c", PEAK, mode, str(path), str(plays)]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    small = spotify_history(tmp_path / "Streaming_History_Audio_2022.json", 1_000)
    large = spotify_history(tmp_path / "Streaming_History_Audio_2023.json", 120_000)
    naive = peak("naive", large, 1_200) - peak("naive", small, 10)
    streamed = peak("gems", large, 1_200) - peak("gems", small, 10)
    assert streamed < naive / 2, (streamed, naive)
