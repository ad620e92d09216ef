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
