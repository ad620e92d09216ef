"""Helpers of the hostile tests (fixtures are in this folder's conftest.py)."""

from __future__ import annotations

import os


def assert_one_clear_line(result: tuple[int, str, str], *words: str) -> str:
    """Exit code 1 and a single error line holding ``words``; never a traceback or "a bug in gems"."""
    code, out, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, (out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "bug in gems" not in err and "Traceback" not in err + out, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
