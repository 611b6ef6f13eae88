"""``ParallelSavings`` (one build per run, then per-question work) against the what-if model applied directly."""

from __future__ import annotations

import random
from typing import Any

from agentprof.analyzers._tree import tree_from_rows
from agentprof.analyzers.critical_path import ParallelSavings, _parallel_saving, _span_ids_in_tree_order


def random_run(rnd: random.Random) -> list[dict[str, Any]]:
    """A run of 2-40 spans: random parents (some orphans, duplicate ids, roots), random times."""
    n = rnd.randint(2, 40)
    spans: list[dict[str, Any]] = []
    for i in range(n):
        sid = f"{i:016x}" if rnd.random() > 0.05 or not spans else spans[rnd.randrange(len(spans))]["span_id"]
        if not spans or rnd.random() < 0.08:
            parent = None if rnd.random() < 0.7 else "ffffffffffffffff"  # root or orphan
        else:
            parent = spans[rnd.randrange(len(spans))]["span_id"]
        start = rnd.randint(0, 100)
        spans.append({"span_id": sid, "parent_span_id": parent, "start_ns": start,
                      "end_ns": start + rnd.choice([0, rnd.randint(1, 30), rnd.randint(1, 100)])})
    return spans


def direct(spans: list[dict[str, Any]], ids: set[str]) -> int:
    tree = tree_from_rows(spans)
    order = _span_ids_in_tree_order(spans)
    chosen = [i for i, sid in enumerate(order) if sid in ids and tree.ce[i] > tree.cs[i]]
    return _parallel_saving(tree, chosen) if len(chosen) >= 2 else 0


def test_matches_the_direct_model_on_random_runs() -> None:
    rnd = random.Random(20261121)
    nonzero = 0
    for _ in range(1500):
        spans = random_run(rnd)
        fast = ParallelSavings(spans)
        by_parent: dict[Any, list[str]] = {}
        for s in spans:
            by_parent.setdefault(s["parent_span_id"], []).append(s["span_id"])
        questions = [rnd.sample([s["span_id"] for s in spans], rnd.randint(2, min(5, len(spans)))) for _ in range(3)]
        questions += [rnd.sample(sibs, rnd.randint(2, len(sibs))) for sibs in by_parent.values() if len(sibs) >= 2]
        for ids in questions:
            expected = direct(spans, set(ids))
            assert fast.saving_ns(ids) == expected, (spans, ids)
            nonzero += expected > 0
    assert nonzero > 300  # the comparison exercised real savings, not only zeros


def test_a_flat_run_answers_many_batches_from_one_build() -> None:
    # 3,000 back-to-back tool calls under one root, asked about in pairs: each pair of 1 s
    # calls run together ends the run 1 s sooner (later calls wait for them).
    k = 3000
    spans = [{"span_id": "root", "parent_span_id": None, "start_ns": 0, "end_ns": k}]
    spans += [{"span_id": f"t{i}", "parent_span_id": "root", "start_ns": i, "end_ns": i + 1} for i in range(k)]
    fast = ParallelSavings(spans)
    assert [fast.saving_ns([f"t{i}", f"t{i + 1}"]) for i in range(0, k, 2)] == [1] * (k // 2)
    # t0 and t2 together: t2 starts at 0, the later calls move 2 s earlier; t1 ran meanwhile.
    assert fast.saving_ns(["t0", "t2"]) == direct(spans, {"t0", "t2"}) == 2
    assert fast.saving_ns(["t5"]) == 0
