"""The files of a listens source: the file given, the files under a folder, or the members of a zip archive,
read in place (never extracted).

A zip is opened once per read, and checked before anything is inflated: at most :data:`MAX_MEMBERS` members
(and a directory of members no larger than they need, checked before zipfile parses it), no member name that
points outside the archive (absolute, ``..``, a drive letter), and, when a member is read whole, at most
:data:`MAX_MEMBER_BYTES` uncompressed and at most :data:`MAX_RATIO` times its compressed size (members under
:data:`RATIO_FLOOR` excepted). Sizes come from the archive's directory; a member is inflated in 1 MiB steps and
never past the size the directory declares (one that lies about it fails its CRC check), so these limits bound
memory.
"""

from __future__ import annotations

import os
import re
import weakref
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from gems.errors import DataError
from gems.ingest.safe_read import decode_text, read_input
from gems.safe_files import describe_os_error, iter_files, open_regular

MAX_MEMBERS = 10_000  # a ListenBrainz export holds a file a month; a Spotify one, a few dozen
_ENTRY_BYTES = 512  # directory bytes allowed per member: 46 + its name + extra fields (~150 in real exports)
MAX_MEMBER_BYTES = 256 << 20  # a year of someone's listens is ~25 MB of JSON lines
MAX_RATIO = 100  # JSON exports deflate 5-20 to 1; a zip bomb, about 1,000 to 1
RATIO_FLOOR = 1 << 20  # a member inflating to less than this is harmless whatever its ratio
_STEP = 1 << 20
ZIP_ERRORS = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)
_DRIVE = re.compile(r"^[A-Za-z]:")


def _size(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _outside(name: str) -> bool:
    """A member name that would land outside the archive's folder if extracted."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or bool(_DRIVE.match(name))


def _directory_size(handle: BinaryIO) -> int | None:
    """The size of a zip's central directory as its end record declares it (the zip64 one when there is one),
    read before zipfile reads (and parses) that whole directory; None without an end record."""
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - (1 << 16) - 22))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    size = int.from_bytes(tail[at + 12 : at + 16], "little")
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":  # a zip64 locator: the sizes are in its record
        handle.seek(int.from_bytes(tail[at - 12 : at - 4], "little"))
        record = handle.read(56)
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            size = int.from_bytes(record[40:48], "little")
    return size


class Archive:
    """One zip archive, opened once: its members are listed and checked on opening and read when asked."""

    def __init__(self, path: Path):
        self.path = path
        try:
            handle = open_regular(path)
        except OSError as exc:
            raise DataError(f"{path}: {describe_os_error(exc)}") from None
        weakref.finalize(self, handle.close)
        directory = _directory_size(handle)
        if directory is not None and directory > MAX_MEMBERS * _ENTRY_BYTES:
            raise DataError(
                f"{path}: its list of members takes {_size(directory)}, more than {MAX_MEMBERS:,} members need (the "
                "most gems reads from one archive); extract it and give gems the folder of listens files"
            )
        try:
            self._zip = zipfile.ZipFile(handle)
            infos = self._zip.infolist()
        except ZIP_ERRORS as exc:
            raise DataError(
                f"{path} is not a readable zip archive ({exc}); expected the export as downloaded"
            ) from None
        if len(infos) > MAX_MEMBERS:
            raise DataError(
                f"{path} holds {len(infos):,} members, more than the {MAX_MEMBERS:,} gems reads from one archive; "
                "extract it and give gems the folder of listens files"
            )
        for info in infos:
            if _outside(info.filename):
                raise DataError(
                    f"{path}: member {info.filename!r} points outside the archive (an absolute path or '..'); an "
                    "export as downloaded never does, so gems does not read this archive"
                )
        self.members = {info.filename: info for info in infos if not info.is_dir()}

    def read(self, member: str, limit: int | None = None) -> bytes:
        """The bytes of ``member`` (its first ``limit`` bytes when given: sniffing inflates no more); read
        whole, a member must keep within the size and ratio limits."""
        info = self.members[member]
        name = f"{self.path}:{member}"
        if limit is None:
            self._check(info, name)
        try:
            with self._zip.open(info) as handle:
                if limit is not None:
                    return handle.read(limit)
                # in bounded steps: zipfile's read() inflates all it holds at once, then cuts to the declared size
                return b"".join(iter(lambda: handle.read(_STEP), b""))
        except ZIP_ERRORS as exc:
            raise DataError(
                f"{name}: cannot read this member of the zip archive ({exc}); is the download complete?"
            ) from None

    @staticmethod
    def _check(info: zipfile.ZipInfo, name: str) -> None:
        size, packed = info.file_size, info.compress_size
        if size > MAX_MEMBER_BYTES:
            raise DataError(
                f"{name}: {_size(size)} uncompressed, more than the {_size(MAX_MEMBER_BYTES)} gems inflates from "
                "one member of an archive; extract the archive and give gems the files"
            )
        if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
            raise DataError(
                f"{name}: inflates {size / max(packed, 1):,.0f} to 1 ({_size(packed)} to {_size(size)}), more than "
                f"the {MAX_RATIO} to 1 of real exports (limit: members over {_size(RATIO_FLOOR)}); a zip bomb? "
                "gems does not inflate it"
            )


def _skipped_name(parts: Sequence[str]) -> bool:
    """Hidden files and the ``__MACOSX`` resource forks macOS adds to zips."""
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


@dataclass(frozen=True)
class SourceFile:
    """One file of a listens source: the file given, a file inside the folder given, or a member of the zip
    given. ``rel`` is its path inside the source (just its name for a single file); ``name`` is how messages
    show it (``folder/sub/file.json``, ``archive.zip:sub/file.json``)."""

    source: Path
    rel: PurePosixPath
    member: str | None = None
    archive: Archive | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        if self.member is not None:
            return f"{self.source}:{self.member}"
        return str(self.path)

    @property
    def path(self) -> Path:
        """The file on disk (the archive, for a zip member)."""
        if self.member is not None or self.source.is_file():
            return self.source
        return self.source.joinpath(*self.rel.parts)

    @property
    def file_name(self) -> str:
        return self.rel.name

    def read_bytes(self, limit: int | None = None) -> bytes:
        """The file's bytes (the first ``limit`` of them when given); any failure is a :class:`DataError`."""
        if self.archive is not None:
            return self.archive.read(self.member, limit)
        return read_input(self.path, limit)

    def read_text(self, expected: str = "a JSON export") -> str:
        """The file as text (UTF-8 or UTF-16, see :mod:`gems.ingest.safe_read`); an empty file, or one in
        another encoding, is a :class:`DataError`."""
        raw = self.read_bytes()
        if not raw.strip():
            raise DataError(f"{self.name} is empty; expected {expected}")
        return decode_text(raw, self.name, expected=expected)

    def owner_names(self) -> list[str]:
        """Names that may carry the owner's user name, innermost first: the file's stem, the folders between
        it and the source, then the source itself (a zip's or a folder's name)."""
        names = [PurePosixPath(self.rel.name).stem]
        names += list(reversed(self.rel.parent.parts))
        if self.member is not None:
            names.append(self.source.stem)
        elif self.source.is_dir():
            names.append(self.source.name)
        return names


def source_files(path: Path, *, limit: int | None = None) -> list[SourceFile]:
    """Every file of a source: ``path`` itself, the files under a folder (recursively, sorted; FIFOs, devices
    and symlink loops left out), or the members of a ``.zip`` (read in place, never extracted). Hidden files
    and ``__MACOSX`` entries are skipped. ``limit`` stops early (for sniffing a big folder cheaply)."""
    path = Path(path)
    if path.is_dir():
        found = (p for p in iter_files(path) if isinstance(p, Path))
        if limit is None:  # sniffing (with a limit) need not sort
            found = iter(sorted(found, key=lambda p: p.relative_to(path).parts))
        rels = (PurePosixPath(*p.relative_to(path).parts) for p in found)
        return [SourceFile(path, rel) for rel in islice((r for r in rels if not _skipped_name(r.parts)), limit)]
    if path.suffix.lower() == ".zip":
        archive = Archive(path)
        members = sorted(m for m in archive.members if not _skipped_name(PurePosixPath(m).parts))
        return [SourceFile(path, PurePosixPath(m), member=m, archive=archive) for m in members[:limit]]
    return [SourceFile(path, PurePosixPath(path.name))]


def with_sibling(path: Path, files: list[SourceFile], name: str, *, up: int = 0) -> list[SourceFile]:
    """``files`` plus the file called ``name`` beside ``path`` (or in one of the ``up`` folders above) when
    ``path`` is a single plain file: the ``user.json``/``Userdata.json`` of the export that file came from
    (nothing else around it is read)."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".zip":
        return files
    for folder in [path.parent, *list(path.resolve().parent.parents)[:up]]:
        sibling = folder / name
        if sibling.is_file():
            return [*files, SourceFile(folder, PurePosixPath(name))]
    return files


def files_by_rel(files: Sequence[SourceFile]) -> dict[str, SourceFile]:
    """The files of a source by their case-folded path inside it, for :func:`nearest_file`."""
    return {str(f.rel).casefold(): f for f in files}


def nearest_file(by_rel: Mapping[str, SourceFile], of: SourceFile, name: str) -> SourceFile | None:
    """The file called ``name`` (case-insensitive) in ``of``'s folder or the nearest folder above it within the
    source (``by_rel``: see :func:`files_by_rel`), e.g. a ListenBrainz ``user.json`` beside ``listens/``."""
    for folder in of.rel.parents:
        hit = by_rel.get(str(folder / name).casefold().removeprefix("./"))
        if hit is not None:
            return hit
    return None
