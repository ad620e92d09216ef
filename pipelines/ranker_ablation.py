"""Which evidence pays in the learned stage: the ranker trained without each group of features, scored on the
validation users of ``gems evaluate``'s split (never the test users).

    python pipelines/ranker_ablation.py --listens ../shared/data/mpd-sample/slices --listens-format mpd \
        --seeds 0,1 --work /tmp/ablation

Per seed: the split ``gems evaluate`` makes, the gems model of its training part (built once into WORK, the
learned stage's hold-out never among the evaluated users), the learned stage's training rows (the product's
own code), then one LightGBM model per ablation — the same rows with a group's columns blanked (NaN: LightGBM
never splits on them) in training and in serving — ranked by ``gems export``'s function at the default
discount and at discount 0. Prints PSR@50, NDCG@50 and hits@10 per ablation and their mean over the seeds.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

GROUPS = {
    "all features": (),
    "− taste direction (cf_cosine)": ("cf_cosine",),
    "− co-listening breadth (near_count, near_per_listener)": ("near_count", "near_per_listener"),
    "− artist and album size and share": tuple(
        f"{group}_{what}" for group in ("artist", "album") for what in ("tracks", "listeners", "share")
    ),
    "− kin shares": ("kin_artist", "kin_album"),
    "− the query (size, long-tail share, popularity)": ("history_size", "history_tail_share", "history_popularity"),
}


class _Staged:
    """What the learned stage's training reads of a build in progress, from a finished model folder."""

    def __init__(self, folder):
        self.staged = folder


def blanked(matrix: np.ndarray, columns) -> np.ndarray:
    from gems.rank.features import NAMES

    out = matrix.copy()
    out[:, [NAMES.index(c) for c in columns]] = np.nan
    return out


def ranker_without(columns, matrix, labels, groups, params):
    """A LearnedRanker trained on the rows with ``columns`` blanked, blanking them again when it scores."""
    from gems.rank.features import NAMES
    from gems.rank.learned import LearnedRanker
    from gems.rank.training import fit_booster

    text, _ = fit_booster(blanked(matrix, columns), labels, groups, params)

    class Without(LearnedRanker):
        def relevance(self, features):
            return super().relevance(blanked(features, columns))

    return Without(text, {"features": list(NAMES)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listens", type=Path, required=True)
    parser.add_argument("--listens-format", default="auto")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    from gems.audio.decode import AUDIO_EXTENSIONS
    from gems.config import BuildConfig, ListensSource
    from gems.evaluate.experiment import choose_protocol, make_split
    from gems.evaluate.gems_method import GemsModel, GemsRanker
    from gems.evaluate.metrics import list_metrics
    from gems.ingest import ingest_sources
    from gems.rank.training import training_rows
    from gems.stages.fitting import held_out_inputs

    source = ListensSource(args.listens, args.listens_format)
    config = BuildConfig(model=args.work / "unused", listens=(source,))
    ingested = ingest_sources(catalog=None, audio=(), listens=(source,), audio_extensions=AUDIO_EXTENSIONS)
    items = ingested.tracks[["track_id", "is_soundtrack", "artist", "soundtrack"]]
    protocol = choose_protocol(ingested.listens, "auto")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        split = make_split(ingested.listens, protocol, seed=seed, items=items)
        model = GemsModel(config, split, ingested.tracks, args.work / f"seed{seed}")
        train = split.train
        held = np.concatenate([split.validation_users, split.test_users]).astype(np.int64)
        inputs, queries, holdout = held_out_inputs(
            _Staged(model.model.folder), config, set(train.user_ids[held].tolist()), False
        )
        matrix, labels, groups, _ = training_rows(inputs, queries, holdout, config.rank)
        users, truth = split.part("validation")
        for name, columns in GROUPS.items():
            ranker = ranker_without(columns, matrix, labels, groups, config.ranker)
            built = model.model  # export's ranking reads the model's batch inputs: these, with this ranker
            built.__dict__["batch_inputs"] = replace(built.batch_inputs, ranker=ranker)
            for discount in sorted({0.0, config.rank.discount}):
                options = replace(config.rank, discount=discount)
                recs, _ = GemsRanker(model, options).fit(train).recommend(users, 50)
                means = list_metrics(
                    recs,
                    truth,
                    listeners=train.listeners,
                    is_tail=train.is_tail,
                    n_train_users=train.n_users,
                    ks=(10, 50),
                ).means
                row = {"seed": seed, "ablation": name, "discount": discount}
                rows.append({**row, **{key: means[key] for key in ("psr@50", "ndcg@50", "hits@10")}})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows).groupby(["ablation", "discount"], sort=False)[["psr@50", "ndcg@50", "hits@10"]]
    print(table.mean().to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
