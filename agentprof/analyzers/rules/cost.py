"""AP2xx: cost and tokens."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Any, Final

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import (
    HIGH_SEVERITY_SHARE,
    fmt_usd,
    make_finding,
    part_tokens_sql,
    pct,
    price_memo,
    rows,
    run_totals,
    threshold,
)

CHEAPER_MODEL: Final[tuple[tuple[str, str], ...]] = (
    # (pattern on the model name, a cheaper model of the same provider). This is routing
    # advice, not a price table: both models are priced by genai-prices (or user prices).
    (r"(^|[/.])gpt-4o(-\d{4}-\d\d-\d\d)?$", "gpt-4o-mini"),
    (r"(^|[/.])gpt-4\.1(-\d{4}-\d\d-\d\d)?$", "gpt-4.1-mini"),
    (r"(^|[/.])gpt-4(-turbo)?(-\d{4}-\d\d-\d\d|-\d{4})?$", "gpt-4o-mini"),
    (r"(^|[/.])gpt-5(\.\d)?(-\d{4}-\d\d-\d\d)?$", "gpt-5-mini"),
    (r"(^|[/.])o[13](-\d{4}-\d\d-\d\d)?$", "o4-mini"),
    (r"(^|[/.])claude-(opus|sonnet)-4", "claude-haiku-4-5"),
    (r"(^|[/.])claude-3-[57]-sonnet", "claude-3-5-haiku"),
    (r"(^|[/.])claude-3-opus", "claude-3-5-haiku"),
    (r"(^|[/.])gemini-2\.5-pro", "gemini-2.5-flash"),
    (r"(^|[/.])gemini-1\.5-pro", "gemini-1.5-flash"),
)


@lru_cache(maxsize=256)
def cheaper_model(model: str | None) -> str | None:
    """A cheaper model of the same provider worth trying for simple steps, or None.

    Memoized: a rule asks once per candidate row, and runs use a handful of models."""
    if not model:
        return None
    for pattern, cheap in CHEAPER_MODEL:
        if re.search(pattern, model.lower()):
            return cheap
    return None


@rule(
    "AP201",
    "compounding-step-cost",
    severity="medium",
    summary="Each step costs more than the one before: the whole history is re-sent every step.",
    thresholds={"marginal_cost_growth": 0.15, "marginal_cost_min_steps": 6, **HIGH_SEVERITY_SHARE},
)
def check_marginal_growth(ctx: Any):
    """
    ## What it does
    Fits a straight line through the cost of each step of a run (input + output tokens when
    a price is unknown) and reports the run when each step adds more than
    `marginal_cost_growth` of the first step's cost: growth = slope / fitted first-step cost.

    ## Why is this bad?
    An agent loop that appends every message and tool result to the prompt pays again for
    all earlier content on every step, so total cost grows with the square of the step
    count. At 15-20% growth per step, compressing or summarizing the history pays for itself.

    ## Example
    Step input tokens 3,000 → 4,800 → 6,600 → … → 37,200 over 20 steps while each step adds
    only one tool result and one short reply.

    ## Use instead
    Summarize or drop old turns, keep only the latest tool result in full, store large tool
    output outside the prompt and pass references, or use prompt caching so the repeated
    prefix is billed at the cache-read price. The estimated saving is the cost above a flat
    baseline (every step costing what the first one did).

    ## Thresholds
    - `marginal_cost_growth` (default 0.15): growth per step relative to the first step.
    - `marginal_cost_min_steps` (default 6): runs (of one agent) with fewer steps are not
      judged; compression pays off in long loops, and in a short run the first steps'
      tool results alone make the cost rise.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, effective context engineering for AI agents:
      https://www.anthropic.com/engineering/effective-context-engineering-for-ai-agents
    """
    limit = threshold(ctx, "marginal_cost_growth", 0.15)
    need = max(int(threshold(ctx, "marginal_cost_min_steps", 6)), 2)
    if not getattr(ctx, "runs", None):  # no analyzed runs, no step tables
        return
    totals = run_totals(ctx)
    for r in rows(ctx.con, _GROWTH_SQL, [need, need, limit]):
        use_cost = r["use_cost"]
        unit = fmt_usd if use_cost else (lambda v: f"{v:,.0f} tokens")
        who = f"Agent {r['agent_name']!r}: " if r["agent_name"] and r["agents"] > 1 else ""
        n, first, last, total, excess = r["n"], r["first"], r["last"], r["total"], r["excess"]
        yield make_finding(
            ctx,
            "AP201",
            run_id=r["trace_id"],
            message=(
                f"{who}Step cost grows {pct(r['growth'])} of the first step per step over {n} steps "
                f"(step 1: {unit(first)}, step {n}: {unit(last)}); "
                f"{unit(excess)} of the run's {unit(total)} is above a flat per-step cost."
            ),
            suggestion="Summarize or trim the conversation history and large tool results between steps.",
            span_ids=r["span_ids"],
            savings_usd=excess if use_cost else None,
            cost_usd=totals.get(r["trace_id"], (0.0, None))[1],
        )


# One series per (run, agent): a step extends the context of its own agent's previous step.
# The line is fitted by least squares through (0, y0), (1, y1), ... in step order, where y is
# the step's cost when every step of the series has one, else its input + output tokens.
_GROWTH_SQL = """
WITH long_runs AS (
    SELECT trace_id, count(DISTINCT agent_name) + max((agent_name IS NULL)::INT) AS agents
    FROM steps GROUP BY trace_id HAVING count(*) >= ?
),
series AS (
    SELECT s.trace_id, s.agent_name, s.step_index, s.span_id, s.cost_usd, r.agents,
           (coalesce(s.input_tokens, 0) + coalesce(s.output_tokens, 0))::DOUBLE AS tokens,
           (row_number() OVER (PARTITION BY s.trace_id, s.agent_name ORDER BY s.step_index) - 1)::DOUBLE AS x
    FROM steps s JOIN long_runs r USING (trace_id)
),
fits AS (
    SELECT trace_id, agent_name, any_value(agents) AS agents, count(*) AS n,
           count(cost_usd) = count(*) AS use_cost,
           regr_intercept(cost_usd, x) AS cost_a, regr_slope(cost_usd, x) AS cost_b,
           sum(cost_usd) AS cost_total, arg_min(cost_usd, x) AS cost_first, arg_max(cost_usd, x) AS cost_last,
           regr_intercept(tokens, x) AS tokens_a, regr_slope(tokens, x) AS tokens_b,
           sum(tokens) AS tokens_total, arg_min(tokens, x) AS tokens_first, arg_max(tokens, x) AS tokens_last
    FROM series GROUP BY trace_id, agent_name HAVING count(*) >= ?
),
chosen AS (
    SELECT trace_id, agent_name, agents, n, use_cost,
           CASE WHEN use_cost THEN cost_a ELSE tokens_a END AS a,
           CASE WHEN use_cost THEN cost_b ELSE tokens_b END AS b,
           CASE WHEN use_cost THEN cost_total ELSE tokens_total END AS total,
           CASE WHEN use_cost THEN cost_first ELSE tokens_first END AS first,
           CASE WHEN use_cost THEN cost_last ELSE tokens_last END AS last
    FROM fits
),
based AS (  -- the fitted first step, or the real one when the fit starts at or below zero
    SELECT *, CASE WHEN a > 0 THEN a ELSE first END AS base FROM chosen
),
growing AS (
    SELECT *, b / base AS growth, greatest(0.0, total - n * base) AS excess
    FROM based WHERE base > 0 AND b / base > ?
)
SELECT g.*, l.span_ids FROM growing g JOIN (
    SELECT trace_id, agent_name, list(span_id ORDER BY x) AS span_ids
    FROM series WHERE trace_id IN (SELECT trace_id FROM growing) GROUP BY trace_id, agent_name
) l ON l.trace_id = g.trace_id AND l.agent_name IS NOT DISTINCT FROM g.agent_name
ORDER BY g.trace_id, g.agent_name
"""


_COMPOUNDING_SQL = """
WITH calls AS (
    SELECT trace_id, span_id, start_ns, input_tokens, cost_usd,
           coalesce(input_tokens, 0) + coalesce(output_tokens, 0) AS call_tokens
    FROM spans WHERE category = 'llm' AND input_tokens IS NOT NULL
),
per_run AS (
    SELECT trace_id, count(*) AS calls,
           sum(cost_usd) AS cost_usd, count(cost_usd) AS priced,
           arg_max(cost_usd, input_tokens) AS single_usd,
           sum(call_tokens) AS tokens,
           arg_max(call_tokens, input_tokens) AS single_tokens
    FROM calls GROUP BY trace_id
    HAVING count(*) >= 2 AND max(input_tokens) >= 2 * min(input_tokens)
),
-- The ratio the rule judges (a hair looser: the rule decides in Python), so that span lists
-- are built only for the runs that can be reported.
candidates AS (
    SELECT * FROM per_run
    WHERE CASE WHEN priced = calls AND coalesce(single_usd, 0) <> 0 THEN cost_usd / single_usd
               ELSE tokens / nullif(single_tokens, 0) END > ? * 0.999999
)
SELECT c.*, l.span_ids FROM candidates c JOIN (
    SELECT trace_id, list(span_id ORDER BY start_ns) AS span_ids FROM calls
    WHERE trace_id IN (SELECT trace_id FROM candidates) GROUP BY trace_id
) l USING (trace_id)
ORDER BY trace_id
"""


@rule(
    "AP202",
    "context-compounding",
    severity="medium",
    summary="A run costs many times the single call that would send all its content once.",
    thresholds={"compounding_ratio": 10, **HIGH_SEVERITY_SHARE},
)
def check_compounding(ctx: Any):
    """
    ## What it does
    Compares a run's LLM cost with its *single-call equivalent*: the cost of its largest
    call (the one with the most input tokens), which already carries all the content the
    run accumulated. Reports the run when the ratio is above `compounding_ratio` and the
    context grew (the largest input is at least twice the smallest; runs whose calls all
    re-send the same prompt are AP203's). Token counts stand in for cost when some call has
    no price.

    ## Why is this bad?
    A ratio of 10 means the run paid ten times for the same content: each step re-sent
    everything before it. This is context compounding; it dominates the bill of long agent
    runs and grows with the square of the step count.

    ## Example
    20 steps whose input grows from 3,000 to 37,000 tokens: 400,000 input tokens in total,
    11× the last call.

    ## Use instead
    Compress history between steps, reset the context between sub-tasks (hand a summary to
    a fresh sub-agent), and cache the stable prefix. The estimated saving is the cost above
    `compounding_ratio` × the single-call equivalent.

    ## Thresholds
    - `compounding_ratio` (default 10): run cost / single-call-equivalent cost to report.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, effective context engineering for AI agents:
      https://www.anthropic.com/engineering/effective-context-engineering-for-ai-agents
    """
    limit = threshold(ctx, "compounding_ratio", 10)
    for r in rows(ctx.con, _COMPOUNDING_SQL, [limit]):
        priced = r["priced"] == r["calls"] and r["single_usd"]
        total, single = (r["cost_usd"], r["single_usd"]) if priced else (r["tokens"], r["single_tokens"])
        if not single or total / single <= limit:
            continue
        ratio = total / single
        excess = total - limit * single
        if priced:
            what = f"{fmt_usd(total)}, {ratio:.1f}× its largest call ({fmt_usd(single)})"
        else:
            what = f"{total:,} tokens, {ratio:.1f}× its largest call ({single:,} tokens)"
        yield make_finding(
            ctx,
            "AP202",
            run_id=r["trace_id"],
            message=f"The run's {r['calls']} LLM calls cost {what}: the same context was paid for again on every step.",
            suggestion="Compress history between steps or hand a summary to a fresh context per sub-task.",
            span_ids=r["span_ids"],
            savings_usd=excess if priced else None,
            cost_usd=r["cost_usd"] if priced else None,
        )


_SYSTEM_SQL = f"""
WITH c AS (
    SELECT trace_id, span_id, start_ns, request_model AS model, provider,
           coalesce(cache_read_tokens, 0) AS cache_read, {part_tokens_sql('system_chars')} AS system_tokens
    FROM spans WHERE category = 'llm' AND system_chars > 0 AND input_tokens > 0
)
SELECT trace_id, model, any_value(provider) AS provider, count(*) AS calls,
       sum(system_tokens) - arg_min(system_tokens, start_ns) AS resent_tokens,
       arg_min(system_tokens, start_ns) AS first_tokens,
       avg(system_tokens) AS avg_system_tokens,
       list(span_id ORDER BY start_ns) AS span_ids
FROM c GROUP BY trace_id, model
HAVING count(*) >= 2 AND sum(cache_read) = 0 AND avg(system_tokens) >= ?
ORDER BY trace_id, model
"""


@rule(
    "AP203",
    "uncached-repeated-system-prompt",
    severity="medium",
    summary="The system prompt is re-sent on every step and never read from the prompt cache.",
    thresholds={"cache_min_prefix_tokens": 1024, **HIGH_SEVERITY_SHARE},
)
def check_uncached_system_prompt(ctx: Any):
    """
    ## What it does
    Finds runs where two or more LLM calls to one model carry a system prompt of at least
    `cache_min_prefix_tokens` tokens (estimated from its size) and not one call reports a
    cache read.

    ## Why is this bad?
    Providers bill cached input at a fraction of the input price (OpenAI caches prompts of
    1,024+ tokens automatically when the prefix is identical; Anthropic needs
    `cache_control`). A system prompt paid at full price on every step is money spent for
    nothing. The estimated saving prices the system-prompt tokens of every call after the
    first at the model's cache-read price instead of its input price, less the cache-write
    premium of the first call where the provider charges one (genai-prices).

    ## Example
    12 calls, each with the same 3,000-token system prompt, `cache_read_tokens` always 0.

    ## Use instead
    Keep the system prompt (and tool definitions) byte-identical at the start of the prompt,
    put dynamic content after it, and enable caching (`cache_control` breakpoints for
    Anthropic; a stable prefix and `prompt_cache_key` for OpenAI).

    ## Thresholds
    - `cache_min_prefix_tokens` (default 1024): smaller prompts are not cacheable.
    - `high_severity_share` (default 0.2).

    ## References
    - OpenAI prompt caching: https://platform.openai.com/docs/guides/prompt-caching
    - Anthropic prompt caching: https://docs.claude.com/en/docs/build-with-claude/prompt-caching
    """
    price = price_memo(ctx)
    min_tokens = threshold(ctx, "cache_min_prefix_tokens", 1024)
    totals = run_totals(ctx)
    for r in rows(ctx.con, _SYSTEM_SQL, [min_tokens]):
        p = price(r["model"], r["provider"])
        saving = None
        if p is not None and p[2] is not None:
            # Later calls read the prefix at the cache-read price; the first one writes it,
            # which some providers bill above the input price (Anthropic: 1.25x).
            write_premium = max(0.0, p[3] - p[0]) if p[3] is not None else 0.0
            saving = max(0.0, (r["resent_tokens"] * (p[0] - p[2]) - r["first_tokens"] * write_premium) / 1e6)
        cost = totals.get(r["trace_id"], (0.0, None))[1]
        price_note = f"; at the cache-read price this would save {fmt_usd(saving)}" if saving is not None else ""
        yield make_finding(
            ctx,
            "AP203",
            run_id=r["trace_id"],
            message=(
                f"{r['calls']} calls to {r['model']} re-sent a ~{r['avg_system_tokens']:,.0f}-token system prompt "
                f"with no cache reads: {r['resent_tokens']:,.0f} tokens paid at full price after the first call"
                f"{price_note}."
            ),
            suggestion="Keep the system prompt byte-identical at the start and enable prompt caching.",
            span_ids=r["span_ids"],
            savings_usd=saving,
            cost_usd=cost,
        )


_SCHEMA_SQL = f"""
WITH c AS (
    SELECT trace_id, span_id, request_model AS model, provider, input_tokens,
           coalesce(cache_read_tokens, 0) AS cache_read, {part_tokens_sql('tool_schema_chars')} AS schema_tokens
    FROM spans WHERE category = 'llm' AND input_tokens > 0 AND tool_schema_chars > 0
),
g AS (
    SELECT trace_id, model, any_value(provider) AS provider, sum(input_tokens) AS input_tokens,
           sum(schema_tokens) AS schema_tokens,
           sum(schema_tokens) FILTER (WHERE cache_read >= schema_tokens) AS cached_schema_tokens,
           list(span_id) AS span_ids
    FROM c GROUP BY trace_id, model
)
SELECT * FROM g
QUALIFY sum(schema_tokens) OVER (PARTITION BY trace_id) > ? * sum(input_tokens) OVER (PARTITION BY trace_id)
ORDER BY trace_id, model
"""


@rule(
    "AP204",
    "oversized-tool-schemas",
    severity="medium",
    summary="Tool definitions are a large share of the input tokens.",
    thresholds={"tool_schema_share_max": 0.25, **HIGH_SEVERITY_SHARE},
)
def check_tool_schemas(ctx: Any):
    """
    ## What it does
    Estimates the input tokens spent on tool definitions (apportioned by their size in the
    prompt) and reports a run where they are more than `tool_schema_share_max` of all input
    tokens.

    ## Why is this bad?
    Every tool definition is sent with every call. Dozens of tools with long descriptions
    and JSON schemas cost tokens on each step and make tool choice harder for the model.

    ## Example
    40 tools, 9,000 tokens of schemas, in calls of 14,000 input tokens (64%).

    ## Use instead
    Offer only the tools the current step needs (dynamic tool selection, sub-agents with
    small tool sets), shorten descriptions, flatten schemas. The estimated saving prices the
    schema tokens above the threshold share at the model's input price (cache-read price
    for calls whose cache reads cover the schemas), from genai-prices.

    ## Thresholds
    - `tool_schema_share_max` (default 0.25): share of input tokens to report.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, writing effective tools for agents:
      https://www.anthropic.com/engineering/writing-tools-for-agents
    """
    price = price_memo(ctx)
    limit = threshold(ctx, "tool_schema_share_max", 0.25)
    totals = run_totals(ctx)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(ctx.con, _SCHEMA_SQL, [limit]):
        per[r["trace_id"]].append(r)
    for run_id, groups in per.items():
        inp = sum(g["input_tokens"] for g in groups)
        schema = sum(g["schema_tokens"] for g in groups)
        if not inp or schema / inp <= limit or limit >= 1:
            continue
        saving: float | None = 0.0
        for g in groups:
            # Cut schemas to the share `limit` of the smaller input: S' = limit * rest / (1 - limit).
            target = limit * (g["input_tokens"] - g["schema_tokens"]) / (1 - limit)
            cut = max(0.0, g["schema_tokens"] - target)
            if cut == 0:
                continue
            p = price(g["model"], g["provider"])
            if p is None or saving is None:
                saving = None
                continue
            cached_share = (g["cached_schema_tokens"] or 0) / g["schema_tokens"]
            unit_usd = (1 - cached_share) * p[0] + cached_share * (p[2] if p[2] is not None else p[0])
            saving += cut * unit_usd / 1e6
        note = f"; trimming them to {pct(limit)} would save {fmt_usd(saving)}" if saving else ""
        yield make_finding(
            ctx,
            "AP204",
            run_id=run_id,
            message=f"Tool definitions are ~{schema:,.0f} of {inp:,} input tokens ({pct(schema / inp)}){note}.",
            suggestion="Offer only the tools each step needs; shorten tool descriptions and schemas.",
            span_ids=[s for g in groups for s in g["span_ids"]],
            savings_usd=saving or None,
            cost_usd=totals.get(run_id, (0.0, None))[1],
        )


_SHORT_SQL = """
SELECT trace_id, request_model AS model, any_value(provider) AS provider, count(*) AS calls,
       sum(input_tokens - coalesce(cache_read_tokens, 0)) AS uncached_tokens,
       sum(coalesce(cache_read_tokens, 0)) AS cache_read_tokens,
       sum(output_tokens) AS output_tokens,
       list(span_id ORDER BY start_ns) AS span_ids
FROM spans
WHERE category = 'llm' AND list_contains(?, request_model) AND output_tokens IS NOT NULL
  AND input_tokens IS NOT NULL AND output_tokens <= ?
GROUP BY trace_id, request_model HAVING count(*) >= ?
ORDER BY trace_id, model
"""


@rule(
    "AP205",
    "expensive-model-for-simple-steps",
    severity="medium",
    summary="A large model writes short outputs (tool selection) that a cheaper model could write.",
    thresholds={"routing_output_tokens_max": 150, "routing_calls_min": 2, **HIGH_SEVERITY_SHARE},
)
def check_model_routing(ctx: Any):
    """
    ## What it does
    Finds runs where a model that has a cheaper sibling of the same provider (gpt-4o →
    gpt-4o-mini, claude-sonnet-4-5 → claude-haiku-4-5, gemini-2.5-pro → gemini-2.5-flash, …)
    made at least `routing_calls_min` calls with at most `routing_output_tokens_max` output
    tokens each: tool selection, routing and short extraction.

    ## Why is this bad?
    Short, constrained outputs are where small models do well, and they cost a fraction of
    the large model's price per token. The estimated saving prices the same tokens at both
    models' prices (genai-prices, or your `[tool.agentprof.prices]`).

    ## Example
    9 calls to `gpt-4o` that each return one tool call of 40 tokens.

    ## Use instead
    Route tool selection and other short steps to the cheaper model, and keep the large
    model for planning and the final answer. Check the change with your evaluations.

    The cheaper model comes from a built-in list of same-provider siblings; name your own
    under `[tool.agentprof.routes]` in pyproject.toml (`"gpt-4o" = "gpt-4.1-nano"`, also for
    models the list does not know, e.g. your fine-tunes), or `""` to never suggest a route
    for a model. Both models need a price (genai-prices or `[tool.agentprof.prices]`).

    ## Thresholds
    - `routing_output_tokens_max` (default 150): output tokens of a "short" call.
    - `routing_calls_min` (default 2): short calls of one model in a run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - OpenAI model selection guide: https://platform.openai.com/docs/guides/model-selection
    - Anthropic, choosing a model: https://docs.claude.com/en/docs/about-claude/models/choosing-a-model
    """
    price = price_memo(ctx)
    max_out = threshold(ctx, "routing_output_tokens_max", 150)
    min_calls = threshold(ctx, "routing_calls_min", 2)
    totals = run_totals(ctx)
    models = [m for (m,) in ctx.con.execute(
        "SELECT DISTINCT request_model FROM spans WHERE category = 'llm' AND request_model IS NOT NULL").fetchall()]
    routes = getattr(ctx.config, "routes", None) or {}

    def route(model: str) -> str | None:  # the user's routes win over the built-in suggestions
        return (routes[model] or None) if model in routes else cheaper_model(model)

    routable = [m for m in models if route(m)]
    if not routable:
        return
    for r in rows(ctx.con, _SHORT_SQL, [routable, max_out, min_calls]):
        cheap = route(r["model"])
        strong_p, cheap_p = price(r["model"], r["provider"]), price(cheap, r["provider"])
        if strong_p is None or cheap_p is None:
            continue

        def cost(p: tuple) -> float:
            cr = p[2] if p[2] is not None else p[0]
            return (r["uncached_tokens"] * p[0] + r["cache_read_tokens"] * cr + r["output_tokens"] * p[1]) / 1e6

        saving = cost(strong_p) - cost(cheap_p)
        if saving <= 0:
            continue
        yield make_finding(
            ctx,
            "AP205",
            run_id=r["trace_id"],
            message=(
                f"{r['calls']} calls to {r['model']} returned at most {int(max_out)} output tokens each "
                f"({r['output_tokens']:,} in total); on {cheap} they would cost {fmt_usd(cost(cheap_p))} "
                f"instead of {fmt_usd(cost(strong_p))}."
            ),
            suggestion=f"Route short steps such as tool selection to {cheap}; keep {r['model']} for planning.",
            span_ids=r["span_ids"],
            savings_usd=saving,
            cost_usd=totals.get(r["trace_id"], (0.0, None))[1],
        )


_BUDGET_SQL = """
WITH c AS (
    SELECT trace_id, span_id, start_ns,
           sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))
               OVER (PARTITION BY trace_id ORDER BY start_ns, span_id ROWS UNBOUNDED PRECEDING) AS running
    FROM spans WHERE category = 'llm'
)
SELECT trace_id, max(running) AS tokens, count(*) AS calls,
       list(span_id ORDER BY start_ns, span_id) FILTER (WHERE running > ?) AS over_ids
FROM c GROUP BY trace_id HAVING max(running) > ? ORDER BY trace_id
"""


@rule(
    "AP206",
    "run-over-token-budget",
    severity="high",
    summary="A run used more tokens than the configured token_budget.",
    thresholds={},
)
def check_token_budget(ctx: Any):
    """
    ## What it does
    When `token_budget` is set, reports every run whose LLM calls used more input + output
    tokens than the budget, and names the calls made after the budget was crossed.

    ## Why is this bad?
    A token budget is your statement of what a run may cost. Runs over it usually loop,
    re-send large context, or solve the task the long way; at scale they dominate the bill.

    ## Example
    `token_budget = 15000` and a run of 9 calls using 41,200 tokens; calls 4 to 9 are over.

    ## Use instead
    Enforce the budget in the agent loop (stop or summarize when it is reached), and fix the
    cause the other AP2xx/AP4xx findings of the run point to.

    ## Thresholds
    - `token_budget` (a top-level setting under `[tool.agentprof]`, not a threshold; unset by
      default, which disables this rule).

    ## References
    - OpenAI, managing tokens: https://platform.openai.com/docs/guides/text#managing-tokens
    """
    budget = getattr(ctx.config, "token_budget", None)
    if not budget:
        return
    for r in rows(ctx.con, _BUDGET_SQL, [budget, budget]):
        over = list(r["over_ids"] or [])
        yield make_finding(
            ctx,
            "AP206",
            run_id=r["trace_id"],
            message=(
                f"The run used {r['tokens']:,} tokens, {r['tokens'] / budget:.1f}× the budget of {budget:,}; "
                f"{len(over)} of its {r['calls']} LLM calls came after the budget was used up."
            ),
            suggestion="Enforce the token budget in the agent loop and fix what makes the run long.",
            span_ids=over,
        )
