"""Steps: inference vs explicit step spans, tool assignment, tokens, buckets, marginal cost."""

from __future__ import annotations

import pytest
from spanbuilder import TraceBuilder

from .helpers import analyze_builder


def three_step_run(b: TraceBuilder) -> dict[str, str]:
    ids = {"root": b.span("agent", category="agent", start=0, end=30, agent_name="a")}
    costs = (0.25, 0.375, 0.5)  # binary-exact, so marginal cost and growth are exact too
    for i, cost in enumerate(costs):
        t = 10 * i
        ids[f"llm{i}"] = b.span(f"chat {i}", category="llm", parent=ids["root"], start=t + 1, end=t + 3,
                                agent_name="a", input_tokens=1000 * (i + 1), output_tokens=10, cost_usd=cost,
                                cache_read_tokens=100 * i, cache_write_tokens=7)
        ids[f"tool{i}"] = b.span(f"tool {i}", category="tool", parent=ids["root"], start=t + 4, end=t + 6,
                                 agent_name="a", tool_name=f"t{i}")
    return ids


def test_inferred_steps_with_marginal_cost_and_growth(builder: TraceBuilder) -> None:
    ids = three_step_run(builder)
    run = analyze_builder(builder)[0].runs[0]
    assert run.step_count == 3
    s1, s2, s3 = run.steps
    assert [s.index for s in run.steps] == [1, 2, 3]
    assert [s.explicit for s in run.steps] == [False, False, False]
    assert [s.span_id for s in run.steps] == [ids["llm0"], ids["llm1"], ids["llm2"]]
    assert [s.cost_usd for s in run.steps] == [0.25, 0.375, 0.5]
    assert [s.cumulative_cost_usd for s in run.steps] == [0.25, 0.625, 1.125]
    assert [s.marginal_cost_usd for s in run.steps] == [None, 0.125, 0.125]
    assert [s.cost_growth for s in run.steps] == [None, 0.5, 0.125 / 0.375]
    assert [s.input_tokens for s in run.steps] == [1000, 2000, 3000]
    assert [s.cache_read_tokens for s in run.steps] == [0, 100, 200]
    assert [s.cache_write_tokens for s in run.steps] == [7, 7, 7]
    assert s1.tool_span_ids == (ids["tool0"],) and s1.tool_names == ("t0",)
    assert s3.llm_span_ids == (ids["llm2"],)
    # An inferred step lasts from its LLM call to the end of its last tool call.
    assert s2.duration_ns == 5_000_000_000
    assert run.cost_usd == 1.125 and run.input_tokens == 6000


def test_tools_nested_or_sibling_go_to_the_latest_llm_call_of_their_agent(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=20, agent_name="boss")
    l1 = builder.span("boss llm", category="llm", parent=root, start=1, end=5, agent_name="boss", cost_usd=0.1)
    nested = builder.span("nested tool", category="tool", parent=l1, start=2, end=3, agent_name="boss")
    w = builder.span("worker llm", category="llm", parent=root, start=6, end=7, agent_name="worker", cost_usd=0.1)
    wt = builder.span("worker tool", category="tool", parent=root, start=8, end=9, agent_name="worker")
    bt = builder.span("boss tool", category="tool", parent=root, start=10, end=11, agent_name="boss")
    early = builder.span("before any llm", category="tool", parent=root, start=0.5, end=0.8, agent_name="worker")
    run = analyze_builder(builder)[0].runs[0]
    by_llm = {s.llm_span_ids[0]: s for s in run.steps}
    assert by_llm[l1].tool_span_ids == (nested, bt)
    assert by_llm[w].tool_span_ids == (wt,)
    assert early not in {t for s in run.steps for t in s.tool_span_ids}
    # Steps are numbered by agent (in order of first appearance), then time.
    assert [(s.agent_name, s.index) for s in run.steps] == [("boss", 1), ("worker", 2)]


def test_explicit_step_spans_win_over_inference(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=20, agent_name="a")
    st1 = builder.span("agent.step.1", category="step", parent=root, start=0, end=9, step_number=1, agent_name="a")
    a = builder.span("llm a", category="llm", parent=st1, start=1, end=2, agent_name="a", cost_usd=0.5)
    t = builder.span("tool", category="tool", parent=st1, start=3, end=4, agent_name="a")
    st2 = builder.span("agent.step.2", category="step", parent=root, start=10, end=19, step_number=2, agent_name="a")
    b_ = builder.span("llm b", category="llm", parent=st2, start=11, end=12, agent_name="a", cost_usd=0.25)
    c = builder.span("llm c", category="llm", parent=st2, start=13, end=14, agent_name="a", cost_usd=0.25)
    run = analyze_builder(builder)[0].runs[0]
    assert [s.span_id for s in run.steps] == [st1, st2]  # 2 explicit steps, not 3 inferred ones
    assert all(s.explicit for s in run.steps)
    assert run.steps[0].llm_span_ids == (a,) and run.steps[0].tool_span_ids == (t,)
    assert run.steps[1].llm_span_ids == (b_, c)
    assert [s.cost_usd for s in run.steps] == [0.5, 0.5]
    assert [s.marginal_cost_usd for s in run.steps] == [None, 0.0]
    assert (run.steps[1].start_ns, run.steps[1].end_ns) == (run.start_ns + 10 * 10**9, run.start_ns + 19 * 10**9)
    views = {v.span_id: v for v in run.spans}
    assert views[c].step_index == 2 and views[st1].step_index == 1 and views[root].step_index is None


def test_buckets_apportion_input_tokens_by_measured_sizes(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    builder.span("exact", category="llm", parent=root, start=1, end=2, input_tokens=1000,
                 system_chars=100, tool_schema_chars=300, history_chars=500, tool_output_chars=100)
    builder.span("awkward", category="llm", parent=root, start=3, end=4, input_tokens=997,
                 system_chars=3, tool_schema_chars=7, history_chars=11, tool_output_chars=13)
    builder.span("unsized", category="llm", parent=root, start=5, end=6, input_tokens=500)
    builder.span("partly sized", category="llm", parent=root, start=7, end=8, input_tokens=300, system_chars=10,
                 history_chars=20)
    run = analyze_builder(builder)[0].runs[0]
    exact, awkward, unsized, partly = (s.buckets for s in run.steps)
    assert exact.as_mapping() == {"system": 100.0, "tool_schemas": 300.0, "history": 500.0, "tool_outputs": 100.0,
                                  "unattributed": 0.0}
    assert exact.estimated
    assert awkward.system_tokens == pytest.approx(997 * 3 / 34, abs=1e-9)
    assert awkward.tool_outputs_tokens == pytest.approx(997 * 13 / 34, abs=1e-9)
    assert abs(sum(awkward.as_mapping().values()) - 997) < 1e-6
    assert unsized.as_mapping() == {"system": 0.0, "tool_schemas": 0.0, "history": 0.0, "tool_outputs": 0.0,
                                    "unattributed": 500.0}
    assert not unsized.estimated
    # Parts the producer did not report count as absent (0), not as unknown.
    assert (partly.system_tokens, partly.history_tokens, partly.unattributed_tokens) == (100.0, 200.0, 0.0)
    for s in run.steps:
        assert abs(sum(s.buckets.as_mapping().values()) - s.input_tokens) < 1e-6


def test_step_buckets_sum_over_calls_and_embeddings_are_unattributed(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    st = builder.span("step", category="step", parent=root, start=0, end=9)
    builder.span("llm1", category="llm", parent=st, start=1, end=2, input_tokens=100, system_chars=1, history_chars=1)
    builder.span("llm2", category="llm", parent=st, start=3, end=4, input_tokens=60, history_chars=5)
    builder.span("embed", category="embedding", parent=st, start=5, end=6, input_tokens=40, cost_usd=0.001)
    run = analyze_builder(builder)[0].runs[0]
    (step,) = run.steps
    assert step.input_tokens == 200
    assert step.buckets.as_mapping() == {"system": 50.0, "tool_schemas": 0.0, "history": 110.0, "tool_outputs": 0.0,
                                         "unattributed": 40.0}
    assert step.tool_span_ids and step.cost_usd == 0.001


def test_unknown_cost_stays_none_and_tool_only_steps_cost_nothing(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    s1 = builder.span("s1", category="step", parent=root, start=0, end=3)
    builder.span("unpriced", category="llm", parent=s1, start=1, end=2, input_tokens=10, request_model="mystery-1")
    s2 = builder.span("s2", category="step", parent=root, start=4, end=6)
    builder.span("tool", category="tool", parent=s2, start=4.5, end=5)
    run = analyze_builder(builder)[0].runs[0]
    assert [s.cost_usd for s in run.steps] == [None, 0.0]
    assert run.steps[0].cumulative_cost_usd is None
    assert run.steps[1].marginal_cost_usd is None  # unknown minus 0 is unknown
    assert run.cost_usd is None
    assert run.unknown_models == ("mystery-1",)
    assert run.cost_sources == {"reported": 0, "computed": 0, "unknown": 1}


def test_marginal_cost_compares_steps_of_the_same_agent(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=20)
    for i, (agent, cost) in enumerate([("a", 0.25), ("b", 1.0), ("a", 0.5), ("b", 0.5)]):
        builder.span(f"llm {i}", category="llm", parent=root, start=i + 1, end=i + 1.5, agent_name=agent, cost_usd=cost)
    run = analyze_builder(builder)[0].runs[0]
    got = [(s.agent_name, s.cost_usd, s.marginal_cost_usd, s.cost_growth) for s in run.steps]
    assert got == [("a", 0.25, None, None), ("a", 0.5, 0.25, 1.0), ("b", 1.0, None, None), ("b", 0.5, -0.5, -0.5)]
    assert [s.cumulative_cost_usd for s in run.steps] == [0.25, 0.75, 1.75, 2.25]
