"""Soundtrack detection measured on the hand-labelled MPD sample (pipelines/soundtrack_labels.py says how it was
drawn and labelled): the weighted estimator on known answers, the committed labels' shape, and precision and
recall of today's rules on the development and held-out parts."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _labels_module():
    """pipelines/soundtrack_labels.py, imported by path (pipelines/ is not a package)."""
    spec = importlib.util.spec_from_file_location("soundtrack_labels", ROOT / "pipelines" / "soundtrack_labels.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


SL = _labels_module()


def test_weighted_scores_count_each_track_by_its_weight():
    truth = [1, 1, 0, 0, 1]
    flag = [1, 0, 1, 0, 1]
    precision, recall = SL.weighted_scores(truth, flag, [1, 1, 1, 1, 1])
    assert (precision, recall) == (2 / 3, 2 / 3)
    # the missed soundtrack stands for 10 tracks: recall 2 / 12, precision unchanged
    precision, recall = SL.weighted_scores(truth, flag, [1, 10, 1, 1, 1])
    assert precision == pytest.approx(2 / 3) and recall == pytest.approx(2 / 12)
    assert np.isnan(SL.weighted_scores([0, 0], [0, 0], [1, 1])[0])


def test_the_estimate_weights_a_stratum_by_its_population_over_its_sample():
    # stratum A: 100 tracks, 2 sampled (weight 50); B: 1,000 tracks, 4 sampled (weight 250)
    labels = pd.DataFrame(
        {
            "stratum": ["A", "A", "B", "B", "B", "B"],
            "is_soundtrack": [True, True, True, False, False, False],
            "flagged": [True, False, False, False, False, True],
        }
    )
    sizes = pd.DataFrame({"part": "dev", "stratum": ["A", "B"], "population": [100, 1000], "sampled": [2, 4]})
    estimate = SL.estimate(labels, sizes)
    assert estimate.precision == pytest.approx(50 / (50 + 250))
    assert estimate.recall == pytest.approx(50 / (50 + 50 + 250))
    assert estimate.labelled == 6 and estimate.soundtracks == 3 and estimate.flagged == 2
    low, high = estimate.recall_ci
    assert 0 <= low <= estimate.recall <= high <= 1


def test_pooled_parts_weigh_each_track_by_the_stratum_over_all_its_labelled_tracks():
    # stratum A (100 tracks) labelled 1 + 1 times across two parts, B (1,000 tracks) 2 + 0 times: weights 50, 500
    labels = pd.DataFrame(
        {
            "part": ["dev", "dev", "dev", "dev2", "heldout"],
            "stratum": ["A", "B", "B", "A", "B"],
            "is_soundtrack": [True, True, False, True, True],
            "flagged": [True, False, True, False, True],
        }
    )
    sizes = pd.DataFrame(
        {
            "part": ["dev", "dev", "dev2", "dev2", "heldout"],
            "stratum": ["A", "B", "A", "B", "B"],
            "population": [100, 1000, 99, 998, 997],
            "sampled": [1, 2, 1, 0, 1],
        }
    )
    estimate = SL.pooled(labels, sizes, parts=("dev", "dev2"))  # the held-out row is left out
    assert estimate.labelled == 4 and estimate.soundtracks == 3 and estimate.flagged == 2
    assert estimate.precision == pytest.approx(50 / (50 + 500))
    assert estimate.recall == pytest.approx(50 / (50 + 50 + 500))


def test_the_committed_labels_are_complete_and_hold_no_licensed_text():
    labels = SL.read_labels()
    sizes = pd.read_csv(SL.STRATA)
    assert set(labels["part"]) == {"dev", "dev2", "dev3", "heldout"}
    assert labels["track_id"].is_unique
    assert labels["track_id"].map(lambda uri: re.fullmatch(r"spotify:track:[0-9A-Za-z]{22}", uri) is not None).all()
    assert labels["reason"].str.len().between(3, 120).all()
    counts = labels.groupby(["part", "stratum"]).size()
    assert counts.to_dict() == sizes.set_index(["part", "stratum"])["sampled"].to_dict()
    assert (sizes["sampled"] <= sizes["population"]).all()
    first = sizes[sizes["part"] == "dev"].set_index("stratum")["population"]
    assert first.sum() == 146_459  # every track of the MPD sample, in exactly one stratum
    # each later draw comes from the tracks the draws before it left: dev3 from dev + dev2, heldout from all three
    for part, before in (("dev3", ["dev", "dev2"]), ("heldout", ["dev", "dev2", "dev3"])):
        left = first - labels[labels["part"].isin(before)].groupby("stratum").size()
        assert sizes[sizes["part"] == part].set_index("stratum")["population"].to_dict() == left.to_dict()


# precision and recall as measured with the rules frozen at 9373256 (commit messages and README), rounded down: a
# change of the rules that loses ground on any part fails here and must be measured again. The held-out part
# (labelled after the rules were frozen, looked at once) is below the recall aim of 0.8: a floor, not a target.
FLOORS = {"dev": (0.93, 0.93), "dev2": (0.95, 0.93), "dev3": (0.93, 0.87), "heldout": (0.91, 0.75)}


@pytest.mark.slow
def test_detection_holds_its_measured_precision_and_recall(mpd_sample, capsys):
    data = SL.joined(SL.read_tracks(mpd_sample), SL.read_labels())
    sizes = pd.read_csv(SL.STRATA)
    for part, (precision, recall) in FLOORS.items():
        estimate = SL.estimate(data[data["part"] == part], sizes[sizes["part"] == part])
        with capsys.disabled():
            print(f"\n{part}: precision {estimate.precision:.3f}, recall {estimate.recall:.3f}")
        assert estimate.precision >= precision, (part, estimate)
        assert estimate.recall >= recall, (part, estimate)
