"""Build the Run objects: summary numbers (the ``runs`` view), steps, components, critical path, spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentprof.analyzers._tree import CATEGORY_NAMES, SpanTree
from agentprof.analyzers.critical_path import PathResult
from agentprof.profile import COMPONENTS, Component, CriticalSegment, Run, SpanView, Step

if TYPE_CHECKING:
    import duckdb


@dataclass
class TreeFacts:
    """Everything the span tree gave us, indexed like the SpanTree."""

    tree: SpanTree
    path: PathResult
    self_ns: Any  # int64 per span
    components: Any  # int64 [run, component]


def fetch_run_rows(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    cur = con.execute("SELECT * FROM runs")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}


def components_of(wall_ns: int, row: Any) -> tuple[Component, ...]:
    return tuple(
        Component(name=name, duration_ns=int(ns), share=(int(ns) / wall_ns if wall_ns > 0 else 0.0))
        for name, ns in zip(COMPONENTS, row)
    )


def critical_segments(facts: TreeFacts, t: int, names: dict[int, tuple[str, str]]) -> tuple[CriticalSegment, ...]:
    """One CriticalSegment per on-path span of run ``t``, in time order (virtual root left out)."""
    tree, path = facts.tree, facts.path
    lo, hi = _seg_range(path, t)
    wall = int(tree.ce[tree.root[t]] - tree.cs[tree.root[t]])
    seen: dict[int, list[int]] = {}
    for o, a, b in zip(path.seg_owner[lo:hi].tolist(), path.seg_from_ns[lo:hi].tolist(), path.seg_to_ns[lo:hi].tolist()):
        if o >= tree.n_real:
            continue
        acc = seen.setdefault(o, [a, 0])
        acc[1] += b - a
    out = []
    for o, (_first, on_path) in sorted(seen.items(), key=lambda kv: (kv[1][0], kv[0])):
        name, category, span_id = names.get(o, ("", CATEGORY_NAMES[int(tree.category[o])], ""))
        out.append(
            CriticalSegment(
                span_id=span_id,
                name=name,
                category=category,
                start_ns=int(tree.start_ns[o]),
                end_ns=int(tree.end_ns[o]),
                on_path_ns=on_path,
                share=on_path / wall if wall > 0 else 0.0,
            )
        )
    return tuple(out)


def _seg_range(path: PathResult, t: int) -> tuple[int, int]:
    import numpy as np

    lo = int(np.searchsorted(path.seg_trace, t, side="left"))
    hi = int(np.searchsorted(path.seg_trace, t, side="right"))
    return lo, hi


def span_labels(con: duckdb.DuckDBPyConnection, facts: TreeFacts, traces: list[int]) -> dict[int, tuple[str, str, str]]:
    """(name, category, span_id) of the on-path spans of the given runs, by tree index."""
    import numpy as np

    tree, path = facts.tree, facts.path
    if not traces:
        return {}
    mask = np.isin(path.seg_trace, np.array(traces, dtype=np.int64))
    idx = np.unique(path.seg_owner[mask])
    idx = idx[idx < tree.n_real]
    if not len(idx):
        return {}
    rids = tree.rid[idx]
    pos = dict(zip(rids.tolist(), idx.tolist()))
    import pyarrow as pa

    con.register("_ap_rids", pa.table({"rid": pa.array(rids, pa.int64())}))
    try:
        rows = con.execute(
            "SELECT s.rowid, s.name, s.category, s.span_id FROM spans s JOIN _ap_rids r ON r.rid = s.rowid"
        ).fetchall()
    finally:
        con.unregister("_ap_rids")
    return {pos[r[0]]: (r[1], r[2], r[3]) for r in rows}


def span_views(con: duckdb.DuckDBPyConnection, facts: TreeFacts, t: int, trace_id: str) -> tuple[SpanView, ...]:
    """Every span of run ``t`` for drawing, ordered by start, then depth."""
    tree = facts.tree
    lo, hi = int(tree.trace_lo[t]), int(tree.trace_hi[t])
    pos = dict(zip(tree.rid[lo:hi].tolist(), range(lo, hi)))
    has_steps = bool(
        con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'steps' AND temporary").fetchall()[0][0]
    )
    step_join = (
        """LEFT JOIN (
            SELECT m.rid, x.step_index FROM step_members m JOIN steps x USING (step_rid)
            UNION ALL SELECT step_rid, step_index FROM steps WHERE explicit
        ) st ON st.rid = s.rowid"""
        if has_steps
        else "LEFT JOIN (SELECT NULL::BIGINT AS rid, NULL::BIGINT AS step_index) st ON false"
    )
    rows = con.execute(
        f"""
        SELECT s.rowid, s.span_id, s.parent_span_id, s.name, s.category, s.start_ns, s.end_ns, s.status,
               s.agent_name, coalesce(s.response_model, s.request_model), s.tool_name, s.input_tokens,
               s.output_tokens, s.cost_usd, s.error_type, s.attributes, st.step_index
        FROM spans s
        {step_join}
        WHERE s.trace_id = ?
        """,
        [trace_id],
    ).fetchall()
    on_path = facts.path.on_path_ns
    views = []
    for r in rows:
        i = pos.get(r[0])
        if i is None:
            continue
        views.append(
            SpanView(
                span_id=r[1],
                parent_span_id=r[2],
                name=r[3],
                category=r[4],
                start_ns=r[5],
                end_ns=max(r[6], r[5]),
                depth=int(tree.depth[i]) - (1 if int(tree.root[t]) >= tree.n_real else 0),
                self_time_ns=int(facts.self_ns[i]),
                status=r[7],
                on_critical_path=bool(on_path[i] > 0),
                agent_name=r[8],
                model=r[9],
                tool_name=r[10],
                input_tokens=r[11],
                output_tokens=r[12],
                cost_usd=r[13],
                error_type=r[14],
                step_index=r[16],
                attributes=_attributes(r[15]),
            )
        )
    views.sort(key=lambda v: (v.start_ns, v.depth, v.span_id))
    return tuple(views)


def _attributes(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def build_run(
    row: dict[str, Any],
    facts: TreeFacts,
    t: int,
    steps: tuple[Step, ...],
    labels: dict[int, tuple[str, str, str]],
    spans: tuple[SpanView, ...] = (),
) -> Run:
    tree = facts.tree
    r = int(tree.root[t])
    start_ns, end_ns = int(tree.cs[r]), int(max(tree.ce[r], tree.cs[r]))
    wall = end_ns - start_ns
    return Run(
        run_id=row["run_id"],
        name=row["name"] or "",
        service_name=row["service_name"],
        agent_names=tuple(row["agent_names"] or ()),
        session_id=row["session_id"],
        user_id=row["user_id"],
        start_ns=start_ns,
        end_ns=end_ns,
        ok=bool(row["ok"]),
        span_count=int(row["span_count"]),
        llm_call_count=int(row["llm_call_count"]),
        tool_call_count=int(row["tool_call_count"]),
        step_count=len(steps),
        error_count=int(row["error_count"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
        reasoning_tokens=int(row["reasoning_tokens"]),
        cost_usd=row["cost_usd"],
        cost_sources={
            "reported": int(row["cost_reported"]),
            "computed": int(row["cost_computed"]),
            "unknown": int(row["cost_unknown"]),
        },
        unknown_models=tuple(row["unknown_models"] or ()),
        steps=steps,
        components=components_of(wall, facts.components[t].tolist()),
        critical_path=critical_segments(facts, t, labels),
        spans=spans,
        escalated=bool(row["escalated"]),
    )


def tree_facts(tree: SpanTree) -> TreeFacts:
    """Critical path, self time and components of every run of ``tree``."""
    from agentprof.analyzers._tree import children_index, self_time_ns
    from agentprof.analyzers.critical_path import critical_paths
    from agentprof.analyzers.latency import components_ns

    path = critical_paths(tree, children_index(tree))
    return TreeFacts(tree, path, self_time_ns(tree), components_ns(tree, path))


def load_run_spans(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[SpanView, ...]:
    """SpanViews of one run straight from the store (for runs whose detail was elided)."""
    from agentprof.analyzers._tree import load_tree

    tree = load_tree(con, where="trace_id = ?", params=[run_id])
    if tree.n_traces == 0:
        return ()
    return span_views(con, tree_facts(tree), 0, run_id)
