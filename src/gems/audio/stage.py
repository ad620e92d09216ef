"""Audio files -> features -> embeddings: the work shared by ``gems build`` and ``gems extract``.

Files are identified by content hash, so the extractor's cache and the build's stage fingerprint both see an
unchanged file as unchanged, wherever it lives.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gems.artifacts.hashing import InputHasher

log = logging.getLogger(__name__)

MIN_EMBEDDED = 3


@dataclass
class HashedFiles:
    """Paths with their content hashes; ``problems[i] = (code, reason)`` for files that cannot be read."""

    paths: list[str]
    hashes: list[str | None]
    problems: dict[int, tuple[str, str]]

    def fingerprint_items(self) -> list[tuple[str, str]]:
        return [(p, h or self.problems[i][0]) for i, (p, h) in enumerate(zip(self.paths, self.hashes))]


def hash_audio_files(paths: Sequence[str], hasher: InputHasher) -> HashedFiles:
    """Content hashes of ``paths``; a missing or unreadable file is recorded as a problem, not raised."""
    from gems.audio.decode import os_error

    hashes: list[str | None] = []
    problems: dict[int, tuple[str, str]] = {}
    for i, path in enumerate(paths):
        try:
            hashes.append(hasher.file(path))
        except OSError as exc:
            hashes.append(None)
            error = os_error(path, exc)
            problems[i] = (error.code, error.reason)
    return HashedFiles(list(paths), hashes, problems)


@dataclass
class AudioEmbedding:
    """``files``: one row per input (path, content_hash, status, reason, source_duration_s).
    ``features`` (n_ok × D raw), ``standardized`` (n_ok × D), ``vectors`` (n_ok × k unit rows) belong to the
    rows ``ok_positions`` of ``files``; ``embedder`` is None when fewer than three files could be embedded."""

    files: pd.DataFrame
    features: np.ndarray
    standardized: np.ndarray
    vectors: np.ndarray
    ok_positions: np.ndarray
    embedder: object | None
    cache_hits: int
    extracted: int

    def failures(self) -> pd.DataFrame:
        return self.files[self.files["status"] != "ok"]


def embed_audio_files(
    hashed: HashedFiles,
    *,
    excerpt_s: float,
    min_duration_s: float,
    dims: int,
    workers: int,
    scheduler: str | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
) -> AudioEmbedding:
    """Extract features of every readable file (cached by content) and embed the successful ones."""
    from gems.audio.embed import AudioEmbedder
    from gems.audio.extractor import FeatureExtractor

    readable = [i for i, h in enumerate(hashed.hashes) if h is not None]
    extractor = FeatureExtractor(
        excerpt_s=excerpt_s,
        min_duration_s=min_duration_s,
        workers=workers,
        scheduler=scheduler,
        cache_dir=cache_dir,
        show_progress=show_progress,
    )
    result = extractor.extract([hashed.paths[i] for i in readable], content_hashes=[hashed.hashes[i] for i in readable])

    n = len(hashed.paths)
    status = ["ok"] * n
    reasons: list[str | None] = [None] * n
    durations = np.full(n, np.nan)
    dim = result.features.shape[1] if result.features.ndim == 2 else 0
    features = np.full((n, dim), np.nan, dtype=np.float32)
    for i, (code, reason) in hashed.problems.items():
        status[i], reasons[i] = code, reason
    for j, i in enumerate(readable):
        status[i], reasons[i] = result.status[j], result.reasons[j]
        durations[i] = result.source_duration_s[j]
        features[i] = result.features[j]
    files = pd.DataFrame(
        {
            "path": hashed.paths,
            "content_hash": pd.array(hashed.hashes, dtype="string"),
            "status": status,
            "reason": pd.array(reasons, dtype="string"),
            "source_duration_s": durations,
        }
    )
    ok_positions = np.flatnonzero(files["status"].to_numpy() == "ok")
    ok_features = features[ok_positions]
    embedder = None
    standardized = np.zeros((0, dim), dtype=np.float32)
    vectors = np.zeros((0, 0), dtype=np.float32)
    if len(ok_positions) >= MIN_EMBEDDED:
        embedder = AudioEmbedder(n_components=dims).fit(ok_features)
        standardized = embedder.standardize(ok_features)
        vectors = embedder.transform(ok_features)
    elif len(ok_positions):
        log.warning(
            "only %d audio file(s) could be analysed; at least %d are needed to learn an audio embedding, "
            "so this model has no audio similarity",
            len(ok_positions),
            MIN_EMBEDDED,
        )
    return AudioEmbedding(
        files=files,
        features=ok_features,
        standardized=standardized,
        vectors=vectors,
        ok_positions=ok_positions,
        embedder=embedder,
        cache_hits=result.cache_hits,
        extracted=result.extracted,
    )
