"""Nearest-neighbour search over item vectors: wraps faiss and keeps its ``(ids, scores)`` batch shape.

Vectors are L2-normalised, so the inner product is the cosine similarity. The index type follows the
catalogue size: exact (``IndexFlatIP``) below ``exact_below`` vectors; above, an inverted file
(``IndexIVFFlat``, 4·√n lists trained on a sample, ``nprobe`` lists searched), which faiss can memory-map when
reading it back, so opening a million-track model costs no time (an HNSW graph cannot be mapped). Its recall
against exact search is measured by ``benchmarks/index_search.py``.
The three spaces of a model:
    audio  — audio embeddings (tracks with decodable audio)
    cf     — ALS item factors, normalised (tracks with listens)
    blend  — [√w · audio, √(1−w) · cf] for tracks with both, so  blend·blend' = w·cos_audio + (1−w)·cos_cf
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gems.artifacts.layout import SPACES  # noqa: F401  (the spaces are listed once, in layout)
from gems.params import Interval, Params

EXACT_BELOW = 100_000
NPROBE = 32  # inverted lists searched per query


@dataclass(frozen=True)
class IndexParams(Params):
    """The ``[index]`` section: ``audio_weight`` w, the audio's share of the blend space's cosine."""

    audio_weight: float = 0.5

    constraints: ClassVar = {"audio_weight": Interval(float, 0.0, 1.0)}


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def blend_vectors(audio: np.ndarray, cf: np.ndarray, audio_weight: float) -> np.ndarray:
    """Concatenate unit audio and CF vectors of the same tracks, weighted so the result stays unit length
    (``audio_weight``: :class:`IndexParams`)."""
    return np.hstack(
        [np.sqrt(audio_weight) * l2_normalize(audio), np.sqrt(1 - audio_weight) * l2_normalize(cf)]
    ).astype(np.float32)


def build_index(vectors: np.ndarray, *, exact_below: int = EXACT_BELOW, train_size: int = 200_000, seed: int = 0):
    """A faiss inner-product index over ``vectors`` (n × d, unit rows)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n < exact_below:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).choice(n, size=min(n, max(train_size, 40 * lists)), replace=False)
        index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index


def search(index, queries: np.ndarray, k: int, *, nprobe: int = NPROBE) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (positions, scores), each (n_queries × k); missing neighbours are −1 with score −inf."""
    import faiss

    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(k, index.ntotal))
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = min(nprobe, ivf.nlist)
    scores, positions = index.search(queries, k)
    scores[positions < 0] = -np.inf
    return positions.astype(np.int64), scores
