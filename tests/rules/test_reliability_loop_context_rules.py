"""AP3xx, AP4xx, AP5xx: each rule on a trace that must trigger it and one that must not."""

from __future__ import annotations

import pytest

from .kit import analyze_trace, assert_span_ids_exist, of
from .traces import compounding_history, llm, tool, tool_sequence

# --- AP3xx reliability -------------------------------------------------------------------


def test_ap301_tool_error_rate(builder):
    ids = tool_sequence(builder, [("fetch", f"u{i}") for i in range(10)], status={2: "error", 7: "error"},
                        error_type="TimeoutError")
    profile, con = analyze_trace(builder)
    (f,) = of(profile, "AP301")
    assert f.span_ids == (ids["tools"][2], ids["tools"][7])
    assert "'fetch' failed 2 of 10 calls (20%) in 1 run(s), most often TimeoutError" in f.message
    assert f.severity == "high"  # 20% >= 4 x 5%
    assert f.run_id == builder.trace_id
    assert_span_ids_exist(profile, con)


def test_ap301_not_below_rate_or_min_calls(builder):
    tool_sequence(builder, [("fetch", f"u{i}") for i in range(30)], status={3: "error"})  # 3.3%
    builder.trace()
    tool_sequence(builder, [("rare", "a"), ("rare", "b")], status={0: "error"})  # 2 calls < 3
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP301") == []


def _retry(b, gap_s: float, category: str = "tool") -> tuple[str, str]:
    root = b.span("agent", category="agent", start=0, end=5)
    if category == "llm":
        first = llm(b, root, 1.0, 2.0, status="error", error_type="RateLimitError")
        second = llm(b, root, 2.0 + gap_s, 3.0 + gap_s)
    else:
        first = tool(b, root, "fetch", 1.0, 2.0, args="u", status="error")
        second = tool(b, root, "fetch", 2.0 + gap_s, 3.0 + gap_s, args="u")
    return first, second


@pytest.mark.parametrize("category", ["tool", "llm"])
def test_ap302_retry_without_backoff(builder, category):
    first, second = _retry(builder, 0.03, category)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP302")
    assert f.span_ids == (first, second)
    assert "shortest gap 30 ms" in f.message


def test_ap302_not_with_backoff(builder):
    _retry(builder, 1.5)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP302") == []


def test_ap303_ignored_tool_error(builder):
    ids = tool_sequence(builder, [("search", "a"), ("fetch_invoice", "b"), ("search", "c")], status={1: "error"},
                        error_type="HTTPError")
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP303")
    assert f.span_ids == (ids["tools"][1],)
    assert "fetch_invoice (HTTPError)" in f.message


def test_ap303_not_when_retried_or_run_failed(builder):
    tool_sequence(builder, [("fetch", "a"), ("fetch", "a")], status={0: "error"})
    builder.trace()
    tool_sequence(builder, [("search", "a"), ("fetch", "b")], status={1: "error"}, root_status="error")
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP303") == []


# --- AP4xx tools and loops ---------------------------------------------------------------


def test_ap401_repeated_identical_call(builder):
    ids = tool_sequence(builder, [("get_weather", "paris"), ("search", "x"), ("get_weather", "paris")])
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP401")
    assert f.span_ids == (ids["tools"][0], ids["tools"][2])
    assert f.est_savings_s == pytest.approx(1.0)  # the repeated 1 s call
    assert "'get_weather' 2×" in f.message


def test_ap401_not_for_retry_after_error_or_other_args(builder):
    tool_sequence(builder, [("get_weather", "paris"), ("get_weather", "paris")], status={0: "error"})
    builder.trace()
    tool_sequence(builder, [("get_weather", "paris"), ("get_weather", "rome")])
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP401") == []


def test_ap402_exact_oscillation(builder):
    ids = tool_sequence(builder, [("open_file", "a"), ("run_tests", "t")] * 3)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP402")
    assert f.span_ids == tuple(ids["tools"])
    assert "open_file → run_tests repeated 3 times in a row with the same arguments" in f.message
    # Repeats after the first cycle: call 3 starts at 5.1 s, call 6 ends at 12.1 s.
    assert f.est_savings_s == pytest.approx(7.0)


def test_ap402_period_three_without_recorded_arguments_has_no_saving(builder):
    ids = tool_sequence(builder, [(n, "") for _ in range(3) for n in ("search", "open", "read")])
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP402")
    assert f.span_ids == tuple(ids["tools"])
    assert "search → open → read repeated 3 times in a row (arguments not recorded)" in f.message
    assert f.est_savings_s is None


def test_ap402_not_for_iteration_over_new_arguments(builder):
    tool_sequence(builder, [(n, f"{n}{i}") for i in range(4) for n in ("fetch_section", "record_field")])
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP402") == []


def test_ap402_not_for_two_cycles_or_one_tool(builder):
    tool_sequence(builder, [("a", "1"), ("b", "2")] * 2 + [("c", "3")])
    builder.trace()
    tool_sequence(builder, [("read_file", f"f{i}") for i in range(8)])
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP402") == []


def test_ap403_steps_without_progress(builder):
    ids = tool_sequence(builder, [("search", "q1"), ("read", "r1"), ("search", "q1"), ("read", "r1"), ("search", "q1")])
    profile, con = analyze_trace(builder)
    (f,) = of(profile, "AP403")
    steps = profile.runs[0].steps
    assert len(steps) == 5
    assert set(ids["tools"][2:]) <= set(f.span_ids)
    assert {s.span_id for s in steps[2:]} <= set(f.span_ids)
    assert f.est_savings_s == pytest.approx(sum(s.duration_ns for s in steps[2:]) / 1e9)
    assert "Steps 3–5 (3 steps" in f.message
    assert_span_ids_exist(profile, con)


def test_ap403_not_for_two_steps(builder):
    tool_sequence(builder, [("search", "q1"), ("read", "r1"), ("search", "q1"), ("read", "r1"), ("write", "w")])
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP403") == []


def test_ap404_recursion_limit_error(builder):
    root = builder.span("LangGraph", category="agent", start=0, end=5, status="error",
                        status_message="Recursion limit of 25 reached without hitting a stop condition.",
                        error_type="GraphRecursionError")
    llm(builder, root, 0, 1)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP404")
    assert f.span_ids == (root,)
    assert "Recursion limit of 25 reached" in f.message


def test_ap404_most_steps_at_max_steps(builder):
    long_ids = tool_sequence(builder, [("t", str(i)) for i in range(26)])
    long_run = builder.trace_id
    builder.trace()
    tool_sequence(builder, [("t", str(i)) for i in range(10)])
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP404")
    assert f.run_id == long_run
    assert "after 26 steps" in f.message
    assert_span_ids_exist(profile, builder.load())
    assert long_ids["root"] not in f.span_ids
    assert of(analyze_trace(builder, thresholds={"max_steps": 30})[0], "AP404") == []


# --- AP5xx context size ------------------------------------------------------------------


def test_ap501_near_context_window(builder):
    root = builder.span("agent", category="agent", start=0, end=5)
    sid = llm(builder, root, 0, 4, input_tokens=120_000, output_tokens=10)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP501")
    assert f.span_ids == (sid,)
    assert "94% of gpt-4o's 128,000-token window" in f.message
    assert f.severity == "high"


def test_ap501_over_absolute_limit_with_a_large_window(builder):
    root = builder.span("agent", category="agent", start=0, end=5)
    sid = llm(builder, root, 0, 4, input_tokens=110_000, output_tokens=10, request_model="gpt-4.1")
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP501")
    assert f.span_ids == (sid,) and f.severity == "medium"


def test_ap501_not_for_moderate_input(builder):
    root = builder.span("agent", category="agent", start=0, end=5)
    llm(builder, root, 0, 4, input_tokens=50_000, output_tokens=10)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP501") == []


def test_ap502_history_dominates(builder):
    from .test_cost_rules import IN

    compounding_history(builder)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP502")
    assert "~342,000 of 402,000 input tokens (85%)" in f.message
    # Cut history to 70%: 0.7 * 60,000 / 0.3 = 140,000 tokens kept of 342,000.
    assert f.est_savings_usd == pytest.approx((342_000 - 140_000) * IN / 1e6, rel=1e-4)


def test_ap502_not_without_history(builder):
    compounding_history(builder, growth_tokens=0)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP502") == []


def test_ap401_across_runs_one_low_finding_per_tool(builder):
    ids = []
    for i in range(14):  # 14 runs over 3 accounts: 11 calls repeat an earlier run's arguments
        if i:
            builder.trace()
        ids.append(tool_sequence(builder, [("crm_get_customer", f"acct{i % 3}"), ("send_note", f"n{i}")])["tools"][0])
    profile, con = analyze_trace(builder)
    (f,) = [f for f in of(profile, "AP401") if f.run_id is None]
    assert f.severity == "low"
    assert set(f.span_ids) == set(ids[3:])
    assert f.est_savings_s == pytest.approx(1.0)  # one repeated 1 s call per affected run
    assert "11 of 14 calls to 'crm_get_customer', in 11 runs" in f.message
    assert [g for g in of(profile, "AP401") if g.run_id is not None] == []  # no repeat within a run
    assert_span_ids_exist(profile, con)


def test_ap401_across_runs_not_for_distinct_arguments_or_few_repeats(builder):
    for i in range(14):
        if i:
            builder.trace()
        tool_sequence(builder, [("crm_get_customer", f"acct{i}" if i > 2 else "same")])  # 2 repeats < 10
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP401") == []


def test_ap404_limit_in_an_event_without_a_status_message(builder):
    events = '[{"name": "exception", "time_ns": 0, "attributes": {"exception.type": "MaxTurnsExceeded"}}]'
    root = builder.span("Runner", category="agent", start=0, end=5, status="error", status_message="  ",
                        events=events)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP404")
    assert f.span_ids == (root,)
    assert f.message == "The run stopped at its step limit: a step/iteration limit."
