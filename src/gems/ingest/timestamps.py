"""Timestamps as people's files hold them: ISO 8601 (with or without ``Z``), ``YYYY-MM-DD HH:MM``,
``DD Mon YYYY HH:MM`` (with or without a comma), and epoch seconds or milliseconds as numbers or strings."""

from __future__ import annotations

import numpy as np
import pandas as pd

_TEXT_FORMATS = (
    "ISO8601",
    "%d %b %Y %H:%M",
    "%d %b %Y, %H:%M",
    "%d %B %Y %H:%M",
    "%d %B %Y, %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%d/%m/%Y %H:%M",
)
# Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MS_THRESHOLD = 1e11
PLACEHOLDER_BEFORE = pd.Timestamp("1971-01-01", tz="UTC")
_MAX_SECONDS = 9.2e9  # 2262-04-11, the end of datetime64[ns]


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse ``values`` into UTC timestamps.

    Returns ``(timestamps, unparseable)``: missing or empty values become NaT and are *not* unparseable;
    values that no format reads become NaT and are flagged. Epoch 0 style placeholders (before 1971) become
    NaT and are flagged too, since they are not real listening times.
    """
    result, unparseable, placeholder = classify_timestamps(values)
    return result, unparseable | placeholder


def classify_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Like :func:`parse_timestamps`, but tells the two kinds of bad value apart.

    Returns ``(timestamps, unparseable, placeholder)``: ``unparseable`` flags values no format reads (and
    epoch numbers out of range); ``placeholder`` flags values that read as a time before 1971 (the
    ``1970-01-01`` / epoch-0 stand-ins exporters write for an unknown time). Both become NaT; missing or empty
    values become NaT with neither flag.
    """
    text = values.astype("string").str.strip()
    missing = text.isna() | (text == "")
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")

    numeric = pd.to_numeric(text.where(text.str.fullmatch(r"-?\d+(\.\d+)?", na=False)), errors="coerce")
    is_number = numeric.notna().to_numpy()
    out_of_range = np.zeros(len(values), dtype=bool)
    if is_number.any():
        seconds = numeric[is_number].astype("float64")
        seconds = seconds.where(seconds.abs() < _MS_THRESHOLD, seconds / 1000.0)
        # beyond pandas' nanosecond range (years 1677-2262) a number is not a time
        in_range = (seconds.abs() < _MAX_SECONDS).to_numpy()
        out_of_range[np.flatnonzero(is_number)[~in_range]] = True
        seconds = seconds.where(in_range)
        result[is_number] = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")

    pending = ~is_number & ~missing.to_numpy()
    for fmt in _TEXT_FORMATS:
        if not pending.any():
            break
        parsed = pd.to_datetime(text[pending], format=fmt, utc=True, errors="coerce")
        ok = parsed.notna().to_numpy()
        idx = np.flatnonzero(pending)[ok]
        result.iloc[idx] = parsed[ok].to_numpy()
        pending[idx] = False

    placeholder = (result < PLACEHOLDER_BEFORE).fillna(False).to_numpy()
    result[placeholder] = pd.NaT
    return result, pending | out_of_range, placeholder
