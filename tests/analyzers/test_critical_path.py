"""Critical path: known answers, overlapping and touching siblings, clipping, what-if savings."""

from __future__ import annotations

from spanbuilder import TraceBuilder, s_to_ns

from agentprof.analyzers import RuleContext
from agentprof.analyzers.critical_path import parallel_saving_ns
from agentprof.config import Config

from .helpers import analyze_builder, components, on_path, path_names

S = 1_000_000_000


def research_run(b: TraceBuilder) -> dict[str, str]:
    """47 s: three 11.3 s vector-store calls one after another in one step, 3.5 s of LLM time."""
    ids = {}
    ids["root"] = b.span("agent run", category="agent", start=0, end=47, agent_name="researcher")
    ids["step"] = b.span("step 1", category="step", parent=ids["root"], start=1, end=46, step_number=1, agent_name="researcher")
    ids["plan"] = b.span(
        "plan", category="llm", parent=ids["step"], start=1, end=3, agent_name="researcher",
        ttft_ns=s_to_ns(0.5), serialization_ns=s_to_ns(0.1), input_tokens=1000, output_tokens=50, cost_usd=0.01,
    )
    for i in range(3):
        ids[f"vs{i}"] = b.span(
            f"vector_store.query {i}", category="retrieval", parent=ids["step"],
            start=3 + 11.3 * i, end=3 + 11.3 * (i + 1), agent_name="researcher", tool_name="vector_store",
        )
    ids["answer"] = b.span(
        "answer", category="llm", parent=ids["step"], start=37.9, end=39.4, agent_name="researcher",
        ttft_ns=s_to_ns(0.3), input_tokens=2000, output_tokens=60, cost_usd=0.02,
    )
    return ids


def test_sequential_vector_store_calls_hold_the_path(builder: TraceBuilder) -> None:
    ids = research_run(builder)
    profile, con = analyze_builder(builder)
    run = profile.runs[0]
    assert run.wall_ns == 47 * S
    assert path_names(run) == [
        "agent run", "plan", "vector_store.query 0", "vector_store.query 1", "vector_store.query 2", "step 1", "answer",
    ]
    p = on_path(run)
    assert p["vector_store.query 0"] == p["vector_store.query 1"] == p["vector_store.query 2"] == 11_300_000_000
    assert p["agent run"] == 2 * S  # 0-1 and 46-47
    assert p["step 1"] == 7_600_000_000  # 36.9-37.9 and 39.4-46
    assert sum(s.on_path_ns for s in run.critical_path) == run.wall_ns
    assert abs(sum(s.share for s in run.critical_path) - 1.0) < 1e-12

    c = components(run)
    assert c["tool_execution"] == 33_900_000_000
    assert c["serialization"] == 100_000_000
    assert c["ttft"] == 400_000_000 + 300_000_000  # TTFT counts from the span start, serialization excluded
    assert c["generation"] == 1_500_000_000 + 1_200_000_000
    assert c["context_injection"] == 1_000_000_000  # last tool result 36.9 s -> next LLM call 37.9 s
    assert c["framework_overhead"] == 8_600_000_000
    assert c["llm_unsplit"] == c["coordination"] == c["unattributed"] == 0
    assert sum(c.values()) == run.wall_ns

    vs = [ids["vs0"], ids["vs1"], ids["vs2"]]
    assert parallel_saving_ns(run.spans, vs) == 22_600_000_000  # two of the three calls
    ctx = RuleContext(con=con, config=Config(), runs=profile.runs, aggregates=profile.aggregates)
    assert ctx.parallel_saving_ns(run.run_id, vs) == 22_600_000_000
    assert ctx.parallel_saving_s(run.run_id, vs) == 22.6
    # Works on plain rows of the spans table too.
    rows = [dict(zip(("span_id", "parent_span_id", "start_ns", "end_ns"), r))
            for r in con.execute("SELECT span_id, parent_span_id, start_ns, end_ns FROM spans").fetchall()]
    assert parallel_saving_ns(rows, vs) == 22_600_000_000
    assert parallel_saving_ns(rows, vs[:2]) == 11_300_000_000
    assert parallel_saving_ns(rows, vs[:1]) == 0
    assert parallel_saving_ns(rows, ["nope", vs[0]]) == 0


def test_overlapping_sibling_is_off_the_path(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    builder.span("long tool", category="tool", parent=root, start=1, end=9)
    builder.span("short tool", category="tool", parent=root, start=1, end=4)
    run = analyze_builder(builder)[0].runs[0]
    assert path_names(run) == ["root", "long tool"]
    assert on_path(run) == {"root": 2 * S, "long tool": 8 * S}
    short = next(s for s in run.spans if s.name == "short tool")
    assert not short.on_critical_path


def test_overlap_after_the_chosen_child_is_skipped_not_spliced(builder: TraceBuilder) -> None:
    # jaeger-ui issue 2371: A ends inside B; after choosing B the boundary is B's start (5),
    # and A (ends 6) must be skipped, not walked into (which would count 5..6 twice).
    root = builder.span("root", category="agent", start=0, end=10)
    builder.span("A", category="tool", parent=root, start=0, end=6)
    builder.span("B", category="tool", parent=root, start=5, end=10)
    run = analyze_builder(builder)[0].runs[0]
    assert on_path(run) == {"root": 5 * S, "B": 5 * S}
    assert sum(components(run).values()) == 10 * S


def test_touching_siblings_chain(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    for name, (s, e) in {"a": (1, 3), "b": (3, 6), "c": (6, 9)}.items():
        builder.span(name, category="tool", parent=root, start=s, end=e)
    run = analyze_builder(builder)[0].runs[0]
    # With a strict "<" b and a would not chain after c and their 5 s would go to root.
    assert on_path(run) == {"root": 2 * S, "a": 2 * S, "b": 3 * S, "c": 3 * S}
    assert components(run)["tool_execution"] == 8 * S


def test_descends_into_nested_children_and_clips_overflow(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=10)
    chain = builder.span("chain", category="chain", parent=root, start=2, end=8)
    builder.span("inner", category="tool", parent=chain, start=3, end=7)
    builder.span("overflow", category="tool", parent=root, start=9, end=15)  # clock skew: clipped to 9..10
    run = analyze_builder(builder)[0].runs[0]
    assert run.wall_ns == 10 * S
    assert on_path(run) == {"root": 3 * S, "chain": 2 * S, "inner": 4 * S, "overflow": 1 * S}
    views = {s.name: s for s in run.spans}
    assert views["chain"].self_time_ns == 2 * S
    assert views["root"].self_time_ns == 10 * S - 6 * S - 1 * S
    assert views["inner"].depth == 2 and views["root"].depth == 0


def test_self_time_subtracts_the_union_of_overlapping_children(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=20)
    builder.span("a", category="tool", parent=root, start=1, end=5)
    builder.span("b", category="tool", parent=root, start=3, end=8)  # overlaps a: union 1..8
    builder.span("c", category="tool", parent=root, start=10, end=12)
    run = analyze_builder(builder)[0].runs[0]
    assert {s.name: s.self_time_ns for s in run.spans}["root"] == (20 - 7 - 2) * S


def test_several_roots_share_a_virtual_root(builder: TraceBuilder) -> None:
    builder.span("first", category="agent", start=0, end=4)
    builder.span("second", category="agent", start=6, end=10)
    builder.span("orphan", category="tool", parent="ffffffffffffffff", start=7, end=8)
    run = analyze_builder(builder)[0].runs[0]
    assert run.wall_ns == 10 * S
    assert on_path(run) == {"first": 4 * S, "second": 4 * S}  # the orphan overlaps "second"
    c = components(run)
    assert c["unattributed"] == 2 * S  # time between the roots
    assert sum(c.values()) == run.wall_ns
    assert {s.name: s.depth for s in run.spans} == {"first": 0, "second": 0, "orphan": 0}


def test_parallel_saving_is_capped_by_concurrent_work_and_zero_off_path(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=30)
    a = builder.span("a", category="tool", parent=root, start=0, end=10)
    b = builder.span("b", category="tool", parent=root, start=10, end=20)
    builder.span("background", category="tool", parent=root, start=0, end=25)
    run = analyze_builder(builder)[0].runs[0]
    # a and b are off the path (background finishes last, and overlaps them): no saving.
    assert parallel_saving_ns(run.spans, [a, b]) == 0


def test_parallel_saving_shifts_dependent_later_work(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", start=0, end=40)
    a = builder.span("a", category="tool", parent=root, start=1, end=11)
    b = builder.span("b", category="tool", parent=root, start=11, end=16)
    builder.span("llm after", category="llm", parent=root, start=17, end=37)
    builder.span("side", category="tool", parent=root, start=2, end=14)  # concurrent, finishes before b
    run = analyze_builder(builder)[0].runs[0]
    # Together a and b finish at 11 instead of 16; "side" keeps running until 14, but the
    # later LLM call waited for b (it started after 16), so the run ends 5 s sooner.
    assert parallel_saving_ns(run.spans, [a, b]) == 5 * S


def test_a_run_made_only_of_a_parent_cycle_keeps_its_time_unattributed(builder: TraceBuilder) -> None:
    builder.span("a", category="tool", span_id="000000000000000a", parent="000000000000000b", start=1, end=4)
    builder.span("b", category="tool", span_id="000000000000000b", parent="000000000000000a", start=2, end=6)
    run = analyze_builder(builder)[0].runs[0]
    assert (run.start_ns, run.wall_ns) == (builder.rows[0]["start_ns"], 5 * S)
    assert components(run)["unattributed"] == 5 * S and run.critical_path == ()


def test_duplicate_span_ids_and_self_parents_do_not_break_the_walk(builder: TraceBuilder) -> None:
    root = builder.span("root", category="agent", span_id="00000000000000aa", start=0, end=10)
    builder.span("dup 1", category="tool", span_id="00000000000000bb", parent=root, start=1, end=4)
    builder.span("dup 2", category="tool", span_id="00000000000000bb", parent=root, start=5, end=8)
    builder.span("child of dup", category="llm", parent="00000000000000bb", start=2, end=3)
    builder.span("self parent", category="tool", span_id="00000000000000cc", parent="00000000000000cc", start=3, end=9)
    run = analyze_builder(builder)[0].runs[0]
    assert run.wall_ns == 10 * S and run.span_count == 5
    assert sum(components(run).values()) == run.wall_ns
    # "self parent" is a second root (under one virtual root with "root"); "root" ends last.
    # The child naming the duplicated id hangs under its first row ("dup 1").
    assert on_path(run) == {"root": 4 * S, "dup 1": 2 * S, "child of dup": 1 * S, "dup 2": 3 * S}


def test_parallel_saving_accepts_a_generator(builder: TraceBuilder) -> None:
    ids = research_run(builder)
    run = analyze_builder(builder)[0].runs[0]
    vs = (ids[f"vs{i}"] for i in range(3))
    assert parallel_saving_ns((s for s in run.spans), vs) == 22_600_000_000
