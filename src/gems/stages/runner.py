"""Stages of a build: each runs, or reuses the files of the model it replaces when its fingerprint is unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gems.artifacts import layout
from gems.artifacts.hashing import hash_json
from gems.artifacts.reading import ModelFolder
from gems.artifacts.writing import ModelWriter
from gems.errors import ModelError

log = logging.getLogger(__name__)

STAGE_VERSIONS = {
    "ingest": 4,
    "catalogue": 2,
    "audio": 2,
    "interactions": 1,
    "popularity": 4,
    "cf": 4,
    "neighbours": 2,
    "index": 3,
    "ranker": 5,
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
        """Content hash of a file written earlier in this build, None when absent (computed once: the manifest
        records it too)."""
        return self.writer.record(relpath)["hash"] if self.staged.has(relpath) else None

    def _reusable(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        """The previous model's record of stage ``name`` when its fingerprint matches and its files are sound
        (names and shape checked with the manifest, each file's size and header here); a damaged file means the
        stage is built again."""
        old = self.previous.manifest["stages"].get(name) if self.previous is not None else None
        if not old or old["fingerprint"] != fingerprint:
            return None
        try:
            for relpath in old["files"]:
                self.previous.file(relpath)
        except ModelError as exc:
            log.warning("stage %s is built again: %s", name, exc)
            return None
        return old

    def run(self, name: str, inputs: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> StageRecord:
        fingerprint = hash_json({"stage": name, "version": STAGE_VERSIONS[name], "inputs": inputs})
        started_s = round(time.perf_counter() - self.started, 3)
        old = self._reusable(name, fingerprint)
        if old is not None:
            self.writer.reuse(self.previous, old["files"])
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
