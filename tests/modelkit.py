"""Hand-made model folders for ranking tests: vectors and popularity chosen so the right answer is known.

The files are written by the build's own stage writers (gems.stages.reading / fitting), so a format change
reaches the kit without a second writer to keep in step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gems.artifacts import layout
from gems.artifacts.integrity import record
from gems.artifacts.writing import ModelWriter
from gems.cf import Weighting
from gems.index import l2_normalize
from gems.ingest.schema import finalize_catalog
from gems.popularity import compute_popularity
from gems.stages.fitting import write_cf, write_spaces
from gems.stages.reading import catalogue_arrays, write_catalogue, write_interactions, write_popularity, write_tags


def write_model(
    path: Path,
    *,
    titles: list[str],
    soundtracks: list[str | None],
    vectors: np.ndarray,
    listeners: list[int],
    space: str = "audio",
    simulated: bool = False,
    paths: list[str | None] | None = None,
    durations: list[float] | None = None,
    item_factors: np.ndarray | None = None,
    is_soundtrack: list[bool] | None = None,
    artists: list[str | None] | None = None,
    tags: np.ndarray | None = None,
) -> Path:
    """A model whose tracks t0..tn have the given audio ``vectors`` (or ``space``) and listener counts, and
    optionally ALS ``item_factors`` (tracks with no listeners must have zero rows) and sound words ``tags``
    (n × 50 probabilities, columns ``TAG_WORDS``; a NaN row: a track without analysed audio).

    Listener u_j listens to every track with more than j listeners, so track i has exactly listeners[i].
    """
    n = len(titles)
    track_ids = [f"t{i}" for i in range(n)]
    tracks = finalize_catalog(
        pd.DataFrame(
            {
                "track_id": track_ids,
                "title": titles,
                "soundtrack": soundtracks,
                "artist": artists or [None] * n,
                "path": paths or [None] * n,
                "duration_s": durations or [30.0] * n,
            }
        )
    )
    if is_soundtrack is not None:
        tracks["is_soundtrack"] = is_soundtrack
    users = [j for i, count in enumerate(listeners) for j in range(count)]
    items = [i for i, count in enumerate(listeners) for _ in range(count)]
    codes = catalogue_arrays(tracks)[layout.codes("soundtrack")]
    popularity = compute_popularity(
        np.array(users, dtype=np.int64), np.array(items, dtype=np.int64), np.ones(len(items)), codes
    )
    n_users = max(listeners) if len(listeners) else 0
    with ModelWriter(path) as writer:
        writer.save_table(layout.TRACKS, tracks)
        write_catalogue(writer, tracks)
        if n_users:
            import scipy.sparse as sp

            matrix = sp.csr_matrix((np.ones(len(items), np.float32), (users, items)), shape=(n_users, n))
            write_interactions(writer, [f"u{j:03d}" for j in range(n_users)], matrix)
        write_popularity(writer, track_ids, popularity)
        spaces = {space: (np.arange(n), l2_normalize(vectors))}
        if item_factors is not None:
            heard = np.flatnonzero(np.asarray(listeners) > 0)
            user_factors = np.zeros((n_users, item_factors.shape[1]), np.float32)
            write_cf(writer, item_factors, user_factors, heard, Weighting("log", 1.0))
            spaces["cf"] = (heard, l2_normalize(item_factors[heard]))
        write_spaces(writer, spaces)
        if tags is not None:
            analysed = np.flatnonzero(~np.isnan(tags).any(axis=1))
            write_tags(writer, analysed, tags[analysed])
        writer.commit(
            {
                "spaces": list(spaces),
                "listens_simulated": simulated,
                "rank_defaults": {"k": 10, "discount": 0.5, "per_soundtrack": 2},
                "config": {"cf": {"regularization": 0.05}},
                "counts": {},
                "stages": {},
            }
        )
    return path


def record_files(path: Path, *relpaths: str) -> None:
    """Record files a test added to a finished model folder in its manifest, as `gems build` would have."""
    manifest_path = path / layout.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["files"].update({relpath: record(path / relpath) for relpath in relpaths})
    manifest_path.write_text(json.dumps(manifest))
