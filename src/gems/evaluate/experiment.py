"""``gems evaluate``: one reproducible offline experiment from sources to report.

Reads the sources of a pipeline (listens, and a catalogue or audio when given) through the same ingest as
``gems build``, splits them by a protocol, fits every baseline and gems' own ranking at several discount
strengths on the training part, scores the held-out part, and writes ``metrics.json``, ``report.md`` and plots.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from gems.config import BuildConfig
from gems.errors import DataError, ParameterError
from gems.evaluate.baselines import default_baselines
from gems.evaluate.gems_method import GemsComponents, GemsRanker
from gems.evaluate.report import write_report
from gems.evaluate.run import EvaluationResult, evaluate
from gems.evaluate.splits import Split, playlist_continuation, random_holdout, temporal_holdout
from gems.rank import KINDS, RankOptions

log = logging.getLogger(__name__)

PROTOCOLS = ("auto", "random", "temporal", "playlist")
DISCOUNTS = (0.0, 0.1, 0.25, 0.5)


def choose_protocol(listens: pd.DataFrame, protocol: str) -> str:
    """``auto``: playlist continuation for ordered playlists (a ``position`` column), the temporal hold-out
    when every listen has a time, else the random hold-out."""
    if protocol not in PROTOCOLS:
        raise ParameterError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got '{protocol}'")
    if protocol != "auto":
        return protocol
    if "position" in listens:
        return "playlist"
    if "timestamp" in listens and listens["timestamp"].notna().all() and len(listens):
        return "temporal"
    return "random"


def make_split(listens: pd.DataFrame, protocol: str, *, seed: int, items=None, audio=None) -> Split:
    kwargs = {"seed": seed, "items": items, "audio": audio}
    if protocol == "playlist":
        return playlist_continuation(listens, **kwargs)
    if protocol == "temporal":
        return temporal_holdout(listens, **kwargs)
    return random_holdout(listens, **kwargs)


def gems_methods(config: BuildConfig, discounts=DISCOUNTS) -> dict[str, GemsRanker]:
    """gems with the pipeline's rank defaults; the ablation (each component switched off in turn); and the
    default at each discount strength (the accuracy/long-tail frontier). One shared fit of ALS and neighbours."""
    components = GemsComponents(config.cf, config.neighbours)
    default = replace(config.rank, per_soundtrack=0)

    def without(kind: str) -> RankOptions:
        """The default with one kind of evidence switched off everywhere."""
        off = KINDS.index(kind)
        drop = lambda weights: None if weights is None else tuple(0.0 if i == off else w for i, w in enumerate(weights))  # noqa: E731
        return replace(default, weights=drop(default.weights), tail_weights=drop(default.tail_weights))

    variants = {
        "gems": default,
        "gems − tail places": replace(default, tail_share=0.0),
        "gems − calibration": replace(default, calibrated=False),
        "gems − own tail blend": replace(default, tail_weights=None),
        "gems − taste (ALS)": without("cf"),
        "gems − co-listening": without("near"),
        "gems − audio": without("audio"),
        "gems − kin": without("kin"),
    }
    variants.update({f"gems (discount {d:g})": replace(default, discount=d) for d in discounts})
    return {name: GemsRanker(components, options, name=name) for name, options in variants.items()}


def _audio_vectors(tracks: pd.DataFrame, config: BuildConfig, show_progress: bool):
    """(track ids, unit audio vectors) of the catalogue's tracks with analysable audio, or None."""
    from gems.artifacts import InputHasher
    from gems.audio.stage import embed_audio_files, hash_audio_files

    with_audio = tracks[tracks["path"].notna()]
    if with_audio.empty:
        return None
    params = config.audio_params
    embedding = embed_audio_files(
        hash_audio_files(with_audio["path"].tolist(), InputHasher()),
        excerpt_s=params.excerpt_s,
        min_duration_s=params.min_duration_s,
        dims=params.dims,
        workers=params.workers,
        show_progress=show_progress,
    )
    if embedding.embedder is None:
        return None
    return with_audio["track_id"].to_numpy()[embedding.ok_positions], embedding.vectors


def run_experiment(
    config: BuildConfig,
    out: str | Path,
    *,
    protocol: str = "auto",
    seed: int = 0,
    ks=(10, 50),
    part: str = "test",
    show_progress: bool = False,
) -> tuple[EvaluationResult, dict[str, Path]]:
    """Evaluate every baseline and gems on the configured sources; returns the result and the files written."""
    from gems.audio.decode import AUDIO_EXTENSIONS
    from gems.ingest import ingest_sources

    if config.listens is None:
        raise ParameterError("evaluation needs listening data: give --listens PATH (or a pipeline with listens)")
    ingested = ingest_sources(
        catalog=config.catalog,
        audio=config.audio,
        listens=config.listens,
        listens_format=config.listens_format,
        listens_columns=config.listens_columns,
        audio_extensions=AUDIO_EXTENSIONS,
    )
    listens = ingested.listens
    if listens.empty:
        raise DataError(f"{config.listens} holds no usable listens to evaluate on")
    chosen = choose_protocol(listens, protocol)
    audio = _audio_vectors(ingested.tracks, config, show_progress)
    items = ingested.tracks[["track_id", "is_soundtrack", "artist", "soundtrack"]]
    split = make_split(listens, chosen, seed=seed, items=items, audio=audio)
    log.info("split: %s", split.describe())
    gems = gems_methods(config)
    if audio is None:  # without audio the audio ablation is the default itself
        gems.pop("gems − audio")
    methods = {
        **default_baselines(
            split.train,
            seed=seed,
            als={key: value for key, value in asdict(config.cf).items() if key != "random_state"},
            neighbours=config.neighbours.k,
        ),
        **gems,
    }
    result = evaluate(split, methods, ks=ks, part=part, show_progress=show_progress)
    title = f"gems offline evaluation: {Path(config.listens).name} ({chosen} protocol, {part} users, seed {seed})"
    extra = {
        "sources": {"listens": str(config.listens), "format": config.listens_format},
        "build_config": {"cf": asdict(config.cf), "neighbours": asdict(config.neighbours), "rank": config.rank.to_section()},
        "audio_tracks": 0 if audio is None else int(len(audio[0])),
        "soundtrack_tracks": int(np.asarray(items["is_soundtrack"], dtype=bool).sum()),
    }
    return result, write_report(result, out, title=title, extra=extra)
