"""AP4xx: tools and loops."""

from __future__ import annotations

from typing import Any

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import (
    SPAN_IDS_MAX,
    HIGH_SEVERITY_SHARE,
    NS_PER_S,
    fmt_s,
    fmt_usd,
    make_finding,
    rows,
    run_totals,
    threshold,
)

_REPEAT_SQL = """
WITH calls AS (
    SELECT trace_id, span_id, coalesce(tool_name, name) AS tool, tool_args_hash AS args, start_ns, end_ns,
           cost_usd, status
    FROM spans
    WHERE category IN ('tool', 'retrieval') AND coalesce(tool_args_hash, '') <> ''
),
-- Only a (run, tool, arguments) seen twice can repeat: a hash aggregate finds those before
-- the window sorts anything (usually few calls, often none).
twice AS (SELECT trace_id, tool, args FROM calls GROUP BY ALL HAVING count(*) >= 2),
t AS (
    SELECT *, row_number() OVER w AS k, lag(status) OVER w AS prev_status
    FROM calls SEMI JOIN twice USING (trace_id, tool, args)
    WINDOW w AS (PARTITION BY trace_id, tool, args ORDER BY start_ns, span_id)
),
g AS (
    SELECT trace_id, tool, args, count(*) AS calls,
           count(*) FILTER (WHERE k > 1 AND prev_status <> 'error') AS repeats,
           sum(end_ns - start_ns) FILTER (WHERE k > 1 AND prev_status <> 'error') AS wasted_ns,
           sum(cost_usd) FILTER (WHERE k > 1 AND prev_status <> 'error') AS wasted_usd,
           list(span_id ORDER BY start_ns, span_id) AS span_ids, min(start_ns) AS first_ns
    FROM t GROUP BY trace_id, tool, args
)
SELECT trace_id, count(*) AS pairs, sum(repeats) AS repeats, sum(wasted_ns) AS wasted_ns,
       sum(wasted_usd) AS wasted_usd, arg_max(tool, repeats) AS top_tool, max(calls) AS top_calls,
       -- Groups in the order of their first call: without an order, list() follows thread
       -- scheduling and a finding's (bounded) span list changed from one run to the next.
       flatten(list(span_ids ORDER BY first_ns, tool, args)) AS span_ids
FROM g WHERE repeats >= 1
GROUP BY trace_id ORDER BY trace_id
"""


@rule(
    "AP401",
    "repeated-identical-tool-call",
    severity="medium",
    summary="The same tool was called again with the same arguments (in one run, or across runs).",
    thresholds={"cross_run_repeats_min": 10, "cross_run_repeat_share_min": 0.2, **HIGH_SEVERITY_SHARE},
)
def check_repeated_calls(ctx: Any):
    """
    ## What it does
    Groups a run's tool calls by tool name and argument hash (`tool_args_hash`) and reports
    calls that repeat an earlier *successful* call with identical arguments (a repeat after
    a failure is a retry, see AP302). Calls without an argument hash are not judged.

    Across runs, it also reports a tool whose calls repeat arguments an *earlier run*
    already called it with (at least `cross_run_repeats_min` such calls, and at least
    `cross_run_repeat_share_min` of the tool's calls): one finding per tool with low
    severity, since a cache shared between runs is only right when the data may be a
    little stale. Its saving is the repeated calls' time per affected run.

    ## Why is this bad?
    The second call returns what the first returned: its latency, its cost, and the LLM
    step that asked for it are wasted, and its result enlarges the context again. It often
    means the model lost track of an earlier result (context too long or truncated).

    ## Example
    `get_weather(city="Paris")` called at step 2 and again at step 5. Across runs:
    `crm_get_customer(id=…)` for 25 accounts in 200 runs, 183 calls repeating an earlier run's.

    ## Use instead
    Memoize deterministic tools within a run (a dict keyed by tool and canonical
    arguments), and keep earlier results visible to the model (or summarize them) so it
    does not ask again. The estimated saving is the time (and any recorded tool cost) of
    the repeated calls. Across runs, a shared cache with a time-to-live fitting how
    often the data changes serves the repeats.

    ## Thresholds
    - `cross_run_repeats_min` (default 10): calls repeating an earlier run's arguments.
    - `cross_run_repeat_share_min` (default 0.2): share of the tool's calls they must be.
    - `high_severity_share` (default 0.2).

    ## References
    - Python `functools.lru_cache`: https://docs.python.org/3/library/functools.html#functools.lru_cache
    """
    totals = run_totals(ctx)
    for r in rows(ctx.con, _REPEAT_SQL):
        wall_s, cost = totals.get(r["trace_id"], (0.0, None))
        wasted_s = (r["wasted_ns"] or 0) / NS_PER_S
        usd = f" and {fmt_usd(r['wasted_usd'])}" if r["wasted_usd"] else ""
        yield make_finding(
            ctx,
            "AP401",
            run_id=r["trace_id"],
            message=(
                f"{r['repeats']} tool call(s) repeated an earlier identical call ({r['pairs']} tool/argument "
                f"pair(s); {r['top_tool']!r} {r['top_calls']}×), wasting {fmt_s(wasted_s)}{usd}."
            ),
            suggestion="Cache deterministic tool results within a run and keep earlier results visible to the model.",
            span_ids=r["span_ids"],
            savings_s=wasted_s,
            savings_usd=r["wasted_usd"],
            wall_s=wall_s,
            cost_usd=cost,
        )
    yield from _cross_run_repeats(ctx)


# Successful calls that are the first of their (tool, arguments) in their run but repeat a
# pair an earlier run already called: what a cache shared between runs would serve.
_CROSS_RUN_SQL = """
WITH calls AS (
    SELECT trace_id, span_id, coalesce(tool_name, name) AS tool, tool_args_hash AS args, start_ns, end_ns, status
    FROM spans
    WHERE category IN ('tool', 'retrieval') AND coalesce(tool_args_hash, '') <> ''
),
per_tool AS (SELECT tool, count(*) AS calls FROM calls GROUP BY tool),
-- Only a (tool, arguments) seen twice can repeat; the windows sort just those calls.
twice AS (SELECT tool, args FROM calls GROUP BY ALL HAVING count(*) >= 2),
t AS (
    SELECT *,
           row_number() OVER (PARTITION BY trace_id, tool, args ORDER BY start_ns, span_id) AS k_in_run,
           row_number() OVER (PARTITION BY tool, args ORDER BY start_ns, trace_id, span_id) AS k_any
    FROM calls SEMI JOIN twice USING (tool, args)
),
r AS (SELECT *, k_in_run = 1 AND k_any > 1 AND status <> 'error' AS repeat FROM t)
SELECT tool, p.calls, count(*) FILTER (WHERE repeat) AS repeats,
       count(DISTINCT trace_id) FILTER (WHERE repeat) AS runs,
       sum(end_ns - start_ns) FILTER (WHERE repeat) / 1e9 AS repeat_s,
       list(span_id ORDER BY end_ns - start_ns DESC, span_id) FILTER (WHERE repeat) AS span_ids
FROM r JOIN per_tool p USING (tool) GROUP BY tool, p.calls
HAVING count(*) FILTER (WHERE repeat) >= greatest(?, 1) AND count(*) FILTER (WHERE repeat) >= ? * p.calls
ORDER BY tool
"""


def _cross_run_repeats(ctx: Any):
    min_repeats = threshold(ctx, "cross_run_repeats_min", 10)
    min_share = threshold(ctx, "cross_run_repeat_share_min", 0.2)
    for r in rows(ctx.con, _CROSS_RUN_SQL, [min_repeats, min_share]):
        per_run_s = r["repeat_s"] / r["runs"]
        yield make_finding(
            ctx,
            "AP401",
            run_id=None,
            message=(
                f"{r['repeats']} of {r['calls']} calls to {r['tool']!r}, in {r['runs']} runs, repeated arguments an "
                f"earlier run already called it with; a shared cache would save {fmt_s(per_run_s)} per affected run "
                f"({fmt_s(r['repeat_s'])} in all)."
            ),
            suggestion=f"Cache {r['tool']!r} results across runs with a time-to-live that fits how often the data changes.",
            span_ids=list(r["span_ids"])[:SPAN_IDS_MAX],
            savings_s=per_run_s,
            severity="low",
        )


# Cycles of tool names: position p repeats position p - L. A run of k consecutive matching
# positions means the L names before it repeat (k + L) / L times (gaps-and-islands).
#
# Linear in the calls of a run for each period L: every position is compared with the one
# L earlier by lag() over one sorted window (a self-join on position was hashed on the tool
# name and compared every pair of same-tool calls: quadratic), and the calls of each island
# are found by expanding the island into its positions and joining on position equality
# (a range join on position is quadratic in islands x calls). Islands of one period are
# disjoint, so the expansion is at most about twice the calls per period.
_LOOP_SEQ_SQL = """
calls AS (
    SELECT trace_id, coalesce(agent_name, '') AS agent, span_id, coalesce(tool_name, name) AS tool,
           coalesce(tool_args_hash, '') AS args, start_ns, end_ns
    FROM spans WHERE category IN ('tool', 'retrieval')
),
-- A loop needs 2 * reps_min calls or more, of two tools or more, one of which repeats an
-- earlier call's arguments or has none recorded: one hash aggregate drops the (run, agent)
-- sequences that cannot hold one before any window sort.
candidates AS (
    SELECT trace_id, agent FROM (SELECT trace_id, agent, tool, args, count(*) AS n FROM calls GROUP BY ALL)
    GROUP BY trace_id, agent
    HAVING sum(n) >= 2 * CAST($1 AS BIGINT) AND count(DISTINCT tool) >= 2
       AND (bool_or(args = '') OR max(n) >= 2)
),
seq AS (
    SELECT *,
           row_number() OVER (PARTITION BY trace_id, agent ORDER BY start_ns, span_id) AS pos,
           args <> '' AND row_number() OVER (
               PARTITION BY trace_id, agent, tool, args ORDER BY start_ns, span_id) > 1 AS seen_before
    FROM calls SEMI JOIN candidates USING (trace_id, agent)
)"""

_LOOP_REST_SQL = """
islands AS (
    SELECT trace_id, agent, l, min(pos) AS first_pos, max(pos) AS last_pos, count(*) AS k,
           bool_and(same_args) AS exact
    FROM (SELECT *, pos - row_number() OVER (PARTITION BY trace_id, agent, l ORDER BY pos) AS grp
          FROM m)
    GROUP BY trace_id, agent, l, grp
    HAVING count(*) >= (CAST($1 AS BIGINT) - 1) * l
),
cover AS (
    SELECT *, unnest(range(first_pos - l, last_pos + 1)) AS pos FROM islands
)
SELECT i.trace_id, i.agent, i.l, i.first_pos, i.last_pos, i.k, i.exact,
       list(s.tool ORDER BY s.pos) FILTER (WHERE s.pos < i.first_pos) AS cycle,
       count(DISTINCT s.tool) AS distinct_tools,
       bool_or(s.args = '') AS unknown_args,
       list(s.span_id ORDER BY s.pos) AS span_ids,
       min(s.start_ns) FILTER (WHERE s.pos >= i.first_pos) AS repeat_start_ns,
       max(s.end_ns) AS repeat_end_ns
FROM cover i JOIN seq s ON s.trace_id = i.trace_id AND s.agent = i.agent AND s.pos = i.pos
GROUP BY i.trace_id, i.agent, i.l, i.first_pos, i.last_pos, i.k, i.exact
HAVING count(DISTINCT s.tool) >= 2 AND (bool_or(s.seen_before) OR bool_or(s.args = ''))
ORDER BY i.trace_id, i.first_pos, i.l, i.agent
"""


def loop_sql(period_max: int) -> str:
    """AP402's query for periods 2..``period_max`` (one parameter: ``loop_repeats_min``)."""
    periods = range(2, int(period_max) + 1)
    lags = ",\n           ".join(f"lag(tool, {l}) OVER w AS tool_{l}, lag(args, {l}) OVER w AS args_{l}" for l in periods)
    # Positions whose tool equals the one l earlier (a NULL lag, before the run's start, drops out).
    matches = "\n    UNION ALL\n    ".join(
        f"SELECT trace_id, agent, pos, {l}::BIGINT AS l, args <> '' AND args = args_{l} AS same_args "
        f"FROM lagged WHERE tool = tool_{l}"
        for l in periods
    )
    return f"""
WITH {_LOOP_SEQ_SQL.strip()},
lagged AS (
    SELECT trace_id, agent, pos, tool, args,
           {lags}
    FROM seq WINDOW w AS (PARTITION BY trace_id, agent ORDER BY pos)
),
m AS (
    {matches}
),
{_LOOP_REST_SQL.strip()}
"""


@rule(
    "AP402",
    "repeated-action-loop",
    severity="medium",
    summary="The same sequence of tool calls repeats (A→B→A→B…) three or more times.",
    thresholds={"loop_repeats_min": 3, "loop_period_max": 4, **HIGH_SEVERITY_SHARE},
)
def check_action_loops(ctx: Any):
    """
    ## What it does
    Looks at the order of a run's tool calls (per agent) for a sequence of 2 to
    `loop_period_max` calls, with at least two different tools, that repeats back to back
    at least `loop_repeats_min` times: `A→B→A→B→A→B`, `search→open→read→search→open→read…`,
    and in which some call repeats an earlier call's arguments (or arguments were not
    recorded). A sequence over new arguments every time is iteration (reading one section
    after another), not a loop, and is not reported. When every call of the repeats has the
    arguments of the cycle before, the loop is *exact* and the repeats beyond the first cycle
    are counted as wasted time; otherwise no saving is estimated.

    ## Why is this bad?
    Oscillating between two actions (edit ↔ undo, search ↔ open the same page) is the most
    common way agents burn steps without progress, and each cycle re-sends the growing
    context.

    ## Example
    `open_file → run_tests → open_file → run_tests → open_file → run_tests` with the same
    arguments each time.

    ## Use instead
    Detect repeated states in the agent loop and stop or re-plan, show the model a short
    summary of what it already tried, and cap the number of cycles.

    ## Thresholds
    - `loop_repeats_min` (default 3): repetitions of the sequence to report.
    - `loop_period_max` (default 4): longest sequence considered.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, building effective agents (stopping conditions):
      https://www.anthropic.com/engineering/building-effective-agents
    """
    reps_min = max(2, int(threshold(ctx, "loop_repeats_min", 3)))
    period_max = max(2, int(threshold(ctx, "loop_period_max", 4)))
    totals = run_totals(ctx)
    claimed: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in rows(ctx.con, loop_sql(period_max), [reps_min]):
        start = r["first_pos"] - r["l"]
        spans = claimed.setdefault((r["trace_id"], r["agent"]), [])
        # The shortest period wins; a longer one over the same calls is the same loop.
        if any(a <= r["last_pos"] and start <= b for a, b in spans):
            continue
        spans.append((start, r["last_pos"]))
        reps = (r["k"] + r["l"]) / r["l"]
        wall_s = totals.get(r["trace_id"], (0.0, None))[0]
        extra_s = (r["repeat_end_ns"] - r["repeat_start_ns"]) / NS_PER_S
        if r["exact"]:
            kind = "with the same arguments"
        elif r["unknown_args"]:
            kind = "(arguments not recorded)"
        else:
            kind = "with partly repeated arguments"
        yield make_finding(
            ctx,
            "AP402",
            run_id=r["trace_id"],
            message=(
                f"The tool sequence {' → '.join(r['cycle'])} repeated {reps:.0f} times in a row {kind}; "
                f"the repeats after the first took {fmt_s(extra_s)}."
            ),
            suggestion="Detect repeated actions in the agent loop and re-plan or stop; cap the cycles.",
            span_ids=r["span_ids"],
            savings_s=extra_s if r["exact"] else None,
            wall_s=wall_s,
        )


# Steps whose tool calls all repeat an earlier (tool, arguments) pair of the run, and the
# islands of consecutive such steps. Uses the analysis' temp tables ``steps`` and
# ``step_members`` (see ``agentprof.analyzers.context``). Calls without an argument hash
# count as new: we cannot tell.
_NO_PROGRESS_SQL = """
WITH all_calls AS (
    SELECT rowid AS rid, trace_id, span_id, coalesce(tool_name, name) AS tool, tool_args_hash AS args, start_ns
    FROM spans WHERE category IN ('tool', 'retrieval')
),
-- A call is new unless an earlier call of its run had the same tool and arguments; only
-- (run, tool, arguments) seen twice need the window (a hash aggregate finds them).
twice AS (
    SELECT trace_id, tool, args FROM all_calls WHERE coalesce(args, '') <> '' GROUP BY ALL HAVING count(*) >= 2
),
repeats AS (
    SELECT rid FROM (
        SELECT rid, row_number() OVER (PARTITION BY trace_id, tool, args ORDER BY start_ns, span_id) AS k
        FROM all_calls SEMI JOIN twice USING (trace_id, tool, args))
    WHERE k > 1
),
calls AS (
    SELECT rid, trace_id, span_id, rid NOT IN (SELECT rid FROM repeats) AS is_new FROM all_calls
),
-- Only a run with a repeated call can have a step without a new result.
per_step AS (
    SELECT st.trace_id, st.step_index, st.span_id AS step_span_id,
           count(c.span_id) AS n_tools, coalesce(bool_or(c.is_new), false) AS any_new,
           list(c.span_id ORDER BY c.span_id) FILTER (WHERE c.span_id IS NOT NULL) AS tool_ids
    FROM steps st
    LEFT JOIN step_members m ON m.step_rid = st.step_rid
    LEFT JOIN calls c ON c.rid = m.rid
    WHERE st.trace_id IN (SELECT trace_id FROM twice)
    GROUP BY st.trace_id, st.step_index, st.span_id
),
flagged AS (
    SELECT *, n_tools > 0 AND NOT any_new AS stuck FROM per_step
),
islands AS (
    SELECT *, step_index - row_number() OVER (PARTITION BY trace_id, stuck ORDER BY step_index) AS grp
    FROM flagged
)
SELECT trace_id, min(step_index) AS first_step, max(step_index) AS last_step,
       list(step_span_id ORDER BY step_index) AS step_ids,
       flatten(list(tool_ids ORDER BY step_index)) AS tool_ids
FROM islands WHERE stuck
GROUP BY trace_id, grp HAVING count(*) >= ?
ORDER BY trace_id, first_step
"""


@rule(
    "AP403",
    "steps-without-progress",
    severity="medium",
    summary="Several steps in a row only repeated tool calls already made.",
    thresholds={"no_progress_steps": 3, **HIGH_SEVERITY_SHARE},
)
def check_no_progress(ctx: Any):
    """
    ## What it does
    Marks a step as *without progress* when it made tool calls and every one of them repeats
    a tool name and arguments already called earlier in the run (calls without an argument
    hash count as new). Reports `no_progress_steps` or more such steps in a row.

    ## Why is this bad?
    The agent is spinning: each of these steps costs an LLM call on the full context and
    learns nothing new. Left alone it usually ends at the step limit (AP404).

    ## Example
    Steps 6, 7 and 8 each call `search(q="refund policy")`, already called at step 2.

    ## Use instead
    Track what the agent already called and stop or re-plan when nothing new comes back;
    show earlier results to the model. The estimated saving is the time and cost of the
    steps without progress.

    ## Thresholds
    - `no_progress_steps` (default 3): consecutive steps without a new tool result.
    - `high_severity_share` (default 0.2).

    ## References
    - Anthropic, building effective agents (stopping conditions):
      https://www.anthropic.com/engineering/building-effective-agents
    """
    need = max(1, int(threshold(ctx, "no_progress_steps", 3)))
    runs = {r.run_id: r for r in getattr(ctx, "runs", None) or ()}
    if not runs:  # no analyzed runs, no step tables
        return
    for r in rows(ctx.con, _NO_PROGRESS_SQL, [need]):
        run = runs.get(r["trace_id"])
        if run is None:
            continue
        streak = [s for s in run.steps if r["first_step"] <= s.index <= r["last_step"]]
        dur_s = sum(s.duration_ns for s in streak) / NS_PER_S
        costs = [s.cost_usd for s in streak if s.cost_usd is not None]
        usd = sum(costs) if costs else None
        yield make_finding(
            ctx,
            "AP403",
            run_id=run.run_id,
            message=(
                f"Steps {r['first_step']}–{r['last_step']} ({len(streak)} steps, {fmt_s(dur_s)}, "
                f"{fmt_usd(usd)}) only repeated tool calls made earlier in the run."
            ),
            suggestion="Stop or re-plan when a step brings no new tool result; show the model what it tried.",
            span_ids=list(r["step_ids"]) + list(r["tool_ids"] or []),
            savings_s=dur_s,
            savings_usd=usd,
            wall_s=run.wall_ns / NS_PER_S,
            cost_usd=run.cost_usd,
        )


_LIMIT_RE = (
    r"max(imum)?[ _-]?(iterations?|steps?|turns?)|recursion[ _-]?limit|iteration limit"
    r"|maxturnsexceeded|graphrecursionerror|agent stopped due to (iteration|time) limit"
)
_LIMIT_SQL = f"""
SELECT trace_id, list(span_id ORDER BY start_ns) AS span_ids,
       any_value(coalesce(nullif(trim(status_message), ''), error_type)) AS text
FROM spans
WHERE ((status = 'error' OR status_message IS NOT NULL OR CAST(events AS VARCHAR) <> '[]')
       AND regexp_matches(lower(coalesce(status_message, '') || ' ' || coalesce(error_type, '') || ' '
                                || coalesce(CAST(events AS VARCHAR), '') || ' '
                                || CASE WHEN status = 'error' THEN name ELSE '' END), '{_LIMIT_RE}'))
   -- LangChain's AgentExecutor returns this text as the output instead of raising.
   OR (category IN ('agent', 'chain')
       AND contains(lower(coalesce(CAST(attributes AS VARCHAR), '')), 'agent stopped due to iteration limit'))
GROUP BY trace_id
"""


@rule(
    "AP404",
    "step-limit-reached",
    severity="high",
    summary="A run stopped at its step / iteration limit instead of finishing.",
    thresholds={"max_steps": 25},
)
def check_step_limit(ctx: Any):
    """
    ## What it does
    Reports a run that hit its step limit: a span's error or events mention a maximum of
    iterations, steps or turns or a recursion limit (LangChain's `max_iterations`,
    LangGraph's `GraphRecursionError`, the OpenAI Agents SDK's `MaxTurnsExceeded`), or the
    run has the most steps of all runs of the input and at least `max_steps` of them.

    ## Why is this bad?
    A run that stops at the limit did not finish its task, and it was the most expensive
    kind of run: every one of its steps re-sent a long context. Raising the limit usually
    only makes such runs more expensive.

    ## Example
    A LangGraph run that raises `GraphRecursionError: Recursion limit of 25 reached`.

    ## Use instead
    Look at the run's other findings (AP402 loops, AP403 steps without progress, AP401
    repeated calls) for why it did not converge; give the agent a clearer stop condition
    and tools that report progress.

    ## Thresholds
    - `max_steps` (default 25): a run with at least this many steps, and no fewer than any
      other run, counts as stopped at the limit.

    ## References
    - LangGraph, recursion limit:
      https://langchain-ai.github.io/langgraph/troubleshooting/errors/GRAPH_RECURSION_LIMIT/
    - OpenAI Agents SDK, `max_turns`: https://openai.github.io/openai-agents-python/running_agents/
    """
    max_steps = threshold(ctx, "max_steps", 25)
    by_text = {r["trace_id"]: r for r in rows(ctx.con, _LIMIT_SQL)}
    runs = list(getattr(ctx, "runs", None) or ())
    most = max((r.step_count for r in runs), default=0)
    at_limit = [r for r in runs if r.step_count >= max_steps and r.step_count == most]
    reported = set()
    for run_id, r in sorted(by_text.items()):
        reported.add(run_id)
        lines = (r["text"] or "").strip().splitlines()
        text = lines[0][:160].rstrip(" .") if lines else "a step/iteration limit"
        yield make_finding(
            ctx,
            "AP404",
            run_id=run_id,
            message=f"The run stopped at its step limit: {text}.",
            suggestion="Find why the run did not converge (loops, repeated calls) and give it a clear stop condition.",
            span_ids=r["span_ids"],
        )
    for run in at_limit:
        if run.run_id in reported:
            continue
        same = sum(1 for r in runs if r.step_count == most)
        yield make_finding(
            ctx,
            "AP404",
            run_id=run.run_id,
            message=(
                f"The run ended after {run.step_count} steps, the most of any run ({same} run(s) stopped at "
                f"{most}), at or above max_steps = {max_steps:.0f}."
            ),
            suggestion="Find why the run did not converge (loops, repeated calls) and give it a clear stop condition.",
            span_ids=[s.span_id for s in run.steps[-3:]] or [s.span_id for s in run.critical_path[:1]],
        )

