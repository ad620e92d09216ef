"""``gems extract``: audio embeddings of a folder as one Parquet table, without building a model.

Each file's embedding is its musicnn sound vector (800 floats, unit length; see gems.audio.musicnn.describe),
the vector `gems build` indexes: it depends on that file alone, so it is not reduced by anything fitted on the
folder (on two sets of development games, a PCA or z-scoring fitted on the set never helped; see
pipelines/sound_space.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from gems.artifacts.hashing import InputHasher
from gems.audio.params import AudioParams
from gems.errors import DataError, ParameterError
from gems.parallel import default_workers


@dataclass
class ExtractSummary:
    files: int
    ok: int
    dims: int
    cache_hits: int
    seconds: float
    failures: list[dict]


def list_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, sorted; each gets a row, audio or not."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder of audio files")
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
    if not files:
        raise DataError(f"{folder} holds no files")
    return files


def extract_folder(
    folder: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    excerpt_s: float = AudioParams.excerpt_s,
    min_duration_s: float = AudioParams.min_duration_s,
    show_progress: bool = False,
) -> ExtractSummary:
    """Embed every file of ``folder`` and write ``out`` (Parquet): path, status, reason, source_duration_s,
    content_hash, ``embedding`` (800 float32, null for failed files) and ``tags`` (the 50 MTT tag probabilities
    in the order of gems.audio.musicnn.TAG_WORDS, null for failed files). ``scheduler``: a Dask address."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gems.audio.stage import embed_audio_files, hash_audio_files
    from gems.safe_files import check_output, describe_os_error, write_atomic

    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise ParameterError(f"--out must be a .parquet file, got {out}")
    check_output(out)
    started = time.perf_counter()
    files = list_files(Path(folder))
    hashed = hash_audio_files([str(p) for p in files], InputHasher())
    embedding = embed_audio_files(
        hashed,
        excerpt_s=excerpt_s,
        min_duration_s=min_duration_s,
        workers=default_workers() if workers is None else workers,
        scheduler=scheduler,
        show_progress=show_progress,
    )
    table = pa.Table.from_pandas(embedding.files, preserve_index=False)
    for name, values in (("embedding", embedding.vectors), ("tags", embedding.tags)):
        column: list = [None] * len(files)
        for j, i in enumerate(embedding.ok_positions):
            column[i] = values[j]
        table = table.append_column(name, pa.array(column, type=pa.list_(pa.float32())))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    try:
        write_atomic(out, sink.getvalue().to_pybytes())
    except OSError as exc:  # a full disk, a folder one may not write to
        raise DataError(f"{out}: {describe_os_error(exc, writing=True)}") from None
    failures = embedding.failures()[["path", "status", "reason"]].to_dict("records")
    return ExtractSummary(
        files=len(files),
        ok=int(len(embedding.ok_positions)),
        dims=int(embedding.vectors.shape[1]) if len(embedding.ok_positions) else 0,
        cache_hits=embedding.cache_hits,
        seconds=time.perf_counter() - started,
        failures=failures,
    )
