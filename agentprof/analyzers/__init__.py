"""Analysis: from the span table to one frozen Profile.

``analyze(con)`` prices LLM calls, builds every run's span tree once (critical path, self
time, latency components), assigns spans to steps and costs them in SQL, aggregates across
runs, then runs the bottleneck rules on the result.

Modules: ``_tree`` (span trees as arrays), ``critical_path`` (the path and what-if savings),
``latency`` (seven components), ``steps`` (steps, buckets, marginal cost), ``runs`` (Run
objects and span detail), ``aggregate`` (distributions, tools, alerts), ``context``
(``RuleContext``, what rules receive).
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentprof.analyzers.context import RuleContext
from agentprof.config import Config
from agentprof.profile import SEVERITIES, Finding, Profile, SourceFile

if TYPE_CHECKING:
    import duckdb

__all__ = ["RuleContext", "analyze", "sort_findings"]

log = logging.getLogger("agentprof.analyze")

DEFAULT_DETAIL_LIMIT = 200
"""Runs (earliest first) whose spans go into the Profile for drawing; the rest keep numbers only."""


def analyze(
    con: duckdb.DuckDBPyConnection,
    config: Config | None = None,
    *,
    sources: tuple[SourceFile, ...] | list[SourceFile] = (),
    detail_limit: int = DEFAULT_DETAIL_LIMIT,
) -> Profile:
    """Analyze every span in the store and return the Profile.

    Args:
        con: a span store from ``agentprof.store.open_store``.
        config: thresholds, rule selection and prices. Defaults to ``Config()``.
        sources: what ingest reported per file; copied into the Profile.
        detail_limit: runs whose spans are kept for drawing (earliest first). Steps, components
            and the critical path are computed for every run regardless. Defaults to 200.
    """
    config = config if config is not None else Config()
    # Building a Profile of many runs creates millions of small objects and no cycles; the
    # cyclic collector would rescan the growing heap again and again (measured: most of
    # the time on 50,000 runs), so it pauses while the analysis runs.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _analyze(con, config, tuple(sources), detail_limit)
    finally:
        if gc_was_enabled:
            gc.enable()


def _analyze(con: duckdb.DuckDBPyConnection, config: Config, sources: tuple[SourceFile, ...], detail_limit: int) -> Profile:
    from agentprof import store
    from agentprof._version import __version__
    from agentprof.analyzers._tree import load_tree
    from agentprof.analyzers.aggregate import ALERT_THRESHOLDS, build_aggregates
    from agentprof.analyzers.runs import RunAssembler, fetch_run_rows, span_views, tree_facts
    from agentprof.analyzers.steps import build_step_tables, fetch_steps

    # DuckDB 2 refuses register()/sql() while an earlier execute() result is unread (e.g. a
    # caller's .fetchone()); a statement fetched to the end releases it. Pricing reads its
    # results to the end, but the analysis does not rely on what it happened to run.
    con.execute("SELECT 1").fetchall()
    pricing = _apply_prices(con, config)
    con.execute("SELECT 1").fetchall()

    tree = load_tree(con)
    # The run rows (the ``runs`` view: SQL only) are read on a cursor of their own while this
    # thread works out the span trees in numpy and Python, so both cores work.
    cursor = store.cursor(con)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentprof-runs") as pool:
        run_rows = pool.submit(fetch_run_rows, cursor, tree)
        try:
            facts = tree_facts(tree)
        finally:
            rows = run_rows.result()
            cursor.close()
    if len(rows["run_id"]) != tree.n_traces:  # spans the cursor cannot see (an open transaction)
        rows = fetch_run_rows(con, tree)
    _store_tree(con, facts)
    build_step_tables(con)
    steps_by_run = fetch_steps(con)

    assembler = RunAssembler(con, facts)
    order = sorted(range(tree.n_traces), key=lambda t: (assembler.start_ns[t], tree.trace_ids[t]))
    detailed = order[: max(detail_limit, 0)]
    views = span_views(con, facts, detailed)
    runs_t = assembler.build_runs(order, rows, steps_by_run, views)

    component_ns = facts.components[order]  # [run, component], in the order of runs_t
    aggregates = build_aggregates(con, runs_t, config, component_ns=component_ns)
    ctx = RuleContext(con=con, config=config, runs=runs_t, aggregates=aggregates, component_ns=component_ns)
    findings = sort_findings(_run_rules(ctx))
    if ctx.failed_rules:
        log.warning("rules skipped after an internal error: %s", ", ".join(ctx.failed_rules))

    thresholds = {k: float(config.threshold(k, v)) for k, v in ALERT_THRESHOLDS.items()}
    thresholds.update(_rule_thresholds(config))
    unknown = sorted({m for r in runs_t for m in r.unknown_models} | set(pricing.unknown_models))
    return Profile(
        agentprof_version=__version__,
        sources=sources,
        runs=runs_t,
        aggregates=aggregates,
        findings=tuple(findings),
        thresholds=dict(sorted(thresholds.items())),
        unknown_models=tuple(unknown),
        price_notes=tuple(pricing.notes),
        runs_elided=max(0, len(runs_t) - len(detailed)),
    )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Biggest estimated saving first (seconds, then dollars), then severity, then code."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}

    def key(f: Finding) -> tuple[Any, ...]:
        return (
            -(f.est_savings_s or 0.0),
            -(f.est_savings_usd or 0.0),
            rank.get(f.severity, len(rank)),
            f.code,
            f.run_id or "",
            f.span_ids,
        )

    return sorted(findings, key=key)


def _store_tree(con: duckdb.DuckDBPyConnection, facts: Any) -> None:
    """Leave the per-span tree facts on the connection as the temp table ``span_tree``."""
    import numpy as np
    import pyarrow as pa

    from agentprof.analyzers._tree import nearest_step

    tree = facts.tree
    n = tree.n_real
    step = nearest_step(tree)[:n]
    step_rid = np.where(step >= 0, tree.rid[np.maximum(step, 0)], -1)
    table = pa.table(
        {
            "rid": pa.array(tree.rid[:n], pa.int64()),
            "depth": pa.array(tree.depth[:n], pa.int64()),
            "self_time_ns": pa.array(facts.self_ns[:n], pa.int64()),
            "on_path_ns": pa.array(facts.path.on_path_ns[:n], pa.int64()),
            "step_rid": pa.array(step_rid, pa.int64(), mask=step < 0),
        }
    )
    con.register("_ap_tree_in", table)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE span_tree AS SELECT * FROM _ap_tree_in")
    finally:
        con.unregister("_ap_tree_in")


def _apply_prices(con: duckdb.DuckDBPyConnection, config: Config) -> Any:
    from agentprof.pricing import apply_prices

    return apply_prices(con, config)


def _run_rules(ctx: RuleContext) -> list[Finding]:
    from agentprof.analyzers.rules import run_rules

    return list(run_rules(ctx))


def _rule_thresholds(config: Config) -> dict[str, float]:
    from agentprof.analyzers.rules import effective_thresholds

    return effective_thresholds(config)
