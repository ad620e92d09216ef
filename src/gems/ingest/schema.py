"""The canonical tables every reader produces and every later stage reads.

catalogue (one row per track)
    track_id: str (unique) · title: str · artist: str | null · soundtrack: str | null (album)
    duration_s: float | null · path: str | null (absolute audio path) · any extra columns kept as given
listens (one row per listening event or aggregated pair)
    user_id: str · track_id: str · weight: float32 > 0 (plays; 1 when absent) · timestamp: datetime64[ns, UTC] | NaT
    optional: position (int: order within the user's list, for playlists without times) and the item
    metadata the source carries: title, artist, album
"""

from __future__ import annotations

import pandas as pd

CATALOG_COLUMNS = ("track_id", "title", "artist", "soundtrack", "duration_s", "path")
LISTENS_COLUMNS = ("user_id", "track_id", "weight", "timestamp")
LISTENS_METADATA = ("title", "artist", "album")
LISTENS_OPTIONAL = ("position",) + LISTENS_METADATA


def clean_text(values: pd.Series) -> pd.Series:
    """Strip stray whitespace; empty strings and common placeholders become missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.isin(["", "nan", "NaN", "None", "null", "NULL"]))


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as the string dtype; a categorical (see :class:`gems.ingest.rows.TextCodes`) through Arrow's
    dictionary cast, in C, instead of a Python object per row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("string")
    import pyarrow as pa

    codes = values.cat.codes.to_numpy()
    categories = pa.array(values.cat.categories.to_numpy(dtype=object), pa.large_string())
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    text = pa.DictionaryArray.from_arrays(indices, categories).cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([text])), index=values.index)


def finalize_listens(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical column order and dtypes for a listens table (metadata columns kept when present)."""
    out = pd.DataFrame(
        {
            "user_id": as_text(frame["user_id"]),
            "track_id": as_text(frame["track_id"]),
            "weight": frame["weight"].astype("float32") if "weight" in frame else 1.0,
            "timestamp": (
                pd.to_datetime(frame["timestamp"], utc=True)
                if "timestamp" in frame
                else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
            ),
        }
    )
    if "position" in frame:
        out["position"] = frame["position"].astype("int64")
    for column in LISTENS_METADATA:
        if column in frame:
            out[column] = as_text(frame[column])
    out["weight"] = out["weight"].astype("float32")
    return out.reset_index(drop=True)


def empty_listens() -> pd.DataFrame:
    return finalize_listens(pd.DataFrame({c: pd.Series(dtype="string") for c in ("user_id", "track_id")}))


def finalize_catalog(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical catalogue: the six columns first (missing ones added empty), extra columns after."""
    out = frame.copy()
    for column in CATALOG_COLUMNS:
        if column not in out:
            out[column] = pd.NA
    for column in ("track_id", "title", "artist", "soundtrack", "path"):
        out[column] = out[column].astype("string")
    out["duration_s"] = pd.to_numeric(out["duration_s"], errors="coerce").astype("float64")
    extra = [c for c in out.columns if c not in CATALOG_COLUMNS]
    return out[list(CATALOG_COLUMNS) + extra].reset_index(drop=True)
