"""Ranking on hand-made catalogues whose right answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from gems.errors import ParameterError, UnknownTrackError
from gems.model import Model
from gems.rank import Queries, RankOptions
from gems.serve import recommend
from gems.serve.recommend import picks_for
from modelkit import write_model

AUDIO_ONLY = (0.0, 0.0, 1.0, 0.0)


def rank(model, seeds, options):
    """The picks for seed track rows, through the serving layer (a block of one query)."""
    return picks_for(model, [seeds], options)[0]


def plain(**kwargs) -> RankOptions:
    """Options without reserved long-tail places or a popularity discount, so each rule is tested on its own."""
    return RankOptions(**{"discount": 0.0, "tail_share": 0.0, "calibrated": False, "tail_weights": None, **kwargs})


@pytest.fixture
def near_duplicates(tmp_path):
    """t0 the seed; t1 a popular near-duplicate of it; t2 an obscure track almost as close; t3 opposite."""
    vectors = np.array([[1.0, 0.0], [0.99, 0.05], [0.95, 0.3], [-1.0, 0.2]])
    return Model(
        write_model(
            tmp_path / "m",
            titles=["Seed", "Famous Twin", "Obscure Cousin", "Opposite"],
            soundtracks=["A", "B", "C", "D"],
            vectors=vectors,
            listeners=[40, 100, 2, 1],
        )
    )


def test_without_discount_the_nearest_track_wins_and_the_opposite_comes_last(near_duplicates):
    picks = rank(near_duplicates, [0], plain(k=3, discount=0.0, weights=AUDIO_ONLY))
    assert [p.title for p in picks] == ["Famous Twin", "Obscure Cousin", "Opposite"]
    assert picks[0].similarity == pytest.approx(1.0) and picks[0].score == pytest.approx(1.0)
    assert picks[2].similarity == pytest.approx(0.01)  # the least similar candidate: last, not dropped


def test_discount_pushes_the_popular_near_duplicate_below_the_obscure_one(near_duplicates):
    picks = rank(near_duplicates, [0], plain(k=2, discount=0.5, weights=AUDIO_ONLY))
    assert [p.title for p in picks] == ["Obscure Cousin", "Famous Twin"]
    assert picks[0].is_tail and not picks[1].is_tail
    assert picks[0].popularity == 2 and picks[1].popularity == 100
    # score = relevance · (1 + listeners)^-0.5
    assert picks[0].score == pytest.approx(picks[0].similarity * 3**-0.5)


def test_seeds_are_never_recommended_and_explanations_name_the_nearest_seed(near_duplicates):
    picks = rank(near_duplicates, [0, 1], plain(k=5, discount=0.5, weights=AUDIO_ONLY))
    assert [p.track_id for p in picks] == ["t2", "t3"]
    obscure = picks[0]
    # t2 is nearer to t1 than to t0
    assert obscure.seed == "t1" and obscure.why.startswith("Sounds close to “Famous Twin” (B)")
    assert "long-tail" in obscure.why and "2 listeners" in obscure.why


def test_explanations_say_how_lesser_known_a_pick_is(near_duplicates):
    picks = {p.title: p.why for p in rank(near_duplicates, [0], plain(k=3, discount=0.0, weights=AUDIO_ONLY))}
    # listeners 40 (the seed), 100, 2, 1: percentiles 75, 100, 50, 25
    assert "A hit, among the 1% most played: 100 listeners, percentile 100" in picks["Famous Twin"]
    assert (
        "A rarely played long-tail track: 2 listeners, percentile 50 (50% of the catalogue is more popular)"
        in picks["Obscure Cousin"]
    )


def test_per_soundtrack_cap(tmp_path):
    vectors = np.array([[1.0, 0.0], [0.99, 0.1], [0.98, 0.15], [0.97, 0.2], [0.5, 0.5]])
    model = Model(
        write_model(
            tmp_path / "m",
            titles=list("ABCDE"),
            soundtracks=["S", "X", "X", "X", "Y"],
            vectors=vectors,
            listeners=[1] * 5,
        )
    )
    options = dict(k=4, discount=0.0, weights=AUDIO_ONLY)
    assert [p.title for p in rank(model, [0], plain(**options, per_soundtrack=2))] == ["B", "C", "E"]  # not D
    assert [p.title for p in rank(model, [0], plain(**options, per_soundtrack=0))] == ["B", "C", "D", "E"]


@pytest.fixture
def soundtrack_model(tmp_path):
    """Soundtrack S: theme t0 (50 listeners), deep cuts t1, t2; soundtrack T: theme t3, cut t4; U: t5 alone."""
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.3], [0.95, 0.05], [0.7, 0.4], [0.6, 0.6]])
    return Model(
        write_model(
            tmp_path / "m",
            titles=["Theme S", "Cut S1", "Cut S2", "Theme T", "Cut T1", "Lone U"],
            soundtracks=["S", "S", "S", "T", "T", "U"],
            vectors=vectors,
            listeners=[50, 3, 2, 60, 4, 1],
            simulated=True,
            is_soundtrack=[True, True, True, True, True, False],
        )
    )


def test_theme_and_deep_cut_words(soundtrack_model):
    picks = rank(soundtrack_model, [1], plain(k=3, discount=0.0, weights=AUDIO_ONLY, per_soundtrack=0))
    by_title = {p.title: p.why for p in picks}
    assert "The theme of S" in by_title["Theme S"]
    assert "A deep cut of S" in by_title["Cut S2"] and "simulated" in by_title["Cut S2"]


def test_a_loved_soundtracks_theme_never_ranks_above_its_deep_cuts(soundtrack_model):
    # without the rule, Theme S (cos 0.99 to Cut S1) would come before Cut S2 (cos 0.93)
    picks = rank(soundtrack_model, [1], plain(k=5, discount=0.0, weights=AUDIO_ONLY, per_soundtrack=0))
    titles = [p.title for p in picks]
    assert titles.index("Theme S") > titles.index("Cut S2")


def test_deep_cuts_only_and_soundtrack_scope(soundtrack_model):
    deep = rank(soundtrack_model, [0], plain(k=5, discount=0.0, weights=AUDIO_ONLY, deep_cuts=True))
    assert {p.title for p in deep} == {"Cut S1", "Cut S2"}
    scoped = rank(soundtrack_model, [0], plain(k=10, discount=0.0, weights=AUDIO_ONLY, scope="soundtrack"))
    assert "Lone U" not in {p.title for p in scoped}
    assert "Lone U" in {p.title for p in rank(soundtrack_model, [0], plain(k=10, weights=AUDIO_ONLY))}


def test_tail_share_reserves_the_last_places_for_long_tail_tracks(tmp_path):
    # popular tracks closest to the seed, then obscure ones further away
    angles = np.linspace(0.0, 1.2, 21)
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    listeners = [30] + [100] * 10 + [30] * 10  # the ten 100s hold 75% of the listens: the head
    titles = [f"T{i}" for i in range(21)]
    model = Model(
        write_model(tmp_path / "m", titles=titles, soundtracks=[None] * 21, vectors=vectors, listeners=listeners)
    )
    without = rank(model, [0], plain(k=10, discount=0.0, weights=AUDIO_ONLY))
    shared = rank(model, [0], plain(k=10, discount=0.0, weights=AUDIO_ONLY, tail_share=0.3))
    assert [p.title for p in shared[:7]] == [p.title for p in without[:7]]
    assert all(p.is_tail for p in shared[7:]) and sum(p.is_tail for p in shared) > sum(p.is_tail for p in without)
    # the reserved places hold the best-scoring tail tracks not already in the list, in score order
    first = {p.title for p in shared[:7]}
    tail_by_score = [t for i, t in enumerate(titles[1:], 1) if model.is_tail[i] and t not in first]
    assert [p.title for p in shared[7:]] == tail_by_score[:3]


def test_calibrated_tail_places_follow_the_querys_own_long_tail_share(tmp_path):
    angles = np.linspace(0.0, 1.2, 21)
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    listeners = [100] * 10 + [40] * 11  # t0..t9 popular (69% of the listens), t10..t20 long tail
    model = Model(
        write_model(
            tmp_path / "m",
            titles=[f"T{i}" for i in range(21)],
            soundtracks=[None] * 21,
            vectors=vectors,
            listeners=listeners,
        )
    )
    options = plain(k=10, weights=AUDIO_ONLY, tail_share=0.1, calibrated=True)
    assert not model.is_tail[0] and model.is_tail[20]
    # a mainstream seed: no reserved places, the list is the plain one
    assert [p.title for p in rank(model, [0], options)] == [
        p.title for p in rank(model, [0], plain(k=10, weights=AUDIO_ONLY))
    ]
    # a long-tail seed: its own share is 1, so all k places go to long-tail tracks
    from_tail = rank(model, [20], options)
    assert len(from_tail) == 10 and all(p.is_tail for p in from_tail)
    # half of its tracks in the tail: five places, the last five
    half = rank(model, [0, 20], options)
    assert all(p.is_tail for p in half[5:])


def test_kin_lifts_a_rare_track_by_the_seeds_artist_and_says_so(tmp_path):
    """t1 sounds closest to the seed but is by someone else; t2, a rarely played track by the seed's artist,
    sounds a little further away."""
    vectors = np.array([[1.0, 0.0], [0.95, 0.3], [0.8, 0.6], [0.0, 1.0]])
    model = Model(
        write_model(
            tmp_path / "m",
            titles=["Seed", "Closest", "Deep Cut", "Far"],
            soundtracks=[None] * 4,
            vectors=vectors,
            listeners=[30, 20, 1, 5],
            artists=["Ann", "Bo", "Ann", "Cy"],
        )
    )
    sound_only = rank(model, [0], plain(k=2, weights=(0.0, 0.0, 1.0, 0.0)))
    assert [p.title for p in sound_only] == ["Closest", "Deep Cut"]
    with_kin = rank(model, [0], plain(k=2, weights=(0.0, 0.0, 1.0, 1.0)))
    assert [p.title for p in with_kin] == ["Deep Cut", "Closest"]
    assert with_kin[0].why.startswith("Also by Ann, like “Seed” and sounds close to it.")


def test_relevance_blends_the_kinds_each_track_has(tmp_path):
    """t1 has audio and listens, t2 audio only (no listens): each is judged on what it has."""
    vectors = np.array([[1.0, 0.0], [0.6, 0.8], [0.6, 0.8]])
    factors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    model = Model(
        write_model(
            tmp_path / "m",
            titles=["Seed", "Both", "AudioOnly"],
            soundtracks=[None] * 3,
            vectors=vectors,
            listeners=[3, 3, 0],
            item_factors=factors,
        )
    )
    picks = {p.title: p for p in rank(model, [0], plain(k=3, discount=0.0, weights=(0.5, 0.0, 0.5, 0.0)))}
    # Both: (0.5·1 + 0.5·1) / 1 = 1 (its audio cos 0.6 is the best audio match, scaled to 1); AudioOnly: 0.5·1/0.5
    assert picks["Both"].similarity == pytest.approx(1.0) and picks["AudioOnly"].similarity == pytest.approx(1.0)
    assert picks["Both"].why.startswith("Liked by listeners of “Seed” and sounds close to it.")
    assert (
        picks["AudioOnly"].why.startswith("Sounds close to “Seed”")
        and "Nobody has played it yet" in picks["AudioOnly"].why
    )


def test_titles_resolve_exactly_fuzzily_or_with_suggestions(tmp_path):
    vectors = np.eye(4)
    model = Model(
        write_model(
            tmp_path / "m",
            titles=["Main Theme", "Main Theme", "Through Space", "Battle Epic"],
            soundtracks=["Wesnoth", "Singularity", "Singularity", "Wesnoth"],
            vectors=vectors,
            listeners=[1, 1, 1, 1],
        )
    )
    lookup = model.lookup
    assert lookup.resolve("t2") == 2
    assert lookup.resolve("through space") == 2
    assert lookup.resolve("Main Theme (Singularity)") == 1
    assert lookup.resolve("Battle Epik") == 3
    with pytest.raises(UnknownTrackError, match="matches several tracks.*Main Theme \\(Wesnoth\\)"):
        lookup.resolve("main theme")
    with pytest.raises(UnknownTrackError, match="no track matches 'Zzyzx'"):
        lookup.resolve("Zzyzx")
    with pytest.raises(ParameterError):
        recommend(model, RankOptions(), like=[])


def test_options_are_checked():
    with pytest.raises(ParameterError, match="discount"):
        plain(discount=-0.1)
    with pytest.raises(ParameterError, match="k must"):
        plain(k=0)
    with pytest.raises(ParameterError, match="tail_share"):
        RankOptions(tail_share=1.5)
    with pytest.raises(ParameterError, match="scope"):
        RankOptions(scope="films")


def test_seeds_by_artist_and_title_and_twins_of_one_song(tmp_path):
    """t0/t1/t2 are one song by Mark Ronson (album, single, remaster); t3 is another artist's song of that
    title; t4 a live version."""
    model = Model(
        write_model(
            tmp_path / "m",
            titles=["Uptown Funk", "Uptown Funk", "Uptown Funk - Remastered 2015", "Uptown Funk", "Uptown Funk (Live)"],
            soundtracks=["Uptown Special", None, "Hits", "Covers", "Live"],
            artists=["Mark Ronson", "Mark Ronson feat. Bruno Mars", "Mark Ronson", "The Band", "Mark Ronson"],
            vectors=np.eye(5),
            listeners=[3, 9, 1, 2, 1],
            durations=[270.0, 271.0, 270.0, 200.0, 290.0],
        )
    )
    lookup = model.lookup
    # the plain title fits different songs: ambiguous, every suggestion naming its artist
    with pytest.raises(UnknownTrackError, match="matches several tracks.*Uptown Funk by The Band"):
        lookup.resolve("uptown funk")
    # an artist picks the song; its twins (t0, t1) resolve to the most listened, t1
    assert lookup.resolve("Mark Ronson - Uptown Funk") == 1
    assert lookup.resolve("Uptown Funk by mark ronson") == 1
    assert lookup.resolve("The Band - Uptown Funk") == 3
    assert lookup.resolve("Uptown Funk (Covers)") == 3
    assert model.label(1) == "“Uptown Funk” by Mark Ronson feat. Bruno Mars"


@pytest.mark.parametrize("seed", range(4))
def test_the_kin_pool_is_the_best_of_every_member_of_every_loved_code(seed):
    """Retrieval expands only the codes that can hold a query's kin pool; the oracle expands them all."""
    from gems.rank.keys import allowed, own_keys, sorted_unique, strongest
    from gems.rank.kin import expand, kin_pool, kin_values, shares_of
    from test_rank_parity import synthetic_inputs

    inputs, histories = synthetic_inputs(seed, n=3000, users=40)
    n = inputs.n_items
    excluded = np.random.default_rng(seed).random(n) < 0.2
    own = own_keys(histories, n)
    shares = shares_of(inputs, Queries.of(histories))
    for pool in (5, 40, 400):
        every = []
        for name, s in shares.items():
            every.append(expand(inputs, s.keys // s.width, name, s.keys % s.width))
        keys = sorted_unique(np.concatenate(every))
        keys = keys[allowed(keys, own, excluded, n)]
        expected = strongest(inputs, keys, kin_values(inputs, shares, keys // n, keys % n)["kin"], pool, tie_break=True)
        got = kin_pool(inputs, shares, own, excluded, pool)
        assert got.tolist() == expected.tolist(), pool


def test_row_sums_are_the_sparse_product_of_the_queries_with_the_matrix():
    """The numpy product that co-listening uses against scipy's, over query blocks split to fit the keys."""
    import scipy.sparse as sp

    from gems.rank import keys as keys_module

    rng = np.random.default_rng(1)
    n = 500
    similarity = sp.random(n, n, density=0.03, random_state=2, dtype=np.float32, format="csr")
    histories = [np.sort(rng.choice(n, size=int(rng.integers(0, 30)), replace=False)) for _ in range(70)]
    own = keys_module.own_keys(histories, n)
    queries = sp.csr_matrix(
        (np.ones(len(own), np.float32), own % n, np.r_[0, np.cumsum([len(h) for h in histories])]), shape=(70, n)
    )
    expected = queries @ similarity
    links = similarity.copy()
    links.data[:] = 1.0  # every stored entry counts 1: how many of a query's rows list the column
    expected_counts = queries @ links
    for matrix in (expected, expected_counts):
        matrix.sum_duplicates()
        matrix.sort_indices()
    expected_keys = np.repeat(np.arange(70) * n, np.diff(expected.indptr)) + expected.indices
    arrays = (similarity.indptr, similarity.indices, similarity.data)
    product = keys_module.row_sums_product(arrays, own, n)
    for shift in (keys_module.SHIFT, 64 - 11):  # keys of 10 bits: blocks of 2 queries at a time
        keys, values, counts = keys_module.row_sums(arrays, own, n, shift=shift)
        assert keys.tolist() == expected_keys.tolist()
        np.testing.assert_allclose(values, expected.data, rtol=1e-5)
        assert counts.tolist() == expected_counts.data.astype(int).tolist()
        for got, numpy_sums in zip(product, (keys, values, counts)):  # the batch path: the same to the bit
            assert got.dtype == numpy_sums.dtype and got.tobytes() == numpy_sums.tobytes()


def test_row_sums_of_long_histories_take_the_numpy_path(monkeypatch):
    """A query with too many rows to pack its counts above its sums is summed by the numpy path."""
    import scipy.sparse as sp

    from gems.rank import keys as keys_module

    n = 50
    rng = np.random.default_rng(4)
    matrix = sp.csr_matrix(np.triu(rng.random((n, n), dtype=np.float32) * (rng.random((n, n)) < 0.3), 1))
    arrays = (matrix.indptr, matrix.indices, matrix.data)
    own = keys_module.own_keys([np.arange(0, 40), np.arange(10, 20)], n)
    expected = keys_module.row_sums(arrays, own, n)
    monkeypatch.setattr(keys_module, "COUNTED_MAX", 20)
    monkeypatch.setattr(keys_module, "row_sums", lambda *a, **k: expected)
    assert keys_module.row_sums_product(arrays, own, n) is expected
