"""Kin: how much of a query is by a track's artist, or from its album (soundtrack).

    kin_artist(q, j) = |{i ∈ h_q : artist(i) = artist(j)}| / |h_q|     (kin_album likewise; NaN where j's is unknown)
                       (h_q with the tracks of a history the model links only to an artist or album)
    kin(q, j)        = max(kin_artist(q, j), kin_album(q, j))

A query's kin is a handful of (code, share) pairs per kind (:func:`shares_of`). Retrieval wants each query's
``pool`` tracks of highest kin (equal kin: the less played first, then the smaller row) and expands the members of
only the codes that can hold them: codes by decreasing share, down to the share level at which the allowed
members reach twice the pool, every code of that level included. A track left out then has kin below every
track taken, so the pool is exact; a query whose expanded codes still hold fewer than ``pool`` allowed tracks
expands all of its codes. So a listener of a prolific artist does not list every track of that artist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gems.rank.inputs import Queries, RankingInputs
from gems.rank.keys import allowed, csr_positions, sorted_unique, strongest


@dataclass(frozen=True)
class Shares:
    """One kind's shares for b queries: ``keys`` q · width + code (sorted), ``values`` the shares (float32)."""

    keys: np.ndarray
    values: np.ndarray
    width: int

    def of(self, query: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """The share of each (query, code) pair: 0 where the query has none of that code, NaN for code −1."""
        out = np.zeros(len(query), dtype=np.float32)
        known = codes >= 0
        if len(self.keys):
            wanted = query[known] * self.width + codes[known]
            at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
            hit = self.keys[at] == wanted
            found = np.zeros(int(known.sum()), dtype=np.float32)
            found[hit] = self.values[at[hit]]
            out[known] = found
        out[~known] = np.nan
        return out


def shares_of(inputs: RankingInputs, queries: Queries) -> dict[str, Shares]:
    """Each kin kind's shares of b queries: of their tracks, and of the tracks a history links only to an artist
    or album (:class:`gems.rank.Queries`' coarse links, which count in the size too)."""
    histories = queries.histories
    sizes = queries.kin_sizes()
    rows = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
    query = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    out = {}
    for name, codes in inputs.kin_codes.items():
        width = int(codes.max()) + 1
        linked, more = queries.coarse_pairs(name)
        at, code = np.r_[query, linked], np.r_[np.asarray(codes)[rows], more]
        keys, counts = np.unique(at[code >= 0] * width + code[code >= 0], return_counts=True)
        out[name] = Shares(keys, (counts / sizes[keys // width]).astype(np.float32), width)
    return out


def kin_values(inputs: RankingInputs, shares: dict[str, Shares], query: np.ndarray, rows: np.ndarray) -> dict:
    """kin_<kind> (NaN where the track's code is unknown) and kin (their max) of each (query, row) entry."""
    out = {f"kin_{name}": s.of(query, np.asarray(inputs.kin_codes[name])[rows]) for name, s in shares.items()}
    if out:
        out["kin"] = np.fmax.reduce(list(out.values()))  # NaN only where the track has neither code
    return out


def kin_pool(inputs: RankingInputs, shares: dict[str, Shares], own_keys, excluded, pool: int) -> np.ndarray:
    """Keys (q · n + row, sorted) of each query's ``pool`` tracks of highest kin, never its own nor excluded
    ones (see the module docstring for which codes are expanded)."""
    n = inputs.n_items
    pairs = _pairs(inputs, shares, excluded)
    if pairs is None:
        return np.zeros(0, dtype=np.int64)
    query, name, code, share, room = pairs
    take = _levels(query, share, room, 2 * pool)
    keys = expand(inputs, query[take], name[take], code[take])
    keys = sorted_unique(keys[allowed(keys, own_keys, excluded, n)])
    found = np.bincount(keys // n, minlength=int(query.max()) + 1)
    short = np.isin(query, np.flatnonzero(found < pool)) & ~take
    if short.any():  # the twice-the-pool guess was not enough for these queries: every code of theirs
        more = expand(inputs, query[short], name[short], code[short])
        keys = sorted_unique(np.r_[keys, more[allowed(more, own_keys, excluded, n)]])
    values = kin_values(inputs, shares, keys // n, keys % n)["kin"]
    return strongest(inputs, keys, values, pool, tie_break=True)


def _pairs(inputs: RankingInputs, shares: dict[str, Shares], excluded: np.ndarray):
    """Every (query, kind, code, share, allowed members) of the queries' shares, sorted by query then share
    descending; None when there is none. Allowed members: the code's tracks outside the scope's exclusion
    (a query's own tracks are counted too: an upper bound, refined after expanding)."""
    parts = []
    for index, (name, s) in enumerate(shares.items()):
        if not len(s.keys):
            continue
        codes = np.asarray(inputs.kin_codes[name])
        members = np.bincount(codes[(codes >= 0) & ~excluded], minlength=s.width)
        code = s.keys % s.width
        parts.append((s.keys // s.width, np.full(len(code), index), code, s.values, members[code]))
    if not parts:
        return None
    query, name, code, share, room = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((name, code, -share, query))
    return query[order], name[order], code[order], share[order], room[order]


def _levels(query: np.ndarray, share: np.ndarray, room: np.ndarray, enough: int) -> np.ndarray:
    """(pairs,) bool: each query's pairs down to the share level at which their cumulative room reaches
    ``enough``, every pair of that level included; all of a query's pairs when it never does. Pairs sorted by
    query, then share descending."""
    index = np.arange(len(query))
    new_query = np.r_[True, query[1:] != query[:-1]]
    start = np.flatnonzero(new_query)
    group = np.cumsum(new_query) - 1
    total = np.cumsum(room)
    before = total - room - np.r_[0, total][start[group]]  # room of the query's earlier pairs
    first_full = np.minimum.reduceat(np.where(before >= enough, index, len(query)), start)[group]
    level = np.where(first_full < len(query), share[np.maximum(first_full - 1, 0)], -np.inf)
    return (index < first_full) | (share >= level)


def expand(inputs: RankingInputs, query: np.ndarray, name, code: np.ndarray) -> np.ndarray:
    """Keys q · n + row of every member track of each (query, kind, code) pair; ``name``: the kinds' indices in
    ``inputs.kin_codes`` (an array), or one kind's name for every pair."""
    n, out = inputs.n_items, [np.zeros(0, dtype=np.int64)]
    for index, kind in enumerate(inputs.kin_codes):
        mine = name == index if not isinstance(name, str) else np.full(len(query), name == kind)
        members, bounds = inputs.kin_members[kind]
        offsets, lengths = csr_positions(bounds, code[mine])
        out.append(np.repeat(query[mine], lengths) * n + members[offsets])
    return np.concatenate(out)
