"""The model folder: content fingerprints, atomic writes, and loading that never executes code.

A model folder holds arrays as ``.npy``/``.npz`` (loaded with ``allow_pickle=False``), tables as Parquet, faiss
indexes in faiss's own format and a ``manifest.json`` (config, input fingerprints, library versions, counts,
timings). :class:`ModelWriter` builds the folder under a hidden temporary sibling and renames it into place only
when every file is written, so a crash or Ctrl-C never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from stat import S_ISREG
from typing import Any

from gems.errors import DataError, ModelError
from gems.safe_files import NotRegularFile, describe_os_error, kind_of, open_regular, walk_files

FORMAT_VERSION = 2
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


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sweep_abandoned(final: Path) -> None:
    """Remove temporary siblings of ``final`` left by writers whose process no longer runs."""
    for sibling in final.parent.glob(f".{final.name}.tmp-*"):
        try:
            pid = int(sibling.name.rsplit("-", 2)[-2])
        except (ValueError, IndexError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(sibling, ignore_errors=True)
        except PermissionError:
            pass


class ModelWriter:
    """Write a model folder atomically.

    Use as a context manager: files go to ``.NAME.tmp-PID-XXXX`` beside the final folder; :meth:`commit` writes
    the manifest and renames the folder into place (replacing an older model); leaving the block without a commit,
    or with an exception, deletes the temporary folder.
    """

    def __init__(self, final: str | os.PathLike):
        self.final = Path(final).resolve()
        self.final.parent.mkdir(parents=True, exist_ok=True)
        _sweep_abandoned(self.final)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-{os.getpid()}-", dir=self.final.parent))
        self.committed = False
        self.written: list[str] = []

    def __enter__(self) -> ModelWriter:
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)

    def file(self, relpath: str) -> Path:
        """Absolute path for ``relpath`` inside the temporary folder, parent folders created."""
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(relpath)
        return target

    def save_array(self, relpath: str, array) -> None:
        import numpy as np

        np.save(self.file(relpath), np.ascontiguousarray(array), allow_pickle=False)

    def save_arrays(self, relpath: str, arrays: Mapping[str, Any]) -> None:
        import numpy as np

        np.savez(self.file(relpath), **{k: np.asarray(v) for k, v in arrays.items()})

    def save_table(self, relpath: str, table) -> None:
        """Write a pandas DataFrame or pyarrow Table as Parquet (zstd)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(table, self.file(relpath), compression="zstd")

    def save_arrow(self, relpath: str, table) -> None:
        """Write a pyarrow Table as an uncompressed Arrow IPC file, which reads back memory-mapped."""
        import pyarrow as pa

        with pa.OSFile(str(self.file(relpath)), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    def save_text(self, relpath: str, text: str) -> None:
        self.file(relpath).write_text(text, encoding="utf-8")

    def save_json(self, relpath: str, obj: Any) -> None:
        self.file(relpath).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")

    def save_index(self, relpath: str, index) -> None:
        import faiss

        faiss.write_index(index, str(self.file(relpath)))

    def reuse(self, source: Path, relpaths: list[str]) -> None:
        """Bring unchanged files over from an older model folder (hard link when possible, else copy)."""
        for rel in relpaths:
            src, dst = source / rel, self.file(rel)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

    def commit(self, manifest: Mapping[str, Any]) -> Path:
        """Write ``manifest.json`` and move the folder into place. Returns the final path."""
        body = {"format_version": FORMAT_VERSION, **manifest}
        self.save_json(MANIFEST, body)
        old = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


# --------------------------------------------------------------------------------------------- reading


def arrow_to_numpy(column):
    """A numeric or boolean Arrow column as a numpy array, read from its buffers.

    pyarrow's own ``to_numpy`` imports pandas (~0.3 s), too slow for ``gems recommend``'s start. Nulls become
    NaN (floats) — integer and boolean columns written by gems have none.
    """
    import numpy as np
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    validity, data = array.buffers()[0], array.buffers()[1]
    if pa.types.is_boolean(array.type):
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        values = bits[array.offset : array.offset + len(array)].astype(bool)
    else:
        dtype = np.dtype(array.type.to_pandas_dtype())
        values = np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize).copy()
    if array.null_count:
        if values.dtype.kind != "f":
            raise ModelError(f"column of type {array.type} has {array.null_count} missing values; rebuild the model")
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values[~valid[array.offset : array.offset + len(array)].astype(bool)] = np.nan
    return values


class ModelFolder:
    """Read-only view of a model folder. Arrays load with ``allow_pickle=False``; nothing is unpickled.

    ``in_progress=True`` reads a folder still being written (no manifest yet), as later build stages do.
    """

    def __init__(self, path: str | os.PathLike, *, in_progress: bool = False):
        self.path = Path(path)
        self.manifest: dict[str, Any] = {}
        if in_progress:
            return
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            if self.path.is_dir():
                raise ModelError(
                    f"{self.path} is not a gems model folder (no {MANIFEST}); build one with `gems build --model {path}`"
                )
            raise ModelError(f"model folder {self.path} does not exist; build it with `gems build --model {path}`")
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{manifest_path} is unreadable ({exc}); rebuild the model with `gems build`") from exc
        version = self.manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelError(
                f"{self.path} has model format {version!r}, this gems reads format {FORMAT_VERSION}; rebuild it"
            )

    def file_hash(self, relpath: str) -> str:
        """Content hash of one file of the folder."""
        return hash_file(self._existing(relpath))

    def has(self, relpath: str) -> bool:
        return (self.path / relpath).exists()

    def _existing(self, relpath: str) -> Path:
        target = self.path / relpath
        if not target.exists():
            raise ModelError(f"{self.path} lacks {relpath}; the folder is incomplete, rebuild it with `gems build`")
        return target

    def array(self, relpath: str, *, mmap: bool = True):
        """A ``.npy`` array, memory-mapped read-only by default."""
        import numpy as np

        return np.load(self._existing(relpath), allow_pickle=False, mmap_mode="r" if mmap else None)

    def arrays(self, relpath: str) -> dict[str, Any]:
        """All arrays of a ``.npz`` file."""
        import numpy as np

        with np.load(self._existing(relpath), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}

    def table(self, relpath: str, columns: list[str] | None = None):
        """A Parquet table as a pyarrow Table (convert with ``.to_pandas()`` where pandas is wanted)."""
        import pyarrow.parquet as pq

        # ParquetFile, unlike read_table, does not import pyarrow.dataset (and with it pandas): a faster start
        return pq.ParquetFile(self._existing(relpath)).read(columns=columns)

    def columns(self, relpath: str) -> list[str]:
        """Column names of a Parquet table (read from its footer only)."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(self._existing(relpath)).schema_arrow.names

    def arrow(self, relpath: str):
        """An Arrow IPC file as a pyarrow Table, memory-mapped (columns are read when touched)."""
        import pyarrow as pa

        return pa.ipc.open_file(pa.memory_map(str(self._existing(relpath)), "r")).read_all()

    def json(self, relpath: str) -> Any:
        return json.loads(self._existing(relpath).read_text())

    def text(self, relpath: str) -> str:
        return self._existing(relpath).read_text(encoding="utf-8")

    def index(self, relpath: str):
        """A faiss index, memory-mapped when faiss allows it."""
        import faiss

        return faiss.read_index(str(self._existing(relpath)), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
