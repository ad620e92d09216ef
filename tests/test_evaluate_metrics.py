"""Metrics on hand-computed examples (right answers known by construction)."""

import math
import time

import numpy as np
import pytest

from gems.evaluate.metrics import (
    aplt_at_k,
    arp_at_k,
    coverage_at_k,
    gini,
    gini_at_k,
    hit_matrix,
    hits_at_k,
    list_metrics,
    ndcg_at_k,
    novelty_at_k,
    psr_at_k,
    r_precision,
    recall_at_k,
    relevant_counts,
    tail_recall_at_k,
)
from gems.popularity import hit_mask, popularity_percentile

A, B, X, Y, C, D, E = range(7)
LOG3 = math.log2(3)


def scores(recs, truth, n_items=7):
    recs = np.asarray(recs)
    hits = hit_matrix(recs, truth, n_items)
    return hits, relevant_counts(truth)


def test_ndcg_and_recall_of_a_hand_computed_list():
    # relevant {a, b}; recommended [a, x, b]
    hits, n_rel = scores([[A, X, B]], [np.array([A, B])])
    ideal = 1 + 1 / LOG3  # two relevant items: IDCG over min(2, K) = 2 slots
    assert ndcg_at_k(hits, n_rel, 2)[0] == pytest.approx(1 / ideal)  # 0.61315
    assert ndcg_at_k(hits, n_rel, 3)[0] == pytest.approx((1 + 1 / 2) / ideal)  # 0.91972
    assert ndcg_at_k(hits, n_rel, 2)[0] == pytest.approx(0.613147, abs=1e-6)
    assert ndcg_at_k(hits, n_rel, 3)[0] == pytest.approx(0.919721, abs=1e-6)
    assert recall_at_k(hits, n_rel, 2)[0] == pytest.approx(0.5)
    assert recall_at_k(hits, n_rel, 3)[0] == pytest.approx(1.0)
    assert r_precision(hits, n_rel)[0] == pytest.approx(0.5)  # top |R| = 2 holds one hit


def test_recall_divides_by_min_of_relevant_and_k():
    hits, n_rel = scores([[A, B, X]], [np.array([A, B, C, D, E])])
    assert recall_at_k(hits, n_rel, 2)[0] == 1.0  # 2 hits / min(5, 2)
    assert recall_at_k(hits, n_rel, 3)[0] == pytest.approx(2 / 3)
    assert ndcg_at_k(hits, n_rel, 2)[0] == pytest.approx(1.0)


def test_users_with_empty_truth_are_left_out_of_the_means():
    recs = np.array([[A, X, B], [A, B, C]])
    truth = [np.array([A, B]), np.array([], dtype=np.int64)]
    listeners = np.array([5, 4, 3, 2, 1, 1, 1])
    m = list_metrics(recs, truth, listeners=listeners, is_tail=listeners < 3, n_train_users=10, ks=[2, 3])
    assert np.isnan(m.per_user["ndcg@2"][1]) and np.isnan(m.per_user["recall@3"][1])
    assert m.means["recall@2"] == pytest.approx(0.5)
    assert m.means["ndcg@3"] == pytest.approx(0.919721, abs=1e-6)
    assert m.n_users["ndcg@3"] == 1
    assert np.isnan(m.per_user["arp@3"][1])  # list metrics too
    assert m.means["arp@3"] == pytest.approx((5 + 3 + 4) / 3)  # a, x, b


def test_padding_never_hits_and_short_lists():
    hits, n_rel = scores([[A, -1, -1]], [np.array([A, X])])
    assert hits.tolist() == [[True, False, False]]
    assert recall_at_k(hits, n_rel, 3)[0] == 0.5
    # −1 of the second user must not match the first user's last item
    hits = hit_matrix(np.array([[0, 6], [-1, -1]]), [np.array([6]), np.array([6])], 7)
    assert hits.tolist() == [[False, True], [False, False]]


def test_tail_recall_counts_only_tail_items():
    is_tail = np.zeros(7, dtype=bool)
    is_tail[[B, D, E]] = True  # a, x, y, c are head
    recs = np.array([[A, B, X], [A, X, Y], [B, C, D]])
    truth = [np.array([A, B]), np.array([A]), np.array([B, E, C])]
    hits, n_rel = scores(recs, truth)
    n_tail = relevant_counts(truth, is_tail)
    assert n_tail.tolist() == [1, 0, 2]
    tr = tail_recall_at_k(hits, recs, is_tail, n_tail, 3)
    assert tr[0] == 1.0  # the tail item b is found; the head hit a does not count
    assert np.isnan(tr[1])  # no tail relevant item: undefined, left out
    assert tr[2] == pytest.approx(1 / 2)  # b found, e not; C is a head hit
    assert tail_recall_at_k(hits, recs, is_tail, n_tail, 1)[2] == 1.0  # 1 / min(2, 1)


def test_popularity_metrics():
    listeners = np.array([8, 4, 2, 1])
    is_tail = np.array([False, False, True, True])
    recs = np.array([[0, 2, -1], [3, 2, 1]])
    assert arp_at_k(recs, listeners, 3).tolist() == [5.0, 7 / 3]
    assert aplt_at_k(recs, is_tail, 3).tolist() == [0.5, 2 / 3]
    assert aplt_at_k(recs, is_tail, 1).tolist() == [0.0, 1.0]
    nov = novelty_at_k(recs, listeners, 8, 2)
    assert nov[0] == pytest.approx((0 + 2) / 2)  # −log2(8/8), −log2(2/8)
    assert nov[1] == pytest.approx((3 + 2) / 2)
    assert np.isnan(arp_at_k(np.array([[-1, -1]]), listeners, 2)[0])


def test_psr_weighs_each_find_by_one_over_its_listeners():
    listeners = np.array([10, 4, 1, 1, 2, 0, 5])  # A, B, X, Y, C, D, E; D has no training listener: weighs one
    recs = np.array([[A, X, B], [Y, A, -1], [C, C + 1, E]])
    truth = [np.array([A, B, Y]), np.array([A, B]), np.array([D, C])]
    hits, _ = scores(recs, truth)
    psr = psr_at_k(hits, recs, truth, listeners, 2, 1.0)
    # user 0: found A (1/10) in the top 2; best 2 of {A 1/10, B 1/4, Y 1/1} = 1.25
    assert psr[0] == pytest.approx(0.1 / 1.25)
    assert psr_at_k(hits, recs, truth, listeners, 3, 1.0)[0] == pytest.approx(0.35 / 1.35)  # A and B of all three
    # user 1: found A (1/10); best 2 of {A 1/10, B 1/4} = 0.35
    assert psr[1] == pytest.approx(0.1 / 0.35)
    # user 2: found C (1/2) at rank 1 and D (weighs 1) at rank 2: all there was to find
    assert psr[2] == pytest.approx(1.0)
    half = psr_at_k(hits, recs, truth, listeners, 2, 0.5)
    assert half[1] == pytest.approx((1 / np.sqrt(10)) / (1 / np.sqrt(10) + 1 / 2))
    recall = recall_at_k(hits, relevant_counts(truth), 2)
    np.testing.assert_allclose(psr_at_k(hits, recs, truth, listeners, 2, 0.0), recall)  # γ = 0 is recall
    assert np.isnan(psr_at_k(hits[:1], recs[:1], [np.array([], dtype=np.int64)], listeners, 2, 1.0)[0])


def test_psr_rewards_the_rare_find_that_recall_scores_the_same():
    listeners = np.array([100, 1, 50, 50])
    truth = [np.array([0, 1])]
    popular, rare = np.array([[0, 2]]), np.array([[1, 3]])
    for recs in (popular, rare):
        hits, n_rel = scores(recs, truth, 4)
        assert recall_at_k(hits, n_rel, 2)[0] == 0.5
    assert psr_at_k(scores(rare, truth, 4)[0], rare, truth, listeners, 2, 1.0)[0] == pytest.approx(1 / 1.01)
    assert psr_at_k(scores(popular, truth, 4)[0], popular, truth, listeners, 2, 1.0)[0] == pytest.approx(0.01 / 1.01)


def test_hits_are_the_tracks_at_percentile_99_or_more_ties_included():
    listeners = np.r_[np.arange(1, 299), 500, 500]  # 300 items; the two most played tie at the top
    is_hit = hit_mask(listeners)
    # percentile ≥ 99 ⟺ at least 297 of the 300 items are played as much or less: 297, 298, 500, 500
    assert is_hit.sum() == 4 and is_hit[-4:].all()
    tied = np.r_[np.ones(294), np.full(6, 7)]  # six items tie across the cut (the 297th): all six are hits
    assert hit_mask(tied).sum() == 6
    recs = np.array([[298, 0, 1, 299], [2, 3, -1, -1]])
    assert hits_at_k(recs, is_hit, 4).tolist() == [0.5, 0.0]
    assert hits_at_k(recs, is_hit, 1).tolist() == [1.0, 0.0]
    rng = np.random.default_rng(0)
    for n in (1, 7, 99, 100, 101, 1234):  # the partial sort's cut equals the percentile's definition
        counts = rng.integers(0, 30, n) ** 2
        np.testing.assert_array_equal(hit_mask(counts), popularity_percentile(counts) >= 99)
    m = list_metrics(
        recs, [np.array([5]), np.array([6])], listeners=listeners, is_tail=listeners < 50, n_train_users=600, ks=[4]
    )
    assert m.means["hits@4"] == pytest.approx(0.25) and m.means["hits@10"] == pytest.approx(0.25)
    assert {"psr@4", "psr_half@4"} <= set(m.means)


def test_coverage_and_gini():
    recs = np.array([[0, 1], [2, 3]])
    assert coverage_at_k(recs, 8, 2) == 0.5
    assert coverage_at_k(recs, 8, 1) == 2 / 8
    assert gini(np.ones(10)) == pytest.approx(0.0)
    assert gini_at_k(np.array([[0, 1], [2, 3]]), 4, 2) == pytest.approx(0.0)  # equal exposure
    single = gini(np.r_[np.zeros(999), 5.0])
    assert single == pytest.approx(0.999)  # (n − 1) / n ≈ 1
    assert gini_at_k(np.array([[0], [0], [0]]), 1000, 1) == pytest.approx(0.999)
    assert gini(np.array([0.0, 1.0])) == pytest.approx(0.5)


def test_soundtrack_breakdown_restricts_truth():
    listeners = np.array([5, 4, 3, 2, 1, 1, 1])
    is_st = np.array([False, True, False, False, False, False, False])
    recs = np.array([[A, X, B], [C, D, E]])
    truth = [np.array([A, B]), np.array([C])]
    m = list_metrics(
        recs, truth, listeners=listeners, is_tail=listeners < 2, n_train_users=10, ks=[3], is_soundtrack=is_st
    )
    # only user 0 has a soundtrack relevant item (b, found at rank 3)
    assert m.n_users["soundtrack_recall@3"] == 1
    assert m.means["soundtrack_recall@3"] == 1.0
    assert m.means["soundtrack_ndcg@3"] == pytest.approx(0.5)  # (1/log2 4) / 1


def test_vectorised_metrics_are_fast():
    rng = np.random.default_rng(0)
    n, k, n_items = 10_000, 50, 50_000
    recs = rng.integers(0, n_items, size=(n, k))
    truth = [rng.choice(n_items, size=20, replace=False) for _ in range(n)]
    listeners = rng.integers(1, 100, size=n_items)
    started = time.perf_counter()
    list_metrics(recs, truth, listeners=listeners, is_tail=listeners < 10, n_train_users=n, ks=[10, 50])
    assert time.perf_counter() - started < 2.0  # a few hundred ms on one core
