"""Listening histories the model never saw — a listener's own export, a friend's library, new playlists —
read with gems' readers, linked to the model's catalogue (:mod:`gems.ingest.link`) and ranked by fold-in:
each listener's ALS factors are solved from their linked tracks (:class:`gems.cf.FoldIn`), and every other kind
of evidence and the calibration come from those tracks, on the one ranking path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gems.errors import DataError, ParameterError

log = logging.getLogger(__name__)

EXAMPLES = 5  # user ids named when a file holds several listeners and none was chosen


@dataclass
class Histories:
    """The listeners of a source and their tracks in the model: ``users[i]`` (the id the source gives —
    for MPD files the playlist's pid) heard ``rows[i]`` (sorted model track rows) with summed listen weights
    ``weights[i]``; ``summary``: how the source's tracks linked; ``links``: the link table."""

    source: Path
    users: list[str]
    rows: list[np.ndarray]
    weights: list[np.ndarray]
    summary: object
    links: object

    def only(self, users: list[str] | None) -> Histories:
        """These histories restricted to ``users`` (all when None), in the source's order; warns of the ids
        that are not there."""
        if users is None:
            return self
        wanted = set(users)
        keep = [i for i, user in enumerate(self.users) if user in wanted]
        missing = sorted(wanted - set(self.users))
        if missing:
            log.warning(
                "%d requested user(s) are not in %s (e.g. %s)", len(missing), self.source, ", ".join(missing[:3])
            )
        return Histories(
            self.source,
            [self.users[i] for i in keep],
            [self.rows[i] for i in keep],
            [self.weights[i] for i in keep],
            self.summary,
            self.links,
        )

    def one(self, user: str | None) -> tuple[str, np.ndarray, np.ndarray]:
        """(user id, rows, weights) of one listener: ``user``, or the only one the source holds."""
        if user is None:
            if len(self.users) != 1:
                shown = ", ".join(self.users[:EXAMPLES]) + (", ..." if len(self.users) > EXAMPLES else "")
                raise ParameterError(
                    f"{self.source} holds the listens of {len(self.users):,} users ({shown}); choose one with "
                    "--history-user ID"
                )
            user = self.users[0]
        if user not in self.users:
            raise ParameterError(
                f"user '{user}' is not in {self.source} (it holds {', '.join(self.users[:EXAMPLES])}"
                f"{', ...' if len(self.users) > EXAMPLES else ''}), or none of their tracks are in this model"
            )
        i = self.users.index(user)
        return user, self.rows[i], self.weights[i]


def linker(model):
    """The model's :class:`gems.ingest.link.Linker`, built once per opened model (from the name keys the
    catalogue stage stored)."""
    cached = getattr(model, "_linker", None)
    if cached is None:
        from gems.artifacts import layout
        from gems.ingest.link import Linker

        tracks = model.folder.table(layout.TRACKS).to_pandas()
        keys = model.folder.table(layout.LINK_KEYS).to_pandas() if model.folder.has(layout.LINK_KEYS) else None
        cached = model._linker = Linker(tracks, popularity=np.asarray(model.listeners), keys=keys)
    return cached


def link_source(model, path: str | Path, *, fmt: str = "auto", columns=None):
    """(the listens of a source, its link table, the summary): every distinct track of ``path`` linked to the
    model's catalogue."""
    from gems.ingest import read_listens_source
    from gems.ingest.link import source_tracks, summarise_links

    read = read_listens_source(path, format=fmt, columns=columns)
    links = linker(model).link(source_tracks(read.listens, read.items))
    return read.listens, links, summarise_links(links, rows=len(read.listens))


def read_histories(model, path: str | Path, *, fmt: str = "auto", columns=None) -> Histories:
    """Every listener of ``path`` with their linked tracks; DataError (one line: how many tracks, none in the
    model, what to try) when no track of the source is in the model."""
    listens, links, summary = link_source(model, path, fmt=fmt, columns=columns)
    linked = links.dropna(subset=["track_id"]).drop_duplicates("source_id")
    if linked.empty:
        raise DataError(
            f"none of the {summary.tracks:,} tracks in {path} are in this model ({summary}); try a model built "
            "from data that holds this music, or check the format with `gems link`"
        )
    import pandas as pd

    # the linker codes each catalogue track id by its row: no second index of the catalogue's ids
    model_rows = linker(model).ids.of(linked["track_id"])
    rows_of = pd.Series(model_rows, index=linked["source_id"].to_numpy())
    row = listens["track_id"].map(rows_of).to_numpy(dtype=float, na_value=np.nan)
    kept = ~np.isnan(row)
    user_codes, user_ids = pd.factorize(listens["user_id"].astype(str).to_numpy()[kept], sort=True)
    # one (user, track) key per listen, summed: sorted, so each user's tracks are a run, rows ascending
    keys, inverse = np.unique(user_codes * model.n_tracks + row[kept].astype(np.int64), return_inverse=True)
    summed = np.bincount(inverse, weights=listens["weight"].to_numpy(np.float64)[kept], minlength=len(keys))
    bounds = np.searchsorted(keys // model.n_tracks, np.arange(len(user_ids) + 1))
    rows, users = keys % model.n_tracks, [str(u) for u in user_ids]
    histories = [rows[bounds[i] : bounds[i + 1]] for i in range(len(users))]
    weights = [summed[bounds[i] : bounds[i + 1]] for i in range(len(users))]
    return Histories(Path(path), users, histories, weights, summary, links)


LINK_FORMATS = (".csv", ".parquet")


def write_links(model, path: str | Path, out: str | Path, *, fmt: str = "auto", columns=None):
    """Link every distinct track of the source ``path`` to the model's catalogue and write one row per track to
    ``out`` (.csv or .parquet, atomically): ``artist``, ``title``, ``source_id``, ``track_id`` (empty when not
    linked), ``how`` (id, name, ambiguous, none), ``note``, ``candidates``, ``linked_artist``, ``linked_title``.
    Returns the summary."""
    import io

    from gems.safe_files import check_output, write_output

    out = Path(out)
    if out.suffix.lower() not in LINK_FORMATS:
        raise ParameterError(f"--out must end in .csv or .parquet, got {out.name}")
    check_output(out)
    _, links, summary = link_source(model, path, fmt=fmt, columns=columns)
    table = links.drop_duplicates("source_id").reset_index(drop=True)
    buffer = io.BytesIO()
    if out.suffix.lower() == ".csv":  # text cells a spreadsheet cannot run: see gems.spreadsheet
        from gems.spreadsheet import write_csv

        write_csv(table.astype({c: "string" for c in table.columns if table[c].dtype == object}), buffer)
    else:
        table.to_parquet(buffer, index=False)
    write_output(out, buffer.getvalue())
    return summary
