"""Benchmark the critical path and the whole analysis (prints figures; not a timed test).

    python bench/bench_critical_path.py            # flat 100,000-child run + 50,000 runs x 20 spans
    python bench/bench_critical_path.py --runs 5000
    python bench/bench_critical_path.py --rules    # also every rule: corpus, flat agent run, AP402 loop

Cases:
* flat: one root with 100,000 overlapping children (the shape where a linear child scan per
  visit is quadratic);
* corpus: N runs of 20 spans (agent root, 3 steps of step + LLM + 3 tools + 1 LLM, a final
  LLM), some tools parallel: the critical-path walk alone, then ``analyze()`` end to end.
* with ``--rules``: every rule on a flat agent run (LLM call, two tool calls, repeated under
  one root: the shape where rules that pair up a run's calls go quadratic), and AP402's loop
  query on a 20,000-call loop, with a generous CPU bound that flags a quadratic regression.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pyarrow as pa

from agentprof import schema
from agentprof.config import Config
from agentprof.store import load_arrow, open_store

T0 = 1_700_000_000_000_000_000
NO_RULES = Config(select=("AP0",))
"""Selects no rule code: times the analysis core alone."""


def _table(trace_ids, span_ids, parents, names, cats, starts, ends, extra=None) -> pa.Table:
    n = len(span_ids)
    cols = {c: pa.nulls(n, type=f.type) for c, f in zip(schema.COLUMN_NAMES, schema.arrow_schema())}
    cols.update(
        trace_id=pa.array(trace_ids, pa.string()),
        span_id=pa.array(span_ids, pa.string()),
        parent_span_id=pa.array(parents, pa.string()),
        name=pa.array(names, pa.string()),
        category=pa.array(cats, pa.string()),
        start_ns=pa.array(starts, pa.int64()),
        end_ns=pa.array(ends, pa.int64()),
        status=pa.array(["ok"] * n, pa.string()),
        source_format=pa.array(["bench"] * n, pa.string()),
    )
    cols.update(extra or {})
    return pa.table(cols, schema=schema.arrow_schema())


def flat_table(k: int, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    s = T0 + rng.integers(0, 10**12, k)
    e = s + rng.integers(1, 10**10, k)
    root_end = int(e.max()) + 1
    ids = [f"{i + 1:016x}" for i in range(k)]
    return _table(
        ["0" * 31 + "1"] * (k + 1),
        ["0" * 16, *ids],
        [None, *(["0" * 16] * k)],
        ["root", *(["tool"] * k)],
        ["agent", *(["tool"] * k)],
        np.concatenate([[T0], s]),
        np.concatenate([[root_end], e]),
    )


def corpus_table(runs: int, seed: int = 2) -> pa.Table:
    """runs x 20 spans, vectorized (one row layout repeated, times jittered per run)."""
    rng = np.random.default_rng(seed)
    ms = 1_000_000
    # Layout per run: (parent slot, category, name, start_ms, duration_ms)
    layout = [(-1, "agent", "agent run", 0, 0)]
    t = 5
    for step in range(3):
        sp = len(layout)
        layout.append((0, "step", f"step {step + 1}", t, 0))
        layout.append((sp, "llm", "chat", t + 2, 900))
        layout.append((sp, "tool", "search", t + 910, 400))
        layout.append((sp, "tool", "fetch", t + 915, 700))  # parallel with search
        layout.append((sp, "tool", "vector_store", t + 1620, 300))
        layout.append((sp, "llm", "chat", t + 1930, 500))
        t += 2500
    layout.append((0, "llm", "final", t, 800))
    t += 900
    per = len(layout)
    assert per == 20
    base = T0 + np.arange(runs, dtype=np.int64) * 10_000 * ms
    jitter = rng.integers(0, 50 * ms, (runs, per))
    starts = np.empty((runs, per), dtype=np.int64)
    ends = np.empty((runs, per), dtype=np.int64)
    for j, (_p, _c, _n, st, dur) in enumerate(layout):
        starts[:, j] = base + st * ms + jitter[:, j]
        ends[:, j] = starts[:, j] + dur * ms + rng.integers(0, 100 * ms, runs)
    # containers cover their children
    ends[:, 0] = base + (t + 200) * ms
    for step in range(3):
        sp = 1 + step * 6
        ends[:, sp] = ends[:, sp + 1 : sp + 6].max(axis=1) + 5 * ms
    trace_ids = np.repeat(np.array([f"{i:032x}" for i in range(runs)], dtype=object), per)
    span_ids = [f"{i:016x}" for i in range(runs * per)]
    parent_slot = np.array([p for p, *_ in layout])
    parent_idx = (np.arange(runs)[:, None] * per + parent_slot[None, :]).ravel()
    parents = [span_ids[p] if s >= 0 else None for p, s in zip(parent_idx.tolist(), np.tile(parent_slot, runs).tolist())]
    cats = np.tile(np.array([c for _, c, *_ in layout], dtype=object), runs)
    names = np.tile(np.array([n for _, _, n, *_ in layout], dtype=object), runs)
    is_llm = cats == "llm"
    n = runs * per
    extra = {
        "input_tokens": pa.array(np.where(is_llm, 1000, 0), pa.int64(), mask=~is_llm),
        "output_tokens": pa.array(np.where(is_llm, 100, 0), pa.int64(), mask=~is_llm),
        "cost_usd": pa.array(np.where(is_llm, 0.001, 0.0), pa.float64(), mask=~is_llm),
        "cost_source": pa.array(np.where(is_llm, "reported", None).tolist(), pa.string()),
        "ttft_ns": pa.array(np.full(n, 200 * ms), pa.int64(), mask=~is_llm),
        "tool_name": pa.array(np.where(cats == "tool", names, None).tolist(), pa.string()),
        "agent_name": pa.array(["agent"] * n, pa.string()),
    }
    return _table(trace_ids.tolist(), span_ids, parents, names.tolist(), cats.tolist(), starts.ravel(), ends.ravel(), extra)


def flat_agent_table(k: int, seed: int = 3) -> pa.Table:
    """One root with k back-to-back children: LLM call, tool, tool, ... (arguments, some errors)."""
    rng = np.random.default_rng(seed)
    ms = 1_000_000
    cats = np.array(["llm", "tool", "tool"] * (k // 3 + 1), dtype=object)[:k]
    names = np.where(cats == "llm", "chat", np.array(["search", "fetch", "read"], dtype=object)[rng.integers(0, 3, k)])
    dur = rng.integers(1, 2000, k) * ms
    starts = T0 + ms + np.concatenate([[0], np.cumsum(dur)[:-1]])
    ends = starts + dur
    is_tool, is_llm = cats == "tool", cats == "llm"
    ids = [f"{i + 1:016x}" for i in range(k)]
    extra = {
        "tool_name": pa.array([None, *np.where(is_tool, names, None).tolist()], pa.string()),
        "tool_args_hash": pa.array([None, *np.where(is_tool, np.char.add("h", rng.integers(0, 50, k).astype(str)).astype(object), None).tolist()], pa.string()),
        "status": pa.array(["ok", *np.where(is_tool & (rng.random(k) < 0.05), "error", "ok").tolist()], pa.string()),
        "request_model": pa.array([None, *np.where(is_llm, "gpt-4o", None).tolist()], pa.string()),
        "input_tokens": pa.array([None, *np.where(is_llm, 1000 + np.arange(k), 0).tolist()], pa.int64(), mask=np.concatenate([[True], ~is_llm])),
        "output_tokens": pa.array([None, *np.where(is_llm, 50, 0).tolist()], pa.int64(), mask=np.concatenate([[True], ~is_llm])),
        "agent_name": pa.array(["agent"] * (k + 1), pa.string()),
    }
    return _table(["0" * 31 + "2"] * (k + 1), ["0" * 16, *ids], [None, *(["0" * 16] * k)], ["root", *names.tolist()],
                  ["agent", *cats.tolist()], np.concatenate([[T0], starts]), np.concatenate([[int(ends[-1]) + ms], ends]), extra)


def loop_table(k: int) -> pa.Table:
    """k tool calls under no parent cycling search -> open -> read with the same arguments."""
    names = [("search", "open", "read")[i % 3] for i in range(k)]
    starts = T0 + np.arange(k, dtype=np.int64) * 1_000_000
    extra = {"tool_name": pa.array(names, pa.string()),
             "tool_args_hash": pa.array([f"a{i % 3}" for i in range(k)], pa.string())}
    return _table(["0" * 31 + "3"] * k, [f"{i + 1:016x}" for i in range(k)], [None] * k, names, ["tool"] * k,
                  starts, starts + 900_000, extra)


def _time(label: str, fn, repeat: int = 1):
    """Best wall time and the CPU time of that repetition.

    On a busy machine wall time inflates; CPU time of this process does much less (DuckDB
    runs on up to 2 threads, so its CPU time can exceed wall time on an idle machine).
    """
    best = None
    out = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if best is None or dt < best[0]:
            best = (dt, dc)
    print(f"  {label:<52} {best[0]:8.3f} s wall {best[1]:8.3f} s cpu")
    _time.last_cpu = best[1]
    return out


def main() -> None:
    from agentprof.analyzers import analyze
    from agentprof.analyzers._tree import load_tree
    from agentprof.analyzers.runs import tree_facts

    ap = argparse.ArgumentParser()
    ap.add_argument("--flat", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--rules", action="store_true", help="also time analyze() with the bottleneck rules")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (other processes inflate wall times)")
    print(f"flat run: 1 root + {args.flat:,} overlapping children")
    con = open_store()
    load_arrow(con, flat_table(args.flat))
    tree = _time("load_tree (DuckDB -> arrays)", lambda: load_tree(con), 3)
    _time("critical path + self time + components", lambda: tree_facts(tree), 3)
    _time("analyze() without rules", lambda: analyze(con, NO_RULES, detail_limit=0), 1)

    print(f"corpus: {args.runs:,} runs x 20 spans = {args.runs * 20:,} spans")
    con = open_store()
    tbl = _time("build Arrow table", lambda: corpus_table(args.runs))
    _time("load into DuckDB", lambda: load_arrow(con, tbl))
    tree = _time("load_tree (DuckDB -> arrays)", lambda: load_tree(con), 2)

    from agentprof.analyzers._tree import children_index, self_time_ns
    from agentprof.analyzers.critical_path import critical_paths
    from agentprof.analyzers.latency import components_ns

    kids = _time("children index (sort once)", lambda: children_index(tree), 2)
    path = _time("critical-path walk, all runs", lambda: critical_paths(tree, kids), 2)
    _time("self time, all spans", lambda: self_time_ns(tree), 2)
    _time("latency components, all runs", lambda: components_ns(tree, path), 2)
    _time("analyze() without rules (detail_limit=200)", lambda: analyze(con, NO_RULES), 1)
    if args.rules:
        _time("analyze() with every rule (detail_limit=200)", lambda: analyze(con), 1)

        print(f"flat agent run: 1 root + {args.flat:,} children (LLM call, tool, tool, ...)")
        con = open_store()
        load_arrow(con, flat_agent_table(args.flat))
        _time("analyze() with every rule", lambda: analyze(con, detail_limit=0), 1)

        from agentprof.analyzers.rules.loops import loop_sql

        k = 20_000
        print(f"loop run: {k:,} tool calls search -> open -> read, same arguments")
        con = open_store()
        load_arrow(con, loop_table(k))
        found = _time("AP402 loop query", lambda: con.execute(loop_sql(4), [3]).fetchall(), 3)
        bound_s = 2.0  # linear: ~0.1 s; the quadratic self-join took 1.2 s at 20,000 and 26 s at 100,000
        verdict = "ok" if _time.last_cpu <= bound_s else "TOO SLOW: quadratic regression?"
        print(f"  {len(found)} loop(s); CPU {_time.last_cpu:.3f} s against a bound of {bound_s} s: {verdict}")


if __name__ == "__main__":
    main()
