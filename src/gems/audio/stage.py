"""Audio files -> analysis (features, sound vectors, tags): the work shared by ``gems build`` and ``gems extract``.

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
    """``files``: one row per input (path, content_hash, status, reason, source_duration_s). The arrays belong
    to the rows ``ok_positions`` of ``files``: ``features`` (n_ok × D one-STFT features), ``standardized``
    (n_ok × D, by ``scaler``, None when no file was analysed), ``vectors`` (n_ok × 800 unit-length musicnn sound
    vectors) and ``tags`` (n_ok × 50 MTT tag probabilities, columns :data:`gems.audio.musicnn.TAG_WORDS`)."""

    files: pd.DataFrame
    features: np.ndarray
    standardized: np.ndarray
    vectors: np.ndarray
    tags: np.ndarray
    ok_positions: np.ndarray
    scaler: object | None
    cache_hits: int
    extracted: int

    def failures(self) -> pd.DataFrame:
        return self.files[self.files["status"] != "ok"]


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows of X scaled to length 1 (a zero row stays zero), float32."""
    X = np.asarray(X, dtype=np.float64)
    return (X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def embed_audio_files(
    hashed: HashedFiles,
    *,
    excerpt_s: float,
    min_duration_s: float,
    workers: int,
    scheduler: str | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = False,
) -> AudioEmbedding:
    """Analyse every readable file (cached by content): each analysed file's sound vector is its own, whatever
    the other files; only the explanations' standardised features are learned on the collection."""
    from gems.audio.embed import FeatureScaler
    from gems.audio.extractor import COLUMNS, FeatureExtractor

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
    analysis = np.full((n, result.analysis.shape[1]), np.nan, dtype=np.float32)
    for i, (code, reason) in hashed.problems.items():
        status[i], reasons[i] = code, reason
    for j, i in enumerate(readable):
        status[i], reasons[i] = result.status[j], result.reasons[j]
        durations[i] = result.source_duration_s[j]
        analysis[i] = result.analysis[j]
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
    features, sound, tags = (analysis[ok_positions][:, COLUMNS[block]] for block in ("features", "sound", "tags"))
    scaler = FeatureScaler().fit(features) if len(ok_positions) else None
    if not len(ok_positions) and n:
        log.warning("none of the %d audio file(s) could be analysed, so this model has no audio similarity", n)
    return AudioEmbedding(
        files=files,
        features=features,
        standardized=scaler.standardize(features) if scaler else np.zeros((0, features.shape[1]), np.float32),
        vectors=unit_rows(sound),
        tags=tags,
        ok_positions=ok_positions,
        scaler=scaler,
        cache_hits=result.cache_hits,
        extracted=result.extracted,
    )
