"""A model folder is data someone may hand over, and files get damaged: what its manifest may name, and
checks of each file against what the manifest recorded when it was written.

* Names. Every path a manifest lists is a plain relative name that :data:`gems.artifacts.layout.FILES` knows — never
  ``..``, an absolute path or a name gems does not write — and :func:`locate` reaches it without passing a
  symbolic link, so a crafted folder cannot make gems read or write outside it.
* Records. The manifest holds each file's size and a 128-bit BLAKE2b hash of its content (:func:`record`).
* Checks. Opening a file checks its size and its header (:func:`check`): a ``.npy`` header whose shape fits
  the length, Parquet's and Arrow's magic bytes at both ends, a faiss index type, a zip for ``.npz``,
  LightGBM's ``tree`` header. Files up to :data:`HASHED_ON_READ` bytes are hashed too, which costs less than a
  query; larger ones are hashed by ``gems info --verify``.

Damage is a :class:`~gems.errors.ModelError` naming the file and saying to rebuild. Standard library only
(numpy is imported to read a ``.npy`` header), so ``gems recommend`` starts fast.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from gems.artifacts import layout
from gems.artifacts.hashing import hash_file
from gems.errors import ModelError

HASHED_ON_READ = 4 << 20  # files this small are hashed whenever they are opened
_HASH_CHARS = frozenset("0123456789abcdef")
REBUILD = "rebuild the model with `gems build`"


def damaged(path: str | os.PathLike, what: str) -> ModelError:
    """The one-line error for a damaged model file."""
    return ModelError(f"{path} is damaged ({what}); {REBUILD}")


# --------------------------------------------------------------------------------------------- names


def check_name(relpath: Any, where: str | os.PathLike) -> str:
    """``relpath`` when it is a name a model folder holds (:data:`gems.artifacts.layout.FILES`), else ModelError."""
    if not isinstance(relpath, str) or relpath not in layout.FILES:
        plain = isinstance(relpath, str) and not PurePosixPath(relpath).is_absolute() and ".." not in relpath
        why = "a file gems does not write" if plain else "a path outside the model folder"
        raise ModelError(f"{where} names {relpath!r}, {why}; a model folder is data — {REBUILD}")
    return relpath


def locate(root: Path, relpath: str) -> Path | None:
    """The path of ``relpath`` (a checked name) under ``root``, or None when it does not exist. ModelError when
    a part of it is a symbolic link or anything but a folder, or the file itself is not a regular file."""
    path = root
    parts = relpath.split("/")
    for i, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ModelError(f"{path} cannot be read ({exc.strerror}); check its permissions or {REBUILD}") from None
        last = i == len(parts) - 1
        if stat.S_ISLNK(mode):
            raise ModelError(f"{path} is a symbolic link; a model folder holds plain files only — {REBUILD}")
        if not (stat.S_ISREG(mode) if last else stat.S_ISDIR(mode)):
            raise damaged(path, "not a regular file" if last else "not a folder")
    return path


# --------------------------------------------------------------------------------------------- manifests


def check_manifest(manifest: Any, where: Path) -> None:
    """ModelError unless ``manifest`` has the shape gems writes: ``files`` (name -> size and hash), ``stages``
    (name -> fingerprint, files, counts), ``spaces`` and the sections serving reads, each of its type."""

    def bad(what: str) -> ModelError:
        return damaged(where, what)

    if not isinstance(manifest, dict):
        raise bad("not a JSON object")
    for key, kind in (("files", dict), ("stages", dict), ("spaces", list), ("config", dict), ("counts", dict)):
        if not isinstance(manifest.get(key), kind):
            raise bad(f"'{key}' is missing or not a {'list' if kind is list else 'mapping'}")
    for key, kind in (("rank_defaults", dict), ("listens_simulated", bool), ("versions", dict)):
        if key in manifest and not isinstance(manifest[key], kind):
            raise bad(f"'{key}' has the wrong type")
    files = manifest["files"]
    for name, entry in files.items():
        check_name(name, where)
        size, digest = (entry.get("size"), entry.get("hash")) if isinstance(entry, dict) else (None, None)
        if not _is_count(size) or not (isinstance(digest, str) and len(digest) == 32 and set(digest) <= _HASH_CHARS):
            raise bad(f"the record of {name} is not a size and a hash")
    for name, stage in manifest["stages"].items():
        names = stage.get("files") if isinstance(stage, dict) else None
        if not isinstance(stage, dict) or not isinstance(stage.get("fingerprint"), str) or not isinstance(names, list):
            raise bad(f"stage '{name}' is not a fingerprint and a list of files")
        if not isinstance(stage.get("counts", {}), dict):
            raise bad(f"stage '{name}' has counts of the wrong type")
        for relpath in names:
            if check_name(relpath, where) not in files:
                raise bad(f"stage '{name}' lists {relpath}, which the manifest does not record")
    for space in manifest["spaces"]:
        if space not in layout.SPACES:
            raise bad(f"it lists a space {space!r}; spaces are {', '.join(layout.SPACES)}")
        for relpath in (layout.space_rows(space), layout.space_vectors(space)):
            if relpath not in files:
                raise bad(f"space '{space}' lacks {relpath}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --------------------------------------------------------------------------------------------- files


def record(path: Path) -> dict[str, Any]:
    """What the manifest records of a file: ``{"size": bytes, "hash": BLAKE2b hex}``."""
    return {"size": path.stat().st_size, "hash": hash_file(path)}


def check(path: Path, entry: dict | None, *, full: bool = False) -> None:
    """ModelError naming ``path`` when its size differs from ``entry`` (the manifest's record; None while a
    folder is being written), its header does not fit its kind, or — for small files, or every file with
    ``full`` — its content hash differs."""
    size = path.stat().st_size
    if entry is not None and size != entry["size"]:
        raise damaged(path, f"{size:,} bytes where the manifest recorded {entry['size']:,}")
    try:
        with open(path, "rb") as handle:
            _check_header(path.suffix, handle, size)
    except (ValueError, EOFError) as exc:
        raise damaged(path, str(exc)) from None
    if entry is not None and (full or size <= HASHED_ON_READ) and hash_file(path) != entry["hash"]:
        raise damaged(path, "its content differs from what was written")


def _check_header(suffix: str, handle, size: int) -> None:
    """ValueError when the start (and end) of a file does not fit its kind."""
    head = handle.read(8)
    if suffix == ".npy":
        _check_npy(handle, size)
    elif suffix == ".parquet":
        handle.seek(max(0, size - 8))
        tail = handle.read(8)
        footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 else -1
        if head[:4] != b"PAR1" or tail[4:] != b"PAR1" or not 0 < footer <= size - 12:
            raise ValueError("not a Parquet file")
    elif suffix == ".arrow":
        handle.seek(max(0, size - 6))
        if head[:6] != b"ARROW1" or handle.read(6) != b"ARROW1":
            raise ValueError("not an Arrow file")
    elif suffix == ".faiss":
        if len(head) < 8 or not head[:4].isalnum():
            raise ValueError("not a faiss index")
    elif suffix == ".npz":
        if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise ValueError("not a .npz archive")
    elif suffix == ".txt":
        if head[:5] != b"tree\n":
            raise ValueError("not a LightGBM model: it does not start with 'tree'")


def _check_npy(handle, size: int) -> None:
    import numpy as np

    handle.seek(0)
    version = np.lib.format.read_magic(handle)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"an unsupported .npy version {version}")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(handle)
    if dtype.hasobject:
        raise ValueError("it holds Python objects")
    expected = handle.tell() + math.prod(shape) * dtype.itemsize
    if expected != size:
        raise ValueError(f"{size:,} bytes where its header needs {expected:,}")
