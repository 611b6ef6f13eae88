"""Latency components: one test per attribution rule of docs/latency.md, each summing to wall time."""

from __future__ import annotations

from spanbuilder import TraceBuilder, s_to_ns

from .helpers import analyze_builder, components

S = 1_000_000_000
ZERO = {
    "serialization": 0, "ttft": 0, "generation": 0, "tool_execution": 0, "context_injection": 0,
    "framework_overhead": 0, "coordination": 0, "llm_unsplit": 0, "unattributed": 0,
}


def comps(b: TraceBuilder) -> dict[str, int]:
    run = analyze_builder(b)[0].runs[0]
    c = components(run)
    assert sum(c.values()) == run.wall_ns
    assert abs(sum(x.share for x in run.components) - 1.0) < 1e-9 or run.wall_ns == 0
    return {k: v for k, v in c.items() if v}


def test_llm_call_splits_into_serialization_ttft_generation(builder: TraceBuilder) -> None:
    builder.span("chat", category="llm", start=0, end=10, serialization_ns=s_to_ns(1), ttft_ns=s_to_ns(4))
    assert comps(builder) == {"serialization": 1 * S, "ttft": 3 * S, "generation": 6 * S}


def test_llm_call_without_ttft_is_unsplit_not_invented(builder: TraceBuilder) -> None:
    builder.span("chat", category="llm", start=0, end=10, serialization_ns=s_to_ns(2))
    assert comps(builder) == {"serialization": 2 * S, "llm_unsplit": 8 * S}


def test_inconsistent_marks_are_clamped_to_the_call(builder: TraceBuilder) -> None:
    builder.span("chat", category="llm", start=0, end=10, serialization_ns=s_to_ns(3), ttft_ns=s_to_ns(2))
    builder.trace()
    builder.span("chat", category="llm", start=0, end=10, ttft_ns=s_to_ns(30))
    profile = analyze_builder(builder)[0]
    assert {k: v for k, v in components(profile.runs[0]).items() if v} == {"serialization": 3 * S, "generation": 7 * S}
    assert {k: v for k, v in components(profile.runs[1]).items() if v} == {"ttft": 10 * S}


def test_http_child_of_an_llm_call_is_llm_time(builder: TraceBuilder) -> None:
    llm = builder.span("chat", category="llm", start=0, end=10, ttft_ns=s_to_ns(4))
    builder.span("POST /v1/chat", category="other", parent=llm, start=1, end=9)
    assert comps(builder) == {"ttft": 4 * S, "generation": 6 * S}


def test_other_span_under_an_agent_is_unattributed(builder: TraceBuilder) -> None:
    root = builder.span("agent", category="agent", start=0, end=10)
    builder.span("db query", category="other", parent=root, start=2, end=5)
    assert comps(builder) == {"framework_overhead": 7 * S, "unattributed": 3 * S}


def test_context_injection_needs_tool_then_llm_of_the_same_agent(builder: TraceBuilder) -> None:
    root = builder.span("agent", category="agent", start=0, end=20, agent_name="a")
    step = builder.span("step", category="step", parent=root, start=1, end=19, agent_name="a")
    builder.span("llm", category="llm", parent=step, start=2, end=4, agent_name="a", ttft_ns=s_to_ns(1))
    builder.span("tool", category="tool", parent=step, start=5, end=8, agent_name="a")
    builder.span("llm 2", category="llm", parent=step, start=11, end=12, agent_name="a", ttft_ns=s_to_ns(1))
    assert comps(builder) == {
        "ttft": 2 * S, "generation": 1 * S, "tool_execution": 3 * S,
        "context_injection": 3 * S,  # 8 -> 11
        "framework_overhead": 11 * S,  # 0-2, 4-5 (llm -> tool dispatch), 12-20
    }


def test_context_injection_spans_container_boundaries(builder: TraceBuilder) -> None:
    root = builder.span("agent", category="agent", start=0, end=10, agent_name="a")
    s1 = builder.span("step 1", category="step", parent=root, start=0, end=5, agent_name="a")
    builder.span("tool", category="tool", parent=s1, start=1, end=4, agent_name="a")
    s2 = builder.span("step 2", category="step", parent=root, start=6, end=10, agent_name="a")
    builder.span("llm", category="llm", parent=s2, start=7, end=10, agent_name="a", ttft_ns=s_to_ns(1))
    # tool ends at 4, next LLM call starts at 7: step 1's tail, the agent's gap and step 2's head.
    assert comps(builder) == {"framework_overhead": 1 * S, "tool_execution": 3 * S, "context_injection": 3 * S,
                              "ttft": 1 * S, "generation": 2 * S}


def test_handoffs_and_gaps_between_agents_are_coordination(builder: TraceBuilder) -> None:
    root = builder.span("orchestrator", category="agent", start=0, end=20, agent_name="boss")
    builder.span("boss llm", category="llm", parent=root, start=1, end=3, agent_name="boss", ttft_ns=s_to_ns(1))
    builder.span("handoff", category="handoff", parent=root, start=3, end=5, agent_name="boss")
    worker = builder.span("worker", category="agent", parent=root, start=6, end=18, agent_name="worker")
    builder.span("worker tool", category="tool", parent=worker, start=7, end=10, agent_name="worker")
    builder.span("worker llm", category="llm", parent=worker, start=12, end=17, agent_name="worker")
    assert comps(builder) == {
        "ttft": 1 * S, "generation": 1 * S,
        # the handoff span, then 5 -> 7: after the boss's last work, before the worker's first
        "coordination": 2 * S + 2 * S,
        "framework_overhead": 1 * S + 1 * S + 2 * S,  # 0-1, 17-18 (worker tail), 18-20 (orchestrator tail)
        "tool_execution": 3 * S,
        "context_injection": 2 * S,  # worker tool 10 -> worker llm 12
        "llm_unsplit": 5 * S,
    }


def test_no_time_is_lost_with_a_zero_length_root(builder: TraceBuilder) -> None:
    builder.span("instant", category="agent", start=1, end=1)
    run = analyze_builder(builder)[0].runs[0]
    assert run.wall_ns == 0 and sum(components(run).values()) == 0 and run.critical_path == ()
