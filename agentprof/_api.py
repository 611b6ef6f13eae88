"""The library entry point for analysis: trace files in, a Profile out.

The command line does the same through ``agentprof.cli``; this is for notebooks, scripts
and CI checks written in Python::

    profile = agentprof.analyze_traces(["trace.json"])
    for f in profile.findings:
        print(f.code, f.message)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agentprof.errors import NoUsableSpansError

if TYPE_CHECKING:
    from agentprof.config import Config
    from agentprof.profile import Profile


def analyze_traces(
    paths: Iterable[str | os.PathLike[str]] = (),
    *,
    db: str | os.PathLike[str] | None = None,
    config: Config | None = None,
) -> Profile:
    """Read trace files (and/or a span store written by ``agentprof ingest``) and analyze them.

    Args:
        paths: Trace files or folders; the format is detected from the content.
        db: A DuckDB span store to read; ``paths`` are added to it. Defaults to in memory.
        config: Thresholds, rule selection, prices. Defaults to ``load_config()`` (the
            ``[tool.agentprof]`` table of the nearest pyproject.toml).

    Raises:
        NoUsableSpansError: when nothing usable was read (each file's problems are in the message).
    """
    from agentprof import store
    from agentprof.analyzers import analyze
    from agentprof.config import load_config
    from agentprof.ingest import ingest_files

    paths = [os.fspath(p) for p in paths]
    config = config if config is not None else load_config()
    con = store.open_store(db)
    try:
        sources = ingest_files(con, paths, config=config) if paths else ()
        require_spans(con, paths or [os.fspath(db) if db else "(no input)"], sources)
        return analyze(con, config, sources=sources)
    finally:
        con.close()


def require_spans(con, where: Iterable[str | os.PathLike[str]], sources) -> None:
    """Raise NoUsableSpansError, naming the inputs and their first problems, when the store is empty."""
    from agentprof import store

    if store.span_count(con) == 0:
        problems = "; ".join(p for s in sources for p in s.problems[:3])
        raise NoUsableSpansError(", ".join(os.fspath(w) for w in where), None,
                                 "no usable spans" + (f" ({problems})" if problems else ""),
                                 hint="check that the file is an OTLP trace export (see docs/formats.md)")
