"""Peak memory of reading large exports, whole commands, beside a naive whole-file read of the same input.

    python benchmarks/ingest_memory.py [--mib 200] [--formats scrobbles listenbrainz ...] [--work DIR]

For each format a synthetic export of about ``--mib`` MiB of text (seeded; invented names) is written once
into ``--work`` and read by ``gems ingest --listens-format auto --out X.parquet`` in a child process; its peak
resident memory (``ru_maxrss`` from ``wait4``) and wall time are measured beside those of the obvious
alternative: the naive read of the same files (times are CPU seconds, user + system) (``pandas.read_csv`` of a CSV, ``json.load`` / ``json.loads`` of
each JSON file, one JSON-lines member after another). The formats: a Last.fm scrobbles CSV (the
``uts,utc_time,artist,...`` layout), a ListenBrainz export zip (``listens/YYYY/M.jsonl``), a Spotify extended
streaming history zip (pretty-printed JSON arrays), Spotify account data (JSON arrays), MPD slices (a folder)
and a listens table (CSV).

Writes results/ingest_memory.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from benchkit import WORK, gems_command, write_result

FORMATS = ("scrobbles", "scrobbles-uts", "listenbrainz", "spotify-history", "spotify-account", "mpd", "table")
MIB = 1 << 20


def _names(rng: random.Random, n: int, word: str) -> list[str]:
    return [f"{word} {i} {rng.choice(['of the Deep', 'Theme', 'Reprise', 'Nocturne', 'Overture'])}" for i in range(n)]


class Catalogue:
    """Invented artists, albums and tracks, Zipf-ish popularity (a few tracks heard often, most rarely)."""

    def __init__(self, seed: int = 0, tracks: int = 60_000):
        self.rng = random.Random(seed)
        artists = _names(self.rng, tracks // 12, "Composer")
        albums = _names(self.rng, tracks // 10, "Soundtrack")
        self.tracks = [
            (artists[i % len(artists)], albums[i % len(albums)], f"Track {i} ({albums[i % len(albums)]})", f"{i:022d}")
            for i in range(tracks)
        ]
        self.weights = [1.0 / (1 + i) ** 0.8 for i in range(tracks)]

    def draw(self, n: int) -> list[tuple[str, str, str, str]]:
        return self.rng.choices(self.tracks, weights=self.weights, k=n)


def _until(target: int, make_chunk) -> None:
    written = 0
    while written < target:
        written += make_chunk()


def scrobbles(path: Path, target: int, cat: Catalogue) -> Path:
    """One listener's lastfm-to-csv export: no header, ``"artist","album","title","31 Jan 2021 14:03"``."""
    t = [1_300_000_000]
    with path.open("w", encoding="utf-8") as out:

        def chunk() -> int:
            lines = []
            for artist, album, title, _code in cat.draw(10_000):
                t[0] += 180
                lines.append(f'"{artist}","{album}","{title}","{time.strftime("%d %b %Y %H:%M", time.gmtime(t[0]))}"\n')
            text = "".join(lines)
            out.write(text)
            return len(text)

        _until(target, chunk)
    return path


def scrobbles_uts(path: Path, target: int, cat: Catalogue) -> Path:
    """One listener's Last.fm export: ``uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid``."""
    t = [1_300_000_000]
    with path.open("w", encoding="utf-8") as out:
        out.write("uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n")

        def chunk() -> int:
            lines = []
            for artist, album, title, code in cat.draw(10_000):
                t[0] += 180
                when = time.strftime("%d %b %Y, %H:%M", time.gmtime(t[0]))
                mbid = f"{code[:8]}-{code[8:12]}-{code[12:16]}-{code[16:20]}-{code[:12]}"
                lines.append(f'{t[0]},"{when}","{artist}",{mbid},"{album}",{mbid},"{title}",{mbid}\n')
            text = "".join(lines)
            out.write(text)
            return len(text)

        _until(target, chunk)
    return path


def listenbrainz(path: Path, target: int, cat: Catalogue) -> Path:
    """A ListenBrainz export zip: ``user.json`` and ``listens/YYYY/M.jsonl``, one month a member."""
    t = 1_400_000_000
    written, month = 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("user.json", json.dumps({"user_id": 1, "username": "alice"}))
        while written < target:
            lines = []
            for artist, album, title, code in cat.draw(6_000):
                t += 200
                meta = {
                    "artist_name": artist,
                    "track_name": title,
                    "release_name": album,
                    "additional_info": {"duration_ms": 200_000, "recording_msid": code, "submission_client": "bench"},
                    "mbid_mapping": {"recording_mbid": code, "recording_name": title, "artists": []},
                }
                lines.append(json.dumps({"listened_at": t, "track_metadata": meta, "user_name": "alice"}) + "\n")
            text = "".join(lines)
            zf.writestr(f"listens/{2014 + month // 12}/{1 + month % 12}.jsonl", text)
            written += len(text)
            month += 1
    return path


def spotify_history(path: Path, target: int, cat: Catalogue) -> Path:
    """Spotify's extended streaming history zip: pretty-printed arrays of ~16,000 plays a file."""
    t = 1_500_000_000
    written, part = 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        while written < target:
            records = []
            for artist, album, title, code in cat.draw(16_000):
                t += 240
                records.append(
                    {
                        "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                        "platform": "android",
                        "ms_played": 30_000 + t % 200_000,
                        "conn_country": "DE",
                        "ip_addr": "192.0.2.1",
                        "master_metadata_track_name": title,
                        "master_metadata_album_artist_name": artist,
                        "master_metadata_album_album_name": album,
                        "spotify_track_uri": f"spotify:track:{code}",
                        "episode_name": None,
                        "episode_show_name": None,
                        "spotify_episode_uri": None,
                        "audiobook_title": None,
                        "audiobook_uri": None,
                        "audiobook_chapter_uri": None,
                        "audiobook_chapter_title": None,
                        "reason_start": "trackdone",
                        "reason_end": "trackdone",
                        "shuffle": False,
                        "skipped": False,
                        "offline": False,
                        "offline_timestamp": None,
                        "incognito_mode": False,
                    }
                )
            text = json.dumps(records, indent=4)
            zf.writestr(f"Spotify Extended Streaming History/Streaming_History_Audio_{part}.json", text)
            written += len(text)
            part += 1
    return path


def spotify_account(path: Path, target: int, cat: Catalogue) -> Path:
    """Spotify account data: a folder of ``StreamingHistory_music_N.json`` arrays of 10,000 plays."""
    path.mkdir(parents=True, exist_ok=True)
    t = 1_500_000_000
    written, part = 0, 0
    while written < target:
        records = []
        for artist, _album, title, _code in cat.draw(10_000):
            t += 240
            end = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
            records.append({"endTime": end, "artistName": artist, "trackName": title, "msPlayed": 30_000 + t % 99_999})
        text = json.dumps(records, indent=2)
        (path / f"StreamingHistory_music_{part}.json").write_text(text)
        written += len(text)
        part += 1
    return path


def mpd(path: Path, target: int, cat: Catalogue) -> Path:
    """A folder of MPD slices of 1,000 playlists each (the full schema, compact JSON as the dataset has it)."""
    path.mkdir(parents=True, exist_ok=True)
    written, part = 0, 0
    while written < target:
        playlists = []
        for p in range(1_000):
            pid = part * 1_000 + p
            tracks = [
                {
                    "pos": i,
                    "artist_name": artist,
                    "track_uri": f"spotify:track:{code}",
                    "artist_uri": f"spotify:artist:{code[:10]}",
                    "track_name": title,
                    "album_uri": f"spotify:album:{code[:12]}",
                    "duration_ms": 200_000,
                    "album_name": album,
                }
                for i, (artist, album, title, code) in enumerate(cat.draw(cat.rng.randint(5, 120)))
            ]
            playlists.append(
                {
                    "name": f"list {pid}",
                    "collaborative": "false",
                    "pid": pid,
                    "modified_at": 1_500_000_000,
                    "num_tracks": len(tracks),
                    "num_albums": 1,
                    "num_followers": 1,
                    "tracks": tracks,
                    "num_edits": 1,
                    "duration_ms": 1,
                    "num_artists": 1,
                }
            )
        first, last = part * 1_000, part * 1_000 + 999
        text = json.dumps({"info": {"slice": f"{first}-{last}", "version": "v1"}, "playlists": playlists}, indent=4)
        (path / f"mpd.slice.{first}-{last}.json").write_text(text)
        written += len(text)
        part += 1
    return path


def table(path: Path, target: int, cat: Catalogue) -> Path:
    """A listens table of many users: ``user_id,track_id,plays,timestamp``."""
    with path.open("w", encoding="utf-8") as out:
        out.write("user_id,track_id,plays,timestamp\n")
        t = [1_600_000_000]

        def chunk() -> int:
            lines = []
            for _a, _b, _c, code in cat.draw(20_000):
                t[0] += 7
                lines.append(f"user{t[0] % 5000},spotify:track:{code},{1 + t[0] % 9},{t[0]}\n")
            text = "".join(lines)
            out.write(text)
            return len(text)

        _until(target, chunk)
    return path


MAKERS = {
    "scrobbles": (scrobbles, "alice.csv"),
    "scrobbles-uts": (scrobbles_uts, "scrobbles-alice.csv"),
    "listenbrainz": (listenbrainz, "listenbrainz_alice.zip"),
    "spotify-history": (spotify_history, "my_spotify_data.zip"),
    "spotify-account": (spotify_account, "Spotify Account Data"),
    "mpd": (mpd, "mpd-slices"),
    "table": (table, "listens.csv"),
}

NAIVE = """
import json, sys, zipfile
from pathlib import Path
path = Path(sys.argv[1])
if path.suffix == ".csv":
    import pandas
    frame = pandas.read_csv(path, dtype=str, header=None)
elif path.suffix == ".zip":
    with zipfile.ZipFile(path) as zf:
        data = [zf.read(name).decode("utf-8") for name in zf.namelist()]
        data = [json.loads(t) if not t.lstrip().startswith("{\\"listened_at") else [json.loads(l) for l in t.splitlines()]
                for t in data]
else:
    data = [json.loads(p.read_text("utf-8")) for p in sorted(path.iterdir())]
"""


def measure(command: list[str]) -> tuple[float, float]:
    """(peak resident MiB, CPU seconds: user + system) of a command, which must succeed, as ``/usr/bin/time``
    reports them (CPU time, not wall time: the machine is shared, and waiting for a core is not the command's
    cost; and not this process's own wait4, whose peak starts from this process's size on Linux)."""
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    err = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err}")
    kib, user, system = err.split()[-3:]
    return int(kib) / 1024, float(user) + float(system)


def input_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist())
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=200, help="text of each export, MiB (default 200)")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--work", type=Path, default=WORK / "ingest-memory")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.formats:
        make, file_name = MAKERS[name]
        path = args.work / f"{args.mib}mib" / file_name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            make(partial, args.mib * MIB, Catalogue())
            partial.rename(path)
        out = args.work / f"{name}.parquet"
        gems_mib, gems_cpu = measure([*gems_command(), "ingest", "--listens", str(path), "--out", str(out)])
        naive_mib, naive_cpu = measure([sys.executable, "-c", NAIVE, str(path)])
        import pyarrow.parquet as pq

        kept = pq.ParquetFile(out).metadata.num_rows
        rows.append(
            {
                "format": name,
                "input_mib": round(input_bytes(path) / MIB, 1),
                "rows_kept": kept,
                "gems_peak_mib": round(gems_mib),
                "gems_cpu_s": round(gems_cpu, 1),
                "naive_peak_mib": round(naive_mib),
                "naive_cpu_s": round(naive_cpu, 1),
                "ratio": round(naive_mib / gems_mib, 2),
            }
        )
        print(rows[-1], flush=True)
    print(
        "\n| export | text MiB | rows kept | gems ingest peak | naive read peak | ratio |\n|---|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| {r['format']} | {r['input_mib']:,} | {r['rows_kept']:,} | {r['gems_peak_mib']:,} MiB ({r['gems_cpu_s']} s CPU) "
            f"| {r['naive_peak_mib']:,} MiB ({r['naive_cpu_s']} s CPU) | {r['ratio']:.2f} |"
        )
    write_result("ingest_memory", {"mib": args.mib, "rows": rows})


if __name__ == "__main__":
    main()
