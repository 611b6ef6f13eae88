"""Property tests on generated span trees (random shapes, overlapping and touching times).

* the critical path equals a plain re-implementation of its definition (quadratic, recursive);
* its segments tile the run exactly, and it is a chain: every on-path span's parent is on it;
* latency components sum exactly to the run's wall-clock time;
* results do not depend on row order; analyze never raises, even on malformed trees.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spanbuilder import TraceBuilder

from agentprof.analyzers._tree import tree_from_rows
from agentprof.analyzers.runs import tree_facts
from agentprof.schema import CATEGORIES

from .helpers import analyze_builder


@st.composite
def span_trees(draw: Any, *, malformed: bool = False) -> list[dict[str, Any]]:
    """Rows of one run: times on a coarse grid so that ties, touching and overlap are common."""
    n = draw(st.integers(1, 14))
    rows = []
    for i in range(n):
        if i == 0:
            parent = None
        elif malformed:
            parent = draw(st.one_of(st.none(), st.integers(0, n - 1), st.just(-1)))
        else:
            parent = draw(st.one_of(st.integers(0, i - 1), st.integers(0, i - 1), st.none(), st.just(-1)))
        start = draw(st.integers(0, 30))
        dur = draw(st.integers(-3 if malformed else 0, 15))
        rows.append(
            {
                "span_id": f"{i:016x}",
                "parent_span_id": None if parent is None else ("dead" * 4 if parent == -1 else f"{parent:016x}"),
                "start_ns": start * 1000,
                "end_ns": (start + dur) * 1000,
                "category": draw(st.sampled_from(CATEGORIES)),
                "agent_name": draw(st.sampled_from([None, "a", "b"])),
                "ttft_ns": draw(st.one_of(st.none(), st.integers(0, 20_000))),
                "serialization_ns": draw(st.one_of(st.none(), st.integers(0, 5_000))),
            }
        )
    return rows


def reference_on_path(rows: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """The definition, written plainly: returns (on-path ns per span id, wall ns)."""
    ids = {r["span_id"] for r in rows}
    is_root = {r["span_id"]: r["parent_span_id"] not in ids or r["parent_span_id"] == r["span_id"] for r in rows}
    kids: dict[str, list[str]] = defaultdict(list)
    by_id = {r["span_id"]: r for r in rows}
    roots = [r["span_id"] for r in rows if is_root[r["span_id"]]]
    for r in rows:
        if not is_root[r["span_id"]]:
            kids[r["parent_span_id"]].append(r["span_id"])
    clip: dict[str, tuple[int, int]] = {}

    def clip_rec(sid: str, lo: int, hi: int) -> None:
        r = by_id[sid]
        cs, ce = max(r["start_ns"], lo), min(max(r["end_ns"], r["start_ns"]), hi)
        clip[sid] = (cs, ce)
        for k in kids[sid]:
            clip_rec(k, cs, ce)

    big = 10**18
    for rt in roots:
        clip_rec(rt, -big, big)
    if len(roots) == 1:
        top = roots[0]
    else:
        top = "VIRTUAL"
        kids[top] = roots
        clip[top] = (min(clip[r][0] for r in roots), max(clip[r][1] for r in roots)) if roots else (0, 0)
    on: dict[str, int] = defaultdict(int)

    def walk(node: str, boundary: int) -> None:
        cur = boundary
        while True:
            cands = [c for c in kids[node] if clip[c][1] > clip[c][0] and clip[c][1] <= cur]
            if not cands:
                break
            c = max(cands, key=lambda c: (clip[c][1], -clip[c][0], c))
            on[node] += cur - clip[c][1]
            walk(c, clip[c][1])
            cur = clip[c][0]
        on[node] += cur - clip[node][0]

    cs, ce = clip[top]
    if ce > cs:
        walk(top, ce)
    return {k: v for k, v in on.items() if v and k != "VIRTUAL"}, max(0, ce - cs)


def _facts(rows: list[dict[str, Any]]):
    tree = tree_from_rows(rows)
    return tree, tree_facts(tree)


@settings(max_examples=300, deadline=None)
@given(span_trees())
def test_critical_path_matches_the_definition(rows: list[dict[str, Any]]) -> None:
    tree, facts = _facts(rows)
    ref, wall = reference_on_path(rows)
    ids = sorted(r["span_id"] for r in rows)  # tree order
    got = {ids[i]: int(v) for i, v in enumerate(facts.path.on_path_ns[: tree.n_real]) if v}
    assert got == ref
    root = int(tree.root[0])
    assert int(tree.ce[root] - tree.cs[root]) == wall


@settings(max_examples=300, deadline=None)
@given(span_trees(malformed=True))
def test_path_tiles_the_run_is_a_chain_and_components_sum_to_wall(rows: list[dict[str, Any]]) -> None:
    tree, facts = _facts(rows)
    path = facts.path
    root = int(tree.root[0])
    wall = max(0, int(tree.ce[root] - tree.cs[root]))
    a, b = path.seg_from_ns.tolist(), path.seg_to_ns.tolist()
    if wall:
        assert a[0] == int(tree.cs[root]) and b[-1] == int(tree.ce[root])  # ends at the run's end
        assert all(b[k] == a[k + 1] for k in range(len(a) - 1))  # contiguous, no overlap
        assert all(x < y for x, y in zip(a, b))
    else:
        assert not a
    # A chain down the tree: each segment lies inside its owner and every ancestor of it, and
    # the walk reached the owner through them (no span outside the root's subtree).
    for o, x, y in zip(path.seg_owner.tolist(), a, b):
        i = o
        while i >= 0:
            assert int(tree.cs[i]) <= x and y <= int(tree.ce[i])
            last, i = i, int(tree.parent[i])
        assert last == root
    assert int(facts.components[0].sum()) == wall
    assert int(path.on_path_ns.sum()) == wall
    assert (facts.self_ns >= 0).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span_trees(malformed=True), st.randoms(use_true_random=False))
def test_analyze_never_raises_and_ignores_row_order(rows: list[dict[str, Any]], rnd: random.Random) -> None:
    def build(order: list[dict[str, Any]]) -> Any:
        b = TraceBuilder()
        for r in order:
            extra = {k: r[k] for k in ("agent_name", "ttft_ns", "serialization_ns")}
            llm = {"input_tokens": 100, "cost_usd": 0.5, "history_chars": 3} if r["category"] == "llm" else {}
            b.span(r["span_id"], category=r["category"], span_id=r["span_id"], parent=r["parent_span_id"],
                   start_ns=10**18 + r["start_ns"], end_ns=10**18 + r["end_ns"], **extra, **llm)
        return analyze_builder(b)[0]

    first = build(rows)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    second = build(shuffled)
    (run,) = first.runs
    assert sum(c.duration_ns for c in run.components) == run.wall_ns
    assert first.runs == second.runs
    assert first.aggregates == second.aggregates
    for s in run.steps:
        assert abs(sum(s.buckets.as_mapping().values()) - s.input_tokens) < 1e-6


def test_critical_path_matches_the_definition_when_durations_overflow_int64_bands() -> None:
    """Runs whose summed durations pass 2**62 ns take the rank-based search and lexsort
    (the banded keys would overflow): same answer as the definition."""
    rnd = random.Random(20261121)
    for _ in range(400):
        n = rnd.randrange(2, 40)
        rows = []
        for i in range(n):
            parent = None if i == 0 else rnd.choice([rnd.randrange(i), rnd.randrange(i), None])
            start = rnd.randrange(0, 6)
            rows.append({"span_id": f"{i:016x}", "parent_span_id": None if parent is None else f"{parent:016x}",
                         "start_ns": start * 2 * 10**16, "end_ns": (start + rnd.randrange(0, 40)) * 2 * 10**16,
                         "category": rnd.choice(CATEGORIES)})
        tree, facts = _facts(rows)
        ref, _ = reference_on_path(rows)
        ids = sorted(r["span_id"] for r in rows)
        assert {ids[i]: int(v) for i, v in enumerate(facts.path.on_path_ns[: tree.n_real]) if v} == ref
