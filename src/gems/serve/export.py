"""``gems export``: top-k recommendations for many listeners, streamed to Parquet, CSV or JSON lines, and/or
one playlist file per listener.

Rows: ``user_id`` (str), ``rank`` (1-based), ``track_id`` (str), ``score``, ``popularity`` (listeners).
Users are ranked in blocks (matrix products, as implicit does) by a :class:`gems.parallel.Runner` — this
process, local worker processes or a Dask cluster — and each finished block is saved as a Parquet part in the
hidden folder ``.OUT.parts`` beside the output (:mod:`gems.serve.parts`), so memory stays bounded by the block
size and an interrupted export resumes where it stopped (when the model, the users and the options are the
same). The parts are joined into OUT, in its format, under a temporary name that is renamed when complete: a
truncated file never appears under the final name. Playlists (``--playlists DIR``) come from the same ranking
pass, ordered for flow by :mod:`gems.serve.playlist`, each written atomically. One export at a time writes a file or
a playlist folder (:mod:`gems.artifacts.locks`), so two never mix their rows.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gems.artifacts import locks
from gems.artifacts.hashing import hash_json
from gems.errors import DataError, ParameterError
from gems.parallel import Runner
from gems.progress import progress_bar
from gems.rank import Queries, RankOptions, rank
from gems.safe_files import (
    atomic_temporaries,
    check_output,
    describe_os_error,
    describe_write_error,
    read_regular,
)
from gems.serve.parts import Parts

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
    fallback: int = 0  # listeners of ``histories`` answered by the fallback (gems.rank.fallback)


def read_user_ids(path: str | Path) -> list[str]:
    """User ids from a text file, one per line (blank lines and surrounding spaces ignored; an id given twice
    is exported once)."""
    path = Path(path)
    try:
        text = read_regular(path).decode("utf-8-sig")
    except OSError as exc:
        raise DataError(
            f"users file {path} {describe_os_error(exc)}; give a text file with one user id per line"
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text at byte {exc.start}; expected one user id per line") from exc
    ids = [line.strip() for line in text.splitlines() if line.strip()]
    unique = list(dict.fromkeys(ids))
    if len(unique) < len(ids):
        log.warning("%s lists %d user id(s) more than once; each is exported once", path, len(ids) - len(unique))
    return unique


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("user_id", pa.string()),
            ("rank", pa.int32()),
            ("track_id", pa.string()),
            ("score", pa.float32()),
            ("popularity", pa.int64()),
        ]
    )


_MODELS: dict[str, object] = {}  # models opened in this process, by path (workers reuse them)


def _model(path: str):
    from gems.model import Model

    if path not in _MODELS:
        _MODELS[path] = Model(path)
    return _MODELS[path]


def _single_threaded() -> None:
    """In each local worker process: one BLAS thread, so two processes do not fight over two cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def rank_users(model, users: np.ndarray, options: RankOptions) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of a block of the model's listeners (rows): (items (b × k), scores), −1 / −inf padding — what
    ``gems export`` writes and ``gems evaluate`` scores."""
    ranked = rank(model.batch_inputs, Queries.of_listeners(model.interactions, users), options)
    return ranked.items, ranked.scores


def rank_block(task: tuple) -> tuple[np.ndarray, np.ndarray]:
    """One block of listeners -> (items (b × k), scores). ``task``: (model path, options, user rows) for the
    model's own listeners, or (model path, options, :class:`gems.rank.Queries`) for histories folded in."""
    path, options, who = task
    model = _model(path)
    if not isinstance(who, Queries):
        return rank_users(model, who, options)
    ranked = rank(model.batch_inputs, who, options)
    return ranked.items, ranked.scores


@dataclass
class Listeners:
    """Who an export ranks: ``names`` (the user_id column, Arrow strings) and either ``rows``, the model's own
    listeners, or the ``queries`` of listeners the model never saw (folded in). ``identity``: what an
    interrupted export must find unchanged to resume."""

    names: object
    identity: str
    rows: np.ndarray | None = None
    queries: Queries | None = None

    def __len__(self) -> int:
        return len(self.names)

    def task(self, path: str, options: RankOptions, part: slice) -> tuple:
        return (path, options, self.rows[part] if self.rows is not None else self.queries.take(part))

    def history(self, model, i: int) -> np.ndarray:
        """The track rows of listener ``i``."""
        if self.queries is not None:
            return self.queries.histories[i]
        return model.history(int(self.rows[i]))[0]


class _Fallback:
    """Fills the empty lists of listeners folded in with the fallback (:mod:`gems.rank.fallback`), made once."""

    def __init__(self, model, options: RankOptions):
        self.model, self.options, self.given, self.list = model, options, 0, None

    def fill(self, items: np.ndarray, scores: np.ndarray) -> None:
        empty = ~(items >= 0).any(axis=1)
        if empty.any():
            if self.list is None:
                from gems.rank.fallback import fallback_list

                self.list = fallback_list(self.model.inputs, self.options)
            items[empty], scores[empty] = self.list
            self.given += int(empty.sum())


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
    annotated with its rank, score and popularity. Files are named by :func:`gems.serve.playlist_files.safe_filename`."""

    def __init__(self, model, folder: Path, playlist_format: str):
        from gems.serve.playlist_files import FORMATS as PLAYLIST_FORMATS

        self.suffix = "." + str(playlist_format).lower().lstrip(".")
        if self.suffix not in PLAYLIST_FORMATS:
            raise ParameterError(f"--playlist-format must be m3u8, xspf or jspf, got '{playlist_format}'")
        self.model = model
        self.folder = folder
        self.written = 0

    def _note(self, row: int, place: int, k: int, score: float) -> str:
        from gems.serve.explain import popularity_words

        return f"pick {place} of {k} for this listener (score {score:.3f}); {popularity_words(self.model, row)}"

    def write(self, user_id: str, history: np.ndarray, items: np.ndarray, scores: np.ndarray) -> int:
        from gems.serve.playlist import assemble
        from gems.serve.playlist_files import safe_filename, write_playlist
        from gems.serve.recommend import for_whom

        model = self.model
        picks = items[items >= 0]
        notes = [
            self._note(int(row), place, len(picks), float(s)) for place, (row, s) in enumerate(zip(picks, scores), 1)
        ]
        playlist = assemble(model, picks, for_whom(model, user=user_id), seeds=history, notes=notes)
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
    histories=None,
    show_progress: bool = False,
    block: int = BLOCK,
    runner: Runner | None = None,
) -> ExportSummary:
    """Rank the top ``options.k`` of every requested user (default: every listener), or of every listener of
    ``histories`` (:class:`gems.serve.history.Histories`, folded in), once, in blocks run by ``runner``
    (default: this process), and write them to the table ``out`` and/or as one playlist per user into the folder
    ``playlists``. Every listener of ``histories`` is answered: one whose list comes out empty (nothing of their
    listening links, or what links leads to no pick) gets the fallback (:mod:`gems.rank.fallback`), counted in
    the summary's ``fallback`` (of the blocks ranked by this run: a resumed export counts its new blocks).

    Playlists (``playlist_format`` m3u8, xspf or jspf) are ordered for flow from each user's history like
    ``gems playlist --user``; each is written atomically as it is done (an interrupted export leaves whole files
    only), named by :func:`gems.serve.playlist_files.safe_filename` of the user id; other files in the folder are left alone.
    A second export into the same file or folder while this one runs gets a BusyError.
    """
    runner = runner or Runner()
    if out is None and playlists is None:
        raise ParameterError(
            "give --out FILE (a recommendations table), --playlists DIR (a playlist per user), or both"
        )
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in FORMATS:
            raise ParameterError(f"--out must end in {', '.join(FORMATS)}; got {out.name}")
        check_output(out)
    folder = None
    if playlists is not None:
        check_output(playlists, folder=True)
        folder = _PlaylistFolder(model, Path(playlists), playlist_format)
    with ExitStack() as held:  # one export at a time into a file or folder: never a mix of two
        for target in (out, None if folder is None else folder.folder):
            if target is not None:
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DataError(f"{target}: {describe_write_error(exc, target)}") from None
                held.enter_context(locks.hold(target.parent.resolve() / target.name, "gems export"))
        return _export(model, options, out, folder, user_ids, histories, show_progress, block, runner)


def _export(model, options, out, folder, user_ids, histories, show_progress, block, runner) -> ExportSummary:
    """:func:`export_batch` once its arguments are checked and its outputs locked."""
    import pyarrow as pa

    if folder is not None:
        try:
            folder.folder.mkdir(exist_ok=True)
            for stale in atomic_temporaries(folder.folder):  # of a playlist whose export died; we hold the lock
                stale.unlink()
        except OSError as exc:
            raise DataError(f"{folder.folder}: {describe_write_error(exc, folder.folder)}") from None
    unknown, empty = [], []
    fallback = None
    if histories is not None:
        names, queries = pa.array(histories.users, type=pa.string()), histories.queries
        coarse = {name: [c.tolist() for c in codes] for name, codes in queries.coarse_codes.items()}
        identity = hash_json([histories.users, [h.tolist() for h in queries.histories], coarse])
        who, fallback = Listeners(names, identity, queries=queries), _Fallback(model, options)
    else:
        rows, unknown, empty = _requested_rows(model, user_ids)
        # Arrow string arrays: each block's ids are one ``take``, not a million Python strings
        names = pa.array(list(model.user_ids), type=pa.string()).take(rows)
        who = Listeners(names, hash_json(rows.tolist()), rows)
    blocks = [slice(start, min(start + block, len(who))) for start in range(0, len(who), block)]
    parts = done = None
    if out is not None:
        model_identity = {name: stage["fingerprint"] for name, stage in model.manifest["stages"].items()}
        model_identity["files"] = hash_json(model.manifest["files"])
        plan = {"model": model_identity, "users": who.identity, "block": block, "options": asdict(options)}
        try:
            parts = Parts(out, plan)
        except OSError as exc:
            raise DataError(f"{out}: {describe_write_error(exc, out)}") from None
        done = parts.done() if folder is None else set()  # playlists need every block ranked again
    todo = [i for i in range(len(blocks)) if not done or i not in done]
    track_ids = model.track_ids.array.cast(pa.string())
    listeners = model.inputs.listeners
    path = str(model.path)
    _MODELS.setdefault(path, model)  # local workers fork with it already open ...
    if todo:
        model.batch_inputs  # noqa: B018  ... and with the factors sorted for the top-k, the matrices built
    try:
        written = 0
        tasks = [who.task(path, options, blocks[i]) for i in todo]
        with (
            runner.map(rank_block, tasks, initializer=_single_threaded) as ranked,
            progress_bar("export", len(who), show=show_progress) as advance,
        ):
            advance(sum(blocks[i].stop - blocks[i].start for i in range(len(blocks)) if i not in todo))
            for i, (items, scores) in zip(todo, ranked):
                if fallback is not None:
                    fallback.fill(items, scores)
                valid = items >= 0
                written += int(valid.sum())
                members = np.arange(blocks[i].start, blocks[i].stop)
                if parts is not None:
                    user_of = np.repeat(members, valid.sum(axis=1))
                    table = pa.table(
                        {
                            "user_id": names.take(user_of),
                            "rank": (np.cumsum(valid, axis=1)[valid]).astype(np.int32),
                            "track_id": track_ids.take(items[valid]),
                            "score": scores[valid].astype(np.float32),
                            "popularity": listeners[items[valid]].astype(np.int64),
                        },
                        schema=_schema(),
                    )
                    parts.write(i, table)
                if folder is not None:
                    for j, member in enumerate(members):  # the slower part: advance per playlist
                        folder.write(names[member].as_py(), who.history(model, member), items[j], scores[j][valid[j]])
                        advance(1)
                else:
                    advance(len(members))
        if parts is not None:
            written = parts.join(len(blocks), out, _schema())
    except OSError as exc:  # a full disk, a folder one may not write to: the finished parts stay for a rerun
        kept = f"; {parts.kept()}, so running it again resumes (delete that folder to free the space)" if parts else ""
        raise DataError(f"{out or folder.folder}: {describe_write_error(exc, out or folder.folder)}{kept}") from None
    return ExportSummary(
        users=len(who),
        rows=written,
        unknown_users=unknown,
        empty_users=empty,
        out=out,
        playlists=0 if folder is None else folder.written,
        playlist_folder=None if folder is None else folder.folder,
        fallback=0 if fallback is None else fallback.given,
    )
