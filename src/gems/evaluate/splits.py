"""Train / held-out splits for offline evaluation. Every split is seeded: the same listens and seed give the
same split, whatever the order of the listens' rows.

Each split holds items out for two disjoint sets of users: **validation** (tune parameters here) and **test**
(report here). Users not drawn for either train on all their listens. Held-out (user, track) pairs leave
the training listens entirely (all their events); then, as an independent evaluator does it, relevant items
absent from TRAIN are left out of the truth, and users left with no truth are dropped (both counted in
``Split.counts``).

Protocols
---------
random_holdout
    Users with ≥ ``min_items`` distinct items are eligible; a seeded permutation of half of them gives the
    validation users (``validation_share`` of that half, at most ``max_users``) and the test users (the rest,
    at most ``max_users``). The other half trains on all its listens (what a learned second stage may learn
    from). Each drawn user hides ``max(1, round(fraction · n))`` of their n distinct items at random, never all.
temporal_holdout
    As random_holdout, but each drawn user hides the *last* ``fraction`` of their distinct items ordered by
    first-listen time (ties broken at random, seeded). Chosen over a global time cut because a global cut
    only evaluates users active on both sides of it and, on sparse logs like Last.fm's, leaves most users
    with nothing to predict; per-user cuts evaluate every eligible user on their own future. The price: the
    training data holds other users' listens from after a user's cut (a mild leak, usual in the literature);
    report it as such. Users with any untimed listen are not eligible; no timestamps at all → DataError.
playlist_continuation
    RecSys Challenge 2018 style. Playlists (users) with ≥ ``n_seeds + 1`` distinct tracks are eligible;
    seeded draws give ``n_validation`` and ``n_test`` of them (fewer when data is small: at most half of all
    playlists are held out, shared in the same proportion). A drawn playlist keeps its first ``n_seeds``
    distinct tracks for training (order: ``position`` when present, else ``timestamp``, else row order) and
    hides the rest; all other playlists train whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gems.errors import DataError, ParameterError
from gems.evaluate.data import TrainData, require_columns, train_data

log = logging.getLogger(__name__)

PARTS = ("validation", "test")


@dataclass
class Split:
    """A train / held-out split.

    train: TrainData of the training listens (built once). train_listens: those listens (canonical table).
    validation_users / test_users: rows into ``train.user_items``; *_truth: per user, the held-out item rows
    (sorted, all in TRAIN, never among the user's training items).
    """

    protocol: str
    params: dict
    train: TrainData
    train_listens: pd.DataFrame
    validation_users: np.ndarray
    validation_truth: list[np.ndarray]
    test_users: np.ndarray
    test_truth: list[np.ndarray]
    counts: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.params.get("seed", 0))

    def part(self, name: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """(user rows, truth) of ``validation`` or ``test``."""
        if name not in PARTS:
            raise ParameterError(f"unknown split part '{name}'; choose validation or test")
        validation = name == "validation"
        return (self.validation_users, self.validation_truth) if validation else (self.test_users, self.test_truth)

    def describe(self) -> str:
        """One paragraph a person reads: protocol, parameters and counts."""
        c = self.counts
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return (
            f"{self.protocol} ({params}). Training: {c.get('train_users', 0):,} users × "
            f"{c.get('train_items', 0):,} items, {c.get('train_pairs', 0):,} user–item pairs "
            f"({c.get('train_tail_items', 0):,} items in the long tail). "
            f"Eligible users: {c.get('eligible_users', 0):,}. "
            + " ".join(
                f"{part.capitalize()}: {c.get(f'{part}_users', 0):,} users evaluated "
                f"({c.get(f'{part}_users_dropped_no_truth', 0):,} dropped with no truth left), "
                f"{c.get(f'{part}_truth_items', 0):,} held-out items kept "
                f"({c.get(f'{part}_truth_tail_items', 0):,} in the tail), "
                f"{c.get(f'{part}_truth_items_absent_from_train', 0):,} left out as absent from TRAIN."
                for part in PARTS
            )
        )


# ---------------------------------------------------------------------------------------------- helpers


@dataclass
class _Pairs:
    """Distinct (user, track) pairs of a listens table, sorted by user then by first occurrence."""

    user_ids: np.ndarray  # sorted unique user ids
    u: np.ndarray  # user code per pair
    pair_of_row: np.ndarray  # pair index of every listens row
    first_row: np.ndarray  # first row of each pair
    first_time: np.ndarray | None  # int64 ns of the pair's first listen, or None
    time_known: np.ndarray | None  # bool per pair
    first_pos: np.ndarray | None  # min position per pair


def _pairs(listens: pd.DataFrame) -> _Pairs:
    users = listens["user_id"].astype(str).to_numpy()
    tracks = listens["track_id"].astype(str).to_numpy()
    user_ids, ucode = np.unique(users, return_inverse=True)
    _, tcode = np.unique(tracks, return_inverse=True)
    n_tracks = int(tcode.max()) + 1 if len(tcode) else 1
    key = ucode.astype(np.int64) * n_tracks + tcode.astype(np.int64)
    keys, pair_of_row = np.unique(key, return_inverse=True)
    n_pairs = len(keys)
    rows = np.arange(len(listens))
    first_row = np.full(n_pairs, len(listens), dtype=np.int64)
    np.minimum.at(first_row, pair_of_row, rows)
    first_time = time_known = first_pos = None
    if "timestamp" in listens:
        ts = pd.to_datetime(listens["timestamp"], utc=True)
        known = ts.notna().to_numpy()
        raw = ts.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
        ns = np.where(known, raw, np.iinfo(np.int64).max)
        first_time = np.full(n_pairs, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_time, pair_of_row, ns)
        time_known = first_time != np.iinfo(np.int64).max
    if "position" in listens and listens["position"].notna().all():
        pos = listens["position"].to_numpy(np.int64)
        first_pos = np.full(n_pairs, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_pos, pair_of_row, pos)
    return _Pairs(
        user_ids=user_ids,
        u=(keys // n_tracks).astype(np.int64),
        pair_of_row=pair_of_row,
        first_row=first_row,
        first_time=first_time,
        time_known=time_known,
        first_pos=first_pos,
    )


def _rank_within_user(u: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """0-based rank of every pair within its user, ordered by ``keys`` (first key most significant)."""
    order = np.lexsort(tuple(reversed(keys)) + (u,))
    sorted_u = u[order]
    starts = np.flatnonzero(np.r_[True, sorted_u[1:] != sorted_u[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty(len(u), dtype=np.int64)
    rank[order] = np.arange(len(order)) - group_start
    return rank


def _draw_users(eligible: np.ndarray, rng: np.random.Generator, n_validation: int, n_test: int):
    perm = rng.permutation(eligible)
    return np.sort(perm[:n_validation]), np.sort(perm[n_validation : n_validation + n_test])


def _check_fraction(fraction: float, min_items: int, max_users: int, validation_share: float) -> None:
    if not 0 < fraction < 1:
        raise ParameterError(f"holdout fraction must be in (0, 1), got {fraction}")
    if min_items < 2:
        raise ParameterError(f"min_items must be ≥ 2 so a user keeps something to train on, got {min_items}")
    if max_users < 1:
        raise ParameterError(f"max_users must be ≥ 1, got {max_users}")
    if not 0 < validation_share < 1:
        raise ParameterError(f"validation_share must be in (0, 1), got {validation_share}")


def _holdout_sizes(n_eligible: int, max_users: int, validation_share: float) -> tuple[int, int]:
    """(validation, test) users drawn from half of the eligible ones."""
    drawn = max(n_eligible // 2, min(n_eligible, 2))
    n_val = min(max_users, int(np.floor(drawn * validation_share)))
    if drawn >= 2:
        n_val = max(n_val, 1)
    n_test = min(max_users, drawn - n_val)
    return n_val, n_test


def _finish(
    protocol: str,
    params: dict,
    listens: pd.DataFrame,
    pairs: _Pairs,
    held_pair: np.ndarray,
    val_codes: np.ndarray,
    test_codes: np.ndarray,
    eligible: int,
    items: pd.DataFrame | None,
    audio,
) -> Split:
    held_row = held_pair[pairs.pair_of_row]
    train_listens = listens.loc[~held_row].reset_index(drop=True)
    train = train_data(train_listens, items=items, audio=audio)
    held_tracks = listens["track_id"].astype(str).to_numpy()[held_row]
    held_users = pairs.u[pairs.pair_of_row[held_row]]
    held_frame = pd.DataFrame({"u": held_users, "track": held_tracks}).drop_duplicates()
    item_rows = train.item_rows(held_frame["track"].to_numpy())
    held_frame["item"] = item_rows
    counts = {
        "listens": int(len(listens)),
        "train_listens": int(len(train_listens)),
        "train_users": train.n_users,
        "train_items": train.n_items,
        "train_pairs": int(train.user_items.nnz),
        "train_tail_items": int(train.is_tail.sum()),
        "eligible_users": int(eligible),
    }
    parts = {}
    for name, codes in (("validation", val_codes), ("test", test_codes)):
        frame = held_frame[held_frame["u"].isin(codes)]
        kept = frame[frame["item"] >= 0]
        grouped = {u: np.sort(g.to_numpy(np.int64)) for u, g in kept.groupby("u", sort=True)["item"]}
        users = np.array([u for u in codes if u in grouped], dtype=np.int64)
        truth = [grouped[u] for u in users]
        user_rows = train.user_rows(pairs.user_ids[users])
        if (user_rows < 0).any():  # cannot happen: a drawn user always keeps ≥ 1 training item
            raise DataError(f"{protocol}: a held-out user lost every training listen; this is a bug")
        n_truth = int(sum(len(t) for t in truth))
        n_tail = int(sum(int(train.is_tail[t].sum()) for t in truth))
        counts.update(
            {
                f"{name}_users_drawn": int(len(codes)),
                f"{name}_users": int(len(users)),
                f"{name}_users_dropped_no_truth": int(len(codes) - len(users)),
                f"{name}_truth_items": n_truth,
                f"{name}_truth_tail_items": n_tail,
                f"{name}_truth_items_absent_from_train": int(len(frame) - len(kept)),
            }
        )
        parts[name] = (user_rows, truth)
    log.info(
        "%s split: %d train users × %d items; %d validation and %d test users evaluated",
        protocol,
        train.n_users,
        train.n_items,
        counts["validation_users"],
        counts["test_users"],
    )
    return Split(
        protocol=protocol,
        params=params,
        train=train,
        train_listens=train_listens,
        validation_users=parts["validation"][0],
        validation_truth=parts["validation"][1],
        test_users=parts["test"][0],
        test_truth=parts["test"][1],
        counts=counts,
    )


def _start(listens: pd.DataFrame) -> _Pairs:
    require_columns(listens, ("user_id", "track_id"), "listens")
    if len(listens) == 0:
        raise DataError("the listens table is empty; nothing to split")
    return _pairs(listens.reset_index(drop=True))


# ---------------------------------------------------------------------------------------------- protocols


def random_holdout(
    listens: pd.DataFrame,
    *,
    fraction: float = 0.2,
    min_items: int = 5,
    max_users: int = 2000,
    validation_share: float = 0.5,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    audio=None,
) -> Split:
    """Hide a random ``fraction`` of the distinct items of drawn users (see the module docstring)."""
    _check_fraction(fraction, min_items, max_users, validation_share)
    listens = listens.reset_index(drop=True)
    pairs = _start(listens)
    rng = np.random.default_rng(seed)
    n_per_user = np.bincount(pairs.u, minlength=len(pairs.user_ids))
    eligible = np.flatnonzero(n_per_user >= min_items)
    n_val, n_test = _holdout_sizes(len(eligible), max_users, validation_share)
    val, test = _draw_users(eligible, rng, n_val, n_test)
    key = rng.random(len(pairs.u))
    rank = _rank_within_user(pairs.u, key)
    n_hold = _n_hold(n_per_user, fraction)
    drawn = np.zeros(len(pairs.user_ids), dtype=bool)
    drawn[val] = drawn[test] = True
    held = drawn[pairs.u] & (rank < n_hold[pairs.u])
    params = {
        "fraction": fraction,
        "min_items": min_items,
        "max_users": max_users,
        "validation_share": validation_share,
        "seed": seed,
    }
    return _finish("random_holdout", params, listens, pairs, held, val, test, len(eligible), items, audio)


def _n_hold(n_per_user: np.ndarray, fraction: float) -> np.ndarray:
    n = np.floor(fraction * n_per_user + 0.5).astype(np.int64)
    return np.clip(n, 1, np.maximum(n_per_user - 1, 1))


def temporal_holdout(
    listens: pd.DataFrame,
    *,
    fraction: float = 0.2,
    min_items: int = 5,
    max_users: int = 2000,
    validation_share: float = 0.5,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    audio=None,
) -> Split:
    """Hide the last ``fraction`` of drawn users' distinct items by first-listen time (see the module docstring)."""
    _check_fraction(fraction, min_items, max_users, validation_share)
    listens = listens.reset_index(drop=True)
    pairs = _start(listens)
    if pairs.time_known is None or not pairs.time_known.any():
        raise DataError(
            "temporal_holdout needs listening times, but the listens have no timestamps "
            "(the 'timestamp' column is missing or empty); use random_holdout or playlist_continuation instead"
        )
    rng = np.random.default_rng(seed)
    n_users = len(pairs.user_ids)
    n_per_user = np.bincount(pairs.u, minlength=n_users)
    untimed = np.bincount(pairs.u, weights=~pairs.time_known, minlength=n_users) > 0
    eligible = np.flatnonzero((n_per_user >= min_items) & ~untimed)
    if len(eligible) == 0:
        raise DataError(
            f"temporal_holdout: no user has ≥ {min_items} distinct items that all carry a timestamp; "
            "lower min_items or use random_holdout"
        )
    n_val, n_test = _holdout_sizes(len(eligible), max_users, validation_share)
    val, test = _draw_users(eligible, rng, n_val, n_test)
    tiebreak = rng.random(len(pairs.u))
    rank_from_end = _rank_within_user(pairs.u, -pairs.first_time, -tiebreak)
    n_hold = _n_hold(n_per_user, fraction)
    drawn = np.zeros(n_users, dtype=bool)
    drawn[val] = drawn[test] = True
    held = drawn[pairs.u] & (rank_from_end < n_hold[pairs.u])
    params = {
        "fraction": fraction,
        "min_items": min_items,
        "max_users": max_users,
        "validation_share": validation_share,
        "seed": seed,
        "cut": "per user, by first-listen time",
    }
    return _finish("temporal_holdout", params, listens, pairs, held, val, test, len(eligible), items, audio)


def playlist_continuation(
    listens: pd.DataFrame,
    *,
    n_seeds: int = 10,
    n_validation: int = 500,
    n_test: int = 500,
    seed: int = 0,
    items: pd.DataFrame | None = None,
    audio=None,
) -> Split:
    """Keep the first ``n_seeds`` tracks of drawn playlists, hide the rest (see the module docstring)."""
    if n_seeds < 1:
        raise ParameterError(f"n_seeds must be ≥ 1, got {n_seeds}")
    if n_validation < 1 or n_test < 1:
        raise ParameterError(f"n_validation and n_test must be ≥ 1, got {n_validation} and {n_test}")
    listens = listens.reset_index(drop=True)
    pairs = _start(listens)
    if pairs.first_pos is not None:
        order_by, first = "position", pairs.first_pos
    elif pairs.time_known is not None and pairs.time_known.all():
        order_by, first = "timestamp", pairs.first_time
    else:
        order_by, first = "row order", pairs.first_row
    rank = _rank_within_user(pairs.u, first, pairs.first_row)
    n_users = len(pairs.user_ids)
    n_per_user = np.bincount(pairs.u, minlength=n_users)
    eligible = np.flatnonzero(n_per_user >= n_seeds + 1)
    wanted = n_validation + n_test
    total = min(wanted, len(eligible), n_users // 2)
    n_val = int(round(total * n_validation / wanted))
    if total >= 2:
        n_val = min(max(n_val, 1), total - 1)
    if total < wanted:
        log.info("playlist_continuation: only %d playlists can be held out (asked for %d)", total, wanted)
    rng = np.random.default_rng(seed)
    val, test = _draw_users(eligible, rng, n_val, total - n_val)
    drawn = np.zeros(n_users, dtype=bool)
    drawn[val] = drawn[test] = True
    held = drawn[pairs.u] & (rank >= n_seeds)
    params = {"n_seeds": n_seeds, "n_validation": n_validation, "n_test": n_test, "seed": seed, "order": order_by}
    return _finish("playlist_continuation", params, listens, pairs, held, val, test, len(eligible), items, audio)
