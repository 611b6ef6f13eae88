"""Across runs: distributions, success rule, tool stats, escalation, alerts and their thresholds."""

from __future__ import annotations

import pytest
from spanbuilder import TraceBuilder

from agentprof.config import Config

from .helpers import analyze_builder


def four_runs(b: TraceBuilder, *, escalate: bool = True) -> None:
    # r1: ok, 1 s, escalated
    r = b.span("r1", category="agent", start=0, end=1)
    b.span("llm", category="llm", parent=r, start=0.1, end=0.5, cost_usd=0.25, input_tokens=100, output_tokens=10)
    b.span("search", category="tool", parent=r, start=0.5, end=0.6, tool_name="search",
           escalated=True if escalate else None)
    # r2: the root failed, 2 s
    b.trace()
    r = b.span("r2", category="agent", start=0, end=2, status="error")
    b.span("search", category="tool", parent=r, start=0.5, end=1.5, tool_name="search", status="error")
    # r3: an LLM error recovered by a later successful call, 3 s
    b.trace()
    r = b.span("r3", category="agent", start=0, end=3)
    b.span("llm", category="llm", parent=r, start=0.1, end=0.5, status="error", input_tokens=0)
    b.span("llm", category="llm", parent=r, start=1, end=2, cost_usd=0.5, input_tokens=1000, output_tokens=100)
    b.span("search", category="tool", parent=r, start=2, end=2.5, tool_name="search")
    # r4: the last LLM call failed, 30 s
    b.trace()
    r = b.span("r4", category="agent", start=0, end=30)
    b.span("llm", category="llm", parent=r, start=1, end=2, cost_usd=0.75, input_tokens=2000, output_tokens=200)
    b.span("fetch", category="tool", parent=r, start=2, end=4, tool_name="fetch")
    b.span("llm", category="llm", parent=r, start=5, end=6, status="error")


def test_distributions_success_tools_escalation(builder: TraceBuilder) -> None:
    four_runs(builder)
    profile, _ = analyze_builder(builder)
    runs = {r.name: r for r in profile.runs}
    assert [r.name for r in profile.runs] == ["r1", "r2", "r3", "r4"]
    assert {n: r.ok for n, r in runs.items()} == {"r1": True, "r2": False, "r3": True, "r4": False}
    agg = profile.aggregates
    assert agg.run_count == 4
    assert agg.success_rate == 0.5
    assert agg.escalation_rate == 0.25
    assert agg.total_cost_usd == 1.5
    assert agg.total_input_tokens == 3100 and agg.total_output_tokens == 310

    d = {x.metric: x for x in agg.distributions}
    wall = d["wall_s"]
    assert (wall.count, wall.min, wall.max, wall.mean) == (4, 1.0, 30.0, 9.0)
    assert wall.p50 == pytest.approx(2.5) and wall.p95 == pytest.approx(3 + 0.85 * 27)
    assert wall.p99 == pytest.approx(3 + 0.97 * 27)
    cost = d["cost_usd"]  # r2 has no known cost: left out, not counted as 0
    assert (cost.count, cost.mean, cost.p50) == (3, 0.5, 0.5)
    assert d["total_tokens"].max == 2200.0
    assert d["steps"].mean == (1 + 0 + 2 + 2) / 4
    comp = d["component:tool_execution"]
    assert comp.unit == "s" and comp.max == pytest.approx(2.0) and comp.min == pytest.approx(0.1)
    assert {f"component:{c}" for c in ("ttft", "unattributed", "llm_unsplit")} <= set(d)

    tools = {t.tool_name: t for t in agg.tools}
    assert (tools["search"].calls, tools["search"].errors) == (3, 1)
    assert tools["search"].error_rate == pytest.approx(1 / 3)
    assert tools["search"].p50_ms == pytest.approx(500.0)
    assert (tools["fetch"].calls, tools["fetch"].errors, tools["fetch"].p95_ms) == (1, 0, pytest.approx(2000.0))


def test_alerts_use_the_fields_thresholds_and_config_overrides(builder: TraceBuilder) -> None:
    four_runs(builder)
    profile, _ = analyze_builder(builder)
    alerts = {a.metric: a for a in profile.aggregates.alerts}
    assert set(alerts) == {"success_rate", "avg_steps", "p99_latency_s", "avg_tokens", "avg_cost_usd",
                           "tool_error_rate", "escalation_rate"}
    assert alerts["success_rate"].breached and alerts["success_rate"].comparison == "<"
    assert alerts["success_rate"].threshold == 0.90
    assert alerts["p99_latency_s"].breached and alerts["p99_latency_s"].threshold == 15.0
    assert alerts["avg_cost_usd"].breached and alerts["avg_cost_usd"].value == 0.5
    assert alerts["tool_error_rate"].breached and alerts["tool_error_rate"].value == 0.25
    assert alerts["escalation_rate"].breached
    assert not alerts["avg_steps"].breached and not alerts["avg_tokens"].breached
    assert profile.thresholds["alert_avg_tokens_max"] == 10_000.0

    cfg = Config(select=("AP0",), thresholds={"alert_p99_latency_s_max": 60.0, "alert_avg_tokens_max": 500.0})
    profile, _ = analyze_builder(builder, cfg)
    alerts = {a.metric: a for a in profile.aggregates.alerts}
    assert not alerts["p99_latency_s"].breached and alerts["p99_latency_s"].threshold == 60.0
    assert alerts["avg_tokens"].breached and alerts["avg_tokens"].config_key == "alert_avg_tokens_max"
    assert profile.thresholds["alert_p99_latency_s_max"] == 60.0


def test_no_escalation_marks_means_no_rate_and_no_alert(builder: TraceBuilder) -> None:
    four_runs(builder, escalate=False)
    agg = analyze_builder(builder)[0].aggregates
    assert agg.escalation_rate is None
    assert "escalation_rate" not in {a.metric for a in agg.alerts}
