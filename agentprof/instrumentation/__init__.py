"""Runtime instrumentation: spans from inside the agent, exported as OTLP JSON lines or DuckDB.

Layers (all write the same GenAI-convention attributes, see ``_genai``):

* ``manual``: ``agentprof.span(...)`` and ``@agent/@step/@tool/@llm/@retrieval``;
* ``langchain``: ``AgentprofCallbackHandler`` for LangChain / LangGraph runs;
* ``auto``: ``agentprof.instrument()`` patches the OpenAI and Anthropic SDKs;
* ``exporters``: the JSONL and DuckDB span exporters and the counting batch processor.

``stats()`` reports the counters (spans dropped, instrumentation errors, ...).
"""

from __future__ import annotations

from typing import Any

from agentprof.instrumentation._configure import configure, flush, shutdown, stats

__all__ = ["configure", "flush", "shutdown", "stats"]


def __getattr__(name: str) -> Any:
    if name in ("agent", "step", "tool", "llm", "retrieval", "span", "current_span"):
        from agentprof.instrumentation import manual

        return getattr(manual, name)
    if name in ("instrument", "uninstrument"):
        from agentprof.instrumentation import auto

        return getattr(auto, name)
    raise AttributeError(f"module 'agentprof.instrumentation' has no attribute {name!r}")
