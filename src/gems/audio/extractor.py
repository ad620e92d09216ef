"""Audio analysis for many files: a cache per file content, worker processes, progress, a summary log.

Each file's excerpt is decoded once at 16 kHz and gives three things: the one-STFT features
(:mod:`gems.audio.features`), its sound vector and its tag probabilities (musicnn, :mod:`gems.audio.musicnn`).
The maths lives in those modules and the decoding in :mod:`gems.audio.decode`; this module only decides which
files need work, runs it, and stores the answers.

Cache layout, under ``<cache_dir>/features/<config fingerprint[:16]>/<content hash[:2]>/``:
``<content hash>.npy`` holds a float64 vector ``[source duration in s, features (D), sound (800), tags (50)]``
for a file that was analysed, ``<content hash>.json`` holds ``{"code", "reason"}`` for one that failed (a file's bytes
cannot become valid without its hash changing). Entries are written atomically, so concurrent workers and
processes are safe; an unreadable or malformed entry is ignored and recomputed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from gems.artifacts.hashing import hash_file, hash_json
from gems.audio.decode import (
    RESAMPLE_QUALITY,
    SILENCE_DBFS,
    AudioFileError,
    check_extension,
    load_excerpt,
    os_error,
)
from gems.audio.features import FEATURE_NAMES, feature_vector
from gems.audio.musicnn import SOUND_DIMS, SOUND_MODELS, SR, TAG_WORDS, Musicnn, describe, weights_fingerprint
from gems.audio.params import AudioParams
from gems.errors import ParameterError
from gems.parallel import Runner
from gems.progress import progress_bar
from gems.safe_files import write_atomic

FEATURE_VERSION = 2  # bump whenever the analysis or decoding change, so cached vectors are recomputed
# (2: decoded at 16 kHz with soxr HQ; musicnn's sound vector and tags added)
COLUMNS = {
    "features": slice(0, len(FEATURE_NAMES)),
    "sound": slice(len(FEATURE_NAMES), len(FEATURE_NAMES) + SOUND_DIMS),
    "tags": slice(len(FEATURE_NAMES) + SOUND_DIMS, len(FEATURE_NAMES) + SOUND_DIMS + len(TAG_WORDS)),
}
WIDTH = COLUMNS["tags"].stop  # one file's analysis: features, sound, tags
log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$GEMS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/gems``, else ``~/.cache/gems`` (read per call)."""
    if os.environ.get("GEMS_CACHE_DIR"):
        return Path(os.environ["GEMS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gems"


@dataclass
class ExtractionResult:
    """The analysis of ``paths`` in input order. ``status`` is ``"ok"`` or a failure code (see AudioFileError;
    ``"error"`` for an unexpected exception). ``analysis`` is (n, WIDTH) float32 with NaN rows for failures;
    ``features`` (n, D), ``sound`` (n, 800) and ``tags`` (n, 50) are its column blocks (COLUMNS). ``extracted`` counts files decoded by this call (one per distinct content), ``cache_hits`` files answered
    from the cache."""

    paths: list[str]
    content_hashes: list[str]
    status: list[str]
    reasons: list[str | None]
    source_duration_s: np.ndarray
    analysis: np.ndarray
    cache_hits: int
    extracted: int
    seconds: float

    @property
    def features(self) -> np.ndarray:
        return self.analysis[:, COLUMNS["features"]]

    @property
    def sound(self) -> np.ndarray:
        return self.analysis[:, COLUMNS["sound"]]

    @property
    def tags(self) -> np.ndarray:
        return self.analysis[:, COLUMNS["tags"]]

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask (n,) of the files that were analysed."""
        return np.array([s == "ok" for s in self.status], dtype=bool)

    def failures(self) -> list[tuple[str, str, str]]:
        """``(path, code, reason)`` for every file that failed."""
        return [(p, s, r or "") for p, s, r in zip(self.paths, self.status, self.reasons) if s != "ok"]

    def to_frame(self):
        """One row per file: path, content_hash, status, reason, source_duration_s (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "path": self.paths,
                "content_hash": self.content_hashes,
                "status": self.status,
                "reason": self.reasons,
                "source_duration_s": self.source_duration_s,
            }
        )


# --------------------------------------------------------------------------------------------- one file


def analyse_excerpt(y: np.ndarray, *, n_fft: int = 2048, hop_length: int = 512) -> np.ndarray:
    """One 16-kHz mono excerpt -> its analysis row (WIDTH,) float32: features, sound, tags (COLUMNS)."""
    features = feature_vector(y, sr=SR, n_fft=n_fft, hop_length=hop_length)
    return np.concatenate([features, *describe(y)])


def _analyse(path: str, config: dict) -> tuple[str, str | None, float, np.ndarray | None, bool]:
    """``(status, reason, duration_s, analysis row, cacheable)`` for one file; never raises."""
    try:
        y, duration = load_excerpt(path, sr=SR, excerpt_s=config["excerpt_s"], min_duration_s=config["min_duration_s"])
        return "ok", None, duration, analyse_excerpt(y, n_fft=config["n_fft"], hop_length=config["hop_length"]), True
    except AudioFileError as exc:  # a property of the bytes, so cached, unless the file vanished meanwhile
        return exc.code, exc.reason, float("nan"), None, exc.code not in ("missing", "unreadable", "not_a_file")
    except Exception as exc:  # one bad file must not stop a run of thousands
        reason = f"analysis failed with {type(exc).__name__}: {exc}; please report this as a gems bug"
        return "error", reason, float("nan"), None, False


_WORKER_LIMITS = None


def _init_worker() -> None:
    """Local pool initializer: one BLAS/OpenMP thread per worker (signals: see gems.parallel)."""
    global _WORKER_LIMITS
    _WORKER_LIMITS = threadpool_limits(limits=1)


def _analysis_task(task: tuple[str, str, dict]) -> tuple[str, tuple]:
    """``(content hash, path, config)`` -> ``(content hash, analysis)``, in a worker process or on Dask."""
    key, path, config = task
    return key, _analyse(path, config)


# --------------------------------------------------------------------------------------------- the extractor


class FeatureExtractor:
    """Analyse audio files (:func:`analyse_excerpt`), cached per file content.

    ``excerpt_s`` seconds from the middle of each file are analysed at 16 kHz, musicnn's rate (``excerpt_s=0``:
    the whole file); ``n_fft`` and ``hop_length`` are the one-STFT features' frames; files shorter than ``min_duration_s`` fail as ``too_short``. ``workers > 1`` analyses files in that
    many processes; ``scheduler`` (a Dask address) analyses them on that cluster instead, whose workers must
    read the same paths. ``cache_dir`` defaults to :func:`default_cache_dir`.
    """

    def __init__(
        self,
        *,
        excerpt_s: float = AudioParams.excerpt_s,
        n_fft: int = 2048,
        hop_length: int = 512,
        min_duration_s: float = AudioParams.min_duration_s,
        workers: int = 1,
        scheduler: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        show_progress: bool = False,
    ):
        for name, value in (("n_fft", n_fft), ("hop_length", hop_length), ("workers", workers)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        frame_s = n_fft / SR
        if not min_duration_s >= frame_s:
            raise ParameterError(
                f"min_duration_s={min_duration_s} is shorter than one analysis frame "
                f"(n_fft / sr = {frame_s:.3f} s); use at least that (the default is 2 s)"
            )
        if not (excerpt_s == 0 or excerpt_s >= frame_s):
            raise ParameterError(
                f"excerpt_s={excerpt_s} must be 0 (the whole file) or at least one frame ({frame_s:.3f} s); try 30"
            )
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.excerpt_s, self.min_duration_s = float(excerpt_s), float(min_duration_s)
        self.workers = int(workers)
        self.scheduler = scheduler or None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.show_progress = show_progress

    def _config(self) -> dict:
        return {
            "excerpt_s": self.excerpt_s,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "min_duration_s": self.min_duration_s,
        }

    @property
    def config_fingerprint(self) -> str:
        """Hash of everything that changes the output (not workers, scheduler, cache_dir or show_progress)."""
        return hash_json(
            {
                **self._config(),
                "sr": SR,
                "feature_version": FEATURE_VERSION,
                "feature_names": FEATURE_NAMES,
                "sound": weights_fingerprint(),
                "tags": TAG_WORDS,
                "resample_quality": RESAMPLE_QUALITY,
                "silence_dbfs": SILENCE_DBFS,
            }
        )

    # ----------------------------------------------------------------------------------------- cache

    def _cache_root(self) -> Path:
        return self.cache_dir / "features" / self.config_fingerprint[:16]

    @staticmethod
    def _read_cache(root: Path, content_hash: str) -> tuple | None:
        """The cached ``(status, reason, duration_s, analysis row)`` of a content hash, or None."""
        entry = root / content_hash[:2] / content_hash
        try:
            vector = np.load(entry.with_suffix(".npy"), allow_pickle=False)
            expected = vector.shape == (WIDTH + 1,) and vector.dtype == np.float64
            if expected and np.isfinite(vector).all():
                return "ok", None, float(vector[0]), vector[1:].astype(np.float32)
            log.debug("ignoring malformed cache entry %s", entry.with_suffix(".npy"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.debug("ignoring unreadable cache entry %s: %s", entry.with_suffix(".npy"), exc)
        try:
            failure = json.loads(entry.with_suffix(".json").read_text())
            if isinstance(failure.get("code"), str) and isinstance(failure.get("reason"), str):
                return failure["code"], failure["reason"], float("nan"), None
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            log.debug("ignoring unreadable cache entry %s: %s", entry.with_suffix(".json"), exc)
        return None

    def _write_cache(
        self, root: Path, content_hash: str, status: str, reason: str | None, duration: float, row
    ) -> bool:
        """Store one answer; False (after a warning) when the cache folder is not writable."""
        entry = root / content_hash[:2] / content_hash
        try:
            if status == "ok":
                buffer = io.BytesIO()
                np.save(buffer, np.concatenate([[duration], row]).astype(np.float64), allow_pickle=False)
                write_atomic(entry.with_suffix(".npy"), buffer.getvalue())
            else:
                failure = json.dumps({"code": status, "reason": reason}).encode()
                write_atomic(entry.with_suffix(".json"), failure)
            return True
        except OSError as exc:
            log.warning(
                "cannot write the audio feature cache in %s (%s); features will be recomputed next time — "
                "set GEMS_CACHE_DIR to a writable folder",
                self.cache_dir,
                exc.strerror or exc,
            )
            return False

    # ----------------------------------------------------------------------------------------- extraction

    def _hash_all(self, paths: list[str], failed: dict[int, tuple[str, str]]) -> list[str]:
        """Content hashes of ``paths`` (``""`` where unknown); adds unreadable files to ``failed``."""
        hashes = [""] * len(paths)

        def digest(i: int) -> tuple[int, str | None, AudioFileError | None]:
            try:
                return i, hash_file(paths[i]), None
            except OSError as exc:
                return i, None, os_error(paths[i], exc)

        # hashlib releases the GIL on large buffers, so threads hash files in parallel
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for i, content_hash, error in pool.map(digest, [i for i in range(len(paths)) if i not in failed]):
                if error is None:
                    hashes[i] = content_hash
                else:
                    failed[i] = (error.code, error.reason)
        return hashes

    @contextmanager
    def _analyses(self, todo: dict[str, str]):
        """An iterator of ``(content hash, (status, reason, duration, analysis row, cacheable))`` over ``todo``.

        A context manager, so that worker processes are forked before the progress bar starts its thread.
        One file per task: each takes 40-200 ms, so IPC (~0.1 ms) is negligible and the load stays balanced.
        """
        config = self._config()
        tasks = [(key, path, config) for key, path in todo.items()]
        runner = Runner(workers=self.workers, scheduler=self.scheduler)
        # Multi-threaded BLAS makes the small per-frame matrix products 10-20x slower on a 2-core machine.
        with (
            threadpool_limits(limits=1),
            runner.map(_analysis_task, tasks, initializer=_init_worker) as analyses,
        ):
            yield analyses

    def extract(
        self, paths: Sequence[str | os.PathLike], *, content_hashes: Sequence[str] | None = None
    ) -> ExtractionResult:
        """Features of every file in ``paths``; a file that fails gets a status and a reason, the rest go on.

        ``content_hashes`` (one per path) skips hashing when the caller already knows the files' hashes.
        """
        started = time.perf_counter()
        paths = [os.fspath(p) for p in paths]
        n = len(paths)
        failed: dict[int, tuple[str, str]] = {}  # failures due to the name or the file system: not cached
        for i, path in enumerate(paths):
            try:
                check_extension(path)
            except AudioFileError as exc:
                failed[i] = (exc.code, exc.reason)
        if content_hashes is None:
            hashes = self._hash_all(paths, failed)
        else:
            hashes = list(content_hashes)
            if len(hashes) != n:
                raise ParameterError(f"got {len(hashes)} content hashes for {n} paths; pass one per path or none")
        try:  # imports, filterbanks and weights now, so that forked workers inherit them
            with threadpool_limits(limits=1):
                feature_vector(np.zeros(self.n_fft, np.float32), sr=SR, n_fft=self.n_fft, hop_length=self.hop_length)
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
        for name in SOUND_MODELS:
            Musicnn.load(name)

        root = self._cache_root()
        answers: dict[str, tuple] = {}
        cache_hits = 0
        todo: dict[str, str] = {}
        for i, content_hash in enumerate(hashes):
            if i in failed:
                continue
            if content_hash not in answers and content_hash not in todo:
                cached = self._read_cache(root, content_hash)
                if cached is None:
                    todo[content_hash] = paths[i]
                    continue
                answers[content_hash] = cached
            if content_hash in answers:
                cache_hits += 1

        writable = True
        show = self.show_progress and bool(todo)
        with (
            self._analyses(todo) as analyses,
            progress_bar("Analysing audio", len(todo), show=show) as advance,
        ):
            for content_hash, (status, reason, duration, row, cacheable) in analyses:
                answers[content_hash] = (status, reason, duration, row)
                if cacheable and writable:
                    writable = self._write_cache(root, content_hash, status, reason, duration, row)
                advance()

        status, reasons = [], []
        durations = np.full(n, np.nan)
        matrix = np.full((n, WIDTH), np.nan, dtype=np.float32)
        for i, content_hash in enumerate(hashes):
            if i in failed:
                code, reason, duration, row = (*failed[i], np.nan, None)
            else:
                code, reason, duration, row = answers[content_hash]
            status.append(code)
            reasons.append(reason)
            durations[i] = duration
            if row is not None:
                matrix[i] = row
        seconds = time.perf_counter() - started
        result = ExtractionResult(paths, hashes, status, reasons, durations, matrix, cache_hits, len(todo), seconds)
        counts = Counter(s for s in status if s != "ok")
        log.info(
            "audio analysis: %d files, %d ok, %d failed%s, %d cache hits, %d extracted, %.1f s",
            n,
            n - sum(counts.values()),
            sum(counts.values()),
            f" ({', '.join(f'{code}: {k}' for code, k in counts.most_common())})" if counts else "",
            cache_hits,
            len(todo),
            result.seconds,
        )
        return result
