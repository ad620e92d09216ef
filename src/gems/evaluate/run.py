"""Run methods on a split and score them; score any system's exported recommendations.

``evaluate`` fits every method once on ``split.train``, asks it for the top max(K) items of the part's users in
batches, checks the lists (shape, item range, no training item, no duplicate), computes every metric of
``gems.evaluate.metrics`` and, when a method named ``reference`` ("ALS") is present, the paired tests of
``gems.evaluate.significance`` on per-user NDCG@K, PSR@K and tail recall@K.

``score_recommendations`` scores exported recommendations against a truth table with popularity and the
head/tail split taken from the training listens. Decisions:

- truth items absent from TRAIN are left out; truth users left with no relevant item are excluded;
- users in the truth without any recommendation count with an empty list (0 on every accuracy metric);
  users with recommendations but no truth are ignored (counted);
- a user's list is ordered by ``rank`` (ascending), duplicates of a track keep their best rank, and only the
  first max(K) rows count; a slot keeps its position even when its track is unusable;
- recommended tracks absent from TRAIN are misses and are left out of the popularity metrics (ARP, APLT,
  novelty: nothing is known of their training popularity) and of coverage and Gini (which are over training
  items); their share is reported as ``unknown_share@K``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gems.errors import DataError, ModelError, ParameterError
from gems.evaluate.data import TrainData, require_columns, train_data
from gems.evaluate.metrics import DEFAULT_KS, hit_matrix, list_metrics
from gems.evaluate.significance import N_RESAMPLES, compare_to_reference
from gems.evaluate.splits import Split
from gems.progress import progress_bar

log = logging.getLogger(__name__)

REFERENCE = "ALS"


@dataclass
class MethodResult:
    """One method's results on one part. ``recs``: (n_users × max K) item rows, −1 padding. Over several seeds
    (:mod:`gems.evaluate.seeds`) ``metrics`` are means over the seeds, ``interval`` their 95% intervals and
    ``per_seed`` each seed's means; both are empty for one seed."""

    name: str
    params: dict
    metrics: dict[str, float]
    n_users: dict[str, int]
    per_user: dict[str, np.ndarray]
    fit_seconds: float
    recommend_seconds: float
    recs: np.ndarray
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)
    per_seed: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def users_per_second(self) -> float:
        return len(self.recs) / self.recommend_seconds if self.recommend_seconds > 0 else float("nan")


@dataclass
class EvaluationResult:
    """Everything a report needs: the split, each method's metrics and timings, the significance tests,
    and the training popularity of the catalogue and of the held-out truth (for plots)."""

    protocol: str
    split_params: dict
    counts: dict
    description: str
    part: str
    ks: tuple[int, ...]
    seed: int
    seeds: tuple[int, ...] = ()
    methods: dict[str, MethodResult] = field(default_factory=dict)
    significance: list[dict] = field(default_factory=list)
    reference: str | None = None
    listeners: np.ndarray | None = None
    truth_listeners: np.ndarray | None = None
    has_soundtracks: bool = False
    depth: int = 0  # list length asked of each method (≥ max K; R-precision uses all of it)

    def table(self) -> pd.DataFrame:
        """Method × metric means (one row per method)."""
        return pd.DataFrame({name: m.metrics for name, m in self.methods.items()}).T


def _method_params(method) -> dict:
    params = getattr(method, "params", None)
    if callable(params):
        try:
            return dict(params())
        except Exception:  # a plug-in's params() must never break an evaluation
            return {}
    return dict(params) if isinstance(params, Mapping) else {}


def check_lists(name: str, items: np.ndarray, users: np.ndarray, k: int, train: TrainData) -> np.ndarray:
    """ModelError (naming the method) unless ``items`` is a valid (len(users) × k) list matrix."""
    items = np.asarray(items)
    if items.shape != (len(users), k):
        raise ModelError(f"method '{name}' returned items of shape {items.shape}; expected {(len(users), k)}")
    items = items.astype(np.int64)
    if items.size and (items.min() < -1 or items.max() >= train.n_items):
        raise ModelError(
            f"method '{name}' returned item rows outside [0, {train.n_items}) (padding must be −1); "
            f"found {items.min()}..{items.max()}"
        )
    sub = train.user_items[users]
    heard = [sub.indices[sub.indptr[r] : sub.indptr[r + 1]] for r in range(len(users))]
    leaked = hit_matrix(items, heard, train.n_items)
    if leaked.any():
        row, col = np.argwhere(leaked)[0]
        raise ModelError(
            f"method '{name}' recommended a training item: user {train.user_ids[users[row]]} got "
            f"{train.item_ids[items[row, col]]} at rank {col + 1}; exclude each user's training items"
        )
    ordered = np.sort(items, axis=1)
    dup = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if dup.any():
        row = int(np.argwhere(dup)[0][0])
        raise ModelError(f"method '{name}' recommended the same item twice to user {train.user_ids[users[row]]}")
    return items


def evaluate(
    split: Split,
    methods: Mapping[str, object],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    part: str = "test",
    show_progress: bool = False,
    batch_size: int = 1000,
    reference: str = REFERENCE,
    n_resamples: int = N_RESAMPLES,
    depth: int | None = None,
) -> EvaluationResult:
    """Fit each method once on ``split.train``, recommend top max(ks) for ``part``'s users, score everything.

    depth: list length asked of each method when longer than max(ks) — only R-precision uses the extra slots
    (it is exact for users with at most ``depth`` relevant items). Batches of ``batch_size`` users."""
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] < 1:
        raise ParameterError(f"ks must be positive cut-offs, got {ks}")
    if batch_size < 1:
        raise ParameterError(f"batch_size must be ≥ 1, got {batch_size}")
    if not methods:
        raise ParameterError("no methods to evaluate")
    users, truth = split.part(part)
    if len(users) == 0:
        raise DataError(
            f"the {part} part of this {split.protocol} split has no user to evaluate "
            f"({split.counts.get('eligible_users', 0)} eligible users, "
            f"{split.counts.get(f'{part}_users_dropped_no_truth', 0)} dropped with no truth in TRAIN); "
            "use more data or a smaller min_items / n_seeds"
        )
    train = split.train
    k_max = max(ks)
    depth = max(k_max, int(depth or 0))
    truth_items = np.concatenate(truth) if truth else np.zeros(0, dtype=np.int64)
    result = EvaluationResult(
        protocol=split.protocol,
        split_params=dict(split.params),
        counts=dict(split.counts),
        description=split.describe(),
        part=part,
        ks=ks,
        seed=split.seed,
        seeds=(split.seed,),
        listeners=train.listeners,
        truth_listeners=train.listeners[truth_items],
        has_soundtracks=train.is_soundtrack is not None,
        depth=depth,
    )
    for key, method in methods.items():
        started = time.perf_counter()
        method.fit(train)
        fit_seconds = time.perf_counter() - started
        recs = np.full((len(users), depth), -1, dtype=np.int64)
        started = time.perf_counter()
        with progress_bar(f"recommend {key}", len(users), show=show_progress) as advance:
            for start in range(0, len(users), batch_size):
                batch = users[start : start + batch_size]
                items, _ = method.recommend(batch, depth)
                recs[start : start + len(batch)] = check_lists(key, items, batch, depth, train)
                advance(len(batch))
        recommend_seconds = time.perf_counter() - started
        scored = list_metrics(
            recs,
            truth,
            listeners=train.listeners,
            is_tail=train.is_tail,
            n_train_users=train.n_users,
            ks=ks,
            is_soundtrack=train.is_soundtrack,
        )
        log.info(
            "%s: fit %.2fs, recommend %.2fs, NDCG@%d %.4f",
            key,
            fit_seconds,
            recommend_seconds,
            k_max,
            scored.means[f"ndcg@{k_max}"],
        )
        result.methods[key] = MethodResult(
            name=key,
            params=_method_params(method),
            metrics=scored.means,
            n_users=scored.n_users,
            per_user=scored.per_user,
            fit_seconds=fit_seconds,
            recommend_seconds=recommend_seconds,
            recs=recs,
        )
    if reference in result.methods and len(result.methods) > 1:
        result.reference = reference
        result.significance = compare_to_reference(
            {name: m.per_user for name, m in result.methods.items()},
            reference=reference,
            metrics=[f"{metric}@{k}" for k in ks for metric in ("ndcg", "psr", "tail_recall")],
            n_resamples=n_resamples,
            seed=split.seed,
        )
    return result


# ---------------------------------------------------------------------------------------------- exported recs


def _load_table(source, what: str, required: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """A DataFrame as given, or read from a CSV/TSV/Parquet/JSON(L) path; DataError names file and columns."""
    if isinstance(source, pd.DataFrame):
        label = what
        frame = source
    elif isinstance(source, (str, Path)):
        path = Path(source)
        label = f"{what} file {path}"
        if not path.exists():
            raise DataError(f"{label} does not exist; give the path of a CSV, TSV, Parquet or JSON-lines file")
        suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
        try:
            if suffix.startswith(".parquet") or suffix == ".pq":
                frame = pd.read_parquet(path)
            elif suffix.startswith(".tsv") or suffix.startswith(".tab"):
                frame = pd.read_csv(path, sep="\t")
            elif suffix.startswith(".jsonl") or suffix.startswith(".ndjson"):
                frame = pd.read_json(path, lines=True)
            elif suffix.startswith(".json"):
                frame = pd.read_json(path)
            elif suffix.startswith(".csv"):
                frame = pd.read_csv(path)
            else:
                raise DataError(
                    f"{label}: unknown format '{path.suffix}'; expected .csv, .tsv, .parquet, .json or .jsonl"
                )
        except DataError:
            raise
        except Exception as exc:  # pandas/pyarrow parse errors → one line for the user
            raise DataError(f"{label} could not be read as {suffix or 'a table'}: {exc}") from None
    else:
        raise DataError(f"{what}: expected a table or a file path, got {type(source).__name__}")
    require_columns(frame, required, label)
    return frame, label


def score_recommendations(
    recs,
    truth,
    train_listens,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    items: pd.DataFrame | None = None,
) -> dict:
    """Score exported recommendations (see the module docstring for every decision).

    recs: table or file with ``user_id``, ``rank``, ``track_id`` (``score`` optional and unused);
    truth: table or file with ``user_id``, ``track_id``; train_listens: canonical training listens (table
    or file with ``user_id``, ``track_id``, optional ``weight``); items: optional catalogue with
    ``track_id``, ``is_soundtrack``. Returns a flat dict: ``ndcg@K``, ``recall@K``, ``tail_recall@K``,
    ``aplt@K``, ``arp@K``, ``coverage@K``, ... for every K, plus counts.
    """
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] < 1:
        raise ParameterError(f"ks must be positive cut-offs, got {ks}")
    depth = max(ks)
    recs, recs_label = _load_table(recs, "recommendations", ("user_id", "rank", "track_id"))
    truth, truth_label = _load_table(truth, "truth", ("user_id", "track_id"))
    train_listens, _ = _load_table(train_listens, "training listens", ("user_id", "track_id"))
    train = train_data(train_listens, items=items)

    rank = pd.to_numeric(recs["rank"], errors="coerce")
    if rank.isna().any():
        bad = recs.loc[rank.isna(), "rank"].iloc[0]
        raise DataError(f"{recs_label}: column 'rank' must be numeric; found {bad!r} (row {int(rank.isna().idxmax())})")

    truth = pd.DataFrame({"user_id": truth["user_id"].astype(str), "track_id": truth["track_id"].astype(str)})
    truth = truth.drop_duplicates()
    truth["item"] = train.item_rows(truth["track_id"].to_numpy())
    absent_truth = int((truth["item"] < 0).sum())
    truth_users = np.unique(truth["user_id"].to_numpy())  # sorted; evaluation order
    kept = truth[truth["item"] >= 0]
    grouped = {u: np.sort(g.to_numpy(np.int64)) for u, g in kept.groupby("user_id", sort=True)["item"]}
    truth_lists = [grouped.get(u, np.zeros(0, dtype=np.int64)) for u in truth_users]

    frame = pd.DataFrame(
        {
            "user_id": recs["user_id"].astype(str),
            "rank": rank.to_numpy(np.float64),
            "track_id": recs["track_id"].astype(str),
        }
    )
    frame = frame.sort_values(["user_id", "rank"], kind="stable")
    frame = frame.drop_duplicates(["user_id", "track_id"], keep="first")
    frame["slot"] = frame.groupby("user_id", sort=False).cumcount()
    frame = frame[frame["slot"] < depth]
    in_truth = frame["user_id"].isin(truth_users)
    rec_users_not_in_truth = int(frame.loc[~in_truth, "user_id"].nunique())
    frame = frame[in_truth]
    row = np.searchsorted(truth_users, frame["user_id"].to_numpy())
    item = train.item_rows(frame["track_id"].to_numpy())
    matrix = np.full((len(truth_users), depth), -1, dtype=np.int64)
    matrix[row, frame["slot"].to_numpy()] = item
    filled = np.zeros((len(truth_users), depth), dtype=bool)
    filled[row, frame["slot"].to_numpy()] = True
    unknown = filled & (matrix < 0)

    scored = list_metrics(
        matrix,
        truth_lists,
        listeners=train.listeners,
        is_tail=train.is_tail,
        n_train_users=train.n_users,
        ks=ks,
        is_soundtrack=train.is_soundtrack,
    )
    active = np.array([len(t) > 0 for t in truth_lists], dtype=bool)
    out: dict = {"ks": list(ks)}
    out.update(scored.means)
    for k in ks:
        slots = filled[active, :k].sum()
        out[f"unknown_share@{k}"] = float(unknown[active, :k].sum() / slots) if slots else float("nan")
    out.update(
        {
            "n_users": int(active.sum()),
            "n_users_without_recommendations": int((~filled[active].any(axis=1)).sum()),
            "n_truth_users_without_relevant_in_train": int((~active).sum()),
            "n_truth_items_absent_from_train": absent_truth,
            "n_recommendation_users_not_in_truth": rec_users_not_in_truth,
            "n_train_users": train.n_users,
            "n_train_items": train.n_items,
            "n_train_tail_items": int(train.is_tail.sum()),
        }
    )
    return out
