"""The ``agentprof`` command: a thin layer that parses options, calls the library and maps
errors to one-line messages and exit codes.

Exit codes: 0 success; 1 findings matched ``--fail-on``; 2 bad input, usage or settings;
3 an internal error (a bug: rerun with AGENTPROF_DEBUG=1 for the traceback).

The report goes to stdout; progress, notes and errors go to stderr. Heavy libraries
(pandas, pyarrow, plotly, genai-prices) are imported only by the commands that need them,
so ``agentprof --help`` answers fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from agentprof._version import __version__
from agentprof.errors import AgentprofError

if TYPE_CHECKING:
    from agentprof.config import Config
    from agentprof.profile import Profile, SourceFile

DEFAULT_TRACE_DIR = Path(".agentprof") / "traces"
"""Where ``agentprof.configure()`` writes spans by default; ``analyze`` reads it with no TRACE."""

app = typer.Typer(
    name="agentprof",
    help="Profile LLM agents from their traces: where each run's time and money went, and what to change.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Options shared by commands that read traces and run rules (defined once).
TracesArg = Annotated[
    Optional[list[Path]],
    typer.Argument(help="Trace files or folders (OTLP JSON, JSON lines, protobuf, gzip of any).", show_default=False),
]
DbOpt = Annotated[Optional[Path], typer.Option("--db", help="DuckDB span store to read (and to add TRACE files to).")]
SelectOpt = Annotated[Optional[list[str]], typer.Option("--select", help="Run only rules with these code prefixes (e.g. AP1).")]
IgnoreOpt = Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip rules with these code prefixes (e.g. AP204).")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a threshold: KEY=VALUE (see `agentprof rule --all`).")]
PricesOpt = Annotated[Optional[Path], typer.Option("--prices", help="TOML/JSON file of model prices (USD per million tokens).")]
BudgetOpt = Annotated[Optional[int], typer.Option("--budget", help="Per-run token budget; runs over it are findings.")]


def _stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@app.command()
def analyze(
    traces: TracesArg = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON instead of the terminal report.")] = False,
    html: Annotated[Optional[Path], typer.Option("--html", help="Write the one-file HTML report here.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write a report; format from the extension: .html, .md, .json, .txt.")] = None,
    md: Annotated[Optional[Path], typer.Option("--md", help="Write a Markdown summary for a PR comment here.")] = None,
    chrome_trace: Annotated[Optional[Path], typer.Option("--chrome-trace", help="Write the spans as a Chrome trace (open in Perfetto or chrome://tracing).")] = None,
    plotly_cdn: Annotated[bool, typer.Option("--plotly-cdn", help="Reference plotly.js from its CDN (small file, needs network to view).")] = False,
    select: SelectOpt = None,
    ignore: IgnoreOpt = None,
    set_values: SetOpt = None,
    prices: PricesOpt = None,
    budget: BudgetOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Show every run, step and span instead of a truncated view.")] = False,
    run: Annotated[Optional[str], typer.Option("--run", help="Show the detail of this run (trace id or a unique prefix).")] = None,
    fail_on: Annotated[Optional[list[str]], typer.Option("--fail-on", help="Exit 1 when a finding's code starts with this prefix (e.g. AP1, AP2).")] = None,
) -> None:
    """Analyze traces: cost per step, latency components, critical path, findings.

    Example:

        agentprof analyze sample_traces/research_agent_sequential_retrieval.json --html report.html
    """
    from agentprof.config import load_config

    outputs = []  # checked before any work, so a typo does not cost a long analysis
    if html is not None:
        outputs.append((html, "html"))
    if md is not None:
        outputs.append((md, "md"))
    if output is not None:
        outputs.append((output, _format_from_suffix(output)))
    if chrome_trace is not None:
        outputs.append((chrome_trace, "chrome"))
    config = load_config(prices_file=prices, select=select, ignore=ignore, set_values=set_values, token_budget=budget)
    profile = _build_profile(traces or [], db, config)

    html_name = next((p.name for p, fmt in outputs if fmt == "html"), None)
    for path, fmt in outputs:
        text = _render(profile, fmt, plotly_cdn=plotly_cdn, html_name=html_name)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AgentprofError(f"{path}: cannot write the report ({exc.strerror})") from exc
        _stderr().print(f"wrote {path} ({_human_size(len(text.encode('utf-8')))})")

    if as_json:
        sys.stdout.write(_render(profile, "json"))
    else:
        from rich.console import Console

        from agentprof.reports import terminal

        terminal.render(profile, Console(highlight=False), show_all=show_all, run_id=run)

    if fail_on:
        hits = [f for f in profile.findings if any(f.code.startswith(p.upper()) for p in fail_on)]
        if hits:
            _stderr().print(f"{len(hits)} finding(s) match --fail-on {' '.join(fail_on)}")
            raise typer.Exit(1)


@app.command()
def ingest(
    traces: Annotated[list[Path], typer.Argument(help="Trace files or folders.", show_default=False)],
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to add the spans to (created if missing).")],
    prices: PricesOpt = None,
) -> None:
    """Read traces into a DuckDB span store for later `analyze --db` and `query`.

    Example:

        agentprof ingest traces/*.jsonl --db runs.duckdb
    """
    from agentprof import store
    from agentprof.config import load_config

    config = load_config(prices_file=prices)
    con = store.open_store(db)
    try:
        sources = _ingest(con, traces, config)
        total = store.span_count(con)
    finally:
        con.close()
    read = sum(s.spans_read for s in sources)
    skipped = sum(s.spans_skipped for s in sources)
    print(f"ingested {read} spans from {len(sources)} file(s) into {db} ({total} spans stored; {skipped} skipped)")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the `spans` table (and views llm_calls, tool_calls).")],
    db: Annotated[Optional[Path], typer.Option("--db", help="DuckDB span store written by `agentprof ingest`.")] = None,
    traces: Annotated[Optional[list[Path]], typer.Option("--trace", help="Read these trace files into memory first (instead of --db).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="Print at most this many rows in a table.")] = 200,
) -> None:
    """Run SQL over the span table and print the result.

    Example:

        agentprof query "SELECT request_model, sum(cost_usd) FROM spans GROUP BY 1" --db runs.duckdb
    """
    import duckdb

    from agentprof import store
    from agentprof.config import load_config

    if db is None and not traces:
        raise AgentprofError("query needs spans: give --db FILE or --trace FILE", hint='agentprof query "SELECT count(*) FROM spans" --db runs.duckdb')
    if db is not None and not db.exists():
        raise AgentprofError(f"{db}: no such span store", hint=f"create it with `agentprof ingest TRACE --db {db}`")
    con = store.open_store(db)
    try:
        if traces:
            _ingest(con, traces, load_config())
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise AgentprofError(f"query failed: {str(exc).splitlines()[0]}", hint="the table is `spans`; see `agentprof schema` for its columns") from exc
        if cur.description is None:
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    _print_rows(cols, rows, fmt, limit)


@app.command()
def rule(
    code: Annotated[Optional[str], typer.Argument(help="Rule code, e.g. AP101.", show_default=False)] = None,
    show_all: Annotated[bool, typer.Option("--all", help="List every rule.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Explain a rule: what it detects, why it matters, what to do, its thresholds.

    Example:

        agentprof rule AP101
    """
    from agentprof.analyzers import rules

    if code:
        r = rules.get_rule(code.upper())
        if as_json:
            import json

            print(json.dumps(_rule_dict(r), indent=2))
        else:
            print(rules.render_rule_text(r))
        return
    if as_json:
        print(rules.rules_as_json())
        return
    for r in rules.all_rules():
        print(f"{r.code}  {r.name:<40} {r.summary}")
    if not show_all:
        print("\nagentprof rule CODE prints a rule's documentation.")


@app.command()
def schema() -> None:
    """Print the span table's columns (what `query` can select)."""
    from agentprof import schema as schema_mod

    print(schema_mod.describe())


@app.command()
def version() -> None:
    """Print the agentprof version."""
    print(f"agentprof {__version__}")


# ---------------------------------------------------------------------------- helpers


def _build_profile(traces: list[Path], db: Path | None, config: Config) -> Profile:
    if not traces and db is None:
        if DEFAULT_TRACE_DIR.is_dir() and any(DEFAULT_TRACE_DIR.iterdir()):
            traces = [DEFAULT_TRACE_DIR]
        else:
            raise AgentprofError(
                "no traces given and none found in ./.agentprof/traces",
                hint="agentprof analyze TRACE.json (or call agentprof.configure() in your agent, run it, then `agentprof analyze`)",
            )
    if db is not None and not traces and not db.exists():
        raise AgentprofError(f"{db}: no such span store", hint=f"create it with `agentprof ingest TRACE --db {db}`")
    from agentprof import store
    from agentprof._api import require_spans
    from agentprof.analyzers import analyze as run_analysis

    con = store.open_store(db)
    try:
        sources: tuple[SourceFile, ...] = _ingest(con, traces, config) if traces else ()
        require_spans(con, traces or [str(db)], sources)
        return run_analysis(con, config, sources=sources)
    finally:
        con.close()


def _ingest(con, traces: list[Path], config: Config) -> tuple[SourceFile, ...]:
    for p in traces:
        if not p.exists():
            raise AgentprofError(f"{p}: no such file or folder", hint="check the path; folders are read recursively")
    from agentprof.ingest import ingest_files

    err = _stderr()
    progress = None
    total_bytes = sum(_size(p) for p in traces)
    if err.is_terminal and total_bytes > 20_000_000:
        from rich.progress import Progress

        bar = Progress(transient=True, console=err)
        task = bar.add_task("reading traces", total=total_bytes)
        bar.start()

        def progress(done: int, total: int) -> None:  # noqa: F811 - the callback ingest calls
            bar.update(task, completed=done, total=total)

        try:
            sources = ingest_files(con, traces, config=config, progress=progress)
        finally:
            bar.stop()
    else:
        sources = ingest_files(con, traces, config=config, progress=progress)
    for s in sources:
        if s.spans_skipped or s.problems:
            if s.format != "folder":
                err.print(f"{s.path}: read {s.spans_read} spans, skipped {s.spans_skipped}", markup=False)
            for p in s.problems[:10]:
                err.print(f"  - {p}", markup=False)
            if len(s.problems) > 10:
                err.print(f"  - ... and {len(s.problems) - 10} more (see the report's sources section)", markup=False)
    return sources


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _format_from_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    fmt = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json", ".txt": "txt"}.get(suffix)
    if fmt is None:
        raise AgentprofError(f"-o {path}: unknown report format {suffix!r}", hint="use a .html, .md, .json or .txt file name")
    return fmt


def _render(profile: Profile, fmt: str, *, plotly_cdn: bool = False, html_name: str | None = None) -> str:
    if fmt == "html":
        from agentprof.reports import html_report

        return html_report.render(profile, plotly_cdn=plotly_cdn)
    if fmt == "md":
        from agentprof.reports import markdown

        return markdown.render(profile, html_name=html_name)
    if fmt == "chrome":
        from agentprof.reports import chrome_trace

        return chrome_trace.render(profile)
    if fmt == "json":
        from agentprof.reports import json_report

        return json_report.render(profile)
    from rich.console import Console

    from agentprof.reports import terminal

    console = Console(width=100, color_system=None, record=True, file=open(os.devnull, "w"))
    terminal.render(profile, console, show_all=True)
    return console.export_text()


def _human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"


def _rule_dict(r) -> dict:
    return {"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary, "thresholds": dict(r.thresholds), "doc": r.doc}


def _print_rows(cols: list[str], rows: list[tuple], fmt: str, limit: int) -> None:
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
        return
    if fmt == "json":
        import json

        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str, indent=1))
        return
    if fmt != "table":
        raise AgentprofError(f"--format {fmt!r}: unknown", hint="use table, csv or json")
    from rich.console import Console
    from rich.table import Table

    table = Table(*cols, show_lines=False)
    for r in rows[:limit]:
        table.add_row(*("" if v is None else str(v) for v in r))
    Console(highlight=False).print(table)
    if len(rows) > limit:
        print(f"({len(rows) - limit} more rows; use --limit or --format csv)")


class _WithoutPandas:
    """Import finder that makes pandas look absent to this process.

    pyarrow imports pandas on its first conversion of a Python value, only to check whether
    that value is a pandas object. Nothing in agentprof uses pandas, and importing it and
    tearing it down at exit took ~0.4 s of every command (a third of analysing a small
    trace). pyarrow, DuckDB and plotly all treat pandas as optional. Installed by
    :func:`main` only: library callers keep their pandas."""

    def find_spec(self, name: str, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is not used by the agentprof command line", name=name)
        return None


def main() -> None:
    """Console-script entry point: run the app and map errors to messages and exit codes.

    Click (inside typer) handles usage errors itself (exit 2); everything it lets through is
    either an AgentprofError (a problem with the input, exit 2) or a bug (exit 3).
    """
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    try:
        app()
    except AgentprofError as exc:
        print(f"agentprof: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("agentprof: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # a bug, not a bad trace: say so without a traceback
        if os.environ.get("AGENTPROF_DEBUG"):
            raise
        print(
            f"agentprof: internal error: {type(exc).__name__}: {exc}\n"
            "  This is a bug in agentprof, not in your input. Rerun with AGENTPROF_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
