"""Rows of the personal exports (Last.fm scrobbles, ListenBrainz, Spotify), kept chunk by chunk: each chunk of
raw records is sieved (:class:`RowSieve`: rows set aside by reason), its kept rows join a :class:`Collected`
whose repeated names share one string, and once every file is read the steps that need all rows run on the
kept ones only — the user of each row (:func:`resolve_users`), repeated listens (:func:`drop_repeats`), the
order and the item table (:func:`finish_listens`). So a read holds one chunk of raw records at a time, and
memory follows the rows kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from gems.ingest.archive import SourceFile, files_by_rel, nearest_file
from gems.ingest.common import DEFAULT_USER, clean_names, json_username, owner_of, shown
from gems.ingest.formats import ListensRead
from gems.ingest.report import MAX_EXAMPLES, IngestReport
from gems.ingest.schema import finalize_listens
from gems.ingest.timestamps import classify_timestamps

CHUNK_RECORDS = 20_000  # raw records parsed before they are sieved into kept rows (~20 MB of them)
FOLD_POSITIONS = 1 << 20  # distinct values of chunks a text column stacks before it folds them
_NAMES_PER_FILE = 2  # user names remembered per file: enough to tell one name from several


class RowSieve:
    """Keeps rows and sets aside the rest by reason; each row gets the first reason that applies.

    ``where(i)`` locates row ``i`` ("file:line" or "file record N") for the report's examples.
    """

    def __init__(self, report: IngestReport, n: int, where: Callable[[int], str]):
        self.report = report
        self.where = where
        self.keep = np.ones(n, dtype=bool)

    def drop(self, mask: Iterable[bool], reason: str, detail: Callable[[int], str] | None = None) -> None:
        mask = np.asarray(mask, dtype=bool)
        hit = np.flatnonzero(mask & self.keep)
        examples = [self.where(i) + (f": {detail(i)}" if detail else "") for i in hit[:MAX_EXAMPLES]]
        self.report.set_aside_rows(reason, len(hit), examples)
        self.keep &= ~mask


class TextCodes:
    """Text columns held as int32 codes, so rows kept chunk by chunk cost 4 bytes a value (pandas' string
    columns hold every row's characters), decoded into categoricals with sorted categories (sorting them sorts
    the text) once all are read. A code is a position in its column's :class:`_Stack`."""

    def __init__(self):
        self._stacks: dict[str, _Stack] = {}

    def encode(self, column: str, values: pd.Series) -> np.ndarray:
        """The codes of ``values`` (-1 for a missing value)."""
        codes, uniques = pd.factorize(values)
        first = self._stacks.setdefault(column, _Stack()).add(uniques)
        return np.where(codes >= 0, codes + first, -1).astype(np.int32)

    def decode(self, column: str, codes: np.ndarray) -> pd.Categorical:
        stack = self._stacks[column]
        stack.fold()
        values, where = stack.folded, stack.where
        order = values.argsort() if len(values) else np.zeros(0, dtype=np.int64)
        rank = np.empty(len(values), dtype=np.int32)
        rank[order] = np.arange(len(values), dtype=np.int32)
        position = np.append(rank[where], np.int32(-1))  # stack position -> sorted code; the last: missing
        categories = pd.Index(np.asarray(values.take(order), dtype=object), dtype=object)
        return pd.Categorical.from_codes(position[codes], categories=categories)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its text columns encoded (see :meth:`decoded`)."""
        for column in frame.columns:
            if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
                frame[f"_text_{column}"] = self.encode(column, frame.pop(column))
        return frame

    def decoded(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The text columns of a frame :meth:`frame` encoded, as categoricals again."""
        for column in [c for c in frame.columns if c.startswith("_text_")]:
            frame[column.removeprefix("_text_")] = self.decode(
                column.removeprefix("_text_"), frame.pop(column).to_numpy()
            )
        return frame


class _Stack:
    """One text column's distinct values, chunk by chunk: each chunk's (``pd.factorize``, in C) are stacked after
    the folded positions, which ``where`` maps into ``folded``, an Index of distinct values. Once the stacked
    values outnumber four times those (and :data:`FOLD_POSITIONS`), they are folded into it in one hash pass: memory
    follows the distinct values, and the work the values stacked."""

    def __init__(self):
        self.folded = pd.Index([], dtype=object)
        self.where = np.zeros(0, dtype=np.int32)  # folded position -> index into ``folded``
        self.pending: list[pd.Index] = []
        self.size = 0  # positions, folded and pending

    def add(self, uniques: pd.Index) -> int:
        """Stack one chunk's distinct values; returns the position of the first."""
        first = self.size
        self.pending.append(uniques)
        self.size += len(uniques)
        if self.size - len(self.where) > max(4 * len(self.folded), FOLD_POSITIONS):
            self.fold()
        return first

    def fold(self) -> None:
        """Fold the pending values into ``folded`` (an Index of distinct values factorizes to 0..n-1, so the
        folded positions keep theirs)."""
        if self.pending:
            parts = ([self.folded] if len(self.folded) else []) + self.pending
            where, folded = pd.factorize(parts[0].append(parts[1:]))
            self.where = np.concatenate([self.where, where[len(self.folded) :].astype(np.int32)])
            self.folded, self.pending = folded, []


class Collected:
    """The kept rows of a source's files, chunk by chunk, with where each came from (``_file``: the index of
    its file, ``_at``: its line or record number; ``where(file, at)`` spells that for a message). Text columns
    are pooled: every chunk's ``"Main Theme"`` is one string object, so a million scrobbles of a few thousand
    songs hold a few thousand titles."""

    def __init__(self, files: Sequence[SourceFile], report: IngestReport, where: Callable[[int, int], str]):
        self.files, self.report, self.where = files, report, where
        self.parts: list[pd.DataFrame] = []
        self.names: dict[str, set[str]] = {}  # folder -> user names its files' rows carry (at most two)
        self.text = TextCodes()

    def sieve(self, file: np.ndarray, at: np.ndarray) -> RowSieve:
        """A sieve for one chunk of rows, row ``i`` from file ``file[i]`` at line (or record) ``at[i]``."""
        return RowSieve(self.report, len(at), lambda i: self.where(int(file[i]), int(at[i])))

    def add(self, frame: pd.DataFrame, sieve: RowSieve, file: np.ndarray, at: np.ndarray) -> None:
        """Keep the rows of ``frame`` (one chunk, see :meth:`sieve`) that ``sieve`` kept."""
        kept = self.text.frame(frame[sieve.keep].reset_index(drop=True))
        kept["_file"] = np.asarray(file, dtype=np.int32)[sieve.keep]
        kept["_at"] = np.asarray(at, dtype=np.int64)[sieve.keep]
        self.parts.append(kept)

    def note_names(self, file: np.ndarray, named: pd.Series) -> None:
        """Remember the user names one chunk's rows carry (kept or not; row ``i`` is from file ``file[i]``), by
        folder, for :func:`resolve_users`."""
        pairs = pd.DataFrame({"file": file, "name": clean_names(named).to_numpy()}).dropna().drop_duplicates()
        for index, name in zip(pairs["file"].to_numpy(), pairs["name"].to_numpy()):
            seen = self.names.setdefault(str(self.files[index].rel.parent), set())
            if len(seen) < _NAMES_PER_FILE:
                seen.add(name)

    def frame(self, columns: Sequence[str]) -> pd.DataFrame:
        """Every kept row (``columns`` name them when there is none), in the order read; text columns are
        categoricals whose order is the text's."""
        if not self.parts:
            frame = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
            return frame.assign(_file=np.int32(0), _at=np.int64(0))
        frame = pd.concat(self.parts, ignore_index=True)
        self.parts = []
        return self.text.decoded(frame)

    def final_sieve(self, frame: pd.DataFrame) -> RowSieve:
        """A sieve over every kept row, for the steps that need them all."""
        file, at = frame["_file"].to_numpy(), frame["_at"].to_numpy()
        return RowSieve(self.report, len(frame), lambda i: self.where(int(file[i]), int(at[i])))


def rebatched(
    pieces: Iterable[tuple[pd.DataFrame, np.ndarray, np.ndarray]], rows: int = CHUNK_RECORDS
) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
    """Pieces of raw rows ``(frame, file index of each row, its line)`` joined into chunks of at least ``rows``
    rows (the last may be smaller), so many small files cost one chunk's work, not one each."""
    held: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]] = []
    count = 0
    for piece in pieces:
        held.append(piece)
        count += len(piece[0])
        if count >= rows:
            yield _joined(held)
            held, count = [], 0
    if held:
        yield _joined(held)


def _joined(held: list[tuple[pd.DataFrame, np.ndarray, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    if len(held) == 1:
        return held[0]
    frame = pd.concat([h[0] for h in held], ignore_index=True)
    return frame, np.concatenate([h[1] for h in held]), np.concatenate([h[2] for h in held])


def items_from_listens(frame: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """One catalogue row per listened track id: its most common title, artist and album (as ``soundtrack``;
    ties go to the spelling seen first), plus the ``extra`` columns (``duration_s``, ``recording_mbid``...)
    that ``frame`` has with some value (their first known value)."""
    items = pd.DataFrame({"track_id": frame["track_id"].drop_duplicates()})
    for column in ("title", "artist", "album"):
        if column not in frame:
            continue
        spelled = pd.DataFrame({"track_id": frame["track_id"], column: frame[column], "at": np.arange(len(frame))})
        counts = spelled.groupby(["track_id", column], observed=True)["at"].agg(["size", "min"]).reset_index()
        counts = counts.sort_values(["size", "min"], ascending=[False, True], kind="stable")
        items = items.merge(counts.drop_duplicates("track_id")[["track_id", column]], on="track_id", how="left")
    extra = [c for c in extra if c in frame and frame[c].notna().any()]  # an all-empty extra says nothing
    if extra:
        items = items.merge(
            frame.groupby("track_id", sort=False)[extra].first().reset_index(), on="track_id", how="left"
        )
    items = items.rename(columns={"album": "soundtrack"}).reset_index(drop=True)
    for column in items.columns:
        if isinstance(items[column].dtype, pd.CategoricalDtype):
            items[column] = items[column].astype("string")
    return items


def resolve_users(
    collected: Collected,
    file_index: np.ndarray,
    named: pd.Series,
    *,
    account_file: str | None = None,
    all_files: Sequence[SourceFile] = (),
) -> pd.Series:
    """The user id of every kept row of a personal export (``file_index``: the index of its file).

    ``named`` holds the user name each row carries (Spotify ``username``, ListenBrainz ``user_name``), if any.
    A row without one takes, in order: the one name the rows of files in the same folder carry (older and
    newer Spotify files of one export; :meth:`Collected.note_names` saw them all, kept or not); the ``username``
    of the nearest ``account_file`` (ListenBrainz ``user.json``, Spotify ``Userdata.json``) among ``all_files``;
    the owner its path names (:func:`owner_of`); else :data:`DEFAULT_USER`.
    """
    files = collected.files
    users = clean_names(named)
    folders = np.array([str(f.rel.parent) for f in files], dtype=object)[file_index]
    by_rel = files_by_rel(all_files)
    account_users: dict[SourceFile | None, str | None] = {}  # each account file is read once
    owners = np.empty(len(files), dtype=object)
    for folder in dict.fromkeys(folders):
        missing = (folders == folder) & users.isna().to_numpy()
        if not missing.any():
            continue
        distinct = collected.names.get(folder, set())
        if len(distinct) == 1:
            users[missing] = next(iter(distinct))
            continue
        for i in np.unique(file_index[missing]):
            account = nearest_file(by_rel, files[i], account_file) if account_file else None
            if account not in account_users:
                account_users[account] = json_username(account)
            owners[i] = account_users[account] or owner_of(files[i]) or DEFAULT_USER
        users[missing] = owners[file_index[missing]]
    return users


def drop_bad_dates(sieve: RowSieve, raw: pd.Series, *, missing: str = "missing date") -> pd.Series:
    """Set aside rows whose date is missing (reason ``missing``), a pre-1971 placeholder (``placeholder date``)
    or unreadable (``unparseable date``); returns the parsed UTC dates."""
    stamps, unparseable, placeholder = classify_timestamps(raw)
    date = lambda i: f"date={shown(raw.iloc[i])}"  # noqa: E731
    sieve.drop(stamps.isna().to_numpy() & ~unparseable & ~placeholder, missing, lambda i: "no date")
    sieve.drop(placeholder, "placeholder date", date)
    sieve.drop(unparseable, "unparseable date", date)
    return stamps


def drop_repeats(
    sieve: RowSieve, key: pd.DataFrame, detail: Callable[[int], str], *, reason: str = "duplicate listen"
) -> None:
    """Set aside rows whose ``key`` columns repeat those of an earlier row still kept."""
    repeated = np.zeros(len(key), dtype=bool)
    repeated[sieve.keep] = key[sieve.keep].duplicated().to_numpy()
    sieve.drop(repeated, reason, detail)


def finish_listens(
    frame: pd.DataFrame, keep: np.ndarray, report: IngestReport, *, extra: Sequence[str] = ()
) -> ListensRead:
    """The kept rows of ``frame`` (user_id, track_id, weight, timestamp, title, artist[, album, extra...]) sorted
    by user and time, as canonical listens with their items (``extra`` columns go to the items only)."""
    report.rows_kept = int(keep.sum())
    out = frame[keep].sort_values(["user_id", "timestamp"], kind="stable")
    if (out["user_id"] == DEFAULT_USER).any():
        report.notes.append(
            f"the export names no user (no user name inside, none in its file names): its listens are user "
            f"'{DEFAULT_USER}'; rename the file or folder after its owner to change that"
        )
    return ListensRead(finalize_listens(out), report, items_from_listens(out, extra=extra))
