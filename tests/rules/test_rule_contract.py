"""Every rule, on any input: never raises, and every finding rests on spans in the table.

Rules are called directly here (not through ``run_rules``, which would swallow an
exception), on an empty store, on single-span stores, on every hand-made trace of the rule
tests, and on generated span trees (hypothesis) with nulls, odd times, errors and unknown
models.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spanbuilder import TraceBuilder

from agentprof.analyzers import analyze
from agentprof.analyzers.context import RuleContext
from agentprof.analyzers.rules import all_rules
from agentprof.config import Config
from agentprof.profile import SEVERITIES, Aggregates
from agentprof.store import open_store

from .kit import assert_span_ids_exist
from .traces import compounding_history, sequential_retrieval, tool_sequence

CONFIGS = (Config(), Config(token_budget=1000, thresholds={"max_steps": 1, "loop_repeats_min": 2}))


def check_all_rules(con, profile=None, config=Config()):
    """Run every rule's check directly; return the findings (exceptions propagate)."""
    runs = profile.runs if profile else ()
    aggregates = profile.aggregates if profile else Aggregates(0, 0.0, None, None, 0, 0, 0, 0)
    ctx = RuleContext(con=con, config=config, runs=runs, aggregates=aggregates)
    found = []
    for r in all_rules():
        for f in r.check(ctx):
            assert f.code == r.code and f.name == r.name
            assert f.severity in SEVERITIES
            assert f.message and f.suggestion
            assert f.est_savings_s is None or f.est_savings_s >= 0
            assert f.est_savings_usd is None or f.est_savings_usd >= 0
            found.append(f)
    return found


@pytest.mark.parametrize("config", CONFIGS)
def test_empty_store(config):
    assert check_all_rules(open_store(), config=config) == []


@pytest.mark.parametrize("category", ["agent", "llm", "tool", "retrieval", "step", "other"])
@pytest.mark.parametrize("config", CONFIGS)
def test_single_span(category, config):
    b = TraceBuilder()
    b.span("only", category=category, start=0, end=1, input_tokens=10 if category == "llm" else None,
           output_tokens=5 if category == "llm" else None, tool_name="t" if category == "tool" else None)
    con = b.load()
    profile = analyze(con, config)
    check_all_rules(con, profile, config)


def _many_runs(b):
    """Several of the known-answer runs in one input, so cross-run findings appear too."""
    sequential_retrieval(b)
    b.trace()
    sequential_retrieval(b, dependent=True)
    b.trace()
    compounding_history(b, steps=8)
    b.trace()
    tool_sequence(b, [("fetch", "u"), ("parse", "p")] * 4, status={0: "error", 2: "error"})
    b.trace()
    tool_sequence(b, [("search", "q"), ("read", "r")] * 3 + [("t", str(i)) for i in range(20)],
                  status={5: "error"}, root_status="error", status_message="maximum iterations reached")


@pytest.mark.parametrize("build", [
    sequential_retrieval,
    compounding_history,
    lambda b: tool_sequence(b, [("open", "a"), ("test", "t")] * 4, status={1: "error"}),
    _many_runs,
])
def test_hand_made_traces_findings_rest_on_real_spans(build):
    b = TraceBuilder()
    build(b)
    con = b.load()
    profile = analyze(con, CONFIGS[1])
    assert profile.findings
    assert_span_ids_exist(profile, con)
    check_all_rules(con, profile, CONFIGS[1])


MODELS = st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "no-such-model", None])
CATEGORIES = st.sampled_from(["agent", "step", "llm", "tool", "retrieval", "embedding", "chain", "handoff", "other"])


@st.composite
def span_tables(draw):
    b = TraceBuilder()
    for t in range(draw(st.integers(1, 3))):
        if t:
            b.trace()
        ids: list[str] = []
        for _ in range(draw(st.integers(1, 14))):
            cat = draw(CATEGORIES)
            start = draw(st.floats(0, 60, allow_nan=False))
            end = start + draw(st.floats(0, 30, allow_nan=False))
            is_llm = cat == "llm"
            parent = draw(st.sampled_from([None, *ids])) if ids and draw(st.booleans()) else (ids[0] if ids else None)
            ids.append(b.span(
                draw(st.sampled_from(["x", "max iterations", "tool"])),
                category=cat, start=start, end=end, parent=parent,
                status=draw(st.sampled_from(["ok", "error", "unset"])),
                status_message=draw(st.sampled_from([None, "Recursion limit of 25 reached", "boom"])),
                request_model=draw(MODELS) if is_llm else None,
                input_tokens=draw(st.one_of(st.none(), st.integers(0, 300_000))) if is_llm else None,
                output_tokens=draw(st.one_of(st.none(), st.integers(0, 5000))) if is_llm else None,
                cache_read_tokens=draw(st.one_of(st.none(), st.integers(0, 1000))) if is_llm else None,
                ttft_ns=draw(st.one_of(st.none(), st.integers(0, 40_000_000_000))) if is_llm else None,
                system_chars=draw(st.one_of(st.none(), st.integers(0, 50_000))) if is_llm else None,
                tool_schema_chars=draw(st.one_of(st.none(), st.integers(0, 50_000))) if is_llm else None,
                history_chars=draw(st.one_of(st.none(), st.integers(0, 500_000))) if is_llm else None,
                tool_name=draw(st.sampled_from([None, "a", "b"])) if cat in ("tool", "retrieval") else None,
                tool_args_hash=draw(st.sampled_from([None, "", "h1", "h2"])) if cat in ("tool", "retrieval") else None,
            ))
    return b


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span_tables(), st.sampled_from(CONFIGS))
def test_generated_traces_never_break_a_rule(b, config):
    con = b.load()
    profile = analyze(con, config)
    check_all_rules(con, profile, config)
    assert_span_ids_exist(profile, con)
