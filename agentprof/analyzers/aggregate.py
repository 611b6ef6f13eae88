"""Across runs: distributions (DuckDB quantile_cont), success and escalation rates, tools, alerts.

Alert thresholds are the field's defaults, each overridable by its config key
(``[tool.agentprof.thresholds]`` or ``--set key=value``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from agentprof.config import Config
from agentprof.profile import COMPONENTS, Aggregates, Alert, Distribution, Run, ToolStats

if TYPE_CHECKING:
    import duckdb

ALERT_THRESHOLDS: Final = {
    "alert_success_rate_min": 0.90,
    "alert_avg_steps_max": 8.0,
    "alert_p99_latency_s_max": 15.0,
    "alert_avg_tokens_max": 10_000.0,
    "alert_avg_cost_usd_max": 0.10,
    "alert_tool_error_rate_max": 0.05,
    "alert_escalation_rate_max": 0.20,
}
"""Alert config key -> default (success rate is a minimum, the rest are maxima)."""

_NS_PER_S: Final = 1e9

# (metric, unit, SQL expression over the per-run table)
_METRICS: Final = (
    ("wall_s", "s", "wall_ns / 1e9"),
    ("cost_usd", "usd", "cost_usd"),
    ("total_tokens", "tokens", "total_tokens"),
    ("steps", "steps", "steps"),
    *((f"component:{c}", "s", f'"{c}" / 1e9') for c in COMPONENTS),
)


def build_aggregates(
    con: duckdb.DuckDBPyConnection, runs: tuple[Run, ...], config: Config, component_ns: Any = None
) -> Aggregates:
    """Distributions, rates, tool stats and alerts of ``runs``.

    ``component_ns``: the runs' component durations as an int64 array [run, component] in
    ``runs`` and ``COMPONENTS`` order, when the caller has it (saves reading every Component).
    """
    import pyarrow as pa

    import numpy as np

    n = len(runs)
    if component_ns is None:
        # Run.components is in COMPONENTS order: one pass over all of them, cut into columns.
        component_ns = [c.duration_ns for r in runs for c in r.components]
    comp_ns = np.asarray(component_ns, dtype=np.int64).reshape(n, len(COMPONENTS))
    table = pa.table(
        {
            "wall_ns": pa.array([r.end_ns - r.start_ns for r in runs], pa.int64()),
            "cost_usd": pa.array([r.cost_usd for r in runs], pa.float64()),
            "total_tokens": pa.array([r.input_tokens + r.output_tokens for r in runs], pa.int64()),
            "steps": pa.array([r.step_count for r in runs], pa.int64()),
            "ok": pa.array([r.ok for r in runs], pa.bool_()),
            "escalated": pa.array([r.escalated for r in runs], pa.bool_()),
            **{c: pa.array(comp_ns[:, i], pa.int64()) for i, c in enumerate(COMPONENTS)},
        }
    )
    con.register("_ap_run_metrics", table)
    try:
        # One pass for every metric: count, mean, p50/p95/p99 (linear interpolation), min, max.
        parts = []
        for k, (_metric, _unit, expr) in enumerate(_METRICS):
            x = f"({expr})::DOUBLE"
            parts.append(
                f"count({x}) AS n{k}, avg({x}) AS mean{k}, quantile_cont({x}, [0.5, 0.95, 0.99]) AS q{k}, "
                f"min({x}) AS min{k}, max({x}) AS max{k}"
            )
        row = con.execute(f"SELECT {', '.join(parts)} FROM _ap_run_metrics").fetchall()[0]
        dists = []
        for k, (metric, unit, _expr) in enumerate(_METRICS):
            count, mean, q, lo, hi = row[5 * k : 5 * k + 5]
            if count:
                dists.append(Distribution(metric, unit, int(count), float(mean), q[0], q[1], q[2], float(lo), float(hi)))
    finally:
        con.unregister("_ap_run_metrics")

    marks = con.execute("SELECT count(escalated) FROM spans").fetchall()[0][0]
    escalation_rate = (sum(r.escalated for r in runs) / n) if (n and marks) else None
    success_rate = (sum(r.ok for r in runs) / n) if n else 1.0
    costs = [r.cost_usd for r in runs if r.cost_usd is not None]
    tools = tool_stats(con)
    aggs = Aggregates(
        run_count=n,
        success_rate=success_rate,
        escalation_rate=escalation_rate,
        total_cost_usd=sum(costs) if costs else None,
        total_input_tokens=sum(r.input_tokens for r in runs),
        total_output_tokens=sum(r.output_tokens for r in runs),
        total_cache_read_tokens=sum(r.cache_read_tokens for r in runs),
        total_cache_write_tokens=sum(r.cache_write_tokens for r in runs),
        distributions=tuple(dists),
        tools=tools,
    )
    return Aggregates(**{**aggs.__dict__, "alerts": alerts(aggs, runs, config)})


def tool_stats(con: duckdb.DuckDBPyConnection) -> tuple[ToolStats, ...]:
    """Calls, errors and duration percentiles per tool (tool, retrieval and embedding spans)."""
    rows = con.execute(
        """
        SELECT coalesce(tool_name, name) AS tool, count(*) AS calls,
               count(*) FILTER (WHERE status = 'error') AS errors,
               quantile_cont((end_ns - start_ns) / 1e6, [0.5, 0.95]) AS q
        FROM spans WHERE category IN ('tool', 'retrieval', 'embedding')
        GROUP BY tool ORDER BY calls DESC, tool
        """
    ).fetchall()
    return tuple(ToolStats(r[0], int(r[1]), int(r[2]), r[2] / r[1], float(r[3][0]), float(r[3][1])) for r in rows)


def alerts(aggs: Aggregates, runs: tuple[Run, ...], config: Config) -> tuple[Alert, ...]:
    """The field's alert thresholds compared with this input's aggregates (no runs, no alerts)."""
    if not runs:
        return ()
    th = {k: float(config.threshold(k, v)) for k, v in ALERT_THRESHOLDS.items()}
    dist = {d.metric: d for d in aggs.distributions}
    out = [_alert("success_rate", aggs.success_rate, th, "alert_success_rate_min", "<")]
    if "steps" in dist:
        out.append(_alert("avg_steps", dist["steps"].mean, th, "alert_avg_steps_max", ">"))
    if "wall_s" in dist:
        out.append(_alert("p99_latency_s", dist["wall_s"].p99, th, "alert_p99_latency_s_max", ">"))
    if "total_tokens" in dist:
        out.append(_alert("avg_tokens", dist["total_tokens"].mean, th, "alert_avg_tokens_max", ">"))
    if "cost_usd" in dist:
        out.append(_alert("avg_cost_usd", dist["cost_usd"].mean, th, "alert_avg_cost_usd_max", ">"))
    calls = sum(t.calls for t in aggs.tools)
    if calls:
        rate = sum(t.errors for t in aggs.tools) / calls
        out.append(_alert("tool_error_rate", rate, th, "alert_tool_error_rate_max", ">"))
    if aggs.escalation_rate is not None:
        out.append(_alert("escalation_rate", aggs.escalation_rate, th, "alert_escalation_rate_max", ">"))
    return tuple(out)


def _alert(metric: str, value: float, th: dict[str, float], key: str, cmp: str) -> Alert:
    limit = th[key]
    breached = value < limit if cmp == "<" else value > limit
    return Alert(metric=metric, value=float(value), threshold=limit, comparison=cmp, breached=breached, config_key=key)
