"""The stages that fit models on the listens and index the vectors: the learned stage's hold-out, ALS, item
neighbours, the vector spaces and their faiss index, and the learned second stage.

ALS and item neighbours are fitted on every listen. The learned stage learns from listeners who hold some of
their tracks back, so it fits its own ALS, neighbours and popularity without those tracks: features computed
from components that saw the held-back tracks would leak the answers into the training data. (Fitting ALS
once without the held-back pairs and solving the touched rows again afterwards was tried and cost 2-4% of
ALS's NDCG on MPD validation: the model would serve with less than all of its data.)
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


def fit_cf(runner: StageRunner, config: BuildConfig, show_progress: bool) -> None:
    inputs = {**interaction_inputs(runner), "params": asdict(config.cf)}
    if inputs[layout.INTERACTIONS[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.cf import ALSModel

        matrix = load_interactions(runner, n_tracks(runner))
        model = ALSModel(**asdict(config.cf), show_progress=show_progress).fit(matrix)
        heard = np.flatnonzero(matrix.getnnz(axis=0) > 0)
        write_cf(runner.writer, model.item_factors_, model.user_factors_, heard, model.weighting_)
        return {"users": matrix.shape[0], "items": len(heard), "factors": config.cf.factors}

    runner.run("cf", inputs, compute)


def write_cf(writer: ModelWriter, item_factors, user_factors, heard, weighting) -> None:
    """ALS factors (n × f, u × f) and what serving derives from them once: YᵀY (f × f, float64) for fold-in,
    the heard tracks' rows by decreasing factor norm (for the exact top-k of :mod:`gems.topk`) and the fitted
    confidence weighting (:class:`gems.cf.Weighting`); and those factors in that order, so a query reads the
    first chunks of the exact top-k as one block and a batch maps them instead of copying them."""
    from gems.topk import norms_of

    items = np.asarray(item_factors, dtype=np.float32)
    writer.save_array(layout.USER_FACTORS, np.asarray(user_factors, dtype=np.float32))
    writer.save_array(layout.ITEM_FACTORS, items)
    writer.save_array(layout.GRAM, gram_of(items))
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


def fit_neighbours(runner: StageRunner, config: BuildConfig) -> None:
    inputs = {**interaction_inputs(runner), "k": config.neighbours.k}
    if inputs[layout.INTERACTIONS[0]] is None:
        return

    def compute() -> dict[str, Any]:
        from gems.neighbours import ItemNeighbours

        neighbours = ItemNeighbours(k=config.neighbours.k).fit(load_interactions(runner, n_tracks(runner)))
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
    sources = [layout.USERS, layout.AUDIO_ROWS, layout.AUDIO_VECTORS, layout.TRACKS]
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
    """(RankingInputs fitted without the held-back tracks, the training listeners' queries, the hold-out)."""
    from gems.cf import ALSModel
    from gems.neighbours import ItemNeighbours
    from gems.popularity import popularity_from_matrix
    from gems.rank import Queries, RankingInputs
    from gems.rank.training import choose_holdout, without

    staged = runner.staged
    matrix = load_interactions(runner, n_tracks(runner))
    users = staged.table(layout.USERS).column("user_id").to_numpy(zero_copy_only=False).astype(str)
    holdout = choose_holdout(matrix, config.ranker, np.isin(users, np.asarray(sorted(exclude_users), dtype=str)))
    kept = without(matrix, holdout)
    codes = staged.array(layout.codes("soundtrack"), mmap=False)
    popularity = popularity_from_matrix(kept, codes, head_share=config.popularity.head_share)
    similarity = ItemNeighbours(k=config.neighbours.k).fit(kept).to_arrays()
    als = ALSModel(**asdict(config.cf), show_progress=show_progress).fit(kept)
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
        item_factors=als.item_factors_,
        user_factors=als.user_factors_,
        neighbours=(similarity["indptr"], similarity["indices"], similarity["data"]),
        batch=True,
        **parts,
    )
    return inputs, Queries.of_listeners((kept.indptr, kept.indices, kept.data), holdout.users), holdout
