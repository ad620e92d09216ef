"""What one request may cost ``gems serve``: the number and length of repeatable values, k and lengths, and the
time its title matches take — each refused past its bound in one line — and no request holding up the others
while it matches titles (the issue's probe: 10,000 fuzzy ``like=`` titles froze every request for minutes)."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("fastapi", reason="gems serve needs fastapi (pip install -e '.[test]')")
from gems.web import create_app, running  # noqa: E402
from gems.web.routes import MAX_IDS, MAX_K, MAX_LIKES, MAX_TEXT  # noqa: E402
from webkit import ask, assert_error  # noqa: E402


@pytest.fixture(scope="module")
def url(built_model):
    with running(create_app(built_model)) as base:
        yield base


@pytest.fixture
def slow_matching(monkeypatch):
    """Every chunk of fuzzy scoring takes ``seconds`` longer (a catalogue of millions, simulated; like rapidfuzz,
    the wait lets other threads run): set() it."""
    from rapidfuzz import process

    delay = {"seconds": 0.0}
    cdist = process.cdist

    def slowed(*args, **kwargs):
        time.sleep(delay["seconds"])
        return cdist(*args, **kwargs)

    monkeypatch.setattr(process, "cdist", slowed)
    return lambda seconds: delay.update(seconds=seconds)


def titles(n: int) -> list[str]:
    """``n`` titles with a typo, each matched fuzzily to one track of listenskit's log."""
    return [("Traack 9 of 1", "Trakc 5 of 0")[i % 2] for i in range(n)]


def test_like_values_are_capped_in_number_and_length(url):
    assert ask(url, "/api/recommend", params={"like": ["g0-t1"] * MAX_LIKES}).status == 200
    started = time.monotonic()
    assert_error(ask(url, "/api/recommend", params={"like": titles(10_000)}), 400, "10,000", f"at most {MAX_LIKES}")
    assert time.monotonic() - started < 5  # refused before any title is matched
    assert_error(ask(url, "/api/playlist", params={"like": ["g0-t1"] * (MAX_LIKES + 1)}), 400, f"{MAX_LIKES}")
    assert_error(ask(url, "/api/recommend", params={"like": "x" * (MAX_TEXT + 1)}), 400, f"{MAX_TEXT}")


@pytest.mark.parametrize(
    "path, params, words",
    [
        ("/api/tracks", {"id": ["g0-t1"] * (MAX_IDS + 1)}, ["id=", f"{MAX_IDS}"]),
        ("/api/playlist", {"track": ["g0-t1"] * (MAX_IDS + 1)}, ["track=", f"{MAX_IDS}"]),
        ("/api/tracks", {"id": "g" * 100_000}, ["100,000 characters"]),
        ("/api/search", {"q": "a" * (MAX_TEXT + 1)}, ["q", f"{MAX_TEXT}"]),
        ("/api/recommend", {"user": "u" * (MAX_TEXT + 1)}, ["user", f"{MAX_TEXT}"]),
        ("/api/recommend", {"like": "g0-t1", "k": MAX_K + 1}, ["k"]),
        ("/api/playlist", {"like": "g0-t1", "length": MAX_K + 1}, ["length"]),
        ("/api/playlist", {"like": "g0-t1", "length": 0}, ["length"]),
        ("/api/popularity", {"points": 5001}, ["points"]),
        ("/api/search", {"q": "track", "limit": 21}, ["limit"]),
        ("/api/recommend", {"like": "g0-t1", "discount": "nan"}, ["discount"]),
        ("/api/recommend", {"like": "g0-t1", "tail_share": "inf"}, ["tail_share"]),
        ("/api/recommend", {"like": "g0-t1", "per_soundtrack": 10**30}, ["per_soundtrack"]),
    ],
)
def test_other_parameters_are_bounded_in_one_line(url, path, params, words):
    error = assert_error(ask(url, path, params=params), (400, 422), *words)
    assert len(error) < 400  # a refused value is quoted short, not echoed whole


def test_title_matching_past_the_budget_is_one_clear_400_soon(built_model, slow_matching):
    slow_matching(0.1)  # 0.2 s a title: its labels, then its titles
    with running(create_app(built_model, match_seconds=0.5)) as url:
        assert ask(url, "/api/recommend", params={"like": titles(2)}).status == 200  # within the budget
        for path in ("/api/recommend", "/api/playlist"):
            started = time.monotonic()
            error = assert_error(ask(url, path, params={"like": titles(MAX_LIKES)}), 400, "0.5 s", "/api/search", "Tra")
            assert time.monotonic() - started < 3.0, error


def test_a_search_past_the_budget_suggests_what_it_matched_by_then(built_model, slow_matching):
    slow_matching(1.0)  # the labels take the whole budget: the titles are not read
    with running(create_app(built_model, match_seconds=0.5)) as url:
        started = time.monotonic()
        found = ask(url, "/api/search", params={"q": "Traack 9 of 1"})
        assert time.monotonic() - started < 3.0
        assert found.status == 200 and found.json()[0]["track_id"] == "g1-t9"


def test_no_request_waits_for_another_ones_title_matching(built_model, slow_matching):
    """While one request matches 50 slow fuzzy titles for 4 s, others by id answer as if it were not there."""
    slow_matching(0.25)
    with running(create_app(built_model, match_seconds=4.0)) as url:
        assert ask(url, "/api/recommend", params={"like": "g0-t1"}).status == 200
        slow = {}
        hog = threading.Thread(
            target=lambda: slow.update(answer=ask(url, "/api/recommend", params={"like": titles(MAX_LIKES)}))
        )
        hog.start()
        time.sleep(0.3)  # the hog is matching now
        waits = []
        for _ in range(10):
            started = time.monotonic()
            for path, params in (
                ("/api/recommend", {"like": "g0-t1", "k": 5}),
                ("/api/recommend", {"user": "u001"}),
                ("/api/search", {"q": "g1-t2"}),
                ("/api/tracks", {"id": "g2-t3"}),
            ):
                assert ask(url, path, params=params).status == 200
            waits.append(time.monotonic() - started)
        hog.join(30)
    assert_error(slow["answer"], 400, "4 s")
    assert max(waits) < 1.5, waits  # with one lock around matching, the first round waited ~4 s
