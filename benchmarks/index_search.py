"""Nearest-neighbour search: gems' faiss index (``gems.index.build_index``) against exact search.

    python benchmarks/index_search.py [--sizes 100000 1000000] [--queries 500]

Vectors: unit 128-d vectors drawn around 2,000 random centres (so that neighbourhoods exist, as in item
factors), at each size; plus, when the 1M-track scale model exists, the unit ALS vectors of its cf space
(an index built here: gems searches taste exactly, by norm-pruned top-k, since an IVF over ALS vectors loses
recall on their unevenly filled lists; faiss indexes the audio space). Queries are the normalised mean of 3
random vectors, like seeds.

Reported per size: the index type, build seconds, queries per second one query at a time (as ``gems
recommend`` asks) for the index and for exact search (faiss ``IndexFlatIP``), their ratio, and recall@50 (the
share of the exact top 50 the index returns). Writes results/index_search.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from benchkit import WORK, write_result

K = 50


def clustered(n: int, dim: int = 128, centres: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, dim)).astype(np.float32)
    vectors = means[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def seed_queries(vectors: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    queries = vectors[rng.integers(0, len(vectors), (n, 3))].mean(axis=1)
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)


def one_at_a_time(index, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """(queries per second, ids) searching one query per call."""
    from gems.index import search

    ids = np.empty((len(queries), K), dtype=np.int64)
    started = time.perf_counter()
    for i, query in enumerate(queries):
        ids[i] = search(index, query[None, :], K)[0][0]
    return len(queries) / (time.perf_counter() - started), ids


def measure(name: str, vectors: np.ndarray, n_queries: int, index=None) -> dict:
    import faiss

    from gems.index import build_index

    started = time.perf_counter()
    index = index if index is not None else build_index(vectors)
    build_s = time.perf_counter() - started
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    queries = seed_queries(vectors, n_queries)
    index_qps, found = one_at_a_time(index, queries)
    exact_qps, truth = one_at_a_time(exact, queries)
    recall = np.mean([len(np.intersect1d(f, t)) / K for f, t in zip(found, truth)])
    row = {
        "vectors": name,
        "n": len(vectors),
        "index": type(index).__name__,
        "build_s": round(build_s, 1),
        "index_qps": round(index_qps),
        "exact_qps": round(exact_qps),
        "speedup": round(index_qps / exact_qps, 2),
        f"recall@{K}": round(float(recall), 4),
    }
    print(
        f"{name:28} {row['n']:>9,} {row['index']:>14} {row['index_qps']:>9,} {row['exact_qps']:>9,} "
        f"{row['speedup']:>7.1f}x {row[f'recall@{K}']:>9.3f}"
    )
    return row


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # one query at a time, as a user's command: no threads to amortise
    print(f"{'vectors':28} {'n':>9} {'index':>14} {'index q/s':>9} {'exact q/s':>9} {'ratio':>8} {'recall@50':>9}")
    rows = [measure("synthetic clusters", clustered(n), args.queries) for n in args.sizes]
    model = WORK / "scale-1000k" / "model"
    if (model / "index" / "cf_vectors.npy").exists():
        vectors = np.load(model / "index" / "cf_vectors.npy", mmap_mode="r")
        rows.append(measure("1M-track model, cf space", np.asarray(vectors), args.queries))
    write_result("index_search", {"k": K, "queries": args.queries, "rows": rows})


if __name__ == "__main__":
    main()
