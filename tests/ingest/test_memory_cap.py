"""DuckDB's memory capped while files stream into a file store (``agentprof.ingest.memory_cap``)."""

from __future__ import annotations

import duckdb
import orjson
import pytest

import agentprof.ingest as ingest_mod
from agentprof import schema
from agentprof.ingest import batches, ingest_files, memory_cap, repair
from agentprof.store import open_store
from tests.ingest.test_onepass import _clean_file, generate


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def _shown(limit: str) -> str:
    """How DuckDB shows a limit once set, e.g. '128MB' → '122.0 MiB'."""
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{limit}'")
        return _limit(con)


def _default() -> str:
    with duckdb.connect() as con:
        return _limit(con)


def _late_missing_end(tmp_path):
    """A clean file whose 7th line has a span without an end: loaded straight into the span
    table until then, then moved to the stage (a whole-table statement)."""
    p = _clean_file(tmp_path / "late.jsonl", traces=8)
    docs = [orjson.loads(x) for x in p.read_bytes().splitlines()]
    del docs[6]["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["endTimeUnixNano"]
    p.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return p


def _spy(monkeypatch, con_limits: list, module, name: str) -> None:
    original = getattr(module, name)

    def spy(con, *args, **kwargs):
        con_limits.append((name, _limit(con)))
        return original(con, *args, **kwargs)

    monkeypatch.setattr(module, name, spy)


@pytest.mark.parametrize("fast", [True, False])
def test_a_file_store_streams_capped_and_moves_whole_tables_uncapped(tmp_path, monkeypatch, fast):
    seen: list = []
    _spy(monkeypatch, seen, batches, "plan")  # where each file's statements are planned
    _spy(monkeypatch, seen, repair, "stage_spans")  # the loaded rows move to the stage
    _spy(monkeypatch, seen, repair, "repair_stage")  # after the files are read
    con = open_store(tmp_path / "s.duckdb")
    (source,) = ingest_files(con, [_late_missing_end(tmp_path)], fast=fast)
    capped, default = _shown(memory_cap.LIMIT), _default()
    assert capped != default
    assert [name for name, _ in seen] == ["plan", "stage_spans", "repair_stage"]
    assert dict(seen) == {"plan": capped, "stage_spans": default, "repair_stage": default}
    assert _limit(con) == default
    assert source.spans_read == 48


def test_an_in_memory_store_and_a_callers_limit_are_left_alone(tmp_path, monkeypatch):
    seen: list = []
    _spy(monkeypatch, seen, batches, "plan")
    p = generate(tmp_path / "m.jsonl", traces=5, seed=1)
    ingest_files(open_store(), [p])
    con = open_store(tmp_path / "s.duckdb")
    con.execute("SET memory_limit = '3GB'")
    ingest_files(con, [p])
    assert [limit for _, limit in seen] == [_default(), _shown("3GB")]
    assert _limit(con) == _shown("3GB")


def test_a_statement_out_of_memory_under_the_cap_reads_the_file_again_uncapped(tmp_path, monkeypatch):
    p = generate(tmp_path / "m.jsonl", traces=40, seed=3)
    cols = ", ".join(schema.COLUMN_NAMES)
    expected_store = open_store(tmp_path / "expected.duckdb")
    expected_sources = ingest_files(expected_store, [p])
    expected = expected_store.execute(f"SELECT {cols} FROM {schema.TABLE} ORDER BY rowid").fetchall()

    removed = []
    remove_rows = ingest_mod._remove_rows
    monkeypatch.setattr(ingest_mod, "_remove_rows", lambda *a: (removed.append(a[1:]), remove_rows(*a)))
    monkeypatch.setattr(memory_cap, "LIMIT", "1MB")  # the first statement runs out of memory
    con = open_store(tmp_path / "s.duckdb")
    sources = ingest_files(con, [p])

    assert removed == [(str(p), True)]
    assert con.execute(f"SELECT {cols} FROM {schema.TABLE} ORDER BY rowid").fetchall() == expected
    assert sources == expected_sources  # the same report: nothing noted twice, nothing "unexpected"
    assert len(expected) == sources[0].spans_read > 200
    assert _limit(con) == _default()


def test_a_cap_duckdb_cannot_meet_leaves_the_ingest_uncapped(tmp_path, monkeypatch):
    seen: list = []
    _spy(monkeypatch, seen, batches, "plan")
    monkeypatch.setattr(memory_cap, "LIMIT", "64KB")  # below what DuckDB already holds
    p = generate(tmp_path / "m.jsonl", traces=5, seed=1)
    (expected,) = ingest_files(open_store(), [p])
    con = open_store(tmp_path / "s.duckdb")
    (source,) = ingest_files(con, [p])
    assert seen == [("plan", _default()), ("plan", _default())]
    assert source == expected and source.spans_read > 20


@pytest.mark.parametrize("in_file", [True, False])
def test_batches_are_mapped_on_one_duckdb_thread_and_the_callers_count_comes_back(tmp_path, monkeypatch, in_file):
    threads = []
    plan = batches.plan
    monkeypatch.setattr(batches, "plan", lambda con, *a, **k: (threads.append(con.execute("SELECT current_setting('threads')").fetchall()[0][0]), plan(con, *a, **k))[1])
    con = open_store(tmp_path / "s.duckdb" if in_file else None, threads=3)
    ingest_files(con, [generate(tmp_path / "m.jsonl", traces=5, seed=1)])
    assert threads == [1]
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
