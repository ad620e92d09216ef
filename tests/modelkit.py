"""Hand-made model folders for ranking tests: vectors and popularity chosen so the right answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gems.artifacts import layout
from gems.artifacts.integrity import record
from gems.artifacts.writing import ModelWriter
from gems.build import DISPLAY_COLUMNS, catalogue_arrays, write_spaces
from gems.cf import Weighting
from gems.index import l2_normalize
from gems.ingest.schema import finalize_catalog
from gems.popularity import compute_popularity
from gems.topk import NormOrdered


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
) -> Path:
    """A model whose tracks t0..tn have the given audio ``vectors`` (or ``space``) and listener counts, and
    optionally ALS ``item_factors`` (tracks with no listeners must have zero rows).

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
    catalogue = catalogue_arrays(tracks)
    popularity = compute_popularity(
        np.array(users, dtype=np.int64),
        np.array(items, dtype=np.int64),
        np.ones(len(items)),
        catalogue["catalogue/soundtrack_codes.npy"],
    )
    n_users = max(listeners) if len(listeners) else 0
    with ModelWriter(path) as writer:
        writer.save_table("tracks.parquet", tracks)
        if n_users:
            import scipy.sparse as sp

            matrix = sp.csr_matrix((np.ones(len(items), np.float32), (users, items)), shape=(n_users, n))
            writer.save_table(layout.USERS, pd.DataFrame({"user_id": [f"u{j:03d}" for j in range(n_users)]}))
            for relpath, array in zip(layout.INTERACTIONS, (matrix.indptr, matrix.indices, matrix.data)):
                writer.save_array(relpath, array)
        writer.save_table("popularity.parquet", pd.DataFrame({"track_id": track_ids, **popularity.to_columns()}))
        for relpath, array in catalogue.items():
            writer.save_array(relpath, array)
        writer.save_arrow(
            "catalogue/tracks.arrow", pa.Table.from_pandas(tracks[list(DISPLAY_COLUMNS)], preserve_index=False)
        )
        spaces = {space: (np.arange(n), l2_normalize(vectors))}
        if item_factors is not None:
            heard = np.flatnonzero(np.asarray(listeners) > 0)
            factors = np.asarray(item_factors, dtype=np.float32)
            writer.save_array(layout.ITEM_FACTORS, factors)
            writer.save_array(layout.USER_FACTORS, np.zeros((max(listeners), item_factors.shape[1]), np.float32))
            writer.save_array(layout.GRAM, factors.T.astype(np.float64) @ factors.astype(np.float64))
            ordered = NormOrdered.of(factors, np.asarray(listeners) > 0)
            writer.save_array(layout.NORM_ORDER, ordered.rows)
            writer.save_array(layout.NORM_SORTED, ordered.norms)
            writer.save_json(layout.WEIGHTING, Weighting("log", 1.0).to_json())
            spaces["cf"] = (heard, l2_normalize(item_factors[heard]))
        write_spaces(writer, spaces)
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
