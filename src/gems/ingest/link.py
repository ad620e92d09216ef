"""One track identity across sources: link the tracks a source names to a catalogue's tracks.

A track is linked by a shared id first, else by its normalised artist and title. Names are keyed by
:mod:`gems.ingest.names`; every rule, with an example:

================================  ======================================================================================
rule                              example (left and right link; ``→`` is the key or the outcome)
================================  ======================================================================================
Unicode NFKC + case folding       ``ＡＫＢ４８`` = ``AKB48`` = ``akb48``; ``ß`` = ``ss``
accents                           ``Beyoncé`` = ``Beyonce``; ``Mø`` = ``Mo``; Latin, Greek, Cyrillic only: ``ガラス`` ≠ ``カラス``
punctuation and spacing           ``Guns N' Roses`` = ``Guns N Roses``; ``Don’t`` = ``Dont``; ``AC/DC`` = ``ACDC``;
                                  ``Pt.`` = ``Part``: ``Another Brick in the Wall, Pt. 2`` = ``… (Part 2)``
``&``, ``and``, ``+``             ``Simon & Garfunkel`` = ``Simon and Garfunkel``; ``Florence + the Machine``
"The " prefix                     ``The Beatles`` = ``Beatles`` = ``Beatles, The``; titles too (``The Sound of Silence``)
credits in the artist field       ``Calvin Harris feat. Rihanna`` / ``ft.`` / ``featuring`` / ``with`` / ``vs.`` → ``calvinharris``
first credited artist (fallback)  when the whole credits find nothing: ``Calvin Harris & Disciples`` → ``Calvin Harris``;
                                  ``A, B`` / ``A / B`` / ``A and B`` → ``A`` (either side)
credits in the title field        ``Stay (with Justin Bieber)``, ``Stay [feat. X]``, ``Stay - feat. X``, ``Stay ft. X`` → ``stay``
neutral version notes (dropped)   ``- Remastered 2011``, ``- 2011 Remaster``, ``(Radio Edit)``, ``- Single Version``,
                                  ``[Bonus Track]``, ``(Explicit)``, ``- Original Mix``, ``- Mono``, ``(2011)``,
                                  ``- From "Frozen"``, ``(Original Motion Picture Soundtrack)`` → ``Let It Go`` = ``Let It Go``
recording notes (kept as notes)   ``(Live)`` = ``- Live at Wembley 1986`` = ``- En Vivo`` → notes ``live``; also ``acoustic``,
                                  ``instrumental`` (karaoke), ``acapella``, ``demo``, ``orchestral``, ``piano``, ``extended``,
                                  ``rerecorded`` (``Taylor's Version``), ``tempo`` (sped up, slowed), ``remix`` with its
                                  remixer: ``- Morgan Page Remix`` → ``remix:morganpage``; several: ``live+acoustic``
unknown notes (kept in the key)   ``Song (Part 2)`` ≠ ``Song``; ``Song (Reprise)`` ≠ ``Song``
notes must be equal               ``Song`` → ``Song`` (never ``Song - Live``); ``Song (Live)`` → ``Song - Live``;
                                  ``Song - Acoustic`` with only ``Song`` in the catalogue → ``none``;
                                  ``Song`` with only ``Song - Live`` (or only ``- Live`` and ``- Acoustic``) → ``ambiguous``
durations                         when both sides have one they agree within ``duration_tolerance_s`` (10 s):
                                  ``Song`` 3:05 vs ``Song`` 4:40 → ``none``, "duration differs"
twins                             one song held several times (album, single, compilation: same artist, title and notes,
                                  known durations within the tolerance of each other) links to one of them: the release
                                  whose album agrees, else the closest duration, else the most listened (``popularity``),
                                  else the first by track id
different songs, one name         ``Song`` 3:00 and ``Song`` 7:30 in the catalogue, a source ``Song`` without duration →
                                  ``ambiguous`` (with ``candidates``); with 3:02 → the 3:00 one
unknown artist (either side)      linked by title alone only when the title is not generic (``Intro``, ``Main Theme``,
                                  ``Track 3``, under 3 characters) and every track of that title is one song by one
                                  artist; otherwise ``ambiguous`` (several) or ``none`` (generic)
shared ids first                  ``source_id`` or ``spotify_uri``/``mbid``/``recording_mbid``/``isrc``/``path`` equal to a
                                  catalogue ``track_id`` or id column: ``https://open.spotify.com/track/ID?si=x`` =
                                  ``spotify:track:ID``; MBIDs without case; ISRCs without case or dashes; twins by id as above
================================  ======================================================================================

With ``coarse=True`` (a listener's history against a model), a track that is ``none`` by the rules above but
names an artist links to the model's ARTIST, and to its ALBUM where the source names one that artist has; its
``track_id`` stays empty, and ranking counts it as kin evidence only (:mod:`gems.serve.history`):

================================  ======================================================================================
``artist``                        the artist's key (the rules above: credits, "The", ``&``/and, accents) is a model
                                  artist's key: ``The Beatles feat. X`` → ``Beatles``; else its first credited artist's
                                  key is: ``Calvin Harris & Disciples`` → ``Calvin Harris``; else exactly one model
                                  artist credits it first: ``Hans Zimmer`` → ``Hans Zimmer & Lisa Gerrard``
``ambiguous``                     several model artists credit it first and none is it alone: ``Hans Zimmer`` with
                                  ``Hans Zimmer & Lisa Gerrard`` and ``Hans Zimmer & Benjamin Wallfisch`` (never guessed)
``album``                         that artist and the source's album (keyed as titles: ``Inception (Music from the
                                  Motion Picture)`` = ``Inception``) are an album of the model
================================  ======================================================================================

Build a :class:`Linker` once per catalogue and call :meth:`Linker.link` for each source (``link_tracks`` does
both); :meth:`Linker.kin_members` gives the catalogue rows of artist and album links. Beside this module:
:mod:`gems.ingest.link_keys` (the catalogue's name keys, which a model stores to start a linker faster),
:mod:`gems.ingest.link_summary` (a listens read's source table, the summary line), :mod:`gems.ingest.coarse`
(artist and album links).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from gems.errors import DataError, ParameterError
from gems.ingest.common import text_track_ids
from gems.ingest.keyed import STRING, Codes, Groups, listing, pair_codes
from gems.ingest.link_keys import catalogue_keys, checked_keys, column
from gems.ingest.names import ID_COLUMNS, artist_keys, canonical_ids, title_keys

DURATION_TOLERANCE_S = 10.0
HOW = ("id", "name", "album", "artist", "ambiguous", "none")
TITLE_ONLY_LIMIT = 50  # more tracks than this share a title: ambiguous, without reading them all
GENERIC_TITLES = frozenset(
    """intro outro interlude introduction prelude prologue epilogue overture finale theme maintheme maintitle
    maintitles titletheme opening ending endcredits credits untitled menu mainmenu title titlescreen gameover
    victory battle boss bossbattle reprise suite skit bonus bonustrack hiddentrack track song instrumental demo
    silence""".split()
)
_GENERIC = r"^(?:\d+|.{1,2}|(?:track|song|untitled|theme|intro|outro|interlude|part|chapter|act|scene|level)\d+)$"
_FIRST_ONLY = "linked by the first artist each side credits"


def _minutes(seconds: np.ndarray) -> np.ndarray:
    return np.array([f"{int(s) // 60}:{int(s) % 60:02d}" if s == s else "?" for s in seconds], dtype=object)


def _durations(frame: pd.DataFrame) -> np.ndarray:
    """``duration_s`` as floats; missing, unreadable and non-positive values NaN."""
    seconds = pd.to_numeric(column(frame, "duration_s"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(seconds > 0, seconds, np.nan)


def _popularity(popularity, track_ids: pd.Series) -> np.ndarray:
    if popularity is None:
        return np.zeros(len(track_ids))
    if isinstance(popularity, pd.Series) and not isinstance(popularity.index, pd.RangeIndex):
        values = popularity.reindex(track_ids.to_numpy()).to_numpy(dtype=float, na_value=0.0)
    else:
        values = np.asarray(popularity, dtype=float)
    if values.shape != (len(track_ids),):
        raise ParameterError(
            f"popularity must hold one value per catalogue track ({len(track_ids)}), got shape {values.shape}; "
            "pass listeners per catalogue row, or a Series indexed by track id"
        )
    return np.nan_to_num(values)


def _ids(frame: pd.DataFrame, first: str) -> pd.Series:
    """The canonical ids of ``frame``'s rows, column ``first`` then the id columns it has, stacked."""
    columns = [(first, None)] + [(c, kind) for c, kind in ID_COLUMNS.items() if c in frame and c != first]
    return pd.concat([pd.Series(canonical_ids(frame[c], kind), dtype=STRING) for c, kind in columns], ignore_index=True)


class Linker:
    """A catalogue's name and id index, built once (a million tracks in seconds) and reused for many sources.

    ``catalogue``: ``track_id`` (unique), ``title``, optional ``artist``, ``soundtrack`` (the album),
    ``duration_s`` and id columns (``spotify_uri``, ``mbid``/``recording_mbid``, ``isrc``, ``path``).
    ``popularity``: listeners per catalogue row (an array), or a Series indexed by track id; it picks among
    twins. ``duration_tolerance_s``: how far two known durations of one recording may differ. ``keys``: the
    catalogue's :func:`catalogue_keys`, when stored with the model (it skips most of the build)."""

    def __init__(
        self,
        catalogue: pd.DataFrame,
        *,
        popularity=None,
        duration_tolerance_s: float = DURATION_TOLERANCE_S,
        keys: pd.DataFrame | None = None,
    ):
        missing = [c for c in ("track_id", "title") if c not in catalogue]
        if missing:
            raise DataError(
                f"the catalogue to link against lacks the column(s) {', '.join(missing)} (it has "
                f"{', '.join(map(str, catalogue.columns))}); give the model's track table"
            )
        if not duration_tolerance_s > 0:
            raise ParameterError(
                f"duration_tolerance_s must be a positive number of seconds, got {duration_tolerance_s}"
            )
        catalogue = catalogue.reset_index(drop=True)
        self.track_ids = catalogue["track_id"].astype(STRING)
        n = len(catalogue)
        self.ids = Codes(_ids(catalogue.assign(track_id=self.track_ids), "track_id"))
        own = self.ids.codes[:n]  # each track's own id, canonical: codes 0..n-1 in order when all differ
        if not np.array_equal(own, np.arange(n)):
            bad = self.track_ids[(own < 0) | pd.Series(own).duplicated(keep=False).to_numpy()].head(3).tolist()
            raise DataError(
                f"catalogue track ids must be unique and present; found repeated or missing ids {bad}; "
                "give one row per track"
            )
        self.tolerance = float(duration_tolerance_s)
        self.titles = catalogue["title"].astype(STRING)
        self.artists = column(catalogue, "artist").astype(STRING)
        self.albums = column(catalogue, "soundtrack").astype(STRING)
        self.popularity = _popularity(popularity, self.track_ids)
        self.duration = _durations(catalogue)
        keys = catalogue_keys(catalogue) if keys is None else checked_keys(keys, n)
        self.artist, self.first_artist = Codes(keys["artist_key"]), Codes(keys["first_artist_key"])
        self.title, self.notes, self.album = Codes(keys["title_key"]), Codes(keys["notes"]), Codes(keys["album_key"])
        self.by_name = Groups(self._name_codes(self.artist.codes, self.title.codes))
        self.by_first_artist = Groups(self._name_codes(self.first_artist.codes, self.title.codes))
        self.by_title = Groups(self.title.codes)
        self.by_title_no_artist = Groups(np.where(self.artist.codes < 0, self.title.codes, -1))
        self.by_id = Groups(self.ids.codes)  # positions in the stacked ids: row = position % n

    def _name_codes(self, artist: np.ndarray, title: np.ndarray) -> np.ndarray:
        return pair_codes(artist, title, len(self.title.index))

    @cached_property
    def artist_index(self):
        """The catalogue's artists and albums (:class:`gems.ingest.coarse.ArtistIndex`), built on first use."""
        from gems.ingest.coarse import ArtistIndex

        return ArtistIndex(self)

    def link(self, source: pd.DataFrame, *, coarse: bool = False) -> pd.DataFrame:
        """One row per ``source`` row, in its order: ``source_id``, ``artist``, ``title``, ``track_id`` (the
        catalogue's; ``<NA>`` when none), ``how`` (``id``/``name``/``album``/``artist``/``ambiguous``/``none``),
        ``note`` (why, in words), ``candidates`` (``Title — Artist [track_id]``, "; "-joined: the songs an
        ambiguous name fits, or near misses; the artists an ambiguous artist fits), ``linked_artist``,
        ``linked_title``, ``linked_album`` (of the linked track, album or artist).

        ``source``: ``title``, optional ``artist``, ``source_id`` (the source's own id; ``artist — title`` text
        ids when absent), ``album``, ``duration_s`` and id columns (as for the catalogue). ``coarse``: link the
        tracks that are not in the catalogue to its artists and albums (the module docstring's second table)."""
        if "title" not in source:
            raise DataError(
                f"the tracks to link lack a 'title' column (they have {', '.join(map(str, source.columns))}); "
                "give one row per track with at least artist and title"
            )
        src = source.reset_index(drop=True)
        artist, title = column(src, "artist"), src["title"]
        if "source_id" not in src:
            src = src.assign(source_id=text_track_ids(artist, title))
        n, size = len(src), len(self.track_ids)
        out, q = _Outcome(n), _Query(src, self)
        at, pos = self.by_id.pairs(self.ids.of(_ids(src, "source_id")), np.ones(n * q.id_columns, dtype=bool))
        pair = np.unique((at % max(n, 1)) * size + pos % max(size, 1))  # one pair per track found
        self._decide(out, q, pair // max(size, 1), pair % max(size, 1), how="id")

        artists = artist_keys(artist)
        akey, tkey = self.artist.of(artists["key"]), self.title.of(q.titles["key"])
        named = artists["key"].notna().to_numpy()
        titled = q.titles["key"].notna().to_numpy()
        at, row = self.by_name.pairs(self._name_codes(akey, tkey), out.open & titled & named)
        self._decide(out, q, at, row, how="name")

        lone = out.open & titled & (np.bincount(at, minlength=n) == 0)
        first = self._name_codes(self.first_artist.of(artists["first"]), tkey)
        at, row = self.by_first_artist.pairs(first, lone & named)
        self._decide(out, q, at, row, how="name")
        hit = np.unique(at)[out.row[np.unique(at)] >= 0]
        out.note[hit] = ["; ".join(filter(None, (_FIRST_ONLY, note))) for note in out.note[hit]]

        words = q.titles["key"]
        generic = (words.isin(GENERIC_TITLES) | words.str.match(_GENERIC)).to_numpy(dtype=bool, na_value=True)
        lone &= out.open & (np.bincount(at, minlength=n) == 0)
        out.note[lone & generic & ~named] = "no artist, and the title alone is too generic to link"
        pairs = [
            self.by_title.pairs(tkey, lone & ~generic & ~named, TITLE_ONLY_LIMIT),
            self.by_title_no_artist.pairs(tkey, lone & ~generic & named, TITLE_ONLY_LIMIT),
        ]
        at, row = (np.concatenate(side) for side in zip(*pairs))
        self._decide(out, q, at, row, how="name", title_only=True)
        out.note[out.open & ~titled] = "no title"
        out.note[out.open] = "no track of this artist and title in the model"
        if coarse:
            self.artist_index.link(out, artists, q.album, np.flatnonzero((out.how == "none") & named))
        return out.frame(self, src["source_id"], artist, title)

    def kin_members(self, links: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The catalogue rows that the artist and album links of :meth:`link` (with ``coarse``) point to:
        ``{"artist": (positions in links, rows by that artist), "album": (positions, rows of that album)}``;
        an album link counts for its artist too."""
        return self.artist_index.members(links)

    def _decide(self, out: _Outcome, q: _Query, at, row, *, how: str, title_only: bool = False) -> None:
        """Settle source rows ``at`` from their candidates ``row`` (one pair per candidate). Id links ignore
        notes and durations; name links need equal notes, agreeing durations and one song."""
        if not len(at):
            return
        n, by_name = len(q.duration), how != "id"
        gap = np.abs(q.duration[at] - self.duration[row])
        same = self.notes.codes[row] == q.notes[at] if by_name else np.ones(len(at), dtype=bool)
        ok = same & ~(gap > self.tolerance) if by_name else same
        n_all, n_same, n_ok = (np.bincount(at[m], minlength=n) for m in (slice(None), same, ok))
        low, high = np.full(n, np.inf), np.full(n, -np.inf)
        np.fmin.at(low, at[ok], self.duration[row[ok]])
        np.fmax.at(high, at[ok], self.duration[row[ok]])
        spread = np.isnan(q.duration) & (high - low > self.tolerance) & by_name
        if title_only:
            artist = np.full(n, -2)
            np.maximum.at(artist, at, self.artist.codes[row])  # every version of the title: one artist
            spread |= (np.bincount(at[self.artist.codes[row] != artist[at]], minlength=n) > 0) | (
                n_all > TITLE_ONLY_LIMIT
            )
        agrees = (q.album[at] >= 0) & (q.album[at] == self.album.codes[row])
        id_rank = pd.factorize(self.track_ids.iloc[row], sort=True)[0]
        order = np.lexsort((id_rank, -self.popularity[row], np.nan_to_num(gap, nan=np.inf), ~agrees, ~ok, at))
        starts = np.flatnonzero(np.r_[True, at[order][1:] != at[order][:-1]])
        best, rows = order[starts], at[order[starts]]
        linked = (n_ok[rows] > 0) & ~spread[rows]
        out.link(rows[linked], row[best[linked]], how)
        twins = linked & (n_ok[rows] > 1)
        first, second = best[twins], order[starts[twins] + 1]
        closer = np.nan_to_num(gap[first], nan=np.inf) < np.nan_to_num(gap[second], nan=np.inf)
        rule = np.select(
            [agrees[first] & ~agrees[second], closer, self.popularity[row[first]] > self.popularity[row[second]]],
            ["its album agrees", "its duration is closest", "the most listened"],
            "the first by track id",
        )
        out.note[rows[twins]] = [f"one of {k} releases of this song: {r}" for k, r in zip(n_ok[rows[twins]], rule)]
        if title_only:
            out.note[rows[linked & (n_ok[rows] == 1)]] = "linked by title alone: one side names no artist"
        if not by_name:
            return
        fits = rows[(n_ok[rows] > 0) & spread[rows]]
        reason = "several artists have this title" if title_only else "durations differ and the source gives none"
        out.settle(fits, "ambiguous", f"different songs fit ({reason})", at, row, None if title_only else ok, self)
        slow = (n_ok[rows] == 0) & (n_same[rows] > 0)
        said = _minutes(q.duration[rows[slow]]) + ", model " + _minutes(self.duration[row[best[slow]]])
        out.settle(rows[slow], "none", "duration differs: source " + said, at, row, same, self)
        other = rows[n_same[rows] == 0]
        held = out.versions(other, at, row, self)
        plain = q.plain[other]
        out.settle(
            other[plain], "ambiguous", "no version named; the model has only " + held[plain], at, row, None, self
        )
        wanted = "the model has no " + q.titles["notes"].to_numpy(dtype=object)[other[~plain]] + " version, only "
        out.settle(other[~plain], "none", wanted + held[~plain], at, row, None, self)


class _Query:
    """The comparison keys of a source's rows."""

    def __init__(self, src: pd.DataFrame, linker: Linker):
        self.titles = title_keys(src["title"]).reset_index(drop=True)
        self.notes = linker.notes.of(self.titles["notes"])
        self.plain = (self.titles["notes"] == "").to_numpy(dtype=bool, na_value=True)
        self.duration = _durations(src)
        self.album = linker.album.of(title_keys(column(src, "album"))["key"])
        self.id_columns = 1 + sum(c in src and c != "source_id" for c in ID_COLUMNS)


class _Outcome:
    """What is known so far about each source row; tiers settle only rows still ``open``."""

    def __init__(self, n: int):
        self.row = np.full(n, -1)  # the linked track
        self.via = np.full(n, -1)  # the track that names a linked artist or album
        self.how = np.full(n, "none", dtype=object)
        self.note = np.full(n, "", dtype=object)
        self.candidates = np.full(n, "", dtype=object)

    @property
    def open(self) -> np.ndarray:
        return (self.how == "none") & (self.note == "")

    def link(self, rows, cat_rows, how: str) -> None:
        self.row[rows], self.how[rows] = cat_rows, how

    def settle(self, rows, how: str, note, at, row, mask, linker: Linker) -> None:
        """Mark ``rows`` ``how`` with ``note``, listing their candidates (the pairs ``mask`` keeps)."""
        if not len(rows):
            return
        self.how[rows], self.note[rows] = how, note
        keep = np.isin(at, rows) & (True if mask is None else mask)
        shown = lambda column: column.iloc[row[keep]].fillna("").to_numpy(dtype=object)  # noqa: E731
        label = pd.Series(shown(linker.titles) + " — " + shown(linker.artists) + " [" + shown(linker.track_ids) + "]")
        listed = label.groupby(at[keep]).agg(listing)
        self.candidates[listed.index.to_numpy()] = listed.to_numpy()

    def versions(self, rows, at, row, linker: Linker) -> np.ndarray:
        """The notes of the catalogue versions each of ``rows`` has, as words ("live; acoustic", "the plain one")."""
        keep = np.isin(at, rows)
        notes = linker.notes.index.to_numpy(dtype=object)[linker.notes.codes[row[keep]]]
        words = (
            pd.Series(notes).replace("", "the plain one").groupby(at[keep]).agg(lambda s: "; ".join(dict.fromkeys(s)))
        )
        return words.reindex(rows).to_numpy(dtype=object)

    def frame(self, linker: Linker, source_id, artist, title) -> pd.DataFrame:
        hit, named = self.row >= 0, (self.row >= 0) | (self.via >= 0)
        rows = np.where(hit, self.row, np.maximum(self.via, 0)) if len(linker.track_ids) else []

        def linked(column, where):
            return column.iloc[rows].where(where).reset_index(drop=True) if len(rows) else pd.NA

        return pd.DataFrame(
            {
                "source_id": pd.array(source_id, dtype=STRING),
                "artist": pd.array(artist, dtype=STRING),
                "title": pd.array(title, dtype=STRING),
                "track_id": linked(linker.track_ids, hit),
                "how": pd.Categorical(self.how, categories=HOW),
                "note": pd.array(self.note, dtype=STRING),
                "candidates": pd.array(self.candidates, dtype=STRING),
                "linked_artist": linked(linker.artists, named),
                "linked_title": linked(linker.titles, hit),
                "linked_album": linked(linker.albums, hit | (self.how == "album")),
            }
        )


def link_tracks(
    source: pd.DataFrame,
    catalogue: pd.DataFrame,
    *,
    popularity=None,
    duration_tolerance_s: float = DURATION_TOLERANCE_S,
    coarse: bool = False,
) -> pd.DataFrame:
    """Link ``source`` to ``catalogue`` once (see :meth:`Linker.link`); build a :class:`Linker` to link many."""
    linker = Linker(catalogue, popularity=popularity, duration_tolerance_s=duration_tolerance_s)
    return linker.link(source, coarse=coarse)
