"""Critical path of every run, and what-if estimates on it.

The critical path is the chain of spans that determines when a run ends. It follows Jaeger's
walk backwards from the root's end: pick the child that finished last at or before the current
boundary, descend into it, then continue from that child's *start*; time no child covers
belongs to the parent. Three deliberate differences from Jaeger's implementation:

* children are sorted by end once and a pointer moves backwards, so a flat run with k
  children costs O(k log k), not O(k^2);
* a child qualifies when it ends at or before (``<=``) the boundary, so back-to-back siblings
  whose timestamps touch chain into the path instead of their time going to the parent;
* after choosing a child, the next candidate must end at or before that child's start, so a
  sibling that overlaps the chosen one (a shorter parallel call) is skipped, never spliced in
  (the overlap bug reported as jaeger-ui issue 2371);
* the walk is iterative (an explicit stack), so deep or long traces cannot overflow.

The result is a list of *segments* ``(run, span, from_ns, to_ns)``: disjoint, covering the
root's interval exactly, each owned by the span whose own (untraced-by-children) time holds
the path there. Their lengths sum to the run's wall-clock time in integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentprof.analyzers._tree import SpanTree, children_index, tree_from_rows


@dataclass
class PathResult:
    """Critical-path segments of all runs, sorted by (run, time)."""

    seg_trace: Any  # int64 run index
    seg_owner: Any  # int64 span index (into the SpanTree)
    seg_from_ns: Any  # int64
    seg_to_ns: Any  # int64
    on_path_ns: Any  # int64 per span: total time the span itself holds the path


def critical_paths(tree: SpanTree, children: tuple[Any, Any, Any] | None = None) -> PathResult:
    """Walk every run of ``tree`` once; see the module docstring for the rules."""
    import numpy as np

    order, lo, hi = children if children is not None else children_index(tree)
    order_l = order.tolist()
    lo_l = lo.tolist()
    hi_l = hi.tolist()
    cs_l = tree.cs.tolist()
    ce_l = tree.ce.tolist()
    out_t: list[int] = []
    out_o: list[int] = []
    out_a: list[int] = []
    out_b: list[int] = []
    at, ao, aa, ab = out_t.append, out_o.append, out_a.append, out_b.append

    for t, r in enumerate(tree.root.tolist()):
        if ce_l[r] <= cs_l[r]:
            continue
        node, cur, p = r, ce_l[r], hi_l[r] - 1
        stack: list[tuple[int, int, int]] = []
        push, pop = stack.append, stack.pop
        while True:
            first = lo_l[node]
            while p >= first and ce_l[order_l[p]] > cur:
                p -= 1
            if p >= first:
                c = order_l[p]
                e = ce_l[c]
                if e < cur:  # the parent's own time after this child, up to the boundary
                    at(t), ao(node), aa(e), ab(cur)
                push((node, p - 1, cs_l[c]))
                node, cur, p = c, e, hi_l[c] - 1
                continue
            s = cs_l[node]
            if cur > s:
                at(t), ao(node), aa(s), ab(cur)
            if not stack:
                break
            node, p, cur = pop()

    seg_t = np.array(out_t, dtype=np.int64)
    seg_o = np.array(out_o, dtype=np.int64)
    seg_a = np.array(out_a, dtype=np.int64)
    seg_b = np.array(out_b, dtype=np.int64)
    o = np.lexsort((seg_a, seg_t))
    seg_t, seg_o, seg_a, seg_b = seg_t[o], seg_o[o], seg_a[o], seg_b[o]
    on_path = np.zeros(tree.n, dtype=np.int64)
    np.add.at(on_path, seg_o, seg_b - seg_a)
    return PathResult(seg_t, seg_o, seg_a, seg_b, on_path)


def parallel_saving_ns(run_spans: Iterable[Any], span_ids: Iterable[str]) -> int:
    """How much earlier the run would end if the given spans ran concurrently, in ns.

    ``run_spans``: every span of one run, as objects or mappings with ``span_id``,
    ``parent_span_id``, ``start_ns``, ``end_ns`` (``SpanView`` works, as do rows of the
    ``spans`` table as dicts). ``span_ids``: the spans to run together, typically sequential
    siblings in one step (e.g. independent tool calls).

    Model: each chosen span (with its subtree) moves to start at the earliest start among
    them; every other span that started at or after the moment the last chosen span
    finished is assumed to have waited for them and moves earlier by the time gained; spans
    that were already running then (concurrent work) keep their times; every ancestor of a
    chosen span ends when its last child ends plus the untraced tail it had. The saving is
    the change of the root's end, capped by the time the chosen spans held the critical path
    (spans off the path save nothing) and never negative. Unknown ids are ignored; fewer than
    two known spans save 0.
    """
    spans = list(run_spans)  # may be a generator: it is read twice below
    tree = tree_from_rows(spans)
    if tree.n_real == 0:
        return 0
    wanted = {str(s) for s in span_ids}
    id_of = _span_ids_in_tree_order(spans)
    chosen = [i for i, sid in enumerate(id_of) if sid in wanted and tree.ce[i] > tree.cs[i]]
    if len(chosen) < 2:
        return 0
    return _parallel_saving(tree, chosen)


def _span_ids_in_tree_order(run_spans: Iterable[Any]) -> list[str]:
    def get(r: Any, key: str) -> Any:
        return r.get(key) if isinstance(r, dict) else getattr(r, key, None)

    items = sorted(run_spans, key=lambda r: (str(get(r, "span_id")), get(r, "start_ns")))
    return [str(get(r, "span_id")) for r in items]


def _parallel_saving(tree: SpanTree, chosen: list[int]) -> int:
    cs = tree.cs.tolist()
    ce = tree.ce.tolist()
    parent = tree.parent.tolist()
    n = tree.n
    chosen_set = set(chosen)
    # Drop chosen spans nested in other chosen spans: they move with their ancestor.
    def has_chosen_ancestor(i: int) -> bool:
        p = parent[i]
        seen = 0
        while p >= 0 and seen <= n:
            if p in chosen_set:
                return True
            p, seen = parent[p], seen + 1
        return False

    top = [i for i in chosen if not has_chosen_ancestor(i)]
    if len(top) < 2:
        return 0
    earliest = min(cs[i] for i in top)
    old_finish = max(ce[i] for i in top)
    new_finish = max(earliest + ce[i] - cs[i] for i in top)
    gained = old_finish - new_finish
    if gained <= 0:
        return 0

    # Which member (if any) each span moves with, and the ancestors of the members.
    top_set = set(top)
    mover: dict[int, int] = {}
    ancestors: set[int] = set()
    for i in range(n):
        p, steps = i, 0
        while p >= 0 and steps <= n:
            if p in top_set:
                mover[i] = p
                break
            p, steps = parent[p], steps + 1
    for m in top:
        p = parent[m]
        while p >= 0 and p not in ancestors:
            ancestors.add(p)
            p = parent[p]

    new_end = list(ce)
    for i in range(n):
        if i in mover:
            new_end[i] = ce[i] + earliest - cs[mover[i]]
        elif i not in ancestors and cs[i] >= old_finish:
            new_end[i] = ce[i] - gained
    # Ancestors bottom-up: deepest first.
    kids: dict[int, list[int]] = {}
    for i in range(n):
        if parent[i] in ancestors and ce[i] > cs[i]:
            kids.setdefault(parent[i], []).append(i)
    for a in sorted(ancestors, key=lambda a: -int(tree.depth[a])):
        ks = kids.get(a, [])
        if not ks:
            continue
        tail = max(0, ce[a] - max(ce[k] for k in ks))
        new_end[a] = max(cs[a], max(new_end[k] for k in ks) + tail)

    root = int(tree.root[0])
    saving = ce[root] - new_end[root]
    path = critical_paths(tree)
    on_path_moved = sum(int(path.on_path_ns[i]) for i in mover)
    return max(0, min(saving, gained, on_path_moved))
