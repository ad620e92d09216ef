"""``gems export``: top-k recommendations for many listeners, streamed to Parquet, CSV or JSON lines.

Rows: ``user_id`` (str), ``rank`` (1-based), ``track_id`` (str), ``score``, ``popularity`` (listeners).
Users are ranked in blocks (matrix products, as implicit does), each block written as it is done, so memory
stays bounded by the block size; the output is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gems.errors import DataError, ParameterError
from gems.progress import progress_bar
from gems.rank import RankOptions, recommend_batch

log = logging.getLogger(__name__)

FORMATS = (".parquet", ".csv", ".jsonl")
BLOCK = 512


@dataclass
class ExportSummary:
    users: int
    rows: int
    unknown_users: list[str]
    empty_users: list[str]
    out: Path


def read_user_ids(path: str | Path) -> list[str]:
    """User ids from a text file, one per line (blank lines and surrounding spaces ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"users file {path} does not exist; give a text file with one user id per line")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text at byte {exc.start}; expected one user id per line") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


class _Writer:
    """Appends blocks of rows to ``path`` in ``suffix``'s format (.parquet, .csv or .jsonl)."""

    def __init__(self, path: Path, suffix: str):
        import pyarrow as pa

        self.path = path
        self.suffix = suffix
        self.schema = pa.schema(
            [
                ("user_id", pa.string()),
                ("rank", pa.int32()),
                ("track_id", pa.string()),
                ("score", pa.float32()),
                ("popularity", pa.int64()),
            ]
        )
        self.sink = None

    def write(self, columns: dict) -> None:
        import pyarrow as pa

        table = pa.table(columns, schema=self.schema)
        if self.suffix == ".parquet":
            import pyarrow.parquet as pq

            if self.sink is None:
                self.sink = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            self.sink.write_table(table)
        elif self.suffix == ".csv":
            import pyarrow.csv as pacsv

            if self.sink is None:
                self.sink = pacsv.CSVWriter(self.path, self.schema)
            self.sink.write_table(table)
        else:
            if self.sink is None:
                self.sink = open(self.path, "w", encoding="utf-8")
            for row in table.to_pylist():
                self.sink.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.sink is None:  # nothing written: still leave a valid, empty file
            self.write({name: [] for name in self.schema.names})
        self.sink.close()


def export_recommendations(
    model,
    out: str | Path,
    options: RankOptions,
    *,
    user_ids: list[str] | None = None,
    show_progress: bool = False,
    block: int = BLOCK,
) -> ExportSummary:
    """Write the top ``options.k`` of every requested user (default: every listener of the model) to ``out``."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ParameterError(f"--out must end in {', '.join(FORMATS)}; got {out.name}")
    if not model.user_ids:
        raise DataError(f"{model.path} was built without listens, so it has no users to export for")
    requested = list(model.user_ids) if user_ids is None else user_ids
    unknown = [u for u in requested if u not in model.user_ids]
    rows = np.asarray([model.user_ids[u] for u in requested if u in model.user_ids], dtype=np.int64)
    indptr, indices, _ = (np.asarray(a) for a in model.interactions)
    counts = np.diff(indptr)
    empty = [
        requested_id
        for requested_id in requested
        if requested_id in model.user_ids and counts[model.user_ids[requested_id]] == 0
    ]
    rows = rows[counts[rows] > 0]
    if unknown:
        log.warning(
            "%d requested user(s) are not in the model and are skipped (e.g. %s)", len(unknown), ", ".join(unknown[:3])
        )
    if empty:
        log.warning(
            "%d user(s) have no listens in the model and get no recommendations (e.g. %s)",
            len(empty),
            ", ".join(empty[:3]),
        )
    user_names = np.asarray(list(model.user_ids), dtype=object)
    track_ids = np.asarray(model.track_ids, dtype=object)
    inputs = model.inputs
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    writer = _Writer(partial, out.suffix.lower())
    written = 0
    try:
        with progress_bar("export", len(rows), show=show_progress) as advance:
            for start in range(0, len(rows), block):
                users = rows[start : start + block]
                histories = [indices[indptr[u] : indptr[u + 1]].astype(np.int64) for u in users]
                items, scores = recommend_batch(inputs, histories, users, options)
                valid = items >= 0
                user_of = np.repeat(users, valid.sum(axis=1))
                written += int(valid.sum())
                writer.write(
                    {
                        "user_id": user_names[user_of],
                        "rank": (np.cumsum(valid, axis=1)[valid]).astype(np.int32),
                        "track_id": track_ids[items[valid]],
                        "score": scores[valid].astype(np.float32),
                        "popularity": inputs.listeners[items[valid]].astype(np.int64),
                    }
                )
                advance(len(users))
        writer.close()
        os.replace(partial, out)
    except BaseException:
        if writer.sink is not None:
            writer.sink.close()
        partial.unlink(missing_ok=True)
        raise
    return ExportSummary(users=len(rows), rows=written, unknown_users=unknown, empty_users=empty, out=out)
