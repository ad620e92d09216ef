"""Norm-pruned top-k: the same answer as scanning every item, whatever the filters."""

from __future__ import annotations

import numpy as np
import pytest

from gems.topk import NormOrdered, top_k


def brute_force(items, queries, k, histories, searchable):
    scores = queries @ items.T
    scores[:, ~searchable] = -np.inf
    for i, history in enumerate(histories):
        scores[i, history] = -np.inf
    out = []
    for row in scores:
        finite = np.flatnonzero(np.isfinite(row))
        out.append(set(finite[np.argsort(-row[finite], kind="stable")[:k]].tolist()))
    return out


@pytest.fixture
def catalogue():
    rng = np.random.default_rng(7)
    n, f = 3000, 16
    lengths = rng.pareto(1.5, n) + 0.01  # heavy-tailed norms, as ALS gives popular tracks
    items = (rng.standard_normal((n, f)) * lengths[:, None]).astype(np.float32)
    queries = rng.standard_normal((40, f)).astype(np.float32)
    queries[0] *= 1e-6  # a nearly null taste: nothing can be pruned
    histories = [np.sort(rng.choice(n, size=int(rng.integers(0, 60)), replace=False)) for _ in queries]
    histories[1] = np.argsort(-np.linalg.norm(items, axis=1))[:200]  # owns every long item
    return items, queries, histories


def csr(histories):
    indptr = np.r_[0, np.cumsum([len(h) for h in histories])].astype(np.int64)
    return indptr, np.concatenate(histories).astype(np.int64)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("k", [1, 25, 150])
def test_the_answer_is_that_of_a_full_scan(catalogue, k, compiled):
    items, queries, histories = catalogue
    searchable = np.ones(len(items), dtype=bool)
    searchable[::7] = False  # tracks nobody heard
    blocked = np.zeros(len(items), dtype=bool)
    blocked[5::11] = True  # outside the scope
    rows, scores = top_k(NormOrdered.of(items, searchable), queries, k, *csr(histories), blocked, compiled=compiled)
    expected = brute_force(items, queries, k, histories, searchable & ~blocked)
    assert [set(r[r >= 0].tolist()) for r in rows] == expected
    for i, r in enumerate(rows):
        np.testing.assert_allclose(scores[i][r >= 0], items[r[r >= 0]] @ queries[i], rtol=1e-4, atol=1e-5)


def test_fewer_items_than_k_pad_with_minus_one(catalogue):
    items, queries, histories = catalogue
    searchable = np.zeros(len(items), dtype=bool)
    searchable[:10] = True
    rows, scores = top_k(NormOrdered.of(items, searchable), queries[:3], 20, *csr([np.array([0, 1])] * 3))
    assert ((rows >= 0).sum(axis=1) == 8).all() and np.isinf(scores[rows < 0]).all()
    assert set(rows[0][rows[0] >= 0].tolist()) == set(range(2, 10))


def test_a_stored_order_read_chunk_by_chunk_gives_the_same_answer(catalogue):
    items, queries, histories = catalogue
    searchable = np.ones(len(items), dtype=bool)
    whole = NormOrdered.of(items, searchable)
    lazy = NormOrdered.stored(items, whole.rows, whole.norms, materialize=False)
    expected, _ = top_k(whole, queries, 30, *csr(histories))
    for i in range(len(queries)):  # one query at a time, as gems recommend asks
        rows, _ = top_k(lazy, queries[i : i + 1], 30, *csr([histories[i]]))
        assert set(rows[0].tolist()) == set(expected[i].tolist())


@pytest.mark.parametrize("k", [1, 30, 150, 4000])
def test_batches_merge_with_the_compiled_loop_and_get_numpys_answer_to_the_bit(catalogue, k):
    items, queries, histories = catalogue
    items = np.vstack([items, items[:500]])  # twins: exactly tied scores, across chunks
    searchable = np.ones(len(items), dtype=bool)
    searchable[::13] = False
    blocked = np.zeros(len(items), dtype=bool)
    blocked[3::17] = True
    queries = queries.copy()
    queries[2, 0] = np.nan  # a broken taste: NaN scores enter neither list
    ordered = NormOrdered.of(items, searchable)
    plain = top_k(ordered, queries, k, *csr(histories), blocked)
    compiled = top_k(ordered, queries, k, *csr(histories), blocked, compiled=True)
    np.testing.assert_array_equal(compiled[0], plain[0])
    np.testing.assert_array_equal(compiled[1], plain[1])
    assert (plain[0][2] == -1).all()


def test_ties_go_to_the_smaller_row_alone_or_in_a_block():
    """Tracks heard by the same few listeners get identical ALS factors, so their scores tie exactly; which of
    them make the cut must not depend on the block a query is ranked in (gemm rounds differently by size)."""
    rng = np.random.default_rng(3)
    groups, size, f, k = 400, 20, 32, 90  # k cuts through a group of 20 twins
    items = np.repeat(rng.standard_normal((groups, f)).astype(np.float32), size, axis=0)
    order = rng.permutation(len(items))
    items = items[order]  # twins scattered over the rows
    ordered = NormOrdered.of(items, np.ones(len(items), dtype=bool))
    queries = rng.standard_normal((64, f)).astype(np.float32)
    block, _ = top_k(ordered, queries, k, *csr([np.zeros(0, np.int64)] * len(queries)))
    cut_inside_a_tie = 0
    for i, query in enumerate(queries):
        alone, _ = top_k(ordered, query[None, :], k, *csr([np.zeros(0, np.int64)]))
        assert sorted(alone[0].tolist()) == sorted(block[i].tolist()), f"query {i}"
        exact = items.astype(np.float64) @ query.astype(np.float64)
        kth = exact[block[i]].min()
        tied = np.flatnonzero(np.isclose(exact, kth, rtol=0, atol=1e-9))
        chosen = np.intersect1d(tied, block[i])
        if len(chosen) < len(tied):
            cut_inside_a_tie += 1
            assert chosen.tolist() == sorted(tied.tolist())[: len(chosen)], f"query {i}: not the smaller rows"
    assert cut_inside_a_tie > 20  # the case this test is about happened
