"""The name keys a catalogue is linked by (gems.ingest.link.Linker), one row per track: computed once by the
build's catalogue stage and stored beside the model, so linking a history later starts from them."""

from __future__ import annotations

import pandas as pd

from gems.errors import DataError
from gems.ingest.keyed import STRING
from gems.ingest.names import artist_keys, title_keys

KEY_COLUMNS = ("artist_key", "first_artist_key", "title_key", "notes", "album_key")


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype=STRING)


def catalogue_keys(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The name keys a :class:`Linker` indexes, one row per catalogue row: ``artist_key``,
    ``first_artist_key``, ``title_key``, ``notes``, ``album_key``. A build may store them beside the model's
    tracks so that linking against the model later starts from them (``Linker(..., keys=...)``)."""
    artists = artist_keys(column(catalogue, "artist").reset_index(drop=True))
    titles = title_keys(catalogue["title"].reset_index(drop=True))
    return pd.DataFrame(
        {
            "artist_key": artists["key"],
            "first_artist_key": artists["first"],
            "title_key": titles["key"],
            "notes": titles["notes"],
            "album_key": title_keys(column(catalogue, "soundtrack").reset_index(drop=True))["key"],
        }
    )


def checked_keys(keys: pd.DataFrame, n: int) -> pd.DataFrame:
    missing = [c for c in KEY_COLUMNS if c not in keys]
    if missing or len(keys) != n:
        raise DataError(
            f"the stored link keys do not fit the catalogue (expected {n} rows with {', '.join(KEY_COLUMNS)}; found "
            f"{len(keys)} rows, missing {', '.join(missing) or 'nothing'}); rebuild the model to refresh them"
        )
    return keys.reset_index(drop=True)
