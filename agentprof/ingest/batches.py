"""Insert statements sized to DuckDB's row groups.

DuckDB stores a table in row groups of 122,880 rows. An INSERT that ends part-way through a
row group commits its rows through the write-ahead log, and the automatic checkpoint that
follows (every ~16 MB of log) compresses that partial row group and rewrites it again once
later rows fill it, leaving the old blocks free in the file. An INSERT that brings the table
to a whole number of row groups writes each one compressed, once, straight to the file.
Measured on 1M spans into a file store (bench/README.md): the span table's INSERTs took 35%
less time and the file had no free blocks.

So the readers cut their Arrow tables here: the first statement fills the table's last row
group, every later one is one row group, the last one takes what is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

ROW_GROUP_ROWS = 122_880
"""DuckDB's default row group size (``tests/ingest/test_batches.py`` checks it still is)."""


def rows_to_fill(con: duckdb.DuckDBPyConnection, table: str, size: int | None = None) -> int:
    """Rows that bring ``table`` to a whole number of ``size``-row groups (``size`` if it is);
    ``size`` defaults to :data:`ROW_GROUP_ROWS`."""
    size = size or ROW_GROUP_ROWS
    count = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return size - count % size


def cut(tables: Iterable[pa.Table], first: int, size: int | None = None) -> Iterator[pa.Table]:
    """The rows of ``tables`` (same schema), in order, as tables of exactly ``first`` rows,
    then ``size`` rows each (default :data:`ROW_GROUP_ROWS`); the last one holds the rest.
    Slices share the input's buffers, so at most one statement's rows plus one input table
    are held."""
    import pyarrow as pa

    size = size or ROW_GROUP_ROWS
    held: list[pa.Table] = []
    rows, need = 0, first
    for table in tables:
        if not table.num_rows:
            continue
        held.append(table)
        rows += table.num_rows
        while rows >= need:
            whole = pa.concat_tables(held) if len(held) > 1 else held[0]
            yield whole.slice(0, need)
            rest = whole.slice(need)
            held, rows, need = ([rest] if rest.num_rows else []), rest.num_rows, size
    if rows:
        yield pa.concat_tables(held) if len(held) > 1 else held[0]
