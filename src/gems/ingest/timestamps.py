"""Timestamps as people's files hold them: ISO 8601 (with or without ``Z``), ``YYYY-MM-DD HH:MM``,
``DD Mon YYYY HH:MM`` (with or without a comma), and epoch seconds or milliseconds as numbers or strings.

Digits may be any script's (full-width ``１７００００００００``, Arabic-Indic ``١٧٠٠٠٠٠٠٠٠``, Devanagari...): a value
that is not ASCII is read after NFKC normalisation (full-width digits and punctuation become ASCII) with every
remaining decimal digit replaced by its value, so it parses as its ASCII twin does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gems.ingest.common import ascii_digits

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
_NAT = np.iinfo(np.int64).min
_MAX_DIGITS = 24  # an epoch in milliseconds with microseconds after the point is 20
_MIN_NS, _MAX_NS = pd.Timestamp.min.value + 1, pd.Timestamp.max.value


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
    times outside 1677-2262, which pandas cannot hold: an epoch in microseconds, ``9999-12-31``);
    ``placeholder`` flags values that read as a time before 1971 (the ``1970-01-01`` / epoch-0 stand-ins
    exporters write for an unknown time). Both become NaT; missing or empty values become NaT with neither flag.

    Each distinct value is parsed once, and the text formats are tried in the order that suits a sample of the
    values best, so a column of one format costs one pass.
    """
    codes, uniques = pd.factorize(values.astype("string").str.strip())
    text = pd.Series(uniques, dtype="string")
    wide = ~text.map(str.isascii, na_action="ignore").fillna(True).to_numpy(dtype=bool)
    if wide.any():
        text[wide] = text[wide].map(ascii_digits).str.strip()
    ns = np.full(len(text), _NAT, dtype=np.int64)
    bad = np.zeros(len(text), dtype=bool)

    is_number = text.str.fullmatch(r"-?[0-9]+(\.[0-9]+)?").fillna(False).to_numpy(dtype=bool)
    too_long = is_number & (text.str.len() > _MAX_DIGITS).fillna(False).to_numpy(dtype=bool)
    bad |= too_long  # no epoch has that many digits (and a float64 cannot hold some of them)
    is_number &= ~too_long
    if is_number.any():
        seconds = pd.to_numeric(text[is_number]).to_numpy(dtype="float64")
        seconds = np.where(np.abs(seconds) < _MS_THRESHOLD, seconds, seconds / 1000.0)
        ok = np.abs(seconds) < _MAX_SECONDS
        idx = np.flatnonzero(is_number)
        ns[idx[ok]] = np.round(seconds[ok] * 1e9).astype(np.int64)
        bad[idx[~ok]] = True

    pending = ~is_number & (text != "").fillna(False).to_numpy(dtype=bool)
    if pending.any():
        sample = text[pending].iloc[:50]
        hits = [int(pd.to_datetime(sample, format=f, utc=True, errors="coerce").notna().sum()) for f in _TEXT_FORMATS]
        for fmt in [f for _, f in sorted(zip(hits, _TEXT_FORMATS), key=lambda h: -h[0])]:
            if not pending.any():
                break
            parsed = pd.to_datetime(text[pending], format=fmt, utc=True, errors="coerce")
            got, out_of_range = _nanoseconds(parsed)
            idx = np.flatnonzero(pending)
            ns[idx] = np.where(got != _NAT, got, ns[idx])
            bad[idx[out_of_range]] = True
            pending[idx[(got != _NAT) | out_of_range]] = False
    bad |= pending

    placeholder = (ns != _NAT) & (ns < PLACEHOLDER_BEFORE.value)
    ns[placeholder] = _NAT
    # back to one value per row (code -1: a missing value)
    ns, bad, placeholder = (np.append(a, fill)[codes] for a, fill in ((ns, _NAT), (bad, False), (placeholder, False)))
    result = pd.Series(ns.view("datetime64[ns]"), index=values.index).dt.tz_localize("UTC")
    return result, bad, placeholder


def _nanoseconds(parsed: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTC times (any unit) as int64 nanoseconds since the epoch (NaT: :data:`_NAT`), and which times were
    outside the nanosecond range (made NaT)."""
    naive = np.asarray(parsed.dt.tz_convert("UTC").dt.tz_localize(None))
    unit = np.datetime_data(naive.dtype)[0]
    per = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    raw = naive.view(np.int64)
    present = raw != _NAT
    fits = present & (raw >= _MIN_NS // per) & (raw <= _MAX_NS // per)
    out = np.full(len(raw), _NAT, dtype=np.int64)
    out[fits] = raw[fits] * per
    return out, present & ~fits
