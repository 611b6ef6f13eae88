"""normalize_into straight into the span table (the DuckDB exporter's path), finalize, prompt parts."""

from __future__ import annotations

import json

from agentprof.ingest import normalize, prompt_parts
from agentprof.ingest.raw import rows_to_arrow
from agentprof.store import open_store

T = "ab" * 16


def row(span_id, parent, name, attrs, start=0, end=10):
    return (T, span_id, parent, name, "INTERNAL", start, end, "ok", None, json.dumps(attrs), "[]", '{"service.name": "svc"}', "scope")


def test_batches_in_end_order_then_finalize():
    """Children end (and are exported) before their agent: inheritance must wait for finalize."""
    con = open_store()
    first = [
        row("0000000000000002", "0000000000000001", "chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 10}),
        row("0000000000000003", "0000000000000002", "inner", {}),
    ]
    second = [row("0000000000000001", None, "invoke_agent planner", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}, end=None)]
    assert normalize.normalize_into(con, rows_to_arrow(first, "agentprof", None)) == 2
    assert normalize.normalize_into(con, rows_to_arrow(second, "agentprof", None)) == 1
    assert con.execute("SELECT count(*) FROM spans WHERE agent_name IS NOT NULL").fetchone()[0] == 1
    normalize.finalize(con)
    normalize.finalize(con)  # idempotent
    got = con.execute("SELECT span_id, category, agent_name, end_ns, service_name, source_format FROM spans ORDER BY span_id").fetchall()
    assert got == [
        ("0000000000000001", "agent", "planner", 0, "svc", "agentprof"),  # no end: the start, in the direct path
        ("0000000000000002", "llm", "planner", 10, "svc", "agentprof"),
        ("0000000000000003", "other", "planner", 10, "svc", "agentprof"),
    ]


def test_nearest_agent_wins():
    con = open_store()
    rows = [
        row("0000000000000001", None, "invoke_agent boss", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "boss"}),
        row("0000000000000002", "0000000000000001", "invoke_agent worker", {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "worker"}),
        row("0000000000000003", "0000000000000002", "step", {}),
        row("0000000000000004", "0000000000000003", "tool", {"gen_ai.tool.name": "t"}),
        row("0000000000000005", "0000000000000001", "other", {}),
    ]
    normalize.normalize_into(con, rows_to_arrow(rows, "agentprof", None))
    normalize.finalize(con)
    assert con.execute("SELECT agent_name FROM spans ORDER BY span_id").fetchall() == [("boss",), ("worker",), ("worker",), ("worker",), ("boss",)]


def test_prompt_parts_measure():
    attrs = {
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],  # structured (kvlist/array form)
        "gen_ai.input.messages": json.dumps([
            {"role": "user", "parts": [{"type": "text", "content": "hello"}]},
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "c", "result": {"t": 21}}]},  # registry's "result" spelling
            {"role": "assistant", "content": "old style"},
        ]),
    }
    # system 9; history "hello" 5 + "old style" 9; tool output {"t":21} = 8
    assert prompt_parts.measure(attrs) == (9, 0, 14, 8)
    assert prompt_parts.measure({"gen_ai.prompt.0.role": "tool", "gen_ai.prompt.0.content": "42"}) == (0, 0, 0, 2)
    assert prompt_parts.measure({"llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.contents.0.message_content.text": "abc"}) == (0, 0, 3, 0)
    assert prompt_parts.measure({"gen_ai.request.model": "x"}) is None


def test_own_prompt_sizes_win_over_measured():
    con = open_store()
    attrs = {"gen_ai.operation.name": "chat", "agentprof.prompt.system_chars": 1000, "agentprof.prompt.history_chars": 5,
             "gen_ai.input.messages": json.dumps([{"role": "system", "parts": [{"type": "text", "content": "abc"}]}])}
    normalize.normalize_into(con, rows_to_arrow([row("0000000000000001", None, "chat", attrs)], "agentprof", None))
    assert con.execute("SELECT system_chars, tool_schema_chars, history_chars, tool_output_chars FROM spans").fetchone() == (1000, 0, 5, 0)
