"""Critical path of every run, and what-if estimates on it.

The critical path is the chain of spans that determines when a run ends. It follows Jaeger's
walk backwards from the root's end: pick the child that finished last at or before the current
boundary, descend into it, then continue from that child's *start*; time no child covers
belongs to the parent. Deliberate differences from Jaeger's implementation:

* children are sorted by end once and each child's successor is found by binary search, so
  a flat run with k children costs O(k log k), not O(k^2);
* a child qualifies when it ends at or before (``<=``) the boundary, so back-to-back siblings
  whose timestamps touch chain into the path instead of their time going to the parent;
* after choosing a child, the next candidate must end at or before that child's start, so a
  sibling that overlaps the chosen one (a shorter parallel call) is skipped, never spliced in
  (the overlap bug reported as jaeger-ui issue 2371);
* nothing recurses, so deep or long traces cannot overflow: ``critical_paths`` computes the
  walk's result for all runs at once (see its docstring), level by level in arrays.

The result is a list of *segments* ``(run, span, from_ns, to_ns)``: disjoint, covering the
root's interval exactly, each owned by the span whose own (untraced-by-children) time holds
the path there. Their lengths sum to the run's wall-clock time in integer nanoseconds.
"""

from __future__ import annotations

from bisect import bisect_left
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
    """The walk of the module docstring for every run of ``tree``, computed set-wise.

    Every span on the path is entered with its own clipped end as the boundary, so the
    children a span passes the path to depend on that span alone: its *chain* is the child
    that ends last, then the child that ends last at or before that child's start, and so
    on (in children order, so ties break as the walk's backward pointer does). So: (1) each
    child's successor in its parent's chain, by one binary search over all children (skipped
    where the child before it already ended in time, the usual sequential case); (2) every
    parent's chain, walked for all parents at once (a loop per chain link, Python for the
    last few long chains); (3) a span is on the path when its run's root is non-empty and it
    and all its ancestors are chain members (pointer doubling); (4) the segments: each
    on-path span owns the gaps its chain leaves. Equal to the walk segment for segment.
    """
    import numpy as np

    order, lo, hi = children if children is not None else children_index(tree)
    n = tree.n
    cs, ce = tree.cs, tree.ce
    k = len(order)
    par = tree.parent[order] if k else np.zeros(0, dtype=np.int64)
    pos = np.arange(k, dtype=np.int64)

    # (1) successor of each child position in its parent's chain (-1: none).
    succ = pos - 1
    if k:
        before_ok = np.zeros(k, dtype=bool)
        before_ok[1:] = (par[1:] == par[:-1]) & (ce[order[:-1]] <= cs[order[1:]])
        need = np.flatnonzero(~before_ok & (pos > lo[par]))
        if len(need):
            succ[need] = _last_child_ending_by(tree, order, par, lo, need)
        succ[succ < lo[par]] = -1

    # (2) chain membership: from every parent's last child, follow successors.
    in_chain = np.zeros(n, dtype=bool)
    link_parent: list[Any] = []
    link_pos: list[Any] = []
    cur = hi - 1
    active = np.flatnonzero(hi > lo)
    cur = cur[active]
    while len(active) > 256:  # each numpy pass must carry enough links to beat a Python loop
        link_parent.append(active)
        link_pos.append(cur)
        nxt = succ[cur]
        keep = nxt >= 0
        active, cur = active[keep], nxt[keep]
    if len(active):  # the last few (long) chains: a plain loop is cheaper than numpy calls
        succ_l = succ.tolist()
        tail_parent: list[int] = []
        tail_pos: list[int] = []
        for p, j in zip(active.tolist(), cur.tolist()):
            while j >= 0:
                tail_parent.append(p)
                tail_pos.append(j)
                j = succ_l[j]
        link_parent.append(np.array(tail_parent, dtype=np.int64))
        link_pos.append(np.array(tail_pos, dtype=np.int64))
    ch_parent = np.concatenate(link_parent) if link_parent else np.zeros(0, dtype=np.int64)
    ch_pos = np.concatenate(link_pos) if link_parent else np.zeros(0, dtype=np.int64)
    in_chain[order[ch_pos]] = True

    # (3) on the path: root non-empty, and every span up to the root in its parent's chain.
    root_of_run = tree.root
    is_root = np.zeros(n, dtype=bool)
    is_root[root_of_run] = True
    ok = np.where(is_root, ce > cs, in_chain)
    jump = np.where(tree.parent >= 0, tree.parent, np.arange(n, dtype=np.int64))
    for _ in range(64):  # a chain that has not converged after 2**64 levels is a parent cycle
        ok = ok & ok[jump]
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    on = ok & is_root[jump]  # a span in a parent cycle never reaches a root

    # (4) segments: the gaps each on-path span's chain leaves, from its end back to its start.
    keep = on[ch_parent]
    ch_parent, ch_pos = ch_parent[keep], ch_pos[keep]
    # Group the links by parent; each chain's links were found in chain order (last child first).
    o = np.argsort(ch_parent, kind="stable")
    ch_parent, child = ch_parent[o], order[ch_pos[o]]
    first = np.ones(len(child), dtype=bool)
    first[1:] = ch_parent[1:] != ch_parent[:-1]
    last = np.ones(len(child), dtype=bool)
    last[:-1] = ch_parent[:-1] != ch_parent[1:]
    # upper bound of the gap before (later than) each chain child: the parent's end for the
    # first, else the start of the chain child after it
    upper = np.where(first, ce[ch_parent], np.r_[0, cs[child[:-1]]] if len(child) else cs[child])
    on_nodes = np.flatnonzero(on)
    childless = on_nodes[~np.isin(on_nodes, ch_parent)]
    seg_o = np.concatenate([ch_parent, ch_parent[last], childless])
    seg_a = np.concatenate([ce[child], cs[ch_parent[last]], cs[childless]])
    seg_b = np.concatenate([upper, cs[child[last]], ce[childless]])
    nonempty = seg_b > seg_a
    seg_o, seg_a, seg_b = seg_o[nonempty], seg_a[nonempty], seg_b[nonempty]
    seg_t = tree.trace[seg_o]
    o = by_run_then_time(tree, seg_t, seg_a)
    seg_t, seg_o, seg_a, seg_b = seg_t[o], seg_o[o], seg_a[o], seg_b[o]
    on_path = np.zeros(n, dtype=np.int64)
    np.add.at(on_path, seg_o, seg_b - seg_a)
    return PathResult(seg_t, seg_o, seg_a, seg_b, on_path)


def by_run_then_time(tree: SpanTree, run: Any, time_ns: Any) -> Any:
    """The order of items by (run, time), for times inside their run's root interval that
    differ within a run: one sort of the times placed in a band per run (bands stacked by
    wall time); a lexsort when the bands could overflow int64."""
    import numpy as np

    root = tree.root
    wall = np.maximum(tree.ce[root] - tree.cs[root], 0) + 1
    if float(wall.sum(dtype=np.float64)) >= 2.0**62:
        return np.lexsort((time_ns, run))
    band = np.cumsum(wall) - wall
    return np.argsort(band[run] + (time_ns - tree.cs[root][run]))


def _last_child_ending_by(tree: SpanTree, order: Any, par: Any, lo: Any, need: Any) -> Any:
    """For child positions ``need``: the last position before each, among its parent's
    children, whose child ends at or before that child's start (``lo[parent] - 1``: none).

    One binary search over all children: each parent's children, in end order, sit in a
    band of their own (end relative to the parent's start, bands stacked by duration);
    float sums guard the stacking against int64 overflow (then ranks are used instead).
    """
    import numpy as np

    cs, ce = tree.cs, tree.ce
    dur = np.maximum(ce - cs, 0) + 1
    if float(dur.sum(dtype=np.float64)) < 2.0**62:
        band = np.cumsum(dur) - dur  # band start per parent, in parent index order
        keys = band[par] + (ce[order] - cs[par])
        query = band[par[need]] + (cs[order[need]] - cs[par[need]])
    else:  # huge durations: compare ranks of the values instead
        values = np.concatenate([ce[order], cs[order[need]]])
        _, rank = np.unique(values, return_inverse=True)
        width = int(rank.max()) + 1 if len(rank) else 1
        keys = par * width + rank[: len(order)]
        query = par[need] * width + rank[len(order):]
    found = np.searchsorted(keys, query, side="right") - 1
    return np.minimum(found, need - 1)


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
    return ParallelSavings(run_spans).saving_ns(span_ids)


class ParallelSavings:
    """``parallel_saving_ns`` for many span sets of one run, each without a pass over the run.

    A flat run with thousands of tool batches asks for thousands of what-ifs; recomputing the
    critical path and rescanning every span per question is quadratic. Built once per run:
    the tree, its critical path, every span's non-empty children sorted by start and a
    range-maximum table over their ends. A question then touches only the chosen spans, their
    subtrees and their ancestors' children (found by binary search and O(1) range maxima).
    The numbers are exactly those of the model described in ``parallel_saving_ns`` (checked
    against a direct implementation of it, which is also used for runs with parent cycles).
    """

    def __init__(self, run_spans: Iterable[Any]) -> None:
        import numpy as np

        spans = list(run_spans)  # may be a generator: it is read twice below
        tree = tree_from_rows(spans)
        self.tree = tree
        self.ids = _span_ids_in_tree_order(spans)
        self.by_id: dict[str, list[int]] = {}
        for i, sid in enumerate(self.ids):
            self.by_id.setdefault(sid, []).append(i)
        if tree.n_real == 0:
            return
        self.cs = tree.cs.tolist()
        self.ce = tree.ce.tolist()
        self.parent = tree.parent.tolist()
        self.depth = tree.depth.tolist()
        self.root = int(tree.root[0])
        # Parent cycles make ancestor walks ill-defined: such runs take the direct model.
        jump = np.where(tree.parent >= 0, tree.parent, np.arange(tree.n))
        for _ in range(64):
            nxt = jump[jump]
            if np.array_equal(nxt, jump):
                break
            jump = nxt
        self.cyclic = bool((jump != self.root).any())
        if self.cyclic:
            return
        self.on_path = critical_paths(tree).on_path_ns.tolist()
        valid = np.flatnonzero((tree.parent >= 0) & (tree.ce > tree.cs))
        o = np.lexsort((tree.cs[valid], tree.parent[valid]))
        kids = valid[o]
        par = tree.parent[kids]
        self.kid = kids.tolist()
        self.kid_cs = tree.cs[kids].tolist()
        self.kid_lo = np.searchsorted(par, np.arange(tree.n), side="left").tolist()
        self.kid_hi = np.searchsorted(par, np.arange(tree.n), side="right").tolist()
        self.pos = {k: p for p, k in enumerate(self.kid)}
        # Sparse table: level j holds the max end over kid positions [p, p + 2**j).
        level = tree.ce[kids]
        self.levels = [level]
        width = 1
        while 2 * width <= len(kids):
            level = np.maximum(level[:-width], level[width:])
            self.levels.append(level)
            width *= 2

    def _max_end(self, lo: int, hi: int) -> int | None:
        """Largest end among kid positions ``[lo, hi)``; None when empty."""
        if hi <= lo:
            return None
        j = (hi - lo).bit_length() - 1
        t = self.levels[j]
        return int(max(t[lo], t[hi - (1 << j)]))

    def saving_ns(self, span_ids: Iterable[str]) -> int:
        """How much earlier the run ends if ``span_ids`` ran concurrently (see ``parallel_saving_ns``)."""
        tree = self.tree
        if tree.n_real == 0:
            return 0
        chosen = sorted({i for sid in {str(s) for s in span_ids} for i in self.by_id.get(sid, ())
                         if tree.ce[i] > tree.cs[i]})
        if len(chosen) < 2:
            return 0
        if self.cyclic:
            return _parallel_saving(tree, chosen)
        cs, ce, parent = self.cs, self.ce, self.parent
        moved = _concurrent_gain(chosen, parent, cs, ce)
        if moved is None:
            return 0
        top, earliest, old_finish, gained = moved
        top_set = set(top)
        ancestors: set[int] = set()
        for m in top:
            p = parent[m]
            while p >= 0 and p not in ancestors:
                ancestors.add(p)
                p = parent[p]
        # Children of ancestors whose new end is not given by the plain rule: the chosen
        # spans themselves and the ancestors below (every other span of a chosen span's
        # subtree hangs under a chosen span, not directly under an ancestor).
        special: dict[int, list[int]] = {}
        for k in (*top, *ancestors):
            if parent[k] >= 0 and ce[k] > cs[k]:
                special.setdefault(parent[k], []).append(k)
        new_end: dict[int, int] = {}
        for a in sorted(ancestors, key=lambda a: -self.depth[a]):
            lo, hi = self.kid_lo[a], self.kid_hi[a]
            if lo == hi:
                continue
            best = None
            sp = special.get(a, [])
            for k in sp:
                e = new_end.get(k, ce[k]) if k in ancestors else ce[k] + earliest - cs[k]
                best = e if best is None else max(best, e)
            # Other children keep their end, or move earlier by `gained` when they started
            # after the chosen spans finished: range maxima over the gaps between special ones.
            split = bisect_left(self.kid_cs, old_finish, lo, hi)
            g0 = lo
            for p in sorted(self.pos[k] for k in sp) + [hi]:
                for a0, b0, shift in ((g0, min(p, split), 0), (max(g0, split), p, gained)):
                    m = self._max_end(a0, b0)
                    if m is not None and (best is None or m - shift > best):
                        best = m - shift
                g0 = p + 1
            tail = max(0, ce[a] - (self._max_end(lo, hi) or 0))
            new_end[a] = max(cs[a], best + tail)
        r = self.root
        if r in ancestors:
            root_end = new_end.get(r, ce[r])
        elif r in top_set:
            root_end = ce[r] + earliest - cs[r]
        else:
            root_end = ce[r] - gained if cs[r] >= old_finish else ce[r]
        saving = ce[r] - root_end
        # Time the moved spans (chosen spans and their subtrees) held the critical path.
        on_path_moved = 0
        stack = list(top)
        while stack:
            i = stack.pop()
            on_path_moved += self.on_path[i]
            stack.extend(self.kid[self.kid_lo[i] : self.kid_hi[i]])
        return max(0, min(saving, gained, on_path_moved))


def _span_ids_in_tree_order(run_spans: Iterable[Any]) -> list[str]:
    def get(r: Any, key: str) -> Any:
        return r.get(key) if isinstance(r, dict) else getattr(r, key, None)

    items = sorted(run_spans, key=lambda r: (str(get(r, "span_id")), get(r, "start_ns")))
    return [str(get(r, "span_id")) for r in items]


def _concurrent_gain(chosen: list[int], parent: Any, cs: Any, ce: Any) -> tuple[list[int], int, int, int] | None:
    """The what-if's first step, shared by both paths.

    Returns (top members, earliest start, old finish of the group, time gained).

    Chosen spans nested in other chosen spans move with their ancestor, so only the top ones
    count. None when fewer than two remain or starting them together gains nothing. The walk
    up the parents is bounded, so a parent cycle cannot loop forever.
    """
    chosen_set = set(chosen)
    limit = len(parent)

    def has_chosen_ancestor(i: int) -> bool:
        p, seen = parent[i], 0
        while p >= 0 and seen <= limit:
            if p in chosen_set:
                return True
            p, seen = parent[p], seen + 1
        return False

    top = [i for i in chosen if not has_chosen_ancestor(i)]
    if len(top) < 2:
        return None
    earliest = min(cs[i] for i in top)
    old_finish = max(ce[i] for i in top)
    gained = old_finish - max(earliest + ce[i] - cs[i] for i in top)
    return (top, earliest, old_finish, gained) if gained > 0 else None


def _parallel_saving(tree: SpanTree, chosen: list[int]) -> int:
    """The what-if model applied directly, O(spans of the run) per call (runs with parent cycles)."""
    cs = tree.cs.tolist()
    ce = tree.ce.tolist()
    parent = tree.parent.tolist()
    n = tree.n
    moved = _concurrent_gain(chosen, parent, cs, ce)
    if moved is None:
        return 0
    top, earliest, old_finish, gained = moved

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
