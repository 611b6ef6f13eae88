"""AP3xx: reliability and retries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import SPAN_IDS_MAX, fmt_s, make_finding, pct, rows, threshold

_TOOL_ERRORS_SQL = """
SELECT coalesce(tool_name, name) AS tool, count(*) AS calls,
       count(*) FILTER (WHERE status = 'error') AS errors,
       count(DISTINCT trace_id) FILTER (WHERE status = 'error') AS runs_with_errors,
       any_value(trace_id) FILTER (WHERE status = 'error') AS a_run,
       sum(end_ns - start_ns) FILTER (WHERE status = 'error') / 1e9 AS failed_s,
       list(span_id ORDER BY trace_id, start_ns) FILTER (WHERE status = 'error') AS error_ids,
       mode(error_type) FILTER (WHERE status = 'error') AS common_error
FROM spans WHERE category IN ('tool', 'retrieval')
GROUP BY ALL
HAVING count(*) >= ? AND count(*) FILTER (WHERE status = 'error') > ? * count(*)
ORDER BY tool
"""


@rule(
    "AP301",
    "high-tool-error-rate",
    severity="medium",
    summary="A tool fails in more than tool_error_rate_max of its calls across all runs.",
    thresholds={"tool_error_rate_max": 0.05, "tool_error_min_calls": 3},
)
def check_tool_error_rate(ctx: Any):
    """
    ## What it does
    Computes, across all runs of the input, each tool's error rate (calls whose span status
    is error) and reports a tool above `tool_error_rate_max` that was called at least
    `tool_error_min_calls` times. Severity is high when the rate is at least four times the
    threshold.

    ## Why is this bad?
    A failed tool call costs its own time, an LLM step to read the error, and usually a
    retry; errors that are not retried leave the agent answering without the data. Field
    practice alerts on tool error rates above about 5%.

    ## Example
    `search_orders`: 40 calls, 7 errors (17.5%), mostly `TimeoutError`.

    ## Use instead
    Fix the tool's common error (timeouts, bad arguments the model keeps producing: tighten
    the schema and description), add retries with backoff inside the tool, and return
    errors in a form the model can act on.

    ## Thresholds
    - `tool_error_rate_max` (default 0.05): error rate to report.
    - `tool_error_min_calls` (default 3): tools with fewer calls are not judged.

    ## References
    - OpenTelemetry GenAI semantic conventions, `error.type` on tool spans:
      https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/
    """
    limit = threshold(ctx, "tool_error_rate_max", 0.05)
    min_calls = threshold(ctx, "tool_error_min_calls", 3)
    for r in rows(ctx.con, _TOOL_ERRORS_SQL, [min_calls, limit]):
        rate = r["errors"] / r["calls"]
        common = f", most often {r['common_error']}" if r["common_error"] else ""
        yield make_finding(
            ctx,
            "AP301",
            run_id=r["a_run"] if r["runs_with_errors"] == 1 else None,
            message=(
                f"Tool {r['tool']!r} failed {r['errors']} of {r['calls']} calls ({pct(rate)}) in "
                f"{r['runs_with_errors']} run(s){common}; failed calls took {fmt_s(r['failed_s'] or 0)}."
            ),
            suggestion=f"Fix the common failure of {r['tool']!r}; validate its arguments and retry with backoff.",
            span_ids=list(r["error_ids"])[:SPAN_IDS_MAX],
            severity="high" if rate >= 4 * limit else "medium",
        )


_RETRY_SQL = """
WITH s AS (
    SELECT trace_id, span_id, category, status, start_ns, end_ns,
           CASE WHEN category = 'llm' THEN coalesce(request_model, name) ELSE coalesce(tool_name, name) END AS target
    FROM spans WHERE category IN ('tool', 'retrieval', 'llm')
),
-- Only a (run, kind, target) with a failure can hold a retry: the window sorts just those calls.
failed AS (SELECT DISTINCT trace_id, category, target FROM s WHERE status = 'error'),
o AS (
    SELECT *, lead(span_id) OVER w AS next_id, lead(start_ns) OVER w AS next_start_ns
    FROM s SEMI JOIN failed USING (trace_id, category, target)
    WINDOW w AS (PARTITION BY trace_id, category, target ORDER BY start_ns, span_id)
)
SELECT trace_id, category, target, span_id, next_id, (next_start_ns - end_ns) / 1e6 AS gap_ms
FROM o
WHERE status = 'error' AND next_id IS NOT NULL
  AND next_start_ns >= end_ns AND next_start_ns - end_ns < ? * 1e6
ORDER BY trace_id, start_ns
"""


@rule(
    "AP302",
    "retry-without-backoff",
    severity="medium",
    summary="A failed tool or LLM call was repeated almost immediately, with no backoff.",
    thresholds={"retry_backoff_min_ms": 100},
)
def check_retry_backoff(ctx: Any):
    """
    ## What it does
    Finds a failed tool or LLM call followed by a call to the same tool (or the same model)
    that started less than `retry_backoff_min_ms` after the failure ended.

    ## Why is this bad?
    Rate limits (HTTP 429), overloaded providers (529) and flaky services fail again when
    hit again at once; immediate retries burn the retry budget, add load, and can turn a
    short outage into a failed run. Providers ask for exponential backoff with jitter.

    ## Example
    `chat gpt-4o` fails with `RateLimitError` at 4.20 s and is called again at 4.21 s.

    ## Use instead
    Retry with exponential backoff and jitter, honour `Retry-After`, and cap the attempts
    (the OpenAI and Anthropic SDKs do this with `max_retries`; `tenacity` for tools).

    ## Thresholds
    - `retry_backoff_min_ms` (default 100): a gap shorter than this counts as no backoff.

    ## References
    - OpenAI, rate limits and exponential backoff:
      https://platform.openai.com/docs/guides/rate-limits
    - AWS Architecture Blog, exponential backoff and jitter:
      https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
    """
    gap_ms = threshold(ctx, "retry_backoff_min_ms", 100)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(ctx.con, _RETRY_SQL, [gap_ms]):
        per[r["trace_id"]].append(r)
    for run_id, retries in per.items():
        targets = sorted({r["target"] for r in retries})
        worst = min(r["gap_ms"] for r in retries)
        yield make_finding(
            ctx,
            "AP302",
            run_id=run_id,
            message=(
                f"{len(retries)} failed call(s) to {', '.join(targets)} were retried within {gap_ms:.0f} ms "
                f"(shortest gap {worst:.0f} ms)."
            ),
            suggestion="Retry with exponential backoff and jitter, honour Retry-After, and cap the attempts.",
            span_ids=[s for r in retries for s in (r["span_id"], r["next_id"])],
        )


# A failed call is "never retried" when no call to its tool starts later in the run: it
# starts at the latest start of its tool (a window max; a NOT EXISTS over later calls was
# a join of every failure with every call of its tool, quadratic in a long run).
_IGNORED_SQL = """
WITH t AS (SELECT trace_id, span_id, coalesce(tool_name, name) AS tool, start_ns, status, error_type,
                  max(start_ns) OVER (PARTITION BY trace_id, coalesce(tool_name, name)) AS last_start_ns
           FROM spans WHERE category IN ('tool', 'retrieval'))
SELECT e.trace_id, list(e.span_id ORDER BY e.start_ns) AS span_ids, list(DISTINCT e.tool) AS tools,
       list(DISTINCT e.error_type) FILTER (WHERE e.error_type IS NOT NULL) AS error_types
FROM t e
WHERE e.status = 'error' AND e.start_ns >= e.last_start_ns
GROUP BY e.trace_id ORDER BY e.trace_id
"""


@rule(
    "AP303",
    "ignored-tool-error",
    severity="medium",
    summary="A tool call failed, was never retried, and the run still ended successfully.",
    thresholds={},
)
def check_ignored_errors(ctx: Any):
    """
    ## What it does
    Finds tool calls that failed and whose tool was never called again later in the run,
    in runs that still ended ok (no failed root span, no unrecovered LLM or agent error). This is a heuristic: the agent may have
    mentioned the failure in its answer, which the trace does not show.

    ## Why is this bad?
    The agent answered without the data it asked for. The run looks successful in every
    dashboard while the answer may be incomplete or made up.

    ## Example
    `fetch_invoice` fails with `HTTPError 503`; the next LLM call writes the final answer and
    the run ends `ok`.

    ## Use instead
    Retry transient failures, let the model see the error and try another way, or make the
    run fail (or say so to the user) when a required tool fails.

    ## Thresholds
    None.

    ## References
    - Anthropic, building effective agents (error handling and ground truth from tools):
      https://www.anthropic.com/engineering/building-effective-agents
    """
    ok = {r.run_id for r in getattr(ctx, "runs", None) or () if r.ok}
    for r in rows(ctx.con, _IGNORED_SQL):
        if r["trace_id"] not in ok:
            continue
        errors = f" ({', '.join(sorted(r['error_types']))})" if r["error_types"] else ""
        yield make_finding(
            ctx,
            "AP303",
            run_id=r["trace_id"],
            message=(
                f"{len(r['span_ids'])} failed call(s) to {', '.join(sorted(r['tools']))}{errors} were never retried, "
                f"and the run still ended ok."
            ),
            suggestion="Retry transient tool failures or let the run report that it lacks the data.",
            span_ids=r["span_ids"],
        )
