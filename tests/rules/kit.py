"""Helpers for rule tests: analyze a hand-made trace end to end and pick findings.

Traces are built with ``tests/spanbuilder.TraceBuilder`` (times in seconds from T0); every
test goes through ``agentprof.analyzers.analyze`` so rules see what they see in production:
priced LLM calls, steps, components and critical paths.
"""

from __future__ import annotations

from typing import Any

from agentprof.config import Config


def analyze_trace(b: Any, **config: Any):
    """Load the builder's rows into a fresh store and return (profile, con)."""
    from agentprof.analyzers import analyze

    con = b.load()
    return analyze(con, Config(**config)), con


def of(profile: Any, code: str) -> list[Any]:
    return [f for f in profile.findings if f.code == code]


def assert_span_ids_exist(profile: Any, con: Any) -> None:
    """Every finding rests on spans that are in the table (and in its run)."""
    known = {(t, s) for t, s in con.execute("SELECT trace_id, span_id FROM spans").fetchall()}
    ids = {s for _, s in known}
    for f in profile.findings:
        assert f.span_ids, f
        for sid in f.span_ids:
            if f.run_id is None:
                assert sid in ids, (f.code, sid)
            else:
                assert (f.run_id, sid) in known, (f.code, f.run_id, sid)
