"""Search by sound: the words of a query and how well each track's tags match them.

A track's tags are MTT_musicnn's 50 word probabilities p_j(w) of its analysed excerpt (:class:`gems.model.TrackTags`;
``RankingInputs.tag_position`` / ``tag_probs``). A query may carry words w_1..w_m of that vocabulary
(:attr:`gems.rank.Queries.words`, as columns); a track's match is the geometric mean of their probabilities,

    match(q, j) = (Π_i max(p_j(w_i), FLOOR))^(1/m)        0 for a track without analysed audio

so "slow strings" asks for slow AND strings: one word the track lacks pulls its match towards 0, where the mean
would let a loud "slow" stand in for absent strings. One word: match = its probability. Ranking multiplies a
query's relevance by its match (:func:`scaled_by_words`), and a query of words alone retrieves its candidates as
the ``pool`` tracks that match best (:func:`word_keys`).

CONFIDENT: the probability from which a word is said of a track as a fact (an explanation, ``gems info
--tracks``, the page). Chosen by ``pipelines/word_confidence.py`` on development audio it was not otherwise tuned
on (Widelands, OpenClonk, X-Moto): the smallest threshold at which 4 of 5 words said of a track's middle 30 s are
also among the 5 most probable words of both its 30 s at a quarter and at three quarters (0.85 of 42 words on
those 38 tracks, 95% interval 0.70-0.97; on the demo's games 0.93 of 95, 0.86-0.98).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from gems.errors import ParameterError
from gems.rank.keys import allowed

CONFIDENT = 0.4
FLOOR = 1e-6  # a probability of 0 (a hand-made model) would make the log −inf
SHARED = 3  # words an explanation names at most


def parse(values: Iterable[str], vocabulary: Sequence[str]) -> tuple[str, ...]:
    """The vocabulary words that ``values`` name, in order, once each. A value may hold several words, separated
    by spaces or commas; a word of two ("no vocals", "new age") is matched before its parts ("-" and "_" read
    as spaces). ParameterError naming the unknown word and listing the vocabulary, or for no word at all."""
    known = {word.lower(): word for word in vocabulary}
    longest = max((len(word.split()) for word in known), default=1)
    found: list[str] = []
    for value in values:
        tokens = value.lower().replace(",", " ").replace("-", " ").replace("_", " ").split()
        at = 0
        while at < len(tokens):
            size = next(
                (s for s in range(min(longest, len(tokens) - at), 0, -1) if " ".join(tokens[at : at + s]) in known), 0
            )
            if size == 0:
                raise ParameterError(
                    f"'{tokens[at][:40]}' is not a sound word gems knows; the vocabulary (MagnaTagATune's "
                    f"{len(vocabulary)} words): {', '.join(vocabulary)}"
                )
            word = known[" ".join(tokens[at : at + size])]
            found += [word] if word not in found else []
            at += size
    if not found:
        raise ParameterError(f"--sounds needs at least one word of the vocabulary: {', '.join(vocabulary)}")
    return tuple(found)


def match(probs: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(len(probs),) float32 geometric mean of each row's probabilities at ``columns`` (module docstring)."""
    chosen = np.maximum(np.asarray(probs, dtype=np.float64)[:, columns], FLOOR)
    return np.exp(np.log(chosen).mean(axis=1)).astype(np.float32)


def matches(inputs, words: list[np.ndarray], query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(nnz,) the match of each (query, track) entry; 1 for the entries of a query without words."""
    out = np.ones(len(rows), dtype=np.float32)
    for q in np.flatnonzero([len(w) > 0 for w in words]):
        entries = np.flatnonzero(query == q)
        position = inputs.tag_position[rows[entries]]
        tagged = position >= 0
        values = np.zeros(len(entries), dtype=np.float32)
        order = np.argsort(position[tagged])  # read the memory-mapped rows in file order
        values[np.flatnonzero(tagged)[order]] = match(inputs.tag_probs[position[tagged][order]], words[q])
        out[entries] = values
    return out


def word_keys(inputs, words: list[np.ndarray], own: np.ndarray, excluded: np.ndarray, pool: int) -> np.ndarray:
    """Keys q · n + row of each worded query's ``pool`` best matching tracks with a match above 0 (ties: the
    smaller row), its own tracks and excluded ones left out."""
    n = inputs.n_items
    have = np.flatnonzero(np.asarray(inputs.tag_position) >= 0)
    have = have[np.argsort(inputs.tag_position[have])]  # in the order of tag_probs' rows
    found = [np.zeros(0, dtype=np.int64)]
    for q in np.flatnonzero([len(w) > 0 for w in words]):
        values = match(inputs.tag_probs, words[q])
        keys = q * n + have
        keep = np.flatnonzero(allowed(keys, own, excluded, n) & (values > 0))
        if len(keep) > pool:  # the pool-th best value, then the few at or above it sorted exactly
            cut = np.partition(values[keep], len(keep) - pool)[len(keep) - pool]
            keep = keep[values[keep] >= cut]
            keep = keep[np.lexsort((have[keep], -values[keep]))[:pool]]
        found.append(np.sort(keys[keep]))
    return np.concatenate(found)


def scaled_by_words(relevance: np.ndarray, match_values: np.ndarray, bare: np.ndarray) -> np.ndarray:
    """(nnz,) relevance · match: a query's usual relevance AND its words; ``bare`` (nnz,) marks the entries of a
    query of words alone (no track, listener or link), ranked by the match alone."""
    return (np.where(bare, 1.0, relevance) * match_values).astype(np.float32)


def shared_words(pick: Sequence[tuple[str, float]], other: Sequence[tuple[str, float]]) -> list[str]:
    """Up to SHARED words both (word, p) lists hold with p ≥ CONFIDENT, the surest in both first."""
    theirs = dict(other)
    both = [(min(p, theirs[w]), w) for w, p in pick if p >= CONFIDENT and theirs.get(w, 0.0) >= CONFIDENT]
    return [w for _, w in sorted(both, key=lambda pair: -pair[0])][:SHARED]


def confident(pairs: Iterable[tuple[str, float]]) -> list[str]:
    """The words of (word, p) pairs said as facts: p ≥ CONFIDENT, in the given order."""
    return [word for word, p in pairs if p >= CONFIDENT]
