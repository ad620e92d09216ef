"""The ingest's fast paths against the simple code they stand for (the oracles live here): numbers read whole or
once per distinct value, as :func:`as_number` reads each; text codes stacked chunk by chunk, as one dict of
values codes them; ids replaced and looked up in Arrow, as a dict and a set do; listener ids coded as
``np.unique`` codes them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from gems.ingest import combine, read_listens, rows
from gems.ingest.common import as_number, numbers
from gems.ingest.rows import TextCodes
from gems.stages.reading import sorted_codes

TRICKY = [
    "1", " 2 ", "+3", "-0", "0.0", "1_000", "1e3", "1E-3", ".5", "5.", "１２.５", "٣٠٠٠٠", "१०", "𝟏𝟐", "½", "²",
    "1" + "0" * 400, "-1" + "0" * 400, "1e400", "nan", "NaN", "inf", "-Infinity", "0x10", "1,5", "", "  ", "x",
    "True", "None", "١٧٠٠٠x", "\u00a012\u2003", "1 000",
]  # fmt: skip


def oracle_numbers(values: pd.Series) -> pd.Series:
    """:func:`as_number` value by value: the simple path ``numbers`` must agree with."""
    return values.map(as_number).astype("float64")


def assert_same_numbers(got: pd.Series, want: pd.Series) -> None:
    assert got.dtype == np.float64 and got.index.equals(want.index) and got.name == want.name
    a, b = got.to_numpy(), want.to_numpy()
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)]) and np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(TRICKY * 3 + [None], dtype=object, name="n"),
        pd.Series(TRICKY + [None], dtype="string"),
        pd.Series(TRICKY * 2, dtype="str", index=np.arange(len(TRICKY) * 2) * 7),
        pd.Series([None, np.nan, None], dtype=object),
        pd.Series([True, 1, 1.0, False, 0, -0.0, None, "2", b"3", Decimal("4"), np.int64(5), 2**1100], dtype=object),
        pd.Series([0, -5, 2**31 - 1, -(2**31)], dtype="int32"),
        pd.Series([0, 2**64 - 1, 2**53 + 1], dtype="uint64"),
        pd.Series([2**63 - 1, -(2**63)], dtype="int64"),
        pd.Series([0.1 + 0.2, -0.0, np.inf, -np.inf, np.nan, 1e-310, 1e308], dtype="float64"),
        pd.Series([0.1, np.nan, -0.0], dtype="float32"),
        pd.Series([1, None, -3], dtype="Int64"),
        pd.Series([True, False], dtype=bool),
    ],
)
def test_numbers_agree_with_as_number_value_by_value(values):
    assert_same_numbers(numbers(values), oracle_numbers(values))


@pytest.mark.parametrize(
    ("weights", "shown"),
    [
        ([2.0, 0.0, -1.5, np.nan, 1e20, np.inf, -0.0, 3.25], ["0.0", "-1.5", "-0.0"]),
        (np.array([2, 0, -1, 7, 1, 2**31 - 1, -5, 3], dtype=np.int32), ["0", "-1", "-5"]),
    ],
)
def test_a_numeric_weight_column_reads_as_its_text_would(tmp_path, weights, shown):
    """A Parquet weight column of numbers skips the text round trip: same weights, same set-aside rows and
    examples as the same values written as text."""
    frame = pd.DataFrame({"user": list("abcdefgh"), "track": list("tuvwxyzt"), "plays": weights})
    frame.to_parquet(tmp_path / "numbers.parquet")
    frame.assign(plays=frame["plays"].astype("string")).to_parquet(tmp_path / "text.parquet")
    (numeric, a), (text, b) = read_listens(tmp_path / "numbers.parquet"), read_listens(tmp_path / "text.parquet")
    pd.testing.assert_frame_equal(numeric, text)
    assert a.set_aside == b.set_aside == {"weight is zero or negative": 3}
    for report in (a, b):
        assert [e.split(": ", 1)[1] for e in report.examples["weight is zero or negative"]] == [
            f"plays={s}" for s in shown
        ]
    kept = pd.Series(weights).astype("float64").fillna(1.0)
    assert numeric["weight"].tolist() == kept[kept > 0].astype("float32").tolist()


class OracleTextCodes:
    """TextCodes as one Python dict of distinct values per column, grown value by value."""

    def __init__(self):
        self.tables: dict[str, dict[str, int]] = {}

    def encode(self, column: str, values: pd.Series) -> np.ndarray:
        table = self.tables.setdefault(column, {})
        return np.array([-1 if pd.isna(v) else table.setdefault(v, len(table)) for v in values], dtype=np.int32)

    def decode(self, column: str, codes: np.ndarray) -> pd.Categorical:
        values = pd.Series(list(self.tables[column]), dtype=object)
        return pd.Categorical([None if c < 0 else values[c] for c in codes], categories=sorted(values))


@pytest.mark.parametrize("fold", [1, 5, 1 << 18])
@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_text_codes_decode_as_one_dict_of_values_would(monkeypatch, fold, dtype):
    """Chunks stacked and folded (every chunk, some, none) decode to the categoricals a dict of every value
    gives: same values, same sorted categories, missing values missing."""
    monkeypatch.setattr(rows, "FOLD_POSITIONS", fold)
    rng = np.random.default_rng(7)
    pool = np.array(
        ["b", "a", "é", "Z", "a b", "日本", "ß", "", "zz", "\U0001f3b5", "B"] + [f"t{i}" for i in range(40)]
    )
    fast, oracle = TextCodes(), OracleTextCodes()
    fast_codes, oracle_codes = [], []
    for size in [0, 1, 7, 30, 3, 50, 2, 40]:
        chunk = pd.Series(np.where(rng.random(size) < 0.2, None, rng.choice(pool, size)), dtype=dtype)
        for column in ("title", "artist"):
            fast_codes.append((column, fast.encode(column, chunk)))
            oracle_codes.append((column, oracle.encode(column, chunk)))
    for column in ("title", "artist"):
        got = fast.decode(column, np.concatenate([c for name, c in fast_codes if name == column]))
        want = oracle.decode(column, np.concatenate([c for name, c in oracle_codes if name == column]))
        assert got.categories.dtype == object and list(got.categories) == list(want.categories)
        assert got.equals(want)


def oracle_replaced(values: pd.Series, keys, targets) -> pd.Series:
    """A dict updated pair by pair, looked up value by value."""
    mapping = dict(zip(keys, targets))
    replaced_values = np.array([None if pd.isna(v) else mapping.get(v, v) for v in values] + [None], dtype=object)
    return pd.Series(replaced_values[:-1], index=values.index, name=values.name)


@pytest.mark.parametrize("dtype", [object, "string", "str"])
@pytest.mark.parametrize(
    ("values", "keys", "targets"),
    [
        (["a", "b", None, "a", "c", "é", "b"], ["a", "b", "a", "x"], ["A", "B", "A2", "X"]),
        (["a", "b"], ["b", "a", "b", "b"], ["1", "2", "3", "4"]),
        (["a", "b"], [], []),
        ([None, None], ["a"], ["b"]),
        ([], ["a"], ["b"]),
    ],
)
def test_replaced_agrees_with_a_dict_of_the_pairs(values, keys, targets, dtype):
    """Values looked up once per distinct value in Arrow, the last pair of a repeated key winning, read back as
    pandas reads Python strings (the str dtype; object when nothing is there)."""
    series = pd.Series(values, dtype=dtype, name="track_id", index=np.arange(len(values)) * 3)
    got, want = combine.replaced(series, keys, targets), oracle_replaced(series, keys, targets)
    pd.testing.assert_series_equal(got, want)


def test_member_of_agrees_with_a_python_set():
    rng = np.random.default_rng(3)
    values = pd.Series(rng.choice(np.array(["a", "b", "c", "日本", "", None], dtype=object), 200), dtype="string")
    pool = ["b", "日本", "", "zz"]
    want = [v is not pd.NA and v in set(pool) for v in values]
    assert combine.member_of(values, pool).tolist() == want
    assert combine.member_of(values.astype(object), pd.Series(pool, dtype="str")).tolist() == want


def test_sorted_codes_are_np_unique_of_the_text():
    """The interactions stage sorts distinct listener ids only: the same ids and codes as ``np.unique`` of every
    row's text (a trailing NUL is dropped by NumPy's text, so two ids are one)."""
    import pyarrow as pa

    ids = ["u2", "u10", "ü", "u1", "u1\x00", "u2", "", "日本", "u10", "u1"]
    column = pa.chunked_array([pa.array(ids[:4], pa.large_string()), pa.array(ids[4:], pa.large_string())])
    users, codes = sorted_codes(column)
    want_users, want_codes = np.unique(pd.Series(ids, dtype="str").to_numpy(dtype=str), return_inverse=True)
    assert users.dtype == want_users.dtype and users.tolist() == want_users.tolist() == [
        "",
        "u1",
        "u10",
        "u2",
        "ü",
        "日本",
    ]
    assert codes.tolist() == want_codes.tolist()
