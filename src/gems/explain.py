"""Explanations that stay true: each pick's ``why`` names only the evidence that produced its score.

A kind of evidence (taste, co-listening, sound, kinship) is named when it gives at least ``EVIDENCE_SHARE`` of the
pick's blended relevance, together with the query track it comes from:

    near  — "often played alongside “X”"        X = the history track with the largest S[X, pick]
    kin   — "also by A, like “X”" or "also from S, like “X”"   X = a history track by artist A / from album S
    cf    — "liked by listeners of “X”"         X = the history track whose ALS factors are closest (cosine)
            or "fits your listening"           for a known listener (their ALS factors)
    audio — "sounds close to “X” in harmony"    X = the closest history track in audio space; the feature
                                                groups named are those whose own cosine is ≥ GROUP_SIMILAR
then where the pick stands: a soundtrack's theme or a deep cut of a soundtrack the query loves, its listener
count, and how far into the long tail it lies.
"""

from __future__ import annotations

import numpy as np

from gems.rank import EVIDENCE_SHARE, GROUP_SIMILAR, KINDS


def _contributions(parts: dict[str, np.ndarray], weights, position: int) -> dict[str, float]:
    """Share of the pick's relevance each kind gave (``parts``: the query's scaled evidence per candidate,
    ``position``: the pick's place among the candidates)."""
    given = {kind: weight * float(parts[kind][position]) for kind, weight in zip(KINDS, weights) if kind in parts}
    total = sum(given.values())
    return {kind: value / total for kind, value in given.items()} if total > 0 else {}


def _nearest(model, kind: str, row: int, history: np.ndarray) -> int | None:
    """The history track that gives ``row`` the most evidence of ``kind``."""
    inputs = model.inputs
    if kind == "near":
        indptr, indices, data = inputs.neighbours
        best, best_value = None, 0.0
        for item in history:
            start, stop = int(indptr[item]), int(indptr[item + 1])
            hit = np.flatnonzero(np.asarray(indices[start:stop]) == row)
            if len(hit) and float(data[start + hit[0]]) > best_value:
                best, best_value = int(item), float(data[start + hit[0]])
        return best
    if kind == "cf":
        heard = history[inputs.heard[history]]
        if len(heard) == 0:
            return None
        return int(heard[np.argmax(inputs.unit_factors[heard] @ inputs.unit_factors[row])])
    if kind == "kin":
        for codes in inputs.kin_codes:
            shared = history[(codes[history] == codes[row]) & (codes[row] >= 0)]
            if len(shared):
                return int(shared[0])
        return None
    positions = inputs.audio_position[history]
    mask = positions >= 0
    if not mask.any() or inputs.audio_position[row] < 0:
        return None
    vectors = np.asarray(inputs.audio_vectors)
    return int(history[mask][np.argmax(vectors[positions[mask]] @ vectors[inputs.audio_position[row]])])


def close_groups(model, a: int, b: int) -> list[str]:
    """Feature groups (timbre, harmony, rhythm, energy) in which two tracks are close, closest first."""
    standardized = model.audio_standardized
    if standardized is None:
        return []
    position, features, groups = standardized
    pa, pb = position[a], position[b]
    if pa < 0 or pb < 0:
        return []
    x, y = np.asarray(features[pa], dtype=np.float64), np.asarray(features[pb], dtype=np.float64)
    scored = []
    for name, cols in groups.items():
        u, v = x[cols], y[cols]
        denominator = np.linalg.norm(u) * np.linalg.norm(v)
        if denominator > 0:
            scored.append((float(u @ v / denominator), name))
    return [name for value, name in sorted(scored, reverse=True) if value >= GROUP_SIMILAR][:2]


def _popularity_words(model, row: int) -> str:
    listeners = int(model.inputs.listeners[row])
    source = " in the simulated listening log" if model.simulated else ""
    if listeners == 0:
        return f"nobody has played it yet{source}"
    count = f"{listeners:,} listener{'s' if listeners != 1 else ''}{source}"
    if model.inputs.is_tail[row]:
        more_popular = 100.0 - float(model.percentile[row])  # percentile = share with as many listeners or fewer
        return f"a long-tail track: {count}, {more_popular:.0f}% of the catalogue is more popular"
    less_popular = 100.0 * float(np.mean(model.inputs.listeners < listeners))
    return f"a well-known track: {count}, more popular than {less_popular:.0f}% of the catalogue"


def explain(
    model, parts: dict, weights, row: int, position: int, history: np.ndarray, known_user: bool
) -> tuple[str, int | None]:
    """(why, the history track named first) for one pick (track ``row``, candidate ``position``)."""
    shares = _contributions(parts, weights, position)
    named = [kind for kind, share in sorted(shares.items(), key=lambda kv: -kv[1]) if share >= EVIDENCE_SHARE]
    phrases, first_seed, named_seeds = [], None, set()
    for kind in named:
        if kind == "cf" and known_user:
            phrases.append("fits the taste of your listening history")
            continue
        seed = _nearest(model, kind, row, history)
        if seed is None:
            continue
        first_seed = seed if first_seed is None else first_seed
        again = seed in named_seeds  # name a track once, then refer back to it
        named_seeds.add(seed)
        label = model.label(seed)
        if kind == "near":
            phrases.append("often played alongside " + ("it" if again else label))
        elif kind == "kin":
            same_artist = model.artists[row] is not None and model.artists[row] == model.artists[seed]
            if again:
                phrases.append("by the same artist" if same_artist else "from the same album")
            else:
                source = f"also by {model.artists[row]}" if same_artist else f"also from {model.soundtracks[row]}"
                phrases.append(f"{source}, like {label}")
        elif kind == "cf":
            phrases.append("liked by " + ("its listeners" if again else f"listeners of {label}"))
        else:
            groups = close_groups(model, row, seed)
            phrases.append(
                "sounds close to " + ("it" if again else label) + (f" in {' and '.join(groups)}" if groups else "")
            )
    if not phrases:
        evidence_text = "the closest match left after the popularity discount"
    elif len(phrases) == 1:
        evidence_text = phrases[0]
    else:
        evidence_text = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    soundtrack = model.soundtracks[row]
    loved = {model.soundtracks[h] for h in history}
    if model.inputs.is_theme[row]:
        role = f"the theme of {soundtrack}"
    elif soundtrack is not None and soundtrack in loved:
        role = f"a deep cut of {soundtrack}"
    else:
        role = None
    tail = _popularity_words(model, row)
    where = f"{role[0].upper()}{role[1:]}; {tail}." if role else f"{tail[0].upper()}{tail[1:]}."
    return f"{evidence_text[0].upper()}{evidence_text[1:]}. {where}", first_seed
