"""Item neighbours: implicit's cosine k-nearest neighbours, packed into float32 CSR block by block."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from gems.neighbours import ItemNeighbours, binarize


@pytest.mark.parametrize("k", [1, 5, 50])
def test_the_neighbours_are_implicits_cosine_recommender(k):
    """The oracle: implicit's own CosineRecommender on the binarised listens, converted the plain way."""
    import warnings

    from implicit.nearest_neighbours import CosineRecommender

    listens = sp.random(300, 120, density=0.05, random_state=k, format="csr") * 7  # plays, binarised by both
    listens.data = np.ceil(listens.data)
    model = CosineRecommender(K=k, num_threads=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(binarize(listens), show_progress=False)
    expected = model.similarity.tocsr().astype(np.float32)
    expected.setdiag(0.0)
    expected.eliminate_zeros()
    expected.sort_indices()
    got = ItemNeighbours(k=k).fit(listens).similarity_
    assert got.dtype == np.float32 and got.diagonal().sum() == 0
    assert got.indptr.tolist() == expected.indptr.tolist() and got.indices.tolist() == expected.indices.tolist()
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-6)
