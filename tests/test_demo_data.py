"""The committed demo catalogue (data/demo/): excerpt format, size, attribution and the simulated log."""

from __future__ import annotations

import csv
import importlib.util
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
TRACK_COLUMNS = ["track_id", "title", "soundtrack", "game", "composer", "licence", "duration_s", "path"]
LISTEN_COLUMNS = ["user_id", "track_id", "plays", "timestamp"]
MAX_BYTES = 15_000_000


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def tracks(demo_dir) -> list[dict[str, str]]:
    columns, rows = _read_csv(demo_dir / "tracks.csv")
    assert columns[: len(TRACK_COLUMNS)] == TRACK_COLUMNS
    return rows


@pytest.fixture(scope="module")
def listens(demo_dir) -> tuple[list[str], list[dict[str, str]]]:
    return _read_csv(demo_dir / "listens.csv")


@pytest.fixture(scope="module")
def simulator():
    """pipelines/simulate_listens.py, imported by path (pipelines/ is not a package)."""
    path = ROOT / "pipelines" / "simulate_listens.py"
    spec = importlib.util.spec_from_file_location("simulate_listens", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is being made
    spec.loader.exec_module(module)
    return module


def test_catalogue_has_enough_distinct_tracks(tracks):
    ids = [t["track_id"] for t in tracks]
    assert len(ids) >= 60
    assert len({t["soundtrack"] for t in tracks}) >= 5
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicated, f"duplicate track ids: {duplicated}"


def test_every_excerpt_is_short_mono_22k_vorbis(demo_dir, tracks):
    for t in tracks:
        path = demo_dir / t["path"]
        assert path.is_file(), f"{t['track_id']}: {path} is missing"
        info = sf.info(str(path))
        found = (info.format, info.subtype, info.channels, info.samplerate)
        assert found == ("OGG", "VORBIS", 1, 22_050), f"{t['path']}: {found}"
        assert info.duration <= 30.05, f"{t['path']} lasts {info.duration:.2f} s"
        assert abs(info.duration - float(t["duration_s"])) < 0.02, t["path"]


def test_demo_folder_fits_the_size_budget(demo_dir):
    total = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file())
    assert total <= MAX_BYTES, f"data/demo holds {total / 1e6:.2f} MB, over the {MAX_BYTES / 1e6:.0f} MB cap"


def test_attribution_names_every_title_and_composer(demo_dir, tracks):
    attribution = (demo_dir / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for t in tracks:
        assert t["composer"] and t["composer"] in attribution, f"{t['track_id']}: composer {t['composer']!r}"
        assert t["title"] in attribution, f"{t['track_id']}: title {t['title']!r}"
        assert t["path"] in attribution, f"{t['track_id']}: path {t['path']!r}"


def test_listens_are_well_formed(tracks, listens):
    columns, rows = listens
    assert columns == LISTEN_COLUMNS
    known = {t["track_id"] for t in tracks}
    unknown = {r["track_id"] for r in rows} - known
    assert not unknown, f"listens.csv names unknown tracks: {sorted(unknown)[:5]}"
    pairs = Counter((r["user_id"], r["track_id"]) for r in rows)
    assert max(pairs.values()) == 1, "a (user, track) pair occurs more than once"
    assert all(int(r["plays"]) >= 1 for r in rows)
    assert all(r["timestamp"].startswith("2025-") and r["timestamp"].endswith("Z") for r in rows)
    order = [(r["user_id"], r["timestamp"]) for r in rows]
    assert order == sorted(order), "listens.csv must be sorted by user, then timestamp"


def test_each_theme_beats_its_soundtracks_median_track(tracks, listens, simulator):
    listeners = Counter(r["track_id"] for r in listens[1])
    by_soundtrack = defaultdict(list)
    for t in sorted(tracks, key=lambda t: int(t["track_no"])):
        by_soundtrack[t["soundtrack"]].append(t)
    for soundtrack, group in by_soundtrack.items():
        i, _ = simulator.pick_theme([t["title"] for t in group], group[0]["game"])
        theme = group[i]["track_id"]
        median = statistics.median(listeners[t["track_id"]] for t in group)
        assert listeners[theme] > median, (
            f"{soundtrack}: theme {theme} has {listeners[theme]} listeners, the median track {median}"
        )


def test_theme_rule(simulator):
    pick = simulator.pick_theme
    assert pick(["Battle Music", "Love Theme", "Main Theme"], "Battle for Wesnoth")[0] == 2
    assert pick(["Track 1", "Menu"], "Warzone 2100")[0] == 1
    assert pick(["Frozen Mainzik 1p", "Introzik"], "Frozen Bubble")[0] == 1
    assert pick(["City blues", "Lincity"], "LinCity-NG")[0] == 1
    assert pick(["Frontiers", "Machine Wars"], "Advanced Strategic Command")[0] == 0


def test_simulated_log_is_reproducible(demo_dir, simulator, tmp_path):
    out = tmp_path / "listens.csv"
    tracks_csv = str(demo_dir / "tracks.csv")
    simulator.main(["--tracks", tracks_csv, "--out", str(out), "--users", "1500", "--seed", "7"])
    assert out.read_bytes() == (demo_dir / "listens.csv").read_bytes(), (
        "listens.csv differs from a fresh run with seed 7; re-make it with "
        "`python pipelines/simulate_listens.py --seed 7`"
    )
