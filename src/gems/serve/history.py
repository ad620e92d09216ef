"""Listening histories the model never saw — a listener's own export, a friend's library, new playlists —
read with gems' readers, linked to the model's catalogue (:mod:`gems.ingest.link`, with artist and album links)
and ranked by fold-in: each listener's ALS factors are solved from their linked tracks (:class:`gems.cf.FoldIn`),
co-listening, sound and the calibration come from those tracks, and kin from those tracks and the artists and
albums their other tracks link to — on the one ranking path.

What is usable: a listener with at least one listens row (a track named by title or id, as the reader keeps
it) gets an answer — ranked from what links, or, when nothing of it links (not a track, not an artist, not an
album) or what links leads to no pick, the labelled fallback (:mod:`gems.rank.fallback`). A source with no
listens rows at all is a DataError: there is nothing to answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gems.errors import DataError, ParameterError
from gems.rank.inputs import Queries

log = logging.getLogger(__name__)

EXAMPLES = 5  # user ids named when a file holds several listeners and none was chosen


@dataclass
class Histories:
    """The listeners of a source and what of them the model holds: ``users[i]`` (the id the source gives —
    for MPD files the playlist's pid) is ``queries`` i (:class:`gems.rank.Queries`: the sorted model track rows
    they heard, with summed listen weights, and their tracks linked only to an artist or album); ``summary``:
    how the source's tracks linked; ``links``: the link table."""

    source: Path
    users: list[str]
    queries: Queries
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
        return Histories(self.source, [self.users[i] for i in keep], self.queries.take(keep), self.summary, self.links)

    def one(self, user: str | None) -> tuple[str, Queries]:
        """(user id, their query) of one listener: ``user``, or the only one the source holds."""
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
                f"{', ...' if len(self.users) > EXAMPLES else ''})"
            )
        return user, self.queries.take([self.users.index(user)])

    def linked(self) -> np.ndarray:
        """(listeners,) what links of each: 2 tracks of the model, 1 only artists or albums, 0 nothing."""
        tracks = np.array([len(h) > 0 for h in self.queries.histories], dtype=bool)
        return np.where(tracks, 2, np.where(self.queries.coarse_counts > 0, 1, 0))

    def __str__(self) -> str:
        linked = np.bincount(self.linked(), minlength=3)
        return (
            f"{len(self.users):,} listeners: {linked[2]:,} with tracks in the model, {linked[1]:,} with only "
            f"artists or albums in it, {linked[0]:,} with nothing in it"
        )


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
    """(the source read, its link table, the summary): every distinct track of ``path`` linked to the model's
    catalogue, down to its artist or album when not as a track."""
    from gems.ingest import read_listens_source
    from gems.ingest.link_summary import source_tracks, summarise_links

    read = read_listens_source(path, format=fmt, columns=columns)
    links = linker(model).link(source_tracks(read.listens, read.items), coarse=True)
    return read, links, summarise_links(links, rows=len(read.listens))


def read_histories(model, path: str | Path, *, fmt: str = "auto", columns=None) -> Histories:
    """Every listener of ``path`` with their linked tracks and artist and album links; DataError (one line)
    when the source holds no listens rows at all."""
    import pandas as pd

    read, links, summary = link_source(model, path, fmt=fmt, columns=columns)
    listens = read.listens
    if listens.empty:
        report = read.report
        aside = "; ".join(f"{n:,} {reason}" for reason, n in report.set_aside.most_common(3))
        raise DataError(
            f"{path} holds no listens to recommend from ({report.rows_read:,} rows read"
            f"{', set aside: ' + aside if aside else ''}); give a listening export with music in it, or check "
            "the format with `gems link`"
        )
    unique = links.drop_duplicates("source_id").reset_index(drop=True)
    linked = unique.dropna(subset=["track_id"])
    # the linker codes each catalogue track id by its row: no second index of the catalogue's ids
    rows_of = pd.Series(linker(model).ids.of(linked["track_id"]), index=linked["source_id"].to_numpy())
    row = listens["track_id"].map(rows_of).to_numpy(dtype=float, na_value=np.nan)
    user_codes, user_ids = pd.factorize(listens["user_id"].astype(str).to_numpy(), sort=True)
    kept = ~np.isnan(row)
    # one (user, track) key per listen, summed: sorted, so each user's tracks are a run, rows ascending
    keys, inverse = np.unique(user_codes[kept] * model.n_tracks + row[kept].astype(np.int64), return_inverse=True)
    summed = np.bincount(inverse, weights=listens["weight"].to_numpy(np.float64)[kept], minlength=len(keys))
    bounds = np.searchsorted(keys // model.n_tracks, np.arange(len(user_ids) + 1))
    rows = keys % model.n_tracks
    histories = [rows[bounds[i] : bounds[i + 1]] for i in range(len(user_ids))]
    weights = [summed[bounds[i] : bounds[i + 1]] for i in range(len(user_ids))]
    counts, codes = _coarse_links(model, unique, user_codes, listens["track_id"], len(user_ids))
    queries = Queries.of(histories, None, weights, coarse_counts=counts, coarse_codes=codes)
    return Histories(Path(path), [str(u) for u in user_ids], queries, summary, links)


def _coarse_links(model, unique, user_codes: np.ndarray, source_ids, n_users: int):
    """(coarse_counts, coarse_codes) of :class:`gems.rank.Queries` for each listener: their distinct tracks
    linked only to an artist or album, and the model's artist and album codes those point to."""
    import pandas as pd

    members = linker(model).kin_members(unique)
    coarse = np.flatnonzero(unique["how"].isin(("album", "artist")).to_numpy())
    position = pd.Series(coarse, index=unique["source_id"].to_numpy()[coarse])
    heard = pd.DataFrame({"user": user_codes, "at": source_ids.map(position).to_numpy(dtype=float, na_value=np.nan)})
    heard = heard.dropna().drop_duplicates().astype(np.int64)
    counts = np.bincount(heard["user"], minlength=n_users)
    inputs, codes = model.inputs, {}
    for kind, model_codes in (("artist", inputs.artist_codes), ("album", inputs.soundtrack_codes)):
        at, rows = members[kind]
        if model_codes is None:
            continue
        pointed = pd.DataFrame({"at": at, "code": np.asarray(model_codes)[rows]})
        pointed = pointed[pointed["code"] >= 0].drop_duplicates()
        found = heard.merge(pointed, on="at").sort_values(["user", "code"], kind="stable")
        bounds = np.searchsorted(found["user"].to_numpy(), np.arange(n_users + 1))
        values = found["code"].to_numpy(dtype=np.int64)
        codes[kind] = [values[bounds[i] : bounds[i + 1]] for i in range(n_users)]
    return counts, codes


LINK_FORMATS = (".csv", ".parquet")


def write_links(model, path: str | Path, out: str | Path, *, fmt: str = "auto", columns=None):
    """Link every distinct track of the source ``path`` to the model's catalogue and write one row per track to
    ``out`` (.csv or .parquet, atomically): ``artist``, ``title``, ``source_id``, ``track_id`` (empty when not
    linked as a track), ``how`` (id, name, album, artist, ambiguous, none), ``note``, ``candidates``,
    ``linked_artist``, ``linked_title``, ``linked_album``. Returns the summary."""
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
