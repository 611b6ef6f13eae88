"""The command line as a user meets it: messages, exit codes, no tracebacks."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_traces" / "research_agent_sequential_retrieval.json"


def run_cli(*args: str, cwd: Path | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env_extra or {})}
    env.pop("AGENTPROF_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "agentprof", *args], capture_output=True, text=True, cwd=cwd or REPO,
                          env=env, timeout=120)


def assert_clean_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    for frag in fragments:
        assert frag in proc.stderr, (frag, proc.stderr)


def test_missing_file(tmp_path):
    proc = run_cli("analyze", str(tmp_path / "nope.json"))
    assert_clean_error(proc, "nope.json: no such file or folder")


def test_no_traces_anywhere(tmp_path):
    proc = run_cli("analyze", cwd=tmp_path)
    assert_clean_error(proc, "no traces given and none found in ./.agentprof/traces", "Try:")


@pytest.mark.parametrize(
    ("content", "name"),
    [(b"", "empty.json"), (b"id,name\n1,foo\n", "table.csv"), (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "picture.png")],
)
def test_unusable_input_exits_2_with_the_file_named(tmp_path, content, name):
    f = tmp_path / name
    f.write_bytes(content)
    proc = run_cli("analyze", str(f))
    assert_clean_error(proc, name)


def test_query_needs_a_store(tmp_path):
    assert_clean_error(run_cli("query", "SELECT 1"), "query needs spans")
    assert_clean_error(run_cli("query", "SELECT 1", "--db", str(tmp_path / "x.duckdb")), "no such span store")


def test_bad_output_suffix():
    proc = run_cli("analyze", str(SAMPLE), "-o", "report.pdf")
    assert_clean_error(proc, "unknown report format '.pdf'")


def test_usage_error_is_not_a_traceback():
    proc = run_cli("analyze", "--no-such-flag")
    assert proc.returncode == 2
    assert "No such option" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_and_version():
    proc = run_cli("schema")
    assert proc.returncode == 0
    assert proc.stdout.startswith("spans table, schema version 1")
    assert "input_tokens" in proc.stdout
    from agentprof import __version__

    assert run_cli("version").stdout.strip() == f"agentprof {__version__}"


def test_ingest_then_query_and_analyze_from_store(tmp_path):
    db = tmp_path / "runs.duckdb"
    proc = run_cli("ingest", str(SAMPLE), "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ingested ")
    n = int(proc.stdout.split()[1])
    assert n > 0
    q = run_cli("query", "SELECT count(*) AS n FROM spans", "--db", str(db), "--format", "json")
    assert q.returncode == 0, q.stderr
    assert json.loads(q.stdout) == [{"n": n}]
    bad = run_cli("query", "SELECT nonsense FROM spans", "--db", str(db))
    assert_clean_error(bad, "query failed", "agentprof schema")
    a = run_cli("analyze", "--db", str(db), "--json")
    assert a.returncode == 0, a.stderr
    profile = json.loads(a.stdout)
    assert sum(r["span_count"] for r in profile["runs"]) == n


def test_report_files_and_fail_on(tmp_path):
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    proc = run_cli("analyze", str(SAMPLE), "--html", str(html), "--md", str(md), "--fail-on", "AP1")
    assert proc.returncode == 1, proc.stderr  # the sample's top finding is AP101
    assert f"wrote {html}" in proc.stderr
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")
    assert "r.html" in md.read_text()
    ok = run_cli("analyze", str(SAMPLE), "--fail-on", "AP9")
    assert ok.returncode == 0, ok.stderr


def test_rule_docs():
    proc = run_cli("rule", "ap101")
    assert proc.returncode == 0
    assert "AP101" in proc.stdout
    listing = run_cli("rule", "--all")
    assert listing.returncode == 0 and "AP101" in listing.stdout
    assert_clean_error(run_cli("rule", "AP999"), "AP999")


def test_folder_reads_traces_and_passes_over_other_files(tmp_path):
    import shutil

    shutil.copy(SAMPLE, tmp_path / "run.json")
    (tmp_path / "README.md").write_text("# my traces\n")
    (tmp_path / "make_traces.py").write_text("print('hi')\n")
    proc = run_cli("analyze", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "passed over 2 file(s) whose names say they are not traces (README.md, make_traces.py)" in proc.stderr
    assert "not a trace file" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["format"][:9] for s in doc["sources"]] == ["otlp-json", "folder"]
    # named explicitly, a file is always sniffed
    named = run_cli("analyze", str(tmp_path / "README.md"))
    assert_clean_error(named, "README.md: not a trace file")


def test_the_command_line_leaves_pandas_unimported_and_library_callers_keep_it(tmp_path):
    """pyarrow would import pandas (~0.4 s with its exit) only to check values' types."""
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    code = (
        "import sys\n"
        f"sys.argv = ['agentprof', 'analyze', {str(SAMPLE)!r}, '--json', '--html', {str(html)!r}, '--md', {str(md)!r}]\n"
        "from agentprof.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('PANDAS', 'pandas' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "PANDAS False" in proc.stderr
    assert json.loads(proc.stdout)["runs"] and html.stat().st_size > 100_000 and md.read_text().strip()
    import agentprof.cli  # noqa: F401 - importing the CLI module installs nothing

    assert importlib.util.find_spec("pandas") is not None
