"""The bundled demo: where its pipeline file lives and which seeds show what gems does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gems.errors import ParameterError
from gems.model import Model

DEMO_PIPELINE = Path("pipelines") / "demo.toml"


def find_demo_pipeline() -> Path:
    """``pipelines/demo.toml`` of the current folder, else of the checkout this package was installed from."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = root / DEMO_PIPELINE
        if candidate.is_file():
            return candidate
    raise ParameterError(
        f"cannot find {DEMO_PIPELINE}: run `gems demo` from a gems checkout (the demo data lives in data/demo)"
    )


def demo_seeds(model: Model, n: int = 3) -> list[int]:
    """The themes of the ``n`` soundtracks with the most tracks: the famous tracks a listener starts from."""
    themes = np.flatnonzero(model.is_theme)
    sizes = {}
    for soundtrack in model.soundtracks:
        sizes[soundtrack] = sizes.get(soundtrack, 0) + 1
    ranked = sorted(themes, key=lambda row: (-sizes[model.soundtracks[row]], model.soundtracks[row] or ""))
    return [int(row) for row in ranked[:n]]
