"""Files opened without surprises: regular files only, folder walks that say what they skipped, and outputs
written whole or not at all.

A FIFO opened for reading blocks until someone writes to it, and a device such as ``/dev/zero`` never ends, so
every input file gems reads (tables, exports, archives, audio, and the files it hashes) is opened with
:func:`open_regular`, which refuses anything but a regular file without blocking. :func:`walk_files` lists a
folder's files for the audio scan and the input fingerprints alike: it follows symlinks, and reports symlink
loops, broken links, special files and folders it may not list instead of hanging or failing.
:func:`write_atomic` writes any output (a playlist, an export's part, a cache entry) through a temporary name
and a rename, so no half-written file ever sits under a final name.

Standard library only, so the model folder's code (``gems.artifacts``) can use it without slowing a start.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")  # what write_atomic writes to before its rename

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` is, for a message: ``a FIFO (named pipe)``, ``a socket``, ``a folder``..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


class NotRegularFile(OSError):
    """A path that is a FIFO, socket, device or folder: reading it could block forever, or never end."""

    def __init__(self, path: str | os.PathLike, kind: str):
        super().__init__(errno.EINVAL, f"is {kind}, not a regular file", os.fspath(path))
        self.kind = kind


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a regular file for binary reading; anything else raises :class:`NotRegularFile` (an OSError) at
    once, without blocking (the file is opened non-blocking, checked with ``fstat``, then made blocking)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket (or a device with no driver): say which
            raise NotRegularFile(path, kind_of(os.stat(path).st_mode)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a regular file (its first ``limit`` bytes when given); see :func:`open_regular`."""
    with open_regular(path) as handle:
        return handle.read() if limit is None else handle.read(limit)


def describe_os_error(exc: OSError, *, writing: bool | None = False) -> str:
    """What an OSError met while reading an input (``writing``: an output; None: either) means, and what to
    do: a clause without the path."""
    if isinstance(exc, NotRegularFile) and writing:
        return (
            f"{exc.strerror}; gems writes its outputs to regular files only, through a temporary file renamed "
            "over the path, which would replace it (/dev/null included) — choose another path"
        )
    if isinstance(exc, NotRegularFile):
        return f"{exc.strerror}; gems reads only regular files — remove it or point gems at the real file"
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        if writing:
            return "cannot be written: permission denied; choose a folder you may write to"
        if writing is None:
            return "permission denied; check its permissions and its folder's (ls -l), or run gems as another user"
        return "cannot be read: permission denied; check its permissions (ls -l) or run gems as a user who may read it"
    if code == errno.ENOSPC:
        return "cannot be written: no space left on the device; free some space or write somewhere else"
    if code == getattr(errno, "EDQUOT", None):
        return "cannot be written: your disk quota is used up; free some space or write somewhere else"
    if code == errno.EROFS:
        return "cannot be written: the file system is read-only; write somewhere else"
    if code == errno.ENOENT:
        return "does not exist (moved or deleted?); check the path"
    if code == errno.ELOOP:
        return "is a symlink loop (a link that leads back to itself); fix or remove the link"
    if code == errno.ENAMETOOLONG:
        return "has a name too long for the file system; rename or move it"
    verb = {True: "written", False: "read", None: "used"}[writing]
    return f"cannot be {verb} ({exc.strerror or exc}); check the file and the disk it is on"


def describe_write_error(exc: OSError, path: str | os.PathLike) -> str:
    """:func:`describe_os_error` for an output at ``path``, also when a library lost the errno of a full disk
    (numpy reports a short write as a bare OSError): then the free space of the disk decides."""
    if exc.errno is None:
        folder = Path(path).absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            full = shutil.disk_usage(folder).free < 1 << 20
        except OSError:
            full = False
        if full:
            exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return describe_os_error(exc, writing=True)


@dataclass(frozen=True)
class Skipped:
    """An entry a walk left out: ``reason`` is a short category (``symlink loop``...), ``detail`` says more."""

    path: Path
    reason: str
    detail: str


@dataclass
class Walk:
    """The regular files under a folder (in walk order) and the entries left out, with why."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _left_out(entry: os.DirEntry, exc: OSError) -> Skipped:
    """Why an entry whose ``stat`` failed is left out."""
    path = Path(entry.path)
    if exc.errno == errno.ELOOP:
        return Skipped(path, "symlink loop", describe_os_error(exc))
    if exc.errno == errno.ENOENT and entry.is_symlink():
        try:
            target = os.readlink(path)
        except OSError:
            target = "a file"
        return Skipped(path, "broken symlink", f"points to {target!r}, which does not exist; fix or remove the link")
    return Skipped(path, "unreadable file", describe_os_error(exc))


def iter_files(root: str | os.PathLike) -> Iterator[Path | Skipped]:
    """Every regular file under ``root`` (a Path), and every entry left out (a :class:`Skipped`), depth first:
    each folder's entries in name order, its subfolders after its files.

    Hidden entries (names starting with ``.``) are left out silently. Symlinks are followed; a link back to a
    folder above it (a symlink loop), a second way into a folder already walked, a link that leads nowhere, a
    FIFO, socket or device, and a folder that cannot be listed are left out with the reason. Raises OSError
    only when ``root`` itself cannot be examined.
    """
    root = Path(root)
    top = os.stat(root)
    seen = {(top.st_dev, top.st_ino): root}
    stack: list[tuple[Path, tuple]] = [(root, ((top.st_dev, top.st_ino),))]
    while stack:
        folder, above = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            yield Skipped(folder, "unreadable folder", describe_os_error(exc))
            continue
        below = []
        for entry in entries:
            try:
                info = entry.stat()  # follows symlinks
            except OSError as exc:
                yield _left_out(entry, exc)
                continue
            path = Path(entry.path)
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in above:
                    yield Skipped(
                        path, "symlink loop", f"leads back to {seen[key]}, a folder above it; remove the link"
                    )
                elif key in seen:
                    yield Skipped(path, "folder seen twice", f"is {seen[key]} again (through a symlink); scanned once")
                else:
                    seen[key] = path
                    below.append((path, (*above, key)))
            elif stat.S_ISREG(info.st_mode):
                yield path
            else:
                error = NotRegularFile(path, kind_of(info.st_mode))
                yield Skipped(path, "not a regular file", describe_os_error(error))
        stack.extend(reversed(below))


def walk_files(root: str | os.PathLike) -> Walk:
    """:func:`iter_files` collected: the files in walk order, and the entries left out."""
    walk = Walk()
    for item in iter_files(root):
        if isinstance(item, Skipped):
            walk.skipped.append(item)
        else:
            walk.files.append(item)
    return walk


# --------------------------------------------------------------------------------------------- writing


def create_unique(folder: Path, prefix: str, suffix: str, make: Callable[[Path], Any]):
    """``make(path)`` for a new random ``folder/prefix…suffix`` name (again on a clash): files and folders made
    this way get the user's umask, which ``tempfile`` would narrow to 0600/0700."""
    while True:
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            return path, make(path)
        except FileExistsError:
            continue


def output_kind(path: str | os.PathLike, *, folder: bool = False) -> str | None:
    """What stands at ``path`` when an output may not replace it: a FIFO, a socket, a device (``/dev/null``
    too), or a folder — for a ``folder`` output, anything but a folder; symlinks followed (``/dev/stdout``).
    None when nothing is there (a broken link included) or the right kind of file is."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # nothing there, or nothing that can be examined: the write itself will say
        return None
    if stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode):
        return None
    return kind_of(mode)


def check_output(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Refuse, before any work, an output path that is a FIFO, socket, device or (for a file) a folder: renamed
    over, it would be replaced by a regular file. A DataError of one line naming it."""
    kind = output_kind(path, folder=folder)
    if kind is not None:
        from gems.errors import DataError

        if folder:
            raise DataError(f"{path} is {kind}, not a folder; give --out a folder for the report (or a new name)")
        raise DataError(f"{path}: {describe_os_error(NotRegularFile(path, kind), writing=True)}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename (OSError when the
    machine refuses: callers say what it means for their file). A path that is a FIFO, socket, device or folder
    is never replaced: :class:`NotRegularFile`, before anything is written."""
    kind = output_kind(path)
    if kind is not None:
        raise NotRegularFile(path, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    tmp, fd = create_unique(path.parent, f".{path.name}.", ".tmp", lambda p: os.open(p, flags, 0o666))
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
    from gems.errors import DataError

    try:
        write_atomic(path, data)
    except OSError as exc:
        raise DataError(f"{path}: {describe_write_error(exc, path)}") from None
