"""AP1xx: each rule on a trace that must trigger it and one that must not."""

from __future__ import annotations

import pytest

from .kit import analyze_trace, assert_span_ids_exist, of
from .traces import llm, sequential_retrieval, tool


def test_known_answer_47s_run_sequential_vector_calls_is_top_finding(builder):
    ids = sequential_retrieval(builder)
    profile, con = analyze_trace(builder)
    assert profile.runs[0].wall_ns == 47_000_000_000
    top = profile.findings[0]
    assert top.code == "AP101"
    assert top.est_savings_s == pytest.approx(22.6, abs=0.2)
    assert top.span_ids == tuple(ids["retrievals"])
    assert top.severity == "high"  # 48% of the run
    assert "22.6 s (48%)" in top.message
    assert len(of(profile, "AP101")) == 1
    assert_span_ids_exist(profile, con)


@pytest.mark.parametrize("variant", ["dependent", "parallel"])
def test_ap101_not_for_dependent_or_already_parallel_calls(builder, variant):
    sequential_retrieval(builder, **{variant: True})
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP101") == []


def test_ap101_saving_is_capped_by_the_critical_path(builder):
    # Two sequential 1 s tool calls in a side branch that runs concurrently with a 10 s call:
    # they are off the critical path, so running them together saves nothing.
    root = builder.span("agent", category="agent", start=0, end=10.2)
    side = builder.span("side", category="chain", parent=root, start=0.1, end=2.2)
    tool(builder, side, "lookup", 0.1, 1.1)
    tool(builder, side, "lookup", 1.1, 2.1)
    tool(builder, root, "slow_api", 0.1, 10.1)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP101") == []


def test_ap102_tool_dominating_critical_path(builder):
    ids = sequential_retrieval(builder)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP102")
    assert f.span_ids == tuple(ids["retrievals"])
    assert "'vector_search' holds 33.9 s (72%)" in f.message
    assert "p95 11.3 s over 3 call(s)" in f.message


def test_ap102_not_when_tool_share_is_small(builder):
    root = builder.span("agent", category="agent", start=0, end=10)
    llm(builder, root, 0, 4, input_tokens=100, output_tokens=10)
    tool(builder, root, "search", 4, 7)  # 30% < 40%
    llm(builder, root, 7, 10, input_tokens=100, output_tokens=10)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP102") == []
    assert of(profile, "AP102") == [] and not of(analyze_trace(builder, thresholds={"tool_critical_share_max": 0.5})[0],
                                                    "AP102")
    assert of(analyze_trace(builder, thresholds={"tool_critical_share_max": 0.25})[0], "AP102")


def test_ap103_decode_bound_call(builder):
    root = builder.span("writer", category="agent", start=0, end=40)
    sid = llm(builder, root, 0, 38, input_tokens=2000, output_tokens=3000, ttft_ns=600_000_000)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP103")
    assert f.span_ids == (sid,)
    # 37.4 s of generation; capped at 1,000 of 3,000 tokens it would take a third.
    assert f.est_savings_s == pytest.approx(37.4 * 2 / 3, abs=1e-3)
    assert f.severity == "high"


def test_ap103_not_for_short_outputs(builder):
    root = builder.span("writer", category="agent", start=0, end=6)
    llm(builder, root, 0, 5, input_tokens=2000, output_tokens=300, ttft_ns=600_000_000)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP103") == []


def test_ap104_slow_ttft_for_a_short_prompt(builder):
    root = builder.span("agent", category="agent", start=0, end=10)
    sid = llm(builder, root, 0, 8, input_tokens=1200, output_tokens=100, ttft_ns=6_500_000_000)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP104")
    assert f.span_ids == (sid,)
    assert f.est_savings_s == pytest.approx(6.5 - (1.0 + 1.2 * 0.05), abs=1e-6)  # 5.44 s
    assert "6.5 s for 1,200 input tokens" in f.message


def test_ap104_not_when_long_input_explains_ttft(builder):
    root = builder.span("agent", category="agent", start=0, end=10)
    llm(builder, root, 0, 8, input_tokens=100_000, output_tokens=100, ttft_ns=5_000_000_000)  # expected 6 s
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP104") == []


def test_ap105_framework_overhead(builder):
    root = builder.span("agent", category="agent", start=0, end=12)
    a = llm(builder, root, 0, 2, input_tokens=100, output_tokens=10)
    t = tool(builder, root, "search", 8, 10)  # 6 s untraced between the LLM call and the tool
    b = llm(builder, root, 10, 12, input_tokens=100, output_tokens=10)
    profile, con = analyze_trace(builder)
    (f,) = of(profile, "AP105")
    assert f.est_savings_s == pytest.approx(6.0)
    assert f.severity == "high"
    assert f.span_ids == (root,)
    assert "6.0 s (50%)" in f.message
    assert_span_ids_exist(profile, con)
    assert {a, t, b}.isdisjoint(f.span_ids)


def test_ap106_context_injection(builder):
    root = builder.span("agent", category="agent", start=0, end=9)
    llm(builder, root, 0, 2, input_tokens=100, output_tokens=10)
    tool(builder, root, "search", 2, 4)
    nxt = llm(builder, root, 7, 9, input_tokens=100, output_tokens=10)  # 3 s from result to prompt
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP106")
    assert f.est_savings_s == pytest.approx(3.0)
    assert nxt in f.span_ids
    assert of(profile, "AP105") == []


def test_ap105_ap106_not_for_a_tight_run(builder):
    root = builder.span("agent", category="agent", start=0, end=6)
    llm(builder, root, 0, 2, input_tokens=100, output_tokens=10)
    tool(builder, root, "search", 2, 4)
    llm(builder, root, 4, 6, input_tokens=100, output_tokens=10)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP105") == [] and of(profile, "AP106") == []


def test_ap102_one_finding_per_tool_across_runs(builder):
    retrievals = []
    for i in range(3):
        if i:
            builder.trace()
        retrievals += sequential_retrieval(builder)["retrievals"]
    builder.trace()
    root = builder.span("agent", category="agent", start=0, end=10)
    llm(builder, root, 0, 9, input_tokens=100, output_tokens=10)
    tool(builder, root, "vector_search", 9, 10)  # 10%: not dominated
    profile, con = analyze_trace(builder)
    (f,) = of(profile, "AP102")
    assert f.run_id is None
    assert set(f.span_ids) == set(retrievals)
    assert "in 3 of 4 runs (median 72%, up to 72%)" in f.message
    assert_span_ids_exist(profile, con)


def test_ap107_slow_handoff(builder):
    root = builder.span("pipeline", category="agent", start=0, end=10)
    a = builder.span("writer", category="agent", parent=root, start=0, end=4, agent_name="writer")
    llm(builder, a, 0, 4, input_tokens=100, output_tokens=10, agent_name="writer")
    hand = builder.span("handoff to reviewer", category="handoff", parent=root, start=4, end=7)
    b = builder.span("reviewer", category="agent", parent=root, start=7, end=10, agent_name="reviewer")
    llm(builder, b, 7, 10, input_tokens=100, output_tokens=10, agent_name="reviewer")
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP107")
    assert f.est_savings_s == pytest.approx(3.0)
    assert f.span_ids == (hand,)
    assert f.severity == "high"


def test_ap108_slow_serialization(builder):
    root = builder.span("agent", category="agent", start=0, end=4)
    sid = llm(builder, root, 0, 2, input_tokens=100, output_tokens=10, serialization_ns=500_000_000)
    tool(builder, root, "search", 2, 4)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP108")
    assert f.est_savings_s == pytest.approx(0.5)
    assert f.span_ids == (sid,)
    assert "Request serialization takes 500 ms (12%)" in f.message


def test_ap107_ap108_not_for_a_single_agent_with_fast_requests(builder):
    root = builder.span("agent", category="agent", start=0, end=4)
    llm(builder, root, 0, 2, input_tokens=100, output_tokens=10, serialization_ns=100_000_000)  # 2.5%
    tool(builder, root, "search", 2, 4)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP107") == [] and of(profile, "AP108") == []


def test_component_rules_report_once_across_runs(builder):
    roots = []
    for gap in (6, 4, 2):  # framework overhead of 6/12, 4/10, 2/8 s
        if roots:
            builder.trace()
        root = builder.span("agent", category="agent", start=0, end=6 + gap)
        llm(builder, root, 0, 2, input_tokens=100, output_tokens=10)
        tool(builder, root, "search", 2 + gap, 4 + gap)
        llm(builder, root, 4 + gap, 6 + gap, input_tokens=100, output_tokens=10)
        roots.append(root)
    builder.trace()
    root = builder.span("agent", category="agent", start=0, end=6)  # no overhead
    llm(builder, root, 0, 2, input_tokens=100, output_tokens=10)
    tool(builder, root, "search", 2, 4)
    llm(builder, root, 4, 6, input_tokens=100, output_tokens=10)
    profile, con = analyze_trace(builder)
    (f,) = of(profile, "AP105")
    assert f.run_id is None
    assert f.est_savings_s == pytest.approx(4.0)  # the median run
    assert "in 3 of 4 runs: 4.0 s (40%) in the median one, up to 50%" in f.message
    assert f.span_ids == tuple(roots)
    assert_span_ids_exist(profile, con)


def test_ap101_ignores_the_issuing_llm_call_and_llm_calls_nested_in_a_tool(builder):
    root = builder.span("agent", category="agent", start=0, end=13)
    llm(builder, root, 0, 1.5, input_tokens=100, output_tokens=10)  # still streaming when the first call starts
    a = tool(builder, root, "summarize_page", 1.0, 5.0)
    llm(builder, a, 1.5, 4.5, input_tokens=900, output_tokens=100)  # the tool's own LLM call
    b = tool(builder, root, "fetch_page", 5.0, 9.0)
    c = tool(builder, root, "fetch_page", 9.0, 13.0)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP101")
    assert f.span_ids == (a, b, c)
    assert f.est_savings_s == pytest.approx(8.0)  # 12 s in a row, 4 s together


def test_ap101_an_llm_call_reading_a_result_splits_the_batch(builder):
    root = builder.span("agent", category="agent", start=0, end=13)
    a = tool(builder, root, "search", 0, 4)
    b = tool(builder, root, "search", 4, 8)
    llm(builder, root, 7.5, 8.5, input_tokens=100, output_tokens=10)  # starts during b, outlives it
    tool(builder, root, "open", 8.5, 12.5)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP101")
    assert f.span_ids == (a, b)
    assert f.est_savings_s == pytest.approx(4.0)
