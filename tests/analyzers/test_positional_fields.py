"""The analysis builds Profile objects positionally (map over column lists): pin the field order it assumes."""

from __future__ import annotations

import dataclasses

from agentprof.profile import Component, CriticalSegment, Run, Step, TokenBuckets


def names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_field_orders_match_the_positional_builders() -> None:
    # runs.RunAssembler.build_runs
    assert names(Run) == [
        "run_id", "name", "service_name", "agent_names", "session_id", "user_id", "start_ns", "end_ns", "ok",
        "span_count", "llm_call_count", "tool_call_count", "step_count", "error_count", "input_tokens",
        "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd", "cost_sources",
        "unknown_models", "steps", "components", "critical_path", "spans", "escalated",
    ]
    # steps.fetch_steps
    assert names(Step) == [
        "run_id", "index", "agent_name", "span_id", "explicit", "model", "start_ns", "end_ns", "input_tokens",
        "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "cumulative_cost_usd",
        "marginal_cost_usd", "cost_growth", "buckets", "llm_span_ids", "tool_span_ids", "tool_names", "error_count",
    ]
    assert names(TokenBuckets) == [
        "system_tokens", "tool_schemas_tokens", "history_tokens", "tool_outputs_tokens", "unattributed_tokens",
        "estimated",
    ]
    # runs.RunAssembler.__init__
    assert names(Component) == ["name", "duration_ns", "share"]
    assert names(CriticalSegment) == ["span_id", "name", "category", "start_ns", "end_ns", "on_path_ns", "share"]
