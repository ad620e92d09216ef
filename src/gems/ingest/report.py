"""What a reader understood: rows kept, and rows set aside by reason with where they were."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 3


@dataclass
class IngestReport:
    """Counts of one ingest: ``rows_read = rows_kept + sum(set_aside.values())``.

    ``examples[reason]`` holds up to three locations ("file:line: detail") so a user can find the rows.
    """

    source: str
    format: str
    rows_read: int = 0
    rows_kept: int = 0
    set_aside: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set_aside_row(self, reason: str, where: str) -> None:
        """Record one row set aside for ``reason``; ``where`` locates it ("file:line: detail")."""
        self.set_aside_rows(reason, 1, [where])

    def set_aside_rows(self, reason: str, count: int, examples: list[str]) -> None:
        """Record ``count`` rows set aside for ``reason``, keeping up to three example locations."""
        if count <= 0:
            return
        self.set_aside[reason] += count
        kept = self.examples.setdefault(reason, [])
        kept.extend(examples[: MAX_EXAMPLES - len(kept)])

    @property
    def rows_set_aside(self) -> int:
        return sum(self.set_aside.values())

    def merge(self, other: IngestReport) -> None:
        """Fold the counts of another file of the same source into this report."""
        self.rows_read += other.rows_read
        self.rows_kept += other.rows_kept
        for reason, n in other.set_aside.items():
            self.set_aside_rows(reason, n, other.examples.get(reason, []))
        self.notes.extend(other.notes)

    def summary_lines(self) -> list[str]:
        """Human-readable lines: the format, rows kept, and each reason with a count and an example."""
        lines = [f"{self.source}: format {self.format}, {self.rows_kept:,} of {self.rows_read:,} rows kept"]
        for reason, n in self.set_aside.most_common():
            where = self.examples.get(reason) or []
            lines.append(f"  set aside {n:,} × {reason}" + (f" (e.g. {where[0]})" if where else ""))
        lines.extend(f"  note: {note}" for note in self.notes)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "set_aside": dict(self.set_aside.most_common()),
            "examples": self.examples,
            "notes": self.notes,
        }
