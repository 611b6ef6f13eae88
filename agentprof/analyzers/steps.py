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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentprof.analyzers._columns import getter, lazy_values, repeated_strings
from agentprof.profile import Records, Step, TokenBuckets

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
    SELECT m.step_rid, s.span_id, s.name, s.category, s.status, s.start_ns, s.end_ns, s.tool_name,
           s.request_model, s.response_model, s.input_tokens, s.output_tokens, s.cache_read_tokens,
           s.cache_write_tokens, s.cost_usd, s.system_chars, s.tool_schema_chars, s.history_chars,
           s.tool_output_chars,
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
        count(*) FILTER (WHERE status = 'error') AS error_count,
        arg_min(coalesce(response_model, request_model), start_ns) FILTER (WHERE category = 'llm') AS model,
        min(start_ns) AS first_ns, max(end_ns) AS last_ns
    FROM calls GROUP BY step_rid
),
-- Numbering and windows run over narrow rows (ids, times, cost); the wide per-step columns
-- (span id lists) join back at the end, which keeps the window sorts cheap.
costed AS (
    SELECT h.step_rid, h.trace_id, coalesce(h.agent_name, '') AS agent_key, h.start_ns, h.step_number, h.span_id,
        CASE WHEN coalesce(a.token_calls, 0) = 0 THEN 0.0 ELSE a.known_cost_usd END AS cost_usd
    FROM heads h LEFT JOIN agg a USING (step_rid)
),
agent_first AS (
    SELECT trace_id, agent_key, min(start_ns) AS agent_first_ns FROM costed GROUP BY trace_id, agent_key
),
numbered AS (
    SELECT c.*, row_number() OVER (
        PARTITION BY c.trace_id
        ORDER BY f.agent_first_ns, c.agent_key, c.start_ns, c.step_number, c.span_id) AS step_index
    FROM costed c JOIN agent_first f USING (trace_id, agent_key)
),
windowed AS (
    SELECT step_rid, step_index, cost_usd,
        sum(cost_usd) OVER (PARTITION BY trace_id ORDER BY step_index
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative_cost_usd,
        lag(cost_usd) OVER (PARTITION BY trace_id, agent_key ORDER BY step_index) AS prev_cost_usd
    FROM numbered
)
SELECT h.*, a.* EXCLUDE (step_rid),
    w.step_index, w.cost_usd, w.cumulative_cost_usd,
    w.cost_usd - w.prev_cost_usd AS marginal_cost_usd,
    (w.cost_usd - w.prev_cost_usd) / nullif(w.prev_cost_usd, 0) AS cost_growth
FROM heads h JOIN windowed w USING (step_rid) LEFT JOIN agg a USING (step_rid)
"""


_STEP_COLUMNS = (
    "trace_id", "step_index", "agent_name", "span_id", "explicit", "model", "start_ns", "end_ns",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_usd", "cumulative_cost_usd", "marginal_cost_usd", "cost_growth",
    "system_tokens", "tool_schemas_tokens", "history_tokens", "tool_outputs_tokens", "unattributed_tokens",
    "error_count",
)
"""The columns of ``fetch_steps``'s query a Step is made from, in Step's field order."""


def build_step_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp tables ``step_members`` and ``steps`` (needs ``span_tree``)."""
    con.execute(_MEMBERS_SQL)
    con.execute(_STEPS_SQL)


def fetch_steps(con: duckdb.DuckDBPyConnection, *, where: str = "", params: list[Any] | None = None) -> dict[str, Records[Step]]:
    """The steps of each run id, in step order (columns moved as Arrow, not row by row)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    filt = f"WHERE {where}" if where else ""
    tbl = con.sql(
        f"""
        SELECT trace_id, agent_name, span_id, explicit, model, start_ns,
               CASE WHEN explicit THEN end_ns ELSE greatest(end_ns, coalesce(last_ns, end_ns)) END AS end_ns,
               coalesce(input_tokens, 0)::BIGINT AS input_tokens, coalesce(output_tokens, 0)::BIGINT AS output_tokens,
               coalesce(cache_read_tokens, 0)::BIGINT AS cache_read_tokens,
               coalesce(cache_write_tokens, 0)::BIGINT AS cache_write_tokens,
               cost_usd, cumulative_cost_usd, marginal_cost_usd, cost_growth,
               coalesce(system_tokens, 0) AS system_tokens, coalesce(tool_schemas_tokens, 0) AS tool_schemas_tokens,
               coalesce(history_tokens, 0) AS history_tokens, coalesce(tool_outputs_tokens, 0) AS tool_outputs_tokens,
               coalesce(unattributed_tokens, 0)::DOUBLE AS unattributed_tokens, coalesce(sized_calls, 0)::BIGINT AS sized_calls,
               coalesce(error_count, 0)::BIGINT AS error_count, step_index::BIGINT AS step_index, step_rid
        FROM steps {filt} ORDER BY trace_id, step_index
        """,
        params=params or None,
    ).to_arrow_table()
    # Member span ids in time order, grouped by step (one sorted scan instead of list aggregates).
    members = con.sql(
        f"""
        SELECT m.step_rid, s.span_id, s.category = 'llm' AS is_llm, coalesce(s.tool_name, s.name) AS tool
        FROM step_members m JOIN spans s ON s.rowid = m.rid
        WHERE m.step_rid IN (SELECT step_rid FROM steps {filt})
        ORDER BY m.step_rid, s.start_ns, s.span_id
        """,
        params=(params or []) or None,
    ).to_arrow_table()
    # The member ids stay Arrow strings until a Step is read (a Python str each costs more
    # than the rest of a step's columns).
    m_rid = members.column("step_rid").to_numpy()
    m_llm = members.column("is_llm").to_numpy(zero_copy_only=False).astype(bool)
    llm_mask, tool_mask = pa.array(m_llm), pa.array(~m_llm)
    llm_rid, llm_ids = m_rid[m_llm], members.column("span_id").filter(llm_mask).combine_chunks()
    tool_rid = m_rid[~m_llm]
    tool_ids = members.column("span_id").filter(tool_mask).combine_chunks()
    tool_names = members.column("tool").filter(tool_mask).combine_chunks()
    step_rids = tbl.column("step_rid").to_numpy()
    bounds = [
        np.searchsorted(rid, step_rids, side=side) for rid in (llm_rid, tool_rid) for side in ("left", "right")
    ]
    repeated = {"trace_id", "agent_name", "model"}  # few distinct values: one str object each
    c = {n: repeated_strings(tbl.column(n)) if n in repeated else lazy_values(tbl.column(n)) for n in _STEP_COLUMNS}
    c["estimated"] = tbl.column("sized_calls").to_numpy(zero_copy_only=False) > 0
    make = _step_maker(c, bounds, llm_ids, tool_ids, tool_names)
    # Rows come ordered by run: cut where the run id changes. Each run gets a Records over
    # its rows; a Step (with its buckets and span id tuples) is built only when read.
    n = tbl.num_rows
    if not n:
        return {}
    ids = tbl.column("trace_id").combine_chunks()
    cuts = np.flatnonzero(pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)) + 1
    starts, ends = [0, *cuts.tolist()], [*cuts.tolist(), n]
    run_ids = c["trace_id"]
    return {run_ids[a]: Records(make, a, b) for a, b in zip(starts, ends)}


def _step_maker(c: dict[str, Any], bounds: list[Any], llm_ids: Any, tool_ids: Any, tool_names: Any) -> Callable[[int], Step]:
    """``make(row)``: the Step of one row of ``fetch_steps``'s columns."""
    (run_id, index, agent, span_id, explicit, model, start_ns, end_ns, input_tokens, output_tokens, cache_read,
     cache_write, cost, cumulative, marginal, growth, system, schemas, history, outputs, unattributed,
     errors) = (getter(c[n]) for n in _STEP_COLUMNS)
    estimated = getter(c["estimated"])
    llm_lo, llm_hi, tool_lo, tool_hi = map(getter, bounds)

    def strings(values: Any, lo: int, hi: int) -> tuple[str, ...]:
        return tuple(values.slice(lo, hi - lo).to_pylist())

    def make(i: int) -> Step:
        lo, hi = tool_lo(i), tool_hi(i)
        return Step(
            run_id(i), index(i), agent(i), span_id(i), explicit(i), model(i), start_ns(i), end_ns(i),
            input_tokens(i), output_tokens(i), cache_read(i), cache_write(i), cost(i), cumulative(i), marginal(i),
            growth(i), TokenBuckets(system(i), schemas(i), history(i), outputs(i), unattributed(i), estimated(i)),
            strings(llm_ids, llm_lo(i), llm_hi(i)), strings(tool_ids, lo, hi), strings(tool_names, lo, hi), errors(i),
        )

    return make
