"""Insert statements sized to DuckDB's row groups.

DuckDB stores a table in row groups (122,880 rows by default; a file store from
``agentprof.store.open_store`` uses ``store.ROW_GROUP_ROWS``). In a file store, an INSERT that ends
part-way through a row group commits its rows through the write-ahead log, and the automatic
checkpoint that follows (every ~16 MB of log) compresses that partial row group and rewrites
it again once later rows fill it, leaving the old blocks free in the file. An INSERT that
brings the table to a whole number of row groups writes each one compressed, once, straight
to the file. Measured on 1M spans into a file store (bench/README.md): the reader and its
INSERTs took 35% less time and the file had no free blocks.

So the readers cut their Arrow tables here: the first statement fills the table's last row
group, every later one is one row group, the last one takes what is left.

An in-memory store is the opposite case: whole row groups stay uncompressed in memory
(2.6x the memory of the span table: 917 MB against 346 MB for 1M spans), while the
checkpoints that partial statements trigger compress them. There statements keep a fixed
size, :data:`IN_MEMORY_ROWS` (see :func:`plan`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

DEFAULT_ROW_GROUP_ROWS = 122_880
"""DuckDB's default row group size (``tests/ingest/test_batches.py`` checks it still is), for
a database attached without one (``agentprof.store.open_store`` sets its own)."""


IN_MEMORY_ROWS = 50_000
"""Rows per statement into an in-memory store (the INSERT's fixed cost of ~50 ms per
statement made 5,000-row statements cost 2.7x the CPU)."""


class Plan(NamedTuple):
    """How to cut the rows for one table: ``first`` rows, then ``size`` rows per statement;
    ``exact``: cut to those counts (else a statement takes whole input tables until it has
    at least that many rows)."""

    first: int
    size: int
    exact: bool


def plan(con: duckdb.DuckDBPyConnection, table: str, size: int | None = None) -> Plan:
    """The statements for inserting into ``table``.

    In a file store they are exact: the first brings ``table`` to a whole number of
    ``size``-row groups (default: the database's row group size, :func:`row_group_rows`),
    each later one is ``size`` rows.
    In memory each takes at least ``size`` rows (default :data:`IN_MEMORY_ROWS`) in whole
    input tables: slicing one across two statements cost 15% more time and memory there
    (1M spans: 17.2 s and 1.32 GB against 14.8-15.7 s and 1.06-1.12 GB)."""
    from agentprof.store import in_memory

    if in_memory(con):
        size = size or IN_MEMORY_ROWS
        return Plan(size, size, exact=False)
    size = size or row_group_rows(con)
    count = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return Plan(size - count % size, size, exact=True)


def row_group_rows(con: duckdb.DuckDBPyConnection) -> int:
    """Rows per row group of ``con``'s current database: the size it was attached with, else
    DuckDB's default."""
    import duckdb

    try:
        rows = con.execute("SELECT options['row_group_size'] FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    except duckdb.Error:  # a DuckDB without the options column attaches at the default size
        return DEFAULT_ROW_GROUP_ROWS
    return int(rows[0][0]) if rows and rows[0][0] else DEFAULT_ROW_GROUP_ROWS


def cut(tables: Iterable[pa.Table], plan: Plan) -> Iterator[pa.Table]:
    """The rows of ``tables`` (a column missing from some is null there), in order, as the statements of ``plan``; the
    last one holds the rest. Slices share the input's buffers, so at most one statement's
    rows plus one input table are held."""
    import pyarrow as pa

    held: list[pa.Table] = []
    rows, need = 0, plan.first
    for table in tables:
        if not table.num_rows:
            continue
        held.append(table)
        rows += table.num_rows
        while rows >= need:
            whole = pa.concat_tables(held, promote_options="default") if len(held) > 1 else held[0]
            take = need if plan.exact else rows
            yield whole.slice(0, take) if take < rows else whole
            rest = whole.slice(take)
            held, rows, need = ([rest] if rest.num_rows else []), rest.num_rows, plan.size
    if rows:
        yield pa.concat_tables(held, promote_options="default") if len(held) > 1 else held[0]
