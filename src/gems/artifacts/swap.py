"""Putting a finished folder in the place of another in one step, so the path never stands empty, and tidying up
after writers that died.

:func:`replace` exchanges the new folder and the old one atomically where the system can (Linux's
``renameat2(RENAME_EXCHANGE)``: local file systems and tmpfs), then deletes the old one, now under the new
folder's temporary name. Elsewhere (macOS, NFS) it takes two renames — old -> ``.NAME.old-PID``, new -> NAME —
and a process killed between them leaves the path empty with the old folder beside it: :func:`recover`, run by
every reader that finds the path missing and by every writer, puts it back. :func:`sweep` removes the
temporaries of writers that died (``.NAME.tmp-*``, ``.NAME.old-*``); its caller holds the folder's lock, so
no live writer owns them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def temporary_prefix(final: Path) -> str:
    """The name prefix of the temporaries of ``final``'s writers (``.NAME.tmp-``)."""
    return f".{final.name}.tmp-"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where the system cannot (then nothing moved)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


def replace(new: Path, final: Path) -> None:
    """Put the folder ``new`` at ``final`` (a sibling), replacing the folder there, and delete the old one."""
    if not final.exists() and not final.is_symlink():
        os.rename(new, final)
    elif _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # the old folder, now under the temporary name
    else:
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(new, final)
        shutil.rmtree(old, ignore_errors=True)


def _olds(final: Path) -> list[Path]:
    """The old folders two-rename swaps left beside ``final``, newest first."""
    found = [p for p in final.parent.glob(f".{final.name}.old-*") if p.is_dir() and not p.is_symlink()]
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def recover(final: Path) -> bool:
    """When ``final`` is missing and a swap left its old folder beside it, rename that back; True if it did.
    A writer swapping right now is left alone (its lock is taken) and waited for a moment instead."""
    from gems.artifacts.locks import hold, wait_for
    from gems.errors import BusyError

    if final.exists() or not _olds(final):
        return False
    try:
        with hold(final, "recovering an interrupted commit"):
            olds = _olds(final)
            if final.exists() or not olds:
                return False
            os.rename(olds[0], final)
            return True
    except BusyError:  # a live writer is between its two renames: the new folder arrives in a moment
        wait_for(final.exists)
        return False


def sweep(final: Path) -> None:
    """Put back the old folder an interrupted swap left (when ``final`` is missing), and delete what writers
    of ``final`` that died left beside it. The caller holds ``final``'s lock."""
    olds = _olds(final)
    if olds and not final.exists():
        os.rename(olds[0], final)
    for leftover in (*final.parent.glob(temporary_prefix(final) + "*"), *_olds(final)):
        shutil.rmtree(leftover, ignore_errors=True)
