"""Catalogues: a table of tracks (CSV/TSV/Parquet), or a folder of audio files described by their tags."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.report import IngestReport
from gems.ingest.schema import clean_text, finalize_catalog
from gems.ingest.tabular import pick_column, read_table

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


def _first_tag(tags, *keys: str) -> str | None:
    for key in keys:
        values = tags.get(key) if tags is not None else None
        if values:
            value = str(values[0]).strip()
            if value:
                return value
    return None


def read_tags(path: Path) -> dict:
    """Title, artist, album and duration from a file's tags (mutagen); empty when unreadable."""
    import mutagen

    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on damaged files; the audio stage reports the damage
        return {}
    if audio is None:
        return {}
    tags = audio.tags
    return {
        "title": _first_tag(tags, "title"),
        "artist": _first_tag(tags, "artist", "composer", "albumartist"),
        "album": _first_tag(tags, "album"),
        "duration_s": getattr(audio.info, "length", None),
    }


def scan_audio_folder(folder: str | Path, *, extensions: frozenset[str]) -> tuple[pd.DataFrame, IngestReport]:
    """A catalogue of every audio file under ``folder`` (recursively, in sorted order).

    track_id is the path relative to ``folder`` without its suffix; title/artist/album come from tags where
    present, else from the file name (``01 - Artist - Title``) and the parent folder's name.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"audio folder {root} does not exist or is not a folder")
    report = IngestReport(source=str(root), format="audio folder")
    rows = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            report.rows_read += 1
            if path.suffix.lower() not in extensions:
                report.set_aside_row("not an audio file by its extension", str(path))
                continue
            relative = path.relative_to(root)
            tags = read_tags(path)
            title, artist = title_from_name(path.stem)
            album = _pretty(relative.parent.name) if relative.parent != Path(".") else None
            rows.append(
                {
                    "track_id": relative.with_suffix("").as_posix(),
                    "title": tags.get("title") or title,
                    "artist": tags.get("artist") or artist,
                    "soundtrack": tags.get("album") or album,
                    "duration_s": tags.get("duration_s"),
                    "path": str(path.resolve()),
                }
            )
    report.rows_kept = len(rows)
    if not rows:
        raise DataError(f"no audio files in {root}; expected files ending in {', '.join(sorted(extensions))}")
    return finalize_catalog(pd.DataFrame(rows)), report
