"""Fixtures for the sample-trace tests: each bundled sample ingested and analyzed once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "sample_traces"


@dataclass
class Analyzed:
    """One sample after ``ingest_files`` + ``analyze`` (the connection stays open for look-ups)."""

    path: Path
    con: Any
    sources: tuple
    profile: Any

    def span_names(self, span_ids) -> list[str]:
        """Names of the given spans (tool spans by tool name), in the given order."""
        if not span_ids:
            return []
        rows = dict(self.con.execute(
            "SELECT span_id, coalesce(tool_name, name) FROM spans WHERE list_contains(?, span_id)",
            [list(span_ids)]).fetchall())
        return [rows.get(s, "?") for s in span_ids]

    def findings(self, code: str, severity: str | None = None) -> list:
        return [f for f in self.profile.findings if f.code == code and (severity is None or f.severity == severity)]

    def run(self, run_id: str):
        return next(r for r in self.profile.runs if r.run_id == run_id)


_cache: dict[str, Analyzed] = {}


def analyzed_sample(name: str) -> Analyzed:
    """Ingest and analyze ``sample_traces/<name>`` once per test session."""
    if name not in _cache:
        from agentprof.analyzers import analyze
        from agentprof.config import Config
        from agentprof.ingest import ingest_files
        from agentprof.store import open_store

        path = SAMPLES_DIR / name
        con = open_store()
        config = Config()
        sources = ingest_files(con, [path], config=config)
        _cache[name] = Analyzed(path, con, tuple(sources), analyze(con, config, sources=sources))
    return _cache[name]


@pytest.fixture(scope="session")
def sample():
    """``sample("healthy_three_step.pb")`` -> Analyzed (cached for the session)."""
    return analyzed_sample


@dataclass
class Regeneration:
    """``generate.py --out DIR`` running in a child process while the analyses run."""

    out: Path
    proc: Any
    started: float
    result: tuple[int, str, str, float] | None = None

    def wait(self) -> tuple[int, str, str, float]:
        """(return code, stdout, stderr, seconds from start to exit)."""
        import time

        if self.result is None:
            stdout, stderr = self.proc.communicate(timeout=300)
            self.result = (self.proc.returncode, stdout, stderr, time.perf_counter() - self.started)
        return self.result


@pytest.fixture(scope="session", autouse=True)
def regeneration(tmp_path_factory: pytest.TempPathFactory):
    """Start regenerating every sample into a temp dir at the start of this directory's tests.

    It runs in a fresh process (the instrumentation is process-wide state) and overlaps with
    the known-answer tests; test_samples_regenerate.py waits for it and compares the bytes.
    """
    import subprocess
    import sys
    import time

    out = tmp_path_factory.mktemp("regenerated_samples")
    proc = subprocess.Popen([sys.executable, str(SAMPLES_DIR / "generate.py"), "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job = Regeneration(out, proc, time.perf_counter())
    yield job
    if proc.poll() is None:  # a test run stopped early: do not leave the child behind
        proc.kill()
        proc.communicate()
