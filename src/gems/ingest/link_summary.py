"""What linking a listens source tells its user: the source's tracks as the linker reads them, and one summary
line of how they linked (gems link, gems build's report, --history)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gems.ingest.link import HOW
from gems.ingest.names import ID_COLUMNS


def source_tracks(listens: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The source table of a listens read (``ListensRead.listens``/``.items``): one row per listened track id,
    as ``source_id``, with the ``artist``, ``title``, ``album``, ``duration_s`` and id columns its items (else
    its listens' own metadata) give."""
    if items is None:  # each track's first row
        tracks = listens.rename(columns={"soundtrack": "album"}).drop_duplicates("track_id").reset_index(drop=True)
    else:
        meta = items.rename(columns={"soundtrack": "album"}).drop_duplicates("track_id")
        ids = pd.DataFrame({"track_id": listens["track_id"].drop_duplicates()})
        tracks = ids.merge(meta, on="track_id", how="left")
    keep = ["artist", "title", "album", "duration_s", *ID_COLUMNS]
    if "title" not in tracks:  # ids only (a catalogue's own listens): they can link by id alone
        tracks["title"] = pd.NA
    return tracks.rename(columns={"track_id": "source_id"})[["source_id", *[c for c in keep if c in tracks]]]


@dataclass(frozen=True)
class LinkSummary:
    """How a source met a catalogue: listens rows, distinct tracks, and the tracks by outcome (``by_album`` and
    ``by_artist``: linked to a model album or artist only, when linked with ``coarse``)."""

    rows: int
    tracks: int
    by_id: int
    by_name: int
    ambiguous: int
    none: int
    by_album: int = 0
    by_artist: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows, {self.tracks:,} distinct tracks: {self.by_id:,} linked by id, {self.by_name:,} by "
            f"name, {self.by_album:,} to their album, {self.by_artist:,} to their artist, {self.ambiguous:,} "
            f"ambiguous, {self.none:,} not in the model"
        )


def summarise_links(links: pd.DataFrame, *, rows: int | None = None) -> LinkSummary:
    """Count :meth:`Linker.link`'s answer per distinct ``source_id``; ``rows``: the source's listens rows (the
    link table's own length when not given)."""
    counts = links.drop_duplicates("source_id")["how"].value_counts()
    names = {"id": "by_id", "name": "by_name", "album": "by_album", "artist": "by_artist"}
    return LinkSummary(
        rows=len(links) if rows is None else int(rows),
        tracks=int(links["source_id"].nunique(dropna=False)),
        **{names.get(how, how): int(counts.get(how, 0)) for how in HOW},
    )
