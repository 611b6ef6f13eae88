"""AP1xx: latency and the critical path."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agentprof.analyzers.rules._registry import rule
from agentprof.analyzers.rules._support import (
    SPAN_IDS_MAX,
    HIGH_SEVERITY_SHARE,
    NS_PER_S,
    fmt_s,
    make_finding,
    pct,
    rows,
    run_totals,
    threshold,
)

# Tool/retrieval siblings grouped into "batches": consecutive children of one parent with no
# LLM call starting between them (an LLM call in between may have read one tool's result to
# write the next call's arguments; without one, the arguments were known up front).
#
# Whether an LLM call falls between two siblings is answered in numpy (``_new_batch``) by
# binary search and range maxima over the run's LLM calls sorted by start: as a correlated
# EXISTS it was a join of every tool call with every LLM call of its run, quadratic in a
# long run.
_SIBLINGS_SQL = """
SELECT * EXCLUDE (siblings) FROM (
    SELECT trace_id, span_id, parent_span_id, coalesce(tool_name, name) AS tool, start_ns, end_ns,
           lag(start_ns) OVER (PARTITION BY trace_id, parent_span_id ORDER BY start_ns, span_id) AS prev_start_ns,
           max(end_ns) OVER (PARTITION BY trace_id, parent_span_id ORDER BY start_ns, span_id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end_ns,
           count(*) OVER (PARTITION BY trace_id, parent_span_id) AS siblings
    FROM spans
    WHERE category IN ('tool', 'retrieval') AND parent_span_id IS NOT NULL
) WHERE siblings >= 2
"""
# The LLM calls of the runs that have such siblings (``_ap_runs``).
_LLM_STARTS_SQL = """
SELECT trace_id, start_ns, end_ns FROM spans
WHERE category = 'llm' AND trace_id IN (SELECT trace_id FROM _ap_runs)
"""
_BATCHES_SQL = """
WITH batched AS (
    SELECT *, sum(new_batch) OVER (PARTITION BY trace_id, parent_span_id ORDER BY start_ns, span_id
                                   ROWS UNBOUNDED PRECEDING) AS batch
    FROM _ap_tool_siblings
)
SELECT trace_id, parent_span_id,
       list(span_id ORDER BY start_ns, span_id) AS span_ids,
       list(tool ORDER BY start_ns, span_id) AS tools,
       count(*) AS n,
       count(*) FILTER (WHERE new_batch = 0 AND start_ns >= prev_end_ns) AS n_sequential,
       min(start_ns) AS start_ns, max(end_ns) AS end_ns,
       max(end_ns - start_ns) AS longest_ns,
       sum(end_ns - start_ns) AS total_ns
FROM batched
GROUP BY trace_id, parent_span_id, batch
HAVING count(*) >= 2 AND count(*) FILTER (WHERE new_batch = 0 AND start_ns >= prev_end_ns) >= 1
   -- Running the batch together cannot gain more than its span minus its longest call.
   AND max(end_ns) - min(start_ns) - max(end_ns - start_ns) >= ? * 1e9
ORDER BY trace_id, start_ns, parent_span_id, span_ids
"""


def _new_batch(first: Any, run: Any, prev_start: Any, start: Any, prev_end: Any,
               llm_run: Any, llm_start: Any, llm_end: Any):
    """1 where a tool call starts a new batch, else 0 (int8 per call).

    A call starts a batch when it is the first child of its parent (``first``) or when an LLM
    call of its run started in ``[prev_start, start)`` and either ended after ``prev_end``
    (the end of every earlier sibling) or started at or after it: it may have read a result.
    The LLM calls come sorted by (run, start); (run, time) pairs are made one sortable key.
    """
    import numpy as np

    a = np.where(first, start, prev_start)
    pe = np.where(first, start, prev_end)
    c = np.maximum(a, pe)
    # Rank of a time among all times involved (equal times, equal ranks; a sort, not unique()).
    times = np.sort(np.concatenate([llm_start, a, start, c]))
    width = len(times) + 1

    def key(r: Any, x: Any) -> Any:
        return r * width + np.searchsorted(times, x)

    llm_key = key(llm_run, llm_start)
    lo = np.searchsorted(llm_key, key(run, a), side="left")
    hi = np.searchsorted(llm_key, key(run, start), side="left")
    after = hi > np.searchsorted(llm_key, key(run, c), side="left")  # an LLM call started in [c, start)
    # Latest end among the LLM calls started in [prev_start, start): a sparse table of maxima.
    latest = np.full(len(start), np.iinfo(np.int64).min, dtype=np.int64)
    length = hi - lo
    has = length > 0
    level = np.asarray(llm_end, dtype=np.int64)
    j = 0
    step = np.zeros(len(start), dtype=np.int64)
    step[has] = np.floor(np.log2(length[has])).astype(np.int64)
    while True:
        q = has & (step == j)
        if q.any():
            latest[q] = np.maximum(level[lo[q]], level[hi[q] - (1 << j)])
        if (1 << (j + 1)) > len(level):
            break
        level = np.maximum(level[: -(1 << j)], level[(1 << j):])
        j += 1
    return (first | after | (latest > pe)).astype(np.int8)


def _sequential_batches(con: Any, min_s: float) -> list[dict[str, Any]]:
    """Batches of sequential tool calls with no LLM call between them (see the SQL above)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    tools = con.sql(_SIBLINGS_SQL).to_arrow_table()  # calls with at least one sibling
    if tools.num_rows == 0:
        return []
    runs = pc.unique(tools.column("trace_id"))
    con.register("_ap_runs", pa.table({"trace_id": runs}))
    try:
        llm = con.sql(_LLM_STARTS_SQL).to_arrow_table()
    finally:
        con.unregister("_ap_runs")
    # Runs as small integer codes (any consistent numbering); LLM calls sorted by (run, start).
    tool_run = pc.index_in(tools.column("trace_id"), value_set=runs).to_numpy().astype(np.int64)
    llm_run = pc.index_in(llm.column("trace_id"), value_set=runs).to_numpy(zero_copy_only=False).astype(np.int64)
    llm_start = llm.column("start_ns").fill_null(0).to_numpy().astype(np.int64)
    llm_end = llm.column("end_ns").fill_null(0).to_numpy().astype(np.int64)
    by_start = np.lexsort((llm_start, llm_run))

    def ints(tbl: Any, name: str) -> Any:
        return tbl.column(name).fill_null(0).to_numpy().astype(np.int64)

    # Only a parent's first child has no earlier sibling (prev_start/prev_end are NULL).
    first = tools.column("prev_end_ns").is_null().to_numpy(zero_copy_only=False).astype(bool)
    new_batch = _new_batch(first, tool_run, ints(tools, "prev_start_ns"), ints(tools, "start_ns"),
                           ints(tools, "prev_end_ns"), llm_run[by_start], llm_start[by_start], llm_end[by_start])
    # Only parents with a call that joined the batch before it can hold a batch of two or
    # more; the window query below reads just their calls (often none at all).
    joined = new_batch == 0
    if not joined.any():
        return []
    keep = pc.is_in(tools.column("parent_span_id"), value_set=pc.unique(tools.column("parent_span_id").filter(pa.array(joined))))
    marked = tools.append_column("new_batch", pa.array(new_batch, pa.int8())).filter(keep)
    con.register("_ap_tool_siblings", marked)
    try:
        return rows(con, _BATCHES_SQL, [min_s])
    finally:
        con.unregister("_ap_tool_siblings")


def _savings_by_run(con: Any, trace_ids: list[str]) -> dict[str, Any]:
    """Critical-path what-ifs per run: one ``ParallelSavings`` per run with candidate batches.

    The spans of every such run come in one query and each run's tree is built once, however
    many batches it has (a long flat run can have thousands).
    """
    from agentprof.analyzers.critical_path import ParallelSavings

    if not trace_ids:
        return {}
    spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(
        con,
        "SELECT trace_id, span_id, parent_span_id, start_ns, end_ns FROM spans WHERE list_contains(?, trace_id)",
        [sorted(set(trace_ids))],
    ):
        spans[r.pop("trace_id")].append(r)
    return {t: ParallelSavings(v) for t, v in spans.items()}


@rule(
    "AP101",
    "sequential-independent-tool-calls",
    severity="medium",
    summary="Tool calls of one step ran one after another although none needed another's result.",
    thresholds={"parallel_saving_min_s": 0.5, **HIGH_SEVERITY_SHARE},
)
def check_sequential_tools(ctx: Any):
    """
    ## What it does
    Finds two or more tool or retrieval calls in one step (same parent span) that ran one
    after another, with no LLM call between them: none that started after the previous call
    started and is not nested inside it. Without an LLM call in between, no call's arguments
    can have been written from another call's result, so the calls are independent. The LLM
    call that issued them (started before them, perhaps still streaming) does not count.

    ## Why is this bad?
    Independent calls that wait for each other add their latencies: three 11 s vector-store
    lookups in a row cost 34 s where running them together costs 11 s. The saving is computed
    as a what-if on the run's critical path: how much sooner the run would end if the calls
    ran concurrently.

    ## Example
    ```
    agent.step.2
    ├── retrieval vector_search(q="pricing")   0 s → 11.3 s
    ├── retrieval vector_search(q="refunds")  11.3 s → 22.6 s
    └── retrieval vector_search(q="limits")   22.6 s → 33.9 s
    ```

    ## Use instead
    Issue the calls concurrently (`asyncio.gather`, a thread pool, or the framework's
    parallel tool calls, e.g. OpenAI `parallel_tool_calls=True`):
    ```
    agent.step.2
    ├── retrieval vector_search(q="pricing")   0 s → 11.3 s
    ├── retrieval vector_search(q="refunds")   0 s → 11.3 s
    └── retrieval vector_search(q="limits")    0 s → 11.3 s
    ```

    ## Thresholds
    - `parallel_saving_min_s` (default 0.5): report only when the critical-path saving is at
      least this many seconds.
    - `high_severity_share` (default 0.2): high severity when the saving is at least this
      share of the run's wall-clock time.

    ## References
    - OpenAI function calling, parallel function calling:
      https://platform.openai.com/docs/guides/function-calling
    - Python `asyncio.gather`: https://docs.python.org/3/library/asyncio-task.html#asyncio.gather
    """
    min_s = threshold(ctx, "parallel_saving_min_s", 0.5)
    totals = run_totals(ctx)
    groups = _sequential_batches(ctx.con, min_s)
    savings = _savings_by_run(ctx.con, [g["trace_id"] for g in groups])
    for g in groups:
        saving_ns = savings[g["trace_id"]].saving_ns(list(g["span_ids"]))
        saving_s = saving_ns / NS_PER_S
        if saving_s < min_s:
            continue
        wall_s = totals.get(g["trace_id"], (0.0, None))[0]
        names = sorted(set(g["tools"]))
        share = saving_s / wall_s if wall_s else 0.0
        yield make_finding(
            ctx,
            "AP101",
            run_id=g["trace_id"],
            message=(
                f"{g['n']} calls ({', '.join(names)}) ran one after another in one step, taking "
                f"{fmt_s((g['end_ns'] - g['start_ns']) / NS_PER_S)}; run concurrently they would take about "
                f"{fmt_s(g['longest_ns'] / NS_PER_S)}, ending the run {fmt_s(saving_s)} ({pct(share)}) sooner."
            ),
            suggestion="Run these independent calls concurrently (asyncio.gather, a thread pool, or parallel tool calls).",
            span_ids=g["span_ids"],
            savings_s=saving_s,
            wall_s=wall_s,
        )


# Time each tool's calls hold the critical path, per run (``span_tree`` is left on the
# connection by the analysis: per-span time on the path).
_TOOL_ON_PATH_SQL = """
WITH walls AS (SELECT trace_id, max(end_ns) - min(start_ns) AS wall_ns FROM spans GROUP BY trace_id),
calls AS (
    SELECT s.trace_id, coalesce(s.tool_name, s.name) AS tool, s.span_id, s.start_ns, t.on_path_ns
    FROM spans s JOIN span_tree t ON t.rid = s.rowid
    WHERE s.category IN ('tool', 'retrieval') AND t.on_path_ns > 0
),
-- Share per (run, tool) first; span lists only for those over the limit.
over AS (
    SELECT c.trace_id, c.tool, sum(c.on_path_ns) AS on_ns, sum(c.on_path_ns) / any_value(w.wall_ns) AS share
    FROM calls c JOIN walls w USING (trace_id)
    WHERE w.wall_ns > 0
    GROUP BY c.trace_id, c.tool
    HAVING sum(c.on_path_ns) > ? * any_value(w.wall_ns)
)
SELECT o.trace_id, o.tool, o.on_ns, l.span_ids, o.share
FROM over o JOIN (
    SELECT trace_id, tool, list(span_id ORDER BY start_ns, span_id) AS span_ids
    FROM calls SEMI JOIN over USING (trace_id, tool) GROUP BY ALL
) l USING (trace_id, tool)
"""
_TOOL_STATS_SQL = """
SELECT coalesce(tool_name, name) AS tool, count(*) AS calls,
       quantile_cont(end_ns - start_ns, 0.5) / 1e9 AS p50_s,
       quantile_cont(end_ns - start_ns, 0.95) / 1e9 AS p95_s
FROM spans WHERE category IN ('tool', 'retrieval') GROUP BY ALL
"""


@rule(
    "AP102",
    "slow-tool-on-critical-path",
    severity="medium",
    summary="One tool holds a large share of a run's critical path.",
    thresholds={"tool_critical_share_max": 0.4},
)
def check_slow_tool(ctx: Any):
    """
    ## What it does
    Adds up, per run and per tool, the time the tool's calls hold the run's critical path
    (the chain of spans that decides when the run ends) and reports a tool whose share is
    above `tool_critical_share_max`: one finding per tool, naming how many runs it dominates
    (the run itself when it is only one). The message gives the tool's p50 and p95 duration
    across all runs of the input, to tell a tool that is always slow from one with a slow tail.

    ## Why is this bad?
    Time on the critical path is time the user waits. When one tool holds most of it, no
    prompt or model change will make the run much faster; the tool is the bottleneck.

    ## Example
    A 47 s run in which `vector_search` holds 34 s of the critical path (72%).

    ## Use instead
    Speed up or cache the tool (an index, a smaller result page, a nearer region), give it a
    timeout, or start it earlier and overlap it with LLM work.

    The estimated saving is a what-if on the path: each dominated run's on-path time of the
    tool above `calls × p50` (the tool's own median call), averaged over those runs: what a
    timeout with a hedged retry, or a cache answering at median speed, would recover. A tool
    that is always slow has little tail, hence a small saving; how much faster the tool
    itself could be is not estimable from the trace.

    ## Thresholds
    - `tool_critical_share_max` (default 0.4): report a tool holding more than this share of
      its run's critical path.

    ## References
    - Critical path analysis in tracing (Jaeger):
      https://www.jaegertracing.io/docs/latest/frontend-ui/
    """
    limit = threshold(ctx, "tool_critical_share_max", 0.4)
    run_count = len(getattr(ctx, "runs", None) or ())
    if not run_count:  # no analyzed runs, no critical path
        return
    stats = {r["tool"]: r for r in rows(ctx.con, _TOOL_STATS_SQL)}
    # One finding per tool across runs: (share, run_id, on_ns, span ids) of each run it dominates.
    hot: dict[str, list[tuple[float, str, int, list[str]]]] = defaultdict(list)
    for r in rows(ctx.con, _TOOL_ON_PATH_SQL, [limit]):
        hot[r["tool"]].append((r["share"], r["trace_id"], r["on_ns"], list(r["span_ids"])))
    for tool, runs in sorted(hot.items()):
        runs.sort(key=lambda r: (-r[0], r[1]))
        st = stats.get(tool, {})
        spread = (f"across all runs it takes p50 {fmt_s(st.get('p50_s') or 0)}, p95 {fmt_s(st.get('p95_s') or 0)} "
                  f"over {st.get('calls', 0)} call(s)")
        # What-if: every call on the path took at most the tool's own median. That is what a
        # timeout with a hedged retry, or a cache answering at median speed, recovers; a
        # tool that is always slow has little tail and so a small saving (speeding up the
        # tool itself is not estimable without a target speed).
        p50_ns = (st.get("p50_s") or 0) * NS_PER_S
        excess_s = [max(0.0, on_ns - len(ids) * p50_ns) / NS_PER_S for _, _, on_ns, ids in runs]
        saving_s = sum(excess_s) / len(excess_s)
        if saving_s < 0.001:  # below what the report shows: no tail worth naming
            saving_s = 0.0
        what_if = (f"; calls bounded at its p50 would end a dominated run {fmt_s(saving_s)} sooner on average"
                   if saving_s else "")
        if len(runs) == 1:
            share, run_id, on_ns, ids = runs[0]
            message = (f"Tool {tool!r} holds {fmt_s(on_ns / NS_PER_S)} ({pct(share)}) of the run's critical path "
                       f"in {len(ids)} call(s); {spread}{what_if}.")
        else:
            run_id = None
            shares = sorted(r[0] for r in runs)
            message = (f"Tool {tool!r} holds more than {pct(limit)} of the critical path in {len(runs)} of "
                       f"{run_count} runs (median {pct(shares[len(shares) // 2])}, up to {pct(shares[-1])}); "
                       f"{spread}{what_if}.")
        yield make_finding(
            ctx,
            "AP102",
            run_id=run_id,
            message=message,
            suggestion=f"Speed up or cache {tool!r}, bound it with a timeout, or overlap it with other work.",
            span_ids=[sid for r in runs for sid in r[3]][:SPAN_IDS_MAX],
            savings_s=saving_s or None,
        )


_DECODE_SQL = """
SELECT trace_id, span_id, request_model AS model, output_tokens,
       end_ns - start_ns AS duration_ns,
       end_ns - start_ns - coalesce(least(ttft_ns, end_ns - start_ns), 0) AS gen_ns
FROM spans
WHERE category = 'llm' AND output_tokens >= ? AND end_ns > start_ns
  AND (end_ns - start_ns - coalesce(least(ttft_ns, end_ns - start_ns), 0)) >= ? * (end_ns - start_ns)
ORDER BY trace_id, start_ns
"""


@rule(
    "AP103",
    "decode-bound-llm-calls",
    severity="medium",
    summary="LLM calls spend most of their time generating long outputs.",
    thresholds={"decode_output_tokens_min": 1000, "decode_share_min": 0.7, "decode_run_share_min": 0.2,
                **HIGH_SEVERITY_SHARE},
)
def check_decode_bound(ctx: Any):
    """
    ## What it does
    Finds LLM calls with at least `decode_output_tokens_min` output tokens whose generation
    time (duration minus time to first token) is at least `decode_share_min` of the call,
    and reports a run when these calls' generation time is at least `decode_run_share_min`
    of its wall-clock time. Calls without a recorded time to first token count their whole
    duration as generation.

    ## Why is this bad?
    Generation time grows linearly with output tokens (tens of milliseconds each), and
    output tokens are the most expensive ones. Long answers, verbose reasoning or whole files
    written back are often not needed by the next step.

    ## Example
    A call that waits 0.6 s for its first token and then streams 3,000 tokens for 38 s.

    ## Use instead
    Ask for shorter or structured output (a JSON object, a diff instead of a whole file),
    set `max_tokens`, lower reasoning effort, or use a faster model for long drafts. The
    estimated saving assumes outputs capped at `decode_output_tokens_min` tokens.

    ## Thresholds
    - `decode_output_tokens_min` (default 1000): output tokens of a call to consider.
    - `decode_share_min` (default 0.7): generation share of the call's duration.
    - `decode_run_share_min` (default 0.2): share of the run's wall-clock time these calls'
      generation must reach.
    - `high_severity_share` (default 0.2).

    ## References
    - OpenAI latency optimization, "generate fewer tokens":
      https://platform.openai.com/docs/guides/latency-optimization
    """
    min_out = threshold(ctx, "decode_output_tokens_min", 1000)
    gen_share = threshold(ctx, "decode_share_min", 0.7)
    run_share = threshold(ctx, "decode_run_share_min", 0.2)
    totals = run_totals(ctx)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(ctx.con, _DECODE_SQL, [min_out, gen_share]):
        per[r["trace_id"]].append(r)
    for run_id, calls in per.items():
        wall_s = totals.get(run_id, (0.0, None))[0]
        gen_s = sum(c["gen_ns"] for c in calls) / NS_PER_S
        if not wall_s or gen_s < run_share * wall_s:
            continue
        out_tokens = sum(c["output_tokens"] for c in calls)
        saving_s = sum(c["gen_ns"] * (1 - min_out / c["output_tokens"]) for c in calls) / NS_PER_S
        yield make_finding(
            ctx,
            "AP103",
            run_id=run_id,
            message=(
                f"{len(calls)} LLM call(s) generated {out_tokens:,} output tokens for {fmt_s(gen_s)} "
                f"({pct(gen_s / wall_s)} of the run); capped at {int(min_out):,} tokens each they would "
                f"take about {fmt_s(saving_s)} less."
            ),
            suggestion="Ask for shorter or structured output, set max_tokens, or lower reasoning effort.",
            span_ids=[c["span_id"] for c in calls],
            savings_s=saving_s,
            wall_s=wall_s,
        )


_TTFT_SQL = """
SELECT trace_id, span_id, request_model AS model, coalesce(input_tokens, 0) AS input_tokens,
       coalesce(reasoning_tokens, 0) AS reasoning_tokens, ttft_ns,
       ttft_ns - (? + coalesce(input_tokens, 0) / 1000.0 * ?) * 1e6 AS excess_ns
FROM spans
WHERE category = 'llm' AND ttft_ns IS NOT NULL
  AND ttft_ns > (? + coalesce(input_tokens, 0) / 1000.0 * ?) * 1e6
ORDER BY trace_id, start_ns
"""


@rule(
    "AP104",
    "slow-time-to-first-token",
    severity="medium",
    summary="Time to first token is high for the size of the input.",
    thresholds={"ttft_base_ms": 1000, "ttft_ms_per_ktok": 50, "ttft_excess_min_s": 1.0, **HIGH_SEVERITY_SHARE},
)
def check_slow_ttft(ctx: Any):
    """
    ## What it does
    Compares each LLM call's time to first token (TTFT) with what its input size explains:
    `ttft_base_ms` plus `ttft_ms_per_ktok` per thousand input tokens. A run is reported when
    its calls' TTFT beyond that expectation adds up to at least `ttft_excess_min_s`.

    ## Why is this bad?
    Prefill time grows with input length, so a long wait on a short prompt is not the
    prompt's fault: it points to provider queueing or rate limiting, a far region, a cold
    connection, or hidden reasoning before the first visible token. Every step pays it.

    ## Example
    A call with 1,200 input tokens that waits 6.5 s for its first token (about 1.1 s expected).

    ## Use instead
    Reuse HTTP connections, pick a nearer region or a priority tier, check rate-limit
    headers, lower reasoning effort, or use prompt caching for long stable prefixes.

    ## Thresholds
    - `ttft_base_ms` (default 1000): TTFT expected for an empty prompt.
    - `ttft_ms_per_ktok` (default 50): extra TTFT expected per 1,000 input tokens.
    - `ttft_excess_min_s` (default 1.0): total excess per run to report.
    - `high_severity_share` (default 0.2).

    ## References
    - OpenAI latency optimization: https://platform.openai.com/docs/guides/latency-optimization
    - OTel GenAI `gen_ai.response.time_to_first_chunk`:
      https://opentelemetry.io/docs/specs/semconv/gen-ai/
    """
    base_ms = threshold(ctx, "ttft_base_ms", 1000)
    per_ktok = threshold(ctx, "ttft_ms_per_ktok", 50)
    min_s = threshold(ctx, "ttft_excess_min_s", 1.0)
    totals = run_totals(ctx)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(ctx.con, _TTFT_SQL, [base_ms, per_ktok, base_ms, per_ktok]):
        per[r["trace_id"]].append(r)
    for run_id, calls in per.items():
        excess_s = sum(c["excess_ns"] for c in calls) / NS_PER_S
        if excess_s < min_s:
            continue
        worst = max(calls, key=lambda c: c["excess_ns"])
        reasoning = sum(c["reasoning_tokens"] for c in calls)
        note = f" These calls also used {reasoning:,} reasoning tokens, which delay the first token." if reasoning else ""
        yield make_finding(
            ctx,
            "AP104",
            run_id=run_id,
            message=(
                f"{len(calls)} LLM call(s) waited {fmt_s(excess_s)} longer for their first token than their input "
                f"size explains; worst: {fmt_s(worst['ttft_ns'] / NS_PER_S)} for {worst['input_tokens']:,} input "
                f"tokens.{note}"
            ),
            suggestion="Check provider queueing and rate limits, reuse connections, pick a nearer region or tier.",
            span_ids=[c["span_id"] for c in calls],
            savings_s=excess_s,
            wall_s=totals.get(run_id, (0.0, None))[0],
        )
