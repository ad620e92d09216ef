"""Ranking: score tracks for a query, discount popularity, filter and diversify, explain.

A query is a listener's history (a known user) or a few seed tracks. Three kinds of evidence score track j:

    cf(j)     taste:        p_u · v_j for a known listener (ALS user and item factors); for seeds,
                            mean_s cos(v_s, v_j)
    near(j)   co-listening: Σ_{i ∈ history} S[i, j], S the cosine item-kNN of ``gems.neighbours``
    audio(j)  sound:        mean_{i ∈ history} cos(a_i, a_j), a the audio embeddings

Each kind is scaled to [0, 1] by its largest value for the query, then blended with weights renormalised over
the kinds available for track j (a track without listens has no cf or near; one without audio no audio):

    relevance(j) = Σ_c w_c · ŝ_c(j) / Σ_{c available for j} w_c
    score(j)     = relevance(j) · (1 + listeners_j) ^ (−discount)

The query's own tracks are never returned. Then, in order: ``scope="soundtrack"`` keeps soundtrack music only;
``deep_cuts`` keeps only the non-theme tracks of soundtracks the query loves; at most ``per_soundtrack`` picks
share a soundtrack; the last ``tail_share · k`` places go to the best-scoring long-tail tracks not already
chosen; and within a soundtrack the query loves, its theme never ranks above its deep cuts.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from gems.errors import DataError, ParameterError
from gems.popularity import popularity_discount

KINDS = ("cf", "near", "audio")
EVIDENCE_SHARE = 0.2  # a kind is named in an explanation when it gives at least this share of the relevance
GROUP_SIMILAR = 0.35  # per-group cosine above which a feature group (timbre, harmony, ...) is named


@dataclass(frozen=True)
class RankOptions:
    """How to rank. ``weights`` blend the evidence kinds (cf, near, audio); see the module docstring."""

    k: int = 10
    discount: float = 0.5
    per_soundtrack: int = 2  # 0 = no cap
    tail_share: float = 0.0  # share of the k places reserved for long-tail tracks
    weights: tuple[float, float, float] = (0.5, 0.5, 0.5)
    scope: str = "all"  # or "soundtrack"
    deep_cuts: bool = False

    def __post_init__(self):
        if self.k < 1:
            raise ParameterError(f"k must be at least 1, got {self.k}")
        if self.discount < 0:
            raise ParameterError(f"--discount must be ≥ 0 (0 = no popularity discount), got {self.discount}")
        if self.per_soundtrack < 0:
            raise ParameterError(f"--per-soundtrack must be ≥ 0 (0 = no cap), got {self.per_soundtrack}")
        if not 0 <= self.tail_share <= 1:
            raise ParameterError(f"--tail-share must be within [0, 1], got {self.tail_share}")
        if len(self.weights) != 3 or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ParameterError(f"weights must be three non-negative numbers (cf, near, audio), got {self.weights}")
        if self.scope not in ("all", "soundtrack"):
            raise ParameterError(f"--scope must be 'all' or 'soundtrack', got '{self.scope}'")

    @classmethod
    def from_params(cls, params: dict, **overrides) -> RankOptions:
        """Options from a model's ``rank_defaults`` (a :class:`gems.config.RankParams` as a dict) and the
        caller's overrides (None values ignored)."""
        values = {
            "k": params.get("k", 10),
            "discount": params.get("discount", 0.5),
            "per_soundtrack": params.get("per_soundtrack", 2),
            "tail_share": params.get("tail_share", 0.0),
            "weights": (params.get("weight_cf", 0.5), params.get("weight_near", 0.5), params.get("weight_audio", 0.5)),
            "scope": params.get("scope", "all"),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def tail_places(self) -> int:
        return math.ceil(self.tail_share * self.k - 1e-9)


@dataclass
class RankingInputs:
    """Everything ranking reads, per track row (n tracks) — from a model folder or a training split.

    item_factors (n × f) and user_factors (n_users × f): ALS, zero rows for tracks without listens;
    neighbours: (indptr, indices, data) CSR arrays of the item-kNN similarity; audio_position (n,): row of a
    track in audio_vectors (m × d, unit rows) or −1; soundtrack_codes (n,): −1 when unknown.
    """

    listeners: np.ndarray
    is_tail: np.ndarray
    is_theme: np.ndarray
    soundtrack_codes: np.ndarray
    is_soundtrack: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    user_factors: np.ndarray | None = None
    neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    audio_position: np.ndarray | None = None
    audio_vectors: np.ndarray | None = None
    _unit_factors: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.listeners)

    @property
    def heard(self) -> np.ndarray:
        return self.listeners > 0

    @property
    def unit_factors(self) -> np.ndarray:
        """Item factors scaled to unit length (zero rows stay zero), computed once."""
        if self._unit_factors is None:
            norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
            self._unit_factors = np.divide(
                self.item_factors, norms, out=np.zeros_like(self.item_factors), where=norms > 0
            )
        return self._unit_factors


# --------------------------------------------------------------------------------------------- evidence


@dataclass
class Evidence:
    """Per-kind scores of every track for one query (rows of a block for many queries), raw, before scaling.

    NaN marks tracks that cannot take a kind's evidence (the query's own tracks; tracks without listens for
    cf and near, without audio for audio). ``signed`` kinds are cosines whose negative range is meaningful;
    the others are non-negative amounts of evidence (0 = none)."""

    cf: np.ndarray | None
    near: np.ndarray | None
    audio: np.ndarray | None
    cf_signed: bool = True

    def kind(self, name: str) -> np.ndarray | None:
        return getattr(self, name)

    def signed(self, name: str) -> bool:
        return name == "audio" or (name == "cf" and self.cf_signed)


def _query_evidence(inputs: RankingInputs, history: np.ndarray, user_row: int | None) -> Evidence:
    """Raw cf/near/audio scores of all n tracks for a query whose own tracks are ``history`` (rows)."""
    n = inputs.n_items
    cf = near = audio = None
    known_user = user_row is not None and inputs.user_factors is not None
    if inputs.item_factors is not None:
        if known_user:
            cf = np.asarray(inputs.item_factors @ inputs.user_factors[user_row], dtype=np.float64)
        else:
            heard = history[inputs.heard[history]]
            if len(heard):
                cf = inputs.unit_factors @ inputs.unit_factors[heard].mean(axis=0).astype(np.float64)
    if inputs.neighbours is not None and len(history):
        from gems.neighbours import row_scores

        near = row_scores(*inputs.neighbours, history, np.ones(len(history)), n)
    if inputs.audio_position is not None:
        positions = inputs.audio_position[history]
        positions = positions[positions >= 0]
        if len(positions):
            audio = np.full(n, np.nan)
            have = inputs.audio_position >= 0
            profile = np.asarray(inputs.audio_vectors[positions], dtype=np.float64).mean(axis=0)
            audio[have] = np.asarray(inputs.audio_vectors, dtype=np.float64)[inputs.audio_position[have]] @ profile
    for values in (cf, near):
        if values is not None:
            values[~inputs.heard] = np.nan
    for values in (cf, near, audio):
        if values is not None:
            values[history] = np.nan  # never candidates, so they must not set the scale either
    return Evidence(cf, near, audio, cf_signed=not known_user)


SIGNED_FLOOR = 0.01  # scaled similarity of the least similar candidate: last, but still able to fill a list


def _scaled(values: np.ndarray, signed: bool) -> np.ndarray:
    """Evidence mapped to [0, 1] per query (per row of a block), NaN to 0: signed kinds linearly from their
    [min, max] over the candidates to [SIGNED_FLOOR, 1]; others divided by their maximum (negatives to 0)."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmax of an all-NaN row
        top = np.nanmax(values, axis=-1, keepdims=True)
        if signed:
            low = np.nanmin(values, axis=-1, keepdims=True)
            spread = top - low
            scaled = np.where(
                spread > 0, SIGNED_FLOOR + (1 - SIGNED_FLOOR) * (values - low) / np.where(spread > 0, spread, 1.0), 1.0
            )
            scaled = np.where(np.isnan(values), np.nan, scaled)
        else:
            scaled = np.maximum(values, 0.0) / top
    return np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)


def _available(inputs: RankingInputs, kind: str) -> np.ndarray:
    if kind == "audio":
        return inputs.audio_position >= 0
    return inputs.heard


def relevance(inputs: RankingInputs, evidence: Evidence, weights: tuple[float, float, float]) -> np.ndarray:
    """Blended relevance in [0, 1] of every track (rows of a block when evidence is 2-d)."""
    total = None
    weight_sum = np.zeros(inputs.n_items)
    for kind, weight in zip(KINDS, weights):
        values = evidence.kind(kind)
        if values is None or weight == 0:
            continue
        part = weight * _scaled(values, evidence.signed(kind))
        total = part if total is None else total + part
        weight_sum += weight * _available(inputs, kind)
    if total is None:
        raise DataError("nothing to compare these tracks with: they have neither listens nor analysed audio")
    return np.divide(total, weight_sum, out=np.zeros_like(total), where=weight_sum > 0)


# --------------------------------------------------------------------------------------------- selection


def _loved_soundtracks(inputs: RankingInputs, history: np.ndarray) -> np.ndarray:
    codes = inputs.soundtrack_codes[history]
    return np.unique(codes[codes >= 0])


def candidate_mask(inputs: RankingInputs, options: RankOptions, history: np.ndarray) -> np.ndarray:
    """Tracks a query may be given: not its own, within scope, deep cuts when asked."""
    allowed = np.ones(inputs.n_items, dtype=bool)
    allowed[history] = False
    if options.scope == "soundtrack" and inputs.is_soundtrack is not None:
        allowed &= inputs.is_soundtrack
    if options.deep_cuts:
        loved = _loved_soundtracks(inputs, history)
        if len(loved) == 0:
            raise ParameterError("--deep-cuts needs seeds (or a history) from soundtracks the catalogue knows")
        allowed &= np.isin(inputs.soundtrack_codes, loved) & ~inputs.is_theme
    return allowed


def select(
    inputs: RankingInputs, scores: np.ndarray, allowed: np.ndarray, options: RankOptions, history: np.ndarray
) -> np.ndarray:
    """Track rows of the final list for one query, best first (see the module docstring for the rules)."""
    scores = np.where(allowed & (scores > 0), scores, -np.inf)
    n_valid = int(np.isfinite(scores).sum())
    if n_valid == 0:
        return np.zeros(0, dtype=np.int64)
    depth = min(n_valid, max(options.k * 8, 200))
    top = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
    order = top[np.lexsort((top, -scores[top]))]
    order = order[np.isfinite(scores[order])]
    cap = options.per_soundtrack
    n_tail = options.tail_places
    chosen: list[int] = []
    counts: dict[int, int] = {}

    def take(rows, limit: int) -> None:
        for row in rows:
            if len(chosen) >= limit:
                return
            code = int(inputs.soundtrack_codes[row])
            if row in chosen_set or (cap and code >= 0 and counts.get(code, 0) >= cap):
                continue
            chosen.append(int(row))
            chosen_set.add(int(row))
            if code >= 0:
                counts[code] = counts.get(code, 0) + 1

    chosen_set: set[int] = set()
    take(order, options.k - n_tail)
    if n_tail:
        take(order[inputs.is_tail[order]], options.k)
    take(order, options.k)
    return _themes_after_deep_cuts(inputs, np.asarray(chosen, dtype=np.int64), history)


def _themes_after_deep_cuts(inputs: RankingInputs, rows: np.ndarray, history: np.ndarray) -> np.ndarray:
    """Move the theme of each loved soundtrack behind that soundtrack's last deep cut in the list."""
    loved = set(_loved_soundtracks(inputs, history).tolist())
    out = list(rows)
    for row in rows:
        code = int(inputs.soundtrack_codes[row])
        if inputs.is_theme[row] and code in loved:
            later = [i for i, r in enumerate(out) if inputs.soundtrack_codes[r] == code and r != row]
            if later and later[-1] > out.index(row):
                out.remove(row)
                out.insert(later[-1], int(row))
    return np.asarray(out, dtype=np.int64)


# --------------------------------------------------------------------------------------------- one query


@dataclass
class Recommendation:
    """One pick. ``popularity`` is the listener count; ``popularity_percentile`` 100 = most popular;
    ``similarity`` the blended relevance in [0, 1]; ``score`` the relevance after the popularity discount."""

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


def rank(model, history: np.ndarray, options: RankOptions, *, user_row: int | None = None) -> list[Recommendation]:
    """Hidden gems for one query: ``history`` (track rows the listener loves or heard), ``user_row`` when it is
    a known listener of the model (their ALS factors then carry the taste)."""
    from gems.explain import explain

    inputs = model.inputs
    history = np.unique(np.asarray(history, dtype=np.int64))
    evidence = _query_evidence(inputs, history, user_row)
    blended = relevance(inputs, evidence, options.weights)
    scores = blended * popularity_discount(inputs.listeners, options.discount)
    rows = select(inputs, scores, candidate_mask(inputs, options, history), options, history)
    picks = []
    for row in rows:
        why, seed = explain(model, evidence, options.weights, int(row), history, user_row is not None)
        picks.append(
            Recommendation(
                track_id=model.track_ids[row],
                title=model.titles[row],
                artist=model.artists[row],
                soundtrack=model.soundtracks[row],
                score=float(scores[row]),
                similarity=float(blended[row]),
                popularity=int(inputs.listeners[row]),
                popularity_percentile=round(float(model.percentile[row]), 2),
                is_tail=bool(inputs.is_tail[row]),
                why=why,
                seed=None if seed is None else model.track_ids[seed],
                row=int(row),
            )
        )
    return picks


def recommend_like(model, queries: list[str], options: RankOptions) -> tuple[list[int], list[Recommendation]]:
    """Resolve seed ids/titles and rank hidden gems for them. Returns (seed rows, picks)."""
    if not queries:
        raise ParameterError("give at least one seed track with --like (an id or a title)")
    seeds = [model.lookup.resolve(q) for q in queries]
    return seeds, rank(model, np.asarray(seeds), options)


def recommend_for_user(model, user_id: str, options: RankOptions) -> list[Recommendation]:
    """Hidden gems for a listener of the model's listens: their ALS taste and history; history excluded."""
    user_row = model.user_row(user_id)
    history, _ = model.history(user_row)
    if len(history) == 0:
        raise DataError(f"user '{user_id}' has no listens in this model; recommend from seeds with --like instead")
    return rank(model, history, options, user_row=user_row)


# --------------------------------------------------------------------------------------------- many users


def recommend_batch(
    inputs: RankingInputs, history, user_rows: np.ndarray, options: RankOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k for a block of known listeners at once: (items (b × k) with −1 padding, scores (b × k)).

    ``history``: (b × n) CSR of the users' listens; ``user_rows``: their rows in ``inputs.user_factors``.
    Same scoring and rules as :func:`rank`, computed as matrix products over the block.
    """
    from gems.neighbours import ItemNeighbours, binarize

    b, k = len(user_rows), options.k
    cf = near = audio = None
    if inputs.item_factors is not None and inputs.user_factors is not None:
        cf = (inputs.user_factors[user_rows] @ inputs.item_factors.T).astype(np.float64)
    binary = binarize(history)
    if inputs.neighbours is not None:
        near = np.asarray((binary @ ItemNeighbours.matrix_from_arrays(*inputs.neighbours)).todense(), dtype=np.float64)
    if inputs.audio_position is not None:
        have = np.flatnonzero(inputs.audio_position >= 0)
        vectors = np.asarray(inputs.audio_vectors, dtype=np.float32)[inputs.audio_position[have]]
        counts = np.asarray(binary[:, have].sum(axis=1)).ravel()
        profile = np.asarray(binary[:, have] @ vectors) / np.maximum(counts, 1)[:, None]
        audio = np.zeros((b, inputs.n_items), dtype=np.float64)
        audio[:, have] = profile @ vectors.T
    own_rows = np.repeat(np.arange(b), np.diff(history.indptr))
    for values in (cf, near, audio):
        if values is not None:
            values[own_rows, history.indices] = np.nan
    for values in (cf, near):
        if values is not None:
            values[:, ~inputs.heard] = np.nan
    if audio is not None:
        audio[:, inputs.audio_position < 0] = np.nan
    blended = relevance(inputs, Evidence(cf, near, audio, cf_signed=False), options.weights)
    scores = blended * popularity_discount(inputs.listeners, options.discount)
    items = np.full((b, k), -1, dtype=np.int64)
    values = np.full((b, k), -np.inf, dtype=np.float32)
    for i in range(b):
        own = history.indices[history.indptr[i] : history.indptr[i + 1]].astype(np.int64)
        rows = select(inputs, scores[i], candidate_mask(inputs, options, own), options, own)
        items[i, : len(rows)] = rows
        values[i, : len(rows)] = scores[i, rows]
    return items, values
