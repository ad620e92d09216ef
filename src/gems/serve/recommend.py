"""Recommendations for one query — seed tracks or a listener of the model — as every face asks for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gems.errors import ParameterError


@dataclass
class Answer:
    """What a query got. ``seeds``: the seed tracks' rows (empty for a listener); ``history``: the track rows
    the query is made of (seeds, or the listener's history); ``picks``: the recommendations, best first;
    ``who``: the query in words ("like “Main Theme” (…)", "for listener u1")."""

    seeds: list[int]
    history: np.ndarray
    picks: list = field(default_factory=list)
    who: str = ""
    user: str | None = None


def open_model(path: str | Path):
    """The model folder at ``path``, opened for serving (arrays memory-mapped, read on first use)."""
    from gems.model import Model

    return Model(path)


def rank_options(
    model,
    *,
    k: int | None = None,
    discount: float | None = None,
    per_soundtrack: int | None = None,
    scope: str | None = None,
    deep_cuts: bool = False,
    tail_share: float | None = None,
):
    """The model's ranking defaults with the given overrides (None keeps the default); ParameterError when a
    value is out of range."""
    from gems.rank import RankOptions

    return RankOptions.from_params(
        model.manifest.get("rank_defaults", {}),
        k=k,
        discount=discount,
        per_soundtrack=per_soundtrack,
        scope=scope,
        deep_cuts=deep_cuts or None,
        tail_share=tail_share,
    )


def recommend(model, options, *, like: list[str] | None = None, user: str | None = None) -> Answer:
    """Hidden gems for seed tracks (``like``: ids, titles or ``Title (Soundtrack)``) or for a listener of the
    model (``user``). Exactly one of the two."""
    from gems.rank import recommend_for_user, recommend_like

    if bool(like) == (user is not None):
        raise ParameterError("give either --like TRACK (one or more) or --user ID")
    if user is not None:
        picks = recommend_for_user(model, user, options)
        history = model.history(model.user_row(user))[0]
        return Answer(seeds=[], history=history, picks=picks, who=f"for listener {user}", user=user)
    seeds, picks = recommend_like(model, list(like), options)
    who = "like " + "; ".join(model.label(s) for s in seeds)
    return Answer(seeds=seeds, history=np.asarray(seeds, dtype=np.int64), picks=picks, who=who)
