import numpy as np

from gems.index import blend_vectors, build_index, l2_normalize, search


def test_exact_search_returns_the_nearest_by_cosine():
    vectors = l2_normalize(np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32))
    index = build_index(vectors)
    positions, scores = search(index, vectors[:1], 3)
    assert positions[0].tolist() == [0, 1, 2]
    assert np.all(np.diff(scores[0]) <= 0)


def test_search_caps_k_at_the_index_size_and_ivf_agrees_with_exact():
    rng = np.random.default_rng(0)
    vectors = l2_normalize(rng.normal(size=(500, 16)))
    exact, ivf = build_index(vectors), build_index(vectors, exact_below=100)
    assert search(exact, vectors[:2], 10_000)[0].shape == (2, 500)
    a, _ = search(exact, vectors[:20], 10)
    b, _ = search(ivf, vectors[:20], 10)
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b)])
    assert recall > 0.95


def test_blend_inner_product_is_the_weighted_cosines():
    rng = np.random.default_rng(1)
    audio, cf = l2_normalize(rng.normal(size=(2, 5))), l2_normalize(rng.normal(size=(2, 3)))
    blend = blend_vectors(audio, cf, 0.3)
    assert np.allclose(np.linalg.norm(blend, axis=1), 1.0)
    assert np.isclose(blend[0] @ blend[1], 0.3 * audio[0] @ audio[1] + 0.7 * cf[0] @ cf[1])
