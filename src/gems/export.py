"""``gems export``: top-k recommendations for many listeners, streamed to Parquet, CSV or JSON lines, and/or
one playlist file per listener.

Rows: ``user_id`` (str), ``rank`` (1-based), ``track_id`` (str), ``score``, ``popularity`` (listeners).
Users are ranked in blocks (matrix products, as implicit does), each block written as it is done, so memory
stays bounded by the block size; the output is written under a temporary name and renamed when complete.
Playlists (``--playlists DIR``) come from the same ranking pass, ordered for flow by :mod:`gems.playlist`.
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
    out: Path | None
    playlists: int = 0  # playlist files written (export_batch with ``playlists``)
    playlist_folder: Path | None = None


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
    return export_batch(model, options, out=out, user_ids=user_ids, show_progress=show_progress, block=block)


def _requested_rows(model, user_ids: list[str] | None) -> tuple[np.ndarray, list[str], list[str]]:
    """(user rows to rank, requested ids unknown to the model, known ids without listens), with warnings."""
    if not model.user_ids:
        raise DataError(f"{model.path} was built without listens, so it has no users to export for")
    requested = list(model.user_ids) if user_ids is None else user_ids
    unknown = [u for u in requested if u not in model.user_ids]
    rows = np.asarray([model.user_ids[u] for u in requested if u in model.user_ids], dtype=np.int64)
    counts = np.diff(np.asarray(model.interactions[0]))
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
    return rows, unknown, empty


class _PlaylistFolder:
    """Writes one playlist per user into ``folder``: the user's picks ordered for flow (from their history), each
    annotated with its rank, score and popularity. Files are named by :func:`gems.playlist.safe_filename`."""

    def __init__(self, model, folder: Path, playlist_format: str):
        from gems.playlist import FORMATS as PLAYLIST_FORMATS

        self.suffix = "." + str(playlist_format).lower().lstrip(".")
        if self.suffix not in PLAYLIST_FORMATS:
            raise ParameterError(f"--playlist-format must be m3u8, xspf or jspf, got '{playlist_format}'")
        self.model = model
        self.folder = folder
        self.written = 0

    def _note(self, row: int, rank: int, k: int, score: float) -> str:
        model = self.model
        listeners = int(model.listeners[row])
        source = " in the simulated listening log" if model.simulated else ""
        where = "a long-tail track" if model.is_tail[row] else "a well-known track"
        plural = "s" if listeners != 1 else ""
        return (
            f"pick {rank} of {k} for this listener (score {score:.3f}); {where}: {listeners:,} listener{plural}{source}"
        )

    def write(self, user_id: str, history: np.ndarray, items: np.ndarray, scores: np.ndarray) -> int:
        from gems.playlist import Playlist, annotation, entry, flow_order, safe_filename, write_playlist

        model = self.model
        picks = items[items >= 0]
        notes = [
            self._note(int(row), rank, len(picks), float(s)) for rank, (row, s) in enumerate(zip(picks, scores), 1)
        ]
        order = flow_order(model, picks, history)
        playlist = Playlist(
            title=f"gems: hidden gems for {user_id}",
            annotation=annotation(model, f"for listener {user_id}"),
            entries=[entry(model, int(picks[i]), notes[i]) for i in order],
        )
        write_playlist(playlist, self.folder / (safe_filename(user_id) + self.suffix))
        self.written += 1
        return len(picks)


def export_batch(
    model,
    options: RankOptions,
    *,
    out: str | Path | None = None,
    playlists: str | Path | None = None,
    playlist_format: str = "m3u8",
    user_ids: list[str] | None = None,
    show_progress: bool = False,
    block: int = BLOCK,
) -> ExportSummary:
    """Rank the top ``options.k`` of every requested user (default: every listener) once, in blocks, and write
    them to the table ``out`` and/or as one playlist per user into the folder ``playlists``.

    Playlists (``playlist_format`` m3u8, xspf or jspf) are ordered for flow from each user's history like
    ``gems playlist --user``; each is written atomically as it is done (an interrupted export leaves whole files
    only), named by :func:`gems.playlist.safe_filename` of the user id; other files in the folder are left alone.
    """
    if out is None and playlists is None:
        raise ParameterError(
            "give --out FILE (a recommendations table), --playlists DIR (a playlist per user), or both"
        )
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in FORMATS:
            raise ParameterError(f"--out must end in {', '.join(FORMATS)}; got {out.name}")
    folder = None
    if playlists is not None:
        folder = _PlaylistFolder(model, Path(playlists), playlist_format)
    rows, unknown, empty = _requested_rows(model, user_ids)
    if folder is not None:
        folder.folder.mkdir(parents=True, exist_ok=True)
    indptr, indices, _ = (np.asarray(a) for a in model.interactions)
    user_names = np.asarray(list(model.user_ids), dtype=object)
    track_ids = np.asarray(model.track_ids, dtype=object)
    inputs = model.inputs
    writer = partial = None
    if out is not None:
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
                written += int(valid.sum())
                if writer is not None:
                    user_of = np.repeat(users, valid.sum(axis=1))
                    writer.write(
                        {
                            "user_id": user_names[user_of],
                            "rank": (np.cumsum(valid, axis=1)[valid]).astype(np.int32),
                            "track_id": track_ids[items[valid]],
                            "score": scores[valid].astype(np.float32),
                            "popularity": inputs.listeners[items[valid]].astype(np.int64),
                        }
                    )
                if folder is not None:
                    for i, user in enumerate(users):  # the slower part: advance per playlist
                        folder.write(str(user_names[user]), histories[i], items[i], scores[i][valid[i]])
                        advance(1)
                else:
                    advance(len(users))
        if writer is not None:
            writer.close()
            os.replace(partial, out)
    except BaseException:
        if writer is not None:
            if writer.sink is not None:
                writer.sink.close()
            partial.unlink(missing_ok=True)
        raise
    return ExportSummary(
        users=len(rows),
        rows=written,
        unknown_users=unknown,
        empty_users=empty,
        out=out,
        playlists=0 if folder is None else folder.written,
        playlist_folder=None if folder is None else folder.folder,
    )
