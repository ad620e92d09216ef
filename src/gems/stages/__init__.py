"""``gems build``: sources -> a model folder, one stage at a time, each cached by its inputs.

    ingest ─► catalogue ─► audio (features, embedding) ───────────────────┐
       └─► interactions ─► popularity ─► cf (ALS) ─► neighbours ─► index ─► ranker (learned stage)

A stage's fingerprint hashes its version, its parameters and the content of what it reads (upstream files of
this build, or external files). When it equals the fingerprint recorded by the model being replaced, the
stage's files are linked over instead of recomputed — heavy libraries are then never even imported. Stages
talk only through the files of the folder being written (:mod:`gems.artifacts.layout` names them).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gems import __version__
from gems.artifacts import layout
from gems.artifacts.hashing import InputHasher
from gems.artifacts.reading import ModelFolder, arrow_to_numpy
from gems.artifacts.writing import ModelWriter, library_versions
from gems.config import BuildConfig, load_pipeline
from gems.errors import GemsError, ModelError, ParameterError
from gems.stages.fitting import fit_cf, fit_index, fit_neighbours, fit_ranker_stage
from gems.stages.reading import stage_audio, stage_catalogue, stage_ingest, stage_interactions, stage_popularity
from gems.stages.runner import StageRunner

__all__ = ["BuildResult", "build_model", "load_or_default_config"]


@dataclass
class BuildResult:
    path: Path
    manifest: dict[str, Any]
    reports: list[dict[str, Any]]
    audio_failures: list[dict[str, Any]]
    seconds: float


def load_or_default_config(pipeline: str | Path | None, **overrides) -> BuildConfig:
    """The pipeline file's configuration (or the defaults), with the given sources and options overriding it.

    Without a pipeline file or ``model`` the model folder defaults to ``models/<first listens source's name>``
    (else of the first audio folder, else of the catalogue)."""
    if pipeline is not None:
        config = load_pipeline(pipeline)
    else:
        model = overrides.get("model")
        listens, audio = overrides.get("listens") or (), overrides.get("audio") or ()
        source = (
            (listens[0].path if isinstance(listens, tuple | list) and listens else listens or None)
            or (audio[0] if isinstance(audio, tuple | list) and audio else audio or None)
            or overrides.get("catalog")
        )
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
    if previous is None or not previous.has(layout.INPUT_MEMO):
        return {}
    try:
        table = previous.table(layout.INPUT_MEMO).to_pydict()
    except ModelError:  # a damaged memo only costs hashing the inputs again
        return {}
    return {p: [s, m, h] for p, s, m, h in zip(table["path"], table["size"], table["mtime_ns"], table["hash"])}


def build_model(
    config: BuildConfig,
    *,
    show_progress: bool = False,
    cache_dir: str | Path | None = None,
    exclude_users: set[str] | None = None,
) -> BuildResult:
    """Build (or update) the model folder ``config.model`` from the configured sources. ``exclude_users``: ids
    of listeners the learned stage must never train on (the users an offline evaluation scores)."""
    started = time.perf_counter()
    with ModelWriter(config.model) as writer:  # the folder's lock first: the model it replaces stays as read
        previous = _previous_model(config.model)
        hasher = InputHasher(_load_memo(previous))
        runner = StageRunner(writer, previous)
        stage_ingest(runner, config, hasher)
        stage_catalogue(runner)
        stage_audio(runner, config, hasher, show_progress, cache_dir)
        stage_interactions(runner)
        stage_popularity(runner, config)
        fit_cf(runner, config, set(exclude_users or ()), show_progress)
        fit_neighbours(runner, config, set(exclude_users or ()))
        fit_index(runner, config)
        fit_ranker_stage(runner, config, set(exclude_users or ()), show_progress)

        reports = runner.staged.json(layout.INGEST_REPORT)
        failures = []
        if runner.staged.has(layout.AUDIO_FILES):
            files = runner.staged.table(layout.AUDIO_FILES).to_pandas()
            failed = files[files["status"] != "ok"]
            failures = failed[["track_id", "path", "status", "reason"]].to_dict("records")
        _save_memo(writer, hasher)
        records = runner.records
        scope, scope_reason = default_scope(config, runner.staged)
        manifest = {
            "gems_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "listens_simulated": config.simulated,
            "rank_defaults": {**config.rank.to_section(), "scope": scope},
            "scope_reason": scope_reason,
            "spaces": [s for s in ("audio", "cf", "blend") if runner.staged.has(layout.space_vectors(s))],
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
                "numpy", "pandas", "pyarrow", "scikit-learn", "implicit", "librosa", "faiss-cpu", "lightgbm"
            ),
            "timings": {"total_s": round(time.perf_counter() - started, 3)},
        }
        path = writer.commit(manifest)
    return BuildResult(path, manifest, reports, failures, time.perf_counter() - started)


SOUNDTRACK_SCOPE_MIN_TRACKS = 100
SOUNDTRACK_SCOPE_MIN_SHARE = 0.01


def default_scope(config: BuildConfig, folder: ModelFolder) -> tuple[str, str]:
    """The model's default ranking scope and why, in words: the pipeline's ``[rank] scope`` when it names one
    (``all`` or ``soundtrack``); for ``auto`` (the default), ``soundtrack`` when the model holds enough soundtrack
    music: at least :data:`SOUNDTRACK_SCOPE_MIN_TRACKS`
    soundtrack tracks among the tracks in play (those with listeners; every track of a model without listens),
    and at least :data:`SOUNDTRACK_SCOPE_MIN_SHARE` of them. A hundred tracks fill ten lists of ten; 1% is about
    three times the share the detector flags where there are no soundtracks (its false flags: ~0.35% of the
    MPD sample's other tracks), so a catalogue is narrowed only where soundtracks are really there. Otherwise
    ``all``; ``--scope all`` widens a soundtrack default per query."""
    if config.rank.scope != "auto":
        return config.rank.scope, "the pipeline's [rank] scope"
    import numpy as np

    n = folder.table(layout.TRACKS, ["track_id"]).num_rows
    flagged = np.zeros(n, dtype=bool)
    if "is_soundtrack" in folder.columns(layout.TRACKS):
        flagged = arrow_to_numpy(folder.table(layout.TRACKS, ["is_soundtrack"]).column(0)).astype(bool)
    listeners = arrow_to_numpy(folder.table(layout.POPULARITY, ["listeners"]).column(0))
    in_play = listeners > 0 if listeners.any() else np.ones(n, dtype=bool)
    soundtracks, tracks = int((flagged & in_play).sum()), int(in_play.sum())
    share = soundtracks / max(tracks, 1)
    enough = soundtracks >= SOUNDTRACK_SCOPE_MIN_TRACKS and share >= SOUNDTRACK_SCOPE_MIN_SHARE
    played = "listened " if listeners.any() else ""
    return (
        "soundtrack" if enough else "all",
        f"{soundtracks:,} of the {tracks:,} {played}tracks ({share:.1%}) are soundtrack music; soundtracks first "
        f"needs at least {SOUNDTRACK_SCOPE_MIN_TRACKS} and {SOUNDTRACK_SCOPE_MIN_SHARE:.0%}",
    )


def _save_memo(writer: ModelWriter, hasher: InputHasher) -> None:
    import pyarrow as pa

    paths = sorted(hasher.seen)
    entries = [hasher.seen[p] for p in paths]
    writer.save_table(
        layout.INPUT_MEMO,
        pa.table(
            {
                "path": pa.array(paths, pa.string()),
                "size": pa.array([e[0] for e in entries], pa.int64()),
                "mtime_ns": pa.array([e[1] for e in entries], pa.int64()),
                "hash": pa.array([e[2] for e in entries], pa.string()),
            }
        ),
    )
