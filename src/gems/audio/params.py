"""The ``[audio]`` section: how much of each file is analysed, and by how many processes — the defaults every
audio entry point (gems build, gems extract, the extractor, the decoder) takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gems.parallel import default_workers
from gems.params import Interval, Params


@dataclass(frozen=True)
class AudioParams(Params):
    """The ``[audio]`` section: seconds analysed per file (0: the whole file), the shortest file analysed, worker
    processes."""

    excerpt_s: float = 30.0
    min_duration_s: float = 2.0
    workers: int = field(default_factory=default_workers)

    constraints: ClassVar = {
        "excerpt_s": Interval(float, 0.0, 3600.0),
        "min_duration_s": Interval(float, 0.0, 3600.0),
        "workers": Interval(int, 1, 256),
    }
