"""Retrieval: for a block of queries, the candidate tracks and every kind of evidence on them.

Candidates are the union of each kind's best: by taste (ALS: the listener's factors · track factors, top
``pool`` by :func:`gems.topk.top_k`), co-listening (Σ_{i ∈ history} S[i, j], S the item-kNN similarity), kin
(the share of the history by the track's artist, or from its album/soundtrack — its tracks the model holds and
those it links only to an artist or album; ties: the less played first)
and sound (cosine of the track's audio embedding with the mean of the history's), and for a query that asks for
sound words, the tracks whose tags match them best (:mod:`gems.rank.words`). Then every kind is computed
exactly on every candidate, however it was found. A query's own tracks and tracks outside the scope are never
candidates; with ``deep_cuts`` the candidates are exactly the non-theme tracks of the soundtracks it loves.

One code path for one query and for ten thousand: a single ``gems recommend`` is a block of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gems.errors import ParameterError
from gems.rank.inputs import Queries, RankingInputs
from gems.rank.keys import allowed, lookup, own_keys, row_sums, row_sums_product, sorted_unique, strongest
from gems.rank.kin import expand, kin_pool, kin_values, shares_of
from gems.rank.options import RankOptions
from gems.rank.words import matches, word_keys
from gems.topk import top_k

INDEX_FROM = 50_000  # audio vectors from which retrieval searches the faiss index instead of scanning them
TASTE_MARGIN = 16  # taste candidates retrieved beyond the pool, then cut by exact scores (see _taste_keys)


def pool_sizes(k: int) -> dict[str, int]:
    """How many candidates each kind retrieves per query; the union is scored exactly. (On MPD validation,
    top 50: pools of 75, 100 and 150 per kind give NDCG@50 0.204, 0.203 and 0.203, tail recall 0.073 each.)"""
    return {kind: max(100, 2 * k) for kind in ("cf", "near", "audio", "kin", "words")}


@dataclass
class Candidates:
    """The tracks retrieved for b queries and the evidence on them, flat: query i owns the entries
    ``indptr[i]:indptr[i + 1]`` (track rows ascending) — a CSR layout. ``keys``: query · n + row, sorted.

    ``evidence[kind]`` (nnz,) float32 for the kinds the inputs have: cf (ALS preference), near (co-listening),
    audio (cosine), kin (the larger of kin_artist and kin_album, the history shares), and near_count (how many
    of the query's tracks list the entry among their neighbours, for the learned stage); NaN where a track cannot
    take that kind (no listens, no audio, no known artist or album) or the query has nothing to compare with.
    ``evidence["words"]``, when a query asks for words: each entry's match (1 for a query without words)."""

    indptr: np.ndarray
    rows: np.ndarray
    keys: np.ndarray
    evidence: dict[str, np.ndarray]

    @property
    def n_queries(self) -> int:
        return len(self.indptr) - 1

    @property
    def query(self) -> np.ndarray:
        """The query of each entry, (nnz,)."""
        return np.repeat(np.arange(self.n_queries), np.diff(self.indptr))

    def positions(self, items: np.ndarray, n: int) -> np.ndarray:
        """The entries of the tracks ``items`` (b × k, −1 padding) among each query's candidates (−1 padding)."""
        query = np.repeat(np.arange(len(items)), items.shape[1]).reshape(items.shape)
        found = np.searchsorted(self.keys, query * n + np.maximum(items, 0))
        return np.where(items >= 0, found, -1)


def _pair_dots(
    read, rows: np.ndarray, queries: np.ndarray, query: np.ndarray, *, file_order: bool, chunk: int = 65536
) -> np.ndarray:
    """read(rows)[e] · queries[query[e]] for every entry e, in chunks (bounded memory), float32. ``read``
    gives the vectors of an array of rows; ``file_order``: they are memory-mapped, so read in ascending order."""
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        if not file_order:
            block = np.asarray(read(rows[part]), dtype=np.float32)
        else:
            order = np.argsort(rows[part])
            block = np.empty((len(order), queries.shape[1]), dtype=np.float32)
            block[order] = read(rows[part][order])
        out[part] = np.einsum("ij,ij->i", block, queries[query[part]])
    return out


def out_of_scope(inputs: RankingInputs, options: RankOptions) -> np.ndarray:
    """(n,) tracks no query may get: outside ``options.scope``."""
    if options.scope == "soundtrack" and inputs.is_soundtrack is not None:
        return ~np.asarray(inputs.is_soundtrack, dtype=bool)
    return np.zeros(inputs.n_items, dtype=bool)


def taste_vectors(inputs: RankingInputs, queries: Queries) -> np.ndarray | None:
    """(b × f) each query's ALS factors: a model listener's own, else folded in from its tracks (zero rows
    for a query without a heard track)."""
    if inputs.item_factors is None:
        return None
    f = inputs.item_factors.shape[1]
    out = np.zeros((len(queries), f), dtype=np.float32)
    known = (queries.user_rows >= 0) & (inputs.user_factors is not None)
    if known.any():
        out[known] = np.asarray(inputs.user_factors[queries.user_rows[known]], dtype=np.float32)
    new = np.flatnonzero(~known)
    if len(new) and inputs.fold is not None:
        heard = [queries.histories[i][inputs.heard[queries.histories[i]]] for i in new]
        weights = [queries.weights[i][inputs.heard[queries.histories[i]]] for i in new]
        out[new] = inputs.fold.user_vectors(heard, weights)
    return out


def audio_profiles(inputs: RankingInputs, queries: Queries) -> np.ndarray | None:
    """(b × d) the mean audio embedding of each query's tracks that have one (NaN rows for a query with none),
    or None when the inputs have no audio."""
    if inputs.audio_position is None:
        return None
    d = inputs.audio_vectors.shape[1]
    out = np.full((len(queries), d), np.nan, dtype=np.float32)
    for i, history in enumerate(queries.histories):
        positions = inputs.audio_position[history]
        positions = np.sort(positions[positions >= 0])
        if len(positions):
            out[i] = np.asarray(inputs.audio_vectors[positions], np.float32).mean(axis=0)
    return out


def _nearest_audio(inputs, profiles, own, excluded, n_pool: int) -> np.ndarray:
    """Keys of each query's ``n_pool`` closest tracks by sound: through the faiss index of the audio space when
    it holds at least INDEX_FROM vectors (exact below 100k vectors, IVF above; see ``gems.index``), else by
    an exact scan. A narrow scope (most of the space excluded) always scans exactly."""
    n = inputs.n_items
    have_rows = np.flatnonzero(inputs.audio_position >= 0)
    have_rows = have_rows[np.argsort(inputs.audio_position[have_rows])]  # in audio order
    live = np.flatnonzero(~np.isnan(profiles[:, 0]))
    if len(live) == 0 or len(have_rows) == 0:
        return np.zeros(0, dtype=np.int64)
    own_count = np.bincount(own // n, minlength=len(profiles))
    blocked_in_space = int(excluded[have_rows].sum())
    found = []
    if inputs.audio_space is not None and len(have_rows) >= INDEX_FROM and blocked_in_space < 4 * n_pool:
        from gems.index import search

        depth = min(len(have_rows), n_pool + blocked_in_space + int(own_count[live].max()))
        positions, _ = search(inputs.audio_space.index, profiles[live] / _row_norms(profiles[live]), depth)
        for query, row_positions in zip(live, positions):
            rows = have_rows[row_positions[row_positions >= 0]]
            keys = query * n + rows
            found.append(keys[allowed(keys, own, excluded, n)][:n_pool])
        return np.concatenate(found)
    vectors = inputs.audio_vectors
    for query in live:
        values = np.asarray(vectors @ profiles[query], dtype=np.float32)
        keys = query * n + have_rows
        values[~allowed(keys, own, excluded, n)] = -np.inf
        finite = np.flatnonzero(np.isfinite(values))
        if len(finite) > n_pool:
            finite = finite[np.lexsort((finite, -values[finite]))[:n_pool]]
        found.append(keys[finite])
    return np.concatenate(found)


def _row_norms(matrix: np.ndarray) -> np.ndarray:
    return np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def _deep_cut_keys(inputs: RankingInputs, queries: Queries, own, excluded) -> np.ndarray:
    """Keys of every non-theme track of the soundtracks each query loves (its own tracks and excluded ones
    left out): with ``deep_cuts`` these are the candidates."""
    n = inputs.n_items
    albums = shares_of(inputs, queries)["album"]
    keys = sorted_unique(expand(inputs, albums.keys // albums.width, "album", albums.keys % albums.width))
    return keys[allowed(keys, own, excluded, n) & ~np.asarray(inputs.is_theme)[keys % n]]


def candidates_for(inputs: RankingInputs, queries: Queries, options: RankOptions) -> Candidates:
    """The candidates of every query and the exact evidence of every kind on them (module docstring)."""
    n, b, pools = inputs.n_items, len(queries), pool_sizes(options.k)
    own = own_keys(queries.histories, n)
    excluded = out_of_scope(inputs, options)
    taste = taste_vectors(inputs, queries)
    profiles = audio_profiles(inputs, queries)
    sparse: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if inputs.neighbours is not None:
        sums = row_sums_product if inputs.batch else row_sums  # the same sums; the product is faster on blocks
        keys, values, counts = sums(inputs.neighbours, own, n)
        keep = allowed(keys, own, excluded, n) & (values > 0)
        sparse["near"] = (keys[keep], values[keep])
        sparse["near_count"] = (keys[keep], counts[keep])
    shares = shares_of(inputs, queries)  # kin: linked tracks and coarse links (artist/album)
    if options.deep_cuts:
        if "album" not in inputs.kin_codes:
            raise ParameterError("--deep-cuts needs a catalogue that knows soundtracks (albums); this one does not")
        keys = _deep_cut_keys(inputs, queries, own, excluded)
        if len(keys) == 0:
            raise ParameterError("--deep-cuts needs seeds (or a history) from soundtracks with other tracks to offer")
    else:
        found = [np.zeros(0, dtype=np.int64)]
        if taste is not None:
            found.append(_taste_keys(inputs, taste, queries.histories, excluded, pools["cf"]))
        if "near" in sparse:
            found.append(strongest(inputs, *sparse["near"], pools["near"], tie_break=False))
        found.append(kin_pool(inputs, shares, own, excluded, pools["kin"]))
        if profiles is not None:
            found.append(_nearest_audio(inputs, profiles, own, excluded, pools["audio"]))
        if queries.worded().any():
            found.append(word_keys(inputs, queries.words, own, excluded, pools["words"]))
        keys = sorted_unique(np.concatenate(found))
    candidates = _evidence(inputs, keys, b, taste, profiles, sparse, shares)
    if queries.worded().any():
        candidates.evidence["words"] = matches(inputs, queries.words, candidates.query, candidates.rows)
    return candidates


def _taste_keys(inputs: RankingInputs, taste: np.ndarray, histories, excluded: np.ndarray, pool: int) -> np.ndarray:
    """Keys of each query's ``pool`` best tracks by taste. The exact top-k computes its scores in blocks whose
    rounding depends on the block's size, so it retrieves TASTE_MARGIN more; they are cut by scores computed
    entry by entry (:func:`_pair_dots`), ties to the smaller row: the same pool alone or in a block."""
    n = inputs.n_items
    live = np.flatnonzero(np.abs(taste).sum(axis=1) > 0)
    if len(live) == 0:
        return np.zeros(0, dtype=np.int64)
    mine = [histories[i] for i in live]
    indptr = np.r_[0, np.cumsum([len(h) for h in mine])].astype(np.int64)
    rows = np.concatenate(mine).astype(np.int64) if mine else np.zeros(0, dtype=np.int64)
    size = min(pool + TASTE_MARGIN, n)
    ids, _ = top_k(inputs.ordered, taste[live], size, indptr, rows, excluded, compiled=inputs.batch)
    ok = ids >= 0
    query, rows = np.repeat(live, ok.sum(axis=1)), ids[ok]
    exact = _pair_dots(inputs.factors_of, rows, taste, query, file_order=not inputs.batch)
    order = np.lexsort((rows, -exact, query))
    first = np.searchsorted(query[order], query[order], side="left")
    keep = order[np.arange(len(order)) - first < pool]
    return np.sort(query[keep] * n + rows[keep])


def _evidence(inputs: RankingInputs, keys: np.ndarray, b: int, taste, profiles, sparse, shares) -> Candidates:
    """Candidates from sorted unique keys, with every kind computed exactly on every entry."""
    n = inputs.n_items
    query, rows = keys // n, keys % n
    indptr = np.searchsorted(query, np.arange(b + 1)).astype(np.int64)
    heard = inputs.heard[rows]
    evidence: dict[str, np.ndarray] = {}
    if taste is not None:
        cf = _pair_dots(inputs.factors_of, rows, taste, query, file_order=not inputs.batch)
        cf[~heard | (np.abs(taste).sum(axis=1) == 0)[query]] = np.nan
        evidence["cf"] = cf
    if "near" in sparse:
        for name in ("near", "near_count"):
            values = lookup(keys, *sparse[name])
            values[~heard] = np.nan
            evidence[name] = values
    evidence.update(kin_values(inputs, shares, query, rows))
    if profiles is not None:
        position = inputs.audio_position[rows]
        audio = np.full(len(keys), np.nan, dtype=np.float32)
        have = (position >= 0) & ~np.isnan(profiles[query, 0])
        vectors, profiles = inputs.audio_vectors, np.nan_to_num(profiles)
        audio[have] = _pair_dots(vectors.__getitem__, position[have], profiles, query[have], file_order=True)
        evidence["audio"] = audio
    return Candidates(indptr, rows.astype(np.int64), keys, evidence)
