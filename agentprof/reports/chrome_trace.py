"""Export spans as a Chrome trace (Trace Event Format) for Perfetto or chrome://tracing.

Each run with span detail becomes a process; its spans become complete events (``ph: X``,
microseconds since the earliest run start). Those viewers nest events on one thread only when
they nest in time, so concurrent siblings (parallel tool calls) are packed into extra lanes
(threads) instead of overlapping and breaking the nesting.
"""

from __future__ import annotations

from typing import Any

from agentprof.profile import Profile, SpanView
from agentprof.reports import _format as F
from agentprof.reports import _select as S
from agentprof.reports._html_data import attr_text


def render(profile: Profile) -> str:
    """The profile's spans as a Chrome trace JSON document."""
    from agentprof.reports.json_report import dumps

    runs = [r for r in profile.runs if r.spans]
    t0 = min((r.start_ns for r in runs), default=0)
    events: list[dict[str, Any]] = []
    for pid, run in enumerate(runs, 1):
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                       "args": {"name": f"{F.one_line(run.name, 80)} ({F.short_id(run.run_id)})"}})
        lanes = assign_lanes(S.tree_order(run.spans))
        for lane in sorted(set(lanes.values())):
            events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": lane,
                           "args": {"name": f"lane {lane}"}})
        for s in run.spans:
            events.append({
                "ph": "X", "name": s.name, "cat": s.category, "pid": pid,
                "tid": lanes[s.span_id], "ts": (s.start_ns - t0) / 1_000,
                "dur": max(s.duration_ns, 0) / 1_000, "args": _args(s)})
    return dumps({"traceEvents": events, "displayTimeUnit": "ms",
                  "otherData": {"generator": f"agentprof {profile.agentprof_version}"}},
                 indent=True) + "\n"


def assign_lanes(spans: list[SpanView]) -> dict[str, int]:
    """Lane (thread id, from 1) per span such that events in one lane nest or follow.

    Greedy by start time: a span joins the first lane whose innermost still-open span
    contains it (or which has nothing open), else a new lane.
    """
    ordered = sorted(spans, key=lambda s: (s.start_ns, -s.end_ns, s.span_id))
    stacks: list[list[tuple[int, int]]] = []
    lanes: dict[str, int] = {}
    for s in ordered:
        start, end = s.start_ns, max(s.end_ns, s.start_ns)
        for i, stack in enumerate(stacks):
            while stack and stack[-1][1] <= start:
                stack.pop()
            if not stack or (stack[-1][0] <= start and end <= stack[-1][1]):
                stack.append((start, end))
                lanes[s.span_id] = i + 1
                break
        else:
            stacks.append([(start, end)])
            lanes[s.span_id] = len(stacks)
    return lanes


def _args(s: SpanView) -> dict[str, Any]:
    args: dict[str, Any] = {"span_id": s.span_id, "status": s.status,
                            "critical_path": s.on_critical_path}
    for key in ("model", "tool_name", "input_tokens", "output_tokens", "cost_usd",
                "error_type", "step_index", "agent_name"):
        value = getattr(s, key)
        if value is not None:
            args[key] = value
    if s.attributes:
        args["attributes"] = attr_text(s.attributes)
    return args
