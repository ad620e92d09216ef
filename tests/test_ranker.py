"""The learned second stage: its hold-out, its features on hand-made blocks, what a build on planted listening
learns, and how its probability meets the popularity discount."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from gems.rank import Queries, RankingInputs, RankOptions, rank
from gems.rank.features import NAMES, features
from gems.rank.learned import RankerParams
from gems.rank.retrieve import candidates_for
from gems.rank.score import scaled_parts
from gems.rank.training import choose_holdout, without


def column(matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, NAMES.index(name)]


def test_the_holdout_is_seeded_never_takes_an_excluded_listener_and_keeps_a_track_of_each():
    rng = np.random.default_rng(0)
    matrix = sp.random(300, 80, density=0.15, random_state=1, format="csr", dtype=np.float32)
    matrix.data[:] = rng.integers(1, 5, len(matrix.data))
    excluded = np.zeros(300, dtype=bool)
    excluded[:100] = True
    params = RankerParams(max_queries=50, min_tracks=5, pair_budget=0.5)
    holdout = choose_holdout(matrix, params, excluded)
    again = choose_holdout(matrix, params, excluded)
    np.testing.assert_array_equal(holdout.items, again.items)
    assert len(holdout.users) == 50 and not excluded[holdout.users].any()
    kept = without(matrix, holdout)
    for i, user in enumerate(holdout.users):
        held, had = holdout.held(i), matrix[user].indices
        assert len(held) >= 1 and set(held) < set(had)
        assert set(kept[user].indices) == set(had) - set(held)  # exactly the held-back pairs are gone
    assert kept.nnz == matrix.nnz - len(holdout.items)


@pytest.fixture
def block():
    """Six tracks: 0 and 1 the query; 2 listed as a neighbour of both, 3 of one, 4 of none but by the query's
    artist; 5 by an artist with two tracks. Listeners 10, 4, 3, 1, 1, 6."""
    similarity = sp.csr_matrix(
        (np.array([0.5, 0.2, 0.4], np.float32), (np.array([0, 0, 1]), np.array([2, 3, 2]))), shape=(6, 6)
    )
    factors = np.array([[1, 0], [0.8, 0.2], [2.0, 0.0], [0.1, 0.1], [0.3, 0.4], [0.0, 3.0]], np.float32)
    listeners = np.array([10, 4, 3, 1, 1, 6])
    inputs = RankingInputs(
        listeners=listeners,
        is_tail=listeners < 4,
        is_theme=np.zeros(6, dtype=bool),
        soundtrack_codes=np.full(6, -1),
        artist_codes=np.array([0, 1, 2, 3, 0, 4]),
        item_factors=factors,
        user_factors=np.array([[1.0, 0.5]], np.float32),
        neighbours=(similarity.indptr.astype(np.int64), similarity.indices, similarity.data),
    )
    queries = Queries.of([np.array([0, 1])], np.array([0]))
    candidates = candidates_for(inputs, queries, RankOptions(k=5))
    return inputs, queries, candidates


def test_features_of_a_hand_made_block(block):
    inputs, queries, candidates = block
    matrix = features(inputs, queries, candidates, scaled_parts(candidates))
    by_row = {int(r): i for i, r in enumerate(candidates.rows)}
    assert set(by_row) == {2, 3, 4, 5}
    count, near = column(matrix, "near_count"), column(matrix, "near")
    assert count[by_row[2]] == 2 and count[by_row[3]] == 1 and count[by_row[4]] == 0
    assert near[by_row[2]] == pytest.approx(0.9) and column(matrix, "near_per_listener")[by_row[2]] == pytest.approx(
        0.3
    )
    # artist 0 holds tracks 0 and 4 (11 listeners): track 4 is its one listener's worth
    assert column(matrix, "kin_artist")[by_row[4]] == pytest.approx(0.5)
    assert column(matrix, "artist_tracks")[by_row[4]] == pytest.approx(np.log1p(2))
    assert column(matrix, "artist_listeners")[by_row[4]] == pytest.approx(np.log1p(11))
    assert column(matrix, "artist_share")[by_row[4]] == pytest.approx(1 / 11)
    assert np.isnan(column(matrix, "album_share")).all()  # no albums known
    # taste direction v·u/‖v‖ for u = (1, 0.5): tracks 2, 3, 4, 5 → 1, 0.15/√0.02, 1, 0.5; ÷ the largest (track 3)
    cosine, largest = column(matrix, "cf_cosine"), 0.15 / np.sqrt(0.02)
    assert cosine[by_row[3]] == pytest.approx(1.0) and cosine[by_row[2]] == pytest.approx(1 / largest)
    assert cosine[by_row[5]] == pytest.approx(0.5 / largest)
    assert column(matrix, "factor_norm")[by_row[5]] == pytest.approx(3.0)
    np.testing.assert_allclose(column(matrix, "history_size"), np.log1p(2), rtol=1e-6)


def planted_listens(users: int = 400, groups: int = 8, per_group: int = 40, seed: int = 0):
    """Listeners of one taste group each hear 15 of its tracks, chosen ∝ 1 / rank (a few hits, many deep cuts)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, per_group + 1)
    rows = []
    for u in range(users):
        g = u % groups
        for t in rng.choice(per_group, size=15, replace=False, p=weights / weights.sum()):
            rows.append((f"u{u:03d}", f"g{g}-t{t:02d}", f"Track {t}", f"Artist {g}-{t % 4}"))
    return pd.DataFrame(rows, columns=["user", "track", "title", "artist"])


@pytest.fixture(scope="module")
def learned_model(tmp_path_factory):
    from gems.config import BuildConfig, CFParams, ListensSource, RankerParams
    from gems.model import Model
    from gems.stages import build_model

    root = tmp_path_factory.mktemp("planted")
    path = root / "listens.csv"
    planted_listens().to_csv(path, index=False)
    config = BuildConfig(
        model=root / "model",
        listens=(ListensSource(path, "table"),),
        cf=CFParams(factors=16, iterations=10),
        ranker=RankerParams(min_queries=50, max_queries=300, trees=60),
    )
    return Model(build_model(config).path)


def test_a_build_on_planted_listening_learns_to_find_held_back_tracks(learned_model):
    info = learned_model.folder.json("ranker/info.json")
    assert "skipped" not in info and info["features"] == list(NAMES)
    validation = info["validation"]
    at = f"discount {RankOptions().discount:g}"
    # the held-back tracks are the group's: a ranker that learned anything finds them more often than the blend
    assert validation["ranker"]["discount 0"]["ndcg@50"] > validation["blend"]["discount 0"]["ndcg@50"]
    assert validation["ranker"][at]["psr@50"] >= validation["blend"][at]["psr@50"]
    assert learned_model.inputs.ranker is not None
    from gems.serve.catalogue import ranking_summary

    summary = ranking_summary(learned_model)
    assert summary.startswith("ranking: learned") and f"PSR@50 {validation['ranker'][at]['psr@50']:.3f}" in summary


def test_the_score_is_the_probability_times_the_popularity_discount(learned_model):
    inputs = learned_model.inputs
    indptr, indices, _ = learned_model.interactions
    history = np.asarray(indices[indptr[0] : indptr[1]], dtype=np.int64)
    queries = Queries.of([history], np.array([0]))
    for discount in (0.0, 1.0):
        ranked = rank(inputs, queries, RankOptions(k=10, discount=discount, tail_share=0.0))
        assert ranked.learned and ((ranked.relevance > 0) & (ranked.relevance < 1)).all()  # probabilities
        picked = ranked.positions[0]
        listeners = inputs.listeners[ranked.candidates.rows]
        expected = ranked.relevance * (1.0 + listeners) ** -discount
        np.testing.assert_allclose(ranked.scores[0], expected[picked], rtol=1e-5)
        best = np.sort(expected)[::-1][:10]
        np.testing.assert_allclose(ranked.scores[0], best, rtol=1e-5)  # the ten largest, best first
    plain = rank(inputs, queries, RankOptions(k=10, discount=0.0, tail_share=0.0)).items[0]
    deep = rank(inputs, queries, RankOptions(k=10, discount=1.0, tail_share=0.0)).items[0]
    assert inputs.listeners[deep].mean() < inputs.listeners[plain].mean()


def test_a_batch_ranks_with_the_compiled_trees_and_gets_the_same_lists(learned_model):
    """Export's inputs score through gems.rank.forest, a single query through LightGBM's C library: every
    listener's relevance is the same to the bit, and so are the lists."""
    users = np.arange(len(learned_model.interactions[0]) - 1)
    queries = Queries.of_listeners(learned_model.interactions, users)
    batch_inputs = learned_model.batch_inputs
    assert batch_inputs.ranker is not learned_model.inputs.ranker
    options = RankOptions(k=20)
    alone = rank(learned_model.inputs, queries, options)
    batch = rank(batch_inputs, queries, options)
    assert alone.learned and batch.learned
    np.testing.assert_array_equal(batch.relevance, alone.relevance)
    np.testing.assert_array_equal(batch.items, alone.items)


def test_a_single_recommend_never_imports_numba_and_an_export_compiles_with_it(learned_model, tmp_path):
    """numba's import and compilation (~1.2 s) would cost a cold `gems recommend` more than its trees do."""
    import subprocess
    import sys

    from gems.artifacts import layout

    user = learned_model.folder.table(layout.USERS).column("user_id")[0].as_py()
    probe = (
        "import sys, contextlib, io; from gems.cli import main; "
        "out = io.StringIO(); ctx = contextlib.redirect_stdout(out); ctx.__enter__(); "
        "code = main(sys.argv[1:]); ctx.__exit__(None, None, None); "
        "print(code, 'numba' in sys.modules)"
    )
    path = str(learned_model.path)
    runs = {
        "recommend": ["recommend", "-m", path, "--user", user, "--json"],
        "export": ["export", "-m", path, "--out", str(tmp_path / "recs.csv"), "--no-progress", "--workers", "1"],
    }
    seen = {}
    for name, args in runs.items():
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
        seen[name] = done.stdout.strip().splitlines()[-1]
    assert seen == {"recommend": "0 False", "export": "0 True"}
