"""The test trace builder itself: rows match the span-table contract."""

from __future__ import annotations

import pytest
from spanbuilder import T0_NS, TraceBuilder

from agentprof import schema


def test_rows_match_the_schema_and_load() -> None:
    b = TraceBuilder()
    root = b.span("root", category="agent", start=0, end=1.5)
    b.span("chat", category="llm", parent=root, start=0.25, end=1, input_tokens=3, cost_usd=0.5)
    b.trace()
    b.span("other trace", start_ns=5, end_ns=9)
    table = b.table()
    assert table.schema == schema.arrow_schema()
    rows = table.to_pylist()
    assert (rows[0]["start_ns"], rows[0]["end_ns"]) == (T0_NS, T0_NS + 1_500_000_000)
    assert rows[1]["parent_span_id"] == root and rows[1]["cost_source"] == "reported"
    assert rows[0]["trace_id"] == rows[1]["trace_id"] != rows[2]["trace_id"]
    assert (rows[2]["start_ns"], rows[2]["end_ns"]) == (5, 9)
    con = b.load()
    assert con.execute("SELECT count(DISTINCT trace_id), count(*) FROM spans").fetchall() == [(2, 3)]


def test_unknown_columns_are_refused() -> None:
    with pytest.raises(TypeError, match="not span-table columns"):
        TraceBuilder().span("x", input_tokenz=3)
