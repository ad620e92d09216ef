"""The stages that read the sources: ingest, the catalogue's lookup arrays, audio embeddings, the interaction
matrix and popularity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gems.artifacts import layout
from gems.artifacts.hashing import InputHasher
from gems.artifacts.writing import ModelWriter
from gems.config import BuildConfig
from gems.errors import ParameterError
from gems.stages.runner import StageRunner, interaction_inputs, load_interactions


def stage_ingest(runner: StageRunner, config: BuildConfig, hasher: InputHasher) -> None:
    from gems.audio.decode import AUDIO_EXTENSIONS

    paths = [("catalog", config.catalog)] + [("audio", a) for a in config.audio]
    paths += [("listens", source.path) for source in config.listens]
    for role, path in paths:
        if path is not None and not Path(path).exists():
            raise ParameterError(f"the {role} source {path} does not exist")
    inputs = {
        "catalog": None if config.catalog is None else hasher.path(config.catalog),
        "audio": [hasher.path(folder) for folder in config.audio],
        "listens": [[hasher.path(s.path), s.format, dict(s.columns)] for s in config.listens],
        "extensions": sorted(AUDIO_EXTENSIONS),
    }

    def compute() -> dict[str, Any]:
        from gems.ingest import ingest_sources

        ingested = ingest_sources(
            catalog=config.catalog, audio=config.audio, listens=config.listens, audio_extensions=AUDIO_EXTENSIONS
        )
        runner.writer.save_table(layout.TRACKS, ingested.tracks)
        runner.writer.save_table(layout.LISTENS, ingested.listens)
        runner.writer.save_json(layout.INGEST_REPORT, [r.to_dict() for r in ingested.reports])
        return {"tracks": len(ingested.tracks), "listens": len(ingested.listens)}

    runner.run("ingest", inputs, compute)


def catalogue_arrays(tracks) -> dict[str, np.ndarray]:
    """The catalogue stage's arrays for a tracks table (track_id, title, artist, soundtrack): sort orders by id
    and by folded title, and per artist and per album/soundtrack the codes and the tracks sorted by code."""
    import pandas as pd

    from gems.lookup import title_key

    ids = tracks["track_id"].to_numpy(dtype=str)
    named = tracks["title"].to_numpy(dtype=object, na_value=None)  # Python strings: iterating Arrow's is slower
    titles = np.asarray([title_key(t if isinstance(t, str) else i) for t, i in zip(named, ids)], dtype=str)
    arrays = {
        layout.ID_ORDER: np.argsort(ids, kind="stable"),
        layout.TITLE_ORDER: np.argsort(titles, kind="stable"),
    }
    for column in ("artist", "soundtrack"):
        codes = pd.factorize(tracks[column], use_na_sentinel=True)[0].astype(np.int64)
        known = np.flatnonzero(codes >= 0)
        arrays[layout.codes(column)] = codes
        arrays[layout.members(column)] = known[np.argsort(codes[known], kind="stable")]
    return arrays


LINK_VERSION = 1  # of the name keys: a change of the linking rules must rebuild them
DISPLAY_COLUMNS = ("track_id", "title", "artist", "soundtrack", "duration_s", "path")


def stage_catalogue(runner: StageRunner) -> None:
    """What serving reads of the catalogue without reading it whole (:func:`write_catalogue`)."""
    inputs = {"tracks": runner.file_hash(layout.TRACKS), "link": LINK_VERSION}

    def compute() -> dict[str, Any]:
        tracks = runner.staged.table(layout.TRACKS, list(DISPLAY_COLUMNS)).to_pandas()
        write_catalogue(runner.writer, tracks)
        return {
            "tracks": len(tracks),
            "artists": int(tracks["artist"].nunique()),
            "albums": int(tracks["soundtrack"].nunique()),
        }

    runner.run("catalogue", inputs, compute)


def write_catalogue(writer: ModelWriter, tracks) -> None:
    """The catalogue's serving files for a tracks frame with :data:`DISPLAY_COLUMNS`: its display columns as a
    memory-mappable Arrow file (a million-track query labels ten picks), sort orders that find a track by id or
    title and a track's artist- and album-mates by binary search (:func:`catalogue_arrays`, gems.lookup), and
    the name keys a history is linked by (gems.ingest.link_keys.catalogue_keys)."""
    import pyarrow as pa

    from gems.ingest.link_keys import catalogue_keys

    tracks = tracks[list(DISPLAY_COLUMNS)].reset_index(drop=True)
    writer.save_arrow(layout.DISPLAY, pa.Table.from_pandas(tracks, preserve_index=False))
    for relpath, array in catalogue_arrays(tracks).items():
        writer.save_array(relpath, array)
    writer.save_table(layout.LINK_KEYS, catalogue_keys(tracks))


def stage_audio(runner: StageRunner, config: BuildConfig, hasher: InputHasher, show_progress: bool, cache_dir) -> None:
    from gems.audio.stage import hash_audio_files

    tracks = runner.staged.table(layout.TRACKS, columns=["track_id", "path"]).to_pandas()
    with_audio = tracks[tracks["path"].notna()]
    if with_audio.empty:
        return
    hashed = hash_audio_files(with_audio["path"].tolist(), hasher)
    params = config.audio_params
    inputs = {
        "files": list(zip(with_audio["track_id"], hashed.fingerprint_items())),
        "excerpt_s": params.excerpt_s,
        "min_duration_s": params.min_duration_s,
        "features": _feature_fingerprint(params),
    }

    def compute() -> dict[str, Any]:
        from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
        from gems.audio.stage import embed_audio_files

        embedding = embed_audio_files(
            hashed,
            excerpt_s=params.excerpt_s,
            min_duration_s=params.min_duration_s,
            workers=params.workers,
            scheduler=config.dask.scheduler or None,
            cache_dir=cache_dir,
            show_progress=show_progress,
        )
        files = embedding.files.copy()
        files.insert(0, "track_row", with_audio.index.to_numpy(dtype=np.int64))
        files.insert(1, "track_id", with_audio["track_id"].to_numpy())
        writer = runner.writer
        writer.save_table(layout.AUDIO_FILES, files)
        if embedding.scaler is not None:
            write_tags(writer, files["track_row"].to_numpy()[embedding.ok_positions], embedding.tags)
            writer.save_array(layout.AUDIO_FEATURES, embedding.features)
            writer.save_array(layout.AUDIO_STANDARDIZED, embedding.standardized)
            writer.save_array(layout.AUDIO_VECTORS, embedding.vectors)
            writer.save_arrays(layout.AUDIO_EMBEDDER, embedding.scaler.to_arrays())
            writer.save_json(layout.AUDIO_GROUPS, {k: [g.start, g.stop] for k, g in FEATURE_GROUPS.items()})
            writer.save_json(layout.AUDIO_FEATURE_NAMES, list(FEATURE_NAMES))
        return {
            "files": len(files),
            "ok": int(len(embedding.ok_positions)),
            "failed": int(len(files) - len(embedding.ok_positions)),
            "cache_hits": embedding.cache_hits,
            "extracted": embedding.extracted,
            "dims": int(embedding.vectors.shape[1]) if embedding.scaler is not None else 0,
        }

    runner.run("audio", inputs, compute)


def write_tags(writer, rows: np.ndarray, tags: np.ndarray) -> None:
    """The analysed tracks' rows (``AUDIO_ROWS``: the row order of every audio array) and their sound words'
    probabilities (rows × 50, MTT_musicnn's, columns ``TAG_WORDS``)."""
    from gems.audio.musicnn import TAG_WORDS

    writer.save_array(layout.AUDIO_ROWS, np.asarray(rows, dtype=np.int64))
    writer.save_array(layout.AUDIO_TAGS, np.asarray(tags, dtype=np.float32))
    writer.save_json(layout.AUDIO_TAG_WORDS, list(TAG_WORDS))


def _feature_fingerprint(params) -> str:
    from gems.audio.extractor import FeatureExtractor

    return FeatureExtractor(excerpt_s=params.excerpt_s, min_duration_s=params.min_duration_s).config_fingerprint


def stage_interactions(runner: StageRunner) -> None:
    inputs = {"listens": runner.file_hash(layout.LISTENS), "tracks": runner.file_hash(layout.TRACKS)}

    def compute() -> dict[str, Any]:
        import pyarrow.compute as pc

        from gems.cf import interaction_matrix

        track_ids = runner.staged.table(layout.TRACKS, columns=["track_id"]).column(0).combine_chunks()
        listens = runner.staged.table(layout.LISTENS, columns=["user_id", "track_id", "weight"])
        if not listens.num_rows:
            return {"users": 0, "pairs": 0}
        listened = listens.column("track_id")
        item = pc.fill_null(pc.index_in(listened, value_set=track_ids.cast(listened.type)), -1).to_numpy()
        users, user_idx = sorted_codes(listens.column("user_id"))
        weights = listens.column("weight").to_numpy()
        matrix = interaction_matrix(user_idx, item, weights, (len(users), len(track_ids)))
        write_interactions(runner.writer, users, matrix)
        return {"users": len(users), "pairs": int(matrix.nnz)}

    runner.run("interactions", inputs, compute)


def sorted_codes(values) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values as str, return_inverse=True)`` of an Arrow string column, sorting its distinct values
    only (a listener's id repeats on every listen of theirs: 100k ids of 6.3M rows)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values.combine_chunks(), null_encoding="encode")
    distinct, inverse = np.unique(encoded.dictionary.to_pandas().to_numpy(dtype=str), return_inverse=True)
    return distinct, inverse[encoded.indices.to_numpy()]


def write_interactions(writer: ModelWriter, user_ids, matrix) -> None:
    """The listeners' ids (sorted: serving finds one by binary search) and the (users × tracks) CSR matrix of
    summed listen weights, one row per id."""
    import pandas as pd

    writer.save_table(layout.USERS, pd.DataFrame({"user_id": np.asarray(user_ids, dtype=str)}))
    for relpath, array in zip(layout.INTERACTIONS, (matrix.indptr, matrix.indices, matrix.data)):
        writer.save_array(relpath, array)


def stage_popularity(runner: StageRunner, config: BuildConfig) -> None:
    inputs = {
        **interaction_inputs(runner),
        "soundtracks": runner.file_hash(layout.codes("soundtrack")),
        "head_share": config.popularity.head_share,
    }

    def compute() -> dict[str, Any]:
        import scipy.sparse as sp

        from gems.popularity import popularity_from_matrix

        tracks = runner.staged.table(layout.TRACKS, columns=["track_id"]).to_pandas()
        codes = runner.staged.array(layout.codes("soundtrack"), mmap=False)
        matrix = load_interactions(runner, len(tracks))
        if matrix is None:
            matrix = sp.csr_matrix((0, len(tracks)), dtype=np.float32)
        popularity = popularity_from_matrix(matrix, codes, head_share=config.popularity.head_share)
        write_popularity(runner.writer, tracks["track_id"], popularity)
        return {
            "head": popularity.n_head,
            "tail": int(popularity.is_tail.sum()),
            "themes": int(popularity.is_theme.sum()),
        }

    runner.run("popularity", inputs, compute)


def write_popularity(writer: ModelWriter, track_ids, popularity) -> None:
    """Each track's listeners, percentile, head/tail and theme flags (a :class:`gems.popularity.Popularity`)."""
    import pandas as pd

    writer.save_table(layout.POPULARITY, pd.DataFrame({"track_id": track_ids, **popularity.to_columns()}))
