"""Ingest: every source format into the canonical catalogue and listens tables (see ``schema``).

Readers never drop a row silently: each one returns an :class:`IngestReport` counting the rows it set aside
and why. :func:`ingest_sources` (:mod:`gems.ingest.combine`) links a catalogue file, listens sources and
audio folders into one consistent pair of tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gems.errors import DataError, ParameterError
from gems.ingest.combine import Ingested, ListensSource, ingest_sources, tracks_from_listens
from gems.ingest.formats import read_listens_source
from gems.ingest.report import IngestReport
from gems.ingest.schema import finalize_catalog
from gems.ingest.soundtrack import classify_soundtrack

__all__ = [
    "IngestReport",
    "IngestSummary",
    "Ingested",
    "ListensSource",
    "ingest_listens",
    "ingest_sources",
    "read_listens",
    "read_listens_source",
]


WRITE_ROWS = 500_000


def read_listens(
    path: str | Path, *, format: str = "auto", columns: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, IngestReport]:
    """Read a listens source in ``format`` (``auto`` detects it) into the canonical listens table."""
    result = read_listens_source(path, format=format, columns=columns)
    return result.listens, result.report


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
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from gems.ingest.formats import ALIASES, detect_format
    from gems.safe_files import check_output, describe_os_error, write_atomic

    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise ParameterError(f"--out must be a .parquet file, got {out}")
    check_output(out)
    name = ALIASES.get(format, format)
    detected = name == "auto"
    if detected:
        name = detect_format(Path(path))
    source = read_listens_source(path, format=name, columns=columns)
    listens = source.listens
    items = source.items if source.items is not None else tracks_from_listens(listens)
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
    joined = listens.drop(columns=[c for c in ("title", "artist", "album") if c in listens])
    row = pc.index_in(pa.array(listens["track_id"]), value_set=pa.array(meta["track_id"]))  # each listen's item
    for column in ("title", "artist", "album"):  # the source's own spelling wins where it has one
        looked_up = pc.take(pa.array(meta[column], pa.large_string()), row)
        if column in listens:
            looked_up = pc.coalesce(pa.array(listens[column], pa.large_string()), looked_up)
        joined[column] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([looked_up])), index=listens.index)
    flag = pc.take(pa.array(meta["is_soundtrack"].to_numpy(dtype=bool)), row)
    joined["is_soundtrack"] = pc.fill_null(flag, False).to_numpy(zero_copy_only=False)
    sink = pa.BufferOutputStream()
    schema = pa.Schema.from_pandas(joined.head(0), preserve_index=False)
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for start in range(0, max(len(joined), 1), WRITE_ROWS):  # Arrow copies of one slice at a time
            writer.write_table(pa.Table.from_pandas(joined.iloc[start : start + WRITE_ROWS], schema=schema))
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
        soundtrack_tracks=int(meta.loc[meta["track_id"].isin(listens["track_id"].unique()), "is_soundtrack"].sum()),
        out=out,
    )
