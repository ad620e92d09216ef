"""Nearest-neighbour search over item vectors: wraps faiss and keeps its ``(ids, scores)`` batch shape.

Vectors are L2-normalised, so the inner product is the cosine similarity. The index type follows the
catalogue size: exact (``IndexFlatIP``) below ``exact_below`` vectors, HNSW above.
The three spaces of a model:
    audio  — audio embeddings (tracks with decodable audio)
    cf     — ALS item factors, normalised (tracks with listens)
    blend  — [√w · audio, √(1−w) · cf] for tracks with both, so  blend·blend' = w·cos_audio + (1−w)·cos_cf
"""

from __future__ import annotations

import numpy as np

SPACES = ("audio", "cf", "blend")
EXACT_BELOW = 100_000


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def blend_vectors(audio: np.ndarray, cf: np.ndarray, audio_weight: float) -> np.ndarray:
    """Concatenate unit audio and CF vectors of the same tracks, weighted so the result stays unit length."""
    if not 0.0 <= audio_weight <= 1.0:
        raise ValueError(f"audio_weight must be within [0, 1], got {audio_weight}")
    return np.hstack(
        [np.sqrt(audio_weight) * l2_normalize(audio), np.sqrt(1 - audio_weight) * l2_normalize(cf)]
    ).astype(np.float32)


def build_index(vectors: np.ndarray, *, exact_below: int = EXACT_BELOW, hnsw_m: int = 32):
    """A faiss inner-product index over ``vectors`` (n × d, unit rows)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < exact_below:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    index.add(vectors)
    return index


def search(index, queries: np.ndarray, k: int, *, ef_search: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (positions, scores), each (n_queries × k); missing neighbours are −1 with score −inf."""
    import faiss

    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(k, index.ntotal))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(ef_search, k)
    scores, positions = index.search(queries, k)
    scores[positions < 0] = -np.inf
    return positions.astype(np.int64), scores
