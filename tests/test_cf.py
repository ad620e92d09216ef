"""ALS through implicit, on listening matrices whose right answer is known by construction."""

import numpy as np
import pytest

from gems.cf import ALSModel, confidence, interaction_matrix
from gems.errors import ModelError, ParameterError


def block_listens(n_users=60, n_items=12, groups=3, seed=0):
    """Users of group g listen to most items of group g and nothing else."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    per_group = n_items // groups
    for u in range(n_users):
        g = u % groups
        chosen = rng.choice(per_group, size=per_group - 1, replace=False) + g * per_group
        users += [u] * len(chosen)
        items += chosen.tolist()
    return np.array(users), np.array(items)


def test_held_out_item_of_the_users_group_ranks_first():
    users, items = block_listens()
    # user 0 (group 0) has not heard item 3 (group 0's last item) after this removal
    keep = ~((users == 0) & (items == 3))
    users, items = users[keep], items[keep]
    matrix = interaction_matrix(users, items, np.ones(len(users)), (60, 12))
    model = ALSModel(factors=8, iterations=15, regularization=0.01).fit(matrix)
    scores = model.user_factors_[0] @ model.item_factors_.T
    heard = matrix[0].indices
    scores[heard] = -np.inf
    assert int(np.argmax(scores)) in range(0, 4)
    assert scores[:4].max() > scores[4:].max()


def test_items_of_one_group_are_closer_to_each_other():
    users, items = block_listens()
    matrix = interaction_matrix(users, items, np.ones(len(users)), (60, 12))
    factors = ALSModel(factors=8, iterations=15).fit(matrix).item_factors_
    unit = factors / np.linalg.norm(factors, axis=1, keepdims=True)
    sim = unit @ unit.T
    group = np.arange(12) // 4
    same = sim[(group[:, None] == group[None, :]) & ~np.eye(12, dtype=bool)]
    other = sim[group[:, None] != group[None, :]]
    assert same.min() > other.max()


def test_fit_is_deterministic_for_a_seed():
    users, items = block_listens()
    matrix = interaction_matrix(users, items, np.ones(len(users)), (60, 12))
    a = ALSModel(factors=4, iterations=5, random_state=3).fit(matrix).item_factors_
    b = ALSModel(factors=4, iterations=5, random_state=3).fit(matrix).item_factors_
    np.testing.assert_array_equal(a, b)


def test_repeated_listens_add_up_and_confidence_schemes():
    matrix = interaction_matrix(np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([2.0, 3.0, 1.0]), (2, 2))
    assert matrix[0, 1] == 5.0
    assert confidence(matrix, scheme="log", alpha=2.0)[0, 1] == pytest.approx(2 * np.log(6))
    assert confidence(matrix, scheme="linear", alpha=1.0)[0, 1] == 5.0
    assert confidence(matrix, scheme="bm25").nnz == 2
    with pytest.raises(ParameterError):
        confidence(matrix, scheme="square")


def test_parameters_are_checked_and_unfitted_model_says_so():
    with pytest.raises(ParameterError, match="factors"):
        ALSModel(factors=0)
    with pytest.raises(ModelError, match="call fit first"):
        ALSModel().to_arrays()


def test_bm25_weighting_is_implicits_and_a_new_row_is_weighted_like_a_fitted_one():
    import scipy.sparse as sp
    from implicit.nearest_neighbours import bm25_weight

    from gems.cf import Weighting

    rng = np.random.default_rng(3)
    dense = (rng.random((30, 40)) < 0.2) * rng.integers(1, 9, (30, 40))
    matrix = sp.csr_matrix(dense.astype(np.float32))
    weighting = Weighting.fit(matrix, scheme="bm25", alpha=2.0)
    expected = 2.0 * bm25_weight(matrix, K1=100, B=0.8).tocsr()
    np.testing.assert_allclose(weighting.matrix(matrix).toarray(), expected.toarray(), rtol=1e-5, atol=1e-6)
    row = matrix[7]  # a row weighted on its own, with the fitted matrix's idf and average length
    np.testing.assert_allclose(weighting.apply(row.indptr, row.indices, row.data), expected[7].data, rtol=1e-5)


def test_fold_in_solves_what_implicit_recalculates():
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    from gems.cf import FoldIn, Weighting

    rng = np.random.default_rng(5)
    matrix = sp.csr_matrix(((rng.random((60, 80)) < 0.15) * rng.integers(1, 5, (60, 80))).astype(np.float32))
    weighting = Weighting.fit(matrix, scheme="log", alpha=1.5)
    model = AlternatingLeastSquares(factors=8, regularization=0.1, iterations=5, random_state=0)
    model.fit(weighting.matrix(matrix), show_progress=False)
    items = model.item_factors
    fold = FoldIn(items, items.T.astype(np.float64) @ items.astype(np.float64), 0.1, weighting)
    users = [3, 11, 42]
    histories = [matrix[u].indices.astype(np.int64) for u in users]
    weights = [matrix[u].data for u in users]
    expected = model.recalculate_user(users, weighting.matrix(matrix)[users])
    np.testing.assert_allclose(fold.user_vectors(histories, weights), expected, rtol=1e-3, atol=1e-4)
