"""The resumable parts of a table export (``gems export --out``): each finished block of listeners is a Parquet
part in the hidden folder ``.OUT.parts`` beside the output, under a plan (model, users, options) that a rerun
must match to resume; the parts are joined into OUT, in its format, under a temporary name renamed when
complete, so a truncated file never appears under the final name."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from gems.safe_files import write_atomic

log = logging.getLogger(__name__)


class Parts:
    """The finished blocks of a table export: Parquet parts in ``.OUT.parts/`` and the plan they follow. Its
    caller holds the lock of OUT, so whatever a dead export left (a join's ``.OUT.joining-*``, a part's
    temporary file, a folder without its plan) is stale and removed."""

    def __init__(self, out: Path, plan: dict):
        plan = json.loads(json.dumps(plan, sort_keys=True))  # as it reads back from plan.json (tuples -> lists)
        self.out = out
        self.folder = out.with_name(f".{out.name}.parts")
        for stale in (*out.parent.glob(f".{out.name}.joining-*"), *self.folder.glob(".part-*.tmp")):
            stale.unlink(missing_ok=True)
        plan_file = self.folder / "plan.json"
        if plan_file.exists() and _read_plan(plan_file) != plan:
            log.warning("an interrupted export of %s was for other settings; starting it over", out.name)
            shutil.rmtree(self.folder)
        elif plan_file.exists():
            log.info("resuming the interrupted export of %s (%d blocks done)", out.name, len(self.done()))
        elif self.folder.exists():  # a join was tidying up when it stopped: nothing in it can be trusted
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(plan_file, json.dumps(plan, sort_keys=True).encode())

    def path(self, block: int) -> Path:
        return self.folder / f"part-{block:06d}.parquet"

    def done(self) -> set[int]:
        return {int(p.stem.split("-")[1]) for p in self.folder.glob("part-*.parquet")}

    def write(self, block: int, table) -> None:
        import pyarrow.parquet as pq

        temporary = self.folder / f".part-{block:06d}.tmp"
        try:
            pq.write_table(table, temporary, compression="zstd")
            os.replace(temporary, self.path(block))
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def join(self, blocks: int, out: Path, schema) -> int:
        """All parts, in block order, into ``out`` in its format (written aside, then renamed); then tidy up
        (the plan first, so a join stopped while tidying is started over, never resumed from half the parts).
        ``schema``: the table's columns. Returns the rows written."""
        import pyarrow.parquet as pq

        temporary = out.with_name(f".{out.name}.joining-{os.getpid()}")
        suffix = out.suffix.lower()
        rows = 0
        try:
            if suffix == ".parquet":
                with pq.ParquetWriter(temporary, schema, compression="zstd") as sink:
                    for block in range(blocks):
                        table = pq.read_table(self.path(block))
                        rows += table.num_rows
                        sink.write_table(table)
            elif suffix == ".csv":  # text cells a spreadsheet cannot run: see gems.spreadsheet
                from gems.spreadsheet import csv_writer, neutral_table

                with csv_writer(temporary, schema) as sink:
                    for block in range(blocks):
                        table = pq.read_table(self.path(block))
                        rows += table.num_rows
                        sink.write_table(neutral_table(table))
            else:
                with open(temporary, "w", encoding="utf-8") as sink:
                    for block in range(blocks):
                        for row in pq.read_table(self.path(block)).to_pylist():
                            rows += 1
                            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            os.replace(temporary, out)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        (self.folder / "plan.json").unlink()
        shutil.rmtree(self.folder)
        return rows

    def kept(self) -> str:
        """What is left for a rerun to resume from, in words."""
        parts = list(self.folder.glob("part-*.parquet"))
        size = sum(p.stat().st_size for p in parts)
        return f"{len(parts):,} finished block(s), {size / 1e6:,.1f} MB, are kept in {self.folder}"


def _read_plan(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
