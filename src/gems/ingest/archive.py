"""The files of a listens source: the file given, the files under a folder, or the members of a zip archive,
read in place (never extracted).

A zip is opened once per read, and checked before anything is inflated: at most :data:`MAX_MEMBERS` members
(and a directory of members no larger than they need, checked before zipfile parses it), no member name that
points outside the archive (absolute, ``..``, a drive letter), and budgets on the archive as a whole — its members
together inflate to at most :data:`MAX_INFLATED` bytes and at most :data:`MAX_RATIO` times their compressed size
(archives under :data:`RATIO_FLOOR` excepted). While it is read, at most :data:`MAX_MEMBERS_READ` members are
opened and at most :data:`MAX_INFLATED` bytes inflated in all; a member read whole keeps within
:data:`MAX_MEMBER_BYTES` and the same ratio. Sizes come from the archive's directory, and a member is inflated in
steps and never past the size the directory declares (one that lies about it fails its CRC check), so these
limits bound time and memory whatever the archive claims.

The budgets leave real exports far behind: a ListenBrainz export holds a file a month (~250 for 20 years of
listening, ~25 MB of JSON lines a year for a heavy listener); Spotify's extended streaming history is a few dozen
files of ~12 MB (~300 MB for 10 years of a listener who plays 100 tracks a day), its account data a few MB.
"""

from __future__ import annotations

import io
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
from gems.ingest.safe_read import read_input
from gems.safe_files import describe_os_error, iter_files, open_regular

MAX_MEMBERS = 10_000  # members an archive may list
MAX_MEMBERS_READ = 1_000  # members one read opens: 80 years of a ListenBrainz export's monthly files
_ENTRY_BYTES = 512  # directory bytes allowed per member: 46 + its name + extra fields (~150 in real exports)
MAX_MEMBER_BYTES = 256 << 20  # a year of someone's listens is ~25 MB of JSON lines
MAX_INFLATED = 1 << 30  # an archive's members together; 10 years of extended streaming history is ~300 MB
MAX_RATIO = 100  # JSON exports deflate 5-20 to 1; a zip bomb, about 1,000 to 1
RATIO_FLOOR = 1 << 20  # a member (or archive) inflating to less than this is harmless whatever its ratio
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
    """One zip archive, opened once: its members are listed and checked on opening, and read (each opening and
    every byte inflated counted against the archive's budgets) when asked."""

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
        self._check_whole(list(self.members.values()))
        self.opened: set[str] = set()
        self.inflated = 0

    def _check_whole(self, infos: list[zipfile.ZipInfo]) -> None:
        """The budgets of each member and of the archive as a whole, from its directory, before anything is
        inflated."""
        for info in infos:
            _check_sizes(f"{self.path}:{info.filename}", info.file_size, info.compress_size, MAX_MEMBER_BYTES, "")
        size, packed = sum(i.file_size for i in infos), sum(i.compress_size for i in infos)
        _check_sizes(str(self.path), size, packed, MAX_INFLATED, f"its {len(infos):,} members together ")

    def open(self, member: str) -> BinaryIO:
        """A binary stream of ``member``; opening it and every byte read count against the archive's budgets."""
        info = self.members[member]
        name = f"{self.path}:{member}"
        if member not in self.opened:
            if len(self.opened) >= MAX_MEMBERS_READ:
                raise DataError(
                    f"{self.path}: reading more than {MAX_MEMBERS_READ:,} of its members (a ListenBrainz export of "
                    "80 years holds 960); gems stops here — extract it and give gems the folder of listens files"
                )
            self.opened.add(member)
        try:
            return _Counted(self, self._zip.open(info), name)
        except ZIP_ERRORS as exc:
            raise _unreadable(name, exc) from None

    def read(self, member: str, limit: int | None = None) -> bytes:
        """The bytes of ``member`` (its first ``limit`` bytes when given: sniffing inflates no more)."""
        with self.open(member) as handle:
            if limit is not None:
                return handle.read(limit)
            return b"".join(iter(lambda: handle.read(_STEP), b""))

    def count(self, n: int, name: str) -> None:
        """Count ``n`` more bytes inflated; past :data:`MAX_INFLATED` in all, a DataError."""
        self.inflated += n
        if self.inflated > MAX_INFLATED:
            raise DataError(
                f"{name}: more than {_size(MAX_INFLATED)} inflated from {self.path} in all (the most gems inflates "
                "from one archive); extract it and give gems the folder, or split it"
            )


def _check_sizes(name: str, size: int, packed: int, most: int, what: str) -> None:
    """``name`` (``what`` in it: '' for one member) inflates from ``packed`` to ``size`` bytes: at most ``most``,
    and at most :data:`MAX_RATIO` to 1 once past :data:`RATIO_FLOOR`."""
    if size > most:
        raise DataError(
            f"{name}: {what}inflates to {_size(size)}, more than the {_size(most)} gems inflates from one "
            f"{'member of an ' if not what else ''}archive (10 years of a Spotify extended history are ~300 MB); "
            "extract the archive and give gems the files"
        )
    if size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
        raise DataError(
            f"{name}: {what}inflates {size / max(packed, 1):,.0f} to 1 ({_size(packed)} to {_size(size)}), more "
            f"than the {MAX_RATIO} to 1 of real exports (limit: over {_size(RATIO_FLOOR)}); a zip bomb? gems does "
            "not inflate it"
        )


def _unreadable(name: str, exc: BaseException) -> DataError:
    return DataError(f"{name}: cannot read this member of the zip archive ({exc}); is the download complete?")


class _Counted(io.RawIOBase):
    """A member being inflated, in steps of at most :data:`_STEP` bytes: each counted against its archive's
    budget, and the zip's own errors (a bad CRC, a cut stream) turned into a DataError naming the member."""

    def __init__(self, archive: Archive, handle: BinaryIO, name: str):
        self.archive, self.handle, self.name = archive, handle, name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_STEP), b""))
        try:
            data = self.handle.read(min(size, _STEP))
        except ZIP_ERRORS as exc:
            raise _unreadable(self.name, exc) from None
        self.archive.count(len(data), self.name)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


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

    def open(self) -> BinaryIO:
        """A binary stream of the whole file (see :meth:`Archive.open` for a member); a FIFO, a device, a
        missing or unreadable file is a :class:`DataError`."""
        if self.archive is not None:
            return self.archive.open(self.member)
        try:
            return open_regular(self.path)
        except OSError as exc:
            raise DataError(f"{self.path}: {describe_os_error(exc)}") from None

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
