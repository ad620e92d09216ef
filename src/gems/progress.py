"""Progress bars for long loops, shown on stderr only when asked for and when stderr is a terminal
or a CLI command requested them. The library never configures logging handlers; the CLI does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def progress_bar(description: str, total: int | None, *, show: bool = True):
    """Yield an ``advance(n=1)`` callable driving a rich bar with count, rate and ETA (a no-op when hidden)."""
    if not show:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(description, total=total, rate="")

        def advance(n: int = 1) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[task].elapsed or 0.0
            done = progress.tasks[task].completed
            if elapsed > 0:
                progress.update(task, rate=f"{done / elapsed:,.1f}/s")

        yield advance


def track(items: Iterable[T], description: str, total: int | None = None, *, show: bool = True) -> Iterator[T]:
    """Iterate ``items`` while advancing a progress bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total, show=show) as advance:
        for item in items:
            yield item
            advance()
