"""Choose gems' sound space on development audio: same-game P@5 of candidate embeddings, chosen on one set of
games and reported on the other, both ways.

    python pipelines/sound_space.py --ost /work/ost --work /tmp/sound_space [--demo-tracks data/demo/tracks.csv]

``--ost`` is a folder made by ``../shared/tools/fetch-game-soundtracks DEST --all`` (``manifest.csv``: ``path``,
``game``, ``package``). Its tracks fall into two sets of games: **demo** (the packages the bundled demo was cut
from, read from ``--demo-tracks``: 7 games) and **extra** (every other package: Widelands, OpenClonk, X-Moto).
Each file's middle 30 s is decoded as gems does, and per file are kept: the one-STFT features (at 22.05 kHz, as
gems computed them before, and at 16 kHz), and musicnn's per-patch layers for both models. They are cached in
``--work`` (``layers.npz``), so re-running only re-scores.

P@5: for each track, the share of its 5 nearest neighbours by cosine (itself excluded) from the same game;
chance is the mean share of same-game tracks among the others. A candidate is a layer of a model (or both
models), a pooling over a file's patches, and what is done to the pooled vectors across the set (nothing;
centring on the set's mean; z-scoring; PCA to 24 dimensions as gems did), optionally concatenated with the
one-STFT embedding (unit parts, weight w on the one-STFT part). The choice is the candidate whose WORSE set is
best (ties: the simpler), and each direction is also reported: the best on one set, scored on the other. A third
view, all 10 games together (chance ~0.16, nearer the 8-game check's 0.175), is reported, never used to choose.
Prints the tables and writes ``--work/scores.json``.

    python pipelines/sound_space.py --ost /work/ost --extracted emb.parquet   # after: gems extract /work/ost --out emb.parquet

scores a ``gems extract`` table instead (its ``embedding`` column, files matched to the manifest by path): the
check the issue runs, on these games.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("penultimate", "taggram", "pooled")
POOLINGS = ("mean", "mean+std", "max", "mean+max")
TRANSFORMS = ("raw", "centred", "zscore", "pca24")
ONE_STFT_WEIGHTS = (0.0, 0.25, 0.5)


def read_sets(ost: Path, demo_tracks: Path) -> dict[str, object]:
    import pandas as pd

    manifest = pd.read_csv(ost / "manifest.csv")
    demo_packages = set(pd.read_csv(demo_tracks)["source_package"])
    manifest["set"] = np.where(manifest["package"].isin(demo_packages), "demo", "extra")
    manifest["file"] = [str(ost / p) for p in manifest["path"]]
    return manifest


def analyse(files: list[str], work: Path) -> dict[str, list[np.ndarray]]:
    """Per file: one-STFT features at 22.05 and 16 kHz, and per-patch musicnn layers of both models (cached)."""
    from threadpoolctl import threadpool_limits

    from gems.audio import musicnn
    from gems.audio.decode import load_excerpt
    from gems.audio.features import feature_vector

    cache = work / "layers.npz"
    if cache.exists():
        with np.load(cache, allow_pickle=False) as stored:
            if list(stored["files"]) == files:
                counts = stored["patches"]
                split = np.cumsum(counts)[:-1]
                return {
                    key: (
                        np.split(stored[key], split) if key.startswith("MTT") or key.startswith("MSD") else stored[key]
                    )
                    for key in stored.files
                    if key not in ("files", "patches")
                }
    nets = {name: musicnn.Musicnn.load(name) for name in musicnn.MODELS}
    out: dict[str, list] = {"stft22": [], "stft16": []}
    counts = []
    started = time.perf_counter()
    with threadpool_limits(1):
        for i, path in enumerate(files):
            y22, _ = load_excerpt(path, sr=22050)
            y16, _ = load_excerpt(path, sr=musicnn.SR)
            out["stft22"].append(feature_vector(y22, sr=22050))
            out["stft16"].append(feature_vector(y16, sr=musicnn.SR))
            x = musicnn.patches(musicnn.log_mel(y16))
            counts.append(len(x))
            for name, net in nets.items():
                layers = net.forward(x)
                for layer in LAYERS:
                    out.setdefault(f"{name}/{layer}", []).append(getattr(layers, layer))
            if (i + 1) % 20 == 0:
                print(f"  {i + 1}/{len(files)} files, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    arrays = {key: np.concatenate(value) if "/" in key else np.stack(value) for key, value in out.items()}
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, files=np.array(files), patches=np.array(counts), **arrays)
    return analyse(files, work)


def pool(per_file: list[np.ndarray], how: str, layer: str) -> np.ndarray:
    """One vector per file from its patches (P, D); taggram probabilities are pooled as logits."""
    if layer == "taggram":
        per_file = [np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1)) for p in per_file]
    parts = {
        "mean": lambda p: p.mean(axis=0),
        "std": lambda p: p.std(axis=0),
        "max": lambda p: p.max(axis=0),
    }
    names = how.split("+")
    return np.stack([np.concatenate([parts[n](p.astype(np.float64)) for n in names]) for p in per_file])


def transform(X: np.ndarray, how: str) -> np.ndarray:
    """Unit rows after the set-level transform (fitted on the rows themselves, as `gems extract` would)."""
    X = np.asarray(X, dtype=np.float64)
    if how == "centred":
        X = X - X.mean(axis=0)
    elif how in ("zscore", "pca24"):
        X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        if how == "pca24":
            _, _, vt = np.linalg.svd(X, full_matrices=False)
            X = X @ vt[: min(24, len(X) - 1)].T
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def one_stft(features: np.ndarray) -> np.ndarray:
    """gems' previous audio embedding: standardised, group-weighted features, PCA to 24, unit rows."""
    from gems.audio.embed import FeatureScaler

    X = FeatureScaler().fit(features).standardize(features).astype(np.float64)
    X -= X.mean(axis=0)
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    return transform(X @ vt[: min(24, len(X) - 1)].T, "raw")


def precision_at_5(unit: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(P@5, chance) of unit rows by cosine, each track's own row excluded."""
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :5]
    same = labels[top] == labels[:, None]
    others = (labels[None, :] == labels[:, None]).sum(axis=1) - 1
    return float(same.mean()), float((others / (len(labels) - 1)).mean())


def candidates(layers: dict, rows: np.ndarray):
    """(name, unit rows of `rows`) for every candidate embedding of one set of files."""
    stft = {key: one_stft(layers[key][rows]) for key in ("stft22", "stft16")}
    yield "one-STFT 22.05 kHz (before)", stft["stft22"]
    yield "one-STFT 16 kHz", stft["stft16"]
    for models in (("MTT_musicnn",), ("MSD_musicnn",), ("MTT_musicnn", "MSD_musicnn")):
        for layer in LAYERS:
            for how in POOLINGS:
                pooled = np.hstack([pool([layers[f"{m}/{layer}"][i] for i in rows], how, layer) for m in models])
                for change in TRANSFORMS:
                    unit = transform(pooled, change)
                    name = f"{'+'.join(m[:3] for m in models)} {layer} {how} {change}"
                    for w in ONE_STFT_WEIGHTS:
                        if w == 0:
                            yield name, unit
                        else:
                            both = np.hstack([np.sqrt(1 - w) * unit, np.sqrt(w) * stft["stft16"]])
                            yield f"{name} + one-STFT w={w}", both


def score_extracted(manifest, table_path: Path) -> None:
    """P@5 per set of a `gems extract` table's embeddings, and the share of the manifest's files embedded."""
    import pandas as pd

    table = pd.read_parquet(table_path, columns=["path", "status", "embedding"])
    merged = manifest.merge(table, left_on="file", right_on="path", how="left")
    ok = (merged["status"] == "ok").to_numpy()
    print(f"{ok.sum()} of {len(merged)} manifest files embedded ({ok.mean():.1%})")
    for name in ("demo", "extra", "all"):
        rows = np.flatnonzero(ok & ((merged["set"].to_numpy() == name) | (name == "all")))
        unit = transform(np.stack(merged["embedding"].to_numpy()[rows]), "raw")
        p5, chance = precision_at_5(unit, merged["game"].to_numpy()[rows])
        print(f"{name}: {len(rows)} tracks, P@5 {p5:.3f} (chance {chance:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ost", type=Path, required=True)
    parser.add_argument("--work", type=Path, help="where per-file layers are cached and scores written")
    parser.add_argument("--extracted", type=Path, help="score this `gems extract` table instead of the candidates")
    parser.add_argument("--demo-tracks", type=Path, default=ROOT / "data" / "demo" / "tracks.csv")
    args = parser.parse_args()

    manifest = read_sets(args.ost, args.demo_tracks)
    if args.extracted:
        score_extracted(manifest, args.extracted)
        return
    if args.work is None:
        parser.error("--work is needed unless --extracted is given")
    layers = analyse(manifest["file"].tolist(), args.work)
    scores: dict[str, dict[str, float]] = {}
    chance = {}
    for name in ("demo", "extra", "all"):
        rows = np.flatnonzero((manifest["set"].to_numpy() == name) | (name == "all"))
        labels = manifest["game"].to_numpy()[rows]
        games = len(set(labels))
        print(f"{name}: {len(rows)} tracks of {games} games", file=sys.stderr)
        for candidate, unit in candidates(layers, rows):
            p5, chance[name] = precision_at_5(unit, labels)
            scores.setdefault(candidate, {})[name] = p5
    names = list(scores)
    worse = {c: min(s["demo"], s["extra"]) for c, s in scores.items()}
    chosen = max(names, key=lambda c: (round(worse[c], 3), -names.index(c)))
    print(f"chance: demo {chance['demo']:.3f}, extra {chance['extra']:.3f}, all {chance['all']:.3f}\n")
    print("| candidate | demo P@5 | extra P@5 | worse | all 10 games |\n|---|---:|---:|---:|---:|")
    for c in sorted(names, key=lambda c: -worse[c])[:25] + [names[0], names[1]]:
        mark = " **(chosen)**" if c == chosen else ""
        print(
            f"| {c}{mark} | {scores[c]['demo']:.3f} | {scores[c]['extra']:.3f} | {worse[c]:.3f} | {scores[c]['all']:.3f} |"
        )
    print()
    for pick, other in (("demo", "extra"), ("extra", "demo")):
        best = max(names, key=lambda c: (round(scores[c][pick], 3), -names.index(c)))
        print(
            f"chosen on {pick}: {best} — {pick} {scores[best][pick]:.3f}, reported on {other}: {scores[best][other]:.3f}"
        )
    (args.work / "scores.json").write_text(json.dumps({"chance": chance, "chosen": chosen, "scores": scores}, indent=1))


if __name__ == "__main__":
    main()
