"""Ranking: score tracks for a query, discount popularity, filter and diversify, explain.

A query is a listener's history (a known user) or a few seed tracks. Four kinds of evidence score track j:

    cf(j)     taste:        p_u · v_j for a known listener (ALS user and item factors); for seeds,
                            mean_s cos(v_s, v_j)
    near(j)   co-listening: Σ_{i ∈ history} S[i, j], S the cosine item-kNN of ``gems.neighbours``
    audio(j)  sound:        mean_{i ∈ history} cos(a_i, a_j), a the audio embeddings
    kin(j)    deep cuts:    the share of the history by j's artist or from j's album/soundtrack (the larger) —
                            a rarely played track by an artist, or from a soundtrack, the listener already loves

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
from dataclasses import asdict, dataclass, field

import numpy as np

from gems.errors import DataError, ParameterError
from gems.popularity import popularity_discount
from gems.topk import NormOrdered, top_k

KINDS = ("cf", "near", "audio", "kin")
EVIDENCE_SHARE = 0.2  # a kind is named in an explanation when it gives at least this share of the relevance
GROUP_SIMILAR = 0.35  # per-group cosine above which a feature group (timbre, harmony, ...) is named


@dataclass(frozen=True)
class RankOptions:
    """How to rank. ``weights`` blend the evidence kinds (cf, near, audio, kin); see the module docstring."""

    k: int = 10
    discount: float = 0.0
    per_soundtrack: int = 0  # 0 = no cap
    tail_share: float = 0.15  # share of the k places reserved for long-tail tracks
    weights: tuple[float, ...] = (0.7, 0.3, 0.5, 0.2)
    tail_weights: tuple[float, ...] | None = (0.3, 0.7, 0.5, 1.0)  # ranking the reserved places (None = weights)
    scope: str = "all"  # or "soundtrack"
    deep_cuts: bool = False
    calibrated: bool = True  # tail places per query ∝ the share of long-tail tracks in its own history

    def __post_init__(self):
        if self.k < 1:
            raise ParameterError(f"k must be at least 1, got {self.k}")
        if self.discount < 0:
            raise ParameterError(f"--discount must be ≥ 0 (0 = no popularity discount), got {self.discount}")
        if self.per_soundtrack < 0:
            raise ParameterError(f"--per-soundtrack must be ≥ 0 (0 = no cap), got {self.per_soundtrack}")
        if not 0 <= self.tail_share <= 1:
            raise ParameterError(f"--tail-share must be within [0, 1], got {self.tail_share}")
        for name, weights in (("weights", self.weights), ("tail weights", self.tail_weights or self.weights)):
            if len(weights) != len(KINDS) or min(weights) < 0 or sum(weights) <= 0:
                raise ParameterError(
                    f"{name} must be {len(KINDS)} non-negative numbers ({', '.join(KINDS)}), got {weights}"
                )
        if self.scope not in ("all", "soundtrack"):
            raise ParameterError(f"--scope must be 'all' or 'soundtrack', got '{self.scope}'")

    @classmethod
    def from_params(cls, params: dict, **overrides) -> RankOptions:
        """Options from a model's ``rank_defaults`` (a :class:`gems.config.RankParams` as a dict; missing keys
        take the defaults of this class) and the caller's overrides (None values ignored)."""
        values = {
            key: params[key]
            for key in ("k", "discount", "per_soundtrack", "tail_share", "scope", "calibrated")
            if key in params
        }
        for name, prefix in (("weights", "weight_"), ("tail_weights", "tail_weight_")):
            if any(f"{prefix}{kind}" in params for kind in KINDS):
                default = getattr(cls(), name) or cls().weights
                values[name] = tuple(params.get(f"{prefix}{kind}", w) for kind, w in zip(KINDS, default))
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def tail_places(self) -> int:
        return math.ceil(self.tail_share * self.k - 1e-9)

    def tail_places_for(self, inputs: RankingInputs, histories: list[np.ndarray]) -> np.ndarray:
        """Reserved long-tail places of each query: ⌈tail_share · k⌉, or when ``calibrated``
        round(k · min(1, tail_share · 10 · f)), f the query's own share of long-tail tracks (so a listener
        deep in the tail gets more of it, a mainstream one less; tail_share 0.1 gives f's own share)."""
        if not self.calibrated:
            return np.full(len(histories), self.tail_places, dtype=np.int64)
        shares = np.array([inputs.is_tail[h].mean() if len(h) else 0.0 for h in histories])
        return np.round(self.k * np.minimum(1.0, self.tail_share * 10 * shares)).astype(np.int64)


class UnitRows:
    """The rows of a matrix scaled to unit length (zero rows stay zero), computed only for the rows asked for:
    on a million tracks, normalising every factor vector would cost seconds per query."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = matrix
        self._norms: np.ndarray | None = None

    def __getitem__(self, rows) -> np.ndarray:
        block = np.asarray(self.matrix[rows], dtype=np.float32)
        norms = np.linalg.norm(block, axis=-1, keepdims=True)
        return np.divide(block, norms, out=np.zeros_like(block), where=norms > 0)

    def __matmul__(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every row with ``query`` (a unit vector) — a full scan, for small catalogues."""
        if self._norms is None:
            self._norms = np.linalg.norm(np.asarray(self.matrix, dtype=np.float32), axis=1)
        products = np.asarray(self.matrix @ query, dtype=np.float32)
        return np.divide(products, self._norms, out=np.zeros_like(products), where=self._norms > 0)


@dataclass
class RankingInputs:
    """Everything ranking reads, per track row (n tracks) — from a model folder or a training split.

    item_factors (n × f) and user_factors (n_users × f): ALS, zero rows for tracks without listens;
    neighbours: (indptr, indices, data) CSR arrays of the item-kNN similarity; audio_position (n,): row of a
    track in audio_vectors (m × d, unit rows) or −1; soundtrack_codes and artist_codes (n,): the track's
    album/soundtrack and artist as integers, −1 when unknown.
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
    artist_codes: np.ndarray | None = None
    indexes: dict | None = None  # space name -> gems.model.Space (faiss index, track rows), for single queries
    _unit_factors: UnitRows | None = field(default=None, repr=False)
    _norm_ordered: NormOrdered | None = field(default=None, repr=False)
    _members: dict = field(default_factory=dict, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.listeners)

    @property
    def heard(self) -> np.ndarray:
        return self.listeners > 0

    @property
    def unit_factors(self) -> UnitRows:
        """Item factors scaled to unit length, row by row as they are asked for."""
        if self._unit_factors is None:
            self._unit_factors = UnitRows(self.item_factors)
        return self._unit_factors

    @property
    def norm_ordered(self) -> NormOrdered:
        """The item factors of heard tracks by decreasing norm, for batch top-k (built once: ~0.7 s for a
        million tracks; local worker processes fork with it)."""
        if self._norm_ordered is None:
            self._norm_ordered = NormOrdered.of(self.item_factors, self.heard)
        return self._norm_ordered

    @property
    def kin_codes(self) -> list[np.ndarray]:
        """The code arrays kin evidence is read from: artists and albums/soundtracks, where known."""
        return [c for c in (self.artist_codes, self.soundtrack_codes) if c is not None and (c >= 0).any()]

    def members(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tracks ordered by code, start of each code's run) for ``codes`` ≥ 0, computed once per array (a
        model folder brings the order, written by the build's catalogue stage)."""
        if id(codes) not in self._members:
            known = np.flatnonzero(codes >= 0)
            self.set_members(codes, known[np.argsort(codes[known], kind="stable")])
        return self._members[id(codes)]

    def set_members(self, codes: np.ndarray, order: np.ndarray) -> None:
        """Record ``order`` (the tracks with a code, sorted by it) for ``codes``."""
        order = np.asarray(order)
        starts = np.searchsorted(np.asarray(codes)[order], np.arange(int(np.max(codes, initial=-1)) + 2))
        self._members[id(codes)] = (order, starts)


# --------------------------------------------------------------------------------------------- retrieval


INDEX_FROM = 50_000  # vectors in a space from which single queries retrieve through its faiss index
TOPK_THREADS = 0  # threads of implicit's top-k in batch ranking (0: every core; worker processes set 1)


def pool_sizes(k: int) -> dict[str, int]:
    """How many candidates each kind retrieves per query: the best by taste and sound, the strongest by
    co-listening and kin; the union is scored exactly. (On MPD validation, pools of 100-150 already reach
    the accuracy of pools of 1,000.)"""
    return {"cf": max(150, 3 * k), "near": max(250, 5 * k), "audio": max(150, 3 * k), "kin": max(250, 5 * k)}


@dataclass
class Candidates:
    """The tracks retrieved for b queries and each kind's raw evidence on them, flat: query i owns the entries
    ``indptr[i]:indptr[i + 1]`` (track rows sorted ascending) — the layout of a CSR matrix.

    ``cf``/``near``/``audio``/``kin``: (nnz,) float32 or None when the kind is absent; NaN where a track cannot
    take that kind (no listens, no audio, no known artist or album). ``signed`` kinds are cosines whose negative range is meaningful; the
    others are non-negative amounts of evidence (0 = none)."""

    indptr: np.ndarray
    rows: np.ndarray
    cf: np.ndarray | None
    near: np.ndarray | None
    audio: np.ndarray | None
    kin: np.ndarray | None
    keys: np.ndarray  # query · n + row of each entry, sorted
    cf_signed: bool = True

    @property
    def n_queries(self) -> int:
        return len(self.indptr) - 1

    @property
    def query(self) -> np.ndarray:
        """The query of each entry, (nnz,)."""
        return np.repeat(np.arange(self.n_queries), np.diff(self.indptr))

    def kind(self, name: str) -> np.ndarray | None:
        return getattr(self, name)

    def signed(self, name: str) -> bool:
        return name == "audio" or (name == "cf" and self.cf_signed)

    def positions(self, items: np.ndarray, n: int) -> np.ndarray:
        """The entries of the tracks ``items`` (b × k, −1 padding) among each query's candidates (−1 padding)."""
        query = np.repeat(np.arange(len(items)), items.shape[1]).reshape(items.shape)
        found = np.searchsorted(self.keys, query * n + np.maximum(items, 0))
        return np.where(items >= 0, found, -1)


def _loved_soundtracks(inputs: RankingInputs, history: np.ndarray) -> np.ndarray:
    codes = inputs.soundtrack_codes[history]
    return np.unique(codes[codes >= 0])


def _best(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest finite values (any order)."""
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) > n:
        finite = finite[np.argpartition(-values[finite], n - 1)[:n]]
    return finite


def _excluded(inputs: RankingInputs, options: RankOptions) -> np.ndarray:
    """(n,) tracks no query may get: outside ``options.scope``."""
    if options.scope == "soundtrack" and inputs.is_soundtrack is not None:
        return ~inputs.is_soundtrack
    return np.zeros(inputs.n_items, dtype=bool)


def _deep_cuts(inputs: RankingInputs, history: np.ndarray) -> np.ndarray:
    """(n,) the overlooked tracks of the soundtracks a query loves: not their themes."""
    loved = _loved_soundtracks(inputs, history)
    if len(loved) == 0:
        raise ParameterError("--deep-cuts needs seeds (or a history) from soundtracks the catalogue knows")
    return np.isin(inputs.soundtrack_codes, loved) & ~inputs.is_theme


def _audio_profiles(inputs: RankingInputs, histories: list[np.ndarray]) -> list[np.ndarray | None]:
    """Per query, the mean audio embedding of its tracks that have one (None when none has)."""
    if inputs.audio_position is None:
        return [None] * len(histories)
    profiles = []
    for history in histories:
        positions = inputs.audio_position[history]
        positions = positions[positions >= 0]
        profiles.append(
            np.asarray(inputs.audio_vectors[positions], np.float32).mean(axis=0) if len(positions) else None
        )
    return profiles


def _pair_dots(vectors, rows: np.ndarray, queries: np.ndarray, query: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """vectors[rows[e]] · queries[query[e]] for every entry e, in chunks (bounded memory), float32."""
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        out[part] = np.einsum("ij,ij->i", np.asarray(vectors[rows[part]], np.float32), queries[query[part]])
    return out


def _finish(
    inputs: RankingInputs,
    keys: np.ndarray,
    cf_query: np.ndarray | None,
    cf_vectors,
    sparse: dict[str, tuple[np.ndarray, np.ndarray]],
    audio_profiles: list,
    b: int,
    cf_signed: bool,
    known_cf: tuple[np.ndarray, np.ndarray] | None = None,
) -> Candidates:
    """Candidates from the retrieved (query, track) keys = query · n + track, with every kind's exact evidence.

    ``cf_query`` (b × f): each query's factor vector; ``known_cf``: (keys sorted, values) of pairs whose cf score
    is already known (from the top-k); ``sparse``: for near and kin, (keys sorted, values) of every (query,
    track) pair with evidence (the others have 0)."""
    n = inputs.n_items
    keys = np.sort(keys)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys  # sorted unique, faster than np.unique
    query, rows = keys // n, keys % n
    indptr = np.searchsorted(query, np.arange(b + 1)).astype(np.int64)
    evidence: dict[str, np.ndarray | None] = {kind: None for kind in KINDS}
    if cf_query is not None:
        cf = np.empty(len(keys), dtype=np.float32)
        missing = np.ones(len(keys), dtype=bool)
        if known_cf is not None and len(known_cf[0]):
            at = np.minimum(np.searchsorted(known_cf[0], keys), len(known_cf[0]) - 1)
            hit = known_cf[0][at] == keys
            cf[hit], missing = known_cf[1][at[hit]], ~hit
        cf[missing] = _pair_dots(cf_vectors, rows[missing], cf_query, query[missing])
        cf[~inputs.heard[rows]] = np.nan
        evidence["cf"] = cf
    for kind, (kind_keys, kind_values) in sparse.items():
        values = np.zeros(len(keys), dtype=np.float32)
        if len(kind_keys):
            at = np.minimum(np.searchsorted(kind_keys, keys), len(kind_keys) - 1)
            match = kind_keys[at] == keys
            values[match] = kind_values[at[match]]
        able = inputs.heard[rows] if kind == "near" else np.any([c[rows] >= 0 for c in inputs.kin_codes], axis=0)
        values[~able] = np.nan
        evidence[kind] = values
    if any(p is not None for p in audio_profiles):
        profiles = np.stack(
            [np.full(inputs.audio_vectors.shape[1], np.nan, np.float32) if p is None else p for p in audio_profiles]
        )
        position = inputs.audio_position[rows]
        audio = np.full(len(keys), np.nan, dtype=np.float32)
        have = position >= 0
        audio[have] = _pair_dots(inputs.audio_vectors, position[have], profiles, query[have])
        evidence["audio"] = audio
    return Candidates(indptr, rows.astype(np.int64), **evidence, keys=keys, cf_signed=cf_signed)


def _strongest(
    inputs: RankingInputs, keys: np.ndarray, values: np.ndarray, limit: int, *, tie_break: bool
) -> np.ndarray:
    """The keys of each query's ``limit`` strongest entries; ``tie_break``: among equal values the less played
    track first (kin values tie often: every track of an artist shares one)."""
    query = keys // inputs.n_items
    starts = np.searchsorted(query, np.arange(query[-1] + 2)) if len(keys) else np.zeros(1, dtype=np.int64)
    keep = np.ones(len(keys), dtype=bool)
    for q in np.flatnonzero(np.diff(starts) > limit):  # only the queries with more entries than the limit
        segment = slice(starts[q], starts[q + 1])
        if tie_break:
            order = np.lexsort((inputs.listeners[keys[segment] % inputs.n_items], -values[segment]))[limit:]
        else:
            order = np.argpartition(-values[segment], limit)[limit:]
        keep[segment][order] = False
    return keys[keep]


def _kin_one(inputs: RankingInputs, history: np.ndarray, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tracks, kin) of one query: every track sharing an artist or album with it, and the share of the
    query's tracks it shares with (the larger of the two)."""
    values = np.zeros(inputs.n_items, dtype=np.float32)
    for codes in inputs.kin_codes:
        shared, counts = np.unique(codes[history][codes[history] >= 0], return_counts=True)
        order, starts = inputs.members(codes)
        for code, count in zip(shared, counts):
            members = order[starts[code] : starts[code + 1]]
            values[members] = np.maximum(values[members], count / len(history))
    values[blocked] = 0
    tracks = np.flatnonzero(values > 0)
    return tracks, values[tracks]


def _membership(inputs: RankingInputs, codes: np.ndarray):
    """(n × codes) CSR indicator of each track's code, computed once per array."""
    import scipy.sparse as sp

    key = ("matrix", id(codes))
    if key not in inputs._members:
        known = np.flatnonzero(codes >= 0)
        inputs._members[key] = sp.csr_matrix(
            (np.ones(len(known), np.float32), (known, codes[known])), shape=(len(codes), int(codes.max()) + 1)
        )
    return inputs._members[key]


def _positions_of(sorted_keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in ``sorted_keys`` of those ``wanted`` keys it holds."""
    at = np.searchsorted(sorted_keys, wanted)
    inside = at < len(sorted_keys)
    return at[inside][sorted_keys[at[inside]] == wanted[inside]]


def _kin_users(inputs: RankingInputs, own, own_keys: np.ndarray, excluded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_kin_one` for a block, as sparse products: (keys sorted, values); ``own_keys``: the block's
    query · n + track of each own track, sorted."""
    n = inputs.n_items
    sizes = np.maximum(np.asarray(own.sum(axis=1)).ravel(), 1)
    total = None
    for codes in inputs.kin_codes:
        membership = _membership(inputs, codes)
        share = (own @ membership).multiply(1.0 / sizes[:, None]).tocsr()
        per_track = (share @ membership.T).tocsr()
        total = per_track if total is None else total.maximum(per_track)
    total.sort_indices()
    keys = np.repeat(np.arange(total.shape[0], dtype=np.int64) * n, np.diff(total.indptr)) + total.indices
    keep = ~excluded[total.indices] & (total.data > 0)
    keep[_positions_of(keys, own_keys)] = False
    return keys[keep], total.data[keep].astype(np.float32)


def retrieve_one(inputs: RankingInputs, history: np.ndarray, user_row: int | None, options: RankOptions) -> Candidates:
    """One query's candidates (numpy only, so ``gems recommend`` stays fast): the best tracks by taste (ALS
    preference of a known listener, or cosine to the seeds' mean factors), the strongest co-listened and
    kin tracks, and the closest by sound; never the query's own tracks, only within scope."""
    n, pools = inputs.n_items, pool_sizes(options.k)
    blocked = _excluded(inputs, options).copy()
    blocked[history] = True
    if options.deep_cuts:
        blocked |= ~_deep_cuts(inputs, history)
    found = [np.zeros(0, dtype=np.int64)]
    cf_query = cf_vectors = None
    known = user_row is not None and inputs.user_factors is not None
    if inputs.item_factors is not None:
        if known:
            cf_vectors, query = inputs.item_factors, np.asarray(inputs.user_factors[user_row], np.float32)
        else:
            heard = history[inputs.heard[history]]
            cf_vectors = inputs.unit_factors
            query = cf_vectors[heard].mean(axis=0).astype(np.float32) if len(heard) else None
        if query is not None:
            found.append(
                _nearest_tracks(
                    inputs, "cf" if not known else None, cf_vectors, query, blocked | ~inputs.heard, pools["cf"]
                )
            )
            cf_query = query[None, :]
    sparse = {}
    if inputs.neighbours is not None:
        from gems.neighbours import row_scores

        dense = row_scores(*inputs.neighbours, history, np.ones(len(history)), n)
        dense[blocked] = 0
        tracks = np.flatnonzero(dense > 0)
        sparse["near"] = (tracks, dense[tracks].astype(np.float32))
    if inputs.kin_codes:
        sparse["kin"] = _kin_one(inputs, history, blocked)
    for kind, (tracks, values) in sparse.items():
        found.append(_strongest(inputs, tracks, values, pools[kind], tie_break=kind == "kin"))
    (profile,) = _audio_profiles(inputs, [history])
    if profile is not None:
        found.append(_nearest_tracks(inputs, "audio", None, profile, blocked, pools["audio"]))
    keys = np.concatenate(found)
    return _finish(inputs, keys, cf_query, cf_vectors, sparse, [profile], 1, cf_signed=not known)


def _nearest_tracks(
    inputs: RankingInputs, space: str | None, vectors, query: np.ndarray, blocked: np.ndarray, n: int
) -> np.ndarray:
    """The ``n`` best tracks for ``query`` (track rows), never ``blocked`` ones: through the model's faiss index
    of ``space`` when it holds at least INDEX_FROM vectors (exact below 100k, IVF above; see ``gems.index``),
    else by an exact numpy scan of ``vectors`` (the audio vectors when ``vectors`` is None) — for small
    catalogues the scan is faster than importing faiss."""
    indexed = (inputs.indexes or {}).get(space) if space else None
    if indexed is not None and len(indexed.rows) >= INDEX_FROM:
        from gems.index import search

        rows = indexed.rows
        unit = query / max(float(np.linalg.norm(query)), 1e-12)
        in_space = int(blocked[rows].sum())
        wanted = n + in_space if in_space < 4 * n else 0  # heavy filters (a narrow scope): scan exactly instead
        if wanted:
            positions, _ = search(indexed.index, unit[None, :].astype(np.float32), wanted)
            found = rows[positions[0][positions[0] >= 0]]
            return found[~blocked[found]][:n]
    if vectors is None:
        have = np.flatnonzero(inputs.audio_position >= 0)
        values = np.full(inputs.n_items, -np.inf, dtype=np.float32)
        values[have] = np.asarray(inputs.audio_vectors[inputs.audio_position[have]], np.float32) @ query
    else:
        values = np.asarray(vectors @ query, dtype=np.float32)
    values[blocked] = -np.inf
    return _best(values, n)


def retrieve_users(
    inputs: RankingInputs, histories: list[np.ndarray], user_rows: np.ndarray, options: RankOptions
) -> Candidates:
    """:func:`retrieve_one` for a block of known listeners, as matrix operations: implicit's top-k for
    taste, sparse products for co-listening and kin."""
    from gems.neighbours import ItemNeighbours, history_matrix

    n, b, pools = inputs.n_items, len(histories), pool_sizes(options.k)
    own = history_matrix(histories, n)
    own_keys = np.unique(np.repeat(np.arange(b, dtype=np.int64) * n, np.diff(own.indptr)) + own.indices)
    known_cf = None
    excluded = _excluded(inputs, options)
    if options.deep_cuts:  # per listener: rare in batch, so a plain mask per row
        allowed = np.stack([_deep_cuts(inputs, h) & ~excluded for h in histories])
    found = []
    cf_query = cf_vectors = None
    if inputs.item_factors is not None and inputs.user_factors is not None:
        cf_vectors = inputs.item_factors
        cf_query = np.asarray(inputs.user_factors[user_rows], dtype=np.float32)
        ids, values = top_k(
            inputs.norm_ordered,
            cf_query,
            min(pools["cf"], n),
            own.indptr,
            own.indices,
            excluded if excluded.any() else None,
            num_threads=TOPK_THREADS,
        )
        ok = ids >= 0
        cf_keys = (np.repeat(np.arange(b), ok.sum(axis=1)) * n + ids[ok]).astype(np.int64)
        order = np.argsort(cf_keys)
        known_cf = (cf_keys[order], values[ok][order].astype(np.float32))  # their exact scores, no need to recompute
        found.append(cf_keys)
    sparse = {}
    if inputs.neighbours is not None:
        product = (own @ ItemNeighbours.matrix_from_arrays(*inputs.neighbours)).tocsr()
        product.sort_indices()
        keys = np.repeat(np.arange(b, dtype=np.int64) * n, np.diff(product.indptr)) + product.indices
        keep = ~excluded[product.indices] & (product.data > 0)
        keep[_positions_of(keys, own_keys)] = False  # never a listener's own tracks
        sparse["near"] = (keys[keep], product.data[keep].astype(np.float32))
    if inputs.kin_codes:
        sparse["kin"] = _kin_users(inputs, own, own_keys, excluded)
    for kind, (keys, values) in sparse.items():
        found.append(_strongest(inputs, keys, values, pools[kind], tie_break=kind == "kin"))
    profiles = _audio_profiles(inputs, histories)
    if any(p is not None for p in profiles):
        have = np.flatnonzero(inputs.audio_position >= 0)
        vectors = np.asarray(inputs.audio_vectors[inputs.audio_position[have]], np.float32)
        for i, profile in enumerate(profiles):
            if profile is not None:
                values = vectors @ profile
                values[excluded[have] | np.isin(have, histories[i])] = -np.inf
                found.append(i * n + have[_best(values, pools["audio"])])
    keys = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if options.deep_cuts:
        keys = keys[allowed[keys // n, keys % n]]
    return _finish(inputs, keys, cf_query, cf_vectors, sparse, profiles, b, cf_signed=False, known_cf=known_cf)


# --------------------------------------------------------------------------------------------- scoring

SIGNED_FLOOR = 0.01  # scaled similarity of the least similar candidate: last, but still able to fill a list


def _segment(reduce, values: np.ndarray, indptr: np.ndarray, empty: float) -> np.ndarray:
    """``reduce`` (np.maximum / np.minimum) of each query's entries, broadcast back to the entries."""
    lengths = np.diff(indptr)
    per_query = np.full(len(lengths), empty, dtype=np.float32)
    nonempty = lengths > 0
    if nonempty.any():
        per_query[nonempty] = reduce.reduceat(values, indptr[:-1][nonempty])
    return np.repeat(per_query, lengths)


def _scaled(values: np.ndarray, indptr: np.ndarray, signed: bool) -> np.ndarray:
    """Evidence mapped to [0, 1] per query over its candidates (NaN = cannot take it -> 0): signed kinds
    linearly from their [min, max] to [SIGNED_FLOOR, 1]; others divided by their maximum (negatives to 0)."""
    present = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        if signed:
            top = _segment(np.maximum, np.where(present, values, -np.inf).astype(np.float32), indptr, -np.inf)
            low = _segment(np.minimum, np.where(present, values, np.inf).astype(np.float32), indptr, np.inf)
            spread = top - low
            scaled = np.where(spread > 0, SIGNED_FLOOR + (1 - SIGNED_FLOOR) * (values - low) / spread, 1.0)
        else:
            positive = np.where(present, np.maximum(values, 0), 0).astype(np.float32)
            top = _segment(np.maximum, positive, indptr, 0.0)
            scaled = np.where(top > 0, positive / top, 0.0)
    return np.where(present, scaled, 0.0).astype(np.float32, copy=False)


def scaled_parts(candidates: Candidates, *weightings) -> dict[str, np.ndarray]:
    """Each present kind's evidence scaled to [0, 1] per query (nnz,), for the kinds some weighting uses."""
    used = {kind for weights in weightings if weights for kind, w in zip(KINDS, weights) if w > 0}
    return {
        kind: _scaled(candidates.kind(kind), candidates.indptr, candidates.signed(kind))
        for kind in KINDS
        if kind in used and candidates.kind(kind) is not None
    }


def _blend(candidates: Candidates, parts: dict[str, np.ndarray], weights) -> np.ndarray:
    """Relevance per candidate entry: the kinds each track can take, weights renormalised over them."""
    total = np.zeros(len(candidates.rows), dtype=np.float32)
    weight_sum = np.zeros(len(candidates.rows), dtype=np.float32)
    for kind, weight in zip(KINDS, weights):
        if kind in parts and weight > 0:
            total += weight * parts[kind]
            weight_sum += weight * ~np.isnan(candidates.kind(kind))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight_sum > 0, total / weight_sum, 0.0).astype(np.float32)


def score(
    inputs: RankingInputs, candidates: Candidates, parts: dict[str, np.ndarray], options: RankOptions
) -> tuple[np.ndarray, np.ndarray]:
    """(relevance, score) per candidate entry: relevance = the blend of :func:`_blend`;
    score = relevance · (1 + listeners)^−discount."""
    if not parts:
        raise DataError("nothing to compare these tracks with: they have neither listens nor analysed audio")
    blended = _blend(candidates, parts, options.weights)
    return blended, blended * _discount(inputs, candidates, options)


def _discount(inputs: RankingInputs, candidates: Candidates, options: RankOptions) -> np.ndarray:
    return popularity_discount(inputs.listeners[candidates.rows], options.discount).astype(np.float32)


def tail_score(
    inputs: RankingInputs, candidates: Candidates, parts: dict[str, np.ndarray], options: RankOptions
) -> np.ndarray | None:
    """The score ranking the reserved long-tail places when ``tail_weights`` differ from ``weights``."""
    if options.tail_weights is None or tuple(options.tail_weights) == tuple(options.weights):
        return None
    return _blend(candidates, parts, options.tail_weights) * _discount(inputs, candidates, options)


# --------------------------------------------------------------------------------------------- selection


def _pick(
    inputs: RankingInputs, order: np.ndarray, tails: np.ndarray, options: RankOptions, history: np.ndarray, n_tail: int
) -> np.ndarray:
    """The final list of one query from its candidate rows in score order (``tails``: its long-tail
    candidates in the order ranking the reserved places): the soundtrack cap, ``n_tail`` reserved long-tail
    places, and a loved soundtrack's theme after its deep cuts."""
    cap, k = options.per_soundtrack, options.k
    chosen: list[int] = []
    taken: set[int] = set()
    counts: dict[int, int] = {}

    def take(rows, limit: int) -> None:
        for row in rows:
            if len(chosen) >= limit:
                return
            row = int(row)
            code = int(inputs.soundtrack_codes[row])
            if row in taken or (cap and code >= 0 and counts.get(code, 0) >= cap):
                continue
            chosen.append(row)
            taken.add(row)
            if code >= 0:
                counts[code] = counts.get(code, 0) + 1

    take(order, k - n_tail)
    if n_tail:
        take(tails, k)
    take(order, k)
    return _themes_after_deep_cuts(inputs, np.asarray(chosen, dtype=np.int64), history)


def _ranked(query: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Order of entries grouped by ``query`` (ascending), then by ``values`` descending; stable."""
    if len(values) and values.min() >= 0 and values.max() <= 1:
        # one float64 key, exact for float32 values in [0, 1]: one sort instead of lexsort's two passes
        return np.argsort(query * 2.0 + (1.0 - values.astype(np.float64)), kind="stable")
    return np.lexsort((-values, query))


def _within(query: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """For entries grouped by query, the 0-based count of earlier flagged entries of the same query."""
    if len(query) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.cumsum(flags) - flags
    starts = np.r_[0, np.flatnonzero(np.diff(query)) + 1]
    offsets = np.repeat(counts[starts], np.diff(np.r_[starts, len(query)]))
    return counts - offsets


def select(
    inputs: RankingInputs,
    candidates: Candidates,
    scores: np.ndarray,
    options: RankOptions,
    histories,
    tail_scores: np.ndarray | None = None,
) -> np.ndarray:
    """(b × k) track rows of each query's final list, best first, −1 padding (see the module docstring).

    Without soundtrack rules to apply, vectorised over all queries: the best k − q, then the best q long-tail
    tracks among the rest (the next best fill in when there are fewer)."""
    b, k = candidates.n_queries, options.k
    places = options.tail_places_for(inputs, histories)
    tail_scores = scores if tail_scores is None else tail_scores
    all_query = candidates.query
    order = _ranked(all_query, scores)  # ties keep the track order of the candidates
    order = order[(scores[order] > 0) | (tail_scores[order] > 0)]
    query, rows = all_query[order], candidates.rows[order]
    main, for_tail = scores[order] > 0, (tail_scores[order] > 0) & inputs.is_tail[rows]
    # the long-tail candidates of each query in the order of their own score, as positions in ``order``
    position = np.full(len(all_query), -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    tail_order = position[_ranked(all_query, tail_scores)]
    tail_order = tail_order[tail_order >= 0]
    tail_order = tail_order[for_tail[tail_order]]
    out = np.full((b, k), -1, dtype=np.int64)
    if options.per_soundtrack > 0 and bool((inputs.soundtrack_codes >= 0).any()):
        starts = np.searchsorted(query, np.arange(b + 1))
        tail_starts = np.searchsorted(query[tail_order], np.arange(b + 1))
        for i, history in enumerate(histories):
            own = slice(starts[i], starts[i + 1])
            tails = rows[tail_order[tail_starts[i] : tail_starts[i + 1]]]
            picked = _pick(inputs, rows[own][main[own]], tails, options, history, int(places[i]))
            out[i, : len(picked)] = picked
        return out
    q = places[query]
    rank = _within(query, main)
    head = main & (rank < k - q)
    out[query[head], rank[head]] = rows[head]
    tail = np.zeros(len(rows), dtype=bool)
    tail_rank = np.zeros(len(rows), dtype=np.int64)
    for_places = tail_order[~head[tail_order] & (q[tail_order] > 0)]
    tail_rank[for_places] = _within(query[for_places], np.ones(len(for_places), dtype=bool))
    tail[for_places] = True
    chosen = tail & (tail_rank < q)
    found = np.bincount(query[chosen], minlength=b)
    filler = main & ~head & ~chosen & (q > 0)
    fill_rank = _within(query, filler)
    fill = filler & (fill_rank < q - found[query])
    out[query[chosen], k - q[chosen] + tail_rank[chosen]] = rows[chosen]
    out[query[fill], k - q[fill] + found[query[fill]] + fill_rank[fill]] = rows[fill]
    return _themes_last(inputs, out, histories) if inputs.is_theme.any() else out


def _themes_last(inputs: RankingInputs, out: np.ndarray, histories) -> np.ndarray:
    """Vectorised :func:`_themes_after_deep_cuts` for a (b × k) block of lists: a pick that is the theme of a
    soundtrack its query loves moves just behind the last pick of the same soundtrack."""
    b, k = out.shape
    valid = out >= 0
    codes = np.where(valid, inputs.soundtrack_codes[np.maximum(out, 0)], -1)
    own_query = np.repeat(np.arange(b), [len(h) for h in histories])
    own_codes = inputs.soundtrack_codes[np.concatenate(histories)] if histories else np.zeros(0, dtype=np.int64)
    width = int(max(inputs.soundtrack_codes.max(), 0)) + 1
    loved_keys = np.unique(own_query[own_codes >= 0] * width + own_codes[own_codes >= 0])
    loved = np.isin(np.arange(b)[:, None] * width + codes, loved_keys) & (codes >= 0)
    theme = loved & inputs.is_theme[np.maximum(out, 0)] & valid
    if not theme.any():
        return out
    same = (codes[:, :, None] == codes[:, None, :]) & (codes[:, :, None] >= 0)  # (b × k × k)
    last_same = np.where(same, np.arange(k)[None, None, :], -1).max(axis=2)
    key = np.where(theme & (last_same > np.arange(k)), last_same + 0.5, np.arange(k, dtype=np.float64))
    return np.take_along_axis(out, np.argsort(key, axis=1, kind="stable"), axis=1)


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
    histories = [np.unique(np.asarray(history, dtype=np.int64))]
    candidates = retrieve_one(inputs, histories[0], user_row, options)
    parts = scaled_parts(candidates, options.weights, options.tail_weights)
    blended, scores = score(inputs, candidates, parts, options)
    tails = tail_score(inputs, candidates, parts, options)
    selected = select(inputs, candidates, scores, options, histories, tails)
    rows, positions = selected[0], candidates.positions(selected, inputs.n_items)[0]
    picks = []
    for row, j in zip(rows[rows >= 0], positions[rows >= 0]):
        why, seed = explain(model, parts, options.weights, int(row), j, histories[0], user_row is not None)
        picks.append(
            Recommendation(
                track_id=model.track_ids[row],
                title=model.titles[row],
                artist=model.artists[row],
                soundtrack=model.soundtracks[row],
                score=float(scores[j]),
                similarity=float(blended[j]),
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
    inputs: RankingInputs, histories: list[np.ndarray], user_rows: np.ndarray, options: RankOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k for a block of known listeners at once: (items (b × k) with −1 padding, scores (b × k)).

    ``histories[i]``: listener i's tracks; ``user_rows``: their rows in ``inputs.user_factors``. The same
    scoring and rules as :func:`rank`, computed as matrix products over the block.
    """
    candidates = retrieve_users(inputs, histories, np.asarray(user_rows), options)
    parts = scaled_parts(candidates, options.weights, options.tail_weights)
    _, scores = score(inputs, candidates, parts, options)
    items = select(inputs, candidates, scores, options, histories, tail_score(inputs, candidates, parts, options))
    positions = candidates.positions(items, inputs.n_items)
    values = np.where(items >= 0, scores[np.maximum(positions, 0)], -np.inf).astype(np.float32)
    return items, values
