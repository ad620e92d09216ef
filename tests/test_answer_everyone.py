"""An answer for everyone: a history whose tracks the model lacks is ranked from its artist and album links
(kin, on the one ranking path), and one with nothing in the model gets the labelled fallback."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from gems.cli import main
from gems.config import BuildConfig
from gems.model import Model
from gems.rank import Queries, RankOptions
from gems.rank.fallback import CAP, fallback_list
from gems.rank.retrieve import candidates_for
from gems.stages import build_model

ALBUMS = {
    ("Hans Zimmer", "Inception (Original Motion Picture Soundtrack)"): [
        "Time", "Dream Is Collapsing", "Mombasa", "Old Souls", "Radical Notion", "Waiting for a Train"
    ],
    ("Hans Zimmer", "Interstellar (Original Motion Picture Soundtrack)"): [
        "Cornfield Chase", "No Time for Caution", "Stay", "Dust", "Day One"
    ],
    ("Ramin Djawadi", "Game of Thrones (Music from the HBO Series)"): [
        "Main Title", "The Rains of Castamere", "Light of the Seven", "Mhysa", "Winter Has Come", "The Night King"
    ],
    ("Blue Swede", "Guardians of the Galaxy: Awesome Mix Vol. 1"): ["Hooked on a Feeling"],
    ("Redbone", "Guardians of the Galaxy: Awesome Mix Vol. 1"): ["Come and Get Your Love"],
    ("10cc", "Guardians of the Galaxy: Awesome Mix Vol. 1"): ["I'm Not in Love"],
    ("Zed & Lisa Gerrard", "Now We Are Free"): ["Elysium", "Honor Him"],
    ("Zed & Ben", "Duets"): ["First Duet", "Second Duet"],
    ("Pop Star", "Hits"): ["Hit One", "Hit Two", "Hit Three", "Hit Four", "Hit Five", "Hit Six"],
}  # fmt: skip
AWESOME = "Guardians of the Galaxy: Awesome Mix Vol. 1"


def write_listens(path, *, users: int = 90, seed: int = 0):
    """Three taste groups (film scores; the mix and the duets; pop), each album's first titles the most heard."""
    rng = np.random.default_rng(seed)
    groups = [
        [key for key in ALBUMS if key[0] in ("Hans Zimmer", "Ramin Djawadi")],
        [key for key in ALBUMS if key[1] == AWESOME or key[0].startswith("Zed")],
        [key for key in ALBUMS if key[0] == "Pop Star"],
    ]
    rows = ["user,track,plays,title,artist,album"]
    for u in range(users):
        for artist, album in groups[u % 3]:
            titles = ALBUMS[artist, album]
            p = 1 / np.arange(1, len(titles) + 1)
            for i in rng.choice(
                len(titles), size=min(len(titles), int(rng.integers(1, 4))), replace=False, p=p / p.sum()
            ):
                track = f"{artist}|{titles[i]}".lower().replace(" ", "-")
                rows.append(f'u{u:03d},"{track}",{int(rng.integers(1, 5))},"{titles[i]}","{artist}","{album}"')
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("everyone")
    return Model(build_model(BuildConfig(model=root / "m", listens=write_listens(root / "listens.csv"))).path)


def history(tmp_path, *rows, name="me.csv"):
    """A listens CSV of (user, artist, title, album) rows the model has never seen."""
    path = tmp_path / name
    frame = pd.DataFrame(rows, columns=["user", "artist", "title", "album"])
    frame.assign(track=[f"new-{i}" for i in range(len(frame))]).to_csv(path, index=False)
    return path


def cli(*args) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the gems entry point (one red line for a mistake), under CliRunner."""
    with CliRunner().isolation() as (out, err, _):
        code = main([str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()


def recommend(model, path, *extra):
    code, out, err = cli("recommend", "-m", model.path, "--history", path, "--json", *extra)
    assert code == 0, err
    return json.loads(out), err


def test_unknown_tracks_of_a_known_artist_get_that_artists_deep_cuts(model, tmp_path):
    path = history(tmp_path, ("me", "Hans Zimmer", "An Unreleased Sketch", None), ("me", "Hans Zimmer", "Demo 2", None))
    picks, err = recommend(model, path, "-k", "5", "--discount", "1")
    assert "0 linked by id, 0 by name, 0 to their album, 2 to their artist" in err
    assert [p["artist"] for p in picks] == ["Hans Zimmer"] * 5
    assert all(p["is_tail"] for p in picks)  # the popularity discount puts his deep cuts first
    least = sorted(int(n) for n, a in zip(model.listeners, model.artists) if a == "Hans Zimmer")[:5]
    assert sorted(p["popularity"] for p in picks) == least
    assert all(p["why"].startswith("By Hans Zimmer, an artist in your listening") for p in picks)


def test_an_album_link_brings_the_albums_other_artists(model, tmp_path):
    path = history(tmp_path, ("me", "Blue Swede", "A Song Never Recorded", AWESOME + " (Deluxe)"))
    picks, err = recommend(model, path, "-k", "3")
    assert "1 to their album" in err
    assert {p["artist"] for p in picks} == {"Blue Swede", "Redbone", "10cc"}
    redbone = next(p for p in picks if p["artist"] == "Redbone")
    assert redbone["why"].startswith(f"From {AWESOME}, an album in your listening")


def test_a_coarse_link_counts_for_kin_exactly_as_a_linked_track_would(model):
    """kin shares: a Djawadi track the model links only to its artist weighs what a linked Djawadi track does."""
    rows = {model.track_ids[r]: r for r in range(model.n_tracks)}
    inputs, time, main = model.inputs, rows["hans-zimmer|time"], rows["ramin-djawadi|main-title"]
    djawadi = int(inputs.artist_codes[main])
    coarse = Queries.of([[time]], coarse_counts=[1], coarse_codes={"artist": [[djawadi]], "album": [[]]})
    linked = Queries.of([[time, main]])
    options = RankOptions(k=20)
    a, b = candidates_for(inputs, coarse, options), candidates_for(inputs, linked, options)
    shared, in_a, in_b = np.intersect1d(a.rows, b.rows, return_indices=True)
    assert len(shared) >= 10
    np.testing.assert_array_equal(a.evidence["kin_artist"][in_a], b.evidence["kin_artist"][in_b])
    by_djawadi = inputs.artist_codes[shared] == djawadi
    assert by_djawadi.any() and np.all(a.evidence["kin_artist"][in_a][by_djawadi] == 0.5)


def oracle_fallback(model, k: int, cap: int) -> list[int]:
    """The fallback by a plain loop: long-tail soundtrack tracks, most listeners first, ``cap`` per soundtrack."""
    inputs, taken, out = model.inputs, {}, []
    pool = [r for r in range(model.n_tracks) if inputs.is_tail[r] and inputs.is_soundtrack[r] and inputs.listeners[r]]
    for row in sorted(pool, key=lambda r: (-int(inputs.listeners[r]), r)):
        code = int(inputs.soundtrack_codes[row])
        if taken.get(code, 0) < cap and len(out) < k:
            out.append(row)
            taken[code] = taken.get(code, 0) + 1
    return out


@pytest.mark.parametrize("per_soundtrack", [0, 1])
def test_the_fallback_is_the_soundtracks_most_played_long_tail_tracks(model, per_soundtrack):
    items, scores = fallback_list(model.inputs, RankOptions(k=6, per_soundtrack=per_soundtrack))
    found = items >= 0
    assert items[found].tolist() == oracle_fallback(model, 6, per_soundtrack or CAP)  # 3 soundtracks, cap 1: 3
    assert np.all(found) == (per_soundtrack == 0) and np.all(scores[~found] == -np.inf)
    assert scores[0] == 1.0 and np.all(np.diff(scores[found]) <= 0) and np.all(scores[found] > 0)


def test_nothing_linked_gets_the_labelled_fallback_and_no_listens_is_one_line(model, tmp_path):
    stranger = history(tmp_path, ("me", "Nobody Known", "Song", None), ("me", "Zed", "Unheard", None))
    picks, err = recommend(model, stranger, "-k", "4")
    assert "1 ambiguous, 1 not in the model" in err  # "Zed" fits two model artists: never guessed
    assert "nothing of this listening is in the model; instead, the most played long-tail tracks" in err
    assert [model.lookup.row_of_id(p["track_id"]) for p in picks] == oracle_fallback(model, 4, CAP)
    assert all(p["why"].startswith("Nothing of your listening is in this model; instead, one of") for p in picks)
    empty = tmp_path / "empty.csv"
    empty.write_text("user,track,title,artist\n")
    code, _, err = cli("recommend", "-m", model.path, "--history", empty)
    assert code == 1 and "holds no listens to recommend from" in err and err.count("\n") == 1
    code, _, err = cli("recommend", "-m", model.path, "--history", stranger, "--history-user", "you")
    assert code == 1 and "user 'you' is not in" in err and err.count("\n") == 1


def test_export_answers_every_listener_as_recommend_does(model, tmp_path):
    path = history(
        tmp_path,
        ("tracks", "Hans Zimmer", "Time", None),
        ("artist", "Ramin Djawadi", "Unheard", None),
        ("album", "Redbone", "Unheard", AWESOME),
        ("nothing", "Nobody Known", "Song", None),
        name="new.csv",
    )
    out = tmp_path / "recs.csv"
    code, printed, err = cli("export", "-m", model.path, "--histories", path, "-k", "4", "--out", out, "--no-progress")
    assert code == 0, err
    assert (
        "4 listeners: 1 with tracks in the model, 2 with only artists or albums in it, 1 with nothing in it" in printed
    )
    rows = pd.read_csv(out)
    said = f"{len(rows)} recommendations for 4 users (1 of them the fallback: nothing of their listening led to a pick)"
    assert said in " ".join(printed.split())
    for user, group in rows.groupby("user_id"):
        picks, err = recommend(model, path, "--history-user", user, "-k", "4")
        assert [p["track_id"] for p in picks] == group.sort_values("rank")["track_id"].tolist()
        assert ("nothing of this listening is in the model" in err) == (user == "nothing")
    assert set(rows["user_id"]) == {"tracks", "artist", "album", "nothing"}


def test_a_kind_the_pick_cannot_take_is_never_named(model):
    """A learned ranker gives weight to missing taste (no track of the history is in the model): the
    explanation names the artist link, never a taste the history does not have."""
    from types import SimpleNamespace

    from gems.serve.explain import QueryEvidence, explain

    row = model.lookup.row_of_id("hans-zimmer|dust")
    zimmer = int(model.inputs.artist_codes[row])
    candidates = SimpleNamespace(rows=np.array([row]), evidence={"cf": np.array([np.nan]), "kin": np.array([1.0])})
    ranked = SimpleNamespace(
        candidates=candidates, options=RankOptions(), parts={}, contributions=lambda entry: {"cf": 2.0, "kin": 1.0}
    )
    evidence = QueryEvidence(model, np.zeros(0, dtype=np.int64), {"artist": np.array([zimmer]), "album": np.array([])})
    why, seed = explain(model, ranked, evidence, 0, listener=True)
    assert why.startswith("By Hans Zimmer, an artist in your listening.") and "taste" not in why and seed is None
