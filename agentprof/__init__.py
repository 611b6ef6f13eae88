"""agentprof: profile LLM agents from their traces.

The instrumentation API (``configure``, the decorators, ``span``, ``instrument``) is loaded
on first use, so ``import agentprof`` stays cheap: nothing of OpenTelemetry, pandas, pyarrow,
DuckDB or plotly is imported until it is needed.
"""

from __future__ import annotations

from agentprof._version import __version__

# public name -> module that defines it (imported on first attribute access, PEP 562)
_LAZY = {
    "Finding": "agentprof.profile",
    "Profile": "agentprof.profile",
    "agent": "agentprof.instrumentation.manual",
    "analyze_traces": "agentprof._api",
    "configure": "agentprof.instrumentation._configure",
    "flush": "agentprof.instrumentation._configure",
    "instrument": "agentprof.instrumentation.auto",
    "llm": "agentprof.instrumentation.manual",
    "retrieval": "agentprof.instrumentation.manual",
    "shutdown": "agentprof.instrumentation._configure",
    "span": "agentprof.instrumentation.manual",
    "step": "agentprof.instrumentation.manual",
    "tool": "agentprof.instrumentation.manual",
    "uninstrument": "agentprof.instrumentation.auto",
}

__all__ = [
    "Finding",
    "Profile",
    "__version__",
    "agent",
    "analyze_traces",
    "configure",
    "flush",
    "instrument",
    "llm",
    "retrieval",
    "shutdown",
    "span",
    "step",
    "tool",
    "uninstrument",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentprof' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
