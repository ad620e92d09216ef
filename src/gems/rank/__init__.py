"""Ranking: hidden gems for a block of queries — one path, whether the block holds one query or ten thousand.

A query is what a listener loves: seed tracks, a listener of the model, or a history the model never saw
(:class:`Queries`). Ranking runs three steps, each a module of this package:

    retrieve (retrieve.py)  candidates by taste (ALS), co-listening (item-kNN), kin (artist/album), sound
                            (audio) and sound words (words.py), and every kind of evidence on each candidate
    score    (score.py)     relevance = a blend of the evidence scaled per query, or the learned second stage's
                            probability (learned.py), or — for a query with sound words — the blend times the
                            words' match (words.py; a query of words alone: the match);
                            score = relevance · (1 + listeners)^−discount
    select   (select.py)    the top k with reserved long-tail places, a per-soundtrack cap, themes after
                            their deep cuts

:func:`rank` returns the picks of every query and what produced them, so serving can explain each pick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gems.rank.inputs import Queries, RankingInputs
from gems.rank.options import KINDS, RankOptions
from gems.rank.retrieve import Candidates, candidates_for
from gems.rank.score import blend, check_comparable, discount, scaled_parts
from gems.rank.select import final_lists
from gems.rank.words import scaled_by_words

__all__ = ["KINDS", "Candidates", "Queries", "Ranked", "RankOptions", "RankingInputs", "rank"]


@dataclass
class Ranked:
    """The result of :func:`rank` for b queries.

    items (b × k): track rows best first, −1 padding; scores (b × k) float32, −inf padding; positions (b × k):
    each pick's entry among ``candidates`` (−1 padding); parts: each kind's evidence scaled per query (nnz,);
    relevance (nnz,): what the score discounts (the blend, or the learned ranker's probability); features:
    (nnz × F) the learned ranker's features of every candidate entry, None when the blend ranked."""

    items: np.ndarray
    scores: np.ndarray
    positions: np.ndarray
    candidates: Candidates
    parts: dict[str, np.ndarray]
    relevance: np.ndarray
    options: RankOptions
    ranker: object | None = None
    features: np.ndarray | None = None

    @property
    def learned(self) -> bool:
        return self.features is not None

    def contributions(self, entry: int) -> dict[str, float]:
        """What each kind of evidence gave the learned relevance of one candidate entry (SHAP values summed
        per kind); empty when the blend ranked it."""
        if self.features is None:
            return {}
        return self.ranker.contributions(self.features[entry])


def rank(inputs: RankingInputs, queries: Queries, options: RankOptions) -> Ranked:
    """The top ``options.k`` of every query (see the package docstring)."""
    candidates = candidates_for(inputs, queries, options)
    parts = scaled_parts(candidates)
    check_comparable(parts)
    if options.learned and inputs.ranker is not None and "words" not in candidates.evidence:
        from gems.rank.features import features as features_of

        features = features_of(inputs, queries, candidates, parts)
        relevance = tail_relevance = inputs.ranker.relevance(features)
    else:  # the blend; the learned stage knows no words, so a block with words ranks by the blend too
        features = None
        relevance = blend(candidates, parts, options.weights)
        tail_relevance = blend(candidates, parts, options.tail_weights) if options.tail_weights else relevance
        if "words" in candidates.evidence:
            bare, words = queries.bare()[candidates.query], candidates.evidence["words"]
            same = tail_relevance is relevance
            relevance = scaled_by_words(relevance, words, bare)
            tail_relevance = relevance if same else scaled_by_words(tail_relevance, words, bare)
    factor = discount(inputs.listeners, candidates, options)
    scores = relevance * factor
    tail_scores = scores if tail_relevance is relevance else tail_relevance * factor  # one order, sorted once
    items = final_lists(inputs, candidates, scores, tail_scores, options, queries.histories)
    positions = candidates.positions(items, inputs.n_items)
    values = np.full(items.shape, -np.inf, dtype=np.float32)
    values[items >= 0] = scores[positions[items >= 0]]  # no candidates at all (every track heard): all padding
    return Ranked(
        items,
        values,
        positions,
        candidates,
        parts,
        relevance,
        options,
        inputs.ranker,
        features,
    )
