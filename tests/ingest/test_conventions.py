"""Each attribute convention maps to exact span-table values (FORMATS.md §3–§5 captured spans)."""

from __future__ import annotations

import json

import pytest
from ingest_builders import sdk_request, span
from opentelemetry.trace import SpanKind

from agentprof.ingest import ingest_files
from agentprof.store import open_store

SYSTEM = "You are terse."  # 14 chars
USER = "Weather in Paris?"  # 17 chars
PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}}
GENAI_TOOL_DEFS = json.dumps([{"type": "function", "name": "get_weather", "description": "Get weather", "parameters": PARAMS}])
GENAI_TOOL_DEFS_CHARS = 139  # compact JSON of the one definition
OI_TOOL_SCHEMA = json.dumps({"type": "function", "function": {"name": "get_weather", "description": "Get weather", "parameters": PARAMS}})
OI_TOOL_SCHEMA_CHARS = 152
LEGACY_FUNCTION_CHARS = 121  # {"name","description","parameters"} as compact JSON
MESSAGES = json.dumps(
    [
        {"role": "system", "parts": [{"content": SYSTEM, "type": "text"}]},
        {"role": "user", "parts": [{"content": USER, "type": "text"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57°F"}]},
    ]
)
# history: USER (17) + tool call name (11) + arguments {"city":"Paris"} (16) = 44; tool output "rainy, 57°F" = 11
GPT4O_MINI_50_12 = 0.0000147  # genai-prices: 50 in × $0.15/M + 12 out × $0.60/M
GPT4O_MINI_50_32_12 = 0.0000123  # 18 uncached + 32 cached × $0.075/M + 12 out

COLS = (
    "name, category, provider, request_model, response_model, input_tokens, output_tokens, cache_read_tokens,"
    " cache_write_tokens, reasoning_tokens, finish_reason, cost_source, cost_usd, system_chars, tool_schema_chars,"
    " history_chars, tool_output_chars, tool_name, agent_name, session_id, user_id"
)


def ingest(tmp_path, build):
    from ingest_builders import write_forms

    paths = write_forms(sdk_request(build), tmp_path)
    con = open_store()
    (sf,) = ingest_files(con, [paths["lines.jsonl"]])
    assert sf.problems == ()
    return con


def rows(con, where="TRUE"):
    cur = con.execute(f"SELECT {COLS} FROM spans WHERE {where} ORDER BY start_ns, name")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_genai_latest(tmp_path):
    def build(t):
        root = span(t, "invoke_agent weather", 0, None, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather", "gen_ai.conversation.id": "conv-1", "user.id": "u-9"})
        span(t, "chat gpt-4o-mini", 1, 50, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.response.finish_reasons": ("tool_calls",),
            "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 12, "gen_ai.input.messages": MESSAGES,
            "gen_ai.tool.definitions": GENAI_TOOL_DEFS, "gen_ai.response.time_to_first_chunk": 0.25,
            "gen_ai.usage.reasoning.output_tokens": 3,
        }, root, kind=SpanKind.CLIENT)
        span(t, "execute_tool get_weather", 51, 60, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1"}, root)
        root.end(end_time=root.start_time + 100_000_000)

    con = ingest(tmp_path, build)
    agent, chat, tool = rows(con)
    assert agent["category"] == "agent" and agent["agent_name"] == "weather" and agent["session_id"] == "conv-1" and agent["user_id"] == "u-9"
    assert chat == {
        "name": "chat gpt-4o-mini", "category": "llm", "provider": "openai", "request_model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18", "input_tokens": 50, "output_tokens": 12, "cache_read_tokens": None,
        "cache_write_tokens": None, "reasoning_tokens": 3, "finish_reason": "tool_calls", "cost_source": "computed",
        "cost_usd": pytest.approx(GPT4O_MINI_50_12, rel=1e-9), "system_chars": 14, "tool_schema_chars": GENAI_TOOL_DEFS_CHARS,
        "history_chars": 44, "tool_output_chars": 11, "tool_name": None, "agent_name": "weather", "session_id": None, "user_id": None,
    }
    assert con.execute("SELECT ttft_ns FROM spans WHERE category = 'llm'").fetchone()[0] == 250_000_000
    assert tool["category"] == "tool" and tool["tool_name"] == "get_weather" and tool["agent_name"] == "weather"
    assert con.execute("SELECT tool_call_id FROM spans WHERE category = 'tool'").fetchone()[0] == "call_1"


def test_genai_deprecated_names(tmp_path):
    def build(t):
        span(t, "chat gpt-4o-mini", 0, 10, {
            "gen_ai.system": "az.ai.openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 50, "gen_ai.usage.completion_tokens": 12,
        })
        span(t, "chat gemini", 11, 20, {"gen_ai.system": "vertex_ai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "gemini-2.5-flash"})
        span(t, "chat grok", 21, 30, {"gen_ai.system": "xai", "gen_ai.operation.name": "text_completion", "gen_ai.request.model": "grok-zzz-unknown", "gen_ai.usage.input_tokens": 5})

    con = ingest(tmp_path, build)
    azure, gemini, grok = rows(con)
    assert (azure["provider"], azure["input_tokens"], azure["output_tokens"], azure["category"]) == ("azure.ai.openai", 50, 12, "llm")
    assert azure["cost_source"] == "computed" and azure["cost_usd"] == pytest.approx(GPT4O_MINI_50_12, rel=1e-9)
    assert (gemini["provider"], gemini["cost_source"], gemini["cost_usd"]) == ("gcp.vertex_ai", "unknown", None)  # no tokens
    assert (grok["provider"], grok["cost_source"], grok["cost_usd"]) == ("x_ai", "unknown", None)


def test_openinference(tmp_path):
    def build(t):
        chain = span(t, "RunnableSequence", 0, None, {"openinference.span.kind": "CHAIN", "session.id": "s-1", "llm.token_count.prompt": 999})
        span(t, "ChatCompletion", 1, 40, {
            "openinference.span.kind": "LLM", "llm.provider": "openai", "llm.system": "openai",
            "llm.model_name": "gpt-4o-mini-2024-07-18",
            "llm.invocation_parameters": '{"model": "gpt-4o-mini", "max_tokens": 100, "temperature": 0.2}',
            "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": SYSTEM,
            "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": USER,
            "llm.tools.0.tool.json_schema": OI_TOOL_SCHEMA,
            "llm.output_messages.0.message.role": "assistant",
            "llm.token_count.prompt": 50, "llm.token_count.completion": 12, "llm.token_count.total": 62,
            "llm.token_count.prompt_details.cache_read": 32, "llm.token_count.completion_details.reasoning": 0,
            "llm.finish_reason": "tool_calls", "session.id": "s-1",
        }, chain)
        span(t, "get_weather", 41, 50, {"openinference.span.kind": "TOOL", "tool.name": "get_weather", "input.value": "Paris", "session.id": "s-1"}, chain)
        span(t, "claude", 51, 60, {
            "openinference.span.kind": "LLM", "llm.provider": "anthropic", "llm.model_name": "claude-sonnet-4-5-20250929",
            "llm.token_count.prompt": 650, "llm.token_count.completion": 20,
            "llm.token_count.prompt_details.cache_read": 500, "llm.token_count.prompt_details.cache_write": 50,
            "llm.cost.total": 0.5,
        }, chain)
        chain.end(end_time=chain.start_time + 100_000_000)

    con = ingest(tmp_path, build)
    chain, llm, tool, claude = rows(con)
    assert chain["category"] == "chain" and chain["input_tokens"] is None  # usage on a chain stays in attributes
    assert llm == {
        "name": "ChatCompletion", "category": "llm", "provider": "openai", "request_model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18", "input_tokens": 50, "output_tokens": 12, "cache_read_tokens": 32,
        "cache_write_tokens": None, "reasoning_tokens": 0, "finish_reason": "tool_calls", "cost_source": "computed",
        "cost_usd": pytest.approx(GPT4O_MINI_50_32_12, rel=1e-9), "system_chars": 14, "tool_schema_chars": OI_TOOL_SCHEMA_CHARS,
        "history_chars": 17, "tool_output_chars": 0, "tool_name": None, "agent_name": None, "session_id": "s-1", "user_id": None,
    }
    assert (tool["category"], tool["tool_name"], tool["session_id"]) == ("tool", "get_weather", "s-1")
    import hashlib

    assert con.execute("SELECT tool_args_hash FROM spans WHERE category = 'tool'").fetchone()[0] == hashlib.md5(b"Paris").hexdigest()
    # Anthropic via OpenInference: prompt is already inclusive of cache (650 >= 500 + 50); reported cost kept.
    assert (claude["input_tokens"], claude["cache_read_tokens"], claude["cache_write_tokens"]) == (650, 500, 50)
    assert (claude["cost_source"], claude["cost_usd"]) == ("reported", 0.5)


def test_openllmetry_legacy(tmp_path):
    def build(t):
        wf = span(t, "weather_agent.workflow", 0, None, {"traceloop.span.kind": "workflow", "traceloop.entity.name": "weather_agent",
                                                         "traceloop.association.properties.session_id": "s-7", "traceloop.association.properties.user_id": "u-1"})
        task = span(t, "plan.task", 1, None, {"traceloop.span.kind": "task", "traceloop.entity.name": "plan"}, wf)
        span(t, "openai.chat", 2, 30, {
            "llm.request.type": "chat", "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": SYSTEM,
            "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": USER,
            "llm.request.functions.0.name": "get_weather", "llm.request.functions.0.description": "Get weather",
            "llm.request.functions.0.parameters": json.dumps(PARAMS),
            "llm.usage.total_tokens": 62, "gen_ai.usage.prompt_tokens": 50, "gen_ai.usage.completion_tokens": 12,
            "gen_ai.usage.cache_read_input_tokens": 32, "gen_ai.completion.0.finish_reason": "tool_calls",
        }, task, kind=SpanKind.CLIENT)
        task.end(end_time=task.start_time + 40_000_000)
        span(t, "get_weather.tool", 41, 50, {"traceloop.span.kind": "tool", "traceloop.entity.name": "get_weather",
                                             "traceloop.entity.input": '{"args": ["Paris"], "kwargs": {}}'}, wf)
        span(t, "anthropic.chat", 51, 60, {
            "llm.request.type": "chat", "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-sonnet-4-5-20250929",
            "gen_ai.usage.prompt_tokens": 100, "gen_ai.usage.completion_tokens": 20,
            "gen_ai.usage.cache_read_input_tokens": 500, "gen_ai.usage.cache_creation_input_tokens": 50,
        }, wf, kind=SpanKind.CLIENT)
        wf.end(end_time=wf.start_time + 100_000_000)

    con = ingest(tmp_path, build)
    wf, task, chat, tool, claude = rows(con)
    assert (wf["category"], wf["agent_name"], wf["session_id"], wf["user_id"]) == ("agent", "weather_agent", "s-7", "u-1")
    assert (task["category"], task["agent_name"]) == ("chain", "weather_agent")
    assert chat == {
        "name": "openai.chat", "category": "llm", "provider": "openai", "request_model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18", "input_tokens": 50, "output_tokens": 12, "cache_read_tokens": 32,
        "cache_write_tokens": None, "reasoning_tokens": None, "finish_reason": "tool_calls", "cost_source": "computed",
        "cost_usd": pytest.approx(GPT4O_MINI_50_32_12, rel=1e-9), "system_chars": 14, "tool_schema_chars": LEGACY_FUNCTION_CHARS,
        "history_chars": 17, "tool_output_chars": 0, "tool_name": None, "agent_name": "weather_agent", "session_id": None, "user_id": None,
    }
    assert (tool["category"], tool["tool_name"]) == ("tool", "get_weather")
    # Anthropic's exclusive count (100 < 500 + 50 cached) is made inclusive: 650; priced as genai-prices does.
    assert (claude["provider"], claude["input_tokens"], claude["cache_read_tokens"], claude["cache_write_tokens"]) == ("anthropic", 650, 500, 50)
    assert claude["cost_source"] == "computed" and claude["cost_usd"] == pytest.approx(0.0009375, rel=1e-9)


def test_openllmetry_new_json_messages(tmp_path):
    def build(t):
        span(t, "openai.chat", 0, 30, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.is_streaming": False,
            "gen_ai.input.messages": json.dumps([{"role": "system", "parts": [{"content": SYSTEM, "type": "text"}]}, {"role": "user", "parts": [{"content": USER, "type": "text"}]}]),
            "gen_ai.tool.definitions": GENAI_TOOL_DEFS, "gen_ai.response.finish_reasons": ("tool_call",),
            "gen_ai.usage.input_tokens": 50, "gen_ai.usage.output_tokens": 12, "gen_ai.usage.total_tokens": 62,
            "gen_ai.usage.cache_read.input_tokens": 32, "gen_ai.usage.reasoning_tokens": 0,
        }, kind=SpanKind.CLIENT)

    con = ingest(tmp_path, build)
    (chat,) = rows(con)
    assert (chat["category"], chat["input_tokens"], chat["output_tokens"], chat["cache_read_tokens"], chat["reasoning_tokens"]) == ("llm", 50, 12, 32, 0)
    assert (chat["finish_reason"], chat["system_chars"], chat["tool_schema_chars"], chat["history_chars"], chat["tool_output_chars"]) == ("tool_call", 14, 139, 17, 0)
    assert chat["cost_usd"] == pytest.approx(GPT4O_MINI_50_32_12, rel=1e-9)


def test_pydantic_ai_aggregated_usage_is_not_double_counted(tmp_path):
    def build(t):
        run = span(t, "agent run", 0, None, {
            "agent_name": "support", "gen_ai.agent.name": "support", "model_name": "gpt-4o",
            "gen_ai.aggregated_usage.input_tokens": 3000, "gen_ai.aggregated_usage.output_tokens": 300,
            "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 300,  # older pydantic-ai names
        })
        span(t, "chat gpt-4o", 1, 10, {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                                       "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}, run)
        span(t, "running tool", 11, 15, {"gen_ai.tool.name": "lookup", "gen_ai.tool.call.id": "c1", "tool_arguments": '{"q": "x"}'}, run)
        span(t, "chat gpt-4o", 16, 30, {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                                        "gen_ai.usage.input_tokens": 2000, "gen_ai.usage.output_tokens": 200}, run)
        run.end(end_time=run.start_time + 40_000_000)

    con = ingest(tmp_path, build)
    assert con.execute("SELECT sum(input_tokens), sum(output_tokens), count(*) FILTER (category = 'llm') FROM spans").fetchone() == (3000, 300, 2)
    assert con.execute("SELECT category, agent_name, input_tokens FROM spans WHERE name = 'agent run'").fetchone() == ("agent", "support", None)
    tool = con.execute("SELECT category, tool_name, tool_call_id, agent_name, tool_args_hash FROM spans WHERE name = 'running tool'").fetchone()
    import hashlib

    assert tool == ("tool", "lookup", "c1", "support", hashlib.md5(b'{"q":"x"}').hexdigest())
    # gpt-4o: 3000 in × $2.5/M + 300 out × $10/M
    assert con.execute("SELECT sum(cost_usd) FROM spans").fetchone()[0] == pytest.approx(0.0105, rel=1e-9)


def test_llm_span_wrapping_an_llm_span_is_counted_once(tmp_path):
    def build(t):
        outer = span(t, "ChatOpenAI", 0, None, {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.token_count.prompt": 1000, "llm.token_count.completion": 100})
        span(t, "chat gpt-4o", 1, 9, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
                                      "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100}, outer)
        outer.end(end_time=outer.start_time + 10_000_000)

    con = ingest(tmp_path, build)
    assert con.execute("SELECT name, category, input_tokens FROM spans ORDER BY start_ns").fetchall() == [
        ("ChatOpenAI", "chain", None),
        ("chat gpt-4o", "llm", 1000),
    ]


def test_categories_from_names_and_kinds(tmp_path):
    def build(t):
        span(t, "agent.step.3", 0, 1, {})
        span(t, "handoff to billing", 2, 3, {})
        span(t, "x", 4, 5, {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1000})
        span(t, "y", 6, 7, {"openinference.span.kind": "RETRIEVER"})
        span(t, "z", 8, 9, {"agentprof.span.category": "step", "agentprof.step.number": 7, "gen_ai.operation.name": "chat", "agentprof.human_approval": True})
        span(t, "w", 10, 11, {"gen_ai.operation.name": "handoff"})

    con = ingest(tmp_path, build)
    got = con.execute("SELECT name, category, step_number, escalated, cost_source, round(cost_usd, 12) FROM spans ORDER BY start_ns").fetchall()
    assert got == [
        ("agent.step.3", "step", 3, None, None, None),
        ("handoff to billing", "handoff", None, None, None, None),
        ("x", "embedding", None, None, "computed", 0.00002),
        ("y", "retrieval", None, None, None, None),
        ("z", "step", 7, True, None, None),
        ("w", "handoff", None, None, None, None),
    ]
