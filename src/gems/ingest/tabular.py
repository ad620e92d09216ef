"""Delimited text and Parquet files read as tables of strings, with the line number of every row, in batches
(:func:`table_batches`: memory follows one batch, not the file) or whole (:func:`read_table`).

Malformed CSV rows (too many or too few fields) are reported with their exact line; the line numbers of
good rows assume one line per record (a quoted field spanning lines shifts later numbers).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gems.errors import DataError
from gems.ingest.safe_read import HEAD_BYTES, decode_head, machine_errors, read_input, text_encoding

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".dat", ".parquet", ".pq")
BLOCK_BYTES = 8 << 20  # text per batch: ~100,000 scrobbles
PARQUET_ROWS = 200_000


@dataclass
class RawTable:
    """``frame`` holds every column as strings (Parquet keeps its own types); ``lines[i]`` is row i's line."""

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    malformed: list[tuple[int | None, str]]
    first_row: int = 0  # rows of the file before this batch (Parquet's rows have no line)

    def where(self, position: int) -> str:
        """``file:line`` of row ``position`` (``file row N`` for Parquet)."""
        line = self.lines[position] if position < len(self.lines) else -1
        return f"{self.path}:{line}" if line >= 0 else f"{self.path} row {self.first_row + position + 1}"


def _sniff_delimiter(first_line: str, suffix: str) -> str:
    if suffix in (".tsv", ".tab"):
        return "\t"
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",\t;|").delimiter
    except csv.Error:
        return "\t" if first_line.count("\t") > first_line.count(",") else ","


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def read_table(
    path: str | Path,
    *,
    known_names: set[str] | None = None,
    column_names: list[str] | None = None,
) -> RawTable:
    """A whole CSV/TSV/Parquet file as one :class:`RawTable` (see :func:`table_batches`)."""
    batches = list(table_batches(path, known_names=known_names, column_names=column_names))
    frame = pd.concat([b.frame for b in batches], ignore_index=True)
    lines = np.concatenate([b.lines for b in batches])
    return RawTable(batches[0].path, frame, lines, [m for b in batches for m in b.malformed])


def table_batches(
    path: str | Path,
    *,
    known_names: set[str] | None = None,
    column_names: list[str] | None = None,
) -> Iterator[RawTable]:
    """A CSV/TSV/Parquet file as :class:`RawTable` batches of about :data:`BLOCK_BYTES` of text each (at least
    one batch, maybe empty), streamed; text encoding (UTF-8 with or without BOM, UTF-16, else Latin-1; see
    :mod:`gems.ingest.safe_read`) and delimiter are detected.

    ``known_names``: lower-case column names that identify a header row; when the first row has none of them,
    the file is read as header-less, named by ``column_names`` (then ``col<i>``).
    """
    path = Path(path)
    with machine_errors(path):
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file")
        head = read_input(path, HEAD_BYTES)
        if not head:
            raise DataError(f"{path} is empty; expected a table")
        if path.suffix.lower() in (".parquet", ".pq"):
            yield from _parquet_batches(path)
        else:
            yield from _delimited_batches(path, head, known_names, column_names)


def _delimited_batches(
    path: Path, head: bytes, known_names: set[str] | None, column_names: list[str] | None
) -> Iterator[RawTable]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = text_encoding(head, str(path), expected="a delimited text table (CSV/TSV)", fallback="latin-1")
    sample = decode_head(head) if encoding != "latin-1" else head.decode(encoding)
    first_line = sample.splitlines()[0] if sample else ""
    delimiter = _sniff_delimiter(first_line, path.suffix.lower())
    first_row = next(csv.reader([first_line], delimiter=delimiter), [])
    has_header = known_names is None or any(f.strip().lower() in known_names for f in first_row)
    if has_header:
        names = _unique([field.strip() or f"col{i}" for i, field in enumerate(first_row)])
    else:
        names = list(column_names or [])[: len(first_row)]
        names += [f"col{i}" for i in range(len(names), len(first_row))]

    malformed: list[tuple[int | None, str]] = []

    def on_invalid(row) -> str:
        malformed.append((row.number, f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"

    undecodable: list[BaseException] = []
    next_line, reported = 2 if has_header else 1, 0
    try:
        with _quiet_row_decoding(undecodable):
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    encoding="utf8" if encoding.startswith("utf-8") else encoding,  # Arrow skips a UTF-8 BOM itself
                    column_names=names,
                    skip_rows=1 if has_header else 0,
                    block_size=BLOCK_BYTES,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            empty = True
            for batch in reader:
                frame = batch.to_pandas()
                # good rows take the line numbers the malformed ones (reported up to here) leave free
                bad = {n for n, _ in malformed if n is not None and n >= next_line}
                lines = np.arange(next_line, next_line + len(frame) + len(bad), dtype=np.int64)
                lines = lines[~np.isin(lines, list(bad))][: len(frame)]
                next_line = int(lines[-1]) + 1 if len(lines) else next_line
                yield RawTable(path, frame, lines, malformed[reported:])
                reported, empty = len(malformed), False
            if empty or reported < len(malformed):
                yield RawTable(path, _empty(names), np.zeros(0, dtype=np.int64), malformed[reported:])
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if undecodable:
            raise DataError(
                f"{path}: a malformed row holds bytes that are not {encoding} text ({undecodable[0]}); re-save the "
                "file as UTF-8 and check the row"
            ) from exc
        if "straddl" in str(exc):  # Arrow's words for one row longer than a block
            raise DataError(
                f"{path}: a row longer than {BLOCK_BYTES >> 20} MiB (or a quoted field that never closes) after line "
                f"{next_line - 1:,}; a table's rows are short — is this the right file?"
            ) from None
        raise DataError(f"{path} is not a readable delimited table (read as {encoding} text): {exc}") from exc


def _empty(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in names})


@contextmanager
def _quiet_row_decoding(found: list[BaseException]):
    """pyarrow decodes a malformed row's text as UTF-8 before it calls the invalid-row handler; bytes in another
    encoding make that fail, which pyarrow prints as "Exception ignored" before it stops the read. Such errors are
    collected in ``found`` instead, for the read's own error to explain."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            found.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _parquet_batches(path: Path) -> Iterator[RawTable]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        done = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_ROWS):
            frame = batch.to_pandas()
            yield RawTable(path, frame, np.full(len(frame), -1, dtype=np.int64), [], first_row=done)
            done += len(frame)
        if done == 0:
            yield RawTable(path, parquet.schema_arrow.empty_table().to_pandas(), np.zeros(0, dtype=np.int64), [])
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the machine's error (permission, disk), not the file's: see machine_errors
        raise DataError(f"{path} is not a readable Parquet file: {exc}") from exc


def pick_column(
    columns: list[str], candidates: tuple[str, ...], explicit: str | None, *, role: str, path: Path
) -> str | None:
    """The column playing ``role``: the ``explicit`` name when given (must exist), else the first of
    ``candidates`` present (case-insensitive), else None."""
    lowered = {c.lower(): c for c in columns}
    if explicit is not None:
        if explicit in columns:
            return explicit
        if explicit.lower() in lowered:
            return lowered[explicit.lower()]
        raise DataError(
            f"{path}: the {role} column '{explicit}' you mapped is not there; columns are {', '.join(columns)}"
        )
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None
