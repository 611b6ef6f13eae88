"""Ingest of traces written by real third-party instrumentations.

The fixtures in this folder were produced by ``generate.py``: OpenInference, the official
OpenTelemetry OpenAI instrumentation (old and latest GenAI conventions), OpenLLMetry /
Traceloop (current and legacy flat format) and pydantic-ai, all driving the real ``openai``
client against a deterministic mock server. ``expected.json`` holds what that server actually
served (models, usage) and what the span SDK actually produced (span counts, statuses), minus
what each library leaves out (``library_gaps``). These tests read only the committed files:
no network, no server.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCENARIOS: dict[str, dict[str, Any]] = json.loads((HERE / "expected.json").read_text())["scenarios"]
FILES = [(name, file) for name, entry in SCENARIOS.items() for file in entry["files"]]
FILE_IDS = [file for _, file in FILES]
MULTI_FORM = [name for name, entry in SCENARIOS.items() if len(entry["files"]) > 2]

# Columns that legitimately differ between encodings of the same spans.
PROVENANCE = {"source_format", "source_file"}


@functools.lru_cache(maxsize=None)
def _ingest(file: str) -> tuple[Any, tuple[Any, ...]]:
    from agentprof.ingest import ingest_files
    from agentprof.store import open_store

    con = open_store()
    sources = ingest_files(con, [HERE / file])
    return con, tuple(sources)


def _rows(con: Any, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return con.execute(sql, params or []).fetchall()


def _one(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    return con.execute(sql, params or []).fetchone()[0]


@pytest.fixture(params=FILES, ids=FILE_IDS)
def case(request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any], str]:
    name, file = request.param
    con, _ = _ingest(file)
    return con, SCENARIOS[name], file


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "file"), FILES, ids=FILE_IDS)
def test_file_is_read_whole_without_problems(name: str, file: str) -> None:
    _, sources = _ingest(file)
    assert len(sources) == 1
    src = sources[0]
    assert src.spans_read == SCENARIOS[name]["span_count"]
    assert src.spans_skipped == 0
    assert src.problems == ()


def test_span_trace_and_root_counts(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    assert _one(con, "SELECT count(*) FROM spans") == exp["span_count"]
    assert _one(con, "SELECT count(DISTINCT trace_id) FROM spans") == exp["trace_count"]
    roots = _rows(con, "SELECT name FROM spans WHERE parent_span_id IS NULL ORDER BY name")
    assert [r[0] for r in roots] == exp["root_names"]
    # every non-root points at a span of the same trace
    orphans = _one(con, """SELECT count(*) FROM spans c LEFT JOIN spans p
                           ON c.parent_span_id = p.span_id AND c.trace_id = p.trace_id
                           WHERE c.parent_span_id IS NOT NULL AND p.span_id IS NULL""")
    assert orphans == 0


def test_span_kinds(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    kinds = [r[0] for r in _rows(con, "SELECT kind FROM spans ORDER BY kind")]
    assert kinds == exp["kinds"]


def test_times_are_sane(case: tuple[Any, dict[str, Any], str]) -> None:
    con, _, _ = case
    bad = _one(con, "SELECT count(*) FROM spans WHERE end_ns < start_ns OR start_ns < 1600000000000000000")
    assert bad == 0


# ---------------------------------------------------------------------------------------------
# categories
# ---------------------------------------------------------------------------------------------

def test_llm_spans_are_the_served_calls(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    assert _one(con, "SELECT count(*) FROM spans WHERE category = 'llm'") == exp["llm_span_count"]
    assert _one(con, "SELECT count(*) FROM llm_calls") == exp["llm_span_count"]


def test_tool_spans(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    assert _one(con, "SELECT count(*) FROM spans WHERE category = 'tool'") == exp["tool_span_count"]
    names = sorted({r[0] for r in _rows(con, "SELECT tool_name FROM spans WHERE category = 'tool'")}, key=str)
    assert names == exp["tool_names"]
    if exp["tool_call_ids"]:
        ids = sorted(r[0] for r in _rows(con, "SELECT tool_call_id FROM spans WHERE category = 'tool'"))
        assert ids == exp["tool_call_ids"]


def test_agent_spans_are_the_roots(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    agents = [r[0] for r in _rows(con, "SELECT name FROM spans WHERE category = 'agent' ORDER BY name")]
    assert agents == exp["root_names"]
    assert len(agents) == exp["agent_span_count"]


def test_every_span_has_a_category_from_the_vocabulary(case: tuple[Any, dict[str, Any], str]) -> None:
    from agentprof.schema import CATEGORIES

    con, exp, _ = case
    cats = {r[0] for r in _rows(con, "SELECT DISTINCT category FROM spans")}
    assert cats <= set(CATEGORIES)
    # these traces hold only agent runs, chat calls and tool runs
    assert exp["llm_span_count"] + exp["tool_span_count"] + exp["agent_span_count"] == exp["span_count"]
    assert _one(con, "SELECT count(*) FROM spans WHERE category NOT IN ('agent', 'llm', 'tool')") == 0


# ---------------------------------------------------------------------------------------------
# models, provider, operation
# ---------------------------------------------------------------------------------------------

def test_models_as_served(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    req = sorted(r[0] for r in _rows(con, "SELECT DISTINCT request_model FROM llm_calls"))
    assert req == exp["request_models"]
    resp = sorted(r[0] for r in _rows(con, "SELECT DISTINCT response_model FROM llm_calls WHERE response_model IS NOT NULL"))
    assert resp == exp["response_models"]
    # every successful call names the model that answered
    ok_calls = sum(1 for c in exp["llm_calls"] if c["status"] == "ok")
    assert _one(con, "SELECT count(*) FROM llm_calls WHERE response_model IS NOT NULL") == ok_calls


def test_provider_is_lower_case_openai(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    providers = _rows(con, "SELECT provider, count(*) FROM llm_calls GROUP BY provider")
    assert providers == [("openai", exp["llm_span_count"])]


def test_operation_of_llm_spans_is_chat(case: tuple[Any, dict[str, Any], str]) -> None:
    """gen_ai.operation.name, or legacy OpenLLMetry's llm.request.type (renamed to it in semconv-ai 0.5)."""
    con, exp, _ = case
    ops = _rows(con, "SELECT operation, count(*) FROM llm_calls GROUP BY operation")
    if exp["llm_operation"] is None:  # not in the file (OpenInference): unknown, or inferred as chat
        assert len(ops) == 1 and ops[0][0] in (None, "chat") and ops[0][1] == exp["llm_span_count"]
    else:
        assert ops == [(exp["llm_operation"], exp["llm_span_count"])]


# ---------------------------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"])
def test_token_sums_over_llm_spans(case: tuple[Any, dict[str, Any], str], column: str) -> None:
    con, exp, _ = case
    assert _one(con, f"SELECT coalesce(sum({column}), 0) FROM llm_calls") == exp[column]


@pytest.mark.parametrize("column", ["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"])
def test_token_sums_over_all_spans_count_each_call_once(case: tuple[Any, dict[str, Any], str], column: str) -> None:
    """Agent spans carrying run totals (pydantic-ai's gen_ai.aggregated_usage.*, GenAI
    invoke_agent spans with gen_ai.usage.*) must not add to the calls' own usage."""
    con, exp, _ = case
    assert _one(con, f"SELECT coalesce(sum({column}), 0) FROM spans") == exp[column]
    assert _one(con, f"SELECT count(*) FROM spans WHERE category <> 'llm' AND coalesce({column}, 0) <> 0") == 0


def test_usage_per_call(case: tuple[Any, dict[str, Any], str]) -> None:
    """Each chat span carries its own call's numbers, not a neighbour's or a total."""
    con, exp, _ = case
    got = _rows(con, """SELECT CASE status WHEN 'error' THEN 'error' ELSE 'ok' END, coalesce(input_tokens, 0), coalesce(output_tokens, 0),
                               coalesce(cache_read_tokens, 0), coalesce(reasoning_tokens, 0), finish_reason
                        FROM llm_calls""")
    want = [(c["status"], c["input_tokens"] or 0, c["output_tokens"] or 0, c["cache_read_tokens"] or 0,
             c["reasoning_tokens"] or 0, c["finish_reason"]) for c in exp["llm_calls"]]
    key = lambda r: tuple("" if v is None else str(v) for v in r)  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)


def test_prompt_part_sizes_per_call(case: tuple[Any, dict[str, Any], str]) -> None:
    """System-prompt and tool-result characters measured from the captured messages equal
    what the server received (0 or NULL where the library captured no content)."""
    con, exp, _ = case
    got = _rows(con, """SELECT CASE status WHEN 'error' THEN 'error' ELSE 'ok' END,
                               coalesce(system_chars, 0), coalesce(tool_output_chars, 0) FROM llm_calls""")
    want = [(c["status"], c["system_chars"] or 0, c["tool_output_chars"] or 0) for c in exp["llm_calls"]]
    assert sorted(got) == sorted(want)


def test_cache_reads_are_inside_input(case: tuple[Any, dict[str, Any], str]) -> None:
    con, _, _ = case
    assert _one(con, "SELECT count(*) FROM llm_calls WHERE cache_read_tokens > input_tokens") == 0
    assert _one(con, "SELECT count(*) FROM llm_calls WHERE reasoning_tokens > output_tokens") == 0


def test_finish_reasons_as_written(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    got = sorted(r[0] for r in _rows(con, "SELECT finish_reason FROM llm_calls WHERE finish_reason IS NOT NULL"))
    assert got == exp["finish_reasons"]


# ---------------------------------------------------------------------------------------------
# status and errors
# ---------------------------------------------------------------------------------------------

def test_error_status(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    errors = [r[0] for r in _rows(con, "SELECT name FROM spans WHERE status = 'error' ORDER BY name")]
    assert errors == exp["error_span_names"]
    assert _one(con, "SELECT count(*) FROM llm_calls WHERE status = 'error'") == exp["llm_error_count"]
    # a failed span says why
    assert _one(con, "SELECT count(*) FROM spans WHERE status = 'error' AND coalesce(status_message, '') = ''") == 0
    # a failed call produced nothing
    assert _one(con, "SELECT count(*) FROM llm_calls WHERE status = 'error' AND output_tokens > 0") == 0


def test_error_type(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    got = sorted(r[0] or "" for r in _rows(con, "SELECT error_type FROM spans WHERE status = 'error'"))
    assert got == exp["error_types"]


def test_status_vocabulary(case: tuple[Any, dict[str, Any], str]) -> None:
    from agentprof.schema import STATUSES

    con, _, _ = case
    assert {r[0] for r in _rows(con, "SELECT DISTINCT status FROM spans")} <= set(STATUSES)


# ---------------------------------------------------------------------------------------------
# who: agent, session
# ---------------------------------------------------------------------------------------------

def test_agent_name_on_every_span(case: tuple[Any, dict[str, Any], str]) -> None:
    """Own gen_ai.agent.name / agent.name / traceloop agent entity, or inherited from the run."""
    con, exp, _ = case
    names = sorted({r[0] for r in _rows(con, "SELECT agent_name FROM spans")}, key=str)
    assert names == exp["agent_names"]


def test_session_of_the_runs(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    got = sorted({r[0] for r in _rows(con, "SELECT session_id FROM spans WHERE parent_span_id IS NULL")}, key=str)
    assert got == exp["session_ids"]


# ---------------------------------------------------------------------------------------------
# time to first chunk, cost
# ---------------------------------------------------------------------------------------------

def test_time_to_first_chunk(case: tuple[Any, dict[str, Any], str]) -> None:
    con, exp, _ = case
    if not exp["ttft"]:
        pytest.skip("this library records no time to first chunk as an attribute")
    got = sorted(r[0] for r in _rows(con, "SELECT ttft_ns FROM llm_calls WHERE ttft_ns IS NOT NULL"))
    want = sorted(round(t["ttft_s"] * 1e9) for t in exp["ttft"])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert abs(g - w) <= 1_000  # double seconds -> ns


def test_cost_of_recorded_usage(case: tuple[Any, dict[str, Any], str]) -> None:
    """genai-prices cost of exactly the usage each library recorded, on LLM spans only."""
    con, exp, _ = case
    assert _one(con, "SELECT coalesce(sum(cost_usd), 0) FROM llm_calls") == pytest.approx(exp["cost_usd"], rel=1e-6)
    assert _one(con, "SELECT coalesce(sum(cost_usd), 0) FROM spans") == pytest.approx(exp["cost_usd"], rel=1e-6)
    if exp["reported_cost_usd"]:  # pydantic-ai writes operation.cost on its chat spans
        assert exp["reported_cost_usd"] == pytest.approx(exp["cost_usd"], rel=1e-6)


def test_cost_source(case: tuple[Any, dict[str, Any], str]) -> None:
    """Reported where the trace carries a cost (pydantic-ai's operation.cost), computed from
    recorded usage elsewhere, unknown for calls without usage; NULL off LLM spans."""
    con, exp, _ = case
    with_usage = sum(1 for c in exp["llm_calls"] if c["input_tokens"] is not None)
    reported = exp["reported_cost_span_count"]
    got = dict(_rows(con, "SELECT cost_source, count(*) FROM llm_calls GROUP BY cost_source"))
    want = {"reported": reported, "computed": with_usage - reported, "unknown": exp["llm_span_count"] - with_usage}
    assert got == {k: v for k, v in want.items() if v}
    assert _one(con, "SELECT count(*) FROM spans WHERE category <> 'llm' AND cost_source IS NOT NULL") == 0


# ---------------------------------------------------------------------------------------------
# encodings
# ---------------------------------------------------------------------------------------------

def _table(file: str) -> list[tuple[Any, ...]]:
    from agentprof.schema import COLUMN_NAMES

    con, _ = _ingest(file)
    cols = [c for c in COLUMN_NAMES if c not in PROVENANCE]
    rows = _rows(con, f"SELECT {', '.join(cols)} FROM spans ORDER BY trace_id, span_id")
    # JSON columns compare as parsed values: key order and spacing are not data
    json_cols = {"attributes", "events", "resource"}
    return [tuple(json.loads(v) if c in json_cols and isinstance(v, str) else v for c, v in zip(cols, r)) for r in rows]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_protobuf_and_json_give_the_same_table(name: str) -> None:
    pb, js = f"{name}.pb", f"{name}.json"
    assert _table(pb) == _table(js)


@pytest.mark.parametrize("name", MULTI_FORM)
@pytest.mark.parametrize("form", [".jsonl", ".json.gz"])
def test_every_encoding_gives_the_same_table(name: str, form: str) -> None:
    assert _table(f"{name}{form}") == _table(f"{name}.pb")


@pytest.mark.parametrize(("name", "file"), FILES, ids=FILE_IDS)
def test_source_format_names_the_encoding(name: str, file: str) -> None:
    con, _ = _ingest(file)
    formats = {r[0] for r in _rows(con, "SELECT DISTINCT source_format FROM spans")}
    want = "otlp-proto" if file.endswith(".pb") else "otlp-jsonl" if file.endswith(".jsonl") else "otlp-json"
    assert formats == {want}
