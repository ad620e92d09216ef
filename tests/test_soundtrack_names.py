"""Soundtrack awareness, rule 5: the curated composer and playback-singer lists and how artist credits are matched
against them (gems.ingest.soundtrack_names), by the classifier's vectorised path and by the plain one."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from gems.ingest.soundtrack import classify_soundtrack
from gems.ingest.soundtrack_names import composer_of, credited, load_composers, load_singers, name_key


def classify(**columns) -> list:
    """Reasons (None when not a soundtrack) for a small catalogue given column by column."""
    n = len(next(iter(columns.values())))
    items = pd.DataFrame({"track_id": [f"t{i}" for i in range(n)], **columns})
    return classify_soundtrack(items)["soundtrack_reason"].tolist()


@pytest.mark.parametrize(
    "credit, composer",
    [
        ("Hans Zimmer", "Hans Zimmer"),
        ("HANS ZIMMER", "Hans Zimmer"),
        ("Johann Johannsson", "Jóhann Jóhannsson"),
        ("Hildur Gudnadottir", "Hildur Guðnadóttir"),
        ("Ludwig Goransson", "Ludwig Göransson"),
        ("A.R. Rahman", "A. R. Rahman"),
        ("Salim–Sulaiman", "Salim-Sulaiman"),
        ("久石譲", "Joe Hisaishi"),
        ("Hans Zimmer & Lisa Gerrard", "Hans Zimmer"),
        ("Kk, Sunidhi Chauhan & Pritam", "Pritam"),
        ("Trent Reznor and Atticus Ross", "Trent Reznor and Atticus Ross"),
        ("Toby Fox feat. Someone", "Toby Fox"),
        # whole names only
        ("Hans Zimmermann", None),
        ("John Williamson", None),
        ("The John Williams Tribute Band", None),
        ("Max", None),
    ],
)
def test_composer_names_match_whole_without_case_or_accents(credit, composer):
    assert composer_of(credit) == composer
    expected = None if composer is None else f"composer: {composer}"
    assert classify(title=["Some Cue"], artist=[credit]) == [expected]


def test_the_composer_column_and_the_curated_list():
    assert classify(title=["Cue", "Song"], composer=["Nobuo Uematsu", None], artist=["Orchestra", "Band"]) == [
        "composer: Nobuo Uematsu",
        None,
    ]
    composers = set(load_composers().values())
    assert len(composers) >= 150
    for name in (
        "John Williams",
        "Howard Shore",
        "Alexandre Desplat",
        "Ennio Morricone",
        "Joe Hisaishi",
        "Nobuo Uematsu",
        "Koji Kondo",
        "Toby Fox",
        "Ramin Djawadi",
        "Ludwig Göransson",
        "Hildur Guðnadóttir",
        "Michael Giacchino",
        "Danny Elfman",
        "James Horner",
        "Thomas Newman",
        "Jerry Goldsmith",
        "Bernard Herrmann",
        "Yoko Shimomura",
        "Austin Wintory",
        "Lena Raine",
        "Darren Korb",
        "Mick Gordon",
        "Jeremy Soule",
        "Gustavo Santaolalla",
        "Clint Mansell",
        "Jóhann Jóhannsson",
        "Yann Tiersen",
        "Oliver Wallace",  # Disney's studio composers and songwriters
        "Richard M. Sherman",
        "Michael Kamen",
        "Ron Grainer",
        "Adam Skorupa",
    ):
        assert name in composers, name
    # concert composers whose most-played tracks are not scores (Max Richter: "On the Nature of Daylight", "Sleep")
    assert not {"Philip Glass", "Ludovico Einaudi", "Max Richter"} & composers
    assert name_key("Jóhann  Jóhannsson") == name_key("johann johannsson") == "johannjohannsson"


def test_film_playback_singers_and_stage_composers():
    reasons = classify(
        title=["Tum Hi Ho", "Ajeeb Dastan Hai Yeh", "Think of Me", "Cold/Mess"],
        artist=["Arijit Singh", "Lata Mangeshkar & Mohammed Rafi", "Andrew Lloyd Webber", "Prateek Kuhad"],
    )
    assert reasons == [
        "film singer: Arijit Singh",
        "film singer: Lata Mangeshkar",
        "composer: Andrew Lloyd Webber",
        None,  # an independent singer-songwriter
    ]


def test_credits_match_alike_in_arrow_and_in_python():
    credits = [
        "Hans Zimmer & Lisa Gerrard",
        "Jóhann Jóhannsson",
        "久石譲",
        "Someone feat. Toby Fox",
        "Max",
        "Arijit Singh",
    ]
    composers, singers = credited(pa.array(credits), [load_composers(), load_singers()])
    assert composers.tolist() == [composer_of(c) for c in credits]
    assert singers.tolist() == [None] * 5 + ["Arijit Singh"]
