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
    # Root spans of every trace: no parent, a parent missing from the trace (orphan), or itself.
    "root_spans": f"""
        SELECT s.* FROM {schema.TABLE} s
        WHERE s.parent_span_id IS NULL OR s.parent_span_id = s.span_id
           OR NOT EXISTS (SELECT 1 FROM {schema.TABLE} p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
    """,
}


def runs_sql(roots: str = "root_spans") -> str:
    """The ``runs`` view's query, with the root spans read from ``roots`` (a relation of
    span-table rows; ``analyze`` passes the roots it already found, sparing the anti-join)."""
    # One row per run (trace): counts, tokens, known cost, outcome. Token and cost sums cover
    # llm and embedding spans only, so usage aggregated on agent spans is never counted twice.
    # ok is false when a root span failed, or an llm/agent span failed and no successful LLM
    # call started after it ended (an error the run did not recover from).
    return f"""
        WITH roots AS (
            SELECT trace_id,
                   first(name ORDER BY start_ns, span_id) AS name,
                   first(service_name ORDER BY start_ns, span_id) AS service_name,
                   bool_or(status = 'error') AS root_error
            FROM {roots} GROUP BY trace_id
        ),
        last_ok_llm AS (
            SELECT trace_id, max(start_ns) AS start_ns FROM {schema.TABLE}
            WHERE category = 'llm' AND status <> 'error' GROUP BY trace_id
        ),
        unrecovered AS (
            SELECT s.trace_id, count(*) AS n FROM {schema.TABLE} s LEFT JOIN last_ok_llm o USING (trace_id)
            WHERE s.category IN ('llm', 'agent') AND s.status = 'error'
              AND (o.start_ns IS NULL OR o.start_ns < s.end_ns)
            GROUP BY s.trace_id
        ),
        agents AS (
            SELECT trace_id, list(agent_name ORDER BY first_ns, agent_name) AS agent_names
            FROM (SELECT trace_id, agent_name, min(start_ns) AS first_ns FROM {schema.TABLE}
                  WHERE agent_name IS NOT NULL GROUP BY trace_id, agent_name)
            GROUP BY trace_id
        ),
        agg AS (
            SELECT trace_id,
                min(start_ns) AS start_ns, max(end_ns) AS end_ns,
                count(*) AS span_count,
                count(*) FILTER (WHERE category = 'llm') AS llm_call_count,
                count(*) FILTER (WHERE category IN ('tool', 'retrieval', 'embedding')) AS tool_call_count,
                count(*) FILTER (WHERE status = 'error') AS error_count,
                coalesce(sum(input_tokens) FILTER (WHERE category IN ('llm', 'embedding')), 0) AS input_tokens,
                coalesce(sum(output_tokens) FILTER (WHERE category IN ('llm', 'embedding')), 0) AS output_tokens,
                coalesce(sum(cache_read_tokens) FILTER (WHERE category IN ('llm', 'embedding')), 0) AS cache_read_tokens,
                coalesce(sum(cache_write_tokens) FILTER (WHERE category IN ('llm', 'embedding')), 0) AS cache_write_tokens,
                coalesce(sum(reasoning_tokens) FILTER (WHERE category IN ('llm', 'embedding')), 0) AS reasoning_tokens,
                sum(cost_usd) FILTER (WHERE category IN ('llm', 'embedding')) AS cost_usd,
                count(*) FILTER (WHERE category = 'llm' AND cost_source = 'reported') AS cost_reported,
                count(*) FILTER (WHERE category = 'llm' AND cost_source = 'computed') AS cost_computed,
                count(*) FILTER (WHERE category = 'llm' AND (cost_source = 'unknown' OR cost_source IS NULL)) AS cost_unknown,
                list(DISTINCT coalesce(response_model, request_model) ORDER BY coalesce(response_model, request_model))
                    FILTER (WHERE category = 'llm' AND cost_usd IS NULL
                            AND coalesce(response_model, request_model) IS NOT NULL) AS unknown_models,
                first(session_id ORDER BY start_ns, span_id) FILTER (WHERE session_id IS NOT NULL) AS session_id,
                first(user_id ORDER BY start_ns, span_id) FILTER (WHERE user_id IS NOT NULL) AS user_id,
                bool_or(escalated) AS escalated
            FROM {schema.TABLE} GROUP BY trace_id
        )
        SELECT agg.trace_id AS run_id, roots.name, roots.service_name,
               coalesce(agents.agent_names, []) AS agent_names,
               NOT (coalesce(roots.root_error, false) OR coalesce(unrecovered.n, 0) > 0) AS ok,
               agg.* EXCLUDE (trace_id)
        FROM agg
        LEFT JOIN roots USING (trace_id)
        LEFT JOIN unrecovered USING (trace_id)
        LEFT JOIN agents USING (trace_id)
    """


_VIEWS["runs"] = runs_sql()  # after root_spans, which it reads


ROW_GROUP_ROWS = 61_440
"""Rows per row group in a file store; DuckDB's default is 122,880. Ingest inserts one row
group per statement (``ingest.batches``) and holds that statement's Arrow rows, the next
one's and DuckDB's uncompressed copy, so the row group sets the peak memory: into a file
store, 1M spans took 600-620 MB at this size against 765-818 MB at the default, for ~6% more
time and a file 3% larger (bench/README.md)."""

BLOCK_BYTES = 131_072
"""Block size of a new file store; DuckDB's default is 262,144 (an existing file keeps the
size it was written with). Ingest writes each row group as its statement ends, packed into
blocks of its own, so every row group leaves a partly filled block, and its ZSTD
``attributes`` segment another. 1M benchmark spans: 87.0 bytes/span in 256 KiB blocks, 81.7
in 128 KiB, 81.0 in 64 KiB (but ~10% more ingest CPU: four times the segments to compress);
at 32 and 16 KiB DuckDB stores the BIGINT columns uncompressed (89 and 93). At 128 KiB
ingest time and peak RSS were within run-to-run noise, and ``analyze`` was no slower."""

STORE_CATALOG = "store"
"""Name the store file is attached under (a file store; DuckDB takes a row group size only
when attaching)."""


def open_store(path: str | os.PathLike[str] | None = None, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) a span store. ``None`` means in memory."""
    import duckdb

    target = ":memory:" if path is None else os.fspath(path)
    try:
        if path is None:
            con = duckdb.connect(target)
        else:
            # Spills go next to the file, as when DuckDB opens the file itself.
            con = duckdb.connect(config={"temp_directory": target + ".tmp"})
            quoted = "'" + target.replace("'", "''") + "'"
            options = f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
            if not os.path.exists(target):
                # DuckDB takes a block size only for a new file, and refuses one that differs
                # from an existing file's (which keeps its own, e.g. DuckDB's 256 KiB).
                options += f", BLOCK_SIZE {BLOCK_BYTES}"
            con.execute(f"ATTACH {quoted} AS {STORE_CATALOG} ({options})")
            con.execute(f"USE {STORE_CATALOG}")
    except duckdb.Error as exc:  # locked, corrupt, not a DuckDB file
        raise StoreError(
            f"{target}: cannot open as a DuckDB span store ({exc})",
            hint="pass a file written by `agentprof ingest --db`, or a new path",
        ) from exc
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    _ensure_schema(con, target)
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to ``con``'s database (for another thread), pointed at the same
    catalog: a plain ``con.cursor()`` starts in DuckDB's in-memory default one."""
    cur = con.cursor()
    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    cur.execute('USE "' + catalog.replace('"', '""') + '"')
    return cur


def in_memory(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s current database (where the span table is) lives in memory."""
    return con.execute("SELECT path IS NULL FROM duckdb_databases() WHERE database_name = current_database()").fetchall()[0][0]


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
