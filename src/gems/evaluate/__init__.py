"""Offline evaluation: splits, metrics (accuracy and popularity bias), baselines, significance, report.

Typical use::

    from gems.evaluate import playlist_continuation, default_baselines, evaluate, write_report

    split = playlist_continuation(listens, n_seeds=10, seed=0)
    methods = default_baselines(split.train, seed=0)
    methods["gems (discount 0.5)"] = my_recommender          # anything with name / fit / recommend
    result = evaluate(split, methods, ks=(10, 50), part="validation")  # tune here, report part="test"
    write_report(result, "reports/mpd", title="MPD playlist continuation")

Heavy libraries (implicit, scipy.stats, matplotlib) are imported inside the functions that need them.
"""

from gems.evaluate.anchors import EASE, RP3beta, tuned
from gems.evaluate.baselines import ALS, AudioOnly, ItemKNN, MostPopular, Random, XQuAD, default_baselines
from gems.evaluate.data import Recommender, TrainData, best_columns, train_data
from gems.evaluate.metrics import DEFAULT_KS, ListMetrics, list_metrics
from gems.evaluate.report import write_report, write_scored
from gems.evaluate.run import EvaluationResult, MethodResult, evaluate, score_recommendations
from gems.evaluate.significance import compare_to_reference, holm, paired_test
from gems.evaluate.splits import Split, playlist_continuation, random_holdout, temporal_holdout

__all__ = [
    "ALS",
    "AudioOnly",
    "DEFAULT_KS",
    "EASE",
    "EvaluationResult",
    "ItemKNN",
    "ListMetrics",
    "MethodResult",
    "MostPopular",
    "RP3beta",
    "Random",
    "Recommender",
    "Split",
    "TrainData",
    "XQuAD",
    "compare_to_reference",
    "default_baselines",
    "evaluate",
    "holm",
    "list_metrics",
    "paired_test",
    "playlist_continuation",
    "random_holdout",
    "score_recommendations",
    "temporal_holdout",
    "best_columns",
    "train_data",
    "tuned",
    "write_report",
    "write_scored",
]
