"""The generic listens table: CSV, TSV or Parquet with user, track, optional weight and timestamp columns.

Columns are found by common names (``user_id``/``user``/``uid``..., ``track_id``/``track``/``item``...,
``weight``/``plays``/``playcount``..., ``timestamp``/``time``/``date``...) or mapped explicitly, e.g.
``{"user": "listener", "track": "song", "weight": "n"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from gems.errors import DataError, ParameterError
from gems.ingest.common import numbers, numeric_column
from gems.ingest.formats import ListensRead
from gems.ingest.report import MAX_EXAMPLES, IngestReport
from gems.ingest.rows import TextCodes
from gems.ingest.schema import clean_text, finalize_listens
from gems.ingest.tabular import TABLE_SUFFIXES, RawTable, pick_column, table_batches
from gems.ingest.timestamps import parse_timestamps
from gems.safe_files import iter_files

ROLES: dict[str, tuple[str, ...]] = {
    "user": ("user_id", "userid", "user", "uid", "username", "listener", "listener_id", "pid", "playlist_id"),
    "track": ("track_id", "trackid", "track", "item_id", "itemid", "item", "song_id", "song", "track_uri", "artistid"),
    "weight": ("weight", "plays", "playcount", "play_count", "count", "listens", "n", "value", "rating"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "listened_at", "played_at", "uts"),
    "title": ("title", "track_name", "trackname", "name"),
    "artist": ("artist", "artist_name", "artistname", "composer"),
    "album": ("album", "album_name", "albumname", "soundtrack"),
}
KNOWN_NAMES = {name for names in ROLES.values() for name in names}


def check_mapping(columns: Mapping[str, str] | None) -> dict[str, str]:
    """Validate a ``role -> column`` mapping (roles: user, track, weight, timestamp, title, artist, album)."""
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(ROLES))
    if unknown:
        raise ParameterError(
            f"unknown listens column role(s) {', '.join(unknown)}; map any of {', '.join(ROLES)} (e.g. user=uid)"
        )
    return mapping


def read_listens_table(
    path: str | Path, *, columns: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, IngestReport]:
    """Read one generic listens file into the canonical listens table, batch by batch (the kept rows of each
    held as text codes until the end), setting aside unusable rows by reason."""
    mapping = check_mapping(columns)
    text = TextCodes()
    report, found, kept = None, None, []
    for raw in table_batches(path, known_names=KNOWN_NAMES | {c.lower() for c in mapping.values()}):
        if report is None:
            report = IngestReport(source=str(raw.path), format="table")
            found = _roles(list(raw.frame.columns), mapping, raw.path)
        kept.append(text.frame(_batch(raw, found, report)))
    report.rows_kept = sum(len(k) for k in kept)
    return finalize_listens(text.decoded(pd.concat(kept, ignore_index=True))), report


def _roles(cols: list[str], mapping: Mapping[str, str], path: Path) -> dict[str, str | None]:
    """The column of each role; a table without a user or a track column is a DataError."""
    found = {role: pick_column(cols, names, mapping.get(role), role=role, path=path) for role, names in ROLES.items()}
    for role in ("user", "track"):
        if found[role] is None:
            raise DataError(
                f"{path}: no {role} column; expected one named like {', '.join(ROLES[role][:4])} "
                f"(columns are {', '.join(cols)}); map it with --listens-columns {role}=NAME"
            )
    return found


def _batch(raw: RawTable, found: Mapping[str, str | None], report: IngestReport) -> pd.DataFrame:
    """The kept rows of one batch of a listens table (canonical columns), the rest set aside on ``report``."""
    frame = raw.frame
    report.rows_read += len(frame) + len(raw.malformed)
    for line, detail in raw.malformed:
        report.set_aside_row("malformed row", f"{raw.path}:{line}: {detail}")
    out = pd.DataFrame({"user_id": clean_text(frame[found["user"]]), "track_id": clean_text(frame[found["track"]])})
    keep = np.ones(len(frame), dtype=bool)

    def set_aside(mask: np.ndarray, reason: str, detail) -> None:
        hit = np.flatnonzero(mask & keep)
        report.set_aside_rows(reason, len(hit), [f"{raw.where(i)}: {detail(i)}" for i in hit[:MAX_EXAMPLES]])
        keep[mask] = False

    set_aside(out["user_id"].isna().to_numpy(), "missing user id", lambda i: "empty user field")
    set_aside(out["track_id"].isna().to_numpy(), "missing track id", lambda i: "empty track field")

    if found["weight"] is not None:
        column = frame[found["weight"]]
        text = column if numeric_column(column) else clean_text(column)  # numbers read as themselves, no text
        weight = numbers(text)
        shown = lambda i: clean_text(column.iloc[i : i + 1]).iloc[0]  # noqa: E731
        bad = (text.notna() & weight.isna()).to_numpy()
        set_aside(bad, "weight is not a number", lambda i: f"{found['weight']}={shown(i)!r}")
        nonpositive = (weight <= 0).fillna(False).to_numpy()
        set_aside(nonpositive, "weight is zero or negative", lambda i: f"{found['weight']}={shown(i)}")
        out["weight"] = weight.fillna(1.0)
    if found["timestamp"] is not None:
        stamps, unparseable = parse_timestamps(frame[found["timestamp"]])
        column = frame[found["timestamp"]]
        set_aside(unparseable, "unparseable timestamp", lambda i: f"{found['timestamp']}={column.iloc[i]!r}")
        out["timestamp"] = stamps
    for role in ("title", "artist", "album"):
        if found[role] is not None and found[role] not in (found["user"], found["track"]):
            out[role] = clean_text(frame[found[role]])
    return out[keep].reset_index(drop=True)


def sniff(path: Path) -> bool:
    """Any CSV/TSV/Parquet file, or a folder holding some, is read as a generic listens table."""
    path = Path(path)
    if path.is_dir():
        return any(isinstance(p, Path) and p.suffix.lower() in TABLE_SUFFIXES for p in iter_files(path))
    return path.suffix.lower() in TABLE_SUFFIXES


def read(path: Path, *, columns: Mapping[str, str] | None = None) -> ListensRead:
    """One generic listens file, or every CSV/TSV/Parquet file of a folder, into one table."""
    path = Path(path)
    files = [path]
    if path.is_dir():
        files = sorted(p for p in iter_files(path) if isinstance(p, Path) and p.suffix.lower() in TABLE_SUFFIXES)
        if not files:
            raise DataError(f"{path} holds no CSV/TSV/Parquet files of listens")
    frames, total = [], None
    for file in files:
        frame, report = read_listens_table(file, columns=columns)
        frames.append(frame)
        if total is None:
            total = report
        else:
            total.merge(report)
    if len(files) > 1:
        total.source = str(path)
    return ListensRead(pd.concat(frames, ignore_index=True), total)
