"""Steps and their cost: who belongs to which step, tokens, buckets, marginal cost (DuckDB SQL).

A step is one turn of the agent loop. Explicit step spans (category ``step``: ``@step``,
``agent.step.N``) win: every LLM/tool/retrieval/embedding span belongs to its nearest step
ancestor. Spans under no step span are grouped by inference: each LLM call starts a step of
its agent, and a tool call belongs to the latest LLM call of the same agent that started at
or before it (an ASOF join), whether nested under that call or a sibling of it.

Per step: tokens and cost of its LLM and embedding calls; input tokens apportioned into the
prompt-part buckets by measured character sizes (an estimate; calls with no measured size
count as "unattributed"); cumulative cost over the run; marginal cost (this step minus the
previous step *of the same agent*, whose context it extends) and its growth rate.

Needs the temp table ``span_tree(rid, step_rid, ...)`` that ``analyze`` builds from the span
tree; creates the temp tables ``step_members(rid, step_rid)`` and ``steps``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentprof.profile import Step, TokenBuckets

if TYPE_CHECKING:
    import duckdb

TOOL_LIKE_SQL = "('tool', 'retrieval', 'embedding')"
TOKEN_SQL = "('llm', 'embedding')"
_CHARS = "(coalesce(system_chars, 0) + coalesce(tool_schema_chars, 0) + coalesce(history_chars, 0) + coalesce(tool_output_chars, 0))"

_MEMBERS_SQL = f"""
CREATE OR REPLACE TEMP TABLE step_members AS
WITH t AS (
    SELECT s.rowid AS rid, s.trace_id, s.category, s.start_ns,
           coalesce(s.agent_name, '') AS agent_key, tr.step_rid
    FROM spans s JOIN span_tree tr ON tr.rid = s.rowid
    WHERE s.category IN ('llm', 'tool', 'retrieval', 'embedding')
),
llm AS (SELECT rid, trace_id, agent_key, start_ns FROM t WHERE step_rid IS NULL AND category = 'llm'),
tools AS (SELECT rid, trace_id, agent_key, start_ns FROM t WHERE step_rid IS NULL AND category <> 'llm')
SELECT rid, step_rid FROM t WHERE step_rid IS NOT NULL
UNION ALL
SELECT rid, rid FROM llm
UNION ALL
SELECT tools.rid, llm.rid
FROM tools ASOF JOIN llm
  ON tools.trace_id = llm.trace_id AND tools.agent_key = llm.agent_key AND tools.start_ns >= llm.start_ns
"""

_STEPS_SQL = f"""
CREATE OR REPLACE TEMP TABLE steps AS
WITH heads AS (
    SELECT rowid AS step_rid, trace_id, span_id, true AS explicit, agent_name, start_ns, end_ns, step_number
    FROM spans WHERE category = 'step'
    UNION ALL
    SELECT s.rowid, s.trace_id, s.span_id, false, s.agent_name, s.start_ns, s.end_ns, NULL
    FROM spans s JOIN span_tree tr ON tr.rid = s.rowid
    WHERE s.category = 'llm' AND tr.step_rid IS NULL
),
calls AS (
    SELECT m.step_rid, s.*,
           CASE WHEN s.category = 'llm' AND {_CHARS} > 0 THEN s.input_tokens::DOUBLE / {_CHARS} END AS per_char
    FROM step_members m JOIN spans s ON s.rowid = m.rid
),
agg AS (
    SELECT step_rid,
        coalesce(sum(input_tokens) FILTER (WHERE category IN {TOKEN_SQL}), 0) AS input_tokens,
        coalesce(sum(output_tokens) FILTER (WHERE category IN {TOKEN_SQL}), 0) AS output_tokens,
        coalesce(sum(cache_read_tokens) FILTER (WHERE category IN {TOKEN_SQL}), 0) AS cache_read_tokens,
        coalesce(sum(cache_write_tokens) FILTER (WHERE category IN {TOKEN_SQL}), 0) AS cache_write_tokens,
        count(*) FILTER (WHERE category IN {TOKEN_SQL}) AS token_calls,
        sum(cost_usd) FILTER (WHERE category IN {TOKEN_SQL}) AS known_cost_usd,
        coalesce(sum(per_char * coalesce(system_chars, 0)), 0) AS system_tokens,
        coalesce(sum(per_char * coalesce(tool_schema_chars, 0)), 0) AS tool_schemas_tokens,
        coalesce(sum(per_char * coalesce(history_chars, 0)), 0) AS history_tokens,
        coalesce(sum(per_char * coalesce(tool_output_chars, 0)), 0) AS tool_outputs_tokens,
        coalesce(sum(input_tokens) FILTER (WHERE category IN {TOKEN_SQL} AND per_char IS NULL), 0) AS unattributed_tokens,
        count(*) FILTER (WHERE per_char IS NOT NULL) AS sized_calls,
        list(span_id ORDER BY start_ns, span_id) FILTER (WHERE category = 'llm') AS llm_span_ids,
        list(span_id ORDER BY start_ns, span_id) FILTER (WHERE category IN {TOOL_LIKE_SQL}) AS tool_span_ids,
        list(coalesce(tool_name, name) ORDER BY start_ns, span_id) FILTER (WHERE category IN {TOOL_LIKE_SQL}) AS tool_names,
        count(*) FILTER (WHERE status = 'error') AS error_count,
        arg_min(coalesce(response_model, request_model), start_ns) FILTER (WHERE category = 'llm') AS model,
        min(start_ns) AS first_ns, max(end_ns) AS last_ns
    FROM calls GROUP BY step_rid
),
j AS (
    SELECT h.*, a.* EXCLUDE (step_rid),
        CASE WHEN coalesce(a.token_calls, 0) = 0 THEN 0.0 ELSE a.known_cost_usd END AS cost_usd,
        min(h.start_ns) OVER (PARTITION BY h.trace_id, coalesce(h.agent_name, '')) AS agent_first_ns
    FROM heads h LEFT JOIN agg a USING (step_rid)
),
numbered AS (
    SELECT *, row_number() OVER (
        PARTITION BY trace_id
        ORDER BY agent_first_ns, coalesce(agent_name, ''), start_ns, step_number, span_id) AS step_index
    FROM j
)
SELECT *,
    sum(cost_usd) OVER run_order AS cumulative_cost_usd,
    cost_usd - lag(cost_usd) OVER agent_order AS marginal_cost_usd,
    (cost_usd - lag(cost_usd) OVER agent_order) / nullif(lag(cost_usd) OVER agent_order, 0) AS cost_growth
FROM numbered
WINDOW run_order AS (PARTITION BY trace_id ORDER BY step_index ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       agent_order AS (PARTITION BY trace_id, coalesce(agent_name, '') ORDER BY step_index)
"""


def build_step_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp tables ``step_members`` and ``steps`` (needs ``span_tree``)."""
    con.execute(_MEMBERS_SQL)
    con.execute(_STEPS_SQL)


def fetch_steps(con: duckdb.DuckDBPyConnection, *, where: str = "", params: list[Any] | None = None) -> dict[str, tuple[Step, ...]]:
    """Step objects per run id, in step order."""
    filt = f"WHERE {where}" if where else ""
    cur = con.execute(
        f"""
        SELECT trace_id, step_index, agent_name, span_id, explicit, model, start_ns,
               CASE WHEN explicit THEN end_ns ELSE greatest(end_ns, coalesce(last_ns, end_ns)) END,
               coalesce(input_tokens, 0), coalesce(output_tokens, 0), coalesce(cache_read_tokens, 0),
               coalesce(cache_write_tokens, 0), cost_usd, cumulative_cost_usd, marginal_cost_usd, cost_growth,
               coalesce(system_tokens, 0), coalesce(tool_schemas_tokens, 0), coalesce(history_tokens, 0),
               coalesce(tool_outputs_tokens, 0), coalesce(unattributed_tokens, 0), coalesce(sized_calls, 0),
               coalesce(llm_span_ids, []), coalesce(tool_span_ids, []), coalesce(tool_names, []),
               coalesce(error_count, 0)
        FROM steps {filt} ORDER BY trace_id, step_index
        """,
        params or [],
    )
    out: dict[str, list[Step]] = {}
    for r in cur.fetchall():
        buckets = TokenBuckets(
            system_tokens=r[16],
            tool_schemas_tokens=r[17],
            history_tokens=r[18],
            tool_outputs_tokens=r[19],
            unattributed_tokens=float(r[20]),
            estimated=r[21] > 0,
        )
        step = Step(
            run_id=r[0],
            index=r[1],
            agent_name=r[2],
            span_id=r[3],
            explicit=r[4],
            model=r[5],
            start_ns=r[6],
            end_ns=r[7],
            input_tokens=int(r[8]),
            output_tokens=int(r[9]),
            cache_read_tokens=int(r[10]),
            cache_write_tokens=int(r[11]),
            cost_usd=r[12],
            cumulative_cost_usd=r[13],
            marginal_cost_usd=r[14],
            cost_growth=r[15],
            buckets=buckets,
            llm_span_ids=tuple(r[22]),
            tool_span_ids=tuple(r[23]),
            tool_names=tuple(r[24]),
            error_count=int(r[25]),
        )
        out.setdefault(r[0], []).append(step)
    return {k: tuple(v) for k, v in out.items()}
