"""Playlists: the picks of a query ordered so the sound flows (:mod:`gems.serve.flow`), named for whom they are.

One path for every face: ``gems playlist`` and the page's download of a query's picks (:func:`playlist_for`),
the page's download of tracks picked by hand and export's ``--playlists`` (:func:`assemble`). Writing them in a
player's format is :mod:`gems.serve.playlist_files`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import numpy as np

from gems.serve.flow import flow_order
from gems.serve.playlist_files import Entry, Playlist, playlist_suffix, track_uri, write_playlist
from gems.serve.recommend import recommend


def entry(model, row: int, note: str | None = None) -> Entry:
    """The playlist entry of track ``row`` of ``model``."""
    duration = float(model.durations[row])
    return Entry(
        title=model.titles[row],
        artist=model.artists[row] or None,
        album=model.soundtracks[row] or None,
        duration_s=duration if np.isfinite(duration) and duration > 0 else None,
        path=model.paths[row] or None,
        uri=track_uri(model.track_ids[row]),
        note=note,
        track_id=model.track_ids[row],
    )


def annotation(model, who: str, *, arc: bool = False) -> str:
    """The playlist's description: for whom, how it is ordered, and whether the listening data is simulated."""
    text = f"Hidden gems {who}, picked by gems and ordered so the sound flows"
    text += ", rising and falling in energy." if arc else "."
    if model.simulated:
        text += " Listener counts come from a simulated listening log."
    return text


def assemble(model, rows, who: str, *, seeds=None, notes=None, arc: bool = False, flow: bool = True) -> Playlist:
    """The playlist of track ``rows`` for ``who`` (:func:`gems.serve.recommend.for_whom`): ordered for flow from ``seeds`` (the
    seeds or history the tracks were picked for; an energy ``arc`` on request), or as given (``flow=False``);
    ``notes[i]`` annotates ``rows[i]``."""
    rows = np.asarray(rows, dtype=np.int64)
    order = flow_order(model, rows, seeds, arc=arc) if flow else np.arange(len(rows))
    notes = [None] * len(rows) if notes is None else notes
    return Playlist(
        title=f"gems: hidden gems {who}",
        annotation=annotation(model, who, arc=arc and flow),
        entries=[entry(model, int(rows[i]), notes[i]) for i in order],
    )


def playlist_for(model, answer, *, arc: bool = False) -> Playlist:
    """The picks of a :class:`gems.serve.Answer`, ordered for flow from its query (and an energy ``arc``)."""
    rows = [pick.row for pick in answer.picks]
    return assemble(model, rows, answer.who, seeds=answer.history, notes=[p.why for p in answer.picks], arc=arc)


def streamed(playlist: Playlist, base_url: str) -> Playlist:
    """The playlist with every local file located at ``base_url/api/audio/<track id>`` (what ``gems serve``
    streams) instead of its path on this machine; entries whose file is missing keep their path."""
    base = base_url.rstrip("/")
    entries = [
        replace(item, stream_url=f"{base}/api/audio/{quote(item.track_id, safe='')}")
        if item.path and item.track_id and os.path.isfile(item.path)
        else item
        for item in playlist.entries
    ]
    return replace(playlist, entries=entries)


@dataclass
class PlaylistSummary:
    path: Path
    tracks: int
    without_file: int
    seeds: list[int]
    answer: object = None


def make_playlist(model, out: str | Path, options, *, arc: bool = False, **query) -> PlaylistSummary:
    """Pick ``options.k`` hidden gems for a query (``like``, ``user`` or ``history``, as
    :func:`gems.serve.recommend` takes them), order them for flow (and an energy ``arc``) and write them to
    ``out`` in the format its suffix names."""
    playlist_suffix(out)  # a wrong suffix fails before any ranking
    answer = recommend(model, options, **query)
    playlist = playlist_for(model, answer, arc=arc)
    path = write_playlist(playlist, out)
    return PlaylistSummary(
        path=path, tracks=len(playlist.entries), without_file=playlist.without_file, seeds=answer.seeds, answer=answer
    )
