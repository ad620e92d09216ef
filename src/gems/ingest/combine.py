"""Several sources in one build: a catalogue file, listens sources and audio folders linked into one catalogue.

In order: the catalogue file's rows; then each listens source, its tracks linked (:mod:`gems.ingest.link`) to
the tracks before it — a shared id first, else artist and title — so one song heard in an MPD playlist, a
Spotify export and a Last.fm scrobble is one track; then each audio folder, its files linked the same way by
their path or their tags, so a file lends its audio to the listened track it is. A track that links to
nothing joins the catalogue as a new track (a listens track needs a title for that; one without is set aside
as "track not in the catalogue"). Every source's report says how its tracks linked.

A listener id met in two listens sources is two listeners: the later one is renamed ``<file stem>:<id>``,
and its report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gems.config import ListensSource
from gems.errors import DataError, ParameterError
from gems.ingest.catalog import read_catalog, scan_audio_folder
from gems.ingest.formats import read_listens_source
from gems.ingest.report import IngestReport
from gems.ingest.schema import empty_listens, finalize_catalog
from gems.ingest.soundtrack import classify_soundtrack


@dataclass
class Ingested:
    """The canonical tables of one build and the report of every source."""

    tracks: pd.DataFrame
    listens: pd.DataFrame
    reports: list[IngestReport] = field(default_factory=list)


def tracks_from_listens(listens: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """A catalogue of the tracks named in ``listens``, titled from ``items`` or their own metadata."""
    if items is not None:
        meta = finalize_catalog(items).drop_duplicates("track_id")
        return meta[member_of(meta["track_id"], listens["track_id"])].reset_index(drop=True)
    columns = [c for c in ("title", "artist", "album") if c in listens]
    tracks = (
        listens.groupby("track_id", sort=False)[columns].first().reset_index()
        if columns
        else pd.DataFrame({"track_id": listens["track_id"].unique()})
    )
    tracks = tracks.rename(columns={"album": "soundtrack"})
    if "title" not in tracks:
        tracks["title"] = tracks["track_id"]
    tracks["title"] = tracks["title"].fillna(tracks["track_id"])
    return finalize_catalog(tracks)


def _listened(tables: list[pd.DataFrame], tracks: pd.DataFrame):
    """Listens per catalogue row so far (twins are told apart by it)."""
    if not tables:
        return None
    counts = pd.concat([t["track_id"] for t in tables]).value_counts()
    return counts.reindex(tracks["track_id"]).fillna(0).to_numpy()


def _link(tracks: pd.DataFrame, source: pd.DataFrame, popularity, report: IngestReport) -> pd.DataFrame:
    """The tracks of ``source`` linked to ``tracks``, one row each: ``source_id``, ``track_id`` (the catalogue's);
    the summary recorded on ``report``."""
    from gems.ingest.link import Linker
    from gems.ingest.link_summary import summarise_links

    links = Linker(tracks, popularity=popularity).link(source)
    summary = summarise_links(links, rows=report.rows_kept)
    report.notes.append(f"linked to the tracks before it: {summary}")
    return links.dropna(subset=["track_id"]).drop_duplicates("source_id")[["source_id", "track_id"]]


def _add_listens(tracks, tables, source: ListensSource, seen_users: set[str], reports) -> pd.DataFrame:
    """Read one listens source, link its tracks into ``tracks``; returns the grown catalogue."""
    from gems.ingest.link_summary import source_tracks

    read = read_listens_source(source.path, format=source.format, columns=source.columns or None)
    table, report = read.listens, read.report
    reports.append(report)
    if tracks is None or tracks.empty:
        tracks = tracks_from_listens(table, read.items)
    else:
        codes, distinct = _distinct(table["track_id"])
        firsts = table.take(_first_rows(codes))  # all source_tracks reads: each track's first row, in order
        linked = _link(tracks, source_tracks(firsts, read.items), _listened(tables, tracks), report)
        own = tracks_from_listens(table, read.items)
        new = own[
            ~member_of(own["track_id"], linked["source_id"]) & own["title"].notna() & (own["title"] != own["track_id"])
        ]
        clash = member_of(new["track_id"], tracks["track_id"])
        new = new.assign(track_id=new["track_id"].where(~clash, f"{source.path.stem}:" + new["track_id"]))
        # source id -> catalogue id, later pairs winning: the linked tracks, the new ones (themselves), renamed ones
        keys = [linked["source_id"], new["track_id"], own.loc[new.index[clash], "track_id"]]
        targets = [linked["track_id"], new["track_id"], new.loc[clash, "track_id"]]
        keys, targets = _pairs(keys, targets)
        distinct = _replace(distinct, keys, targets)
        orphan = ~member_of(distinct, targets)[codes]  # a missing id is nobody's
        table = table.assign(track_id=_text_series(distinct, codes, table["track_id"]))
        if orphan.any():
            examples = [f"{report.source}: track id {t!r}" for t in table.loc[orphan, "track_id"].unique()[:3]]
            report.set_aside_rows("track not in the catalogue", int(orphan.sum()), examples)
            report.rows_kept -= int(orphan.sum())
            if orphan.all():
                report.notes.append("no listened track matches the catalogue by id or name, and none has a title")
            table = table[~orphan].reset_index(drop=True)
        tracks = pd.concat([tracks, new], ignore_index=True)
    users = set(table["user_id"].astype(str).unique())
    repeated = sorted(users & seen_users)
    if repeated:
        renamed = [f"{source.path.stem}:{u}" for u in repeated]
        table = table.assign(user_id=replaced(table["user_id"], repeated, renamed))
        report.notes.append(
            f"{len(repeated):,} listener id(s) also used by an earlier source are renamed '{source.path.stem}:<id>'"
        )
    seen_users.update(table["user_id"].astype(str).unique())
    tables.append(table)
    return tracks


def _arrow_text(values) -> pa.Array:
    """Strings as one Arrow ``large_string`` array (missing values null), without a Python object per value where
    they are Arrow-backed already: a Series, an Index, a list of strings, an Arrow array, or a list of those."""
    if isinstance(values, list) and values and not isinstance(values[0], str | None):
        return pa.concat_arrays([_arrow_text(v) for v in values])
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pd.Series(values, dtype=object) if isinstance(values, list) else pd.Series(values)
        arrow_backed = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
        values = (
            pa.array(values.array) if arrow_backed else pa.array(values.astype(object), pa.string(), from_pandas=True)
        )
    return values.cast(pa.large_string())


def member_of(values, pool) -> np.ndarray:
    """(len(values),) bool: which of ``values`` are in ``pool`` (strings, as :func:`_arrow_text` reads them),
    through Arrow's hash set — pandas' ``isin`` on Arrow strings walks a Python set (1M ids: seconds)."""
    found = pc.is_in(_arrow_text(values), value_set=_arrow_text(pool))
    return found.to_numpy(zero_copy_only=False)


def replaced(values: pd.Series, keys, targets) -> pd.Series:
    """``values`` with each one among ``keys`` replaced by its ``targets`` entry (the last, where a key repeats),
    as ``pd.Series`` makes text: the ``str`` dtype."""
    codes, distinct = _distinct(values)
    return _text_series(_replace(distinct, *_pairs(keys, targets)), codes, values)


def _distinct(values) -> tuple[np.ndarray, pa.Array]:
    """(codes of ``values`` into their distinct values, those values (a missing one null) in order of first
    appearance): one hash pass in Arrow."""
    encoded = pc.dictionary_encode(_arrow_text(values), null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The row where each code first appears, for codes that count up in order of first appearance."""
    return np.flatnonzero(codes > np.maximum.accumulate(np.r_[-1, codes])[:-1])


def _pairs(keys, targets) -> tuple[pa.Array, pa.Array]:
    """``keys`` and their ``targets`` (strings, as :func:`_arrow_text` reads them) as updating a dict with them
    in order leaves them: each key once, with its last target (a missing key matches nothing)."""
    keys, targets = _arrow_text(keys)[::-1], _arrow_text(targets)[::-1]
    last = _first_rows(pc.fill_null(pc.dictionary_encode(keys).indices, -1).to_numpy(zero_copy_only=False))
    return keys.take(last), targets.take(last)


def _replace(distinct: pa.Array, keys: pa.Array, targets: pa.Array) -> pa.Array:
    """``distinct`` with each value among ``keys`` (each once) replaced by its ``targets`` entry: a listens
    table's ids looked up once per distinct id, in Arrow."""
    position = pc.index_in(distinct, value_set=keys)
    return pc.if_else(pc.is_null(position), distinct, pc.take(targets, position))


def _text_series(distinct: pa.Array, codes: np.ndarray, like: pd.Series) -> pd.Series:
    """``distinct[codes]`` with ``like``'s index and name, as ``pd.Series`` of Python strings makes it: the
    ``str`` dtype (object, None, when no value is there to infer it from)."""
    rows = pc.take(distinct, codes)
    if rows.null_count == len(rows):
        return pd.Series(np.full(len(rows), None, dtype=object), index=like.index, name=like.name)
    return pd.Series(pd.array(rows, dtype=pd.StringDtype(na_value=np.nan)), index=like.index, name=like.name)


def _add_audio(tracks, folder: Path, extensions, reports) -> pd.DataFrame:
    """Scan one audio folder and link its files into ``tracks`` (a linked track gets the file's path)."""
    frame, report = scan_audio_folder(folder, extensions=extensions)
    reports.append(report)
    if tracks is None or tracks.empty:
        return frame
    source = frame.rename(columns={"track_id": "source_id", "soundtrack": "album"})
    linked = _link(tracks, source, None, report)
    mapped = dict(zip(linked["source_id"], linked["track_id"]))
    tracks = tracks.copy()
    position = pd.Series(range(len(tracks)), index=tracks["track_id"])
    for file_id, path in zip(frame["track_id"], frame["path"]):
        if file_id in mapped:
            row = position[mapped[file_id]]
            if pd.isna(tracks.at[row, "path"]):
                tracks.at[row, "path"] = path
    new = frame[~frame["track_id"].isin(mapped) & ~frame["path"].isin(set(tracks["path"].dropna()))]
    clash = new["track_id"].isin(set(tracks["track_id"]))
    new = new.assign(track_id=new["track_id"].where(~clash, "audio:" + new["track_id"]))
    return pd.concat([tracks, new], ignore_index=True)


def ingest_sources(
    *,
    catalog: str | Path | None = None,
    audio: str | Path | Sequence[str | Path] = (),
    listens: str | Path | ListensSource | Sequence[ListensSource] = (),
    audio_extensions: frozenset[str] = frozenset(),
) -> Ingested:
    """One catalogue and one listens table from every source of a build (module docstring); a single folder
    or source stands for a sequence of one."""
    audio = [audio] if isinstance(audio, str | Path) else list(audio)
    if isinstance(listens, str | Path):
        listens = ListensSource(Path(listens))
    listens = [listens] if isinstance(listens, ListensSource) else list(listens)
    if catalog is None and not audio and not listens:
        raise ParameterError("nothing to build from: give a catalogue, an audio folder or listens")
    reports: list[IngestReport] = []
    tracks = None
    if catalog is not None:
        tracks, report = read_catalog(catalog)
        reports.append(report)
    tables: list[pd.DataFrame] = []
    seen_users: set[str] = set()
    for source in listens:
        tracks = _add_listens(tracks, tables, source, seen_users, reports)
    for folder in audio:
        tracks = _add_audio(tracks, Path(folder), audio_extensions, reports)
    tracks = finalize_catalog(tracks if tracks is not None else pd.DataFrame({"track_id": []}))
    if tracks.empty:
        raise DataError("the sources hold no usable tracks; see the set-aside counts above")
    tracks[["is_soundtrack", "soundtrack_reason"]] = classify_soundtrack(tracks)
    table = pd.concat(tables, ignore_index=True) if tables else empty_listens()
    return Ingested(tracks=tracks, listens=table, reports=reports)
