"""Rules stay linear (or n log n) in the calls of one run: checked on the query plan, not the clock.

A long flat run (thousands of tool calls under one root) is where a self-join on position or a
range join over one run's calls turns quadratic. Each test runs the rule's SQL on such a run
with DuckDB's profiler on and bounds the rows every operator produced (a quadratic plan makes
millions where a linear one makes tens of thousands) and forbids the join operators that
compare pairs of rows (cross products, nested-loop and range joins).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from agentprof import schema
from agentprof.store import load_arrow, open_store

T0_NS = 1_700_000_000_000_000_000
PAIRWISE_JOINS = {"CROSS_PRODUCT", "NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN", "PIECEWISE_MERGE_JOIN", "IE_JOIN"}


def flat_run(names: list[str], args: list[str | None], *, categories: list[str] | None = None,
             status: list[str] | None = None, **columns: Any) -> Any:
    """One run: a root and len(names) back-to-back children (1 ms each)."""
    k = len(names)
    cats = categories or ["tool"] * k
    cols: dict[str, Any] = {c: pa.nulls(k + 1, type=f.type) for c, f in zip(schema.COLUMN_NAMES, schema.arrow_schema())}
    ms = 1_000_000
    cols.update(
        trace_id=pa.array(["0" * 31 + "1"] * (k + 1), pa.string()),
        span_id=pa.array(["0" * 16] + [f"{i + 1:016x}" for i in range(k)], pa.string()),
        parent_span_id=pa.array([None] + ["0" * 16] * k, pa.string()),
        name=pa.array(["root", *names], pa.string()),
        category=pa.array(["agent", *cats], pa.string()),
        start_ns=pa.array([T0_NS] + [T0_NS + i * ms for i in range(k)], pa.int64()),
        end_ns=pa.array([T0_NS + (k + 1) * ms] + [T0_NS + (i + 1) * ms for i in range(k)], pa.int64()),
        status=pa.array(["ok", *(status or ["ok"] * k)], pa.string()),
        tool_name=pa.array([None] + [n if c != "llm" else None for n, c in zip(names, cats)], pa.string()),
        tool_args_hash=pa.array([None, *args], pa.string()),
        source_format=pa.array(["test"] * (k + 1), pa.string()),
    )
    for name, values in columns.items():  # extra columns of the children (root gets NULL)
        cols[name] = pa.array([None, *values], cols[name].type)
    con = open_store()
    load_arrow(con, pa.table(cols, schema=schema.arrow_schema()))
    return con


def profiled(con: Any, sql: str, params: list[Any], tmp_path: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """Run ``sql`` with DuckDB's JSON profiler; return its rows and every operator of the plan."""
    out = tmp_path / "profile.json"
    con.execute("SET enable_profiling = 'json'")
    con.execute(f"SET profiling_output = '{out}'")
    try:
        result = con.execute(sql, params).fetchall()
    finally:
        con.execute("RESET enable_profiling")
    return result, plan_operators(out)


def plan_operators(profile_json: Any) -> list[dict[str, Any]]:
    """Every operator of a DuckDB JSON profile, flattened."""
    ops: list[dict[str, Any]] = []
    stack = list(json.loads(profile_json.read_text())["operator"])
    while stack:
        op = stack.pop()
        ops.append(op)
        stack.extend(op.get("children", []))
    return ops


def assert_linear_plan(ops: list[dict[str, Any]], rows_max: int) -> None:
    pairwise = sorted({op["type"] for op in ops} & PAIRWISE_JOINS)
    assert not pairwise, f"plan compares pairs of rows: {pairwise}"
    produced = sum(int(op.get("intermediate_rows", 0)) for op in ops)
    assert produced <= rows_max, f"operators produced {produced:,} rows (bound {rows_max:,})"


def test_ap402_loop_query_is_linear_in_the_run(tmp_path):
    from agentprof.analyzers.rules.loops import loop_sql

    k = 3000
    # search -> open -> read, the same arguments each cycle: one exact loop over the whole run.
    names = [("search", "open", "read")[i % 3] for i in range(k)]
    args = [f"a{i % 3}" for i in range(k)]
    con = flat_run(names, args)
    result, ops = profiled(con, loop_sql(4), [3], tmp_path)
    # Period 3 covers the run in one island (periods 2 and 4 never match: adjacent names differ).
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in result] == [(3, 4, k, k - 3, True)]
    # A pairwise plan makes ~k^2/3 = 3,000,000 rows; the linear one about 30 per call.
    assert_linear_plan(ops, 60 * k)


def test_ap101_batches_query_is_linear_in_the_run(tmp_path):
    from agentprof.analyzers.rules import latency

    k = 3000
    # chat -> search -> fetch, repeated: every LLM call splits the tool calls into pairs.
    cats = [("llm", "tool", "tool")[i % 3] for i in range(k)]
    names = [("chat", "search", "fetch")[i % 3] for i in range(k)]
    con = flat_run(names, [None] * k, categories=cats)
    import pyarrow as pa

    con.register("_ap_runs", pa.table({"trace_id": [r[0] for r in con.execute("SELECT DISTINCT trace_id FROM spans").fetchall()]}))
    for sql in (latency._SIBLINGS_SQL, latency._LLM_STARTS_SQL):
        _, ops = profiled(con, sql, [], tmp_path)
        assert_linear_plan(ops, 40 * k)
    con.unregister("_ap_runs")
    batches = latency._sequential_batches(con, 0.0)
    assert len(batches) == k // 3
    assert {(b["n"], b["n_sequential"], tuple(b["tools"])) for b in batches} == {(2, 1, ("search", "fetch"))}
    assert batches[0]["span_ids"] == [f"{2:016x}", f"{3:016x}"]


class ProfilingConnection:
    """Wraps a store connection: every query a rule runs is profiled, its plan kept in ``plans``."""

    def __init__(self, con: Any, tmp_path: Any) -> None:
        self._con = con
        self._tmp = tmp_path
        self.plans: list[tuple[str, str, list[dict[str, Any]]]] = []
        self.code = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def _run(self, sql: str, params: Any, arrow: bool) -> Any:
        out = self._tmp / f"q{len(self.plans)}.json"
        self._con.execute("SET enable_profiling = 'json'")
        self._con.execute(f"SET profiling_output = '{out}'")
        try:
            if arrow:
                result, description = self._con.sql(sql, params=params).to_arrow_table(), None
            else:
                cur = self._con.execute(sql, params or [])
                description, result = cur.description, cur.fetchall()
        finally:
            self._con.execute("RESET enable_profiling")
        self.plans.append((self.code, " ".join(sql.split())[:70], plan_operators(out)))
        return _Fetched(result, description)

    def execute(self, sql: str, params: Any = None) -> Any:
        return self._run(sql, params, arrow=False)

    def sql(self, sql: str, params: Any = None) -> Any:
        return self._run(sql, params, arrow=True)


class _Fetched:
    def __init__(self, result: Any, description: Any) -> None:
        self._result = result
        self.description = description

    def fetchall(self) -> Any:
        return self._result

    def to_arrow_table(self) -> Any:
        return self._result


def test_no_rule_query_is_pairwise_on_a_long_flat_run(tmp_path):
    """Every query of every rule, on 3,000 calls under one root: no pairwise join, linear rows."""
    from agentprof.analyzers import analyze
    from agentprof.analyzers.context import RuleContext
    from agentprof.analyzers.rules import all_rules
    from agentprof.config import Config

    k = 3000
    cats = [("llm", "tool", "tool")[i % 3] for i in range(k)]
    names = [("chat", "search", "fetch")[i % 3] for i in range(k)]
    llm = [c == "llm" for c in cats]
    con = flat_run(
        names, [None if c == "llm" else f"a{i % 7}" for i, c in enumerate(cats)], categories=cats,
        status=["error" if i % 11 == 0 else "ok" for i in range(k)],
        request_model=["gpt-4o" if x else None for x in llm],
        input_tokens=[2000 + i if x else None for i, x in enumerate(llm)],
        output_tokens=[40 if x else None for x in llm],
        system_chars=[4000 if x else None for x in llm],
        history_chars=[10 * i if x else None for i, x in enumerate(llm)],
        ttft_ns=[5_000_000 if x else None for x in llm],
    )
    profile = analyze(con, Config(select=("AP0",)))
    spy = ProfilingConnection(con, tmp_path)
    ctx = RuleContext(con=spy, config=Config(token_budget=10_000), runs=profile.runs, aggregates=profile.aggregates)
    for r in all_rules():
        spy.code = r.code
        list(r.check(ctx))
    assert not ctx.failed_rules
    assert {code for code, _, _ in spy.plans} >= {"AP101", "AP202", "AP301", "AP401", "AP402", "AP403", "AP502"}
    scanned = 0
    for code, sql, ops in spy.plans:
        pairwise = sorted({op["type"] for op in ops} & PAIRWISE_JOINS)
        assert not pairwise, (code, sql, pairwise)
        produced = sum(int(op.get("intermediate_rows", 0)) for op in ops)
        assert produced <= 60 * k, (code, sql, produced)
        scanned += produced
    assert scanned > 50 * k  # the queries did read the run


def test_ap402_sorts_nothing_for_a_run_that_cannot_loop(tmp_path):
    from agentprof.analyzers.rules.loops import loop_sql

    k = 3000
    # Two tools alternating over new arguments every call: iteration, never a loop. The
    # candidate aggregate drops the sequence before any window sort sees a row.
    names = [("fetch_section", "record_field")[i % 2] for i in range(k)]
    con = flat_run(names, [f"s{i}" for i in range(k)])
    result, ops = profiled(con, loop_sql(4), [3], tmp_path)
    assert result == []
    windowed = [int(op.get("intermediate_rows", 0)) for op in ops if "WINDOW" in op["type"]]
    assert windowed and sum(windowed) == 0
    # The same run with its last two calls repeating earlier arguments is a candidate: the
    # query returns its island (the rule then calls it a loop with partly repeated arguments).
    con = flat_run(names, [f"s{i}" for i in range(k - 2)] + ["s0", "s1"])
    result, ops = profiled(con, loop_sql(4), [3], tmp_path)
    assert [(r[2], r[3], r[4]) for r in result] == [(2, 3, k), (4, 5, k)]
    assert sum(int(op.get("intermediate_rows", 0)) for op in ops if "WINDOW" in op["type"]) >= k
