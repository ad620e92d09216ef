"""Catalogues: a table of tracks (CSV/TSV/Parquet), or a folder of audio files described by their tags."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.common import is_missing
from gems.ingest.report import IngestReport
from gems.ingest.safe_read import machine_errors
from gems.ingest.schema import clean_text, finalize_catalog
from gems.ingest.tabular import pick_column, read_table
from gems.safe_files import Skipped, describe_os_error, iter_files, open_regular

CATALOG_ROLES: dict[str, tuple[str, ...]] = {
    "track_id": ("track_id", "trackid", "id", "item_id", "track_uri", "uri"),
    "title": ("title", "track_name", "name", "track"),
    "artist": ("artist", "artist_name", "composer", "creator"),
    "soundtrack": ("soundtrack", "album", "album_name", "game"),
    "duration_s": ("duration_s", "duration", "length", "seconds"),
    "duration_ms": ("duration_ms",),
    "path": ("path", "file", "filename", "location", "audio"),
}


def read_catalog(path: str | Path) -> tuple[pd.DataFrame, IngestReport]:
    """Read a catalogue table. Audio paths are resolved against the catalogue's folder.

    Rows without a track id and repeated track ids (all but the first) are set aside with their line.
    """
    raw = read_table(path, known_names={n for names in CATALOG_ROLES.values() for n in names})
    frame = raw.frame
    report = IngestReport(source=str(raw.path), format="catalog", rows_read=len(frame) + len(raw.malformed))
    for line, detail in raw.malformed:
        report.set_aside_row("malformed row", f"{raw.path}:{line}: {detail}")
    cols = list(frame.columns)
    found = {role: pick_column(cols, names, None, role=role, path=raw.path) for role, names in CATALOG_ROLES.items()}
    if found["track_id"] is None:
        raise DataError(f"{raw.path}: no track id column; expected one of {', '.join(CATALOG_ROLES['track_id'])}")

    out = frame.copy()
    # source columns stay as they are; the canonical ones are added beside them (composer -> artist, ...)
    for role in ("track_id", "title", "artist", "soundtrack", "path"):
        if found[role]:
            out[role] = clean_text(frame[found[role]])
    if found["duration_s"]:
        out["duration_s"] = pd.to_numeric(frame[found["duration_s"]], errors="coerce")
    elif found["duration_ms"]:
        out["duration_s"] = pd.to_numeric(frame[found["duration_ms"]], errors="coerce") / 1000.0
    if "title" not in out:
        out["title"] = out["track_id"]
    out["title"] = out["title"].fillna(out["track_id"])
    if "path" in out:
        base = raw.path.parent.resolve()
        out["path"] = out["path"].map(lambda p: None if pd.isna(p) else str((base / p).resolve()), na_action=None)

    keep = np.ones(len(out), dtype=bool)
    missing = out["track_id"].isna().to_numpy()
    for position in np.flatnonzero(missing):
        report.set_aside_row("missing track id", raw.where(position))
    keep &= ~missing
    duplicated = out["track_id"].duplicated(keep="first").to_numpy() & keep
    for position in np.flatnonzero(duplicated):
        report.set_aside_row("repeated track id", f"{raw.where(position)}: {out['track_id'].iloc[position]}")
    keep &= ~duplicated
    report.rows_kept = int(keep.sum())
    return finalize_catalog(out[keep]), report


# --------------------------------------------------------------------------------------------- audio folders

_NUMBERED = re.compile(r"^\s*\d{1,3}\s*[-_.]\s*")
_ARTIST_TITLE = re.compile(r"^(?P<artist>[^-]+?)\s+-\s+(?P<title>.+)$")
# folder names that say what a folder holds or where it sits, not which album: never a soundtrack's name
GENERIC_FOLDERS = frozenset(
    """music musics snd sound sounds audio data default ogg mp3 flac opus wav usr share local opt lib games game
    core assets res resources media bgm songs tracks albums ost soundtrack soundtracks files misc""".split()
)
_GENERIC_PATTERN = re.compile(r"^(v?\d+([._-]\d+)*|(cd|disc|disk)\s*\d+)$")  # 1.16, v2, CD1, Disc 2
_WORD = re.compile(r"[^\W_]+")


def _pretty(stem: str) -> str:
    """``machine_wars`` -> ``Machine Wars``; names with capitals or spaces are kept as they are."""
    if " " in stem or any(c.isupper() for c in stem):
        return stem.strip()
    return re.sub(r"[_-]+", " ", stem).strip().title()


def title_from_name(stem: str) -> tuple[str, str | None]:
    """(title, artist) from a file name such as ``01 - Artist - Title`` or ``02_some_track``."""
    name = _NUMBERED.sub("", stem)
    match = _ARTIST_TITLE.match(name)
    if match:
        return match["title"].strip(), match["artist"].strip()
    return _pretty(name), None


def is_generic_folder(name: str) -> bool:
    """A folder name such as ``music``, ``snd``, ``data``, ``default``, ``usr``, ``1.16`` or ``CD1``
    (:data:`GENERIC_FOLDERS`, version numbers, disc numbers), which names no album."""
    folded = name.strip().casefold()
    return not folded or folded in GENERIC_FOLDERS or bool(_GENERIC_PATTERN.match(folded))


def album_from_folders(folder: PurePath) -> str | None:
    """The album a file's folders name: the nearest one, inside the scanned folder, that is not generic
    (``wesnoth/1.16/data/core/music`` -> ``Wesnoth``); None when all are."""
    return next((_pretty(name) for name in reversed(folder.parts) if not is_generic_folder(name)), None)


def _folded_words(text: str) -> list[str]:
    """Words of ``text`` without case, accents or punctuation: ``R'Lyeh`` -> ``["r", "lyeh"]``."""
    plain = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(c for c in plain if not unicodedata.combining(c)))


def _name_match(value: str, stem: str) -> int:
    """How well a title names a file (ignoring case, accents, spaces and punctuation): 3 the same, 2 the
    title inside the file name (``Desert`` in ``hr3-desert``), 1 a word of four or more letters of the file
    name inside the title (``icyland`` in ``Icy Lands``), 0 not at all."""
    title = "".join(_folded_words(value))
    words = _folded_words(_NUMBERED.sub("", stem))
    name = "".join(words)
    if title == name:
        return 3
    if len(title) >= 3 and title in name:
        return 2
    return int(any(len(w) >= 4 and not w.isdigit() and w in title for w in words))


def pick_title(values: list[str], stem: str) -> str | None:
    """The title among the values of a file's title tag: the only one; else the one that best names the file
    (see :func:`_name_match`; ties to the later); else the last. A tagger that appends instead of replacing
    leaves a soundtrack's file with every earlier title of the album before its own."""
    if len(values) <= 1:
        return values[0] if values else None
    score, _, best = max((_name_match(v, stem), i, v) for i, v in enumerate(values))
    return best if score else values[-1]


def _tag_values(tags, key: str) -> list[str]:
    """The usable values of one tag: text, stripped, without empty ones and placeholders (``Unknown``)."""
    try:
        values = tags.get(key) if tags is not None else None
    except (KeyError, ValueError):  # easy tags refuse some keys for some formats
        return []
    return [str(v).strip() for v in values or [] if not is_missing(str(v))]


def _last_tag(tags, *keys: str) -> str | None:
    """The last value of the first of ``keys`` that has one (a multi-valued tag's values were appended over
    time: the last is the latest)."""
    for key in keys:
        values = _tag_values(tags, key)
        if values:
            return values[-1]
    return None


def read_tags(path: Path) -> dict:
    """Title, artist, album and duration from a file's tags (mutagen); empty when unreadable. Multi-valued tags
    give one value (:func:`pick_title` for the title, else the last); missing ones are None."""
    import mutagen

    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on damaged files; the audio stage reports the damage
        return {}
    if audio is None:
        return {}
    tags = audio.tags
    length = getattr(audio.info, "length", None)
    return {
        "title": pick_title(_tag_values(tags, "title"), path.stem),
        "artist": _last_tag(tags, "artist", "composer", "albumartist"),
        "album": _last_tag(tags, "album"),
        "duration_s": float(length) if isinstance(length, (int, float)) and 0 < length < float("inf") else None,
    }


def scan_audio_folder(folder: str | Path, *, extensions: frozenset[str]) -> tuple[pd.DataFrame, IngestReport]:
    """A catalogue of every audio file under ``folder`` (recursively, in sorted order).

    track_id is the path relative to ``folder`` without its suffix; title/artist/album come from tags where
    present, else from the file name (``01 - Artist - Title``) and the nearest folder whose name is not generic
    (``music``, ``snd``, ``data``...). FIFOs, sockets and devices, symlink loops and broken links, unreadable
    files and folders are set aside with the reason (:func:`gems.safe_files.iter_files`), never opened.
    """
    root = Path(folder)
    with machine_errors(root):
        if not root.is_dir():
            raise DataError(f"audio folder {root} does not exist or is not a folder")
        entries = list(iter_files(root))
    report = IngestReport(source=str(root), format="audio folder")
    rows = []
    unread: list[str] = []  # entries that could not be read, whatever their name
    for entry in entries:
        report.rows_read += 1
        if isinstance(entry, Skipped):
            unread.append(f"{entry.path}: {entry.detail}")
            report.set_aside_row(entry.reason, unread[-1])
            continue
        path = entry
        if path.suffix.lower() not in extensions:
            report.set_aside_row("not an audio file by its extension", str(path))
            continue
        try:
            open_regular(path).close()
        except OSError as exc:
            unread.append(f"{path}: {describe_os_error(exc)}")
            report.set_aside_row("unreadable file", unread[-1])
            continue
        relative = path.relative_to(root)
        tags = read_tags(path)
        title, artist = title_from_name(path.stem)
        rows.append(
            {
                "track_id": relative.with_suffix("").as_posix(),
                "title": tags.get("title") or title,
                "artist": tags.get("artist") or artist,
                "soundtrack": tags.get("album"),
                "duration_s": tags.get("duration_s"),
                "path": os.path.realpath(path),
                "folder": relative.parent,
            }
        )
    report.rows_kept = len(rows)
    if not rows:
        why = f" ({len(unread)} set aside, e.g. {unread[0]})" if unread else ""
        raise DataError(f"no audio files in {root}{why}; expected files ending in {', '.join(sorted(extensions))}")
    frame = pd.DataFrame(rows)
    frame["soundtrack"] = _albums_of_untagged(frame)
    return finalize_catalog(frame.drop(columns="folder")), report


def _albums_of_untagged(frame: pd.DataFrame) -> pd.Series:
    """The album of every scanned file: its tag; else the one album the tagged files of its folder share (a
    soundtrack whose last tracks were never tagged); else its folders' name (:func:`album_from_folders`)."""
    albums = frame["soundtrack"].copy()
    shared = frame.dropna(subset=["soundtrack"]).groupby("folder")["soundtrack"].unique()
    for i in np.flatnonzero(albums.isna().to_numpy()):
        folder = frame["folder"].iloc[i]
        known = shared.get(folder)
        albums.iloc[i] = known[0] if known is not None and len(known) == 1 else album_from_folders(folder)
    return albums
