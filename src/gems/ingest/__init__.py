"""Ingest: every source format into the canonical catalogue and listens tables (see ``schema``).

Readers never drop a row silently: each one returns an :class:`IngestReport` counting the rows it set aside
and why. :func:`ingest_sources` combines a catalogue file, an audio folder and a listens source into one
consistent pair of tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gems.errors import DataError, ParameterError
from gems.ingest.catalog import read_catalog, scan_audio_folder
from gems.ingest.formats import read_listens_source
from gems.ingest.report import IngestReport
from gems.ingest.schema import empty_listens, finalize_catalog
from gems.soundtrack import classify_soundtrack

__all__ = [
    "IngestReport",
    "IngestSummary",
    "Ingested",
    "ingest_listens",
    "ingest_sources",
    "read_listens",
    "read_listens_source",
]


def read_listens(
    path: str | Path, *, format: str = "auto", columns: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, IngestReport]:
    """Read a listens source in ``format`` (``auto`` detects it) into the canonical listens table."""
    result = read_listens_source(path, format=format, columns=columns)
    return result.listens, result.report


@dataclass
class Ingested:
    """The canonical tables of one build and the report of every source."""

    tracks: pd.DataFrame
    listens: pd.DataFrame
    reports: list[IngestReport] = field(default_factory=list)


def _tracks_from_listens(listens: pd.DataFrame) -> pd.DataFrame:
    """A catalogue of the tracks named in ``listens``, titled from their metadata where present."""
    meta = [c for c in ("title", "artist", "album") if c in listens]
    tracks = (
        listens.groupby("track_id", sort=False)[meta].first().reset_index()
        if meta
        else (pd.DataFrame({"track_id": listens["track_id"].unique()}))
    )
    tracks = tracks.rename(columns={"album": "soundtrack"})
    if "title" not in tracks:
        tracks["title"] = tracks["track_id"]
    tracks["title"] = tracks["title"].fillna(tracks["track_id"])
    return finalize_catalog(tracks)


def ingest_sources(
    *,
    catalog: str | Path | None = None,
    audio: str | Path | None = None,
    listens: str | Path | None = None,
    listens_format: str = "auto",
    listens_columns: Mapping[str, str] | None = None,
    audio_extensions: frozenset[str] = frozenset(),
) -> Ingested:
    """Combine the sources of a build into one catalogue and one listens table.

    Tracks: the catalogue file's rows, then audio-folder files not already in it (matched by path), then
    tracks named only in the listens when those carry a title. Listens of a track id that is in none of these
    are set aside as "track not in the catalogue" — with no catalogue or audio at all, the listens define it.
    """
    if catalog is None and audio is None and listens is None:
        raise ParameterError("nothing to build from: give a catalogue, an audio folder or listens")
    reports: list[IngestReport] = []
    parts: list[pd.DataFrame] = []
    if catalog is not None:
        frame, report = read_catalog(catalog)
        parts.append(frame)
        reports.append(report)
    if audio is not None:
        frame, report = scan_audio_folder(audio, extensions=audio_extensions)
        if parts:
            known_paths = set(parts[0]["path"].dropna())
            frame = frame[~frame["path"].isin(known_paths)]
            clash = frame["track_id"].isin(set(parts[0]["track_id"]))
            frame.loc[clash, "track_id"] = "audio:" + frame.loc[clash, "track_id"]
        parts.append(frame)
        reports.append(report)
    tracks = pd.concat(parts, ignore_index=True) if parts else finalize_catalog(pd.DataFrame({"track_id": []}))

    table = empty_listens()
    if listens is not None:
        source = read_listens_source(listens, format=listens_format, columns=listens_columns)
        table, report = source.listens, source.report
        reports.append(report)
        if source.items is not None:
            known = set(tracks["track_id"])
            parts.append(finalize_catalog(source.items[~source.items["track_id"].isin(known)]))
            tracks = pd.concat(parts, ignore_index=True)
        if parts:
            unknown = ~table["track_id"].isin(set(tracks["track_id"]))
            named = unknown & table["title"].notna() if "title" in table else unknown & False
            extra = _tracks_from_listens(table[named]) if named.any() else None
            orphan = unknown & ~named
            if orphan.any():
                examples = [f"{report.source}: track id {t!r}" for t in table.loc[orphan, "track_id"].unique()[:3]]
                report.set_aside_rows("track not in the catalogue", int(orphan.sum()), examples)
                report.rows_kept -= int(orphan.sum())
                if orphan.all():
                    report.notes.append(
                        "no listened track id matches the catalogue's ids; check that both use the same ids"
                    )
                table = table[~orphan].reset_index(drop=True)
            if extra is not None:
                tracks = pd.concat([tracks, extra], ignore_index=True)
        else:
            tracks = _tracks_from_listens(table)
    tracks = finalize_catalog(tracks)
    if tracks.empty:
        raise DataError("the sources hold no usable tracks; see the set-aside counts above")
    tracks[["is_soundtrack", "soundtrack_reason"]] = classify_soundtrack(tracks)
    return Ingested(tracks=tracks, listens=table, reports=reports)


@dataclass
class IngestSummary:
    """What ``gems ingest`` understood: the format (and whether it was detected), the report, counts."""

    format: str
    detected: bool
    report: IngestReport
    users: int
    tracks: int
    soundtrack_tracks: int
    out: Path


def ingest_listens(
    path: str | Path, out: str | Path, *, format: str = "auto", columns: Mapping[str, str] | None = None
) -> IngestSummary:
    """Read any listens source into the canonical listens table and write it as Parquet (atomically).

    Item metadata the source describes (title, artist, album) is joined onto the rows that lack it, and each
    row says whether its track is soundtrack music, so the file is self-contained for ``gems build``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gems.artifacts import write_atomic
    from gems.ingest.formats import ALIASES, detect_format
    from gems.safe_files import describe_os_error

    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise ParameterError(f"--out must be a .parquet file, got {out}")
    name = ALIASES.get(format, format)
    detected = name == "auto"
    if detected:
        name = detect_format(Path(path))
    source = read_listens_source(path, format=name, columns=columns)
    listens = source.listens
    items = source.items if source.items is not None else _tracks_from_listens(listens)
    items = finalize_catalog(items)
    flags = classify_soundtrack(items)
    meta = pd.DataFrame(
        {
            "track_id": items["track_id"],
            "title": items["title"],
            "artist": items["artist"],
            "album": items["soundtrack"],
            "is_soundtrack": flags["is_soundtrack"].to_numpy(),
        }
    ).drop_duplicates("track_id")
    joined = listens.drop(columns=[c for c in ("title", "artist", "album") if c in listens]).merge(
        meta, on="track_id", how="left", sort=False
    )
    for column in ("title", "artist", "album"):
        if column in listens:  # the source's own spelling wins where it has one
            joined[column] = listens[column].fillna(joined[column]).to_numpy()
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(joined, preserve_index=False), sink, compression="zstd")
    try:
        write_atomic(out, sink.getvalue().to_pybytes())
    except OSError as exc:  # a full disk, a folder one may not write to
        raise DataError(f"{out}: {describe_os_error(exc, writing=True)}") from None
    return IngestSummary(
        format=name,
        detected=detected,
        report=source.report,
        users=int(listens["user_id"].nunique()),
        tracks=int(listens["track_id"].nunique()),
        soundtrack_tracks=int(meta.loc[meta["track_id"].isin(set(listens["track_id"])), "is_soundtrack"].sum()),
        out=out,
    )
