"""The span table contract: DDL, Arrow schema, store versioning."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from agentprof import schema, store
from agentprof.errors import StoreError


def _row(**over):
    base = {c: None for c in schema.COLUMN_NAMES}
    base.update(trace_id="a" * 32, span_id="b" * 16, name="chat gpt-4o", category="llm", start_ns=1_000, end_ns=5_000,
                status="ok", source_format="test", input_tokens=120, output_tokens=7)
    base.update(over)
    return base


def test_table_columns_match_schema_in_order():
    con = store.open_store()
    cols = [r[0] for r in con.execute("DESCRIBE spans").fetchall()]
    assert tuple(cols) == schema.COLUMN_NAMES
    assert schema.arrow_schema().names == list(schema.COLUMN_NAMES)


def test_load_arrow_in_any_column_order_and_views():
    con = store.open_store()
    rows = [_row(), _row(span_id="c" * 16, name="execute_tool search", category="tool", tool_name="search",
                         input_tokens=None, output_tokens=None, start_ns=5_000, end_ns=9_500)]
    table = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    table = table.select(list(reversed(table.column_names)))
    assert store.load_arrow(con, table) == 2
    assert store.span_count(con) == 2
    assert con.execute("SELECT span_id, duration_ns, input_tokens FROM llm_calls").fetchall() == [("b" * 16, 4_000, 120)]
    assert con.execute("SELECT tool_name, duration_ns FROM tool_calls").fetchall() == [("search", 4_500)]


def test_file_store_round_trips_and_rejects_other_versions(tmp_path):
    path = tmp_path / "runs.duckdb"
    con = store.open_store(path)
    store.load_arrow(con, pa.Table.from_pylist([_row()], schema=schema.arrow_schema()))
    con.close()
    con = store.open_store(path)
    assert store.span_count(con) == 1
    con.execute("UPDATE agentprof_meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(StoreError, match="schema version 999"):
        store.open_store(path)


@pytest.mark.parametrize("in_file", [True, False])
def test_a_cursor_sees_the_store_and_a_file_leaves_only_itself_behind(tmp_path, in_file):
    con = store.open_store(tmp_path / "runs.duckdb" if in_file else None)
    store.load_arrow(con, pa.Table.from_pylist([_row()], schema=schema.arrow_schema()))
    cur = store.cursor(con)
    assert cur.execute("SELECT span_id FROM spans").fetchall() == [("b" * 16,)]
    assert store.in_memory(cur) is (not in_file)
    cur.close()
    con.close()
    # A file store is one file: spills went to runs.duckdb.tmp, which DuckDB removes.
    assert sorted(p.name for p in tmp_path.iterdir()) == (["runs.duckdb"] if in_file else [])


def test_a_store_file_that_is_locked_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "runs.duckdb"
    store.open_store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="cannot open as a DuckDB span store"):
            store.open_store(path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_not_a_duckdb_file(tmp_path):
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("these are my notes, not a database\n" * 10)
    with pytest.raises(StoreError, match="cannot open as a DuckDB span store"):
        store.open_store(bogus)


def test_describe_lists_every_column():
    text = schema.describe()
    for name in schema.COLUMN_NAMES:
        assert f"\n{name} " in text


# --- block size: new files take store.BLOCK_BYTES, older files keep theirs -----------------

def _block_size(con) -> int:
    return con.execute("SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()").fetchall()[0][0]


def _block_rows(n: int) -> pa.Table:
    rows = [
        {**{c: None for c in schema.COLUMN_NAMES}, "trace_id": f"{i // 20:032x}", "span_id": f"{i:016x}",
         "name": "chat", "category": "llm", "start_ns": i, "end_ns": i + 1, "status": "ok", "source_format": "test",
         "attributes": '{"k":1}', "events": "[]", "resource": "{}"}
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=schema.arrow_schema())


def test_a_new_file_store_uses_the_smaller_blocks_and_reopens(tmp_path):
    path = tmp_path / "runs.duckdb"
    con = store.open_store(path)
    assert _block_size(con) == store.BLOCK_BYTES
    store.load_arrow(con, _block_rows(100))
    con.close()
    con = store.open_store(path)  # an existing file: no block size passed
    assert _block_size(con) == store.BLOCK_BYTES
    assert store.span_count(con) == 100
    con.close()
    with duckdb.connect(str(path), read_only=True) as plain:  # DuckDB alone reads it too
        assert plain.execute("SELECT count(*) FROM spans").fetchone()[0] == 100


def test_a_store_written_with_duckdbs_default_blocks_still_opens_and_grows(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:  # as stores were written before BLOCK_BYTES
        old.execute("SELECT 1")
    con = store.open_store(path)
    assert _block_size(con) == 262_144
    store.load_arrow(con, _block_rows(50))
    assert store.span_count(con) == 50
    con.close()
