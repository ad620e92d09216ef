"""Playlists: order picks so the sound flows, and write them in the format a player opens.

Ordering (greedy walk): start with the pick closest to the seeds, then repeatedly step to the unused pick
most similar to the current one (best shared space, as in ranking), preferring a different soundtrack from
the current track's when one is within reach.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gems.artifacts import write_atomic
from gems.errors import ParameterError
from gems.model import Model
from gems.rank import Recommendation

FORMATS = (".m3u8", ".m3u")


def order_for_flow(model: Model, picks: list[Recommendation]) -> list[Recommendation]:
    """``picks`` reordered as a walk of small steps, no soundtrack twice in a row where avoidable."""
    if len(picks) < 3:
        return list(picks)
    rows = np.asarray([p.row for p in picks])
    sim = model.similarity(rows, rows)
    sim = np.nan_to_num(sim, nan=-1.0)
    current = int(np.argmax([p.similarity for p in picks]))
    order, left = [current], set(range(len(picks))) - {current}
    while left:
        candidates = sorted(left, key=lambda j: (-sim[current, j], j))
        different = [
            j for j in candidates if picks[j].soundtrack is None or picks[j].soundtrack != picks[current].soundtrack
        ]
        current = different[0] if different else candidates[0]
        order.append(current)
        left.remove(current)
    return [picks[i] for i in order]


def _entry_location(model: Model, row: int, playlist_dir: Path) -> str:
    """The track's file relative to the playlist's folder, else its id (a URI for streamed catalogues)."""
    path = model.paths[row]
    if path:
        return Path(os.path.relpath(path, playlist_dir)).as_posix()
    return model.track_ids[row]


def render_m3u8(model: Model, picks: list[Recommendation], playlist_dir: Path, title: str) -> str:
    """Extended M3U: ``#EXTINF:<whole seconds>,<Artist> - <Title>`` then the location, UTF-8."""
    lines = ["#EXTM3U", f"#PLAYLIST:{title}"]
    for pick in picks:
        duration = model.durations[pick.row]
        seconds = int(round(duration)) if duration == duration else -1  # NaN -> -1, the M3U "unknown"
        name = f"{pick.artist} - {pick.title}" if pick.artist else pick.title
        lines.append(f"#EXTINF:{seconds},{name}")
        lines.append(_entry_location(model, pick.row, playlist_dir))
    return "\n".join(lines) + "\n"


def write_playlist(model: Model, picks: list[Recommendation], out: str | Path, *, title: str) -> Path:
    """Write ``picks`` to ``out``; the format follows the suffix."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ParameterError(
            f"cannot write a playlist as '{suffix or out.name}'; use a file ending in {', '.join(FORMATS)}"
        )
    text = render_m3u8(model, picks, out.resolve().parent, title)
    write_atomic(out, text.encode("utf-8"))
    return out
