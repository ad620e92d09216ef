"""``gems evaluate``: one reproducible offline experiment from sources to report.

Reads the sources of a pipeline (listens, and a catalogue or audio when given) through the same ingest as
``gems build``, splits them by a protocol, fits every baseline, the anchors (each tuned on the validation users
for NDCG and for PSR) and gems' own ranking at several operating points on the training part, scores the
held-out part, and writes ``metrics.json``, ``report.md`` and plots. With several seeds each seed is its own
split, tuning and model, and the report gives means and 95% intervals (:mod:`gems.evaluate.seeds`).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from gems.artifacts import layout
from gems.config import BuildConfig
from gems.errors import DataError, ParameterError
from gems.evaluate.anchors import EASE, EASE_GRID, POP_BETA_GRID, RP3BETA_GRID, PopularityReranked, RP3beta, tuned
from gems.evaluate.baselines import default_baselines
from gems.evaluate.gems_method import GemsModel, GemsRanker
from gems.evaluate.report import write_report
from gems.evaluate.run import EvaluationResult, evaluate
from gems.evaluate.seeds import combine
from gems.evaluate.splits import Split, playlist_continuation, random_holdout, temporal_holdout
from gems.rank import KINDS, RankOptions

log = logging.getLogger(__name__)

PROTOCOLS = ("auto", "random", "temporal", "playlist")
FRONTIER = ((0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (1.5, 0.0), (0.5, 0.3))  # (discount, tail share) beside the default


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


def make_split(listens: pd.DataFrame, protocol: str, *, seed: int, items=None) -> Split:
    kwargs = {"seed": seed, "items": items}
    if protocol == "playlist":
        return playlist_continuation(listens, **kwargs)
    if protocol == "temporal":
        return temporal_holdout(listens, **kwargs)
    return random_holdout(listens, **kwargs)


def gems_methods(model: GemsModel, config: BuildConfig, frontier=FRONTIER) -> dict[str, GemsRanker]:
    """gems with the pipeline's rank defaults (what ``gems export`` runs on the model); the hand-set blend
    instead of the learned stage, and the blend with each kind of evidence switched off in turn (the ablation);
    and the default at each (discount, tail share) point of ``frontier`` (the accuracy / lesser-known frontier).
    One model for all of them."""
    default = config.rank
    blend = replace(default, learned=False)

    def without(kind: str) -> RankOptions:
        """The blend with one kind of evidence switched off everywhere."""
        off = KINDS.index(kind)
        drop = lambda weights: None if weights is None else tuple(0.0 if i == off else w for i, w in enumerate(weights))  # noqa: E731
        return replace(blend, weights=drop(blend.weights), tail_weights=drop(blend.tail_weights))

    variants = {
        "gems": default,
        "gems (hand-set blend)": blend,
        "blend − taste (ALS)": without("cf"),
        "blend − co-listening": without("near"),
        "blend − audio": without("audio"),
        "blend − kin": without("kin"),
    }
    variants.update(
        {f"gems (discount {d:g}, tail share {t:g})": replace(default, discount=d, tail_share=t) for d, t in frontier}
    )
    return {name: GemsRanker(model, options, name=name) for name, options in variants.items()}


def run_experiment(
    config: BuildConfig,
    out: str | Path,
    *,
    protocol: str = "auto",
    seeds=(0,),
    ks=(10, 50),
    part: str = "test",
    show_progress: bool = False,
) -> tuple[EvaluationResult, dict[str, Path]]:
    """Evaluate every baseline, anchor and gems on the configured sources, once per seed (each its own split,
    tuning and model); returns the (combined) result and the files written."""
    from gems.audio.decode import AUDIO_EXTENSIONS
    from gems.ingest import ingest_sources

    if not config.listens:
        raise ParameterError("evaluation needs listening data: give --listens PATH (or a pipeline with listens)")
    seeds = tuple(dict.fromkeys(int(seed) for seed in seeds))
    if not seeds:
        raise ParameterError("give at least one seed")
    ingested = ingest_sources(
        catalog=config.catalog, audio=config.audio, listens=config.listens, audio_extensions=AUDIO_EXTENSIONS
    )
    listens = ingested.listens
    named = ", ".join(str(source.path) for source in config.listens)
    if listens.empty:
        raise DataError(f"{named} holds no usable listens to evaluate on")
    chosen = choose_protocol(listens, protocol)
    items = ingested.tracks[["track_id", "is_soundtrack", "artist", "soundtrack"]]
    results, tuning, rankers, audio_tracks = [], {}, {}, 0
    for seed in seeds:
        split = make_split(listens, chosen, seed=seed, items=items)
        log.info("split: %s", split.describe())
        with tempfile.TemporaryDirectory(prefix="gems-evaluate-") as folder:
            model = GemsModel(config, split, ingested.tracks, folder, show_progress=show_progress)
            split.train.audio = audio = model.audio(split.train)
            gems = gems_methods(model, config)
            if audio is None:  # without audio the audio ablation is the blend itself
                gems.pop("blend − audio")
            if not model.model.folder.has(layout.RANKER_MODEL):  # no learned stage: the blend is the default itself
                gems.pop("gems (hand-set blend)")
            result, tuning[seed] = _evaluate(split, config, gems, seed, ks, part, show_progress)
            folder_of = model.model.folder
            rankers[seed] = folder_of.json(layout.RANKER_INFO) if folder_of.has(layout.RANKER_INFO) else None
        results.append(result)
        audio_tracks = 0 if audio is None else int(len(audio[0]))
    result = combine(results)
    names = " + ".join(source.path.name for source in config.listens)
    which = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
    title = f"gems offline evaluation: {names} ({chosen} protocol, {part} users, {which})"
    one = len(seeds) == 1
    extra = {
        "sources": {"listens": [{"path": str(s.path), "format": s.format} for s in config.listens]},
        "build_config": {
            "cf": asdict(config.cf),
            "neighbours": asdict(config.neighbours),
            "ranker": asdict(config.ranker),
            "rank": config.rank.to_section(),
        },
        "learned_stage": rankers[seeds[0]] if one else rankers,
        "anchor_tuning": {
            "part": "validation",
            "metrics": [f"ndcg@{max(ks)}", f"psr@{max(ks)}"],
            "scores": tuning[seeds[0]] if one else tuning,
        },
        "audio_tracks": audio_tracks,
        "soundtrack_tracks": int(np.asarray(items["is_soundtrack"], dtype=bool).sum()),
    }
    return result, write_report(result, out, title=title, extra=extra)


def _evaluate(split: Split, config: BuildConfig, gems: dict, seed: int, ks, part: str, show_progress: bool):
    """Every baseline, the anchors tuned on the validation users (for NDCG under their own name, for PSR as
    "<name> (PSR-tuned)"), and every gems variant on the split; returns (the result, each anchor's validation
    scores by parameters)."""
    baselines = default_baselines(
        split.train,
        seed=seed,
        als={key: value for key, value in asdict(config.cf).items() if key != "random_state"},
        neighbours=config.neighbours.k,
    )
    als = baselines["ALS"]
    makers = (
        ("RP3beta", RP3beta, RP3BETA_GRID),
        ("EASE^R", EASE, EASE_GRID),
        ("ALS / pop^β", lambda beta, name: PopularityReranked(als, beta=beta, name=name), POP_BETA_GRID),
    )
    anchors, tuning = {}, {}
    for name, make, grid in makers:
        best, tuning[name] = tuned(make, grid, split, ks=ks, name=name)
        anchors[name] = best["ndcg"]
        anchors[f"{name} (PSR-tuned)"] = best["psr"]
    methods = {**baselines, **anchors, **gems}
    return evaluate(split, methods, ks=ks, part=part, show_progress=show_progress), tuning
