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
    list_metrics,
    ndcg_at_k,
    novelty_at_k,
    r_precision,
    recall_at_k,
    relevant_counts,
    tail_recall_at_k,
)

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
