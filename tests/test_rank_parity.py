"""One ranking path: a block of queries ranks each exactly as that query alone, and the vectorised selection
equals the plain greedy loop (kept here as its oracle) over caps, tail places, deep cuts and themes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from gems.cf import FoldIn, Weighting
from gems.popularity import hit_mask, soundtrack_themes, tail_mask
from gems.rank import Queries, RankingInputs, RankOptions, rank
from gems.rank.select import final_lists, hits_spaced, tail_places


def synthetic_inputs(seed: int = 0, n: int = 400, users: int = 60) -> tuple[RankingInputs, list[np.ndarray]]:
    """Random but structured inputs: ALS factors, item neighbours, audio for most tracks, artists and
    soundtracks with themes, listener counts full of ties; and each listener's history."""
    rng = np.random.default_rng(seed)
    soundtrack = rng.integers(0, 25, n)
    soundtrack[rng.random(n) < 0.1] = -1
    artist = rng.integers(0, 40, n)
    histories = []
    for _ in range(users):
        size = int(rng.integers(3, 25))
        p = 1 / (1 + np.arange(n)) ** 0.8
        histories.append(np.sort(rng.choice(n, size=size, replace=False, p=p / p.sum())))
    matrix = sp.csr_matrix(
        (
            np.ones(sum(map(len, histories)), np.float32),
            np.concatenate(histories),
            np.r_[0, np.cumsum([len(h) for h in histories])],
        ),
        shape=(users, n),
    )
    listeners = np.bincount(matrix.indices, minlength=n)
    heard = listeners > 0
    factors = (rng.standard_normal((n, 8)) * heard[:, None]).astype(np.float32)
    similarity = sp.random(n, n, density=0.05, random_state=seed, dtype=np.float32, format="csr")
    similarity = similarity.multiply(heard[:, None]).multiply(heard[None, :]).tocsr()
    audio_rows = np.flatnonzero(rng.random(n) < 0.85)
    vectors = rng.standard_normal((len(audio_rows), 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    position = np.full(n, -1)
    position[audio_rows] = np.arange(len(audio_rows))
    weighting = Weighting("log", 1.0)
    inputs = RankingInputs(
        listeners=listeners,
        is_tail=tail_mask(listeners),
        is_theme=soundtrack_themes(soundtrack, listeners, listeners.astype(float)),
        soundtrack_codes=soundtrack,
        artist_codes=artist,
        is_soundtrack=rng.random(n) < 0.7,
        item_factors=factors,
        user_factors=rng.standard_normal((users, 8)).astype(np.float32),
        fold=FoldIn(factors, factors.T.astype(np.float64) @ factors, 0.1, weighting),
        neighbours=(similarity.indptr.astype(np.int64), similarity.indices, similarity.data),
        audio_position=position,
        audio_vectors=vectors,
    )
    return inputs, histories


OPTIONS = [
    RankOptions(k=10),
    RankOptions(k=20, per_soundtrack=2, discount=0.3),
    RankOptions(k=15, per_soundtrack=1, tail_share=0.4, calibrated=False),
    RankOptions(k=8, tail_share=0.0, tail_weights=None, scope="soundtrack"),
    RankOptions(k=12, deep_cuts=True, per_soundtrack=3),
    RankOptions(k=10, weights=(0.0, 0.0, 1.0, 0.0), tail_weights=(0.0, 1.0, 0.0, 1.0), tail_share=0.5),
]


@pytest.mark.parametrize("options", OPTIONS, ids=range(len(OPTIONS)))
@pytest.mark.parametrize("known", [True, False], ids=["listeners", "folded-in"])
def test_a_block_ranks_each_query_as_it_ranks_alone(options, known):
    inputs, histories = synthetic_inputs()
    users = np.arange(len(histories)) if known else None
    together = rank(inputs, Queries.of(histories, users), options)
    for i, history in enumerate(histories):
        alone = rank(inputs, Queries.of([history], None if users is None else users[i : i + 1]), options)
        assert alone.items[0].tolist() == together.items[i].tolist(), f"query {i}"
        np.testing.assert_allclose(alone.scores[0], together.scores[i], rtol=1e-6)


# ----------------------------------------------------------------------------------------- the oracle


def greedy_pick(inputs, order, tails, options, history, n_tail):
    """The plain loop: head places by score, reserved places by the tail score, then the rest; the cap counts
    every pick of a soundtrack; then each loved soundtrack's theme moves behind its last deep cut; then, with a
    discount, only the k − min(k, hit_spacing) + 1 best-scoring hits take part (the others only where nothing
    else fills the list), and each place takes the first pick left that may stand there (a hit only once the
    list is hit_spacing × the hits placed long), else the first left."""
    cap, k = options.per_soundtrack, options.k
    chosen, counts = [], {}
    every_hit = order
    if options.discount > 0 and options.hit_spacing > 0:  # room for k − min(k, spacing) + 1 hits, the best
        is_hit = hit_mask(inputs.listeners)
        allowed = [r for r in order if is_hit[r]][: k - min(k, options.hit_spacing) + 1]
        order = [r for r in order if not is_hit[r] or r in allowed]
        tails = [r for r in tails if not is_hit[r] or r in allowed]

    def take(rows, limit):
        for row in rows:
            if len(chosen) >= limit:
                return
            code = int(inputs.soundtrack_codes[row])
            if row in chosen or (cap and code >= 0 and counts.get(code, 0) >= cap):
                continue
            chosen.append(int(row))
            counts[code] = counts.get(code, 0) + 1

    take(order, k - n_tail)
    take(tails, k)
    take(order, k)
    take(every_hit, k)  # a list the others cannot fill takes the hits left out
    loved = set(np.unique(inputs.soundtrack_codes[history]).tolist()) - {-1}
    out = list(chosen)
    for row in chosen:
        code = int(inputs.soundtrack_codes[row])
        if inputs.is_theme[row] and code in loved:
            later = [i for i, r in enumerate(out) if inputs.soundtrack_codes[r] == code and r != row]
            if later and later[-1] > out.index(row):
                out.remove(row)
                out.insert(later[-1], row)
    if options.discount > 0 and options.hit_spacing > 0:
        out = greedy_spacing(out, hit_mask(inputs.listeners), options.hit_spacing)
    return out


def greedy_spacing(picks, is_hit, spacing):
    """Each place takes the first pick left that may stand there — a hit only once the list is spacing × the
    hits placed long — else the first pick left."""
    spaced, left = [], list(picks)
    while left:
        placed = sum(bool(is_hit[r]) for r in spaced)
        allowed = [r for r in left if not is_hit[r] or len(spaced) >= spacing * placed]
        spaced.append((allowed or left)[0])
        left.remove(spaced[-1])
    return spaced


@pytest.mark.parametrize("spacing", [1, 2, 3, 10])
def test_hit_spacing_equals_the_greedy_loop(spacing):
    rng = np.random.default_rng(spacing)
    is_hit = rng.random(60) < 0.4
    out = np.array([rng.permutation(60)[:25] for _ in range(40)])
    out[rng.random(40) < 0.3, -int(rng.integers(1, 20)) :] = -1  # some lists end early
    spaced = hits_spaced(out, is_hit, spacing)
    for row, got in zip(out, spaced):
        picks = row[row >= 0].tolist()
        assert got[got >= 0].tolist() == greedy_spacing(picks, is_hit, spacing)
        assert (got[len(picks) :] == -1).all()
        # while other picks last, the first p + 1 places hold at most p // spacing + 1 hits
        hit = is_hit[got[got >= 0]]
        last_other = np.flatnonzero(~hit).max(initial=-1)
        place = np.arange(last_other + 1)
        assert (np.cumsum(hit)[: last_other + 1] <= place // spacing + 1).all()


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_selection_equals_the_greedy_loop(seed):
    inputs, histories = synthetic_inputs(seed)
    rng = np.random.default_rng(100 + seed)
    options = RankOptions(
        k=int(rng.integers(3, 30)),
        per_soundtrack=int(rng.integers(0, 4)),
        tail_share=float(rng.choice([0.0, 0.15, 0.5, 1.0])),
        calibrated=bool(rng.integers(0, 2)),
        discount=float(rng.choice([0.0, 1.0])),
        hit_spacing=int(rng.choice([0, 2, 3, 10])),
    )
    queries = Queries.of(histories)
    from gems.rank.retrieve import candidates_for

    candidates = candidates_for(inputs, queries, options)
    scores = rng.random(len(candidates.rows)).astype(np.float32)
    scores[rng.random(len(scores)) < 0.1] = 0.0  # some candidates score nothing
    tail_scores = rng.random(len(scores)).astype(np.float32)
    out = final_lists(inputs, candidates, scores, tail_scores, options, queries.histories)
    places = np.minimum(tail_places(inputs, options, queries.histories), options.k)
    for i in range(len(histories)):
        own = slice(candidates.indptr[i], candidates.indptr[i + 1])
        rows, s, t = candidates.rows[own], scores[own], tail_scores[own]
        order = rows[np.lexsort((-s,))][s[np.lexsort((-s,))] > 0]
        tail_order = [r for r in rows[np.lexsort((-t,))] if inputs.is_tail[r] and t[rows == r][0] > 0]
        expected = greedy_pick(inputs, order, tail_order, options, queries.histories[i], int(places[i]))
        got = out[i][out[i] >= 0].tolist()
        assert got == expected, f"query {i}"


def test_recommend_for_a_listener_gives_the_rows_export_writes(tmp_path):
    """`gems recommend --user U --json` and `gems export` give the same tracks in the same order."""
    from gems.cli import main
    from gems.config import BuildConfig
    from gems.stages import build_model
    from listenskit import write_listens

    config = BuildConfig(model=tmp_path / "m", listens=write_listens(tmp_path / "listens.csv", users=60))
    build_model(config)
    out = tmp_path / "recs.csv"
    assert (
        main(
            ["export", "-m", str(config.model), "-k", "12", "--per-soundtrack", "2", "--out", str(out), "--no-progress"]
        )
        == 0
    )
    import pandas as pd

    exported = pd.read_csv(out).groupby("user_id")["track_id"].apply(list)
    import contextlib
    import io

    for user in exported.index[:25]:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert (
                main(
                    [
                        "recommend",
                        "-m",
                        str(config.model),
                        "--user",
                        user,
                        "-k",
                        "12",
                        "--per-soundtrack",
                        "2",
                        "--json",
                    ]
                )
                == 0
            )
        assert [p["track_id"] for p in json.loads(buffer.getvalue())] == exported[user], user


def test_large_audio_spaces_search_their_faiss_index_with_the_answer_of_a_scan(tmp_path, monkeypatch):
    """Above INDEX_FROM vectors retrieval asks the model's faiss index (exact below 100k vectors): the same
    picks as the exact scan, alone or in a block."""
    import gems.rank.retrieve as retrieval
    from gems.model import Model
    from gems.serve.recommend import picks_for
    from modelkit import write_model

    rng = np.random.default_rng(4)
    n = 300
    model = Model(
        write_model(
            tmp_path / "m",
            titles=[f"T{i}" for i in range(n)],
            soundtracks=[f"S{i % 20}" for i in range(n)],
            vectors=rng.standard_normal((n, 8)),
            listeners=list(rng.integers(1, 30, n)),
        )
    )
    options = RankOptions(k=12, tail_share=0.2, weights=(0.0, 0.0, 1.0, 0.2))
    seeds = [[3, 7], [10], [42, 43, 44]]
    scanned = picks_for(model, seeds, options)
    monkeypatch.setattr(retrieval, "INDEX_FROM", 10)
    searched = picks_for(model, seeds, options)
    assert [[p.track_id for p in q] for q in searched] == [[p.track_id for p in q] for q in scanned]
    assert [p.track_id for p in picks_for(model, seeds[:1], options)[0]] == [p.track_id for p in searched[0]]


@pytest.mark.parametrize("k, spacing", [(10, 10), (25, 10), (7, 3), (5, 10)])
def test_the_first_places_of_a_list_hold_one_hit_whatever_the_candidates(k, spacing):
    """Half the catalogue tied at the top (all hits), the best-scoring candidates all hits: a list of k holds
    the k − min(k, spacing) + 1 best-scoring hits and the best other tracks, and its first ``spacing`` places
    hold one hit; at the familiar end (no discount) the hits stay."""
    from gems.rank.retrieve import Candidates

    n = 100
    listeners = np.where(np.arange(n) < 50, 1000, 1 + np.arange(n) % 7)
    inputs = RankingInputs(
        listeners=listeners,
        is_tail=listeners < 5,
        is_theme=np.zeros(n, dtype=bool),
        soundtrack_codes=np.full(n, -1),
    )
    rows = np.arange(n)
    scores = np.where(rows < 50, 2.0 - rows / 100, 1.0 - rows / 1000).astype(np.float32)  # hits score best
    candidates = Candidates(np.array([0, n]), rows, rows.astype(np.int64), {})
    history = [np.zeros(0, dtype=np.int64)]
    spaced = RankOptions(k=k, discount=1.0, hit_spacing=spacing, tail_share=0.0)
    out = final_lists(inputs, candidates, scores, scores, spaced, history)[0]
    allowed = k - min(k, spacing) + 1
    assert sorted(out[out < 50].tolist()) == list(range(allowed))  # the best-scoring hits, no more
    assert sorted(out[out >= 50].tolist()) == list(range(50, 50 + k - allowed))  # the best of the others
    assert (out[:spacing] < 50).sum() == 1
    familiar = final_lists(inputs, candidates, scores, scores, spaced.with_overrides(discount=0.0), history)[0]
    assert familiar.tolist() == list(range(k))
