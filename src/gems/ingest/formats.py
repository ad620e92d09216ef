"""The listens formats gems reads, and auto-detection.

Each format lives in its own module with two functions:
    sniff(path: Path) -> bool                 cheap: looks at names and the first bytes only
    read(path: Path, *, columns) -> ListensRead
Detection tries the formats in :data:`DETECTION_ORDER` (most specific first; the generic table last).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gems.errors import DataError, ParameterError
from gems.ingest.report import IngestReport
from gems.ingest.safe_read import machine_errors


@dataclass
class ListensRead:
    """What a reader returns: canonical ``listens``, its ``report``, and optionally ``items`` — catalogue rows
    the source describes (track_id, title, artist, soundtrack, plus e.g. ``tags`` as a '; '-joined string)."""

    listens: pd.DataFrame
    report: IngestReport
    items: pd.DataFrame | None = None


FORMAT_MODULES: dict[str, str] = {
    "mpd": "gems.ingest.mpd",
    "lastfm-hetrec": "gems.ingest.lastfm_hetrec",
    "listenbrainz": "gems.ingest.listenbrainz",
    "spotify-history": "gems.ingest.spotify_history",
    "spotify-account": "gems.ingest.spotify_account",
    "lastfm-scrobbles": "gems.ingest.scrobbles",
    "table": "gems.ingest.listens",
}
DETECTION_ORDER = tuple(FORMAT_MODULES)
ALIASES = {"csv": "table", "tsv": "table", "parquet": "table", "generic": "table"}


def available_formats() -> list[str]:
    """Every format name, in detection order."""
    return list(FORMAT_MODULES)


def _module(name: str):
    return importlib.import_module(FORMAT_MODULES[name])


def detect_format(path: Path) -> str:
    """The first format in :data:`DETECTION_ORDER` whose ``sniff`` accepts ``path``."""
    with machine_errors(path):
        for name in available_formats():
            if _module(name).sniff(path):
                return name
    raise DataError(
        f"cannot tell the listens format of {path}; name it with --listens-format ({', '.join(available_formats())})"
    )


def read_listens_source(
    path: str | Path, *, format: str = "auto", columns: Mapping[str, str] | None = None
) -> ListensRead:
    """Read ``path`` in ``format`` (``auto``: detected) into the canonical listens table. The machine's errors
    (permission denied, a file gone) and JSON nested too deep are DataErrors naming the file, whatever the
    reader."""
    path = Path(path)
    name = ALIASES.get(format, format)
    if name != "auto" and name not in FORMAT_MODULES:
        raise ParameterError(
            f"unknown listens format '{format}'; choose auto or one of {', '.join(available_formats())}"
        )
    with machine_errors(path):
        if not path.exists():
            raise DataError(f"listens source {path} does not exist")
        if name == "auto":
            name = detect_format(path)
        return _module(name).read(path, columns=columns)
