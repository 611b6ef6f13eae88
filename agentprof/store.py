"""DuckDB storage of the span table: connection, bulk load, save/open, derived views.

In-memory by default (nothing is left behind); ``open_store(path)`` keeps spans in a file
that ``agentprof analyze --db`` and ``agentprof query`` read later. Analyzers read the
``spans`` table and the views defined here, never raw trace data.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from agentprof import schema
from agentprof.errors import StoreError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_META = "agentprof_meta"

# Views every analyzer may use. Times stay in ns; durations are end_ns - start_ns.
_VIEWS = {
    "llm_calls": f"SELECT *, end_ns - start_ns AS duration_ns FROM {schema.TABLE} WHERE category = 'llm'",
    "tool_calls": f"SELECT *, end_ns - start_ns AS duration_ns FROM {schema.TABLE} WHERE category = 'tool'",
}


def open_store(path: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) a span store. ``None`` means in memory."""
    import duckdb

    target = ":memory:" if path is None else os.fspath(path)
    try:
        con = duckdb.connect(target)
    except duckdb.Error as exc:  # locked, corrupt, not a DuckDB file
        raise StoreError(
            f"{target}: cannot open as a DuckDB span store ({exc})",
            hint="pass a file written by `agentprof ingest --db`, or a new path",
        ) from exc
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    _ensure_schema(con, target)
    return con


def _ensure_schema(con: duckdb.DuckDBPyConnection, target: str) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {_META} (key VARCHAR PRIMARY KEY, value VARCHAR)")
    row = con.execute(f"SELECT value FROM {_META} WHERE key = 'schema_version'").fetchone()
    if row is None:
        con.execute(schema.create_table_sql())
        con.execute(f"INSERT INTO {_META} VALUES ('schema_version', ?)", [str(schema.SCHEMA_VERSION)])
    elif int(row[0]) != schema.SCHEMA_VERSION:
        raise StoreError(
            f"{target}: span store has schema version {row[0]}, this agentprof reads version {schema.SCHEMA_VERSION}",
            hint="re-ingest the original trace files into a new --db file",
        )
    for name, sql in _VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")


def load_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Append spans (an Arrow table matching ``schema.arrow_schema()``) to the store.

    Returns the number of rows appended. Columns are matched by name, so readers may build
    the table in any column order.
    """
    cols = ", ".join(schema.COLUMN_NAMES)
    con.register("_agentprof_incoming", table)
    try:
        con.execute(f"INSERT INTO {schema.TABLE} ({cols}) SELECT {cols} FROM _agentprof_incoming")
    finally:
        con.unregister("_agentprof_incoming")
    return table.num_rows


def span_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(*) FROM {schema.TABLE}").fetchone()[0]
