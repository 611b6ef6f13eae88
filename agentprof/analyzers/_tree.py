"""Span trees as flat numpy arrays: parents, clipped intervals, depth, children, self time.

The critical path, the latency components and the step assignment all need the tree shape of
every run. Holding it as parallel arrays (one slot per span, runs contiguous) lets the
per-span work stay vectorized; only the critical-path walk itself is a loop, and it touches
each on-path span once.

Conventions used everywhere below:

* A span whose parent id is missing from its trace (an orphan) is a root, as is a span that
  names itself as parent. A trace with several roots gets one *virtual root* (category
  ``VIRTUAL``) spanning all of them, so every run has exactly one root.
* Children are clipped to their parent's (already clipped) interval, as Jaeger does; a span
  left with no time after clipping is "empty" and never on the critical path. Spans caught in
  a parent cycle are unreachable from any root and are ignored by the walk.
* Ties are broken by (trace_id, span_id) order, so results never depend on row order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import duckdb
    import numpy as np

CATEGORY_CODES: Final = {
    "agent": 0,
    "step": 1,
    "llm": 2,
    "tool": 3,
    "retrieval": 4,
    "embedding": 5,
    "chain": 6,
    "handoff": 7,
    "other": 8,
}
VIRTUAL: Final = 9
"""Category code of the virtual root that joins the roots of a multi-root trace."""
CATEGORY_NAMES: Final = (*CATEGORY_CODES, "virtual")

_CATEGORY_SQL = "CASE category " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in CATEGORY_CODES.items()) + " ELSE 8 END"


@dataclass
class SpanTree:
    """All spans of one or more runs; index ``i`` is one span, virtual roots sit at the end.

    Real spans occupy ``0..n_real-1`` sorted by (trace_id, span_id); ``trace_lo[t]..trace_hi[t]``
    is run ``t``'s slice and ``root[t]`` its (possibly virtual) root.
    """

    n_real: int
    trace_ids: list[str]
    rid: Any  # int64 DuckDB rowid (-1 for virtual roots and rows not from DuckDB)
    trace: Any  # int64 run index
    parent: Any  # int64 parent index, -1 for the (virtual) root
    category: Any  # int8 category code
    start_ns: Any  # int64 as recorded
    end_ns: Any
    cs: Any  # int64 clipped start
    ce: Any  # int64 clipped end (ce <= cs means empty)
    agent: Any  # int64 agent-name code, -1 when unknown
    ttft_ns: Any  # int64, -1 when unknown
    serialization_ns: Any  # int64, -1 when unknown
    trace_lo: Any
    trace_hi: Any
    root: Any  # int64 root index per run
    depth: Any = None  # int64, real roots 0 (virtual root -1)

    @property
    def n(self) -> int:
        return len(self.parent)

    @property
    def n_traces(self) -> int:
        return len(self.trace_ids)


def load_tree(con: duckdb.DuckDBPyConnection, *, where: str = "", params: list[Any] | None = None) -> SpanTree:
    """Read the tree columns of every span (or those matching ``where``) into a SpanTree.

    Parents are found without a string join: each row carries two independent 64-bit hashes
    of (trace_id, span_id) and of (trace_id, parent_span_id); a sorted search matches them
    and the second hash confirms the match (a first-hash collision falls back to a scan).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    filt = f"WHERE {where}" if where else ""
    sql = f"""
        SELECT rowid AS rid, trace_id,
               hash(trace_id, span_id) AS k1, hash(span_id, trace_id, 'agentprof') AS k2,
               CASE WHEN parent_span_id IS NOT NULL AND parent_span_id <> span_id
                    THEN hash(trace_id, parent_span_id) END AS pk1,
               hash(parent_span_id, trace_id, 'agentprof') AS pk2,
               ({_CATEGORY_SQL})::TINYINT AS cat, start_ns, end_ns, agent_name,
               coalesce(ttft_ns, -1) AS ttft_ns, coalesce(serialization_ns, -1) AS ser_ns
        FROM spans {filt}
        ORDER BY trace_id, span_id, rowid
    """
    tbl = con.sql(sql, params=params or None).to_arrow_table()
    n = tbl.num_rows
    k1 = tbl.column("k1").to_numpy()
    k2 = tbl.column("k2").to_numpy()
    pk1_col = tbl.column("pk1")
    has_parent = pc.is_valid(pk1_col).to_numpy(zero_copy_only=False)
    pk1 = pk1_col.fill_null(0).to_numpy()
    pk2 = tbl.column("pk2").to_numpy()
    parent_pos = np.full(n, -1, dtype=np.int64)
    if n:
        order = np.argsort(k1)
        sk = k1[order]
        if n > 1 and bool((sk[1:] == sk[:-1]).any()):  # among duplicates of one span, the first row wins
            order = np.argsort(k1, kind="stable")
            sk = k1[order]
        # Searching the keys in sorted order walks the sorted array once (a third of the
        # time of random probes on 1M spans); the results go back to row order.
        needle_order = np.argsort(pk1)
        at = np.empty(n, dtype=np.int64)
        at[needle_order] = np.searchsorted(sk, pk1[needle_order], side="left")
        np.minimum(at, n - 1, out=at)
        cand = order[at]
        hit = has_parent & (sk[at] == pk1)
        ok = hit & (k2[cand] == pk2)
        parent_pos[ok] = cand[ok]
        for i in np.flatnonzero(hit & ~ok).tolist():  # first-hash collision: scan the equal run
            j = int(at[i])
            while j < n and sk[j] == pk1[i]:
                if k2[order[j]] == pk2[i]:
                    parent_pos[i] = order[j]
                    break
                j += 1
    agent = pc.dictionary_encode(tbl.column("agent_name").combine_chunks()).indices
    return _build(
        rid=tbl.column("rid").to_numpy().astype(np.int64, copy=False),
        trace_col=tbl.column("trace_id"),
        parent=parent_pos,
        category=tbl.column("cat").to_numpy().astype(np.int8, copy=False),
        start_ns=tbl.column("start_ns").to_numpy().astype(np.int64, copy=False),
        end_ns=tbl.column("end_ns").to_numpy().astype(np.int64, copy=False),
        agent=pc.fill_null(agent, -1).to_numpy().astype(np.int64, copy=False) if n else np.zeros(0, dtype=np.int64),
        ttft_ns=tbl.column("ttft_ns").to_numpy().astype(np.int64, copy=False),
        serialization_ns=tbl.column("ser_ns").to_numpy().astype(np.int64, copy=False),
    )


def tree_from_rows(rows: Any) -> SpanTree:
    """A SpanTree of one run from span-like objects or mappings (SpanView, dict rows).

    Each item needs ``span_id``, ``parent_span_id``, ``start_ns``, ``end_ns``; ``category``,
    ``agent_name``, ``ttft_ns`` and ``serialization_ns`` are used when present.
    """
    import numpy as np
    import pyarrow as pa

    def get(r: Any, key: str) -> Any:
        return r.get(key) if isinstance(r, dict) else getattr(r, key, None)

    items = sorted(rows, key=lambda r: (str(get(r, "span_id")), get(r, "start_ns")))
    first: dict[str, int] = {}
    for i, r in enumerate(items):
        first.setdefault(str(get(r, "span_id")), i)
    parent_rid = []
    agents: dict[Any, int] = {}
    agent = []
    for r in items:
        p = get(r, "parent_span_id")
        parent_rid.append(first.get(str(p), -1) if p is not None and p != get(r, "span_id") else -1)
        a = get(r, "agent_name")
        agent.append(-1 if a is None else agents.setdefault(a, len(agents)))

    def ints(key: str, default: int) -> Any:
        return np.array([default if get(r, key) is None else int(get(r, key)) for r in items], dtype=np.int64)

    return _build(
        rid=np.arange(len(items), dtype=np.int64),
        trace_col=pa.array(["run"] * len(items), pa.string()),
        parent=np.array(parent_rid, dtype=np.int64),
        category=np.array([CATEGORY_CODES.get(get(r, "category") or "other", 8) for r in items], dtype=np.int8),
        start_ns=ints("start_ns", 0),
        end_ns=ints("end_ns", 0),
        agent=np.array(agent, dtype=np.int64),
        ttft_ns=ints("ttft_ns", -1),
        serialization_ns=ints("serialization_ns", -1),
    )


def _build(*, rid, trace_col, parent, category, start_ns, end_ns, agent, ttft_ns, serialization_ns) -> SpanTree:
    """Assemble a SpanTree from rows sorted by (trace_id, span_id); ``parent`` holds row positions."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(rid)
    # Run index per row: rows arrive sorted by trace_id, so a run starts where the id changes.
    if n:
        if not isinstance(trace_col, pa.ChunkedArray):
            trace_col = pa.chunked_array([trace_col])
        codes = pc.dictionary_encode(trace_col.combine_chunks())
        trace = codes.indices.to_numpy().astype(np.int64, copy=False)
        trace_ids = codes.dictionary.to_pylist()
    else:
        trace = np.zeros(0, dtype=np.int64)
        trace_ids = []
    n_traces = len(trace_ids)
    parent = np.asarray(parent, dtype=np.int64).copy()
    end_fixed = np.maximum(end_ns, start_ns)

    trace_lo = np.searchsorted(trace, np.arange(n_traces), side="left")
    trace_hi = np.searchsorted(trace, np.arange(n_traces), side="right")

    # Roots: one real root per run, or a virtual root appended after the real spans.
    is_root = parent < 0
    roots_per_trace = np.bincount(trace[is_root], minlength=n_traces) if n else np.zeros(0, dtype=np.int64)
    root = np.full(n_traces, -1, dtype=np.int64)
    single = roots_per_trace == 1
    root_idx = np.flatnonzero(is_root)
    root[trace[root_idx][single[trace[root_idx]]]] = root_idx[single[trace[root_idx]]]
    multi = np.flatnonzero(~single)  # runs with 0 reachable roots (cycles) or several roots
    v_idx = n + np.arange(len(multi), dtype=np.int64)
    root[multi] = v_idx
    n_all = n + len(multi)
    # Real roots of multi-root runs hang under their virtual root.
    parent = np.concatenate([parent, np.full(len(multi), -1, dtype=np.int64)])
    multi_mask = np.zeros(n_traces, dtype=bool)
    multi_mask[multi] = True
    hang = is_root & multi_mask[trace] if n else is_root
    parent[: n][hang] = root[trace[hang]]

    def ext(a, fill):  # a new array: the inputs may be read-only views of Arrow buffers
        return np.concatenate([a, np.full(len(multi), fill, dtype=a.dtype)])

    trace_all = np.concatenate([trace, multi.astype(np.int64)])
    start_all = ext(start_ns, 0)
    end_all = ext(end_fixed, 0)
    if len(multi):
        # Virtual root interval: earliest root start .. latest root end. A run whose spans all
        # sit in parent cycles has no root: its interval is that of all its spans, and all
        # of it is unattributed time.
        rs = np.full(n_traces, np.iinfo(np.int64).max, dtype=np.int64)
        re = np.full(n_traces, np.iinfo(np.int64).min, dtype=np.int64)
        np.minimum.at(rs, trace[hang], start_ns[hang])
        np.maximum.at(re, trace[hang], end_fixed[hang])
        none = (rs > re) & multi_mask
        if none.any():
            np.minimum.at(rs, trace[none[trace]], start_ns[none[trace]])
            np.maximum.at(re, trace[none[trace]], end_fixed[none[trace]])
        start_all[n:] = rs[multi]
        end_all[n:] = re[multi]

    cs, ce, depth = _clip(parent, start_all, end_all)
    return SpanTree(
        n_real=n,
        trace_ids=trace_ids,
        rid=ext(rid, -1),
        trace=trace_all,
        parent=parent,
        category=ext(category, VIRTUAL),
        start_ns=start_all,
        end_ns=end_all,
        cs=cs,
        ce=ce,
        agent=ext(agent, -1),
        ttft_ns=ext(ttft_ns, -1),
        serialization_ns=ext(serialization_ns, -1),
        trace_lo=trace_lo,
        trace_hi=trace_hi,
        root=root,
        depth=depth,
    )


def _clip(parent, start, end):
    """Clip every span to its ancestors (cascaded) and count depth, by pointer doubling.

    The clipped start is the max of the starts along the ancestor chain, the clipped end the
    min of the ends: O(n log depth) vectorized instead of a top-down walk.
    """
    import numpy as np

    n = len(parent)
    idx = np.arange(n, dtype=np.int64)
    jump = np.where(parent >= 0, parent, idx)
    cs = start.copy()
    ce = end.copy()
    depth = (parent >= 0).astype(np.int64)
    for _ in range(64):  # 2**64 levels: a chain that has not converged is a parent cycle
        cs = np.maximum(cs, cs[jump])
        ce = np.minimum(ce, ce[jump])
        depth = depth + depth[jump]
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    return cs, ce, depth


def children_index(tree: SpanTree):
    """Non-empty children of every span, sorted by clipped end (then earlier start first).

    Returns ``(order, lo, hi)``: the children of span ``p`` are ``order[lo[p]:hi[p]]`` in
    ascending end order; among equal ends the child with the earliest start comes *last*, so
    a backwards pointer meets the longer child first. Ties beyond that follow span id order.
    """
    import numpy as np

    n = tree.n
    valid = np.flatnonzero((tree.parent >= 0) & (tree.ce > tree.cs))
    par = tree.parent[valid]
    # lexsort: last key is primary. Stable, so span-id order (index order) breaks full ties.
    order_local = np.lexsort((-tree.cs[valid], tree.ce[valid], par))
    order = valid[order_local]
    par_sorted = par[order_local]
    lo = np.searchsorted(par_sorted, np.arange(n), side="left")
    hi = np.searchsorted(par_sorted, np.arange(n), side="right")
    return order, lo, hi


def self_time_ns(tree: SpanTree):
    """Clipped duration minus the union of clipped child intervals, for every span.

    Children are sorted by start per parent; each child adds the part of it beyond the
    running maximum end of the children before it (a grouped cumulative max).
    """
    import numpy as np

    n = tree.n
    dur = np.maximum(tree.ce - tree.cs, 0)
    valid = np.flatnonzero((tree.parent >= 0) & (tree.ce > tree.cs))
    if not len(valid):
        return dur
    par = tree.parent[valid]
    o = np.lexsort((tree.cs[valid], par))
    kids = valid[o]
    par = par[o]
    cs = tree.cs[kids]
    ce = tree.ce[kids]
    # Make values of different parents incomparable: shift each parent's group above the
    # previous ones (values relative to the parent's start, groups stacked by duration).
    new_group = np.ones(len(kids), dtype=bool)
    new_group[1:] = par[1:] != par[:-1]
    group_start = np.flatnonzero(new_group)
    group_parent = par[group_start]
    span = dur[group_parent] + 1
    total = int(span.sum(dtype=np.float64)) if len(span) else 0
    covered = np.zeros(n, dtype=np.int64)
    if total < 2**62:
        offset_g = np.concatenate([[0], np.cumsum(span)[:-1]])
        group_of = np.cumsum(new_group) - 1
        base = tree.cs[par] - offset_g[group_of]
        rel_end = ce - base
        run_max = np.maximum.accumulate(rel_end)
        prev = np.empty_like(run_max)
        prev[0] = np.iinfo(np.int64).min
        prev[1:] = run_max[:-1]
        prev_abs = np.where(new_group, np.iinfo(np.int64).min, prev + base)
        add = np.maximum(0, ce - np.maximum(cs, prev_abs))
        np.add.at(covered, par, add)
    else:  # absurdly long spans: exact Python fallback
        last_par, run_end = -1, 0
        for p, s, e in zip(par.tolist(), cs.tolist(), ce.tolist()):
            if p != last_par:
                last_par, run_end = p, s
            if e > run_end:
                covered[p] += e - max(s, run_end)
                run_end = e
    return dur - covered


def nearest_step(tree: SpanTree):
    """Index of each span's nearest ``step`` ancestor-or-self, -1 when there is none."""
    import numpy as np

    step = CATEGORY_CODES["step"]
    idx = np.arange(tree.n, dtype=np.int64)
    jump = np.where((tree.category != step) & (tree.parent >= 0), tree.parent, idx)
    for _ in range(64):
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    return np.where(tree.category[jump] == step, jump, -1)
