"""AP5xx: context size."""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from typing import Any

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import (
    HIGH_SEVERITY_SHARE,
    PART_CHARS_TOTAL,
    fmt_usd,
    make_finding,
    part_tokens_sql,
    pct,
    price_memo,
    rows,
    run_totals,
    threshold,
)

log = logging.getLogger("agentprof.rules")


@functools.lru_cache(maxsize=256)
def context_window_tokens(model: str | None, provider: str | None = None) -> int | None:
    """The model's context window in tokens from genai-prices' model data, or None when unknown."""
    if not model:
        return None
    try:
        from genai_prices import Usage, calc_price

        kwargs = {"provider_id": provider} if provider else {}
        try:
            info = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref=model, **kwargs).model
        except LookupError:
            info = calc_price(Usage(input_tokens=0, output_tokens=0), model_ref=model).model
    except Exception:  # noqa: BLE001 - unknown model or provider: no window known
        log.debug("no context window for %r/%r", model, provider, exc_info=True)
        return None
    window = getattr(info, "context_window", None)
    return int(window) if window else None


_MODELS_SQL = """
SELECT DISTINCT coalesce(request_model, response_model) AS model, provider
FROM spans WHERE category = 'llm' AND input_tokens >= ?
"""


@rule(
    "AP501",
    "oversized-context",
    severity="medium",
    summary="An LLM call's input is near the model's context window or above context_tokens_max.",
    thresholds={"context_tokens_max": 100_000, "context_window_share_max": 0.8},
)
def check_context_size(ctx: Any):
    """
    ## What it does
    Reports a run with LLM calls whose input tokens exceed `context_tokens_max`, or exceed
    `context_window_share_max` of the model's context window (from genai-prices' model
    data). Severity is high when a call is near the window, medium otherwise.

    ## Why is this bad?
    Long inputs are slow (prefill time) and expensive on every step, models use information
    in the middle of a long context less reliably, and a run near the window is one tool
    result away from a context-overflow error or silent truncation.

    ## Example
    Step 14 sends 172,000 input tokens to a model with a 200,000-token window (86%).

    ## Use instead
    Trim or summarize history, keep large tool outputs out of the prompt (store them and
    pass references or excerpts), and split long tasks across sub-agents with fresh
    context.

    ## Thresholds
    - `context_tokens_max` (default 100000): input tokens of one call to report.
    - `context_window_share_max` (default 0.8): share of the model's context window to report.

    ## References
    - Liu et al., "Lost in the Middle: How Language Models Use Long Contexts" (2023):
      https://arxiv.org/abs/2307.03172
    - Anthropic, context windows: https://docs.claude.com/en/docs/build-with-claude/context-windows
    """
    max_tokens = threshold(ctx, "context_tokens_max", 100_000)
    share_max = threshold(ctx, "context_window_share_max", 0.8)
    # Smallest input that could be over either limit: the absolute one, or the share of the
    # smallest context window we could meet (4k), whichever is lower.
    floor = min(max_tokens, share_max * 4096)
    windows = {(m, p): context_window_tokens(m, p) for m, p in ctx.con.execute(_MODELS_SQL, [floor]).fetchall()}
    # Per model, the input size that is too large: a share of its window, or the absolute limit.
    cases, params = [], []
    for (m, p), w in windows.items():
        cases.append("WHEN coalesce(request_model, response_model) IS NOT DISTINCT FROM ? "
                     "AND provider IS NOT DISTINCT FROM ? THEN ?")
        params += [m, p, min(max_tokens, share_max * w) if w else max_tokens]
    limit_sql = f"CASE {' '.join(cases)} ELSE ? END" if cases else "?"
    sql = f"""
        SELECT trace_id, span_id, coalesce(request_model, response_model) AS model, provider, input_tokens
        FROM spans WHERE category = 'llm' AND input_tokens > {limit_sql}
        ORDER BY trace_id, start_ns
    """
    per: dict[str, list[tuple[dict[str, Any], int | None]]] = defaultdict(list)
    for r in rows(ctx.con, sql, [*params, max_tokens]):
        window = windows.get((r["model"], r["provider"]))
        near = window is not None and r["input_tokens"] > share_max * window
        per[r["trace_id"]].append((r, window if near else None))
    for run_id, calls in per.items():
        worst, _ = max(calls, key=lambda c: c[0]["input_tokens"])
        near = [(c, w) for c, w in calls if w]
        if near:
            c, w = max(near, key=lambda cw: cw[0]["input_tokens"] / cw[1])
            detail = f"; the fullest used {pct(c['input_tokens'] / w)} of {c['model']}'s {w:,}-token window"
        else:
            detail = ""
        yield make_finding(
            ctx,
            "AP501",
            run_id=run_id,
            message=(
                f"{len(calls)} LLM call(s) sent very large inputs (largest {worst['input_tokens']:,} tokens, "
                f"limit {max_tokens:,.0f}){detail}."
            ),
            suggestion="Trim or summarize history and keep large tool outputs out of the prompt.",
            span_ids=[c["span_id"] for c, _ in calls],
            severity="high" if near else "medium",
        )


_HISTORY_SQL = f"""
WITH g AS (
    SELECT trace_id, request_model AS model, any_value(provider) AS provider,
           sum(input_tokens) AS input_tokens,
           sum({part_tokens_sql('history_chars', 'tool_output_chars')}) AS history_tokens,
           list(span_id ORDER BY start_ns) AS span_ids
    FROM spans
    WHERE category = 'llm' AND input_tokens > 0 AND {PART_CHARS_TOTAL} > 0
    GROUP BY trace_id, request_model
)
SELECT * FROM g
WINDOW w AS (PARTITION BY trace_id)
QUALIFY sum(input_tokens) OVER w >= ? AND sum(history_tokens) OVER w > ? * sum(input_tokens) OVER w
ORDER BY trace_id, model
"""


@rule(
    "AP502",
    "history-dominated-context",
    severity="medium",
    summary="Conversation history and tool outputs are most of the input tokens.",
    thresholds={"history_share_max": 0.7, "history_min_input_tokens": 20_000, **HIGH_SEVERITY_SHARE},
)
def check_history_share(ctx: Any):
    """
    ## What it does
    Estimates the input tokens spent on conversation history and tool outputs (apportioned
    by their measured size in each prompt) and reports a run where they are more than
    `history_share_max` of its input tokens, for runs of at least `history_min_input_tokens`
    input tokens.

    ## Why is this bad?
    The instructions and the current task become a small part of what the model reads;
    old turns and bulky tool results cost tokens on every later step and distract the model.

    ## Example
    A run of 180,000 input tokens of which 150,000 (83%) are earlier messages and raw tool
    results (whole web pages, full JSON responses).

    ## Use instead
    Summarize old turns, truncate or extract from tool results before they enter the
    prompt, and drop results the agent no longer needs. The estimated saving prices the
    history tokens above the threshold share at the model's input price (genai-prices).

    ## Thresholds
    - `history_share_max` (default 0.7): share of input tokens to report.
    - `history_min_input_tokens` (default 20000): smaller runs are not judged.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, effective context engineering for AI agents:
      https://www.anthropic.com/engineering/effective-context-engineering-for-ai-agents
    """
    price = price_memo(ctx)
    limit = threshold(ctx, "history_share_max", 0.7)
    min_input = threshold(ctx, "history_min_input_tokens", 20_000)
    totals = run_totals(ctx)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(ctx.con, _HISTORY_SQL, [min_input, limit]):
        per[r["trace_id"]].append(r)
    for run_id, groups in per.items():
        inp = sum(g["input_tokens"] for g in groups)
        hist = sum(g["history_tokens"] or 0 for g in groups)
        if inp < min_input or hist / inp <= limit or limit >= 1:
            continue
        saving: float | None = 0.0
        for g in groups:
            rest = g["input_tokens"] - (g["history_tokens"] or 0)
            cut = max(0.0, (g["history_tokens"] or 0) - limit * rest / (1 - limit))
            p = price(g["model"], g["provider"])
            if cut and (p is None or saving is None):
                saving = None
            elif cut and saving is not None:
                saving += cut * p[0] / 1e6
        note = f"; cutting them to {pct(limit)} would save about {fmt_usd(saving)}" if saving else ""
        yield make_finding(
            ctx,
            "AP502",
            run_id=run_id,
            message=(
                f"Conversation history and tool outputs are ~{hist:,.0f} of {inp:,} input tokens "
                f"({pct(hist / inp)}){note}."
            ),
            suggestion="Summarize old turns and extract only what is needed from tool results.",
            span_ids=[s for g in groups for s in g["span_ids"]],
            savings_usd=saving or None,
            cost_usd=totals.get(run_id, (0.0, None))[1],
        )
