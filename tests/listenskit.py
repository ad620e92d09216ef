"""A small listening log with known structure: three taste groups, one hit per group, deep cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_listens(path: Path, *, users: int = 90, seed: int = 0) -> Path:
    """Tracks g{k}-t{i}: group k's track 0 is its hit (heard by nearly all of the group's users), the others
    are deep cuts whose popularity falls with i (chosen with probability ∝ 1/i). Titles and soundtracks ride along so the listens define the catalogue."""
    rng = np.random.default_rng(seed)
    rows = ["user,track,plays,title,album"]
    for u in range(users):
        group = u % 3
        tracks = [0] if rng.random() < 0.9 else []
        cuts = np.arange(1, 12)
        tracks += sorted(
            rng.choice(cuts, size=rng.integers(2, 5), replace=False, p=(1 / cuts) / (1 / cuts).sum()).tolist()
        )
        for t in tracks:
            plays = int(rng.integers(1, 6))
            rows.append(f"u{u:03d},g{group}-t{t},{plays},Track {t} of {group},Soundtrack {group}")
    path.write_text("\n".join(rows) + "\n")
    return path


# Invented rows in the Last.fm HetRec 2011 layout (the real files may not be committed): CRLF lines, Latin-1
# tags, UTF-8 artist names, and one bad line of each kind the reader reports.
HETREC_FILES = {
    "artists.dat": (
        "id\tname\turl\tpictureURL\n"
        "51\tThe Paper Lanterns\thttp://www.last.fm/music/The+Paper+Lanterns\thttp://example.org/251.jpg\n"
        "52\tMoss and Ember\thttp://www.last.fm/music/Moss+and+Ember\thttp://example.org/252.jpg\n"
        "53\tOrchestre Imaginaire\thttp://www.last.fm/music/Orchestre+Imaginaire\thttp://example.org/253.jpg\n"
        "54\tSigur Rós\thttp://www.last.fm/music/Sigur+R%C3%B3s\thttp://example.org/254.jpg\n"
    ).encode(),
    "tags.dat": (
        "tagID\ttagValue\r\n1\tmetal\r\n2\tmúsica\r\n3\télectronique\r\n4\tsoundtrack\r\n"
        "5\tsoundtrack of my life\r\n6\tpop\r\n7\tcomposer\r\n8\tpost-rock\r\n"
    ).encode("latin-1"),
    "user_artists.dat": (
        b"userID\tartistID\tweight\r\n2\t51\t4210\r\n2\t52\t3175\r\n2\t53\tabc\r\n3\t51\t0\r\n3\t99\t7\r\n"
        b"3\t52\t5\r\n4\t53\t12\r\n4\t53\t3\r\n5\t51\r\n"
    ),
    "user_taggedartists.dat": (
        b"userID\tartistID\ttagID\tday\tmonth\tyear\r\n2\t52\t3\t1\t4\t2009\r\n3\t52\t3\t1\t5\t2009\r\n"
        b"2\t52\t2\t1\t4\t2009\r\n2\t51\t6\t1\t4\t2009\r\n2\t51\t5\t1\t4\t2009\r\n2\t53\t4\t1\t4\t2009\r\n"
        b"3\t53\t7\t1\t4\t2009\r\n2\t53\t999\t1\t4\t2009\r\n4\t54\t8\t1\t4\t2009\r\n"
    ),
}


def write_hetrec(folder: Path) -> Path:
    """A tiny HetRec folder: 5 users, artists 51-54 (99 listened but unknown), tags; see HETREC_FILES."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in HETREC_FILES.items():
        (folder / name).write_bytes(content)
    return folder
