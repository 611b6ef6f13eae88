"""Benchmark analysis over a span store: ``analyze()`` against hand-written DuckDB SQL.

    python bench/bench_analyze.py                   # 1M spans (ingests the corpus if needed)
    python bench/bench_analyze.py --spans 100000

Each case runs in a fresh process (peak RSS via ``os.wait4``):

  sql_reference  the analyses PERFORMANCE.md timed, written directly in SQL over ``spans``:
                 per-run duration p50/p95/p99, summaries (tokens and cost per model, tool
                 calls and errors), per-step token sums with cumulative and marginal growth
                 (window functions), self time per span (union of clipped child intervals,
                 gaps and islands), critical path of every run (recursive CTE over
                 "last-finishing child" and "previous sibling" edges, ASOF JOIN)
  analyze        ``agentprof.analyzers.analyze(con, Config())``: steps, buckets, latency
                 components, critical paths, rules, aggregates → Profile
  reports        (only with --cases reports) the Profile rendered as the terminal, Markdown,
                 HTML and JSON reports, each timed; the analysis before them is not
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable

# name → SQL. Each materializes its result (CREATE TEMP TABLE) so all of it is computed.
REFERENCE_SQL: dict[str, str | list[str]] = {
    "run duration p50/p95/p99": """
        SELECT quantile_cont(d, [0.5, 0.95, 0.99]) FROM (
            SELECT trace_id, max(end_ns) - min(start_ns) AS d FROM spans GROUP BY trace_id)""",
    "tokens and cost per model": """
        SELECT request_model, count(*) AS calls, sum(input_tokens) AS input_tokens,
               sum(output_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens,
               sum(cost_usd) AS cost_usd, quantile_cont(end_ns - start_ns, 0.95) AS p95_ns
        FROM spans WHERE category = 'llm' GROUP BY request_model""",
    "tool calls and errors": """
        SELECT tool_name, count(*) AS calls, count(*) FILTER (status = 'error') AS errors,
               avg(end_ns - start_ns) AS mean_ns FROM spans WHERE category = 'tool' GROUP BY tool_name""",
    "step tokens, cumulative and marginal growth": """
        WITH st AS (
            SELECT s.trace_id, s.step_number, sum(l.input_tokens) AS input_tokens, sum(l.output_tokens) AS output_tokens
            FROM spans s JOIN spans l ON l.trace_id = s.trace_id AND l.parent_span_id = s.span_id AND l.category = 'llm'
            WHERE s.category = 'step' GROUP BY ALL),
        w AS (
            SELECT *, sum(input_tokens) OVER r AS cumulative_input_tokens,
                   input_tokens - lag(input_tokens) OVER r AS growth_tokens
            FROM st WINDOW r AS (PARTITION BY trace_id ORDER BY step_number))
        SELECT step_number, avg(input_tokens), avg(growth_tokens), max(cumulative_input_tokens)
        FROM w GROUP BY step_number""",
    "self time per span": """
        WITH e AS (
            SELECT c.trace_id, c.parent_span_id AS parent,
                   greatest(c.start_ns, p.start_ns) AS s, least(c.end_ns, p.end_ns) AS e
            FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE least(c.end_ns, p.end_ns) > greatest(c.start_ns, p.start_ns)),
        g AS (
            SELECT *, max(e) OVER (PARTITION BY trace_id, parent ORDER BY s, e
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM e),
        i AS (
            SELECT *, sum(CASE WHEN prev_end IS NULL OR s > prev_end THEN 1 ELSE 0 END)
                      OVER (PARTITION BY trace_id, parent ORDER BY s, e) AS island FROM g),
        cov AS (
            SELECT trace_id, parent, sum(len) AS covered_ns FROM (
                SELECT trace_id, parent, island, max(e) - min(s) AS len FROM i GROUP BY ALL) GROUP BY ALL)
        SELECT sp.trace_id, sp.span_id, (sp.end_ns - sp.start_ns) - coalesce(cov.covered_ns, 0) AS self_ns
        FROM spans sp LEFT JOIN cov ON cov.trace_id = sp.trace_id AND cov.parent = sp.span_id""",
    # A recursive CTE cannot hold an ASOF JOIN (DuckDB 2.0), so the edges are made first.
    "critical path of every run": [
        """CREATE TEMP TABLE cp_edges AS
        WITH e AS (
            SELECT c.trace_id, c.span_id, c.parent_span_id AS parent,
                   greatest(c.start_ns, p.start_ns) AS s, least(c.end_ns, p.end_ns) AS e
            FROM spans c JOIN spans p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE least(c.end_ns, p.end_ns) > greatest(c.start_ns, p.start_ns)),
        last_child AS (  -- walking back from a parent's end: the child that finished last
            SELECT trace_id, parent AS src, arg_max(span_id, e) AS dst FROM e GROUP BY trace_id, parent),
        prev_sibling AS (  -- then the sibling that finished last at or before this one started
            SELECT x.trace_id, x.span_id AS src, y.span_id AS dst
            FROM e x ASOF JOIN e y ON x.trace_id = y.trace_id AND x.parent = y.parent AND x.s >= y.e)
        SELECT * FROM last_child UNION ALL SELECT * FROM prev_sibling""",
        """WITH RECURSIVE path(trace_id, span_id) AS (
            SELECT trace_id, span_id FROM spans WHERE parent_span_id IS NULL
            UNION ALL
            SELECT g.trace_id, g.dst FROM path JOIN cp_edges g ON g.trace_id = path.trace_id AND g.src = path.span_id)
        SELECT trace_id, count(*) AS spans_on_path FROM path GROUP BY trace_id""",
    ],
}

SUMMARIES = ("run duration p50/p95/p99", "tokens and cost per model", "tool calls and errors",
             "step tokens, cumulative and marginal growth")


def run_sql_reference(db: str) -> dict:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    timings = {}
    for i, (name, sql) in enumerate(REFERENCE_SQL.items()):
        *prep, final = [sql] if isinstance(sql, str) else sql
        t = time.perf_counter()
        for stmt in prep:
            con.execute(stmt)
        con.execute(f"CREATE TEMP TABLE r{i} AS {final}")
        timings[name] = time.perf_counter() - t
    paths = con.execute(f"SELECT count(*), avg(spans_on_path) FROM r{len(REFERENCE_SQL) - 1}").fetchone()
    con.close()
    return {"timings": timings, "runs_with_path": paths[0], "mean_spans_on_path": paths[1]}


def run_analyze(db: str) -> dict:
    from agentprof.analyzers import analyze
    from agentprof.config import Config
    from agentprof.store import open_store

    # One-time library loading is not analysis (the SQL reference is timed after its imports
    # too): pyarrow imports pandas the first time it converts anything (~0.3 s), and the
    # analysis's first Arrow conversion would pay for it inside the timer.
    t = time.perf_counter()
    import pandas  # noqa: F401
    import pyarrow as pa

    pa.array([0])
    imports_s = time.perf_counter() - t
    con = open_store(db)
    t = time.perf_counter()
    profile = analyze(con, Config())
    dt = time.perf_counter() - t
    con.close()
    return {"analyze_seconds": dt, "imports_seconds": imports_s, "runs": len(profile.runs), "findings": len(profile.findings)}


def run_reports(db: str) -> dict:
    """Render the Profile of the store as the CLI does (terminal, Markdown, HTML, JSON); the
    analysis itself runs first, untimed."""
    import io

    from rich.console import Console

    from agentprof.analyzers import analyze
    from agentprof.config import Config
    from agentprof.reports import html_report, json_report, markdown, terminal
    from agentprof.store import open_store

    con = open_store(db)
    profile = analyze(con, Config())
    con.close()
    timings, sizes = {}, {}
    renderers = {
        "terminal": lambda: _terminal_text(profile, terminal, Console, io),
        "markdown": lambda: markdown.render(profile),
        "html": lambda: html_report.render(profile),
        "json": lambda: json_report.render(profile),
    }
    for name, render in renderers.items():
        t = time.perf_counter()
        text = render()
        timings[name] = time.perf_counter() - t
        sizes[name] = len(text.encode("utf-8"))
        del text
    return {"report_seconds": timings, "report_bytes": sizes}


def _terminal_text(profile, terminal, console_cls, io) -> str:
    out = io.StringIO()
    terminal.render(profile, console_cls(file=out, width=120, highlight=False))
    return out.getvalue()


def _run(cmd: list[str]) -> dict:
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-3000:]}")
    return {"seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "load_before": load, "stdout": out.decode()}


def ensure_store(spans: int, data: Path) -> Path:
    """A span store of the corpus, made with `agentprof ingest` once and reused."""
    sys.path.insert(0, str(HERE))
    import gen_corpus

    n = spans // gen_corpus.SPANS_PER_RUN * gen_corpus.SPANS_PER_RUN
    db = data / f"store-{n}.duckdb"
    if db.exists():
        return db
    jsonl = data / f"corpus-{n}.jsonl"
    if not jsonl.exists():
        gen_corpus.generate(n, data, {"jsonl"})
    print(f"ingesting {jsonl} into {db} ...", file=sys.stderr, flush=True)
    subprocess.run([str(Path(PY).with_name("agentprof")), "ingest", str(jsonl), "--db", str(db) + ".tmp"], check=True, stdout=sys.stderr)
    os.replace(str(db) + ".tmp", db)
    return db


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--cases", default="sql_reference,analyze")
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--run-case", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_case:
        fn = {"sql_reference": run_sql_reference, "analyze": run_analyze, "reports": run_reports}[args.run_case]
        print(json.dumps(fn(args.db)))
        return 0

    db = ensure_store(args.spans, args.data)
    results = {}
    for case in args.cases.split(","):
        print(f"running {case} ...", file=sys.stderr, flush=True)
        r = _run([PY, __file__, "--run-case", case, "--db", str(db)])
        r.update(json.loads(r.pop("stdout").strip().splitlines()[-1]))
        results[case] = r
        print(json.dumps(r), file=sys.stderr, flush=True)
    print(report(results, db))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict, db: Path) -> str:
    lines = [f"store: {db}", "", "| case | seconds | process CPU s | peak RSS MB (process) | load avg before |", "|---|---:|---:|---:|---:|"]
    ref = results.get("sql_reference")
    if ref:
        for name, s in ref["timings"].items():
            lines.append(f"| SQL: {name} | {s:.3f} | | | |")
        total = sum(ref["timings"].values())
        summ = sum(ref["timings"][k] for k in SUMMARIES)
        lines.append(f"| SQL: the four summaries together | {summ:.3f} | | | |")
        lines.append(f"| SQL: all of the above | {total:.3f} | {ref['cpu_seconds']:.2f} | {ref['peak_rss_mb']:,.0f} | {ref['load_before']:.1f} |")
    an = results.get("analyze")
    if an:
        lines.append(f"| analyze() | {an['analyze_seconds']:.2f} | {an['cpu_seconds']:.2f} | {an['peak_rss_mb']:,.0f} | {an['load_before']:.1f} |")
        if ref:
            lines.append(f"\nanalyze() ÷ hand-written SQL: {an['analyze_seconds'] / sum(ref['timings'].values()):.2f}×")
        lines.append(f"analyze(): {an['runs']:,} runs, {an['findings']} findings; library imports before the timer "
                     f"(pandas, which pyarrow loads on first use) {an.get('imports_seconds', 0):.2f} s")
    rep = results.get("reports")
    if rep:
        lines += ["", "| report of the whole Profile (analysis untimed) | seconds | bytes |", "|---|---:|---:|"]
        for name, sec in rep["report_seconds"].items():
            lines.append(f"| {name} | {sec:.2f} | {rep['report_bytes'][name]:,} |")
        lines.append(f"(reports process: peak RSS {rep['peak_rss_mb']:,.0f} MB, including the analysis)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
