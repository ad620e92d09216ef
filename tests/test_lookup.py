"""The title matcher's fast path against its simple one: fuzzy scores of choices processed once and scanned in
chunks (between which a request's budget is looked at) equal one rapidfuzz call over every title processed per
query; and a spent budget stops a match with one ParameterError."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from rapidfuzz import fuzz, process, utils

from gems import lookup
from gems.errors import ParameterError
from gems.lookup import MatchBudget, TrackLookup


def make_lookup(titles, artists, soundtracks) -> TrackLookup:
    n = len(titles)
    columns = {
        "track_ids": pa.array([f"t{i}" for i in range(n)]),
        "titles": pa.array(titles),
        "artists": pa.array(artists),
        "soundtracks": pa.array(soundtracks),
    }
    ids = np.argsort(np.array([f"t{i}" for i in range(n)]), kind="stable")
    folded = np.argsort(np.array([lookup.title_key(t or f"t{i}") for i, t in enumerate(titles)]), kind="stable")
    return TrackLookup(columns.__getitem__, ids, folded, np.ones(n, np.int64), np.full(n, 30.0))


def one_call(found: TrackLookup, query: str, limit: int) -> list[tuple[int, float]]:
    """The simple path: one ``extract`` over every label and every title, each processed by rapidfuzz."""
    titles = [t or i for t, i in zip(found.titles.to_pylist(), found.ids.to_pylist())]
    labels = [
        (f"{a} - " if a else "") + t + (f" ({s})" if s else "")
        for t, a, s in zip(titles, found.artists.to_pylist(), found.soundtracks.to_pylist())
    ]
    best: dict[int, float] = {}
    for choices in (labels, titles):
        for _, score, row in process.extract(
            query, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit
        ):
            best[row] = max(score, best.get(row, 0.0))
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


@pytest.fixture(scope="module")
def catalogue() -> TrackLookup:
    """600 tracks from few words, so that many titles tie on score; some without artist, soundtrack or title."""
    rng = np.random.default_rng(7)
    words = ["Main", "Theme", "Battle", "Desert", "Night", "Menu", "Über", "Ça", "Part", "II", "(Remix)", "-", "&"]
    titles = [" ".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(600)]
    titles[5] = None
    artists = [None if i % 4 == 0 else f"Composer {i % 7}" for i in range(600)]
    soundtracks = [None if i % 5 == 0 else f"Game {i % 11}" for i in range(600)]
    return make_lookup(titles, artists, soundtracks)


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
@pytest.mark.parametrize("query", ["main theme", "Battle - Desert", "ÜBER night", "Composer 3 - Menu", "t5", "zz"])
@pytest.mark.parametrize("limit", [1, 6, 20])
def test_chunked_fuzzy_scores_equal_one_call_over_every_title(catalogue, monkeypatch, chunk, query, limit):
    monkeypatch.setattr(lookup, "FUZZY_CHUNK", chunk)
    assert catalogue._fuzzy_hits(query, limit) == one_call(catalogue, query, limit)


def test_a_spent_budget_stops_a_resolution_with_one_parameter_error_and_a_suggestion_short(catalogue, monkeypatch):
    monkeypatch.setattr(lookup, "FUZZY_CHUNK", 50)
    spent = MatchBudget(0.0)
    with pytest.raises(ParameterError, match=r"0 s; stopped at 'Mian Theem'"):
        catalogue.resolve("Mian Theem", spent)
    with pytest.raises(ParameterError, match=r"stopped at 'A - B - C - D'"):
        catalogue.resolve("A - B - C - D", spent)  # the Artist - Title readings count too
    assert catalogue.resolve("t3", spent) == 3  # an exact id needs no budget
    assert catalogue.suggest("Mian Theem", 5, spent) == []  # no fuzzy match read in time
    prefix = catalogue.suggest("Main", 5, spent)
    assert prefix and prefix == catalogue.suggest("Main", 5)[: len(prefix)]  # exact and prefix matches cost nothing
    roomy = MatchBudget(60.0)
    assert catalogue.suggest("Mian Theem", 5, roomy) == catalogue.suggest("Mian Theem", 5) != []
