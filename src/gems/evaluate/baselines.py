"""Baseline recommenders, each a :class:`gems.evaluate.data.Recommender` (estimator style: parameters in
``__init__``, ``fit(train)`` returns self, learned state ends in ``_``).

- ``Random``      seeded uniform picks; user u's list depends only on (seed, u), not on batching.
- ``MostPopular`` items by training listeners (ties: more plays, then lower row), the user's own removed.
- ``ItemKNN``     implicit's ``CosineRecommender`` on the binarised matrix: cosine between items' user sets
                  (co-occurrence / √(L_i L_j)), ``neighbours`` kept per item; score(u, i) = Σ_{j ∈ u} sim(j, i).
- ``ALS``         ``gems.cf.ALSModel`` (implicit), undiscounted; score = user_factors · item_factors, top-k by
                  implicit's ``topk``; BLAS single-threaded.
- ``XQuAD``       popularity-aware re-ranker of any base (Abdollahpouri, Burke & Mobasher 2019, FLAIRS-32,
                  binary variant, see the class).
- ``AudioOnly``   cosine between the mean unit audio vector of the user's training items and every item with
                  audio; needs ``TrainData.audio``.

Every method returns (items, scores) of shape (len(users) × k), best first, −1 / −inf padding, and never a
user's training item.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.sparse as sp

from gems.errors import ModelError, ParameterError
from gems.evaluate.data import TrainData, best_columns, block_size, pad_invalid

log = logging.getLogger(__name__)


class _Baseline:
    name: str

    def _check_fitted(self) -> TrainData:
        train = getattr(self, "train_", None)
        if train is None:
            raise ModelError(f"{type(self).__name__} '{self.name}' is not fitted; call fit first")
        return train

    def params(self) -> dict:
        return {}

    def _users(self, users) -> np.ndarray:
        train = self._check_fitted()
        users = np.asarray(users, dtype=np.int64).ravel()
        if len(users) and (users.min() < 0 or users.max() >= train.n_users):
            raise ParameterError(f"user rows must be in [0, {train.n_users}); got {users.min()}..{users.max()}")
        return users

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({params})"


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = matrix.astype(np.float32, copy=True).tocsr()
    out.data[:] = 1.0
    return out


class Random(_Baseline):
    """Uniformly random unheard items; reproducible per (seed, user row)."""

    def __init__(self, *, seed: int = 0, name: str = "Random"):
        self.seed = seed
        self.name = name

    def params(self) -> dict:
        return {"seed": self.seed}

    def fit(self, train: TrainData) -> Random:
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        train = self.train_
        m = train.n_items
        indptr, indices = train.user_items.indptr, train.user_items.indices
        items = np.full((len(users), k), -1, dtype=np.int64)
        for row, u in enumerate(users):
            heard = indices[indptr[u] : indptr[u + 1]]
            draw = min(m, k + len(heard))
            rng = np.random.default_rng([self.seed, int(u)])
            picked = rng.choice(m, size=draw, replace=False)
            picked = picked[~np.isin(picked, heard)][:k]
            items[row, : len(picked)] = picked
        scores = np.where(items >= 0, (k - np.arange(k, dtype=np.float32)) / k, -np.inf).astype(np.float32)
        return items, scores


class MostPopular(_Baseline):
    """The most listened-to training items the user has not heard (score = listeners)."""

    def __init__(self, *, name: str = "MostPopular"):
        self.name = name

    def fit(self, train: TrainData) -> MostPopular:
        plays = np.asarray(train.user_items.sum(axis=0)).ravel()
        self.order_ = np.lexsort((np.arange(train.n_items), -plays, -train.listeners)).astype(np.int64)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        train = self.train_
        sub = train.user_items[users]
        longest = int(np.diff(sub.indptr).max()) if len(users) else 0
        candidates = self.order_[: min(train.n_items, k + longest)]
        heard = sub[:, candidates].toarray() > 0
        pick = np.argsort(heard, axis=1, kind="stable")[:, :k]
        items = candidates[pick]
        ok = ~np.take_along_axis(heard, pick, axis=1)
        scores = np.where(ok, train.listeners[items].astype(np.float32), -np.inf)
        return pad_invalid(items, scores, k)


class ItemKNN(_Baseline):
    """Item-based kNN: implicit's CosineRecommender (``neighbours`` = its K) on binarised interactions."""

    def __init__(self, *, neighbours: int = 100, num_threads: int = 0, name: str = "ItemKNN"):
        if neighbours < 1:
            raise ParameterError(f"ItemKNN needs neighbours ≥ 1, got {neighbours}")
        self.neighbours = neighbours
        self.num_threads = num_threads
        self.name = name

    def params(self) -> dict:
        return {"neighbours": self.neighbours}

    def fit(self, train: TrainData) -> ItemKNN:
        from implicit.nearest_neighbours import CosineRecommender

        self.binary_ = _binary(train.user_items)
        model = CosineRecommender(K=self.neighbours, num_threads=self.num_threads)
        with warnings.catch_warnings():  # CosineRecommender hands its own normalised COO to fit and warns
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(self.binary_, show_progress=False)
        self.model_ = model
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        if len(users) == 0:
            return pad_invalid(np.zeros((0, k)), np.zeros((0, k)), k)
        ids, scores = self.model_.recommend(users, self.binary_[users], N=k, filter_already_liked_items=True)
        ids, scores = np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32)
        scores = np.where(scores > 0, scores, -np.inf)  # no co-occurring neighbour: not a recommendation
        return pad_invalid(ids, scores, k)


class ALS(_Baseline):
    """Plain implicit ALS through ``gems.cf.ALSModel``; score(u, i) = user_factors_u · item_factors_i, with the
    build's own ALS defaults (:class:`gems.cf.CFParams`)."""

    def __init__(self, *, num_threads: int = 0, name: str = "ALS", **params):
        """``params``: the fields of :class:`gems.cf.CFParams` (the build's defaults and ranges)."""
        from gems.cf import ALSModel

        self.model = ALSModel(**params)
        self.num_threads = num_threads
        self.name = name

    def params(self) -> dict:
        from dataclasses import asdict

        return asdict(self.model.params)

    def fit(self, train: TrainData) -> ALS:
        if getattr(self, "train_", None) is train:  # fitted already (by a re-ranker's tuning)
            return self
        self.model.fit(train.user_items)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        from implicit.cpu.topk import topk
        from threadpoolctl import threadpool_limits

        users = self._users(users)
        train = self.train_
        kk = min(k, train.n_items)
        with threadpool_limits(limits=1, user_api="blas"):
            ids, scores = topk(
                self.model.item_factors_,
                self.model.user_factors_[users],
                kk,
                filter_query_items=train.user_items[users],
                num_threads=self.num_threads,
            )
        return pad_invalid(ids, scores, k)


class XQuAD(_Baseline):
    """Personalised popularity re-ranking (Abdollahpouri, Burke & Mobasher 2019), binary xQuAD.

    The base's top ``n_candidates`` per user are re-ranked greedily; at each step the candidate i maximising

        (1 − λ) · P(i|u) + λ · Σ_{c ∈ {head, tail}} P(c|u) · P(i|c) · Π_{j ∈ S} (1 − P(j|c))

    joins the list S. P(i|u) = the base score min–max normalised to [0, 1] within the user's candidates (1
    when all are equal); P(c|u) = share of the user's training items in category c (head/tail of
    ``TrainData.is_tail``; ½ each for a user with no training item); P(i|c) = 1 if i ∈ c else 0 (binary
    variant), so category c's bonus λ·P(c|u) goes to its best candidate until one item of c is in S.
    λ = 0 returns the base order. The score returned is the objective at the step an item was chosen.

    The base is fitted by ``fit`` unless it was already fitted on this very TrainData (``base.train_``).
    """

    def __init__(self, base, *, lam: float = 0.5, n_candidates: int = 200, name: str | None = None):
        if not 0 <= lam <= 1:
            raise ParameterError(f"xQuAD λ must be in [0, 1], got {lam}")
        if n_candidates < 1:
            raise ParameterError(f"xQuAD needs n_candidates ≥ 1, got {n_candidates}")
        self.base = base
        self.lam = lam
        self.n_candidates = n_candidates
        self.name = name or f"{base.name}+xQuAD (λ {lam:g})"

    def params(self) -> dict:
        base_params = self.base.params() if hasattr(self.base, "params") else {}
        return {
            "lambda": self.lam,
            "n_candidates": self.n_candidates,
            "base": self.base.name,
            "base_params": base_params,
        }

    def fit(self, train: TrainData) -> XQuAD:
        if getattr(self.base, "train_", None) is not train:
            self.base.fit(train)
        tail = train.is_tail.astype(np.float64)
        binary = _binary(train.user_items)
        n_heard = np.diff(binary.indptr).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_heard > 0, (binary @ tail) / n_heard, 0.5)
        self.tail_share_ = share  # P(tail | u) per user row
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        n = len(users)
        cand, cand_scores = self.base.recommend(users, max(k, self.n_candidates))
        cand = np.asarray(cand, dtype=np.int64)
        cand_scores = np.asarray(cand_scores, dtype=np.float64)
        valid = (cand >= 0) & np.isfinite(cand_scores)
        low = np.where(valid, cand_scores, np.inf).min(axis=1, keepdims=True)
        high = np.where(valid, cand_scores, -np.inf).max(axis=1, keepdims=True)
        spread = high - low
        with np.errstate(invalid="ignore", divide="ignore"):
            relevance = np.where(spread > 0, (cand_scores - low) / spread, 1.0)
        relevance = np.where(valid, relevance, 0.0)
        is_tail = np.where(valid, self.train_.is_tail[np.where(valid, cand, 0)], False)
        p_tail = self.tail_share_[users][:, None]
        category_weight = np.where(is_tail, p_tail, 1.0 - p_tail)  # P(c(i)|u), P(i|c) binary
        covered_tail = np.zeros((n, 1), dtype=bool)
        covered_head = np.zeros((n, 1), dtype=bool)
        available = valid.copy()
        rows = np.arange(n)
        items = np.full((n, k), -1, dtype=np.int64)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        lam = self.lam
        for step in range(min(k, cand.shape[1])):
            not_covered = np.where(is_tail, ~covered_tail, ~covered_head)
            objective = (1 - lam) * relevance + lam * category_weight * not_covered
            objective = np.where(available, objective, -np.inf)
            best = np.argmax(objective, axis=1)
            value = objective[rows, best]
            ok = np.isfinite(value)
            items[ok, step] = cand[rows[ok], best[ok]]
            scores[ok, step] = value[ok]
            available[rows[ok], best[ok]] = False
            picked_tail = is_tail[rows, best] & ok
            covered_tail[:, 0] |= picked_tail
            covered_head[:, 0] |= ok & ~picked_tail
        return items, scores


class AudioOnly(_Baseline):
    """Content baseline: cosine between the user's mean unit audio vector (over training items with audio)
    and every item with audio. Users with no training item with audio get an empty list."""

    def __init__(self, *, name: str = "AudioOnly"):
        self.name = name

    def fit(self, train: TrainData) -> AudioOnly:
        if train.audio is None:
            raise ParameterError(
                "AudioOnly needs audio vectors, but this TrainData has none (TrainData.audio is None); "
                "build it with train_data(..., audio=(track_ids, vectors)) or leave AudioOnly out"
            )
        rows, vectors = train.audio
        self.rows_ = np.asarray(rows, dtype=np.int64)
        self.vectors_ = np.asarray(vectors, dtype=np.float32)
        self.train_ = train
        return self

    def recommend(self, users, k: int):
        users = self._users(users)
        heard = _binary(self.train_.user_items[users][:, self.rows_])  # users × audio items
        n_audio = np.diff(heard.indptr)
        profile = np.asarray(heard @ self.vectors_)
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            profile = np.where(norms > 0, profile / norms, 0.0).astype(np.float32)
        items = np.full((len(users), k), -1, dtype=np.int64)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        step = block_size(len(self.rows_))
        for start in range(0, len(users), step):
            stop = min(len(users), start + step)
            block = profile[start:stop] @ self.vectors_.T
            block[n_audio[start:stop] == 0] = -np.inf
            idx, sc = best_columns(block, k, exclude=heard[start:stop], copy=False)
            items[start:stop] = np.where(idx >= 0, self.rows_[np.maximum(idx, 0)], -1)
            scores[start:stop] = sc
        return items, scores


def default_baselines(
    train: TrainData,
    *,
    seed: int = 0,
    als: dict | None = None,
    neighbours: int = 100,
    xquad_lambdas=(0.5,),
    n_candidates: int = 200,
) -> dict:
    """The standard comparison set: Random, MostPopular, ItemKNN, ALS, ALS+xQuAD at each λ, and AudioOnly
    when ``train.audio`` is set. ``als``: keyword arguments for :class:`ALS`. xQuAD re-ranks the same ALS
    instance (fitted once when the runner fits ALS first, as this dict's order makes it)."""
    base = ALS(random_state=seed, **(als or {}))
    methods = {
        "Random": Random(seed=seed),
        "MostPopular": MostPopular(),
        "ItemKNN": ItemKNN(neighbours=neighbours),
        base.name: base,
    }
    for lam in xquad_lambdas:
        reranker = XQuAD(base, lam=lam, n_candidates=n_candidates)
        methods[reranker.name] = reranker
    if train.audio is not None:
        methods["AudioOnly"] = AudioOnly()
    return methods
