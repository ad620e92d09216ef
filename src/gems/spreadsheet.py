"""CSV files that a spreadsheet opens as data, never as formulas (OWASP, "CSV injection"): titles, ids and user
names come from files anyone may have written, and a cell such as ``=HYPERLINK(...)`` runs when the CSV is
opened.

Every text cell that starts with one of :data:`FORMULA_START` (``=``, ``+``, ``-``, ``@``, a tab, a carriage
return, or the full-width ``＝＋－＠`` some spreadsheets also read) gets a leading ``'``, and every text cell is
quoted. Numbers are written as numbers, unquoted: a negative score stays the number ``-0.5`` — a numeric column
cannot hold a formula, and prefixing it would turn it into text. A title that really starts with ``-`` reads
``'-Interlude-`` in the file; spreadsheets hide the apostrophe.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutral_table(table: Any) -> Any:
    """``table`` (a pyarrow Table) with the text cells of :data:`FORMULA_START` prefixed by ``'``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            first = pc.utf8_slice_codeunits(column, 0, 1)
            formula = pc.fill_null(pc.is_in(first, value_set=pa.array(FORMULA_START, column.type)), False)
            quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, pa.scalar("", column.type))
            column = pc.if_else(formula, quoted, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def csv_writer(path_or_sink: Any, schema: Any) -> Any:
    """A pyarrow ``CSVWriter`` that quotes every text cell (numbers stay bare); write :func:`neutral_table`
    tables to it."""
    import pyarrow.csv as pacsv

    return pacsv.CSVWriter(path_or_sink, schema, write_options=pacsv.WriteOptions(quoting_style="needed"))


def write_csv(table: Any, path_or_sink: Any) -> None:
    """Write a pyarrow Table (or a pandas DataFrame) as a CSV a spreadsheet opens as data."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    with csv_writer(path_or_sink, table.schema) as sink:
        sink.write_table(neutral_table(table))
