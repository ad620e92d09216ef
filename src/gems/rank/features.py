"""What the learned second stage knows of each candidate: its evidence, and what makes that evidence believable
where the tail is thin.

Per candidate j of query q (NaN where j cannot take a kind), L = training listeners, h = q's tracks:

- taste (ALS): the preference v_j · u_q raw, scaled per query (÷ the query's largest) and ranked among q's
  candidates; ``cf_cosine`` = (v_j · u_q / ‖v_j‖) ÷ its largest over q's candidates (the direction of j's
  factors, whatever their length, which is mostly j's popularity); ‖v_j‖.
- co-listening: Σ_{i ∈ h} S[i, j] raw, scaled and ranked; ``near_count`` = |{i ∈ h : j among i's neighbours}|
  (how broad the evidence is); ``near_per_listener`` = Σ_i S[i, j] / max(L_j, 1).
- sound: the cosine with q's mean audio vector raw, scaled and ranked.
- kin: the share of h by j's artist and from j's album; and of j's artist and album in the catalogue, their
  track count (log1p), their listeners (log1p of Σ L over their tracks) and j's share of those listeners — a
  rare track of a small artist the query loves is likelier than one of a large one.
- popularity: log1p(L_j), whether j is long-tail, log1p(L_j) − the mean over h.
- the query: log1p(|h|), its long-tail share and mean log1p(L).
"""

from __future__ import annotations

import numpy as np

from gems.rank.inputs import Queries, RankingInputs, history_means
from gems.rank.retrieve import Candidates
from gems.rank.score import segment
from gems.rank.select import ranked, within

FEATURES = (
    ("cf", "cf"),
    ("cf_scaled", "cf"),
    ("cf_rank", "cf"),
    ("cf_cosine", "cf"),
    ("factor_norm", "cf"),
    ("near", "near"),
    ("near_scaled", "near"),
    ("near_rank", "near"),
    ("near_count", "near"),
    ("near_per_listener", "near"),
    ("audio", "audio"),
    ("audio_scaled", "audio"),
    ("audio_rank", "audio"),
    ("kin_artist", "kin"),
    ("kin_album", "kin"),
    ("artist_tracks", "popularity"),
    ("artist_listeners", "popularity"),
    ("artist_share", "popularity"),
    ("album_tracks", "popularity"),
    ("album_listeners", "popularity"),
    ("album_share", "popularity"),
    ("listeners", "popularity"),
    ("is_tail", "popularity"),
    ("popularity_gap", "popularity"),
    ("history_size", "query"),
    ("history_tail_share", "query"),
    ("history_popularity", "query"),
)
NAMES = tuple(name for name, _ in FEATURES)


def _rank_within(query: np.ndarray, values: np.ndarray) -> np.ndarray:
    """0-based rank of each entry's value (descending) among its query's entries; NaN stays NaN."""
    present = ~np.isnan(values)
    order = ranked(query, np.where(present, values, -np.inf).astype(np.float64))
    out = np.empty(len(values), dtype=np.float32)
    out[order] = within(query[order], np.ones(len(order), dtype=bool))
    return np.where(present, out, np.nan).astype(np.float32)


def _per_query_max_scaled(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """values ÷ the largest of their query's (NaN stays NaN; a query whose largest is ≤ 0 gets 0)."""
    present = ~np.isnan(values)
    top = segment(np.maximum, np.where(present, values, -np.inf).astype(np.float32), indptr, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(top > 0, values / top, 0.0)
    return np.where(present, out, np.nan).astype(np.float32)


def _group_columns(inputs: RankingInputs, name: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """``<name>_tracks``, ``<name>_listeners``, ``<name>_share`` of the artist or album (``name``) of each row."""
    nan = np.full(len(rows), np.nan, dtype=np.float32)
    if name not in inputs.kin_codes:
        return {f"{name}_tracks": nan, f"{name}_listeners": nan, f"{name}_share": nan}
    codes = np.asarray(inputs.kin_codes[name])
    _, bounds = inputs.kin_members[name]
    known = codes >= 0
    listeners = np.asarray(inputs.listeners, dtype=np.float64)
    total = np.bincount(codes[known], weights=listeners[known], minlength=len(bounds) - 1)
    code = codes[rows]
    at = np.maximum(code, 0)
    return {
        f"{name}_tracks": np.where(code >= 0, np.log1p(np.diff(bounds)[at]), np.nan),
        f"{name}_listeners": np.where(code >= 0, np.log1p(total[at]), np.nan),
        f"{name}_share": np.where(code >= 0, listeners[rows] / np.maximum(total[at], 1.0), np.nan),
    }


def features(inputs: RankingInputs, queries: Queries, candidates: Candidates, parts: dict) -> np.ndarray:
    """(nnz × len(FEATURES)) float32 features of every candidate entry (the module docstring)."""
    query, rows = candidates.query, candidates.rows
    nan = np.full(len(rows), np.nan, dtype=np.float32)
    listeners = np.asarray(inputs.listeners, dtype=np.float64)
    log_listeners = np.log1p(listeners)
    history_popularity = history_means(queries.histories, log_listeners)
    history_tail = history_means(queries.histories, inputs.is_tail)
    history_size = np.log1p([len(h) for h in queries.histories])
    columns: dict[str, np.ndarray] = {}
    for kind in ("cf", "near", "audio"):
        raw = candidates.evidence.get(kind)
        if raw is None:
            columns[kind] = columns[f"{kind}_scaled"] = columns[f"{kind}_rank"] = nan
            continue
        columns[kind] = raw
        columns[f"{kind}_scaled"] = np.where(np.isnan(raw), np.nan, parts[kind])
        columns[f"{kind}_rank"] = _rank_within(query, raw)
    heard = inputs.heard[rows]
    if inputs.item_factors is not None and "cf" in candidates.evidence:
        norms = np.where(heard, inputs.factor_norms[rows], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            direction = np.where(norms > 0, candidates.evidence["cf"] / norms, np.nan)
        columns["factor_norm"], columns["cf_cosine"] = norms, _per_query_max_scaled(direction, candidates.indptr)
    else:
        columns["factor_norm"] = columns["cf_cosine"] = nan
    if inputs.neighbours is not None and "near" in candidates.evidence:
        columns["near_count"] = candidates.evidence["near_count"]
        columns["near_per_listener"] = candidates.evidence["near"] / np.maximum(listeners[rows], 1.0)
    else:
        columns["near_count"] = columns["near_per_listener"] = nan
    for name in ("artist", "album"):
        columns[f"kin_{name}"] = candidates.evidence.get(f"kin_{name}", nan)
        columns.update(_group_columns(inputs, name, rows))
    columns["listeners"] = log_listeners[rows]
    columns["is_tail"] = inputs.is_tail[rows]
    columns["popularity_gap"] = log_listeners[rows] - history_popularity[query]
    columns["history_size"] = history_size[query]
    columns["history_tail_share"] = history_tail[query]
    columns["history_popularity"] = history_popularity[query]
    return np.ascontiguousarray(np.stack([np.asarray(columns[name], dtype=np.float32) for name in NAMES], axis=1))
