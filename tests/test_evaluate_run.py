"""The runner end to end, scoring exported recommendations, the report files, and the paired tests."""

import json

import numpy as np
import pandas as pd
import pytest

from gems.errors import DataError, ModelError
from gems.evaluate import (
    default_baselines,
    evaluate,
    holm,
    paired_test,
    playlist_continuation,
    random_holdout,
    score_recommendations,
    write_report,
    write_scored,
)
from gems.evaluate.baselines import MostPopular
from gems.evaluate.data import best_columns


def group_playlists(n=120, seed=0):
    """Playlists of three taste groups: each group has 3 hits and 20 deep cuts (chosen ∝ 1/rank)."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n):
        g = p % 3
        weights = 1 / np.arange(1, 24)
        tracks = rng.choice(23, size=14, replace=False, p=weights / weights.sum())
        rows += [(f"p{p:03d}", f"g{g}-t{t:02d}", pos) for pos, t in enumerate(tracks)]
    frame = pd.DataFrame(rows, columns=["user_id", "track_id", "position"])
    items = pd.DataFrame({"track_id": frame["track_id"].unique()})
    items["is_soundtrack"] = items["track_id"].str.startswith("g0")
    return frame, items


def small_methods(train, seed=0):
    return default_baselines(
        train, seed=seed, als={"factors": 8, "iterations": 8}, neighbours=20, xquad_lambdas=(0.3, 0.8), n_candidates=30
    )


def run_once(tmp_path, name):
    listens, items = group_playlists()
    split = playlist_continuation(listens, n_seeds=5, n_validation=20, n_test=20, seed=1, items=items)
    result = evaluate(split, small_methods(split.train), ks=(5, 10), part="test", n_resamples=500)
    return result, write_report(result, tmp_path / name, title="toy", extra={"note": "test"})


def test_end_to_end_writes_every_file_and_is_reproducible(tmp_path):
    result, paths = run_once(tmp_path, "a")
    for key in ("metrics", "report", "popularity", "frontier@5", "frontier@10"):
        assert paths[key].exists() and paths[key].stat().st_size > 0
    doc = json.loads(paths["metrics"].read_text())
    assert set(doc["methods"]) == {"Random", "MostPopular", "ItemKNN", "ALS", "ALS+xQuAD (λ 0.3)", "ALS+xQuAD (λ 0.8)"}
    als = doc["methods"]["ALS"]
    for key in (
        "ndcg@10",
        "recall@5",
        "tail_recall@10",
        "aplt@10",
        "arp@10",
        "coverage@10",
        "novelty@5",
        "gini@10",
        "hit_rate@5",
        "r_precision",
        "soundtrack_ndcg@10",
        "psr@10",
        "psr_half@5",
        "hits@10",
    ):
        assert key in als["metrics"], key
    assert als["by_k"]["10"]["ndcg"] == als["metrics"]["ndcg@10"]
    assert doc["split"]["counts"]["test_users"] == 20 and doc["seed"] == 1
    assert {r["method"] for r in doc["significance"]} == set(doc["methods"]) - {"ALS"}
    assert all(0 <= r["p_holm"] <= 1 for r in doc["significance"] if r["p_holm"] is not None)
    timing = doc["timings"]["ALS"]
    assert timing["users"] == 20 and timing["fit_seconds"] == result.methods["ALS"].fit_seconds
    assert timing["users_per_second"] == pytest.approx(20 / result.methods["ALS"].recommend_seconds)
    # accuracy sanity on a structured toy: everything beats random
    m = doc["methods"]
    assert m["ItemKNN"]["metrics"]["ndcg@10"] > m["Random"]["metrics"]["ndcg@10"]
    assert m["ALS"]["metrics"]["ndcg@10"] > m["Random"]["metrics"]["ndcg@10"]
    report = paths["report"].read_text()
    for heading in (
        "## Accuracy",
        "## Beyond accuracy",
        "## Soundtrack breakdown",
        "## Significance against ALS",
        "higher is better",
        "lower means fairer exposure",
    ):
        assert heading in report

    _, again = run_once(tmp_path, "b")
    first = json.loads(paths["metrics"].read_text())
    second = json.loads(again["metrics"].read_text())
    first.pop("timings"), second.pop("timings")  # wall-clock times are the only thing allowed to differ
    assert first == second


class LeakyRecommender:
    name = "leaky"

    def fit(self, train):
        self.train_ = train
        return self

    def recommend(self, users, k):
        scores = np.asarray(self.train_.user_items[users].todense(), dtype=np.float32)
        return best_columns(scores + 1.0, k)  # training items score highest and are not excluded


def test_runner_rejects_a_method_that_returns_training_items():
    listens, _ = group_playlists(n=30)
    split = random_holdout(listens, seed=0)
    with pytest.raises(ModelError, match="leaky.*training item"):
        evaluate(split, {"leaky": LeakyRecommender()}, ks=(5,))


def test_paired_test_and_holm():
    b = np.linspace(0, 1, 50)
    same = paired_test(b, b, n_resamples=200)
    assert same["p_wilcoxon"] == 1.0 and same["mean_diff"] == 0.0
    shifted = paired_test(b + 0.1, b, n_resamples=200, seed=3)
    assert shifted["mean_diff"] == pytest.approx(0.1)
    assert shifted["ci_low"] == pytest.approx(0.1) and shifted["ci_high"] == pytest.approx(0.1)
    assert shifted["p_wilcoxon"] < 1e-6
    noisy = np.random.default_rng(0).normal(size=200)
    x = paired_test(noisy + 0.5, noisy * 0, n_resamples=500, seed=1)
    assert x["ci_low"] < x["mean_diff"] < x["ci_high"]
    assert paired_test(noisy + 0.5, noisy * 0, n_resamples=500, seed=1) == x  # seeded
    with_nan = paired_test(np.array([1.0, np.nan, 2.0]), np.array([0.0, 5.0, 0.0]), n_resamples=50)
    assert with_nan["n_users"] == 2
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert np.isnan(holm([np.nan, 0.2])[0]) and holm([np.nan, 0.2])[1] == pytest.approx(0.2)


def toy_train_listens():
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u3", "u4"],
            "track_id": ["a", "b", "a", "c", "a", "b", "x", "y"],
        }
    )


def test_score_recommendations_by_hand(tmp_path):
    train = toy_train_listens()  # listeners: a 3, b 2, c 1, x 1, y 1
    truth = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u5", "u6"], "track_id": ["c", "x", "b", "a", "new"]})
    recs = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u9"],
            "rank": [1, 2, 3, 2, 1, 1],
            "track_id": ["c", "zzz", "x", "b", "y", "a"],
        }
    )
    m = score_recommendations(recs, truth, train, ks=(1, 3))
    # u1: [c, zzz(unknown), x] vs {c, x}; u2: [y, b] vs {b}; u5: no recs vs {a}; u6's only item is not in TRAIN
    assert m["n_users"] == 3
    assert m["n_truth_items_absent_from_train"] == 1
    assert m["n_users_without_recommendations"] == 1
    assert m["n_recommendation_users_not_in_truth"] == 1
    assert m["recall@1"] == pytest.approx((1 + 0 + 0) / 3)
    assert m["recall@3"] == pytest.approx((1 + 1 + 0) / 3)
    ndcg_u1 = (1 + 1 / 2) / (1 + 1 / np.log2(3))
    ndcg_u2 = (1 / np.log2(3)) / 1
    assert m["ndcg@3"] == pytest.approx((ndcg_u1 + ndcg_u2 + 0) / 3)
    assert m["unknown_share@3"] == pytest.approx(1 / 5)
    assert m["coverage@3"] == pytest.approx(4 / 5)  # c, x, y, b of the 5 training items; zzz is not one
    path = write_scored(m, tmp_path / "scored")
    doc = json.loads(path.read_text())
    assert list(doc)[:6] == ["ndcg@1", "recall@1", "tail_recall@1", "aplt@1", "arp@1", "coverage@1"]
    for key in ("ndcg@3", "recall@3", "tail_recall@3", "aplt@3", "arp@3", "coverage@3"):
        assert key in doc


def test_score_recommendations_reports_bad_input(tmp_path):
    train = toy_train_listens()
    truth = pd.DataFrame({"user_id": ["u1"], "track_id": ["c"]})
    with pytest.raises(DataError, match="rank"):
        score_recommendations(pd.DataFrame({"user_id": ["u1"], "track_id": ["c"]}), truth, train)
    bad = tmp_path / "recs.xlsx"
    bad.write_text("nothing")
    with pytest.raises(DataError, match="recs.xlsx"):
        score_recommendations(bad, truth, train)
    csv = tmp_path / "recs.csv"
    csv.write_text("user,item\nu1,c\n")
    with pytest.raises(DataError, match=r"recs\.csv.*user_id"):
        score_recommendations(csv, truth, train)
    good = tmp_path / "good.csv"
    good.write_text("user_id,rank,track_id\nu1,1,c\n")
    assert score_recommendations(good, truth, train, ks=(1,))["recall@1"] == 1.0


def test_validation_part_and_an_empty_part():
    listens, _ = group_playlists(n=60)
    split = random_holdout(listens, seed=0, max_users=10)
    result = evaluate(split, {"pop": MostPopular()}, ks=(5,), part="validation")
    assert result.part == "validation" and len(result.methods["pop"].recs) == len(split.validation_users)
    assert result.reference is None and result.significance == []
    tiny = random_holdout(listens, seed=0, min_items=100)  # nobody has 100 items: nothing to evaluate
    with pytest.raises(DataError, match="no user to evaluate"):
        evaluate(tiny, {"pop": MostPopular()}, ks=(5,))


def test_several_seeds_give_means_and_t_intervals(tmp_path):
    from scipy.stats import t

    from gems.evaluate.seeds import combine

    listens, items = group_playlists()
    results = []
    for seed in (1, 2, 3):
        split = playlist_continuation(listens, n_seeds=5, n_validation=20, n_test=20, seed=seed, items=items)
        results.append(evaluate(split, small_methods(split.train, seed), ks=(5, 10), n_resamples=200))
    combined = combine(results, n_resamples=200)
    per_seed = np.array([r.methods["ALS"].metrics["psr@10"] for r in results])
    als = combined.methods["ALS"]
    assert als.metrics["psr@10"] == pytest.approx(per_seed.mean())
    half = t.ppf(0.975, 2) * per_seed.std(ddof=1) / np.sqrt(3)
    assert als.interval["psr@10"] == pytest.approx((per_seed.mean() - half, per_seed.mean() + half))
    assert len(als.per_user["ndcg@10"]) == 60 and combined.seeds == (1, 2, 3)
    first, second = results[0].methods["ALS"].recs, results[1].methods["ALS"].recs
    shift = len(results[0].listeners)
    np.testing.assert_array_equal(als.recs[20:40], np.where(second >= 0, second + shift, -1))
    picked = first[first >= 0]
    np.testing.assert_array_equal(combined.listeners[als.recs[:20][first >= 0]], results[0].listeners[picked])
    paths = write_report(combined, tmp_path / "seeds", title="toy")
    doc = json.loads(paths["metrics"].read_text())
    assert doc["seeds"] == [1, 2, 3]
    assert doc["methods"]["ALS"]["metrics"]["psr@10"] == pytest.approx(per_seed.mean())
    assert doc["methods"]["ALS"]["interval"]["psr@10"] == pytest.approx(list(als.interval["psr@10"]))
    assert doc["methods"]["ALS"]["per_seed"]["2"]["psr@10"] == pytest.approx(per_seed[1])
    assert f"{als.metrics['psr@10']:.4f} ± {half:.4f}" in paths["report"].read_text()
