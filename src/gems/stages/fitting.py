"""The stages that fit models on the listens and index the vectors: the learned stage's hold-out, ALS, item
neighbours, the vector spaces and their faiss index, and the learned second stage.

The learned stage learns from listeners who hold some of their tracks back, so its ALS, neighbours and
popularity must be fitted without those tracks: features computed from components that saw the held-back
tracks would leak the answers into the training data. Two ways, by the share of all listens held back:

- at most ``[ranker] shared_fit`` (a large catalogue: ~4,000 listeners hold back 2% of a million tracks'
  listens): the served ALS and neighbours are fitted without them too, and the learned stage reads those; the
  holding listeners' served factors are then solved on all their listens, as fold-in solves a new listener's.
  One fit serves both. (On MPD validation seeds 0-2, the blend served from a fit without 2% of the listens
  ranked as well as from all of them: PSR@50 0.061 against 0.059, NDCG@50 0.044 against 0.043; without 5%
  it fell on every seed, to 0.057.)
- more (small data, where the learned stage holds back up to 30%): ALS and neighbours are fitted on every
  listen, and the learned stage fits its own without the held-back tracks — serving without 30% of the listens
  cost 2-4% of ALS's NDCG on MPD validation.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from gems.artifacts import layout
from gems.artifacts.hashing import hash_json
from gems.artifacts.writing import ModelWriter
from gems.config import BuildConfig
from gems.stages.runner import StageRunner, interaction_inputs, load_interactions, n_tracks


def holdout_inputs(runner: StageRunner, config: BuildConfig, exclude_users: set[str]) -> dict[str, Any] | None:
    """What decides the learned stage's hold-out and whether the served fit shares it (None without a learned
    stage): the listeners, those it must not train on, its sampling parameters."""
    if not config.ranker.enabled:
        return None
    sampling = ("max_queries", "pair_budget", "min_tracks", "keep_low", "keep_high", "random_state", "shared_fit")
    return {
        layout.USERS: runner.file_hash(layout.USERS),
        "excluded": hash_json(sorted(exclude_users)),
        **{name: getattr(config.ranker, name) for name in sampling},
    }


def learned_holdout(runner: StageRunner, config: BuildConfig, exclude_users: set[str], matrix):
    """(the learned stage's hold-out (:func:`gems.rank.training.choose_holdout`), whether the served ALS and
    neighbours are fitted without it too: it holds back at most ``shared_fit`` of all listens)."""
    from gems.rank.training import choose_holdout

    users = runner.staged.table(layout.USERS).column("user_id").to_numpy(zero_copy_only=False).astype(str)
    holdout = choose_holdout(matrix, config.ranker, np.isin(users, np.asarray(sorted(exclude_users), dtype=str)))
    return holdout, len(holdout.items) <= config.ranker.shared_fit * matrix.nnz


def served_listens(runner: StageRunner, config: BuildConfig, exclude_users: set[str], matrix):
    """(the listens the served ALS and neighbours are fitted on, the hold-out they leave out or None)."""
    from gems.rank.training import without

    if not config.ranker.enabled:
        return matrix, None
    holdout, shared = learned_holdout(runner, config, exclude_users, matrix)
    return (without(matrix, holdout), holdout) if shared else (matrix, None)


def fit_cf(runner: StageRunner, config: BuildConfig, exclude_users: set[str], show_progress: bool) -> None:
    inputs = {
        **interaction_inputs(runner),
        "params": asdict(config.cf),
        "holdout": holdout_inputs(runner, config, exclude_users),
    }
    if inputs[layout.INTERACTIONS[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.cf import ALSModel, FoldIn

        matrix = load_interactions(runner, n_tracks(runner))
        fitted_on, holdout = served_listens(runner, config, exclude_users, matrix)
        model = ALSModel(**asdict(config.cf), show_progress=show_progress).fit(fitted_on)
        user_factors, gram = model.user_factors_, gram_of(model.item_factors_)
        if holdout is not None:  # the holding listeners, served from all their listens
            fold = FoldIn(model.item_factors_, gram, config.cf.regularization, model.weighting_)
            user_factors[holdout.users] = folded_in(fold, matrix, holdout.users)
        heard = np.flatnonzero(matrix.getnnz(axis=0) > 0)
        write_cf(runner.writer, model.item_factors_, user_factors, heard, model.weighting_, gram)
        counts = {"users": matrix.shape[0], "items": len(heard), "factors": config.cf.factors}
        return counts if holdout is None else {**counts, "fitted_without": int(len(holdout.items))}

    runner.run("cf", inputs, compute)


def folded_in(fold, matrix, users: np.ndarray) -> np.ndarray:
    """(len(users) × f) the listeners' factors solved on their listens in ``matrix`` by ``fold`` (a
    :class:`gems.cf.FoldIn`: the item factors fixed)."""
    rows = [matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]] for u in users]
    weights = [matrix.data[matrix.indptr[u] : matrix.indptr[u + 1]] for u in users]
    return fold.user_vectors(rows, weights)


def write_cf(writer: ModelWriter, item_factors, user_factors, heard, weighting, gram=None) -> None:
    """ALS factors (n × f, u × f) and what serving derives from them once: YᵀY (f × f, float64) for fold-in,
    the heard tracks' rows by decreasing factor norm (for the exact top-k of :mod:`gems.topk`) and the fitted
    confidence weighting (:class:`gems.cf.Weighting`); and those factors in that order, so a query reads the
    first chunks of the exact top-k as one block and a batch maps them instead of copying them (``gram``: YᵀY
    when computed already)."""
    from gems.topk import norms_of

    items = np.asarray(item_factors, dtype=np.float32)
    writer.save_array(layout.USER_FACTORS, np.asarray(user_factors, dtype=np.float32))
    writer.save_array(layout.ITEM_FACTORS, items)
    writer.save_array(layout.GRAM, gram_of(items) if gram is None else gram)
    heard = np.asarray(heard, dtype=np.int64)
    norms = norms_of(items[heard])
    order = np.argsort(-norms, kind="stable")
    writer.save_array(layout.NORM_ORDER, heard[order])
    writer.save_array(layout.NORM_SORTED, norms[order])
    writer.save_array(layout.NORM_VECTORS, items[heard[order]])
    writer.save_json(layout.WEIGHTING, weighting.to_json())
    if weighting.idf is not None:
        writer.save_array(layout.IDF, weighting.idf)


def gram_of(factors: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """YᵀY (f × f, float64) of (n × f) factors, summed over row chunks: a float64 copy of a million tracks'
    factors would be the cf stage's memory peak."""
    f = factors.shape[1]
    gram = np.zeros((f, f), dtype=np.float64)
    for start in range(0, len(factors), chunk):
        block = np.asarray(factors[start : start + chunk], dtype=np.float64)
        gram += block.T @ block
    return gram


def fit_neighbours(runner: StageRunner, config: BuildConfig, exclude_users: set[str]) -> None:
    inputs = {
        **interaction_inputs(runner),
        "k": config.neighbours.k,
        "holdout": holdout_inputs(runner, config, exclude_users),
    }
    if inputs[layout.INTERACTIONS[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.neighbours import ItemNeighbours

        matrix = load_interactions(runner, n_tracks(runner))
        neighbours = ItemNeighbours(k=config.neighbours.k).fit(served_listens(runner, config, exclude_users, matrix)[0])
        for relpath, array in zip(layout.NEIGHBOURS, neighbours.to_arrays().values()):
            runner.writer.save_array(relpath, array)
        return {"pairs": int(neighbours.similarity_.nnz), "k": config.neighbours.k}

    runner.run("neighbours", inputs, compute)


def fit_index(runner: StageRunner, config: BuildConfig) -> None:
    """The vector spaces serving compares tracks in (audio, cf, and their blend), with a faiss index for the
    audio space that retrieval searches (taste is searched exactly, by :mod:`gems.topk`)."""
    sources = [layout.AUDIO_ROWS, layout.AUDIO_VECTORS, layout.ITEM_FACTORS, layout.INTERACTIONS[1]]
    inputs = {**{f: runner.file_hash(f) for f in sources}, "audio_weight": config.index.audio_weight}

    def compute() -> dict[str, Any]:
        from gems.index import blend_vectors, l2_normalize

        staged = runner.staged
        spaces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if staged.has(layout.AUDIO_VECTORS):
            spaces["audio"] = (
                staged.array(layout.AUDIO_ROWS, mmap=False),
                staged.array(layout.AUDIO_VECTORS, mmap=False),
            )
        if staged.has(layout.ITEM_FACTORS):
            factors = staged.array(layout.ITEM_FACTORS, mmap=False)
            heard = np.unique(staged.array(layout.INTERACTIONS[1], mmap=False))
            spaces["cf"] = (heard.astype(np.int64), l2_normalize(factors[heard]))
        if "audio" in spaces and "cf" in spaces:
            audio_rows, audio_vectors = spaces["audio"]
            both, in_audio, in_cf = np.intersect1d(audio_rows, spaces["cf"][0], return_indices=True)
            if len(both):
                spaces["blend"] = (
                    both,
                    blend_vectors(audio_vectors[in_audio], spaces["cf"][1][in_cf], config.index.audio_weight),
                )
        return write_spaces(runner.writer, spaces)

    runner.run("index", inputs, compute)


def write_spaces(writer: ModelWriter, spaces: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, int]:
    """Write each space's track rows and unit vectors, and the audio space's faiss index; returns the sizes."""
    from gems.index import SPACES, build_index

    counts = {}
    for space in SPACES:
        if space not in spaces:
            continue
        rows, vectors = spaces[space]
        writer.save_array(layout.space_rows(space), np.asarray(rows, dtype=np.int64))
        writer.save_array(layout.space_vectors(space), np.asarray(vectors, dtype=np.float32))
        if space == "audio":
            writer.save_index(layout.space_index(space), build_index(vectors))
        counts[space] = len(rows)
    return counts


def fit_ranker_stage(runner: StageRunner, config: BuildConfig, exclude_users: set[str], show_progress: bool) -> None:
    """The learned second stage (:mod:`gems.rank.training`): listeners chosen by :func:`choose_holdout` (never
    ``exclude_users``) hold tracks back; ALS, neighbours and popularity are fitted without them."""
    sources = [layout.USERS, layout.AUDIO_ROWS, layout.AUDIO_VECTORS, layout.TRACKS, layout.ITEM_FACTORS]
    sources += layout.NEIGHBOURS
    inputs = {
        **interaction_inputs(runner),
        **{relpath: runner.file_hash(relpath) for relpath in sources},
        "params": asdict(config.ranker),
        "cf": asdict(config.cf),
        "neighbours": config.neighbours.k,
        "rank": config.rank.to_section(),
        "head_share": config.popularity.head_share,
        "excluded": hash_json(sorted(exclude_users)),
    }
    if inputs[layout.INTERACTIONS[0]] is None or not config.ranker.enabled:
        return

    def compute() -> dict[str, Any]:
        from gems.rank.training import fit_ranker

        inputs_held, queries, holdout = held_out_inputs(runner, config, exclude_users, show_progress)
        text, info = fit_ranker(inputs_held, queries, holdout, config.rank, config.ranker)
        runner.writer.save_json(layout.RANKER_INFO, info)
        if text is not None:
            runner.writer.save_text(layout.RANKER_MODEL, text)
        counts = {"listeners": info["queries"], "held_back": int(len(holdout.items))}
        if text is None:
            return {**counts, "skipped": True}
        at = f"discount {config.rank.discount:g}"
        scores = {f"{who} psr@50": info["validation"][who][at]["psr@50"] for who in ("ranker", "blend")}
        return {**counts, "trees": info["trees"], **{key: round(value, 4) for key, value in scores.items()}}

    runner.run("ranker", inputs, compute)


def held_out_inputs(runner: StageRunner, config: BuildConfig, exclude_users: set[str], show_progress: bool):
    """(RankingInputs fitted without the held-back tracks, the training listeners' queries, the hold-out): the
    served ALS and neighbours when they were fitted without them (the holding listeners' factors solved again
    on what they keep), else fitted here."""
    from gems.popularity import popularity_from_matrix
    from gems.rank import Queries, RankingInputs
    from gems.rank.training import without

    staged = runner.staged
    matrix = load_interactions(runner, n_tracks(runner))
    holdout, shared = learned_holdout(runner, config, exclude_users, matrix)
    kept = without(matrix, holdout)
    codes = staged.array(layout.codes("soundtrack"), mmap=False)
    popularity = popularity_from_matrix(kept, codes, head_share=config.popularity.head_share)
    if shared:
        from gems.cf import FoldIn, Weighting

        item_factors = staged.array(layout.ITEM_FACTORS, mmap=False)
        user_factors = staged.array(layout.USER_FACTORS, mmap=False).copy()
        weighting = Weighting.fit(kept, scheme=config.cf.confidence, alpha=config.cf.alpha)
        fold = FoldIn(item_factors, staged.array(layout.GRAM, mmap=False), config.cf.regularization, weighting)
        user_factors[holdout.users] = folded_in(fold, kept, holdout.users)
        neighbours = tuple(staged.array(relpath, mmap=False) for relpath in layout.NEIGHBOURS)
    else:
        from gems.cf import ALSModel
        from gems.neighbours import ItemNeighbours

        neighbours = tuple(ItemNeighbours(k=config.neighbours.k).fit(kept).to_arrays().values())  # layout order
        als = ALSModel(**asdict(config.cf), show_progress=show_progress).fit(kept)
        item_factors, user_factors = als.item_factors_, als.user_factors_
    parts = {}
    if "is_soundtrack" in staged.columns(layout.TRACKS):
        parts["is_soundtrack"] = staged.table(layout.TRACKS, ["is_soundtrack"]).column(0).to_numpy(zero_copy_only=False)
    if staged.has(layout.AUDIO_VECTORS):
        rows = staged.array(layout.AUDIO_ROWS, mmap=False)
        parts["audio_position"] = np.full(len(codes), -1, dtype=np.int64)
        parts["audio_position"][rows] = np.arange(len(rows))
        parts["audio_vectors"] = staged.array(layout.AUDIO_VECTORS, mmap=False)
    inputs = RankingInputs(
        listeners=popularity.listeners,
        is_tail=popularity.is_tail,
        is_theme=popularity.is_theme,
        soundtrack_codes=codes,
        artist_codes=staged.array(layout.codes("artist"), mmap=False),
        item_factors=item_factors,
        user_factors=user_factors,
        neighbours=neighbours,
        batch=True,
        **parts,
    )
    return inputs, Queries.of_listeners((kept.indptr, kept.indices, kept.data), holdout.users), holdout
