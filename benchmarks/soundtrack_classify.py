"""Soundtrack detection on the MPD sample's 146,459 tracks: today's rules against the rules before the covers,
the playlist evidence and the new lists (commit 0d2f869, rebuilt from git), same tracks, same run.

    python benchmarks/soundtrack_classify.py [--repeat 5]

The tracks are those ``gems build`` ingests from ``../shared/data/mpd-sample/slices`` (read once, outside the
timing); each detector classifies them ``--repeat`` times and the best time counts. Without the MPD sample the
benchmark says so and writes nothing. Writes results/soundtrack_classify.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time

from benchkit import ROOT, write_result


def _labels_module():
    spec = importlib.util.spec_from_file_location("soundtrack_labels", ROOT / "pipelines" / "soundtrack_labels.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def best(classify, tracks, repeat: int) -> tuple[float, int]:
    """(best seconds, tracks flagged) of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        flags = classify(tracks)
        times.append(time.perf_counter() - started)
    return min(times), int(flags["is_soundtrack"].sum())


def main() -> None:
    from gems.config import ListensSource
    from gems.ingest import ingest_sources
    from gems.ingest.soundtrack import classify_soundtrack

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    labels = _labels_module()
    if not labels.SLICES.is_dir():
        print(f"the MPD sample is not at {labels.SLICES}: nothing to measure")
        return
    tracks = ingest_sources(listens=[ListensSource(labels.SLICES, "mpd")]).tracks[labels.CATALOGUE]
    before = labels.baseline_detector().classify_soundtrack
    classify_soundtrack(tracks), before(tracks)  # warm: composer lists, compiled patterns
    rows = []
    for _ in range(args.repeat):  # alternate the two, so load on the machine falls on both alike
        rows.append((best(classify_soundtrack, tracks, 1), best(before, tracks, 1)))
    gems_s, flagged = min(r[0] for r in rows)
    before_s, flagged_before = min(r[1] for r in rows)
    report = {
        "tracks": len(tracks),
        "gems_s": round(gems_s, 3),
        "flagged": flagged,
        "before_s": round(before_s, 3),
        "flagged_before": flagged_before,
        "ratio": round(before_s / gems_s, 2),
    }
    print(
        f"{len(tracks):,} tracks: today's rules {gems_s:.3f} s ({flagged:,} flagged), the rules of "
        f"{labels.BASELINE} {before_s:.3f} s ({flagged_before:,} flagged): {report['ratio']:.2f}x"
    )
    write_result("soundtrack_classify", report)


if __name__ == "__main__":
    main()
