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


def test_profile_classes_keep_dataclass_behaviour_with_the_fast_init() -> None:
    """``profile._fast_init`` replaces the generated __init__: defaults, factories, equality,
    hashing and immutability must be exactly the dataclass's."""
    from agentprof.profile import Finding, SpanView

    b = TokenBuckets(1.0, 2.0)
    assert (b.history_tokens, b.unattributed_tokens, b.estimated) == (0.0, 0.0, True)
    assert b == TokenBuckets(system_tokens=1.0, tool_schemas_tokens=2.0) and hash(b) == hash(TokenBuckets(1.0, 2.0))
    assert b != TokenBuckets(1.0, 2.5)
    seg = CriticalSegment("s1", "tool", "tool", 10, 30, 20, 0.5)
    for obj, attr in ((b, "system_tokens"), (seg, "share")):
        try:
            setattr(obj, attr, 9)
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError(f"{type(obj).__name__}.{attr} could be assigned")
    assert dataclasses.replace(seg, share=0.25) == CriticalSegment("s1", "tool", "tool", 10, 30, 20, 0.25)
    assert dataclasses.asdict(seg) == {"span_id": "s1", "name": "tool", "category": "tool", "start_ns": 10,
                                       "end_ns": 30, "on_path_ns": 20, "share": 0.5}
    # default_factory: a fresh dict per object, never shared
    v1 = SpanView("a", None, "n", "llm", 0, 1, 0, 1, "ok", False)
    v2 = SpanView("b", None, "n", "llm", 0, 1, 0, 1, "ok", False)
    assert v1.attributes == {} and v1.attributes is not v2.attributes
    f = Finding("AP101", "sequential-tool-calls", "high", "m", "s", "r1", ("a",))
    assert f.est_savings_s is None and f == Finding("AP101", "sequential-tool-calls", "high", "m", "s", "r1", ("a",))
    try:
        TokenBuckets(1.0, 2.0, 3.0, 4.0, 5.0, True, "extra")
    except TypeError:
        pass
    else:
        raise AssertionError("too many arguments accepted")
