"""Cut the bundled demo catalogue (``data/demo/``) from freely licensed game soundtracks.

Input is the folder written by the fetch tool (run from the project root)::

    ../shared/tools/fetch-game-soundtracks DEST    # Debian packages -> DEST/<package>/<member>, manifest.csv
    python pipelines/make_demo_catalog.py --source DEST --out data/demo

For every track in ``DEST/manifest.csv`` it writes one excerpt, ``audio/<soundtrack>/<track>.ogg``, plus
``tracks.csv`` and ``ATTRIBUTION.md``. It manages only those three; ``listens.csv`` comes from
``simulate_listens.py`` and ``README.md`` is written by hand.

The excerpt rule (deterministic, no randomness):

* the window is ``--seconds`` long (30 s) and starts one third of the way into the track -- past most intros,
  well before the ending -- moved earlier when needed so that it fits; a track no longer than the window is
  kept whole;
* only that window is decoded (soundfile seek), then downmixed to mono (mean of the channels), resampled to
  22,050 Hz with soxr (HQ), given 50 ms linear fades in and out, and encoded as OGG Vorbis with libsndfile's
  ``compression_level`` (``--compression-level``; 0 = best quality, 1 = smallest);
* libsndfile gives every Ogg stream a random serial number; it is replaced by one derived from the track id,
  so re-running on the same platform reproduces the files byte for byte (no spurious changes in git);
* loudness is left as mastered -- the recommender uses energy features, so quiet tracks stay quiet -- except
  that a window whose peak exceeds full scale after resampling is scaled down to just below it.

Metadata: the manifest's composer wins; otherwise the file's own tags (``composer``, then ``artist``), then an
artist named in the file name (``02 - Robert van Herk - City Blues``), then a project credit for files the
project ships without naming anyone (Warzone 2100's menu music); a composer is never guessed. Titles come from
a single-valued ``title`` tag, else from the manifest, prettified when it is a file stem (``machine_wars`` ->
``Machine Wars``). Some HyperRogue files carry an accumulated, multi-valued ``title`` tag (every title of the
album so far); for those the value matching the file name is used.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import mutagen
import numpy as np
import soundfile as sf
import soxr

FETCH_COMMAND = "../shared/tools/fetch-game-soundtracks DEST  (from the project root; then --source DEST)"
TARGET_SR = 22_050
FADE_S = 0.05
HEADROOM_PEAK = 0.999
SIZE_LIMIT_BYTES = 15_000_000

TRACK_COLUMNS = [
    "track_id",
    "title",
    "soundtrack",
    "game",
    "composer",
    "licence",
    "duration_s",
    "path",
    "source_package",
    "source_version",
    "source_member",
    "source_duration_s",
    "excerpt_start_s",
    "track_no",
]

# Short, readable folder and id prefixes; any soundtrack not listed is slugified from its name.
SOUNDTRACK_SLUGS = {
    "Battle for Wesnoth 1.16": "wesnoth",
    "Advanced Strategic Command": "asc",
    "Endgame: Singularity": "singularity",
    "Warzone 2100 OST": "warzone2100-ost",
    "Legacy Soundtrack": "warzone2100-legacy",
    "Aftermath Soundtrack": "warzone2100-aftermath",
}

# Upstream home pages, only where the project is known for sure.
UPSTREAM = {
    "wesnoth-1.16-music": "https://www.wesnoth.org",
    "singularity-music": "https://github.com/singularity/singularity",
    "hyperrogue-music": "https://roguetemple.com/z/hyper/",
    "frozen-bubble-data": "http://www.frozen-bubble.org",
    "warzone2100-music": "https://wz2100.net",
    "lincity-ng-data": "https://github.com/lincity-ng/lincity-ng",
    "asc-music": "https://www.asc-hq.org",
}

# Credit for files a project ships without naming a composer anywhere (manifest, tags or file name).
PROJECT_CREDITS = {"warzone2100-music": "Warzone 2100 Project"}
UNCREDITED = "uncredited (see package copyright)"

# File-stem prefixes that name the game or composer rather than the piece (hr-domina-hunting -> Hunting).
STEM_PREFIXES = {"hyperrogue-music": re.compile(r"^hr\d*-(?:domina-|savino-)?")}

LICENCE_TERMS = {
    "CC-BY-SA-3.0": "Creative Commons Attribution-ShareAlike 3.0 Unported "
    "(<https://creativecommons.org/licenses/by-sa/3.0/>).",
    "CC-BY-SA-3.0+ or GPL-2+": "dual-licensed, at your option, under Creative Commons "
    "Attribution-ShareAlike 3.0 or any later version (<https://creativecommons.org/licenses/by-sa/3.0/>) "
    "or the GNU General Public License version 2 or any later version "
    "(<https://www.gnu.org/licenses/old-licenses/gpl-2.0.html>).",
    "GPL-2+": "GNU General Public License version 2 or (at your option) any later version "
    "(<https://www.gnu.org/licenses/old-licenses/gpl-2.0.html>).",
    "GPL-2": "GNU General Public License version 2 only (<https://www.gnu.org/licenses/old-licenses/gpl-2.0.html>).",
}

SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to"}
NUMBERED_NAME = re.compile(r"^\d+\s*-\s*(?P<artist>.+?)\s*-\s*(?P<title>.+)$")


@dataclass
class Track:
    """One manifest row, resolved to the demo's metadata and excerpt window."""

    row: dict[str, str]
    title: str
    composer: str
    composer_note: str
    soundtrack_slug: str
    track_slug: str = ""
    track_no: int = 0
    start_s: float = 0.0
    duration_s: float = 0.0
    source_duration_s: float = 0.0

    @property
    def track_id(self) -> str:
        return f"{self.soundtrack_slug}-{self.track_slug}"

    @property
    def rel_path(self) -> str:
        return f"audio/{self.soundtrack_slug}/{self.track_slug}.ogg"


# ----------------------------------------------------------------------------------------------- metadata


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by hyphens ("Journey's End" -> "journeys-end")."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def prettify(name: str) -> str:
    """Turn a file-stem-like name ("time_to_strike") into a title ("Time to Strike"); keep real titles."""
    if not re.fullmatch(r"[a-z0-9_\-]+", name):
        return name
    words = [w for w in re.split(r"[_\-]+", name) if w]
    return " ".join(w if i and w in SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text.casefold())]


def _tag_values(tags, key: str) -> list[str]:
    if tags is None or key not in tags:
        return []
    values = tags[key] if isinstance(tags[key], list) else [tags[key]]
    return [str(v).strip() for v in values if str(v).strip()]


def _title_from_tags(titles: list[str], stem: str) -> str | None:
    if len(titles) == 1:
        return titles[0]
    # An accumulated multi-valued tag: keep the one value that matches the file name, if exactly one does.
    last_word = _squash(re.split(r"[-_ ]", stem)[-1])
    matches = [t for t in titles if last_word and last_word in _squash(t)]
    return matches[0] if len(matches) == 1 else None


def resolve_metadata(row: dict[str, str], path: Path) -> tuple[str, str, str]:
    """(title, composer, note on where the composer credit came from) for one manifest row."""
    tags = mutagen.File(path).tags
    stem = Path(row["member"]).stem
    name_match = NUMBERED_NAME.match(row["title"])

    manifest_title = name_match["title"] if name_match else row["title"]
    prefix = STEM_PREFIXES.get(row["package"])
    if prefix and manifest_title == stem:
        manifest_title = prefix.sub("", manifest_title)
    title = _title_from_tags(_tag_values(tags, "title"), stem) or prettify(manifest_title)

    if row["composer"].strip():
        return title, row["composer"].strip(), ""
    for key in ("composer", "artist"):
        values = _tag_values(tags, key)
        if len(values) == 1:
            return title, values[0], f"composer taken from the file's `{key}` tag"
    if name_match:
        return title, name_match["artist"], "composer taken from the file name"
    if row["package"] in PROJECT_CREDITS:
        credit = PROJECT_CREDITS[row["package"]]
        note = f"no composer is named in the manifest, the file's tags or its name; credited to the {credit}"
        return title, credit, note
    return title, UNCREDITED, "no composer is named in the manifest, the file's tags or its name"


def assign_slugs_and_order(tracks: list[Track]) -> None:
    """Number tracks within each soundtrack (natural order of the member path) and give unique track slugs.

    A track's slug is its title's slug; when two tracks of one soundtrack share it (Wesnoth has two
    "Frantic"), those tracks use their file stems instead.
    """
    by_soundtrack: dict[str, list[Track]] = {}
    for track in tracks:
        by_soundtrack.setdefault(track.soundtrack_slug, []).append(track)
    for group in by_soundtrack.values():
        group.sort(key=lambda t: _natural_key(t.row["member"]))
        title_slugs = [slugify(t.title) for t in group]
        for number, (track, slug) in enumerate(zip(group, title_slugs), start=1):
            track.track_no = number
            unique = title_slugs.count(slug) == 1
            track.track_slug = slug if unique else slugify(Path(track.row["member"]).stem)
        slugs = [t.track_slug for t in group]
        if len(set(slugs)) != len(slugs):
            raise SystemExit(
                f"error: duplicate track slugs in soundtrack {group[0].row['soundtrack']!r}: "
                f"{slugs}; give the tracks distinct titles or file names"
            )


# -------------------------------------------------------------------------------------------------- audio


def excerpt_window(frames: int, samplerate: int, seconds: float) -> tuple[int, int]:
    """(start frame, frame count) of the excerpt: starts at 1/3 of the track, moved earlier to fit."""
    length = min(frames, int(round(seconds * samplerate)))
    return min(frames // 3, frames - length), length


def cut_excerpt(path: Path, seconds: float) -> tuple[np.ndarray, float, float]:
    """Decode only the excerpt window of ``path``.

    Returns (mono float32 samples at 22,050 Hz, window start in s, source length in s).
    """
    info = sf.info(str(path))
    start, length = excerpt_window(info.frames, info.samplerate, seconds)
    with sf.SoundFile(str(path)) as f:
        f.seek(start)
        audio = f.read(length, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if info.samplerate != TARGET_SR:
        mono = soxr.resample(mono, info.samplerate, TARGET_SR, quality="HQ").astype(np.float32)
    peak = float(np.abs(mono).max(initial=0.0))
    if peak > HEADROOM_PEAK:
        mono *= HEADROOM_PEAK / peak
    fade = min(int(FADE_S * TARGET_SR), len(mono) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        mono[:fade] *= ramp
        mono[-fade:] *= ramp[::-1]
    return mono, start / info.samplerate, info.frames / info.samplerate


def write_excerpt(track: Track, audio: np.ndarray, dest: Path, compression_level: float) -> None:
    """Write ``audio`` as OGG Vorbis with title/artist/album/licence comments naming the source."""
    row = track.row
    with sf.SoundFile(
        str(dest),
        "w",
        samplerate=TARGET_SR,
        channels=1,
        format="OGG",
        subtype="VORBIS",
        compression_level=compression_level,
    ) as f:
        f.title = track.title
        f.artist = track.composer
        f.album = row["soundtrack"]
        f.license = row["license"]
        f.comment = (
            f"Excerpt ({track.start_s:.2f} s + {track.duration_s:.2f} s) of {row['member']} from "
            f"Debian package {row['package']} {row['version']}; downmixed to mono, resampled to "
            "22050 Hz, faded in/out and re-encoded by gems' make_demo_catalog.py"
        )
        f.write(audio)


_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg's page CRC (polynomial 0x04C11DB7, not reflected, init 0) via zlib's reflected CRC-32."""
    reflected = zlib.crc32(page.translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def stamp_ogg_serial(path: Path, serial: int) -> None:
    """Rewrite the stream serial number of every page of a single-stream Ogg file and fix the page CRCs."""
    data = bytearray(path.read_bytes())
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS":
            raise ValueError(f"{path}: no Ogg page at byte {pos}")
        n_segments = data[pos + 26]
        end = pos + 27 + n_segments + sum(data[pos + 27 : pos + 27 + n_segments])
        data[pos + 14 : pos + 18] = serial.to_bytes(4, "little")
        data[pos + 22 : pos + 26] = bytes(4)
        data[pos + 22 : pos + 26] = _ogg_crc(bytes(data[pos:end])).to_bytes(4, "little")
        pos = end
    path.write_bytes(bytes(data))


# ----------------------------------------------------------------------------------------------- writing


def write_tracks_csv(tracks: list[Track], dest: Path) -> None:
    with open(dest, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(TRACK_COLUMNS)
        for t in tracks:
            r = t.row
            writer.writerow(
                [
                    t.track_id,
                    t.title,
                    r["soundtrack"],
                    r["game"],
                    t.composer,
                    r["license"],
                    f"{t.duration_s:.2f}",
                    t.rel_path,
                    r["package"],
                    r["version"],
                    r["member"],
                    f"{t.source_duration_s:.2f}",
                    f"{t.start_s:.2f}",
                    t.track_no,
                ]
            )


def attribution_markdown(tracks: list[Track], seconds: float) -> str:
    """ATTRIBUTION.md: a header on the licences, then one entry per track grouped by soundtrack."""
    lines = [
        "# Attribution for the demo audio excerpts",
        "",
        "The files under `audio/` are short excerpts of music from free games, taken from their Debian",
        "packages. They are redistributed under **their original licences**, listed per track below. The",
        "licence of gems' own code does **not** apply to them; using them means following each track's",
        "licence.",
        "",
        f"**Modifications (all tracks):** each file is an excerpt of at most {seconds:g} s of the original",
        "recording (start and length given per track), downmixed to mono, resampled to 22,050 Hz, faded in",
        "and out over 50 ms and re-encoded as OGG Vorbis (lossy). No other change was made. The excerpts are",
        "distributed under the same licence as their source, as CC BY-SA (ShareAlike) and the GPL require.",
        "The complete, unmodified originals -- the corresponding source for these files -- are in the Debian",
        "packages named below (every version is archived at <https://snapshot.debian.org>) and at each",
        "game's upstream home page.",
        "",
        "Licence terms, by the identifiers used below:",
        "",
    ]
    used = sorted({t.row["license"] for t in tracks})
    for licence in used:
        lines.append(f"- `{licence}`: {LICENCE_TERMS.get(licence, 'see the Debian package copyright file.')}")
    lines += ["", "Re-make these files with `pipelines/make_demo_catalog.py` (see `README.md`).", ""]

    by_soundtrack: dict[str, list[Track]] = {}
    for t in tracks:
        by_soundtrack.setdefault(t.row["soundtrack"], []).append(t)
    for soundtrack, group in by_soundtrack.items():
        first = group[0].row
        upstream = UPSTREAM.get(first["package"])
        lines += [
            f"## {soundtrack} ({first['game']})",
            "",
            f"Source: Debian package `{first['package']}` version `{first['version']}`"
            + (f"; upstream project <{upstream}>." if upstream else "."),
            "",
        ]
        for t in group:
            r = t.row
            lines.append(f"- **{t.title}** by {t.composer} -- `{t.rel_path}`")
            lines.append(f"  - soundtrack: {soundtrack}; game: {r['game']}; licence: `{r['license']}`")
            lines.append(f"  - source: `{r['package']}` {r['version']}, `{r['member']}` ({t.source_duration_s:.1f} s)")
            lines.append(
                f"  - excerpt: {t.start_s:.2f} s to {t.start_s + t.duration_s:.2f} s "
                f"({t.duration_s:.2f} s), downmixed, resampled and re-encoded as described above"
            )
            if t.composer_note:
                lines.append(f"  - credit: {t.composer_note}")
        lines.append("")
    return "\n".join(lines)


def _replace(tmp: Path, final: Path) -> None:
    if final.is_dir():
        shutil.rmtree(final)
    os.replace(tmp, final)


# -------------------------------------------------------------------------------------------------- main


def load_manifest(source: Path) -> list[dict[str, str]]:
    manifest = source / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"error: no manifest.csv in {source}; fetch the soundtracks first:\n  {FETCH_COMMAND}")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = [source / r["path"] for r in rows if not (source / r["path"]).is_file()]
    if missing:
        raise SystemExit(
            f"error: {len(missing)} audio file(s) named in {manifest} are missing, e.g. "
            f"{missing[0]}; re-fetch them:\n  {FETCH_COMMAND}"
        )
    return rows


def build(source: Path, out: Path, *, seconds: float, compression_level: float) -> list[Track]:
    """Cut every excerpt into ``out/audio``; write ``tracks.csv`` and ``ATTRIBUTION.md``; return tracks."""
    rows = load_manifest(source)
    tracks = []
    for row in rows:
        title, composer, note = resolve_metadata(row, source / row["path"])
        slug = SOUNDTRACK_SLUGS.get(row["soundtrack"]) or slugify(row["soundtrack"])
        tracks.append(Track(row=row, title=title, composer=composer, composer_note=note, soundtrack_slug=slug))
    assign_slugs_and_order(tracks)
    tracks.sort(key=lambda t: (t.soundtrack_slug, t.track_no))

    out.mkdir(parents=True, exist_ok=True)
    audio_tmp = out / f"audio.tmp-{os.getpid()}"
    shutil.rmtree(audio_tmp, ignore_errors=True)
    try:
        for i, track in enumerate(tracks, start=1):
            audio, track.start_s, track.source_duration_s = cut_excerpt(source / track.row["path"], seconds)
            track.duration_s = len(audio) / TARGET_SR
            dest = audio_tmp / track.soundtrack_slug / f"{track.track_slug}.ogg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_excerpt(track, audio, dest, compression_level)
            stamp_ogg_serial(dest, zlib.crc32(track.track_id.encode()))
            print(
                f"[{i:3d}/{len(tracks)}] {track.rel_path}  ({track.duration_s:.1f} s, "
                f"{dest.stat().st_size / 1e3:.0f} kB)",
                file=sys.stderr,
            )
        audio_bytes = sum(p.stat().st_size for p in audio_tmp.rglob("*.ogg"))
        if audio_bytes > SIZE_LIMIT_BYTES:
            raise SystemExit(
                f"error: the excerpts take {audio_bytes / 1e6:.1f} MB, over the demo's "
                f"{SIZE_LIMIT_BYTES / 1e6:.0f} MB budget; raise --compression-level (now "
                f"{compression_level}) or lower --seconds (now {seconds:g}). "
                "Nothing was replaced."
            )
        _replace(audio_tmp, out / "audio")
    finally:
        shutil.rmtree(audio_tmp, ignore_errors=True)

    for name, writer in (
        ("tracks.csv", lambda p: write_tracks_csv(tracks, p)),
        ("ATTRIBUTION.md", lambda p: p.write_text(attribution_markdown(tracks, seconds), encoding="utf-8")),
    ):
        tmp = out / f"{name}.tmp-{os.getpid()}"
        writer(tmp)
        os.replace(tmp, out / name)
    return tracks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Fetch the sources first with:\n  {FETCH_COMMAND}",
    )
    parser.add_argument("--source", type=Path, help="folder written by fetch-game-soundtracks (required)")
    parser.add_argument("--out", type=Path, default=Path("data/demo"), help="demo folder (default: data/demo)")
    parser.add_argument("--seconds", type=float, default=30.0, help="excerpt length in seconds (default: 30)")
    parser.add_argument(
        "--compression-level",
        type=float,
        default=0.95,
        help="libsndfile Vorbis compression level, 0 = best quality .. 1 = smallest (default: 0.95)",
    )
    args = parser.parse_args(argv)
    if args.source is None:
        parser.error(f"--source is required: the folder of fetched soundtracks. Fetch it with:\n  {FETCH_COMMAND}")
    if not args.source.is_dir():
        parser.error(f"--source {args.source} is not a folder. Fetch the soundtracks with:\n  {FETCH_COMMAND}")
    if not 0 < args.seconds:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    if not 0 <= args.compression_level <= 1:
        parser.error(f"--compression-level must be between 0 and 1, got {args.compression_level}")

    tracks = build(args.source, args.out, seconds=args.seconds, compression_level=args.compression_level)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    soundtracks = {t.row["soundtrack"] for t in tracks}
    print(
        f"{len(tracks)} excerpts from {len(soundtracks)} soundtracks in {args.out}; "
        f"folder now {total / 1e6:.2f} MB (Vorbis compression level {args.compression_level})"
    )
    for t in tracks:
        if t.composer_note:
            print(f"  {t.track_id}: {t.composer} ({t.composer_note})")


if __name__ == "__main__":
    main()
