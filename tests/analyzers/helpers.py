"""Small helpers shared by the analyzer tests."""

from __future__ import annotations

from typing import Any

from agentprof.config import Config

NO_RULES = Config(select=("AP0",))
"""Selects no rule code, so a test sees the analysis core alone."""


def analyze_builder(b: Any, config: Config | None = None, **kwargs: Any):
    from agentprof.analyzers import analyze

    con = b.load()
    return analyze(con, config if config is not None else NO_RULES, **kwargs), con


def components(run: Any) -> dict[str, int]:
    return {c.name: c.duration_ns for c in run.components}


def path_names(run: Any) -> list[str]:
    return [s.name for s in run.critical_path]


def on_path(run: Any) -> dict[str, int]:
    return {s.name: s.on_path_ns for s in run.critical_path}
