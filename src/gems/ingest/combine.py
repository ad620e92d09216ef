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


def _link(tracks: pd.DataFrame, source: pd.DataFrame, popularity, report: IngestReport):
    """(the link table of ``source`` against ``tracks``, source id -> catalogue id of the linked tracks),
    the summary recorded on ``report``."""
    from gems.ingest.link import Linker
    from gems.ingest.link_summary import summarise_links

    links = Linker(tracks, popularity=popularity).link(source)
    linked = links.dropna(subset=["track_id"]).drop_duplicates("source_id")
    summary = summarise_links(links, rows=report.rows_kept)
    report.notes.append(f"linked to the tracks before it: {summary}")
    return links, dict(zip(linked["source_id"], linked["track_id"]))


def _add_listens(tracks, tables, source: ListensSource, seen_users: set[str], reports) -> pd.DataFrame:
    """Read one listens source, link its tracks into ``tracks``; returns the grown catalogue."""
    from gems.ingest.link_summary import source_tracks

    read = read_listens_source(source.path, format=source.format, columns=source.columns or None)
    table, report = read.listens, read.report
    reports.append(report)
    if tracks is None or tracks.empty:
        tracks = tracks_from_listens(table, read.items)
    else:
        links, mapped = _link(tracks, source_tracks(table, read.items), _listened(tables, tracks), report)
        own = tracks_from_listens(table, read.items)
        new = own[~member_of(own["track_id"], list(mapped)) & own["title"].notna() & (own["title"] != own["track_id"])]
        clash = member_of(new["track_id"], tracks["track_id"])
        renamed = {t: f"{source.path.stem}:{t}" for t in new.loc[clash, "track_id"]}
        new = new.assign(track_id=new["track_id"].replace(renamed))
        mapped.update({t: t for t in new["track_id"]})
        mapped.update(renamed)
        table = table.assign(track_id=replaced(table["track_id"], mapped))
        orphan = ~member_of(table["track_id"], list(set(mapped.values())))
        if orphan.any():
            examples = [f"{report.source}: track id {t!r}" for t in table.loc[orphan, "track_id"].unique()[:3]]
            report.set_aside_rows("track not in the catalogue", int(orphan.sum()), examples)
            report.rows_kept -= int(orphan.sum())
            if orphan.all():
                report.notes.append("no listened track matches the catalogue by id or name, and none has a title")
            table = table[~orphan].reset_index(drop=True)
        tracks = pd.concat([tracks, new], ignore_index=True)
    users = set(table["user_id"].astype(str).unique())
    repeated = users & seen_users
    if repeated:
        table = table.assign(user_id=replaced(table["user_id"], {u: f"{source.path.stem}:{u}" for u in repeated}))
        report.notes.append(
            f"{len(repeated):,} listener id(s) also used by an earlier source are renamed '{source.path.stem}:<id>'"
        )
    seen_users.update(table["user_id"].astype(str).unique())
    tables.append(table)
    return tracks


def member_of(values: pd.Series, pool) -> np.ndarray:
    """(len(values),) bool: which values are in ``pool`` (a column or a list of strings), through Arrow's hash
    set — pandas' ``isin`` on Arrow strings walks a Python set (1M ids: seconds)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(values.astype(object), type=pa.string(), from_pandas=True)
    allowed = pa.array(pd.Series(pool, dtype=object), type=pa.string(), from_pandas=True)
    return pc.is_in(column, value_set=allowed).to_numpy(zero_copy_only=False)


def replaced(values: pd.Series, mapping: dict) -> pd.Series:
    """``values`` with those in ``mapping`` replaced by theirs, looked up once per distinct value and as whole
    arrays (a listens table repeats each track id many times: 6.3M rows map in a second, not half a minute)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    distinct = np.asarray(uniques, dtype=object)
    position = pd.Index(list(mapping), dtype=object).get_indexer(distinct)
    targets = np.array(list(mapping.values()) + [None], dtype=object)
    new = np.append(np.where(position >= 0, targets[position], distinct), None)
    return pd.Series(new[codes], index=values.index, name=values.name)


def _add_audio(tracks, folder: Path, extensions, reports) -> pd.DataFrame:
    """Scan one audio folder and link its files into ``tracks`` (a linked track gets the file's path)."""
    frame, report = scan_audio_folder(folder, extensions=extensions)
    reports.append(report)
    if tracks is None or tracks.empty:
        return frame
    source = frame.rename(columns={"track_id": "source_id", "soundtrack": "album"})
    _, mapped = _link(tracks, source, None, report)
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
