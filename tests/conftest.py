"""Shared fixtures: where the real data beside the project lives, and skips with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO = ROOT / "data" / "demo"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (real data lives in ../shared/data beside the project)")
    return path


@pytest.fixture(scope="session")
def hetrec_dir(tmp_path_factory) -> Path:
    """The invented Last.fm HetRec folder of ``listenskit.write_hetrec``."""
    from listenskit import write_hetrec

    return write_hetrec(tmp_path_factory.mktemp("hetrec"))


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return _require(DEMO / "tracks.csv", "the bundled demo catalogue").parent


@pytest.fixture(scope="session")
def mpd_sample() -> Path:
    return _require(SHARED_DATA / "mpd-sample" / "slices", "the MPD playlist sample")


@pytest.fixture(scope="session")
def lastfm_hetrec() -> Path:
    return _require(SHARED_DATA / "lastfm-hetrec2011-2k" / "user_artists.dat", "Last.fm HetRec 2011").parent


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache, so no test depends on another's or the user's cache."""
    monkeypatch.setenv("GEMS_CACHE_DIR", str(tmp_path_factory.mktemp("gems-cache")))
