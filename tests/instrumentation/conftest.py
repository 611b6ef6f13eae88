"""Fixtures: agentprof configured with an in-memory exporter and a virtual clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentprof
from agentprof.instrumentation import _state

sys.path.insert(0, str(Path(__file__).parent))


class VirtualClock:
    """ns since the epoch; advances 1 ms per reading unless told otherwise."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000, step_ns: int = 1_000_000) -> None:
        self.now = start_ns
        self.step_ns = step_ns

    def __call__(self) -> int:
        self.now += self.step_ns
        return self.now

    def advance(self, ns: int) -> None:
        self.now += ns


class Spans:
    """The in-memory exporter plus helpers to read what was recorded."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self, scope: str | None = "agentprof") -> list:
        agentprof.flush()
        spans = self.exporter.get_finished_spans()
        return [s for s in spans if scope is None or s.instrumentation_scope.name == scope]

    def by_name(self, name: str) -> list:
        return [s for s in self.all() if s.name == name]

    def one(self, name: str):
        found = self.by_name(name)
        assert len(found) == 1, f"{name}: {[s.name for s in self.all()]}"
        return found[0]

    def parent_of(self, span):
        if span.parent is None:
            return None
        for s in self.all(scope=None):
            if s.context.span_id == span.parent.span_id:
                return s
        return None


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(autouse=True)
def _no_global_provider(monkeypatch):
    """Each test starts as if no tracer provider were installed globally, whatever other
    tests in the same process did (configure() would otherwise join that provider)."""
    from opentelemetry import trace

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())


@pytest.fixture
def spans(clock: VirtualClock):
    exporter = InMemorySpanExporter()
    _state.reset_stats()
    agentprof.configure(exporter=exporter, clock=clock, set_global=False, schedule_delay_millis=50)
    try:
        yield Spans(exporter)
    finally:
        agentprof.uninstrument()
        agentprof.shutdown()
        _state.reset_stats()


@pytest.fixture
def llm_server():
    from llm_server import LlmServer

    with LlmServer(lifetime_s=120) as srv:
        yield srv
