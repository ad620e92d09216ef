"""Content fingerprints: of bytes, of files (regular files only), of JSON values, and of a build's input files and
folders, memoised by size and modification time so that unchanged inputs are never read twice."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from stat import S_ISREG
from typing import Any

from gems.errors import DataError
from gems.safe_files import NotRegularFile, describe_os_error, kind_of, open_regular, walk_files

_CHUNK = 1 << 20


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
