"""``gems build``: sources -> a model folder, one stage at a time, each cached by its inputs.

    ingest ──► audio (features, embedding) ─────────────┐
       └────► interactions ──► popularity, cf (ALS) ──► index (audio, cf, blend)

A stage's fingerprint hashes its version, its parameters and the content of what it reads (upstream files of
this build, or external files). When it equals the fingerprint recorded by the model being replaced, the
stage's files are linked over instead of recomputed — heavy libraries are then never even imported. Stages
talk only through the files of the folder being written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gems import __version__, layout
from gems.artifacts import InputHasher, ModelFolder, ModelWriter, hash_json, library_versions
from gems.config import BuildConfig, load_pipeline
from gems.errors import GemsError, ParameterError

log = logging.getLogger(__name__)

STAGE_VERSIONS = {
    "ingest": 2,
    "catalogue": 2,
    "audio": 2,
    "interactions": 1,
    "popularity": 4,
    "cf": 2,
    "neighbours": 1,
    "index": 2,
}
INTERACTION_FILES = ("interactions/indptr.npy", "interactions/indices.npy", "interactions/weights.npy")


@dataclass
class StageRecord:
    name: str
    fingerprint: str
    files: list[str]
    seconds: float
    reused: bool
    counts: dict[str, Any] = field(default_factory=dict)
    started_s: float = 0.0  # when the stage started, in seconds since the build started


class StageRunner:
    """Runs stages into a :class:`ModelWriter`, reusing the files of an older model whose fingerprints match."""

    def __init__(self, writer: ModelWriter, previous: ModelFolder | None):
        self.writer = writer
        self.previous = previous
        self.started = time.perf_counter()
        self.staged = ModelFolder(writer.path, in_progress=True)
        self.records: dict[str, StageRecord] = {}

    def file_hash(self, relpath: str) -> str | None:
        """Content hash of a file written earlier in this build, None when absent."""
        return self.staged.file_hash(relpath) if self.staged.has(relpath) else None

    def run(self, name: str, inputs: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> StageRecord:
        fingerprint = hash_json({"stage": name, "version": STAGE_VERSIONS[name], "inputs": inputs})
        started_s = round(time.perf_counter() - self.started, 3)
        old = (self.previous.manifest.get("stages", {}) if self.previous else {}).get(name)
        if old and old["fingerprint"] == fingerprint and all(self.previous.has(f) for f in old["files"]):
            self.writer.reuse(self.previous.path, old["files"])
            record = StageRecord(name, fingerprint, old["files"], 0.0, True, old.get("counts", {}), started_s)
            log.info("stage %s: unchanged, reused", name)
        else:
            before = len(self.writer.written)
            started = time.perf_counter()
            counts = compute()
            record = StageRecord(
                name,
                fingerprint,
                sorted(set(self.writer.written[before:])),
                time.perf_counter() - started,
                False,
                counts,
                started_s,
            )
            log.info("stage %s: built in %.2fs", name, record.seconds)
        self.records[name] = record
        return record


@dataclass
class BuildResult:
    path: Path
    manifest: dict[str, Any]
    reports: list[dict[str, Any]]
    audio_failures: list[dict[str, Any]]
    seconds: float


def load_or_default_config(pipeline: str | Path | None, **overrides) -> BuildConfig:
    """The pipeline file's configuration (or the defaults), with the given sources and options overriding it.

    Without a pipeline file or ``model`` the model folder defaults to ``models/<listens name>``."""
    if pipeline is not None:
        config = load_pipeline(pipeline)
    else:
        model = overrides.get("model")
        source = overrides.get("listens") or overrides.get("audio") or overrides.get("catalog")
        if model is None and source is None:
            raise ParameterError("give a pipeline file or --model DIR (with --audio, --catalog and/or --listens)")
        config = BuildConfig(model=Path(model) if model else Path("models") / Path(source).stem)
    return config.with_overrides(**overrides)


def _previous_model(path: Path) -> ModelFolder | None:
    try:
        return ModelFolder(path)
    except GemsError:
        return None


def _load_memo(previous: ModelFolder | None) -> dict[str, list]:
    if previous is None or not previous.has("inputs.parquet"):
        return {}
    table = previous.table("inputs.parquet").to_pydict()
    return {p: [s, m, h] for p, s, m, h in zip(table["path"], table["size"], table["mtime_ns"], table["hash"])}


# --------------------------------------------------------------------------------------------- stages


def _ingest(runner: StageRunner, config: BuildConfig, hasher: InputHasher) -> None:
    from gems.audio.decode import AUDIO_EXTENSIONS

    sources = {"catalog": config.catalog, "audio": config.audio, "listens": config.listens}
    for role, path in sources.items():
        if path is not None and not Path(path).exists():
            raise ParameterError(f"the {role} source {path} does not exist")
    inputs = {
        **{role: None if path is None else hasher.path(path) for role, path in sources.items()},
        "listens_format": config.listens_format,
        "listens_columns": config.listens_columns,
        "extensions": sorted(AUDIO_EXTENSIONS),
    }

    def compute() -> dict[str, Any]:
        from gems.ingest import ingest_sources

        ingested = ingest_sources(
            catalog=config.catalog,
            audio=config.audio,
            listens=config.listens,
            listens_format=config.listens_format,
            listens_columns=config.listens_columns,
            audio_extensions=AUDIO_EXTENSIONS,
        )
        runner.writer.save_table("tracks.parquet", ingested.tracks)
        runner.writer.save_table("listens.parquet", ingested.listens)
        runner.writer.save_json("ingest.json", [r.to_dict() for r in ingested.reports])
        return {"tracks": len(ingested.tracks), "listens": len(ingested.listens)}

    runner.run("ingest", inputs, compute)


def catalogue_arrays(tracks) -> dict[str, np.ndarray]:
    """The catalogue stage's arrays for a tracks table (track_id, title, artist, soundtrack): sort orders by id
    and by folded title, and per artist and per album/soundtrack the codes and the tracks sorted by code."""
    import pandas as pd

    from gems.lookup import fold

    ids = tracks["track_id"].to_numpy(dtype=str)
    titles = np.asarray([fold(t if isinstance(t, str) else i) for t, i in zip(tracks["title"], ids)], dtype=str)
    arrays = {
        "catalogue/id_order.npy": np.argsort(ids, kind="stable"),
        "catalogue/title_order.npy": np.argsort(titles, kind="stable"),
    }
    for column in ("artist", "soundtrack"):
        codes = pd.factorize(tracks[column], use_na_sentinel=True)[0].astype(np.int64)
        known = np.flatnonzero(codes >= 0)
        arrays[f"catalogue/{column}_codes.npy"] = codes
        arrays[f"catalogue/{column}_order.npy"] = known[np.argsort(codes[known], kind="stable")]
    return arrays


DISPLAY_COLUMNS = ("track_id", "title", "artist", "soundtrack", "duration_s", "path")


def _catalogue(runner: StageRunner) -> None:
    """What serving reads of the catalogue without reading it whole: its display columns as a memory-mappable
    Arrow file (a million-track query labels ten picks), and sort orders that find a track by id or title and
    a track's artist- and album-mates by binary search (see gems.lookup and RankingInputs.members)."""
    inputs = {"tracks": runner.file_hash("tracks.parquet")}

    def compute() -> dict[str, Any]:
        display = runner.staged.table("tracks.parquet", list(DISPLAY_COLUMNS))
        runner.writer.save_arrow("catalogue/tracks.arrow", display)
        tracks = display.to_pandas()
        for relpath, array in catalogue_arrays(tracks).items():
            runner.writer.save_array(relpath, array)
        return {
            "tracks": len(tracks),
            "artists": int(tracks["artist"].nunique()),
            "albums": int(tracks["soundtrack"].nunique()),
        }

    runner.run("catalogue", inputs, compute)


def _audio(runner: StageRunner, config: BuildConfig, hasher: InputHasher, show_progress: bool, cache_dir) -> None:
    from gems.audio.stage import hash_audio_files

    tracks = runner.staged.table("tracks.parquet", columns=["track_id", "path"]).to_pandas()
    with_audio = tracks[tracks["path"].notna()]
    if with_audio.empty:
        return
    hashed = hash_audio_files(with_audio["path"].tolist(), hasher)
    params = config.audio_params
    inputs = {
        "files": list(zip(with_audio["track_id"], hashed.fingerprint_items())),
        "excerpt_s": params.excerpt_s,
        "min_duration_s": params.min_duration_s,
        "dims": params.dims,
        "features": _feature_fingerprint(params),
    }

    def compute() -> dict[str, Any]:
        from gems.audio.features import FEATURE_GROUPS, FEATURE_NAMES
        from gems.audio.stage import embed_audio_files

        embedding = embed_audio_files(
            hashed,
            excerpt_s=params.excerpt_s,
            min_duration_s=params.min_duration_s,
            dims=params.dims,
            workers=params.workers,
            scheduler=config.dask.scheduler or None,
            cache_dir=cache_dir,
            show_progress=show_progress,
        )
        files = embedding.files.copy()
        files.insert(0, "track_row", with_audio.index.to_numpy(dtype=np.int64))
        files.insert(1, "track_id", with_audio["track_id"].to_numpy())
        writer = runner.writer
        writer.save_table("audio/files.parquet", files)
        if embedding.embedder is not None:
            writer.save_array("audio/rows.npy", files["track_row"].to_numpy()[embedding.ok_positions])
            writer.save_array("audio/features.npy", embedding.features)
            writer.save_array("audio/standardized.npy", embedding.standardized)
            writer.save_array("audio/vectors.npy", embedding.vectors)
            writer.save_arrays("audio/embedder.npz", embedding.embedder.to_arrays())
            writer.save_json("audio/groups.json", {k: [g.start, g.stop] for k, g in FEATURE_GROUPS.items()})
            writer.save_json("audio/feature_names.json", list(FEATURE_NAMES))
        return {
            "files": len(files),
            "ok": int(len(embedding.ok_positions)),
            "failed": int(len(files) - len(embedding.ok_positions)),
            "cache_hits": embedding.cache_hits,
            "extracted": embedding.extracted,
            "dims": int(embedding.vectors.shape[1]) if embedding.embedder is not None else 0,
        }

    runner.run("audio", inputs, compute)


def _feature_fingerprint(params) -> str:
    from gems.audio.extractor import FeatureExtractor

    return FeatureExtractor(excerpt_s=params.excerpt_s, min_duration_s=params.min_duration_s).config_fingerprint


def _interactions(runner: StageRunner) -> None:
    inputs = {"listens": runner.file_hash("listens.parquet"), "tracks": runner.file_hash("tracks.parquet")}

    def compute() -> dict[str, Any]:
        import pandas as pd

        from gems.cf import interaction_matrix

        track_ids = runner.staged.table("tracks.parquet", columns=["track_id"]).column(0).to_pandas()
        listens = runner.staged.table("listens.parquet", columns=["user_id", "track_id", "weight"]).to_pandas()
        if listens.empty:
            return {"users": 0, "pairs": 0}
        item = pd.Index(track_ids).get_indexer(listens["track_id"])
        users, user_idx = np.unique(listens["user_id"].to_numpy(dtype=str), return_inverse=True)
        matrix = interaction_matrix(user_idx, item, listens["weight"].to_numpy(), (len(users), len(track_ids)))
        writer = runner.writer
        writer.save_table("users.parquet", pd.DataFrame({"user_id": users}))
        for relpath, array in zip(INTERACTION_FILES, (matrix.indptr, matrix.indices, matrix.data)):
            writer.save_array(relpath, array)
        return {"users": len(users), "pairs": int(matrix.nnz)}

    runner.run("interactions", inputs, compute)


def _interaction_inputs(runner: StageRunner) -> dict[str, str | None]:
    return {relpath: runner.file_hash(relpath) for relpath in INTERACTION_FILES}


def _load_interactions(runner: StageRunner, n_tracks: int):
    """The (users × tracks) CSR matrix of summed weights written by the interactions stage, or None."""
    if not runner.staged.has(INTERACTION_FILES[0]):
        return None
    import scipy.sparse as sp

    indptr, indices, weights = (runner.staged.array(f, mmap=False) for f in INTERACTION_FILES)
    return sp.csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1, n_tracks))


def _popularity(runner: StageRunner, config: BuildConfig) -> None:
    inputs = {
        **_interaction_inputs(runner),
        "soundtracks": runner.file_hash("catalogue/soundtrack_codes.npy"),
        "head_share": config.popularity.head_share,
    }

    def compute() -> dict[str, Any]:
        import pandas as pd
        import scipy.sparse as sp

        from gems.popularity import popularity_from_matrix

        tracks = runner.staged.table(layout.TRACKS, columns=["track_id"]).to_pandas()
        codes = runner.staged.array(layout.codes("soundtrack"), mmap=False)
        matrix = _load_interactions(runner, len(tracks))
        if matrix is None:
            matrix = sp.csr_matrix((0, len(tracks)), dtype=np.float32)
        popularity = popularity_from_matrix(matrix, codes, head_share=config.popularity.head_share)
        frame = pd.DataFrame({"track_id": tracks["track_id"], **popularity.to_columns()})
        runner.writer.save_table(layout.POPULARITY, frame)
        return {
            "head": popularity.n_head,
            "tail": int(popularity.is_tail.sum()),
            "themes": int(popularity.is_theme.sum()),
        }

    runner.run("popularity", inputs, compute)


def _cf(runner: StageRunner, config: BuildConfig, show_progress: bool) -> None:
    inputs = {**_interaction_inputs(runner), "params": asdict(config.cf)}
    if inputs[INTERACTION_FILES[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.cf import ALSModel
        from gems.topk import norms_of

        n_tracks = runner.staged.table(layout.TRACKS, columns=["track_id"]).num_rows
        matrix = _load_interactions(runner, n_tracks)
        model = ALSModel(**asdict(config.cf), show_progress=show_progress).fit(matrix)
        writer = runner.writer
        items = model.item_factors_
        writer.save_array(layout.USER_FACTORS, model.user_factors_)
        writer.save_array(layout.ITEM_FACTORS, items)
        writer.save_array(layout.GRAM, items.T.astype(np.float64) @ items.astype(np.float64))
        heard = np.flatnonzero(matrix.getnnz(axis=0) > 0)
        norms = norms_of(items[heard])
        order = np.argsort(-norms, kind="stable")
        writer.save_array(layout.NORM_ORDER, heard[order].astype(np.int64))
        writer.save_array(layout.NORM_SORTED, norms[order])
        writer.save_json(layout.WEIGHTING, model.weighting_.to_json())
        if model.weighting_.idf is not None:
            writer.save_array(layout.IDF, model.weighting_.idf)
        return {"users": matrix.shape[0], "items": len(heard), "factors": config.cf.factors}

    runner.run("cf", inputs, compute)


def _neighbours(runner: StageRunner, config: BuildConfig) -> None:
    inputs = {**_interaction_inputs(runner), "k": config.neighbours.k}
    if inputs[INTERACTION_FILES[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.neighbours import ItemNeighbours

        n_tracks = runner.staged.table("tracks.parquet", columns=["track_id"]).num_rows
        neighbours = ItemNeighbours(k=config.neighbours.k).fit(_load_interactions(runner, n_tracks))
        for name, array in neighbours.to_arrays().items():
            runner.writer.save_array(f"neighbours/{name}.npy", array)
        return {"pairs": int(neighbours.similarity_.nnz), "k": config.neighbours.k}

    runner.run("neighbours", inputs, compute)


def _index(runner: StageRunner, config: BuildConfig) -> None:
    sources = ["audio/rows.npy", "audio/vectors.npy", "cf/item_factors.npy", INTERACTION_FILES[1]]
    inputs = {**{f: runner.file_hash(f) for f in sources}, "audio_weight": config.index.audio_weight}

    def compute() -> dict[str, Any]:
        from gems.index import blend_vectors, l2_normalize

        staged = runner.staged
        spaces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if staged.has("audio/vectors.npy"):
            spaces["audio"] = (
                staged.array("audio/rows.npy", mmap=False),
                staged.array("audio/vectors.npy", mmap=False),
            )
        if staged.has("cf/item_factors.npy"):
            factors = staged.array("cf/item_factors.npy", mmap=False)
            heard = np.unique(staged.array(INTERACTION_FILES[1], mmap=False))
            spaces["cf"] = (heard.astype(np.int64), l2_normalize(factors[heard]))
        if "audio" in spaces and "cf" in spaces:
            audio_rows, audio_vectors = spaces["audio"]
            both, in_audio, in_cf = np.intersect1d(audio_rows, spaces["cf"][0], return_indices=True)
            if len(both):
                spaces["blend"] = (
                    both,
                    blend_vectors(audio_vectors[in_audio], spaces["cf"][1][in_cf], config.index.audio_weight),
                )
        return write_spaces(runner.writer, spaces)

    runner.run("index", inputs, compute)


def write_spaces(writer: ModelWriter, spaces: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, int]:
    """Write each space's track rows, unit vectors and faiss index; returns the size of each space."""
    from gems.index import SPACES, build_index

    counts = {}
    for space in SPACES:
        if space not in spaces:
            continue
        rows, vectors = spaces[space]
        writer.save_array(f"index/{space}_rows.npy", np.asarray(rows, dtype=np.int64))
        writer.save_array(f"index/{space}_vectors.npy", np.asarray(vectors, dtype=np.float32))
        writer.save_index(f"index/{space}.faiss", build_index(vectors))
        counts[space] = len(rows)
    return counts


# --------------------------------------------------------------------------------------------- build


def build_model(
    config: BuildConfig, *, show_progress: bool = False, cache_dir: str | Path | None = None
) -> BuildResult:
    """Build (or update) the model folder ``config.model`` from the configured sources."""
    started = time.perf_counter()
    previous = _previous_model(config.model)
    hasher = InputHasher(_load_memo(previous))
    with ModelWriter(config.model) as writer:
        runner = StageRunner(writer, previous)
        _ingest(runner, config, hasher)
        _catalogue(runner)
        _audio(runner, config, hasher, show_progress, cache_dir)
        _interactions(runner)
        _popularity(runner, config)
        _cf(runner, config, show_progress)
        _neighbours(runner, config)
        _index(runner, config)

        reports = runner.staged.json("ingest.json")
        failures = []
        if runner.staged.has("audio/files.parquet"):
            files = runner.staged.table("audio/files.parquet").to_pandas()
            failed = files[files["status"] != "ok"]
            failures = failed[["track_id", "path", "status", "reason"]].to_dict("records")
        _save_memo(writer, hasher)
        records = runner.records
        manifest = {
            "gems_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "listens_simulated": config.listens_simulated,
            "rank_defaults": config.rank.to_section(),
            "spaces": [s for s in ("audio", "cf", "blend") if runner.staged.has(f"index/{s}.faiss")],
            "counts": {
                "tracks": records["ingest"].counts["tracks"],
                "listens": records["ingest"].counts["listens"],
                "users": records["interactions"].counts.get("users", 0),
                "audio_ok": records["audio"].counts["ok"] if "audio" in records else 0,
                "audio_failed": records["audio"].counts["failed"] if "audio" in records else 0,
                "head": records["popularity"].counts["head"],
                "tail": records["popularity"].counts["tail"],
            },
            "stages": {name: asdict(record) for name, record in records.items()},
            "versions": library_versions(
                "numpy", "pandas", "pyarrow", "scikit-learn", "implicit", "librosa", "faiss-cpu"
            ),
            "timings": {"total_s": round(time.perf_counter() - started, 3)},
        }
        path = writer.commit(manifest)
    return BuildResult(path, manifest, reports, failures, time.perf_counter() - started)


def _save_memo(writer: ModelWriter, hasher: InputHasher) -> None:
    import pyarrow as pa

    paths = sorted(hasher.seen)
    entries = [hasher.seen[p] for p in paths]
    writer.save_table(
        "inputs.parquet",
        pa.table(
            {
                "path": pa.array(paths, pa.string()),
                "size": pa.array([e[0] for e in entries], pa.int64()),
                "mtime_ns": pa.array([e[1] for e in entries], pa.int64()),
                "hash": pa.array([e[2] for e in entries], pa.string()),
            }
        ),
    )
