"""Insert statements cut to DuckDB's row groups (``agentprof.ingest.batches``)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from agentprof import schema, store
from agentprof.ingest import batches, ingest_files
from agentprof.store import open_store
from tests.ingest.test_onepass import generate


def _tables(*sizes: int):
    start = 0
    for n in sizes:
        yield pa.table({"i": pa.array(range(start, start + n), pa.int64())})
        start += n


def test_cut_fills_first_then_whole_groups_and_keeps_order():
    out = list(batches.cut(_tables(5, 0, 5, 2, 9, 1), batches.Plan(3, 4, exact=True)))
    assert [t.num_rows for t in out] == [3, 4, 4, 4, 4, 3]
    assert [v for t in out for v in t.column("i").to_pylist()] == list(range(22))


def test_cut_exact_multiple_leaves_no_short_table():
    assert [t.num_rows for t in batches.cut(_tables(8), batches.Plan(4, 4, exact=True))] == [4, 4]
    assert list(batches.cut(_tables(), batches.Plan(4, 4, exact=True))) == []


def test_cut_not_exact_keeps_input_tables_whole():
    out = list(batches.cut(_tables(5, 0, 5, 2, 9, 1), batches.Plan(3, 4, exact=False)))
    assert [t.num_rows for t in out] == [5, 5, 11, 1]
    assert [v for t in out for v in t.column("i").to_pylist()] == list(range(22))


def test_plan_fills_the_last_row_group_of_a_file_store(tmp_path):
    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(9)")
    con.execute("CREATE TABLE e (i BIGINT)")
    assert batches.plan(con, "t", size=4) == (3, 4, True)
    assert batches.plan(con, "e", size=4) == (4, 4, True)
    default = batches.DEFAULT_ROW_GROUP_ROWS
    assert batches.plan(con, "t") == (default - 9, default, True)


def test_a_file_store_has_its_own_row_groups_and_the_plan_follows_them(tmp_path):
    con = open_store(tmp_path / "s.duckdb")
    assert batches.row_group_rows(con) == store.ROW_GROUP_ROWS != batches.DEFAULT_ROW_GROUP_ROWS
    con.execute(f"CREATE TABLE t AS SELECT range AS i FROM range({store.ROW_GROUP_ROWS + 5})")
    con.execute("CHECKPOINT")
    assert batches.plan(con, "t") == (store.ROW_GROUP_ROWS - 5, store.ROW_GROUP_ROWS, True)
    groups = con.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info('t') WHERE column_name = 'i' GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert groups == [(0, store.ROW_GROUP_ROWS), (1, 5)]
    con.close()
    # Reopened, appended rows still go into row groups of that size.
    con = open_store(tmp_path / "s.duckdb")
    assert batches.plan(con, "t") == (store.ROW_GROUP_ROWS - 5, store.ROW_GROUP_ROWS, True)


def test_plan_keeps_a_fixed_size_in_memory():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(9)")
    assert batches.plan(con, "t") == (batches.IN_MEMORY_ROWS, batches.IN_MEMORY_ROWS, False)
    assert batches.plan(con, "t", size=4) == (4, 4, False)


def test_duckdb_row_groups_are_the_size_the_cut_assumes(tmp_path):
    # If DuckDB changes its default row group size, the statements stop lining up with it.
    con = duckdb.connect(str(tmp_path / "rg.duckdb"))
    con.execute(f"CREATE TABLE t AS SELECT range AS i FROM range({batches.DEFAULT_ROW_GROUP_ROWS + 1})")
    con.execute("CHECKPOINT")
    groups = con.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info('t') WHERE column_name = 'i' GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert groups == [(0, batches.DEFAULT_ROW_GROUP_ROWS), (1, 1)]


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("in_file", [True, False])
def test_small_statements_store_the_same_rows(tmp_path, monkeypatch, fast, in_file):
    # Statements of 7 rows: the same rows, in the same order.
    p = generate(tmp_path / "m.jsonl", traces=12, seed=3)
    cols = ", ".join(schema.COLUMN_NAMES)
    con = open_store()
    ingest_files(con, [p], fast=fast)
    expected = con.execute(f"SELECT {cols} FROM {schema.TABLE} ORDER BY rowid").fetchall()
    if in_file:
        monkeypatch.setattr(batches, "row_group_rows", lambda con: 7)
    else:
        monkeypatch.setattr(batches, "IN_MEMORY_ROWS", 7)
    small = open_store(tmp_path / "small.duckdb" if in_file else None)
    ingest_files(small, [p], fast=fast)
    assert small.execute(f"SELECT {cols} FROM {schema.TABLE} ORDER BY rowid").fetchall() == expected
    assert len(expected) > 7 * 3
