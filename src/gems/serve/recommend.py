"""Recommendations for one query — seed tracks, a listener of the model, a history, sound words, or words with
one of the others — as every face asks for them.

A single query is a block of one: it goes through :func:`gems.rank.rank` exactly as a batch export does.

A pick's ``tags`` are its TAGS_LISTED most probable sound words with their probabilities (MTT_musicnn's, of its
analysed excerpt; [] without analysed audio): every word that passes the confidence at which gems says a word of
a track (:data:`gems.rank.words.CONFIDENT`; at most 4 do on any demo track) and the next most probable, so that a
client sees where the confident words stop — the probability is given with each word, never a bare word, to 4
decimals and never rounded across the confidence (a listed p passes it exactly when the stored one does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import floor
from pathlib import Path

import numpy as np

from gems.errors import DataError, ParameterError

TAGS_LISTED = 10


@dataclass
class Recommendation:
    """One pick. ``popularity`` is the listener count; ``popularity_percentile`` the share of the catalogue
    with as many listeners or fewer (100 = most popular); ``similarity`` the relevance in [0, 1] before the
    popularity discount; ``score`` after it; ``seed`` the query track the explanation names first; ``tags``
    its most probable sound words, ``[{"word", "p"}]`` (module docstring)."""

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
    tags: list[dict]
    row: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("row")
        return out


@dataclass
class Answer:
    """What a query got. ``seeds``: the seed tracks' rows (empty for a listener); ``history``: the track rows
    the query is made of (seeds, or the listener's history); ``picks``: the recommendations, best first;
    ``who``: the query in words ("like “Main Theme” (…)", "for listener u1", "sounding slow, strings");
    ``words``: the sound words it asked for."""

    seeds: list[int]
    history: np.ndarray
    picks: list[Recommendation] = field(default_factory=list)
    who: str = ""
    user: str | None = None
    linked: object | None = None  # for a history: how its tracks linked (gems.ingest.link_summary.LinkSummary)
    note: str | None = None  # said beside the picks: that they are the fallback (gems.rank.fallback)
    words: tuple[str, ...] = ()


def open_model(path: str | Path):
    """The model folder at ``path``, opened for serving (arrays memory-mapped, read on first use)."""
    from gems.model import Model

    return Model(path)


def for_whom(model, *, user: str | None = None, seeds=(), words=()) -> str:
    """Whom a list is for, in words: ``for listener u1``, ``like “A” by X (S); “B”``, ``picked by hand``; with
    sound ``words``, ``sounding slow, strings`` after it (alone for a query of words only)."""
    sounding = f"sounding {', '.join(words)}" if words else ""
    if user is not None:
        return f"for listener {user}" + (f", {sounding}" if sounding else "")
    if len(seeds):
        return "like " + "; ".join(model.label(int(s)) for s in seeds) + (f", {sounding}" if sounding else "")
    return sounding or "picked by hand"


def query_words(model, sounds) -> tuple[tuple[str, ...], np.ndarray]:
    """(the words ``sounds`` names, their columns in the model's tags) for ``--sounds`` values (several words a
    value; :func:`gems.rank.words.parse`). ParameterError for a model without sound words or an unknown word."""
    from gems.rank.words import parse

    tags = model.tags
    if tags is None:
        raise ParameterError(
            f"{model.path} has no sound words: its tracks were not analysed by this gems' audio stage (built "
            "without audio files, or before gems stored words); rebuild it with audio (catalogue paths or "
            "[sources] audio) to search by sound"
        )
    words = parse(sounds, tags.words)
    return words, np.array([tags.words.index(word) for word in words], dtype=np.int64)


def recommend(
    model,
    options,
    *,
    like: list[str] | None = None,
    user: str | None = None,
    history: str | Path | None = None,
    history_format: str = "auto",
    history_user: str | None = None,
    sounds: list[str] | None = None,
    match_budget=None,
) -> Answer:
    """Hidden gems for seed tracks (``like``: ids, titles, ``Artist - Title`` or ``Title (Soundtrack)``), for a
    listener of the model (``user``), or for a listening history the model never saw (``history``: a file or
    folder in any format gems reads, ``history_user`` choosing one listener of several): at most one of the
    three; and/or for sound words (``sounds``: values of one or more words, :func:`query_words`), which alone
    rank tracks by how well their tags match, and with a query rank its usual evidence AND the words.
    ``match_budget``: a :class:`gems.lookup.MatchBudget` the seeds' title matches share."""
    given = sum([bool(like), user is not None, history is not None])
    if given > 1 or (given == 0 and not sounds):
        raise ParameterError(
            "give one of --like TRACK (one or more), --user ID or --history FILE, and/or --sounds WORDS"
        )
    words, columns = query_words(model, sounds) if sounds else ((), None)
    worded = {} if columns is None else {"words": (words, columns)}
    sounding = f", sounding {', '.join(words)}" if words else ""
    if given == 0:
        answer = Answer(seeds=[], history=np.zeros(0, dtype=np.int64), who=for_whom(model, words=words), words=words)
        answer.picks = picks_for(model, [answer.history], options, **worded)[0]
        return answer
    if history is not None:
        from gems.serve.history import read_histories

        found = read_histories(model, history, fmt=history_format)
        who, queries = found.one(history_user)
        rows = queries.histories[0]
        answer = Answer(
            seeds=[], history=rows, who=f"for {who}'s listening history{sounding}", user=who, linked=found.summary
        )
        answer.words = words
        answer.picks = picks_for(model, queries, options, listener=True, **worded)[0]
        if not answer.picks:
            answer.picks, answer.note = fallback_picks(model, options, found=bool(found.only([who]).linked()[0]))
        return answer
    if user is not None:
        user_row = model.user_row(user)
        history, listened = model.history(user_row)
        if len(history) == 0:
            raise DataError(f"user '{user}' has no listens in this model; recommend from seeds with --like instead")
        answer = Answer(seeds=[], history=history, who=for_whom(model, user=user, words=words), user=user, words=words)
        answer.picks = picks_for(
            model, [history], options, user_rows=[user_row], weights=[listened], listener=True, **worded
        )[0]
        return answer
    seeds = [model.lookup.resolve(query, match_budget) for query in like]
    history = np.unique(np.asarray(seeds, dtype=np.int64))
    answer = Answer(seeds=seeds, history=history, who=for_whom(model, seeds=seeds, words=words), words=words)
    answer.picks = picks_for(model, [history], options, **worded)[0]
    return answer


def picks_for(
    model, histories, options, *, user_rows=None, weights=None, listener: bool = False, words=None
) -> list[list[Recommendation]]:
    """Ranked and explained picks of a few queries (``histories``: track rows each, or a
    :class:`gems.rank.Queries`; ``user_rows``: their model listener rows, −1 or None for seeds and histories the
    model never saw; ``weights``: listen weights; ``listener``: the queries are listening histories, not seeds —
    their taste is named as theirs; ``words``: (names, columns) of sound words every query asks for too)."""
    from gems.rank import Queries, rank
    from gems.serve.explain import QueryEvidence, explain

    queries = histories if isinstance(histories, Queries) else Queries.of(histories, user_rows, weights)
    names = () if words is None else words[0]
    if words is not None:
        queries = queries.with_words([words[1]] * len(queries))
    ranked = rank(model.inputs, queries, options)
    out = []
    for i in range(len(queries)):
        coarse = {name: codes[i] for name, codes in queries.coarse_codes.items()}
        evidence = QueryEvidence(model, queries.histories[i], coarse, names)
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
        tags=tag_list(model, row),
        row=int(row),
    )


def tag_list(model, row) -> list[dict]:
    """A track's TAGS_LISTED most probable sound words, ``[{"word", "p"}]`` most probable first (module
    docstring); [] for a model without sound words or a track without analysed audio."""
    pairs = [] if model.tags is None else model.tags.of(int(row))[:TAGS_LISTED]
    return [{"word": word, "p": _listed(p)} for word, p in pairs]


def _listed(p: float) -> float:
    """``p`` to 4 decimals, never rounded across CONFIDENT (0.39996 is 0.3999, not 0.4)."""
    from gems.rank.words import CONFIDENT

    shown = round(p, 4)
    return shown if (shown >= CONFIDENT) == (p >= CONFIDENT) else floor(p * 1e4) / 1e4
