"""Writing a model folder: one writer at a time, under a temporary name, swapped into place in one step.

A model folder holds arrays as ``.npy``/``.npz`` (loaded with ``allow_pickle=False``), tables as Parquet, faiss
indexes in faiss's own format and a ``manifest.json`` (config, input fingerprints, library versions, counts,
timings, and each file's size and content hash). :class:`ModelWriter` builds the folder under a hidden
temporary sibling, one writer at a time, and swaps it into place in one step only when every file is written,
so a crash, Ctrl-C or a kill never leaves a half-written model, nor the path empty. Reading one, which never
executes code, is :mod:`gems.artifacts.reading`'s.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shutil
from collections.abc import Mapping
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gems.artifacts import locks, swap
from gems.artifacts.integrity import check_name, record
from gems.artifacts.layout import FORMAT_VERSION, MANIFEST
from gems.errors import ModelError
from gems.safe_files import create_unique, describe_write_error

if TYPE_CHECKING:
    from gems.artifacts.reading import ModelFolder


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` (from package metadata; nothing is imported)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


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

    Use as a context manager: it takes the folder's lock (:mod:`gems.artifacts.locks`; a second writer gets a BusyError)
    and puts back or deletes what writers that died left (:func:`gems.artifacts.swap.sweep`); files go to
    ``.NAME.tmp-PID-XXXX`` beside the final folder, under the names :data:`gems.artifacts.layout.FILES` knows;
    :meth:`commit` records every file's size and hash in the manifest and swaps the folder into place in one
    step (:func:`gems.artifacts.swap.replace`); leaving the block without a commit deletes the temporary folder.
    """

    def __init__(self, final: str | os.PathLike):
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
            self.path, _ = create_unique(self.final.parent, prefix, "", lambda p: p.mkdir(0o777))
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
        """Absolute path for ``relpath`` (a name :data:`gems.artifacts.layout.FILES` knows) in the temporary folder."""
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
        if relpath not in self._records:
            self._records[relpath] = record(self.path / relpath)
        return self._records[relpath]

    def commit(self, manifest: Mapping[str, Any]) -> Path:
        """Write ``manifest.json`` with every file's size and hash, and swap the folder into place."""
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
