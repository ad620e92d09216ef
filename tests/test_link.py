"""Linking tracks across sources: one test (or more) per rule of gems.ingest.link's table, answers known by
construction, and a names-only source made from the real MPD sample."""

from __future__ import annotations

import json
import time
import unicodedata

import numpy as np
import pandas as pd
import pytest

from gems.errors import DataError, ParameterError
from gems.ingest.common import text_track_ids
from gems.ingest.link import Linker, link_tracks
from gems.ingest.link_keys import catalogue_keys
from gems.ingest.link_summary import LinkSummary, source_tracks, summarise_links
from gems.ingest.names import TitleKey, artist_keys, normalise_artist, normalise_title, title_keys

URI = "spotify:track:6ZFbXIJkuI1dVNWvzJzown"


def catalogue(*rows, **columns) -> pd.DataFrame:
    """A catalogue of (track_id, artist, title) rows, plus extra columns given as lists."""
    frame = pd.DataFrame(rows, columns=["track_id", "artist", "title"])
    return frame.assign(**columns)


def one(source: dict, cat: pd.DataFrame, **kwargs) -> pd.Series:
    """The link row of a single source track."""
    return link_tracks(pd.DataFrame([source]), cat, **kwargs).iloc[0]


def linked(artist, title, cat, **extra) -> str | None:
    row = one({"artist": artist, "title": title, **extra}, cat)
    return None if pd.isna(row["track_id"]) else row["track_id"]


# ------------------------------------------------------------------------------------------- name rules


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("ＡＫＢ４８", "AKB48"),  # NFKC width forms
        ("Straße", "STRASSE"),  # case folding
        ("Beyoncé", "Beyonce"),  # accents
        ("Sigur Rós", "sigur ros"),
        ("Mø", "Mo"),  # letters without a combining accent
        ("Guns N' Roses", "Guns N Roses"),  # punctuation
        ("AC/DC", "ACDC"),
        ("  The   Notorious B.I.G. ", "notorious big"),  # spacing, "The "
        ("Simon & Garfunkel", "Simon and Garfunkel"),  # & and "and"
        ("Florence + the Machine", "Florence and the Machine"),  # +
        ("The Beatles", "Beatles"),
        ("Beatles, The", "Beatles"),
        ("Calvin Harris feat. Rihanna", "Calvin Harris"),  # credits in the artist field
        ("Calvin Harris ft. Rihanna", "Calvin Harris"),
        ("Calvin Harris featuring Rihanna", "Calvin Harris"),
        ("Mark Ronson with Amy Winehouse", "Mark Ronson"),
        ("Calvin Harris (feat. Rihanna)", "calvin harris"),
        ("!!! feat. Guest Star", "!!!"),
    ],
)
def test_artist_keys_agree(left, right):
    assert normalise_artist(left) == normalise_artist(right) != ""


def test_first_credited_artist_keys():
    names = ["Simon & Garfunkel", "Tyler, The Creator", "Pandora X & B", "Björk / Others", "Ali feat. B & C", None]
    keys = artist_keys(pd.Series(names, index=range(10, 16)))
    assert keys.index.tolist() == list(range(10, 16))
    assert keys["first"].tolist()[:5] == ["simon", "tyler", "pandorax", "bjork", "ali"]
    assert keys["key"].tolist()[:5] == ["simonandgarfunkel", "tylerthecreator", "pandoraxandb", "bjorkothers", "ali"]
    assert keys.iloc[5].isna().all()


def test_artist_keys_keep_what_tells_artists_apart():
    assert normalise_artist("カラス") != normalise_artist("ガラス")  # kana voicing marks are not accents
    assert normalise_artist("Tyler, The Creator") == "tylerthecreator"
    assert normalise_artist("!!!") == "!!!"  # a name of punctuation alone keeps it
    assert normalise_artist(None) == normalise_artist("Unknown Artist") == normalise_artist("  ") == ""


@pytest.mark.parametrize(
    ("title", "key", "notes"),
    [
        ("Let It Go - From \u201cFrozen\u201d", "letitgo", ""),  # From "X", typographic quotes
        ('Let It Go - From "Frozen"/Soundtrack Version', "letitgo", ""),
        ("Hey Jude - Remastered 2011", "heyjude", ""),
        ("Hey Jude - 2015 Remaster", "heyjude", ""),
        ("Hey Jude (Radio Edit)", "heyjude", ""),
        ("Hey Jude [Bonus Track]", "heyjude", ""),
        ("Hey Jude - Single Version", "heyjude", ""),
        ("Hey Jude (Explicit) - Mono", "heyjude", ""),
        ("Levels - Original Mix", "levels", ""),
        ("Stay (feat. Justin Bieber)", "stay", ""),  # credits in the title field
        ("Stay (with Justin Bieber)", "stay", ""),
        ("Stay [ft. Justin Bieber]", "stay", ""),
        ("Stay feat. Justin Bieber", "stay", ""),
        ("Stay - feat. Justin Bieber", "stay", ""),
        ("Hey Jude (Live)", "heyjude", "live"),  # notes that change the recording
        ("Hey Jude - Live at Wembley / Remastered 2009", "heyjude", "live"),
        ("Hey Jude - En Vivo", "heyjude", "live"),
        ("Detalhes  -  Ao  Vivo", "detalhes", "live"),  # runs of spaces
        ("Sort of Revolution - Live from La Cigale, Paris \u2013 Oct 25 2011", "sortofrevolution", "live"),
        ("Sometimes - (Paris Lover Mix)", "sometimes", "remix:parislover"),
        ("Castles (feat. Trey Songz) - feat. Trey Songz", "castles", ""),
        ("Hey Jude (Live) [Acoustic]", "heyjude", "live+acoustic"),
        ("Hey Jude (feat. X) - Acoustic Version", "heyjude", "acoustic"),
        ("Back In Your Head - Morgan Page Remix", "backinyourhead", "remix:morganpage"),
        ("Back In Your Head (Remix)", "backinyourhead", "remix"),
        ("Natural Disaster (Win & Woo Remix)", "naturaldisaster", "remix:winandwoo"),
        ("Feel It In My Bones - Extended Mix", "feelitinmybones", "extended"),
        ("Shake It Off (Taylor\u2019s Version)", "shakeitoff", "rerecorded"),
        ("Hey Jude (Instrumental)", "heyjude", "instrumental"),
        ("Song (Part 2) - Remastered", "songpart2", ""),  # unknown notes stay in the key
        ("Song (Reprise)", "songreprise", ""),
        ("Up - Down", "updown", ""),
        ("Another Brick in the Wall, Pt. 2", "anotherbrickinthewallpart2", ""),
        ("Another Brick In The Wall (Part 2) - 2011 Remaster", "anotherbrickinthewallpart2", ""),
        ("Hey Jude (2011)", "heyjude", ""),
        ("The Sound of Silence", "soundofsilence", ""),  # "The " prefix
        ("Tom & Jerry", "tomandjerry", ""),
        ("Ｓｏｎｇ （Ｌｉｖｅ）", "song", "live"),  # width forms in the notes too
        ("(Intro)", "intro", ""),  # a title that is all brackets is the title
    ],
)
def test_title_keys(title, key, notes):
    assert normalise_title(title) == TitleKey(key, notes)


def test_title_keys_of_missing_values_and_columns():
    assert normalise_title(None) == normalise_title("") == normalise_title("Unknown") == TitleKey("", "")
    frame = title_keys(pd.Series(["A (Live)", None, "A (Live)"], index=[5, 6, 7]))
    assert frame.index.tolist() == [5, 6, 7]
    assert frame["key"].tolist()[::2] == ["a", "a"] and frame["notes"].tolist()[::2] == ["live", "live"]
    assert frame.iloc[1].isna().all()


# ------------------------------------------------------------------------------------------ name links


@pytest.mark.parametrize(
    ("artist", "title"),
    [
        ("beyonce", "Halo"),
        ("BEYONCÉ", "halo"),
        ("Beyoncé feat. Someone", "Halo"),
        ("Beyoncé", "Halo (feat. Someone)"),
        ("Beyoncé", "Halo - Remastered 2011"),
        ("Beyoncé", "Halo [Bonus Track]"),
        ("Beyoncé", "  Halo  "),
    ],
)
def test_a_name_links_through_every_rule(artist, title):
    cat = catalogue(("t1", "Beyoncé", "Halo"), ("t2", "Beyoncé", "Halo - Live"), ("t3", "Other", "Halo"))
    row = one({"source_id": "x", "artist": artist, "title": title}, cat)
    assert (row["track_id"], row["how"], row["linked_title"]) == ("t1", "name", "Halo")


def test_cjk_names_and_width_forms():
    cat = catalogue(("sis", "梶浦由記", "Sis puella magica!"), ("karasu", "ガラス", "夜"))
    assert (
        linked("梶浦由記", "Ｓｉｓ\u3000ｐｕｅｌｌａ\u3000ｍａｇｉｃａ！", cat) == "sis"
    )  # full-width, ideographic spaces
    assert linked("ｶﾞﾗｽ", "夜", cat) == "karasu"  # half-width kana
    assert linked("カラス", "夜", cat) is None


def test_from_frozen_and_the_prefix_and_ampersand():
    cat = catalogue(
        ("frozen", "Idina Menzel", 'Let It Go - From "Frozen"/Soundtrack Version'),
        ("sounds", "Simon & Garfunkel", "The Sound of Silence"),
    )
    assert linked("Idina Menzel", "Let It Go", cat) == "frozen"
    assert linked("Simon and Garfunkel", "Sound Of Silence", cat) == "sounds"


def test_first_credited_artist_when_the_whole_credit_finds_nothing():
    cat = catalogue(
        ("close", "Calvin Harris", "Feel So Close"),
        ("thrift", "Macklemore & Ryan Lewis", "Thrift Shop"),
        ("other", "Macklemore", "Glorious"),
    )
    row = one({"artist": "Calvin Harris & Disciples", "title": "Feel So Close"}, cat)
    assert row["track_id"] == "close" and row["note"] == "linked by the first artist each side credits"
    assert linked("Macklemore", "Thrift Shop", cat) == "thrift"
    row = one({"artist": "Macklemore & Ryan Lewis", "title": "Thrift Shop"}, cat)
    assert row["track_id"] == "thrift" and row["note"] == ""
    assert linked("Ryan Lewis", "Thrift Shop", cat) is None  # only the first name counts


def test_live_and_studio_are_different_songs():
    cat = catalogue(("studio", "Band", "Song"), ("live", "Band", "Song - Live"), ("remix", "Band", "Song - X Remix"))
    assert linked("Band", "Song", cat) == "studio"  # a plain name is the plain version
    assert linked("Band", "Song (Live)", cat) == "live"
    assert linked("Band", "Song (X Remix)", cat) == "remix"
    acoustic = one({"artist": "Band", "title": "Song - Acoustic"}, cat)  # the source says which: not held
    assert acoustic["how"] == "none" and pd.isna(acoustic["track_id"])
    assert "no acoustic version" in acoustic["note"] and "[studio]" in acoustic["candidates"]
    assert one({"artist": "Band", "title": "Song (Y Remix)"}, cat)["how"] == "none"  # another remixer


def test_a_plain_name_with_only_other_versions_is_ambiguous():
    cat = catalogue(("live", "Band", "Song - Live"), ("acoustic", "Band", "Song (Acoustic)"))
    row = one({"artist": "Band", "title": "Song"}, cat)
    assert row["how"] == "ambiguous" and pd.isna(row["track_id"])
    assert "live; acoustic" in row["note"]
    assert "[live]" in row["candidates"] and "[acoustic]" in row["candidates"]


def test_twins_go_to_the_release_whose_album_agrees():
    cat = catalogue(
        ("single", "Band", "Song"),
        ("album", "Band", "Song - Remastered 2011"),
        ("best-of", "Band", "Song"),
        soundtrack=["Song", "The Album (Deluxe Edition)", "Greatest Hits"],
    )
    row = one({"artist": "Band", "title": "Song", "album": "The Album"}, cat, popularity=[9, 1, 5])
    assert row["track_id"] == "album" and row["note"] == "one of 3 releases of this song: its album agrees"


def test_twins_go_to_the_closest_duration_then_the_most_listened_then_the_first_id():
    cat = catalogue(("b", "Band", "Song"), ("a", "Band", "Song"), ("c", "Band", "Song"), duration_s=[181, 185, 179])
    row = one({"artist": "Band", "title": "Song", "duration_s": 184.0}, cat)
    assert row["track_id"] == "a" and row["note"].endswith("its duration is closest")
    row = one({"artist": "Band", "title": "Song"}, cat, popularity=[1, 2, 30])
    assert row["track_id"] == "c" and row["note"].endswith("the most listened")
    by_id = pd.Series({"a": 3, "b": 3, "c": 0})  # a Series is matched by track id
    row = one({"artist": "Band", "title": "Song"}, cat, popularity=by_id)
    assert row["track_id"] == "a" and row["note"].endswith("the first by track id")


def test_durations_out_of_tolerance_do_not_link():
    cat = catalogue(("t", "Band", "Song"), duration_s=[185.0])
    assert linked("Band", "Song", cat, duration_s=193.0) == "t"
    row = one({"artist": "Band", "title": "Song", "duration_s": 280.0}, cat)
    assert row["how"] == "none" and row["note"] == "duration differs: source 4:40, model 3:05"
    assert one({"artist": "Band", "title": "Song", "duration_s": 193.0}, cat, duration_tolerance_s=5)["how"] == "none"
    assert linked("Band", "Song", cat, duration_s=0.0) == "t"  # no duration: nothing to disagree with


def test_one_name_for_different_songs_is_ambiguous_unless_the_duration_says():
    cat = catalogue(("short", "Band", "Song"), ("long", "Band", "Song"), duration_s=[180.0, 450.0])
    row = one({"artist": "Band", "title": "Song"}, cat)
    assert row["how"] == "ambiguous" and "durations differ" in row["note"]
    assert row["candidates"] == "Song — Band [short]; Song — Band [long]"
    assert linked("Band", "Song", cat, duration_s=452.0) == "long"


def test_a_title_alone_links_only_when_unique_and_not_generic():
    cat = catalogue(
        ("hedwig", "John Williams", "Hedwig's Theme"),
        ("intro", "A", "Intro"),
        ("home-a", "A", "Home"),
        ("home-b", "B", "Home"),
        ("anon", None, "Unsigned Song"),
    )
    row = one({"artist": None, "title": "Hedwig’s Theme"}, cat)
    assert row["track_id"] == "hedwig" and row["how"] == "name" and "title alone" in row["note"]
    row = one({"artist": "", "title": "Intro"}, cat)
    assert row["how"] == "none" and "generic" in row["note"]
    assert one({"artist": "Unknown Artist", "title": "Track 3"}, cat)["how"] == "none"
    row = one({"artist": None, "title": "Home"}, cat)
    assert row["how"] == "ambiguous" and "several artists" in row["note"]
    live_elsewhere = catalogue(("a", "A", "Away"), ("b", "B", "Away - Live"))
    assert one({"artist": None, "title": "Away"}, live_elsewhere)["how"] == "ambiguous"  # every version counts
    assert linked("Someone", "Unsigned Song", cat) == "anon"  # the catalogue names no artist
    assert linked("Someone", "Hedwig's Theme", cat) is None  # both name an artist, and they differ


# -------------------------------------------------------------------------------------------- id links


@pytest.mark.parametrize(
    "source_id",
    [
        URI,
        "https://open.spotify.com/track/6ZFbXIJkuI1dVNWvzJzown?si=0123abcd",
        "https://open.spotify.com/intl-de/track/6ZFbXIJkuI1dVNWvzJzown",
        "  spotify:track:6ZFbXIJkuI1dVNWvzJzown ",
    ],
)
def test_spotify_ids_link_in_any_form_before_names(source_id):
    cat = catalogue((URI, "Hans Zimmer", "Time"), ("spotify:track:other", "Hans Zimmer", "Time"))
    row = one({"source_id": source_id, "artist": "Someone Else", "title": "Another Name"}, cat)
    assert (row["track_id"], row["how"], row["source_id"]) == (URI, "id", source_id)


def test_id_columns_on_either_side():
    cat = catalogue(
        ("t1", "A", "One"),
        ("t2", "B", "Two"),
        ("t3", "C", "Three"),
        spotify_uri=[None, "https://open.spotify.com/track/6ZFbXIJkuI1dVNWvzJzown", None],
        recording_mbid=["0F1E2D3C-0000-4000-8000-000000000001", None, None],
        isrc=["", None, "USUM71703861"],
    )
    source = pd.DataFrame(
        {
            "source_id": ["a", "b", "c", "d"],
            "artist": ["x"] * 4,
            "title": ["y"] * 4,
            "spotify_uri": [None, "6ZFbXIJkuI1dVNWvzJzown", None, None],
            "mbid": ["0f1e2d3c-0000-4000-8000-000000000001", None, None, None],
            "isrc": [None, None, "us-um7-17-03861", ""],
        }
    )
    out = link_tracks(source, cat)
    assert out["track_id"].tolist()[:3] == ["t1", "t2", "t3"] and out["how"].tolist() == ["id"] * 3 + ["none"]


def test_a_text_id_equal_to_a_catalogue_id_links_by_id():
    cat = catalogue(("hans zimmer — time", "Hans Zimmer", "Time"))
    out = Linker(cat).link(pd.DataFrame({"artist": ["Hans Zimmer"], "title": ["Time"]}))
    assert out.loc[0, "source_id"] == "hans zimmer — time" and out.loc[0, "how"] == "id"


# -------------------------------------------------------------------------- frames, edge cases, errors


def test_output_frame_empty_fields_and_duplicates():
    cat = catalogue(("t1", "A", "One"), ("t2", "B", "Two"), popularity=[1, 2])
    source = pd.DataFrame(
        {
            "source_id": ["s1", "s1", "s2", "s3", "s4"],
            "artist": ["A", "A", None, "B", "nan"],
            "title": ["One", "One", None, "", "Two"],
            "duration_s": [None, "n/a", 200, None, None],
        },
        index=[10, 11, 12, 13, 14],
    )
    out = Linker(cat).link(source)
    assert list(out.columns) == [
        "source_id",
        "artist",
        "title",
        "track_id",
        "how",
        "note",
        "candidates",
        "linked_artist",
        "linked_title",
        "linked_album",
    ]
    assert out.index.tolist() == [0, 1, 2, 3, 4]  # one row per source row, in order
    assert out["track_id"].tolist()[:2] == ["t1", "t1"] and out["how"].tolist()[:2] == ["name", "name"]
    assert out["how"].tolist()[2:4] == ["none", "none"] and out["note"].tolist()[2:4] == ["no title", "no title"]
    assert out.loc[4, "track_id"] == "t2"  # an artist placeholder is no artist: the title alone is unique
    assert summarise_links(out, rows=100) == LinkSummary(rows=100, tracks=4, by_id=0, by_name=2, ambiguous=0, none=2)
    assert str(summarise_links(out)) == (
        "5 rows, 4 distinct tracks: 0 linked by id, 2 by name, 0 to their album, 0 to their artist, 0 ambiguous, "
        "2 not in the model"
    )
    empty = Linker(cat).link(pd.DataFrame({"artist": [], "title": []}))
    assert empty.empty and list(empty.columns) == list(out.columns)


def test_a_catalogue_without_artists_or_rows():
    assert linked("Anyone", "Unique Title", pd.DataFrame({"track_id": ["t"], "title": ["Unique Title"]})) == "t"
    nothing = Linker(pd.DataFrame({"track_id": [], "title": []})).link(pd.DataFrame({"artist": ["A"], "title": ["B"]}))
    assert nothing["how"].tolist() == ["none"]


def test_stored_keys_start_a_linker_with_the_same_answers(tmp_path):
    cat = catalogue(
        ("t1", "Beyoncé", "Halo - Live"), ("t2", "The Band & Co", "Song (feat. X)"), soundtrack=["Live LP", None]
    )
    catalogue_keys(cat).to_parquet(tmp_path / "keys.parquet")
    keys = pd.read_parquet(tmp_path / "keys.parquet")
    assert keys.columns.tolist() == ["artist_key", "first_artist_key", "title_key", "notes", "album_key"]
    assert keys.iloc[0].tolist() == ["beyonce", "beyonce", "halo", "live", "livelp"]
    source = pd.DataFrame({"artist": ["Beyonce", "band and co"], "title": ["Halo (Live)", "Song"]})
    pd.testing.assert_frame_equal(Linker(cat, keys=keys).link(source), Linker(cat).link(source))
    with pytest.raises(DataError, match="rebuild the model"):
        Linker(cat, keys=keys.head(1))


def test_errors_say_what_was_expected():
    cat = catalogue(("t1", "A", "One"))
    with pytest.raises(DataError, match="lacks the column.*title"):
        Linker(cat.drop(columns="title"))
    with pytest.raises(DataError, match="unique and present"):
        Linker(pd.concat([cat, cat]))
    with pytest.raises(ParameterError, match="positive"):
        Linker(cat, duration_tolerance_s=0)
    with pytest.raises(ParameterError, match="one value per catalogue track"):
        Linker(cat, popularity=[1, 2])
    with pytest.raises(DataError, match="lack a 'title' column"):
        Linker(cat).link(pd.DataFrame({"artist": ["A"]}))


def test_source_tracks_of_a_listens_read():
    listens = pd.DataFrame({"user_id": ["u"] * 3, "track_id": ["k1", "k2", "k1"]})
    items = pd.DataFrame(
        {"track_id": ["k1", "k2"], "title": ["One", "Two"], "artist": ["A", "B"], "soundtrack": ["LP", None]}
    ).assign(duration_s=[200.0, None], recording_mbid=[None, "0f1e2d3c-0000-4000-8000-000000000001"])
    tracks = source_tracks(listens, items)
    assert tracks.columns.tolist() == ["source_id", "artist", "title", "album", "duration_s", "recording_mbid"]
    assert tracks["source_id"].tolist() == ["k1", "k2"] and tracks["album"].tolist()[0] == "LP"
    own = source_tracks(listens.assign(title=["One", "Two", "One"], artist=["A", "B", "A"]))
    assert own[["source_id", "artist", "title"]].values.tolist() == [["k1", "A", "One"], ["k2", "B", "Two"]]


# ---------------------------------------------------------------------------------------- real data


def _latin_plain(text: str) -> str:
    """Accents stripped the way some exports do (Latin letters only)."""
    return unicodedata.normalize(
        "NFC", "".join(c for c in unicodedata.normalize("NFD", text) if not "\u0300" <= c <= "\u036f")
    )


def _as_exported(artist: str, title: str, rng: np.random.Generator) -> tuple[str, str]:
    """The names of a track as another service might spell them."""
    if rng.random() < 0.3 and " - " in title and not set("()[]-") & set(title.rpartition(" - ")[2]):
        head, _, note = title.rpartition(" - ")  # MusicBrainz style: "Song (Live)" for Spotify's "Song - Live"
        title = f"{head} ({note})"
    if rng.random() < 0.3:
        artist, title = (artist.lower(), title.upper()) if rng.random() < 0.5 else (artist.upper(), title.lower())
    if rng.random() < 0.3:
        artist, title = _latin_plain(artist), _latin_plain(title)
    credit = rng.random()
    if credit < 0.1:
        title += " (feat. Guest Star)"
    elif credit < 0.2:
        artist += " feat. Guest Star"
    if rng.random() < 0.15:
        title += " - Remastered 2011"
    if rng.random() < 0.05:
        artist += " & Another Artist"
    if rng.random() < 0.5:
        artist, title = artist.replace(" & ", " and "), title.replace(" and ", " & ")
    if rng.random() < 0.5 and artist.casefold().startswith("the "):
        artist = artist[4:]
    if rng.random() < 0.3:
        title = title.replace("'", "\u2019")
    if rng.random() < 0.1:
        title = "  " + title.replace(" ", "  ")
    return artist, title


def _key(artist, title) -> np.ndarray:
    """The normalised name (artist, title, notes) that twins share."""
    keys = title_keys(title).fillna("").to_numpy(dtype=object)
    return artist_keys(artist)["key"].fillna("").to_numpy(dtype=object) + "|" + keys[:, 0] + "|" + keys[:, 1]


def test_names_only_export_links_to_a_real_mpd_catalogue(mpd_sample, tmp_path):
    """Tracks of the MPD sample, renamed the way exports spell them and written as a Spotify account-data
    export (names only), read back by gems' reader and linked to the sample's catalogue."""
    from gems.ingest.formats import read_listens_source

    cat = read_listens_source(mpd_sample, format="mpd").items[["track_id", "artist", "title"]]
    started = time.perf_counter()
    linker = Linker(cat)
    built = time.perf_counter() - started
    rng = np.random.default_rng(7)
    truth = cat.sample(10_000, random_state=7).reset_index(drop=True)
    names = [_as_exported(a, t, rng) for a, t in zip(truth["artist"], truth["title"])]
    plays = [
        {"endTime": "2023-05-01 12:00", "artistName": a, "trackName": t, "msPlayed": 200_000 + i}
        for i, (a, t) in enumerate(names)
    ]
    (tmp_path / "StreamingHistory_music_0.json").write_text(json.dumps(plays), encoding="utf-8")
    read = read_listens_source(tmp_path / "StreamingHistory_music_0.json", format="spotify-account")
    source = source_tracks(read.listens, read.items)
    started = time.perf_counter()
    out = linker.link(source)
    took = time.perf_counter() - started

    exported = pd.DataFrame(
        {"source_id": text_track_ids(*(pd.Series(side) for side in zip(*names))), "i": range(len(names))}
    )
    truth = truth.iloc[exported.drop_duplicates("source_id").set_index("source_id").loc[out["source_id"], "i"]]
    key_of = pd.Series(_key(cat["artist"], cat["title"]), index=cat["track_id"].to_numpy())
    by_name = (out["how"] == "name").to_numpy()
    same = out["track_id"].fillna("").to_numpy() == truth["track_id"].to_numpy()
    twin = key_of.reindex(out["track_id"].fillna("").to_numpy()).to_numpy() == _key(truth["artist"], truth["title"])
    right = (same | twin)[by_name].mean()
    print(
        f"\nMPD sample: {len(cat):,} tracks indexed in {built:.2f} s; {len(source):,} exported tracks linked in "
        f"{took:.2f} s: {by_name.mean():.1%} by name, {right:.1%} of them right ({same[by_name].mean():.1%} the "
        f"same URI); {summarise_links(out, rows=len(read.listens))}"
    )
    assert len(source) > 9_000
    assert by_name.mean() >= 0.90
    assert right >= 0.95
