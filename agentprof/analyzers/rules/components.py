"""AP105-AP108: latency components along the critical path above their share of the run.

The components come from the latency analysis (``Run.components``: every nanosecond of the
critical path attributed to one component); these rules only compare them with thresholds
and report once per input (see ``_component_findings``).
"""

from __future__ import annotations

from typing import Any

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import (
    HIGH_SEVERITY_SHARE,
    NS_PER_S,
    SPAN_IDS_MAX,
    fmt_s,
    make_finding,
    pct,
    threshold,
)
from agentprof.profile import COMPONENTS


def _component_findings(ctx: Any, code: str, component: str, key: str, default: float,
                        categories: tuple[str, ...], what: str, suggestion: str):
    """One finding when a latency component is above its share of the wall-clock time.

    One run over the threshold gives a finding for that run; several give one finding
    across runs (run_id None) with the median run's numbers, so a fleet of 200 runs yields
    one line, not 200. The saving is the whole component of the (median) run, an upper
    bound. The spans are the on-path spans of ``categories`` holding most of each run's path
    (the run's root when none), worst runs first.
    """
    import numpy as np

    limit = threshold(ctx, key, default)
    runs = list(getattr(ctx, "runs", None) or ())
    if not runs:
        return
    # Shares of every run at once (Run.components holds the same numbers, one object each).
    part_ns = ctx.component_matrix[:, COMPONENTS.index(component)]
    wall_ns = ctx.wall_ns
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(wall_ns > 0, part_ns / np.where(wall_ns > 0, wall_ns, 1), 0.0)
    over = []
    for i in np.flatnonzero((wall_ns > 0) & (shares > limit)).tolist():
        run = runs[i]
        segs = sorted((s for s in run.critical_path if s.category in categories and s.on_path_ns > 0),
                      key=lambda s: (-s.on_path_ns, s.span_id))[:10]
        ids = [s.span_id for s in segs] or [s.span_id for s in run.critical_path[:1]]
        over.append((float(shares[i]), int(part_ns[i]), run, ids))
    if not over:
        return
    over.sort(key=lambda o: (-o[0], o[2].run_id))
    share, dur_ns, run, _ = over[len(over) // 2]  # the median run (the only one when alone)
    if len(over) == 1:
        message = f"{what} takes {fmt_s(dur_ns / NS_PER_S)} ({pct(share)}) of the run."
    else:
        message = (f"{what} is above {pct(limit)} of the run in {len(over)} of {len(runs)} runs: "
                   f"{fmt_s(dur_ns / NS_PER_S)} ({pct(share)}) in the median one, up to {pct(over[0][0])}.")
    yield make_finding(
        ctx,
        code,
        run_id=run.run_id if len(over) == 1 else None,
        message=message,
        suggestion=suggestion,
        span_ids=[sid for o in over for sid in o[3]][:SPAN_IDS_MAX],
        savings_s=dur_ns / NS_PER_S,
        wall_s=run.wall_ns / NS_PER_S,
    )


@rule(
    "AP105",
    "framework-overhead",
    severity="medium",
    summary="Untraced time inside agent, step and chain spans is a large share of the run.",
    thresholds={"framework_overhead_share_max": 0.15, **HIGH_SEVERITY_SHARE},
)
def check_framework_overhead(ctx: Any):
    """
    ## What it does
    Reports a run whose *framework overhead* latency component (time on the critical path
    inside agent, step or chain spans that no child span accounts for) is above
    `framework_overhead_share_max` of its wall-clock time. Several such runs give one finding across runs, with the
    median run's numbers.

    ## Why is this bad?
    That time is spent in the agent framework or your own glue code (prompt templating,
    output parsing, validation retries, synchronous logging, sleeps), not in the model or
    the tools, and it is paid on every step.

    ## Example
    A 20 s run whose step spans hold 4 s between the end of one child and the start of the next.

    ## Use instead
    Profile the process (e.g. with a sampling profiler) during the gaps, move blocking I/O
    (logging, storage) off the request path, and instrument the glue code so the time shows
    up as named spans. The estimated saving is the whole overhead (an upper bound).

    ## Thresholds
    - `framework_overhead_share_max` (default 0.15): share of the run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - pyinstrument (statistical Python profiler): https://pyinstrument.readthedocs.io/
    """
    return _component_findings(
        ctx, "AP105", "framework_overhead", "framework_overhead_share_max", 0.15, ("agent", "step", "chain", "other"),
        "Framework overhead (time inside agent/step/chain spans that no child span covers)",
        "Profile the gaps between spans; move blocking work off the request path.",
    )


@rule(
    "AP106",
    "slow-context-injection",
    severity="medium",
    summary="Time between tool results and the next prompt is a large share of the run.",
    thresholds={"context_injection_share_max": 0.1, **HIGH_SEVERITY_SHARE},
)
def check_context_injection(ctx: Any):
    """
    ## What it does
    Reports a run whose *context injection* latency component (the time from a tool result
    to the start of the LLM call that reads it) is above `context_injection_share_max` of its
    wall-clock time. Several such runs give one finding across runs, with the median
    run's numbers.

    ## Why is this bad?
    Between the tool result and the next prompt the agent formats, truncates, embeds or
    re-ranks tool output, or rebuilds the whole message list. When that takes seconds it
    delays every step.

    ## Example
    A tool returns at 10.0 s and the next LLM call starts at 13.5 s.

    ## Use instead
    Keep tool output small and pre-formatted, avoid re-tokenizing or re-embedding the whole
    history each step, and append to the message list instead of rebuilding it. The
    estimated saving is the whole component (an upper bound).

    ## Thresholds
    - `context_injection_share_max` (default 0.1): share of the run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, effective context engineering for AI agents:
      https://www.anthropic.com/engineering/effective-context-engineering-for-ai-agents
    """
    return _component_findings(
        ctx, "AP106", "context_injection", "context_injection_share_max", 0.1, ("llm", "tool", "retrieval"),
        "Context injection (tool result to next prompt)",
        "Keep tool output small and pre-formatted; append to the prompt instead of rebuilding it.",
    )


@rule(
    "AP107",
    "slow-agent-handoff",
    severity="medium",
    summary="Handoffs between agents (inter-step coordination) are a large share of the run.",
    thresholds={"coordination_share_max": 0.1, **HIGH_SEVERITY_SHARE},
)
def check_coordination(ctx: Any):
    """
    ## What it does
    Reports a run whose *inter-step coordination* latency component (handoff spans, and
    gaps on the critical path between the work of two different agents) is above
    `coordination_share_max` of its wall-clock time. Several such runs give one finding across runs, with the
    median run's numbers.

    ## Why is this bad?
    Time spent passing state between agents (queues, HTTP calls to another service, cold
    starts of the receiving container) adds nothing to the answer, and a multi-agent run
    pays it at every handoff.

    ## Example
    A writer agent hands its draft to a reviewer service over HTTP; the first request hits a
    cold container and waits 2.8 s before the reviewer's code runs.

    ## Use instead
    Keep receiving services warm (minimum instances), pass references instead of large
    payloads, run agents in one process where they need no isolation, and start the next
    agent while the previous one streams. The estimated saving is the whole component (an
    upper bound).

    ## Thresholds
    - `coordination_share_max` (default 0.1): share of the run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - OpenAI Agents SDK, handoffs: https://openai.github.io/openai-agents-python/handoffs/
    """
    return _component_findings(
        ctx, "AP107", "coordination", "coordination_share_max", 0.1, ("handoff", "agent", "chain"),
        "Inter-step coordination (handoffs between agents)",
        "Keep the receiving agent warm, pass references instead of payloads, overlap handoffs with work.",
    )


@rule(
    "AP108",
    "slow-request-serialization",
    severity="medium",
    summary="Building and serializing LLM requests is a noticeable share of the run.",
    thresholds={"serialization_share_max": 0.05, **HIGH_SEVERITY_SHARE},
)
def check_serialization(ctx: Any):
    """
    ## What it does
    Reports a run whose *request serialization* latency component (time inside LLM calls
    before the request is sent, as measured by the instrumentation) is above
    `serialization_share_max` of its wall-clock time. Several such runs give one finding across runs, with the
    median run's numbers.

    ## Why is this bad?
    Serializing a request should take milliseconds. Hundreds of milliseconds mean large
    objects are dumped on every call (a whole CRM record, a pydantic model with deep
    validation, base64 images re-encoded each step), paid before every model call.

    ## Example
    Each of three calls spends 0.2 s in `model_dump_json()` of a customer record: 0.6 s of an
    8 s run.

    ## Use instead
    Serialize large, unchanging objects once and reuse the string, send only the fields
    the model needs, and skip validation on data you built yourself. The estimated saving is
    the whole component (an upper bound).

    ## Thresholds
    - `serialization_share_max` (default 0.05): share of the run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - Pydantic performance tips: https://docs.pydantic.dev/latest/concepts/performance/
    """
    return _component_findings(
        ctx, "AP108", "serialization", "serialization_share_max", 0.05, ("llm",),
        "Request serialization",
        "Serialize large unchanging objects once and send only the fields the model needs.",
    )
