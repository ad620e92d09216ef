"""Content fingerprints, atomic writes, and writing a model folder.

A model folder holds arrays as ``.npy``/``.npz`` (loaded with ``allow_pickle=False``), tables as Parquet, faiss
indexes in faiss's own format and a ``manifest.json`` (config, input fingerprints, library versions, counts,
timings, and each file's size and content hash). :class:`ModelWriter` builds the folder under a hidden
temporary sibling, one writer at a time, and swaps it into place in one step only when every file is written,
so a crash, Ctrl-C or a kill never leaves a half-written model, nor the path empty. Reading one, which never
executes code, is :mod:`gems.model_folder`'s.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

from gems.errors import DataError, ModelError
from gems.safe_files import (
    NotRegularFile,
    describe_os_error,
    describe_write_error,
    kind_of,
    open_regular,
    walk_files,
)

if TYPE_CHECKING:
    from gems.model_folder import ModelFolder

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")  # what write_atomic writes to before its rename
FORMAT_VERSION = 3
MANIFEST = "manifest.json"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------- fingerprints


def hash_bytes(data: bytes) -> str:
    """128-bit BLAKE2b hex digest of ``data``."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def hash_file(path: str | os.PathLike) -> str:
    """128-bit BLAKE2b hex digest of a regular file's content (read in 1 MiB chunks); a FIFO, socket or device
    raises :class:`~gems.safe_files.NotRegularFile` (an OSError) instead of blocking or reading forever."""
    digest = hashlib.blake2b(digest_size=16)
    with open_regular(path) as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_json(obj: Any) -> str:
    """Fingerprint of a JSON-serialisable value, independent of key order."""
    return hash_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode())


class InputHasher:
    """Content hashes of input files and folders, memoised by (size, mtime) from an earlier build.

    ``memo`` maps an absolute path to ``[size, mtime_ns, hash]``; :attr:`seen` collects the entries of every path
    hashed, for the next build's manifest, so unchanged inputs are never read twice.
    """

    def __init__(self, memo: Mapping[str, list] | None = None):
        self.memo = dict(memo or {})
        self.seen: dict[str, list] = {}

    def file(self, path: str | os.PathLike) -> str:
        """Content hash of one regular file (raises OSError when it cannot be read or is not a regular file)."""
        key = os.path.realpath(path)  # never raises, even on a symlink loop (the stat below does)
        stat = os.stat(key)
        if not S_ISREG(stat.st_mode):
            raise NotRegularFile(path, kind_of(stat.st_mode))
        cached = self.memo.get(key)
        if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
            digest = cached[2]
        else:
            digest = hash_file(key)
        self.seen[key] = [stat.st_size, stat.st_mtime_ns, digest]
        return digest

    def path(self, path: str | os.PathLike) -> str:
        """Content hash of a file, or of a folder's files (names and contents, hidden files skipped).

        In a folder, an entry that cannot be read (a FIFO, a symlink loop, a file without read permission)
        counts by what is wrong with it, so the build goes on (the readers report it) and fixing it re-runs the
        stages that read the folder. A file given on its own that cannot be read is a DataError.
        """
        path = Path(path)
        try:
            if not path.is_dir():
                return self.file(path)
            walk = walk_files(path)
        except OSError as exc:
            raise DataError(f"{path}: {describe_os_error(exc)}") from None
        parts = []
        for file in walk.files:
            try:
                parts.append((file.relative_to(path).as_posix(), self.file(file)))
            except OSError as exc:
                parts.append((file.relative_to(path).as_posix(), f"unreadable: {exc.strerror}"))
        parts += [(s.path.relative_to(path).as_posix(), f"skipped: {s.reason}") for s in walk.skipped]
        return hash_json(sorted(parts, key=lambda part: part[0].split("/")))


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` (from package metadata; nothing is imported)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


# --------------------------------------------------------------------------------------------- writing


def _create(folder: Path, prefix: str, suffix: str, make: Callable[[Path], Any]):
    """``make(path)`` for a new random ``folder/prefix…suffix`` name (again on a clash): files and folders made
    this way get the user's umask, which ``tempfile`` would narrow to 0600/0700."""
    while True:
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            return path, make(path)
        except FileExistsError:
            continue


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename (OSError when the
    machine refuses: callers say what it means for their file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = _create(path.parent, f".{path.name}.", ".tmp", lambda p: os.open(p, flags, 0o666))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_temporaries(folder: Path) -> list[Path]:
    """The temporary files :func:`write_atomic` left in ``folder`` (a writer died between writing and renaming;
    only the holder of the folder's lock may take them for stale)."""
    return [p for p in folder.glob(".*.tmp") if _TEMPORARY.fullmatch(p.name)]


def write_output(path: Path, data: bytes) -> None:
    """:func:`write_atomic` for a file the user asked for: a full disk or a folder one may not write to is a
    DataError naming the file and what to do."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise DataError(f"{path}: {describe_write_error(exc, path)}") from None


def _writes(method):
    """A ModelWriter method whose machine errors (a full disk...) become one clear ModelError."""

    @functools.wraps(method)
    def wrapper(self, relpath, *args, **kwargs):
        try:
            return method(self, relpath, *args, **kwargs)
        except OSError as exc:
            raise self.cannot_write(exc) from None

    return wrapper


class ModelWriter:
    """Write a model folder atomically, one writer at a time.

    Use as a context manager: it takes the folder's lock (:mod:`gems.locks`; a second writer gets a BusyError)
    and puts back or deletes what writers that died left (:func:`gems.swap.sweep`); files go to
    ``.NAME.tmp-PID-XXXX`` beside the final folder, under the names :data:`gems.layout.FILES` knows;
    :meth:`commit` records every file's size and hash in the manifest and swaps the folder into place in one
    step (:func:`gems.swap.replace`); leaving the block without a commit deletes the temporary folder.
    """

    def __init__(self, final: str | os.PathLike):
        from gems import locks, swap

        self.final = Path(final).resolve()
        self.committed = False
        self.written: list[str] = []
        self._records: dict[str, dict[str, Any]] = {}
        self._stack = ExitStack()
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._stack.enter_context(locks.hold(self.final, "gems build"))
            swap.sweep(self.final)
            _check_replaceable(self.final)
            prefix = f"{swap.temporary_prefix(self.final)}{os.getpid()}-"
            self.path, _ = _create(self.final.parent, prefix, "", lambda p: p.mkdir(0o777))
        except OSError as exc:
            self._stack.close()
            raise self.cannot_write(exc) from None
        except BaseException:
            self._stack.close()
            raise
        self._stack.callback(lambda: self.committed or shutil.rmtree(self.path, ignore_errors=True))

    def __enter__(self) -> ModelWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def cannot_write(self, exc: OSError) -> ModelError:
        return ModelError(f"{self.final}: the model folder {describe_write_error(exc, self.final.parent)}")

    def file(self, relpath: str) -> Path:
        """Absolute path for ``relpath`` (a name :data:`gems.layout.FILES` knows) in the temporary folder."""
        from gems.integrity import check_name

        target = self.path / check_name(relpath, "gems build")
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(relpath)
        self._records.pop(relpath, None)
        return target

    @_writes
    def save_array(self, relpath: str, array) -> None:
        import numpy as np

        np.save(self.file(relpath), np.ascontiguousarray(array), allow_pickle=False)

    @_writes
    def save_arrays(self, relpath: str, arrays: Mapping[str, Any]) -> None:
        import numpy as np

        np.savez(self.file(relpath), **{k: np.asarray(v) for k, v in arrays.items()})

    @_writes
    def save_table(self, relpath: str, table) -> None:
        """Write a pandas DataFrame or pyarrow Table as Parquet (zstd)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(table, self.file(relpath), compression="zstd")

    @_writes
    def save_arrow(self, relpath: str, table) -> None:
        """Write a pyarrow Table as an uncompressed Arrow IPC file, which reads back memory-mapped."""
        import pyarrow as pa

        with pa.OSFile(str(self.file(relpath)), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    @_writes
    def save_text(self, relpath: str, text: str) -> None:
        self.file(relpath).write_text(text, encoding="utf-8")

    @_writes
    def save_json(self, relpath: str, obj: Any) -> None:
        self.file(relpath).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")

    @_writes
    def save_index(self, relpath: str, index) -> None:
        import faiss

        target = self.file(relpath)
        try:
            faiss.write_index(index, str(target))
        except RuntimeError as exc:  # faiss reports a failed write (a full disk) this way
            raise OSError(errno.EIO, f"faiss could not write it: {exc}", str(target)) from None

    @_writes
    def reuse(self, source: ModelFolder, relpaths: list[str]) -> None:
        """Bring unchanged files over from an older model folder (hard link when possible, else copy), with
        the sizes and hashes its manifest recorded (a file damaged since is then caught by ``--verify``)."""
        for rel in relpaths:
            src, dst = source.file(rel), self.file(rel)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
            if rel in source.records:
                self._records[rel] = source.records[rel]

    def record(self, relpath: str) -> dict[str, Any]:
        """Size and content hash of a file written (or reused) in this folder, computed once."""
        from gems.integrity import record

        if relpath not in self._records:
            self._records[relpath] = record(self.path / relpath)
        return self._records[relpath]

    def commit(self, manifest: Mapping[str, Any]) -> Path:
        """Write ``manifest.json`` with every file's size and hash, and swap the folder into place."""
        from gems import swap

        try:
            names = sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
            files = {rel: self.record(rel) for rel in names if rel != MANIFEST}
            self.save_json(MANIFEST, {"format_version": FORMAT_VERSION, **manifest, "files": files})
            swap.replace(self.path, self.final)
        except OSError as exc:
            raise self.cannot_write(exc) from None
        self.committed = True
        return self.final


def _check_replaceable(final: Path) -> None:
    """ModelError when ``final`` exists and is not a model folder gems may replace: a file, or a folder with
    other things in it (a build never deletes a folder it did not write)."""
    if not final.exists():
        return
    if not final.is_dir():
        raise ModelError(f"{final} is a file, not a model folder; choose another --model")
    if not (final / MANIFEST).exists() and any(final.iterdir()):
        raise ModelError(
            f"{final} holds files but no {MANIFEST}, so it is not a gems model folder and gems will not replace "
            "it; choose another --model (an empty or new folder)"
        )
