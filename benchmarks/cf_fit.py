"""The CF stage of ``gems build`` against implicit's raw ALS fit on the same matrix.

    python benchmarks/cf_fit.py [--tracks 200000]

Both fit the interactions of the synthetic scale fixture (``scale_build.py``) with the model's parameters
(128 factors, 15 iterations, BM25 confidence), one BLAS thread:

- implicit: ``AlternatingLeastSquares(...).fit(C)`` on the confidence matrix C, prepared outside the timing;
- gems: ``gems.cf.ALSModel(...).fit(R)`` on the raw listen matrix R: confidence weighting, the fit and
  the float32 factors it keeps.

Writes results/cf_fit.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from benchkit import scale_model, write_result


def main() -> None:
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from gems.cf import ALSModel, confidence
    from gems.model import Model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=200_000)
    args = parser.parse_args()
    model = Model(scale_model(args.tracks))
    params = model.manifest["config"]["cf"]
    indptr, indices, weights = (np.asarray(a) for a in model.interactions)
    matrix = sp.csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1, model.n_tracks))
    weighted = confidence(matrix, scheme=params["confidence"], alpha=params["alpha"])
    raw = AlternatingLeastSquares(
        factors=params["factors"],
        regularization=params["regularization"],
        iterations=params["iterations"],
        alpha=1.0,  # C already holds alpha
        random_state=params["random_state"],
        calculate_training_loss=False,
    )
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        raw.fit(weighted, show_progress=False)
        implicit_s = time.perf_counter() - started
    started = time.perf_counter()
    ALSModel(**params).fit(matrix)
    gems_s = time.perf_counter() - started
    report = {
        "tracks": model.n_tracks,
        "users": matrix.shape[0],
        "pairs": int(matrix.nnz),
        "factors": params["factors"],
        "iterations": params["iterations"],
        "implicit_s": round(implicit_s, 2),
        "gems_s": round(gems_s, 2),
        "ratio": round(implicit_s / gems_s, 3),
    }
    print(f"ALS on {matrix.shape[0]:,} users × {model.n_tracks:,} tracks ({matrix.nnz:,} pairs)")
    print(f"  implicit fit  {implicit_s:7.1f} s")
    print(f"  gems cf       {gems_s:7.1f} s   ratio {report['ratio']:.2f}")
    write_result("cf_fit", report)


if __name__ == "__main__":
    main()
