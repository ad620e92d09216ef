"""Reading a model folder: the data someone may have handed over, opened so that damage or a crafted name is one
clear ModelError naming the file (:mod:`gems.artifacts.integrity`), and nothing is ever unpickled or executed."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gems.artifacts import integrity, swap
from gems.artifacts.hashing import hash_file
from gems.artifacts.layout import FORMAT_VERSION, MANIFEST
from gems.errors import ModelError
from gems.safe_files import describe_os_error, open_regular


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
    """Read-only view of a model folder, which is data someone may have handed over (:mod:`gems.artifacts.integrity`).

    Opening reads and checks the manifest (its shape, and that it names only files gems writes); each file is
    checked when first opened (no symbolic link on the way, its size and header, small files' hashes), so
    damage is one ModelError naming the file, and nothing is unpickled. ``in_progress=True`` reads a folder
    still being written (no manifest yet), as later build stages do.
    """

    def __init__(self, path: str | os.PathLike, *, in_progress: bool = False):
        self.path = Path(path)
        self.manifest: dict[str, Any] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self._checked: set[str] = set()
        self._identity = None
        if in_progress:
            return
        if not self.path.exists():
            swap.recover(self.path.resolve())  # where a writer's lock would be
        manifest_path = self.path / MANIFEST
        if not manifest_path.is_file():
            if self.path.exists() and not self.path.is_dir():
                raise ModelError(
                    f"{self.path} is a file, not a model folder; give --model the folder `gems build` wrote "
                    "(e.g. models/demo)"
                )
            if self.path.is_dir():
                raise ModelError(
                    f"{self.path} is not a gems model folder (no {MANIFEST}); build one with `gems build --model {path}`"
                )
            raise ModelError(f"model folder {self.path} does not exist; build it with `gems build --model {path}`")
        integrity.locate(self.path, MANIFEST)
        try:
            with open_regular(manifest_path) as handle:
                self._identity = _identity(os.fstat(handle.fileno()))
                self.manifest = json.loads(handle.read())
        except OSError as exc:
            raise ModelError(f"{manifest_path} {describe_os_error(exc)}") from None
        except (ValueError, RecursionError):
            raise integrity.damaged(manifest_path, "not JSON") from None
        version = self.manifest.get("format_version") if isinstance(self.manifest, dict) else None
        if version != FORMAT_VERSION:
            raise ModelError(
                f"{self.path} has model format {version!r}, this gems reads format {FORMAT_VERSION}; rebuild it"
            )
        integrity.check_manifest(self.manifest, manifest_path)
        self.records = self.manifest["files"]

    def file(self, relpath: str) -> Path:
        """The checked path of one of the folder's files: a name gems writes, recorded by the manifest, reached
        without a symbolic link, of the recorded size and a sound header. ModelError naming it otherwise."""
        integrity.check_name(relpath, self.path / MANIFEST)
        target = integrity.locate(self.path, relpath)
        if target is None or (self._identity is not None and relpath not in self.records):
            self._changed_under_us()
            raise ModelError(f"{self.path} lacks {relpath}; the folder is incomplete, {integrity.REBUILD}")
        if relpath not in self._checked and self._identity is not None:
            try:
                integrity.check(target, self.records[relpath])
            except ModelError:
                self._changed_under_us()
                raise
            self._checked.add(relpath)
        return target

    def _changed_under_us(self) -> None:
        """ModelError when the folder was rebuilt since it was opened (its files no longer fit the manifest)."""
        try:
            now = _identity(os.stat(self.path / MANIFEST))
        except OSError:
            now = None
        if self._identity is not None and now != self._identity:
            raise ModelError(f"{self.path} was rebuilt while this command read it; run the command again")

    def verify(self) -> tuple[int, int]:
        """Check every file the manifest records against its size and content hash: (files, bytes), or one
        ModelError naming the first damaged file (and how many more there are)."""
        problems = []
        for relpath, entry in sorted(self.records.items()):
            try:
                target = integrity.locate(self.path, relpath)
                if target is None:
                    raise ModelError(f"{self.path / relpath} is missing; {integrity.REBUILD}")
                integrity.check(target, entry, full=True)
            except ModelError as exc:
                problems.append(str(exc))
        if problems:
            more = f" (and {len(problems) - 1} more damaged file(s))" if len(problems) > 1 else ""
            raise ModelError(problems[0] + more)
        return len(self.records), sum(entry["size"] for entry in self.records.values())

    def file_hash(self, relpath: str) -> str:
        """Content hash of one file of the folder."""
        return hash_file(self.file(relpath))

    def has(self, relpath: str) -> bool:
        """Whether the folder holds ``relpath`` (for a finished folder: whether its manifest records it)."""
        if self._identity is not None:
            return relpath in self.records
        return integrity.locate(self.path, integrity.check_name(relpath, self.path)) is not None

    def _read(self, relpath: str, read: Callable[[Path], Any]) -> Any:
        """``read(path)`` of a checked file; what a library raises on damage it did not see becomes ModelError."""
        target = self.file(relpath)
        try:
            return read(target)
        except (OSError, ValueError, EOFError, RuntimeError, KeyError, zipfile.BadZipFile) as exc:
            self._changed_under_us()
            raise integrity.damaged(
                target, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None

    def array(self, relpath: str, *, mmap: bool = True):
        """A ``.npy`` array, memory-mapped read-only by default."""
        import numpy as np

        return self._read(relpath, lambda p: np.load(p, allow_pickle=False, mmap_mode="r" if mmap else None))

    def arrays(self, relpath: str) -> dict[str, Any]:
        """All arrays of a ``.npz`` file."""
        import numpy as np

        def read(path: Path) -> dict[str, Any]:
            with np.load(path, allow_pickle=False) as npz:
                return {key: npz[key] for key in npz.files}

        return self._read(relpath, read)

    def table(self, relpath: str, columns: list[str] | None = None):
        """A Parquet table as a pyarrow Table (convert with ``.to_pandas()`` where pandas is wanted)."""
        import pyarrow.parquet as pq

        # ParquetFile, unlike read_table, does not import pyarrow.dataset (and with it pandas): a faster start
        return self._read(relpath, lambda p: pq.ParquetFile(p).read(columns=columns))

    def columns(self, relpath: str) -> list[str]:
        """Column names of a Parquet table (read from its footer only)."""
        import pyarrow.parquet as pq

        return self._read(relpath, lambda p: pq.ParquetFile(p).schema_arrow.names)

    def arrow(self, relpath: str):
        """An Arrow IPC file as a pyarrow Table, memory-mapped (columns are read when touched)."""
        import pyarrow as pa

        def read(path: Path):
            table = pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
            table.validate()
            return table

        return self._read(relpath, read)

    def json(self, relpath: str) -> Any:
        return self._read(relpath, lambda p: json.loads(p.read_text(encoding="utf-8")))

    def text(self, relpath: str) -> str:
        return self._read(relpath, lambda p: p.read_text(encoding="utf-8"))

    def index(self, relpath: str):
        """A faiss index, memory-mapped when faiss allows it."""
        import faiss

        return self._read(relpath, lambda p: faiss.read_index(str(p), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY))


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    """What tells one manifest file from the next build's: device, inode and modification time."""
    return info.st_dev, info.st_ino, info.st_mtime_ns
