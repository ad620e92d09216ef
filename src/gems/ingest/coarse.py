"""Links to a catalogue's artists and albums, for the tracks of a listener's history it does not hold (the
rules are the second table of :mod:`gems.ingest.link`).

A row that names an artist links to a model artist by its key (credits, "The", ``&``/and, accents: the
rules of :mod:`gems.ingest.names`): its whole key, else its first credited artist's key, else the one model
artist that credits it first; when several model artists credit it first it is ``ambiguous``, never guessed.
With that artist and an album the source names, it links to the album instead. Either way the link names the
model's words for it: the track that names an artist or album is its most listened one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gems.ingest.keyed import Groups, listing, pair_codes
from gems.ingest.names import artist_keys, title_keys

COARSE = ("album", "artist")  # links to a model album or artist, not to one of its tracks


class ArtistIndex:
    """A catalogue's artists and albums, from a :class:`gems.ingest.link.Linker`'s keys: the rows by artist
    key and by (artist key, album key), the row that names each, and which artists credit a name first."""

    def __init__(self, linker):
        self.linker = linker
        self.width = len(linker.album.index)
        artists, albums = linker.artist.codes, pair_codes(linker.artist.codes, linker.album.codes, self.width)
        self.by_artist, self.by_album = Groups(artists), Groups(albums)
        self.artist_faces, self.album_faces = self._faces(artists), self._faces(albums)
        both = (linker.first_artist.codes >= 0) & (artists >= 0)
        n = max(len(linker.artist.index), 1)
        pairs = np.unique(linker.first_artist.codes[both].astype(np.int64) * n + artists[both])
        self.credit, self.credited = pairs // n, pairs % n  # (first-artist key, artist key), sorted

    def _faces(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distinct codes ≥ 0 sorted, the row that names each: its most listened, then its first row)."""
        rows = np.flatnonzero(codes >= 0)
        order = rows[np.lexsort((rows, -self.linker.popularity[rows], codes[rows]))]
        first = np.r_[True, codes[order][1:] != codes[order][:-1]] if len(order) else np.zeros(0, dtype=bool)
        return codes[order][first], order[first]

    def _artists(self, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(artist key code or −1, by the first credit, how many artists credit it first, where they start
        in ``credited``) of source artist keys (``key``, ``first``: :func:`gems.ingest.names.artist_keys`)."""
        codes = self.linker.artist
        artist, first = codes.of(keys["key"]), codes.of(keys["first"])
        by_first = (artist < 0) & (first >= 0)
        artist = np.where(by_first, first, artist)
        name = self.linker.first_artist.of(keys["first"])
        low, high = np.searchsorted(self.credit, name, "left"), np.searchsorted(self.credit, name, "right")
        fits = np.where((artist < 0) & (name >= 0), high - low, 0)
        if len(self.credited):
            artist = np.where(fits == 1, self.credited[np.minimum(low, len(self.credited) - 1)], artist)
        return artist, by_first | (fits == 1), fits, low

    def link(self, out, keys: pd.DataFrame, albums: np.ndarray, at: np.ndarray) -> None:
        """Settle the source rows ``at`` of the outcome ``out`` (:class:`gems.ingest.link.Linker`'s) by artist
        and album: ``keys`` the artist keys of every source row, ``albums`` its album key codes (−1 none)."""
        if not len(at) or not len(self.linker.track_ids):
            return
        artist, by_first, fits, low = self._artists(keys.iloc[at])
        names = self.linker.artists
        several = np.flatnonzero(fits > 1)
        for i in several:
            found = self.credited[low[i] : low[i] + fits[i]]
            out.how[at[i]], out.candidates[at[i]] = "ambiguous", listing(names.iloc[self._named(found)])
            out.note[at[i]] = f"{out.note[at[i]]}; its artist fits {fits[i]} of the model's artists"
        pair = pair_codes(artist, albums[at], self.width)
        keys_, faces = self.album_faces
        place = np.minimum(np.searchsorted(keys_, pair), max(len(keys_) - 1, 0))
        album = (pair >= 0) & (keys_[place] == pair) if len(keys_) else np.zeros(len(at), dtype=bool)
        lone = ~album & (artist >= 0)
        credit = np.where(by_first, " (its first credited artist)", "")
        for rows, kind in ((album, "album"), (lone, "artist")):
            face = faces[place[rows]] if kind == "album" else self._named(artist[rows])
            said = names.iloc[face].fillna("").to_numpy(dtype=object) + credit[rows]
            if kind == "album":
                said = self.linker.albums.iloc[face].fillna("").to_numpy(dtype=object) + " by " + said
            out.how[at[rows]], out.via[at[rows]] = kind, face
            out.note[at[rows]] = out.note[at[rows]] + f"; linked to the {kind} " + said

    def _named(self, artists: np.ndarray) -> np.ndarray:
        """The row that names each artist key code."""
        codes, faces = self.artist_faces
        return faces[np.searchsorted(codes, artists)]

    def members(self, links: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"artist": (positions in links, rows by that artist), "album": (positions, rows of that album)}``
        of the artist and album links of a link table (an album link counts for its artist too), found by
        keying the model names they carry again."""
        at = np.flatnonzero(links["how"].isin(COARSE).to_numpy())
        artist = self.linker.artist.of(artist_keys(links["linked_artist"].iloc[at])["key"])
        is_album = (links["how"].iloc[at] == "album").to_numpy()
        album = np.where(is_album, self.linker.album.of(title_keys(links["linked_album"].iloc[at])["key"]), -1)
        take = np.ones(len(at), dtype=bool)
        by_artist = self.by_artist.pairs(artist, take)
        by_album = self.by_album.pairs(pair_codes(artist, album, self.width), take)
        return {"artist": (at[by_artist[0]], by_artist[1]), "album": (at[by_album[0]], by_album[1])}
