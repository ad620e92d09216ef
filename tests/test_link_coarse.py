"""Artist and album links (gems.ingest.coarse): a history's track the model does not hold links to the
model's artist, or album, by the same name keys as track links; answers known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gems.ingest.link import Linker, link_tracks
from gems.ingest.link_summary import LinkSummary, summarise_links

CATALOGUE = pd.DataFrame(
    [
        ("z1", "Hans Zimmer", "Time", "Inception (Original Motion Picture Soundtrack)"),
        ("z2", "Hans Zimmer", "Cornfield Chase", "Interstellar"),
        ("b1", "The Beatles", "Help!", "Help!"),
        ("b2", "Beatles", "Yesterday", "Help!"),
        ("c1", "Calvin Harris", "Feel So Close", "18 Months"),
        ("g1", "Lisa Gerrard & Pieter Bourke", "Sacrifice", "Duality"),
        ("x1", "Zed & Ben", "First Duet", "Duets"),
        ("x2", "Zed & Lisa", "Honor Him", "Gladiator"),
    ],
    columns=["track_id", "artist", "title", "soundtrack"],
)


def coarse(artist, title="A Track Nobody Has", album=None, popularity=None) -> pd.Series:
    source = pd.DataFrame([{"artist": artist, "title": title, "album": album}])
    return link_tracks(source, CATALOGUE, popularity=popularity, coarse=True).iloc[0]


@pytest.mark.parametrize(
    ("artist", "linked", "first_credit"),
    [
        ("Hans Zimmer", "Hans Zimmer", False),  # the whole key
        ("HANS ZIMMER feat. Lisa Gerrard", "Hans Zimmer", False),  # credits dropped, case folded
        ("Calvin Harris & Disciples", "Calvin Harris", True),  # the first credited artist's key
        ("Lisa Gerrard", "Lisa Gerrard & Pieter Bourke", True),  # the one model artist crediting it first
    ],
)
def test_an_unknown_track_links_to_its_artist(artist, linked, first_credit):
    row = coarse(artist)
    assert row["how"] == "artist" and pd.isna(row["track_id"]) and pd.isna(row["linked_title"])
    assert row["linked_artist"] == linked and pd.isna(row["linked_album"])
    assert row["note"] == (
        f"no track of this artist and title in the model; linked to the artist {linked}"
        + (" (its first credited artist)" if first_credit else "")
    )


def test_spellings_of_one_artist_are_one_artist_named_by_its_most_listened_track():
    popular_the = coarse("beatles", popularity=[0, 0, 9, 1, 0, 0, 0, 0])
    popular_bare = coarse("The Beatles", popularity=[0, 0, 1, 9, 0, 0, 0, 0])
    assert popular_the["how"] == popular_bare["how"] == "artist"
    assert (popular_the["linked_artist"], popular_bare["linked_artist"]) == ("The Beatles", "Beatles")
    linker = Linker(CATALOGUE)
    links = linker.link(pd.DataFrame({"artist": ["Beatles"], "title": ["Let It Be"]}), coarse=True)
    at, rows = linker.kin_members(links)["artist"]
    assert at.tolist() == [0, 0] and CATALOGUE["track_id"].iloc[rows].tolist() == ["b1", "b2"]


def test_a_name_several_model_artists_credit_first_is_ambiguous_never_guessed():
    row = coarse("Zed")
    assert row["how"] == "ambiguous" and pd.isna(row["linked_artist"])
    assert row["note"].endswith("its artist fits 2 of the model's artists")
    assert set(row["candidates"].split("; ")) == {"Zed & Ben", "Zed & Lisa"}


def test_the_album_when_the_source_names_one_of_that_artist():
    row = coarse("Hans Zimmer", album="Inception (Music from the Motion Picture)")
    assert row["how"] == "album" and row["linked_album"] == "Inception (Original Motion Picture Soundtrack)"
    assert row["note"].endswith("linked to the album Inception (Original Motion Picture Soundtrack) by Hans Zimmer")
    assert coarse("Hans Zimmer", album="Help!")["how"] == "artist"  # another artist's album: the artist only
    assert coarse("Hans Zimmer", album="Dunkirk")["how"] == "artist"
    linker = Linker(CATALOGUE)
    source = pd.DataFrame({"artist": ["Hans Zimmer"], "title": ["Dream"], "album": ["Interstellar"]})
    members = linker.kin_members(linker.link(source, coarse=True))
    assert CATALOGUE["track_id"].iloc[members["album"][1]].tolist() == ["z2"]
    assert sorted(CATALOGUE["track_id"].iloc[members["artist"][1]]) == ["z1", "z2"]  # the album's artist too


def test_tracks_still_link_as_tracks_and_nothing_else_changes_without_coarse():
    source = pd.DataFrame(
        {
            "artist": ["Hans Zimmer", "Hans Zimmer", "Somebody Else", None, "Zed"],
            "title": ["Time", "Unheard", "Unheard", "Unheard", "Unheard"],
        }
    )
    out = link_tracks(source, CATALOGUE, coarse=True)
    assert out["how"].tolist() == ["name", "artist", "none", "none", "ambiguous"]
    assert out["track_id"].tolist()[0] == "z1" and out["linked_album"].iloc[0].startswith("Inception")
    plain = link_tracks(source, CATALOGUE)  # the default links tracks only: combining sources uses it
    assert plain["how"].tolist() == ["name", "none", "none", "none", "none"]
    summary = summarise_links(out)
    assert summary == LinkSummary(rows=5, tracks=5, by_id=0, by_name=1, ambiguous=1, none=2, by_album=0, by_artist=1)
    assert str(summary) == (
        "5 rows, 5 distinct tracks: 0 linked by id, 1 by name, 0 to their album, 1 to their artist, 1 ambiguous, "
        "2 not in the model"
    )


def test_a_catalogue_without_artists_links_no_artist():
    cat = pd.DataFrame({"track_id": ["t"], "title": ["Only Title"]})
    out = Linker(cat).link(pd.DataFrame({"artist": ["Anyone"], "title": ["Other"]}), coarse=True)
    assert out["how"].tolist() == ["none"]
    assert all(len(a) == 0 for a, _ in Linker(cat).kin_members(out).values())
    assert np.all(Linker(cat).link(pd.DataFrame({"artist": [], "title": []}), coarse=True).columns == out.columns)
