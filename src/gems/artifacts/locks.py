"""One writer at a time for a model folder or an export's output.

:func:`hold` takes an exclusive ``flock`` on ``.NAME.lock`` beside the target for the length of a block. A
second gems process asking for it is refused at once with one clear line naming the holder (a build can run
for minutes; a command that silently waits looks hung). The lock dies with its process, so a crash never
leaves a stale lock; the file is removed on release, and a process that locked a file the previous holder
had just removed tries again on the new one.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gems.errors import BusyError, DataError


def lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.lock")


def _open(lock: Path, target: Path) -> int:
    from gems.safe_files import describe_os_error

    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise DataError(f"{target}: {describe_os_error(exc, writing=True)}") from None


@contextmanager
def hold(target: str | os.PathLike, doing: str) -> Iterator[None]:
    """Hold the lock of ``target`` while the block runs; ``doing`` (e.g. ``gems build``) names this holder in
    the error a second writer gets. BusyError when another process holds it."""
    import fcntl

    target = Path(target)
    lock = lock_path(target)
    while True:
        fd = _open(lock, target)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise BusyError(
                f"{target} is being written by another gems process ({holder}); wait for it to finish, "
                "or write somewhere else"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file as we opened it: lock the current one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}: {doing}".encode())
        yield
    finally:
        try:
            os.unlink(lock)
        except OSError:
            pass
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "starting"
    except OSError:
        return "unknown"


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll ``condition`` every 50 ms for up to ``seconds``; whether it came true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
