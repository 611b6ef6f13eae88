"""Build the Run objects: summary numbers (the ``runs`` view), steps, components, critical path, spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentprof.analyzers._columns import getter, pylist, repeated_strings
from agentprof.analyzers._tree import SpanTree
from agentprof.analyzers.critical_path import PathResult, by_run_then_time
from agentprof.profile import COMPONENTS, Component, CriticalSegment, Records, Run, SpanView, Step

if TYPE_CHECKING:
    import duckdb


@dataclass
class TreeFacts:
    """Everything the span tree gave us, indexed like the SpanTree."""

    tree: SpanTree
    path: PathResult
    self_ns: Any  # int64 per span
    components: Any  # int64 [run, component]


def tree_facts(tree: SpanTree) -> TreeFacts:
    """Critical path, self time and components of every run of ``tree``."""
    from agentprof.analyzers._tree import children_index, self_time_ns
    from agentprof.analyzers.critical_path import critical_paths
    from agentprof.analyzers.latency import components_ns

    path = critical_paths(tree, children_index(tree))
    return TreeFacts(tree, path, self_time_ns(tree), components_ns(tree, path))


def fetch_run_rows(con: duckdb.DuckDBPyConnection, tree: SpanTree | None = None) -> dict[str, list[Any]]:
    """The ``runs`` view as column lists (moved as Arrow columns), in the view's row order.

    With ``tree`` (all spans of the store), its roots stand in for the ``root_spans`` view:
    the same rows (no parent, a parent missing from the trace, or itself), already found,
    so the view's anti-join over every span is not run again.
    """
    from agentprof.store import runs_sql

    if tree is None:
        tbl = con.sql("SELECT * FROM runs").to_arrow_table()
    else:
        import pyarrow as pa

        n = tree.n_real
        parent = tree.parent[:n]
        is_root = (parent < 0) | (parent >= n)  # under a virtual root: a root of a multi-root run
        con.register("_ap_roots", pa.table({"rid": pa.array(tree.rid[:n][is_root], pa.int64())}))
        try:
            roots = "(SELECT s.* FROM spans s SEMI JOIN _ap_roots r ON s.rowid = r.rid)"
            tbl = con.sql(runs_sql(roots)).to_arrow_table()
        finally:
            con.unregister("_ap_roots")
    return {name: pylist(tbl.column(name)) for name in tbl.column_names}


class RunAssembler:
    """Turns TreeFacts plus SQL rows into Run objects; precomputes per-run slices once."""

    def __init__(self, con: duckdb.DuckDBPyConnection, facts: TreeFacts) -> None:
        import numpy as np

        self.con = con
        self.facts = facts
        tree, path = facts.tree, facts.path
        roots = tree.root
        self.start_ns = tree.cs[roots].tolist()
        self.end_ns = np.maximum(tree.ce[roots], tree.cs[roots]).tolist()
        # On-path real spans, grouped by run and ordered by when they first hold the path.
        first = np.full(tree.n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, path.seg_owner, path.seg_from_ns)
        idx = np.flatnonzero(path.on_path_ns[: tree.n_real] > 0)
        run_of = tree.trace[idx]
        o = by_run_then_time(tree, run_of, first[idx])  # first-hold times differ within a run
        idx, run_of = idx[o], run_of[o]
        runs = np.arange(tree.n_traces)
        self.cp_lo = np.searchsorted(run_of, runs, side="left").tolist()
        self.cp_hi = np.searchsorted(run_of, runs, side="right").tolist()
        # Every run's critical path and components are Records over shared columns: a
        # CriticalSegment or Component is built only when read (a report reads a few runs';
        # building all ~20 per run up front cost more than the rest of the run assembly).
        wall = np.maximum(tree.ce[roots], tree.cs[roots]) - tree.cs[roots]
        on = path.on_path_ns[idx]
        name, category, span_id = _span_labels(con, tree, idx)
        self.make_segment = _segment_maker(
            span_id, name, category, tree.start_ns[idx], tree.end_ns[idx], on, _shares(on, wall[run_of])
        )
        comp = facts.components
        self.make_component = _component_maker(comp.ravel(), _shares(comp, wall[:, None]).reshape(-1))

    def build_runs(
        self,
        order: list[int],
        rows: dict[str, list[Any]],
        steps_by_run: dict[str, Records[Step]],
        views: dict[int, tuple[SpanView, ...]],
    ) -> tuple[Run, ...]:
        """The Run of every run index in ``order``, from ``fetch_run_rows`` columns.

        Column-wise: one list per Run field, then one positional map(); a dict per run and a
        keyword call per Run cost ~14 us per run on 50,000 runs.
        """
        trace_ids = self.facts.tree.trace_ids
        row_of = {rid: k for k, rid in enumerate(rows["run_id"])}
        at = [row_of[trace_ids[t]] for t in order]

        def col(name: str, conv: Any = None) -> list[Any]:
            c = rows[name]
            values = [c[k] for k in at]
            return values if conv is None else list(map(conv, values))

        run_ids = col("run_id")
        steps = [steps_by_run.get(rid, ()) for rid in run_ids]
        n = len(COMPONENTS)
        return tuple(map(
            Run,
            run_ids,
            [x or "" for x in col("name")],
            col("service_name"),
            [tuple(x or ()) for x in col("agent_names")],
            col("session_id"),
            col("user_id"),
            [self.start_ns[t] for t in order],
            [self.end_ns[t] for t in order],
            col("ok", bool),
            col("span_count", int),
            col("llm_call_count", int),
            col("tool_call_count", int),
            list(map(len, steps)),
            col("error_count", int),
            col("input_tokens", int),
            col("output_tokens", int),
            col("cache_read_tokens", int),
            col("cache_write_tokens", int),
            col("reasoning_tokens", int),
            col("cost_usd"),
            [{"reported": int(a), "computed": int(b), "unknown": int(c)}
             for a, b, c in zip(col("cost_reported"), col("cost_computed"), col("cost_unknown"))],
            [tuple(x or ()) for x in col("unknown_models")],
            steps,
            [Records(self.make_component, t * n, (t + 1) * n) for t in order],
            [Records(self.make_segment, self.cp_lo[t], self.cp_hi[t]) for t in order],
            [views.get(t, ()) for t in order],
            col("escalated", bool),
        ))


def _segment_maker(*columns: Any) -> Any:
    """``make(row)``: the CriticalSegment of one row of the on-path span columns."""
    span_id, name, category, start_ns, end_ns, on_path_ns, share = map(getter, columns)

    def make(i: int) -> CriticalSegment:
        return CriticalSegment(span_id(i), name(i), category(i), start_ns(i), end_ns(i), on_path_ns(i), share(i))

    return make


def _component_maker(duration_ns: Any, share: Any) -> Any:
    """``make(row)``: the Component of row ``run * len(COMPONENTS) + k``."""
    k = len(COMPONENTS)
    duration, part = getter(duration_ns), getter(share)

    def make(i: int) -> Component:
        return Component(COMPONENTS[i % k], duration(i), part(i))

    return make


def _shares(part_ns: Any, wall_ns: Any) -> Any:
    """``part / wall`` (0.0 where wall <= 0) elementwise, equal to Python's int / int.

    numpy converts int64 to float64 before dividing; below 2**53 that conversion is exact and
    the IEEE division is correctly rounded, as Python's is. Larger values take Python's path.
    """
    import numpy as np

    part_ns, wall_ns = np.broadcast_arrays(np.asarray(part_ns, dtype=np.int64), np.asarray(wall_ns, dtype=np.int64))
    if part_ns.size and max(int(np.abs(part_ns).max()), int(np.abs(wall_ns).max())) >= 2**53:
        flat = [p / w if w > 0 else 0.0 for p, w in zip(part_ns.ravel().tolist(), wall_ns.ravel().tolist())]
        return np.array(flat, dtype=np.float64).reshape(part_ns.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(wall_ns > 0, part_ns / np.where(wall_ns > 0, wall_ns, 1), 0.0)


def _span_labels(con: duckdb.DuckDBPyConnection, tree: SpanTree, idx: Any) -> tuple[list[str], list[str], list[str]]:
    """(names, categories, span ids) of the spans at tree positions ``idx``, in that order."""
    import numpy as np
    import pyarrow as pa

    n = len(idx)
    if not n:
        return [], [], []
    con.register("_ap_rids", pa.table({"rid": pa.array(tree.rid[idx], pa.int64()), "k": pa.array(np.arange(n), pa.int64())}))
    try:
        tbl = con.sql(
            "SELECT r.k, s.name, s.category, s.span_id FROM spans s JOIN _ap_rids r ON r.rid = s.rowid ORDER BY r.k"
        ).to_arrow_table()
    finally:
        con.unregister("_ap_rids")
    return repeated_strings(tbl.column("name")), repeated_strings(tbl.column("category")), tbl.column("span_id").to_pylist()


def span_views(con: duckdb.DuckDBPyConnection, facts: TreeFacts, runs: list[int]) -> dict[int, tuple[SpanView, ...]]:
    """Every span of the given runs for drawing, ordered by start, then depth (one query)."""
    import numpy as np
    import pyarrow as pa

    tree = facts.tree
    if not runs:
        return {}
    idx = np.concatenate([np.arange(tree.trace_lo[t], tree.trace_hi[t]) for t in runs]).astype(np.int64)
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
    con.register("_ap_rids", pa.table({"rid": pa.array(tree.rid[idx], pa.int64()), "pos": pa.array(idx, pa.int64())}))
    try:
        rows = con.execute(
            f"""
            SELECT r.pos, s.span_id, s.parent_span_id, s.name, s.category, s.start_ns, s.end_ns, s.status,
                   s.agent_name, coalesce(s.response_model, s.request_model), s.tool_name, s.input_tokens,
                   s.output_tokens, s.cost_usd, s.error_type, s.attributes, st.step_index
            FROM spans s JOIN _ap_rids r ON r.rid = s.rowid
            {step_join}
            """
        ).fetchall()
    finally:
        con.unregister("_ap_rids")
    depth = tree.depth
    on_path = facts.path.on_path_ns
    self_ns = facts.self_ns
    n_real = tree.n_real
    out: dict[int, list[SpanView]] = {t: [] for t in runs}
    for r in rows:
        i = r[0]
        t = int(tree.trace[i])
        virtual_root = int(tree.root[t]) >= n_real
        out[t].append(
            SpanView(
                span_id=r[1],
                parent_span_id=r[2],
                name=r[3],
                category=r[4],
                start_ns=r[5],
                end_ns=max(r[6], r[5]),
                depth=int(depth[i]) - (1 if virtual_root else 0),
                self_time_ns=int(self_ns[i]),
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
    return {t: tuple(sorted(v, key=lambda s: (s.start_ns, s.depth, s.span_id))) for t, v in out.items()}


def _attributes(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def load_run_spans(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[SpanView, ...]:
    """SpanViews of one run straight from the store (for runs whose detail was elided)."""
    from agentprof.analyzers._tree import load_tree

    tree = load_tree(con, where="trace_id = ?", params=[run_id])
    if tree.n_traces == 0:
        return ()
    return span_views(con, tree_facts(tree), [0])[0]
