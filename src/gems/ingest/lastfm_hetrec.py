"""Last.fm HetRec 2011 (``hetrec2011-lastfm-2k``): play counts of users for **artists** — the items are
artists, not tracks.

Input: the dataset's folder, or its ``user_artists.dat`` (the other files are looked up beside it). Files are
tab-separated with a header row; Windows line endings are accepted.

``user_artists.dat`` (userID, artistID, weight) — required, with its header
    listens: ``user_id`` = userID, ``track_id`` = artistID, ``weight`` = the play count, ``timestamp`` NaT.
    Rows with a non-numeric, zero or negative weight, a missing id or the wrong number of fields are set
    aside with their line; a repeated (user, artist) pair is added to the first (its weight summed) and set
    aside as "repeated user–artist pair".
``artists.dat`` (id, name, url, pictureURL; UTF-8) — optional
    items: ``track_id`` = id, ``title`` = ``artist`` = name, ``soundtrack`` None. Every listened artist gets
    an item; one missing from ``artists.dat`` is titled "artist <id>" (and noted).
``tags.dat`` (tagID, tagValue; ISO-8859-1) + ``user_taggedartists.dat`` (userID, artistID, tagID, day, month,
year) or ``user_taggedartists-timestamps.dat`` (userID, artistID, tagID, timestamp) — optional
    items ``tags``: the artist's tags, most-used first (ties alphabetically), at most 20, '; '-joined.
    ``tags.dat`` is decoded as UTF-8 when it is valid UTF-8 (a re-saved copy), else as ISO-8859-1 (the
    original), so "música" and "électronique" come out right either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.archive import SourceFile
from gems.ingest.common import clean_name
from gems.ingest.formats import ListensRead
from gems.ingest.report import MAX_EXAMPLES, IngestReport
from gems.ingest.schema import finalize_catalog, finalize_listens
from gems.ingest.streaming import line_batches

FORMAT = "lastfm-hetrec"
LISTENS_FILE = "user_artists.dat"
ARTISTS_FILE = "artists.dat"
TAGS_FILE = "tags.dat"
TAGGINGS_FILES = ("user_taggedartists.dat", "user_taggedartists-timestamps.dat")
MAX_TAGS = 20
_HEADER = ("userid", "artistid", "weight")


def sniff(path: Path) -> bool:
    """A folder holding ``user_artists.dat``, or that file itself."""
    path = Path(path)
    if path.is_dir():
        return (path / LISTENS_FILE).is_file()
    return path.is_file() and path.name.lower() == LISTENS_FILE


# ------------------------------------------------------------------------------------------------- text


def _lines(path: Path, used: list[str] | None = None) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of ``path``, streamed, CR removed: UTF-8 (BOM removed) or UTF-16 when it is so
    encoded, else ISO-8859-1 (the original ``tags.dat``; ``used`` gets the encoding read with). Lines split on LF
    only (a stray U+0085 or U+2028 inside a name is not a line break)."""
    file = SourceFile(path, PurePosixPath(path.name))
    for first, lines in line_batches(file, expected="a HetRec .dat file", fallback="latin-1", used=used):
        for number, line in enumerate(lines, start=first):
            yield number, line[:-1] if line.endswith("\r") else line


def _has_header(first: str, name: str) -> bool:
    return first.split("\t", 1)[0].strip().lower() == name


# ------------------------------------------------------------------------------------------------- listens


def _read_listens(file: Path, report: IngestReport) -> pd.DataFrame:
    lines = _lines(file)
    try:
        _, first = next(lines)
    except StopIteration:
        raise DataError(
            f"{file} is empty; expected the header userID<TAB>artistID<TAB>weight and one row per pair"
        ) from None
    header = [field.strip().lower() for field in first.split("\t")]
    if any(name not in header for name in _HEADER):
        raise DataError(
            f"{file}:1: expected the header userID<TAB>artistID<TAB>weight of HetRec's user_artists.dat, "
            f"found {first[:80]!r}; add the header line or read the file as a generic table"
        )
    iu, ia, iw = (header.index(name) for name in _HEADER)
    width = len(header)

    users: list[str] = []
    artists: list[str] = []
    weights: list[float] = []
    seen: dict[tuple[str, str], int] = {}
    repeats: list[str] = []
    n_repeats = 0
    for number, line in lines:
        if not line.strip():
            continue
        report.rows_read += 1
        fields = line.split("\t")
        where = f"{file}:{number}"
        if len(fields) != width:
            report.set_aside_row(
                "malformed row", f"{where}: expected {width} tab-separated fields, found {len(fields)}"
            )
            continue
        user, artist, value = fields[iu].strip(), fields[ia].strip(), fields[iw].strip()
        if not user:
            report.set_aside_row("missing user id", f"{where}: empty userID")
            continue
        if not artist:
            report.set_aside_row("missing artist id", f"{where}: empty artistID")
            continue
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not math.isfinite(weight):
            report.set_aside_row("weight is not a number", f"{where}: weight={value!r}")
            continue
        if weight <= 0:
            report.set_aside_row("weight is zero or negative", f"{where}: weight={value}")
            continue
        key = (user, artist)
        kept = seen.get(key)
        if kept is not None:
            weights[kept] += weight
            n_repeats += 1
            if len(repeats) < MAX_EXAMPLES:
                repeats.append(f"{where}: user {user}, artist {artist} (weights added)")
            continue
        seen[key] = len(users)
        users.append(user)
        artists.append(artist)
        weights.append(weight)
    report.set_aside_rows("repeated user–artist pair", n_repeats, repeats)
    report.rows_kept = len(users)
    return finalize_listens(
        pd.DataFrame(
            {
                "user_id": pd.array(users, dtype="string"),
                "track_id": pd.array(artists, dtype="string"),
                "weight": np.asarray(weights, dtype=np.float32),
            }
        )
    )


# ------------------------------------------------------------------------------------------------- items


def _read_artists(file: Path, report: IngestReport) -> dict[str, str]:
    """artistID -> name from ``artists.dat`` (first of a repeated id wins)."""
    used: list[str] = []
    names: dict[str, str] = {}
    bad: list[int] = []
    for number, line in _lines(file, used):
        if not line.strip() or (number == 1 and _has_header(line, "id")):
            continue
        fields = line.split("\t")
        artist = fields[0].strip()
        # Last.fm's placeholder artist "[unknown]" is a real item here (it has listens): keep its name as is
        name = (clean_name(fields[1]) or fields[1].strip() or None) if len(fields) > 1 else None
        if not artist or name is None:
            bad.append(number)
            continue
        names.setdefault(artist, name)
    if bad:
        report.notes.append(f"{file}: {len(bad):,} line(s) without an id and a name were ignored (e.g. line {bad[0]})")
    if "latin-1" in used:
        report.notes.append(f"{file} is not UTF-8; read it as ISO-8859-1")
    return names


def _read_tags(folder: Path, report: IngestReport, wanted: set[str]) -> dict[str, str]:
    """artistID -> its tag values, most-used first (ties alphabetically), at most :data:`MAX_TAGS`."""
    tags_file = folder / TAGS_FILE
    taggings = next((folder / name for name in TAGGINGS_FILES if (folder / name).is_file()), None)
    if not tags_file.is_file() or taggings is None:
        if tags_file.is_file() or taggings is not None:
            missing = TAGS_FILE if taggings is not None else " or ".join(TAGGINGS_FILES)
            report.notes.append(f"no {missing} beside {tags_file.parent}; the artists have no tags")
        return {}

    values: dict[str, str] = {}
    for number, line in _lines(tags_file):
        if number == 1 and _has_header(line, "tagid"):
            continue
        fields = line.split("\t")
        if len(fields) >= 2:
            value = clean_name(fields[1])
            if value is not None:
                values.setdefault(fields[0].strip(), value.replace(";", ","))

    counts: dict[str, dict[str, int]] = {}
    unknown = malformed = 0
    first_bad = None
    for number, line in _lines(taggings):
        if number == 1 and _has_header(line, "userid"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            if line.strip():
                malformed += 1
                first_bad = first_bad or number
            continue
        artist = fields[1].strip()
        if artist not in wanted:
            continue
        value = values.get(fields[2].strip())
        if value is None:
            unknown += 1
            first_bad = first_bad or number
            continue
        per_artist = counts.setdefault(artist, {})
        per_artist[value] = per_artist.get(value, 0) + 1
    ignored = [f"{malformed:,} malformed line(s)"] if malformed else []
    ignored += [f"{unknown:,} tagging(s) of a tagID missing from {TAGS_FILE}"] if unknown else []
    if ignored:
        report.notes.append(f"{taggings}: {' and '.join(ignored)} ignored (e.g. line {first_bad})")
    return {
        artist: "; ".join(tag for tag, _ in sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:MAX_TAGS])
        for artist, tags in counts.items()
    }


def _items(folder: Path, listens: pd.DataFrame, report: IngestReport) -> pd.DataFrame:
    artists_file = folder / ARTISTS_FILE
    names = _read_artists(artists_file, report) if artists_file.is_file() else {}
    if not artists_file.is_file():
        report.notes.append(f"no {ARTISTS_FILE} beside {folder}; artists are titled by their id")
    listened = pd.unique(listens["track_id"].to_numpy(dtype=object))
    missing = [artist for artist in listened if artist not in names]
    if missing and names:
        report.notes.append(
            f"{len(missing):,} listened artist(s) are missing from {ARTISTS_FILE}; titled 'artist <id>' "
            f"(e.g. {', '.join(missing[:3])})"
        )
    ids = list(names) + missing
    titles = list(names.values()) + [f"artist {artist}" for artist in missing]
    tags = _read_tags(folder, report, set(ids))
    frame = pd.DataFrame(
        {
            "track_id": ids,
            "title": titles,
            "artist": titles,
            "soundtrack": pd.array([None] * len(ids), dtype="string"),
            "duration_s": np.full(len(ids), np.nan),
            "tags": pd.array([tags.get(artist) for artist in ids], dtype="string"),
        }
    )
    return finalize_catalog(frame)


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """Read the HetRec folder (or its ``user_artists.dat``) into listens of artists and an artist catalogue
    (``columns`` is ignored: the format names its own fields)."""
    path = Path(path)
    if path.is_dir():
        folder, file = path, path / LISTENS_FILE
        if not file.is_file():
            raise DataError(f"{path} holds no {LISTENS_FILE}; expected the Last.fm HetRec 2011 folder")
    elif path.is_file():
        folder, file = path.parent, path
    else:
        raise DataError(f"{path} does not exist; expected the Last.fm HetRec folder or its {LISTENS_FILE}")
    report = IngestReport(source=str(path), format=FORMAT)
    listens = _read_listens(file, report)
    return ListensRead(listens=listens, report=report, items=_items(folder, listens, report))
