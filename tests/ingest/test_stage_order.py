"""Spans reach the span table in the order the file holds them, through the stage and its
repairs, without sorting the stage (``repair.stage_spans`` and ``repair.move_stage``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest

from agentprof import schema
from agentprof.ingest import batches, ingest_files, onepass, read_file, repair
from agentprof.ingest._report import FileReport
from agentprof.store import open_store
from tests.ingest.test_onepass import _clean_file, generate


def _read_order(path, fast: bool) -> list[tuple[str, str]]:
    """(trace id, span id) of every span in the order its reader yields them, first copies
    only: the file's order for the Arrow readers, the lenient reader's rows otherwise."""
    seen: dict[tuple[str, str], None] = {}
    if fast:
        for line in path.read_bytes().splitlines():
            for rs in orjson.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        seen.setdefault((s["traceId"].lower(), s["spanId"].lower()), None)
    else:
        for rows, _ in read_file(str(path), FileReport(str(path)), "otlp-jsonl", False, 7):
            for row in rows:
                seen.setdefault((row[0], row[1]), None)
    return list(seen)


def _late_problems(tmp_path):
    """Clean trees first (they load straight into the span table), then random trees with
    missing ends and an orphan (repairs that update rows), and a line sent twice further
    down (duplicates the stage deletes)."""
    clean = _clean_file(tmp_path / "clean.jsonl", traces=30).read_bytes().splitlines()
    mixed = generate(tmp_path / "m.jsonl", traces=60, seed=11).read_bytes().splitlines()
    p = tmp_path / "late.jsonl"
    p.write_bytes(b"\n".join(clean + mixed[:40] + [mixed[5]] + mixed[40:]) + b"\n")
    return p


@pytest.mark.parametrize(("fast", "in_file"), [(True, True), (False, True), (False, False)])
def test_spans_keep_the_files_order_through_the_stage(tmp_path, monkeypatch, fast, in_file):
    # Statements of 7 spans, so that many rows are in the span table when the first problem
    # sends them to the stage; the lenient reader's statements then join the ends of two of
    # its batches.
    monkeypatch.setattr(batches, "row_group_rows", lambda con: 7)
    monkeypatch.setattr(batches, "IN_MEMORY_ROWS", 7)
    moved = []
    stage_spans = repair.stage_spans
    monkeypatch.setattr(repair, "stage_spans", lambda con: (moved.append(con.execute("SELECT count(*) FROM spans").fetchall()[0][0]), stage_spans(con)))
    p = _late_problems(tmp_path)
    con = open_store(tmp_path / "s.duckdb" if in_file else None)
    (source,) = ingest_files(con, [p], fast=fast, batch_spans=7)
    stored = con.execute("SELECT trace_id, span_id FROM spans ORDER BY rowid").fetchall()
    expected = _read_order(p, fast)
    assert stored == expected
    assert moved and moved[0] >= 30 * 6  # the clean trees had gone straight in
    assert any("duplicate span id" in m for m in source.problems)
    assert any("no end time" in m for m in source.problems)
    assert source.spans_read == len(expected) > 400


def test_staged_rows_are_numbered_before_every_later_row(tmp_path):
    con = open_store(tmp_path / "s.duckdb")
    repair.create_stage(con)
    con.execute("INSERT INTO spans SELECT * FROM (SELECT * FROM spans LIMIT 0)")
    for i in range(5):
        con.execute(
            "INSERT INTO spans (trace_id, span_id, name, category, start_ns, end_ns, status, source_format) "
            f"VALUES ('t', 's{i}', 'n', 'other', 1, 2, 'ok', 'x')"
        )
    con.execute("DELETE FROM spans WHERE span_id = 's0'")  # a gap in the row ids
    repair.stage_spans(con)
    con.execute(
        f"INSERT INTO {repair.STAGE} (trace_id, span_id, name, category, start_ns, end_ns, status, source_format, _bad) "
        "VALUES ('t', 'later', 'n', 'other', 1, 2, 'ok', 'x', [])"
    )
    rows = con.execute(f"SELECT span_id, _seq FROM {repair.STAGE} ORDER BY rowid").fetchall()
    assert [r[0] for r in rows] == ["s1", "s2", "s3", "s4", "later"]
    seqs = [r[1] for r in rows]
    assert seqs[3] == 0 and seqs == sorted(seqs) and seqs[4] == 1
    assert con.execute("SELECT count(*) FROM spans").fetchall() == [(0,)]


def test_without_insertion_order_the_move_sorts_by_read_order(tmp_path):
    con = open_store(tmp_path / "s.duckdb")
    con.execute("SET preserve_insertion_order = false")
    repair.create_stage(con)
    for seq in (3, 1, 2):  # stored out of read order
        con.execute(
            f"INSERT INTO {repair.STAGE} (trace_id, span_id, name, category, start_ns, end_ns, status, source_format, _bad, _seq) "
            f"VALUES ('t', 's{seq}', 'n', 'other', 1, 2, 'ok', 'x', [], {seq})"
        )
    assert repair.move_stage(con) == {None: 3}
    assert con.execute("SELECT span_id FROM spans ORDER BY rowid").fetchall() == [("s1",), ("s2",), ("s3",)]


@pytest.mark.parametrize("in_file", [True, False])
def test_statements_of_many_parsed_blocks_keep_the_files_order(tmp_path, in_file):
    # The benchmark's spans (with agentprof.span.category, whose check DuckDB planned as a
    # hash join when written as an IN list), in statements of several 1 MiB blocks: Arrow
    # tables of several chunks, which DuckDB scans on both cores. Through that join it
    # inserted the chunks out of order.
    spec = importlib.util.spec_from_file_location("gen_corpus", Path(__file__).resolve().parents[2] / "bench" / "gen_corpus.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    p = gen.generate(20_000, tmp_path, {"jsonl"}, seed=7)["jsonl"]
    con = open_store(tmp_path / "s.duckdb" if in_file else None)
    n, into = onepass.ingest_jsonl(con, p, target=schema.TABLE, batch_bytes=1024 * 1024, rows_per_insert=20_000)
    assert into == schema.TABLE and n == 20_000
    stored = con.execute("SELECT trace_id, span_id FROM spans ORDER BY rowid").fetchall()
    assert stored == _read_order(p, True)
