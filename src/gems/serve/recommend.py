"""Recommendations for one query — seed tracks or a listener of the model — as every face asks for them.

A single query is a block of one: it goes through :func:`gems.rank.rank` exactly as a batch export does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gems.errors import DataError, ParameterError


@dataclass
class Recommendation:
    """One pick. ``popularity`` is the listener count; ``popularity_percentile`` the share of the catalogue
    with as many listeners or fewer (100 = most popular); ``similarity`` the relevance in [0, 1] before the
    popularity discount; ``score`` after it; ``seed`` the query track the explanation names first."""

    track_id: str
    title: str
    artist: str | None
    soundtrack: str | None
    score: float
    similarity: float
    popularity: int
    popularity_percentile: float
    is_tail: bool
    why: str
    seed: str | None
    row: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("row")
        return out


@dataclass
class Answer:
    """What a query got. ``seeds``: the seed tracks' rows (empty for a listener); ``history``: the track rows
    the query is made of (seeds, or the listener's history); ``picks``: the recommendations, best first;
    ``who``: the query in words ("like “Main Theme” (…)", "for listener u1")."""

    seeds: list[int]
    history: np.ndarray
    picks: list[Recommendation] = field(default_factory=list)
    who: str = ""
    user: str | None = None
    linked: object | None = None  # for a history: how its tracks linked (gems.ingest.link_summary.LinkSummary)
    note: str | None = None  # said beside the picks: that they are the fallback (gems.rank.fallback)


def open_model(path: str | Path):
    """The model folder at ``path``, opened for serving (arrays memory-mapped, read on first use)."""
    from gems.model import Model

    return Model(path)


def for_whom(model, *, user: str | None = None, seeds=()) -> str:
    """Whom a list is for, in words: ``for listener u1``, ``like “A” by X (S); “B”``, or ``picked by hand``."""
    if user is not None:
        return f"for listener {user}"
    if len(seeds):
        return "like " + "; ".join(model.label(int(s)) for s in seeds)
    return "picked by hand"


def recommend(
    model,
    options,
    *,
    like: list[str] | None = None,
    user: str | None = None,
    history: str | Path | None = None,
    history_format: str = "auto",
    history_user: str | None = None,
    match_budget=None,
) -> Answer:
    """Hidden gems for seed tracks (``like``: ids, titles, ``Artist - Title`` or ``Title (Soundtrack)``), for a
    listener of the model (``user``), or for a listening history the model never saw (``history``: a file or
    folder in any format gems reads, ``history_user`` choosing one listener of several). Exactly one of the
    three. ``match_budget``: a :class:`gems.lookup.MatchBudget` the seeds' title matches share."""
    if sum([bool(like), user is not None, history is not None]) != 1:
        raise ParameterError("give one of --like TRACK (one or more), --user ID or --history FILE")
    if history is not None:
        from gems.serve.history import read_histories

        found = read_histories(model, history, fmt=history_format)
        who, queries = found.one(history_user)
        rows = queries.histories[0]
        answer = Answer(seeds=[], history=rows, who=f"for {who}'s listening history", user=who, linked=found.summary)
        answer.picks = picks_for(model, queries, options, listener=True)[0]
        if not answer.picks:
            answer.picks, answer.note = fallback_picks(model, options, found=bool(found.only([who]).linked()[0]))
        return answer
    if user is not None:
        user_row = model.user_row(user)
        history, listened = model.history(user_row)
        if len(history) == 0:
            raise DataError(f"user '{user}' has no listens in this model; recommend from seeds with --like instead")
        answer = Answer(seeds=[], history=history, who=for_whom(model, user=user), user=user)
        answer.picks = picks_for(model, [history], options, user_rows=[user_row], weights=[listened], listener=True)[0]
        return answer
    seeds = [model.lookup.resolve(query, match_budget) for query in like]
    history = np.unique(np.asarray(seeds, dtype=np.int64))
    answer = Answer(seeds=seeds, history=history, who=for_whom(model, seeds=seeds))
    answer.picks = picks_for(model, [history], options)[0]
    return answer


def picks_for(
    model, histories, options, *, user_rows=None, weights=None, listener: bool = False
) -> list[list[Recommendation]]:
    """Ranked and explained picks of a few queries (``histories``: track rows each, or a
    :class:`gems.rank.Queries`; ``user_rows``: their model listener rows, −1 or None for seeds and histories the
    model never saw; ``weights``: listen weights; ``listener``: the queries are listening histories, not seeds —
    their taste is named as theirs)."""
    from gems.rank import Queries, rank
    from gems.serve.explain import QueryEvidence, explain

    queries = histories if isinstance(histories, Queries) else Queries.of(histories, user_rows, weights)
    ranked = rank(model.inputs, queries, options)
    out = []
    for i in range(len(queries)):
        coarse = {name: codes[i] for name, codes in queries.coarse_codes.items()}
        evidence = QueryEvidence(model, queries.histories[i], coarse)
        rows, positions = ranked.items[i], ranked.positions[i]
        picks = []
        for row, entry, score in zip(rows[rows >= 0], positions[rows >= 0], ranked.scores[i][rows >= 0]):
            why, seed = explain(model, ranked, evidence, int(entry), listener=listener)
            picks.append(_pick(model, row, score, float(ranked.relevance[entry]), why, seed))
        out.append(picks)
    return out


def fallback_picks(model, options, *, found: bool) -> tuple[list[Recommendation], str]:
    """The fallback's picks (:mod:`gems.rank.fallback`) and the note said beside them; ``found``: something of
    the listening links to the model (it led to no pick), else nothing does."""
    from gems.rank.fallback import fallback_list
    from gems.serve.explain import fallback_why, fallback_words

    items, scores = fallback_list(model.inputs, options)
    rows, scores = items[items >= 0], scores[items >= 0]
    picks = [_pick(model, r, s, float(s), fallback_why(model, int(r), found=found), None) for r, s in zip(rows, scores)]
    what = (
        "what the model holds of this listening led to no pick"
        if found
        else "nothing of this listening is in the model"
    )
    instead = (
        f"; instead, {fallback_words(model, int(rows[0]))}"
        if len(rows)
        else ", and the model has no long tail to offer"
    )
    return picks, what + instead


def _pick(model, row, score, similarity: float, why: str, seed) -> Recommendation:
    return Recommendation(
        track_id=model.track_ids[row],
        title=model.titles[row],
        artist=model.artists[row],
        soundtrack=model.soundtracks[row],
        score=float(score),
        similarity=similarity,
        popularity=int(model.listeners[row]),
        popularity_percentile=round(float(model.percentile[row]), 2),
        is_tail=bool(model.is_tail[row]),
        why=why,
        seed=None if seed is None else model.track_ids[seed],
        row=int(row),
    )
