"""Choose the confidence from which gems shows a sound word as a fact about a track (gems.rank.words.CONFIDENT).

    python pipelines/word_confidence.py --ost /work/ost --work /tmp/word_confidence [--demo-tracks data/demo/tracks.csv]

A model stores one excerpt's words per track (MTT_musicnn's tag probabilities of the middle 30 s, averaged over
its 3-s patches). A word said of the track should hold beyond that excerpt. There are no word labels for these
games, so the check is the tagger against itself on music it has not been tuned on: each full-length track of
``--ost`` (made by ``../shared/tools/fetch-game-soundtracks DEST --all``) is cut into three 30-s windows — the
middle one gems analyses and, for tracks of at least 90 s, one centred at a quarter and one at three quarters of
the track — and each window is tagged as gems tags an excerpt.

For a threshold t, a *call* is a (track, word) whose middle window gives p ≥ t; it *holds* when the word is also
among the TOP (5) most probable words of both other windows (what a pick's ``tags`` list first, elsewhere in the
track). The same threshold on the other windows is no test: a section of a track that crosses t by a little falls
below it elsewhere by chance (regression to the mean), so that agreement falls as t rises. Reported per t and per
set of games (**extra**: Widelands, OpenClonk, X-Moto; **demo**: the packages the demo was cut from): calls per
track, the share of tracks with at least one call, and the share of calls that hold with a 95% interval (2,000
bootstrap draws of tracks, seed 0). The rule chosen: the smallest t at which at least ``--aim`` (0.8: four words
in five) of the calls hold on the extra games, then reported on the demo games. Windows are cached in ``--work``
(``windows.npz``); ``--work/scores.json`` keeps the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WINDOW_S = 30.0
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.10, 0.551, 0.05))
TOP = 5
DRAWS = 2000


def windows(y: np.ndarray, sr: int) -> list[np.ndarray]:
    """The middle 30 s of ``y`` first, then for a track of at least 90 s the 30 s centred at 1/4 and at 3/4."""
    n, width = len(y), int(WINDOW_S * sr)
    centres = [n // 2] + ([n // 4, 3 * n // 4] if n >= 3 * width else [])
    return [y[max(0, c - width // 2) : max(0, c - width // 2) + width] for c in centres]


def tag_windows(files: list[str], work: Path) -> list[np.ndarray]:
    """(windows × 50) tag probabilities per file, cached in ``work/windows.npz``."""
    from gems.audio import musicnn
    from gems.audio.decode import load_excerpt

    cache = work / "windows.npz"
    if cache.exists():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["files"]) == files:
            return [stored[f"w{i}"] for i in range(len(files))]
    out = []
    for i, path in enumerate(files):
        y, _ = load_excerpt(path, sr=musicnn.SR, excerpt_s=0, min_duration_s=2.0)
        out.append(np.stack([musicnn.describe(part)[1] for part in windows(y, musicnn.SR)]))
        print(f"\r{i + 1}/{len(files)} files tagged", end="", file=sys.stderr)
    print(file=sys.stderr)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(files), **{f"w{i}": w for i, w in enumerate(out)})
    return out


def top_words(probs: np.ndarray) -> np.ndarray:
    """(windows × 50) bool: each window's TOP most probable words."""
    order = np.argsort(-probs, axis=1, kind="stable")[:, :TOP]
    out = np.zeros(probs.shape, dtype=bool)
    np.put_along_axis(out, order, True, axis=1)
    return out


def scores(tagged: list[np.ndarray], threshold: float) -> dict[str, float]:
    """Calls per track, share of tracks with a call, the share of calls that hold and its 95% bootstrap interval
    (module docstring), over the tracks with three windows."""
    full = [w for w in tagged if len(w) == 3]
    calls = np.stack([w[0] >= threshold for w in full]).astype(np.int64)  # (tracks × words)
    held = np.stack([top_words(w[1:]).all(axis=0) for w in full]) & (calls > 0)
    per_track_calls, per_track_held = calls.sum(axis=1), held.sum(axis=1)
    draws = np.random.default_rng(0).integers(0, len(full), size=(DRAWS, len(full)))
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = per_track_held[draws].sum(axis=1) / per_track_calls[draws].sum(axis=1)
    n_calls = int(per_track_calls.sum())
    return {
        "tracks": len(full),
        "calls": n_calls,
        "calls_per_track": n_calls / len(full),
        "tracks_with_a_call": float((per_track_calls > 0).mean()),
        "hold": float(per_track_held.sum() / n_calls) if n_calls else float("nan"),
        "hold_interval": [float(np.nanpercentile(shares, 2.5)), float(np.nanpercentile(shares, 97.5))],
    }


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ost", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--demo-tracks", type=Path, default=ROOT / "data" / "demo" / "tracks.csv")
    parser.add_argument("--aim", type=float, default=0.8)
    args = parser.parse_args()
    manifest = pd.read_csv(args.ost / "manifest.csv")
    demo_packages = set(pd.read_csv(args.demo_tracks)["source_package"])
    manifest["set"] = np.where(manifest["package"].isin(demo_packages), "demo", "extra")
    files = [str(args.ost / p) for p in manifest["path"]]
    tagged = tag_windows(files, args.work)
    table = {}
    for name in ("extra", "demo"):
        part = [tagged[i] for i in np.flatnonzero(manifest["set"].to_numpy() == name)]
        table[name] = {str(t): scores(part, t) for t in THRESHOLDS}
    print(
        f"{'t':>5} | {'extra: calls/track':>18} {'with a call':>11} {'hold (95%)':>17} | {'demo: calls/track':>17} "
        f"{'with a call':>11} {'hold (95%)':>17}"
    )
    for t in THRESHOLDS:
        row = [f"{t:>5.2f}"]
        for name, width in (("extra", 18), ("demo", 17)):
            s = table[name][str(t)]
            low, high = s["hold_interval"]
            row.append(
                f"{s['calls_per_track']:>{width}.2f} {s['tracks_with_a_call']:>11.2f} "
                f"{s['hold']:.2f} ({low:.2f}-{high:.2f})"
            )
        print(" | ".join(row))
    chosen = next((t for t in THRESHOLDS if table["extra"][str(t)]["hold"] >= args.aim), None)
    print(
        f"tracks with three windows: extra {table['extra'][str(THRESHOLDS[0])]['tracks']}, "
        f"demo {table['demo'][str(THRESHOLDS[0])]['tracks']}"
    )
    if chosen is not None:
        print(
            f"chosen on extra: t = {chosen} (hold {table['extra'][str(chosen)]['hold']:.2f}); "
            f"on demo hold {table['demo'][str(chosen)]['hold']:.2f}"
        )
    (args.work / "scores.json").write_text(json.dumps({"aim": args.aim, "chosen": chosen, "table": table}, indent=1))


if __name__ == "__main__":
    main()
