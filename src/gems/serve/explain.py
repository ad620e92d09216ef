"""Explanations that stay true: each pick's ``why`` names only the evidence that produced its score, and
says how thin that evidence is.

A kind of evidence is named when it gives at least ``EVIDENCE_SHARE`` of the pick's relevance — its weighted
share of the blend, or with a learned ranker its share of the ranker's positive feature contributions
(LightGBM's SHAP values, grouped by kind) — together with the query track it comes from:

    near  — "often played alongside “X”, by 12 listeners"  X = the history track with the largest S[X, pick];
            "often" only from OFTEN listeners in common, else "played alongside “X” by one listener" (for
            playlists: "in 12 playlists")
    kin   — "also by A, like “X”" or "also from S, like “X”"   X = a history track by artist A / from album S;
            "by A, an artist in your listening" or "from S, an album in your listening" when no history track
            the model holds is by A or from S, but tracks it links only to that artist or album are
    cf    — "fits the taste of your listening history" for a listener, or "liked by listeners of “X”",
            X = the history track whose ALS factors are closest (cosine)
    audio — "sounds close to “X” in harmony"    X = the closest history track in audio space; the feature
            groups named are those whose own cosine is ≥ GROUP_SIMILAR; when the pick and X share sound words
            both hold confidently (p ≥ CONFIDENT, :mod:`gems.rank.words`; at most 3, surest first):
            "slow, strings, choir — like “X”, close in harmony"
and, first, for a query that asks for sound words: "Sounds ambient and slow, as asked." (the words the pick holds
with p ≥ CONFIDENT) and "The nearest match to strings (p 0.21): a word is said of a track from p 0.4." for
the others — a word is never said of a track below that confidence;
then where the pick stands: a soundtrack's theme or a deep cut of a soundtrack the query loves, and how
lesser-known it is in words — "a hit, among the 1% most played" (percentile ≥ 99), "a well-known track" (the
head), "a lesser-known long-tail track", or "a rarely played long-tail track" when at least RARELY percent of
the catalogue is more popular — with its listeners and percentile, one definition each (:mod:`gems.popularity`):
"a rarely played long-tail track: 1 listener, percentile 69 (31% of the catalogue is more popular)".

A pick of the fallback (:mod:`gems.rank.fallback`) says instead that nothing of the listening led anywhere in
the model and what the pick is: one of its soundtracks' best lesser-known tracks (:func:`fallback_why`).
"""

from __future__ import annotations

import numpy as np

from gems.popularity import HIT_PERCENTILE
from gems.rank.keys import csr_positions
from gems.rank.options import KINDS
from gems.rank.words import CONFIDENT, shared_words

EVIDENCE_SHARE = 0.2  # a kind is named when it gives at least this share of the relevance
GROUP_SIMILAR = 0.35  # per-group cosine above which a feature group (timbre, harmony, ...) is named
OFTEN = 5  # listeners in common from which co-listening is "often"
RARELY = 25.0  # percent of the catalogue more popular from which a long-tail track is "rarely played"


def _shares(ranked, entry: int, weights) -> dict[str, float]:
    """Share of the pick's relevance each kind gave: its SHAP contributions when the learned ranker scored it,
    else its weighted share of the blend."""
    given = ranked.contributions(entry)
    if not given:
        given = {kind: w * float(ranked.parts[kind][entry]) for kind, w in zip(KINDS, weights) if kind in ranked.parts}
    given = {kind: value for kind, value in given.items() if value > 0}
    total = sum(given.values())
    return {kind: value / total for kind, value in given.items()} if total > 0 else {}


class QueryEvidence:
    """What the explanations of one query's picks read of its tracks, gathered once: their neighbour lists,
    their unit ALS factors, their audio vectors, the soundtracks they come from; ``coarse``: the artist and
    album codes of its tracks the model links only to an artist or album ({"artist": codes, "album": codes});
    ``words``: the sound words it asks for."""

    def __init__(self, model, history: np.ndarray, coarse: dict[str, np.ndarray] | None = None, words=()):
        inputs = model.inputs
        self.model, self.history, self.words = model, history, tuple(words)
        self.coarse = {name: set(np.asarray(codes).tolist()) for name, codes in (coarse or {}).items()}
        codes = np.asarray(inputs.soundtrack_codes)[history]
        self.loved = set(codes[codes >= 0].tolist()) | self.coarse.get("album", set())
        self._near = self._cf = self._audio = None

    def near(self):
        """(history item, neighbour, similarity) of every neighbour entry of the history's tracks."""
        if self._near is None:
            indptr, indices, data = self.model.inputs.neighbours
            at, lengths = csr_positions(np.asarray(indptr), self.history)
            self._near = (np.repeat(self.history, lengths), np.asarray(indices)[at], np.asarray(data)[at])
        return self._near

    def cf(self):
        """(heard history tracks, their unit ALS factors)."""
        if self._cf is None:
            inputs = self.model.inputs
            heard = np.sort(self.history[inputs.heard[self.history]])
            vectors = np.asarray(inputs.item_factors[heard], dtype=np.float64)
            self._cf = (heard, vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12))
        return self._cf

    def audio(self):
        """(history tracks with audio, their unit audio vectors)."""
        if self._audio is None:
            inputs = self.model.inputs
            positions = inputs.audio_position[self.history]
            have = np.flatnonzero(positions >= 0)
            order = have[np.argsort(positions[have])]  # read the vectors in file order
            self._audio = (self.history[order], np.asarray(inputs.audio_vectors[positions[order]]))
        return self._audio

    def nearest(self, kind: str, row: int) -> tuple[int | None, float]:
        """(the history track that gives ``row`` the most evidence of ``kind``, that evidence)."""
        inputs = self.model.inputs
        if kind == "near":
            items, neighbours, values = self.near()
            hit = np.flatnonzero(neighbours == row)
            if len(hit) == 0:
                return None, 0.0
            best = hit[np.argmax(values[hit])]
            return int(items[best]), float(values[best])
        if kind == "cf":
            heard, vectors = self.cf()
            if len(heard) == 0 or not inputs.heard[row]:
                return None, 0.0
            target = np.asarray(inputs.item_factors[row], dtype=np.float64)
            cosines = vectors @ (target / max(float(np.linalg.norm(target)), 1e-12))
            return int(heard[np.argmax(cosines)]), float(cosines.max())
        if kind == "kin":
            for codes in inputs.kin_codes.values():
                shared = self.history[(codes[self.history] == codes[row]) & (codes[row] >= 0)]
                if len(shared):
                    return int(shared[0]), 1.0
            return None, 0.0
        tracks, vectors = self.audio()
        if len(tracks) == 0 or inputs.audio_position[row] < 0:
            return None, 0.0
        cosines = vectors @ np.asarray(inputs.audio_vectors[inputs.audio_position[row]])
        return int(tracks[np.argmax(cosines)]), float(cosines.max())

    def coarse_kin(self, row: int) -> str | None:
        """How ``row`` is kin to the query's artist and album links, in words, when it is ("by A, an artist in
        your listening"); None when not."""
        inputs = self.model.inputs
        for name, noun, column in (("artist", "by", self.model.artists), ("album", "from", self.model.soundtracks)):
            codes = inputs.kin_codes.get(name)
            if codes is not None and int(codes[row]) in self.coarse.get(name, ()):
                return f"{noun} {column[row]}, an {name} in your listening"
        return None


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


def in_common(model, a: int, b: int, similarity: float) -> int:
    """Listeners two tracks share, from their cosine co-listening similarity: S · √(L_a · L_b)."""
    return int(round(similarity * np.sqrt(float(model.listeners[a]) * float(model.listeners[b]))))


def percent(value: float) -> str:
    """A share in percent, with a decimal where whole numbers would round it to 0 or 100."""
    return f"{value:.1f}" if 0 < value < 1 or 99 < value < 100 else f"{value:.0f}"


def popularity_words(model, row: int) -> str:
    """Where a track stands: its listeners and percentile, head or long tail (module docstring)."""
    if not model.has_listens:
        return "no listening data: ranked by sound alone"
    listeners = int(model.listeners[row])
    noun = model.listener_noun
    source = " in the simulated listening log" if model.simulated else ""
    if listeners == 0:
        return f"nobody has played it yet{source}"
    count = f"{listeners:,} {noun}{'s' if listeners != 1 else ''}{source}"
    percentile = float(model.percentile[row])
    more = 100.0 - percentile  # percentile = share with as many listeners or fewer
    standing = f"percentile {percent(percentile)} ({percent(more)}% of the catalogue is more popular)"
    return f"{lesser_known_words(model, row, more)}: {count}, {standing}"


def lesser_known_words(model, row: int, more: float) -> str:
    """How lesser-known a track is, in words (module docstring); ``more``: percent of the catalogue more popular."""
    if float(model.percentile[row]) >= HIT_PERCENTILE:
        return "a hit, among the 1% most played"
    if not model.is_tail[row]:
        return "a well-known track"
    return "a rarely played long-tail track" if more >= RARELY else "a lesser-known long-tail track"


def _phrase(model, kind: str, row: int, seed: int, value: float, again: bool) -> str:
    label = "it" if again else model.label(seed)
    if kind == "near":
        shared = in_common(model, seed, row, value)
        noun = model.listener_noun
        amount = f"one {noun}" if shared <= 1 else f"{shared:,} {noun}s"
        where = "in" if noun == "playlist" else "by"
        if shared >= OFTEN:
            return f"often played alongside {label}, {where} {amount}"
        return f"played alongside {label} {where} {amount}"
    if kind == "kin":
        same_artist = model.artists[row] is not None and model.artists[row] == model.artists[seed]
        if again:
            return "by the same artist" if same_artist else "from the same album"
        if same_artist:
            return f"also by {model.artists[row]}, like {model.label(seed, artist=False)}"
        return f"also from {model.soundtracks[row]}, like {label}"
    if kind == "cf":
        return "liked by " + ("its listeners" if again else f"listeners of {label}")
    groups = close_groups(model, row, seed)
    tags = model.tags
    shared = shared_words(tags.of(row), tags.of(seed)) if tags is not None else []
    if shared:
        return f"{', '.join(shared)} — like {label}" + (f", close in {' and '.join(groups)}" if groups else "")
    return "sounds close to " + label + (f" in {' and '.join(groups)}" if groups else "")


def words_sentences(model, row: int, words: tuple[str, ...]) -> str:
    """How a pick holds the sound words its query asks for: those with p ≥ CONFIDENT said of it, the others
    given with their probability (module docstring)."""
    held = dict(model.tags.of(row)) if model.tags is not None else {}
    sure = [w for w in words if held.get(w, 0.0) >= CONFIDENT]
    unsure = [f"{w} (p {held.get(w, 0.0):.2f})" for w in words if w not in sure]
    sentences = [f"Sounds {_and(sure)}, as asked."] if sure else []
    if unsure:
        sentences.append(f"The nearest match to {_and(unsure)}: a word is said of a track from p {CONFIDENT:g}.")
    return " ".join(sentences)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def explain(model, ranked, evidence: QueryEvidence, entry: int, *, listener: bool) -> tuple[str, int | None]:
    """(why, the history track named first) for the pick at candidate ``entry`` of the query ``evidence``
    describes (``listener``: the query is a listening history, whose ALS taste is named as theirs, not seeds)."""
    row = int(ranked.candidates.rows[entry])
    shares = _shares(ranked, entry, ranked.options.weights)
    present = {kind for kind, values in ranked.candidates.evidence.items() if not np.isnan(values[entry])}
    # a kind the pick cannot take (a history with no track the model holds has no taste) is never named, even
    # where the learned ranker's contributions give its missing value weight
    named = [
        k for k, share in sorted(shares.items(), key=lambda kv: -kv[1]) if share >= EVIDENCE_SHARE and k in present
    ]
    phrases, first_seed, named_seeds = [], None, set()
    for kind in named:
        if kind == "cf" and listener:
            phrases.append("fits the taste of your listening history")
            continue
        seed, value = evidence.nearest(kind, row)
        if seed is None:
            coarse = evidence.coarse_kin(row) if kind == "kin" else None
            phrases.extend([coarse] if coarse else [])
            continue
        first_seed = seed if first_seed is None else first_seed
        phrases.append(_phrase(model, kind, row, seed, value, seed in named_seeds))
        named_seeds.add(seed)
    evidence_text = _and(phrases) if phrases else "the closest match left after the popularity discount"
    evidence_text = "" if evidence.words and not phrases else evidence_text  # the words said why
    soundtrack = model.soundtracks[row]
    if model.is_theme[row]:
        role = f"the theme of {soundtrack}"
    elif soundtrack is not None and int(model.inputs.soundtrack_codes[row]) in evidence.loved:
        role = f"a deep cut of {soundtrack}"
    else:
        role = None
    tail = popularity_words(model, row)
    where = f"{role[0].upper()}{role[1:]}; {tail}." if role else f"{tail[0].upper()}{tail[1:]}."
    sentences = [words_sentences(model, row, evidence.words)] if evidence.words else []
    sentences += [f"{evidence_text[0].upper()}{evidence_text[1:]}."] if evidence_text else []
    return " ".join([*sentences, where]), first_seed


def fallback_words(model, row: int) -> str:
    """What the fallback's picks are, as a pick ``row`` of it shows: "the most played long-tail tracks of its
    soundtracks" (of its catalogue when the pick is not soundtrack music)."""
    flags = model.inputs.is_soundtrack
    music = "of its soundtracks" if flags is not None and bool(flags[row]) else "of its catalogue"
    return f"the most played long-tail tracks {music}"


def fallback_why(model, row: int, *, found: bool) -> str:
    """Why a pick of the fallback (:mod:`gems.rank.fallback`) was given: ``found`` — some of the listening
    links to the model but led to no pick — or nothing of it is in the model; and what the pick is instead."""
    lead = (
        "What this model holds of your listening led to no pick"
        if found
        else "Nothing of your listening is in this model"
    )
    soundtrack = model.soundtracks[row]
    where = f", from {soundtrack}" if soundtrack is not None else ""
    tail = popularity_words(model, row)
    return f"{lead}; instead, one of {fallback_words(model, row)}{where}. {tail[0].upper()}{tail[1:]}."
