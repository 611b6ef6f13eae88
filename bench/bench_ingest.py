"""Benchmark reading traces into DuckDB: every path in one run, each case in a fresh process.

    python bench/bench_ingest.py                      # 1M spans (generates the corpus if missing)
    python bench/bench_ingest.py --spans 100000       # quick run
    python bench/bench_ingest.py --cases reference,fastpath_read

Each case runs in its own subprocess; the parent times it (wall clock, interpreter start
included) and reads that child's peak RSS from ``os.wait4``. Ratios are only meaningful
between cases of the same run (single-threaded Python moves ±35% between sessions).

Cases:
  reference       pyarrow.json.read_json of the whole JSONL + one DuckDB SQL UNNEST that pulls
                  the GenAI attributes into typed columns (the bound PERFORMANCE.md measured)
  fastpath_read   agentprof.ingest.fastpath: raw-span batches only (no store)
  fastpath_ingest fastpath batches → normalize → repair → finalize → prices, into a file store
                  (what `agentprof ingest` does once the fast path is wired in)
  cli_jsonl       `agentprof ingest corpus.jsonl --db F` (ingest_files tries the fast reader first)
  lenient_jsonl   ingest_files(con, [corpus.jsonl], fast=False): the same file through the
                  lenient Python reader, to show what the fast reader saves
  cli_json        `agentprof ingest corpus.json --db F` (one JSON document)
  lenient_json    ingest_files(con, [corpus.json], fast=False): the same document walked span
                  by span in Python, to show what cutting it into lines (``document_lines``) saves
  cli_proto       `agentprof ingest corpus.pb --db F` (one ExportTraceServiceRequest)
  lenient_proto   ingest_files(con, [corpus.pb], fast=False): the same file through the lenient
                  reader (upb messages walked in Python), to show what ``protowire`` saves
  help            `agentprof --help`, median of 5 runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
AGENTPROF = str(Path(PY).with_name("agentprof"))

ALL_CASES = ("reference", "fastpath_read", "fastpath_ingest", "cli_jsonl", "lenient_jsonl", "cli_json", "lenient_json",
             "cli_proto", "lenient_proto", "help")

# --- the reference path ------------------------------------------------------------------------

# Attribute → column, extracted with list_filter (17% faster than a MAP per span, PERFORMANCE.md).
_REF_ATTRS = {
    "operation": ("gen_ai.operation.name", "stringValue", "VARCHAR"),
    "provider": ("gen_ai.provider.name", "stringValue", "VARCHAR"),
    "request_model": ("gen_ai.request.model", "stringValue", "VARCHAR"),
    "response_model": ("gen_ai.response.model", "stringValue", "VARCHAR"),
    "input_tokens": ("gen_ai.usage.input_tokens", "intValue", "BIGINT"),
    "output_tokens": ("gen_ai.usage.output_tokens", "intValue", "BIGINT"),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens", "intValue", "BIGINT"),
    "agent_name": ("gen_ai.agent.name", "stringValue", "VARCHAR"),
    "session_id": ("gen_ai.conversation.id", "stringValue", "VARCHAR"),
    "tool_name": ("gen_ai.tool.name", "stringValue", "VARCHAR"),
    "tool_call_id": ("gen_ai.tool.call.id", "stringValue", "VARCHAR"),
    "tool_args_hash": ("agentprof.tool.args_hash", "stringValue", "VARCHAR"),
    "category": ("agentprof.span.category", "stringValue", "VARCHAR"),
    "step_number": ("agentprof.step.number", "intValue", "INTEGER"),
    "error_type": ("error.type", "stringValue", "VARCHAR"),
}


def reference_sql(table: str) -> str:
    """Flatten OTLP JSON rows (one per line) to one typed row per span."""
    attrs = ",\n  ".join(
        f"CAST(list_filter(sp.attributes, lambda a: a.key = '{key}')[1].value.{member} AS {typ}) AS {col}"
        for col, (key, member, typ) in _REF_ATTRS.items()
    )
    return f"""
WITH r AS (SELECT unnest(resourceSpans) AS rs FROM {table}),
s AS (SELECT list_filter(rs.resource.attributes, lambda a: a.key = 'service.name')[1].value.stringValue AS service_name,
             unnest(rs.scopeSpans) AS ss FROM r),
p AS (SELECT service_name, unnest(ss.spans) AS sp FROM s)
SELECT
  lower(sp.traceId) AS trace_id, lower(sp.spanId) AS span_id, lower(nullif(sp.parentSpanId, '')) AS parent_span_id,
  sp.name AS name, sp.kind AS kind,
  CAST(sp.startTimeUnixNano AS BIGINT) AS start_ns, CAST(sp.endTimeUnixNano AS BIGINT) AS end_ns,
  sp.status.code AS status_code, sp.status.message AS status_message, service_name,
  list_filter(sp.attributes, lambda a: a.key = 'gen_ai.response.finish_reasons')[1].value.arrayValue."values"[1].stringValue AS finish_reason,
  {attrs}
FROM p"""


def run_reference(path: str, db: str) -> int:
    import duckdb
    import pyarrow.json as pj

    t = pj.read_json(path, read_options=pj.ReadOptions(block_size=4 << 20))
    con = duckdb.connect(db)
    con.register("otlp", t)
    con.execute(f"CREATE TABLE spans AS {reference_sql('otlp')}")
    n = con.execute("SELECT count(*) FROM spans").fetchone()[0]
    con.close()
    return n


def run_fastpath_read(path: str, db: str) -> int:
    from agentprof.ingest.fastpath import iter_raw_batches_jsonl

    return sum(t.num_rows for t in iter_raw_batches_jsonl(path))


def run_fastpath_ingest(path: str, db: str) -> dict:
    """The ingest pipeline of ``agentprof.ingest.ingest_files`` with the fast reader in front;
    returns spans stored and (wall, CPU) seconds per stage."""
    from agentprof import pricing
    from agentprof.ingest import normalize, repair
    from agentprof.ingest._report import FileReport
    from agentprof.ingest.fastpath import iter_raw_batches_jsonl
    from agentprof.store import open_store, span_count

    stages: dict[str, list[float]] = {}

    def timed(name, fn, *args, **kw):
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        acc = stages.setdefault(name, [0.0, 0.0])
        acc[0] += time.perf_counter() - w
        acc[1] += time.process_time() - c
        return out

    con = open_store(db)
    repair.create_stage(con)
    batches = iter_raw_batches_jsonl(path)
    while (t := timed("fast reader", next, batches, None)) is not None:
        timed("normalize_into (stage)", normalize.normalize_into, con, t, target=repair.STAGE)
    timed("repair_stage", repair.repair_stage, con, {path: FileReport(path)})
    timed("move_stage", repair.move_stage, con)
    repair.drop_stage(con)
    timed("finalize", normalize.finalize, con)
    timed("apply_prices", pricing.apply_prices, con, None)
    n = span_count(con)
    timed("close (checkpoint)", con.close)
    return {"spans": n, "stages": {k: [round(v[0], 2), round(v[1], 2)] for k, v in stages.items()}}


def run_lenient(path: str, db: str) -> int:
    from agentprof.ingest import ingest_files
    from agentprof.store import open_store, span_count

    con = open_store(db)
    ingest_files(con, [path], fast=False)
    n = span_count(con)
    con.close()
    return n


# --- harness ------------------------------------------------------------------------------------


def _run(cmd: list[str]) -> dict:
    """Run ``cmd``; wall seconds, the child's own peak RSS (wait4), and its stdout."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return {
        "seconds": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "load_before": load,  # other work on the machine inflates wall time, not CPU time
        "stdout": out.decode(),
    }


def _db_stats(db: str) -> dict:
    """Spans stored, bytes per span on disk, and the same without the raw JSON columns."""
    import duckdb

    con = duckdb.connect(db, read_only=True)
    n = con.execute("SELECT count(*) FROM spans").fetchone()[0]
    cols = [r[0] for r in con.execute("DESCRIBE spans").fetchall()]
    block_size, used_blocks = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    con.close()
    size = os.path.getsize(db)
    stats = {"spans": n, "db_bytes": size, "bytes_per_span": size / n if n else None,
             # free blocks (e.g. of a dropped ingest stage) stay in the file until it is rewritten
             "used_bytes_per_span": block_size * used_blocks / n if n else None}
    json_cols = [c for c in ("attributes", "events", "resource") if c in cols]
    if json_cols:  # how much of the file the raw JSON columns take
        slim = db + ".nojson"
        if os.path.exists(slim):
            os.remove(slim)
        con = duckdb.connect(slim)
        con.execute(f"ATTACH '{db}' AS src (READ_ONLY)")
        con.execute(f"CREATE TABLE spans AS SELECT * EXCLUDE ({', '.join(json_cols)}) FROM src.spans")
        con.execute("DETACH src")
        con.close()
        stats["bytes_per_span_without_json"] = os.path.getsize(slim) / n if n else None
        os.remove(slim)
    return stats


def run_case(case: str, files: dict[str, Path], work: Path) -> dict:
    db = str(work / f"{case}.duckdb")
    for suffix in ("", ".wal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    if case == "help":
        runs = [_run([AGENTPROF, "--help"]) for _ in range(5)]
        return {"case": case, "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
    if case.startswith("cli_"):
        src = files[{"cli_jsonl": "jsonl", "cli_json": "json", "cli_proto": "proto"}[case]]
        res = _run([AGENTPROF, "ingest", str(src), "--db", db])
    else:
        src = files[{"lenient_proto": "proto", "lenient_json": "json"}.get(case, "jsonl")]
        res = _run([PY, __file__, "--run-case", case, "--input", str(src), "--db", db])
    res["case"] = case
    res["input"] = str(src)
    res["input_mb"] = os.path.getsize(src) / 1e6
    if not case.startswith("cli_"):
        child = json.loads(res["stdout"].strip().splitlines()[-1])
        res["spans"] = child["spans"]
        if "stages" in child:
            res["stages"] = child["stages"]
    if case != "fastpath_read":
        res.update(_db_stats(db))
        os.remove(db)
    res.pop("stdout", None)
    res["spans_per_s"] = res["spans"] / res["seconds"] if res.get("spans") else None
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--cases", default=",".join(ALL_CASES))
    ap.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON here")
    ap.add_argument("--run-case", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_case:  # child process: one case, result as a JSON line
        fn = {"reference": run_reference, "fastpath_read": run_fastpath_read, "fastpath_ingest": run_fastpath_ingest,
              "lenient_jsonl": run_lenient, "lenient_json": run_lenient, "lenient_proto": run_lenient}
        t = time.perf_counter()
        out = fn[args.run_case](args.input, args.db)
        out = out if isinstance(out, dict) else {"spans": out}
        out["inner_seconds"] = time.perf_counter() - t
        print(json.dumps(out))
        return 0

    sys.path.insert(0, str(HERE))
    import gen_corpus

    n = args.spans // gen_corpus.SPANS_PER_RUN * gen_corpus.SPANS_PER_RUN
    files = {"jsonl": args.data / f"corpus-{n}.jsonl", "json": args.data / f"corpus-{n}.json", "proto": args.data / f"corpus-{n}.pb"}
    missing = {k for k, p in files.items() if not p.exists()}
    if missing:
        print(f"generating {n:,}-span corpus ({', '.join(sorted(missing))}) ...", file=sys.stderr)
        gen_corpus.generate(n, args.data, missing)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.data))  # private: parallel runs do not collide

    results = []
    for case in args.cases.split(","):
        print(f"running {case} ...", file=sys.stderr, flush=True)
        r = run_case(case, files, work)
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(report(results, n) + f"\n\ncommit {commit}, load average after: {os.getloadavg()[0]:.1f}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"spans": n, "commit": commit, "results": results}, indent=2))
    return 0


def report(results: list[dict], n: int) -> str:
    by = {r["case"]: r for r in results}
    ref = by.get("reference")
    lines = [
        f"{n:,} spans",
        "",
        "| case | wall s | spans/s (wall) | × reference (wall) | CPU s | × reference (CPU) | peak RSS MB | RSS ÷ input | bytes/span: file · used blocks · without JSON cols | load avg before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r["case"] == "help":
            continue
        rate = r.get("spans_per_s")
        ratio = f"{rate / ref['spans_per_s']:.2f}" if ref and rate else "—"
        bps = "—"
        if r.get("bytes_per_span"):
            slim = r.get("bytes_per_span_without_json")
            used = r.get("used_bytes_per_span")
            bps = f"{r['bytes_per_span']:.0f} · {used:.0f}" if used else f"{r['bytes_per_span']:.0f}"
            bps += f" · {slim:.0f}" if slim else " (no JSON cols)"
        cpu_ratio = f"{ref['cpu_seconds'] / r['cpu_seconds']:.2f}" if ref else "—"
        lines.append(
            f"| {r['case']} | {r['seconds']:.2f} | {rate:,.0f} | {ratio} | {r['cpu_seconds']:.2f} | {cpu_ratio} | "
            f"{r['peak_rss_mb']:,.0f} | {r['peak_rss_mb'] / r['input_mb']:.2f} | {bps} | {r['load_before']:.1f} |"
        )
    if "fastpath_ingest" in by and by["fastpath_ingest"].get("stages"):
        lines += ["", "fastpath_ingest by stage (wall s, process CPU s):", ""]
        lines += [f"- {k}: {w:.2f} s wall, {c:.2f} s CPU" for k, (w, c) in by["fastpath_ingest"]["stages"].items()]
    if "cli_jsonl" in by and "cli_proto" in by:
        lines.append(f"\nprotobuf ÷ JSON lines (wall): {by['cli_proto']['seconds'] / by['cli_jsonl']['seconds']:.2f}")
    if "help" in by:
        lines.append(f"\n`agentprof --help`: {by['help']['seconds'] * 1000:.0f} ms (median of 5)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
