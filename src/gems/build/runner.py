"""Stages of a build: each runs, or reuses the files of the model it replaces when its fingerprint is unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gems import layout
from gems.artifacts import ModelFolder, ModelWriter, hash_json

log = logging.getLogger(__name__)

STAGE_VERSIONS = {
    "ingest": 2,
    "catalogue": 2,
    "audio": 2,
    "interactions": 1,
    "popularity": 4,
    "cf": 2,
    "neighbours": 1,
    "index": 3,
    "ranker": 3,
}


@dataclass
class StageRecord:
    name: str
    fingerprint: str
    files: list[str]
    seconds: float
    reused: bool
    counts: dict[str, Any] = field(default_factory=dict)
    started_s: float = 0.0  # when the stage started, in seconds since the build started


class StageRunner:
    """Runs stages into a :class:`ModelWriter`, reusing the files of an older model whose fingerprints match."""

    def __init__(self, writer: ModelWriter, previous: ModelFolder | None):
        self.writer = writer
        self.previous = previous
        self.started = time.perf_counter()
        self.staged = ModelFolder(writer.path, in_progress=True)
        self.records: dict[str, StageRecord] = {}

    def file_hash(self, relpath: str) -> str | None:
        """Content hash of a file written earlier in this build, None when absent."""
        return self.staged.file_hash(relpath) if self.staged.has(relpath) else None

    def run(self, name: str, inputs: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> StageRecord:
        fingerprint = hash_json({"stage": name, "version": STAGE_VERSIONS[name], "inputs": inputs})
        started_s = round(time.perf_counter() - self.started, 3)
        old = (self.previous.manifest.get("stages", {}) if self.previous else {}).get(name)
        if old and old["fingerprint"] == fingerprint and all(self.previous.has(f) for f in old["files"]):
            self.writer.reuse(self.previous.path, old["files"])
            record = StageRecord(name, fingerprint, old["files"], 0.0, True, old.get("counts", {}), started_s)
            log.info("stage %s: unchanged, reused", name)
        else:
            before = len(self.writer.written)
            started = time.perf_counter()
            counts = compute()
            record = StageRecord(
                name,
                fingerprint,
                sorted(set(self.writer.written[before:])),
                time.perf_counter() - started,
                False,
                counts,
                started_s,
            )
            log.info("stage %s: built in %.2fs", name, record.seconds)
        self.records[name] = record
        return record


def interaction_inputs(runner: StageRunner) -> dict[str, str | None]:
    """Fingerprints of the interaction matrix's files (None when the build has no listens)."""
    return {relpath: runner.file_hash(relpath) for relpath in layout.INTERACTIONS}


def load_interactions(runner: StageRunner, n_tracks: int):
    """The (users × tracks) CSR matrix of summed weights written by the interactions stage, or None."""
    if not runner.staged.has(layout.INTERACTIONS[0]):
        return None
    import scipy.sparse as sp

    indptr, indices, weights = (runner.staged.array(f, mmap=False) for f in layout.INTERACTIONS)
    return sp.csr_matrix((weights, indices, indptr), shape=(len(indptr) - 1, n_tracks))


def n_tracks(runner: StageRunner) -> int:
    return runner.staged.table(layout.TRACKS, columns=["track_id"]).num_rows
