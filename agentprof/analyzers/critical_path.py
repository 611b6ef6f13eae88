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
