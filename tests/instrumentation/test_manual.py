"""Decorators and span(): names, categories, step numbers, args hash, errors, clock, no-op."""

from __future__ import annotations

import asyncio
import traceback

import pytest

import agentprof
from agentprof.instrumentation import _state, stats


def test_unconfigured_decorators_call_through_and_record_nothing():
    assert not _state.ENABLED

    @agentprof.tool
    def add(a, b):
        return a + b

    @agentprof.agent(name="bot")
    async def run():
        return add(1, 2)

    @agentprof.step
    def gen():
        yield 1
        yield 2

    assert add(2, 3) == 5
    assert asyncio.run(run()) == 3
    assert list(gen()) == [1, 2]
    with agentprof.span("x", category="tool") as s:
        s.set("k", 1).set_usage(input_tokens=3).mark_human_approval()
    assert add.__name__ == "add" and add.__wrapped__(1, 1) == 2


def test_agent_steps_tools_tree_names_and_attributes(spans, clock):
    @agentprof.tool(source="web")
    def search(query: str, limit: int = 3):
        clock.advance(5_000_000)
        return [query] * limit

    @agentprof.retrieval(source="docs")
    def fetch(q):
        return ["doc"]

    @agentprof.step
    def turn(q):
        fetch(q)
        return search(q)

    @agentprof.agent(name="researcher")
    def run():
        turn("a")
        turn("b")
        turn("a")
        return "done"

    assert run() == "done"
    agent = spans.one("invoke_agent researcher")
    assert dict(agent.attributes) == {"agentprof.span.category": "agent", "gen_ai.operation.name": "invoke_agent",
                                      "gen_ai.agent.name": "researcher"}
    steps = sorted((s for s in spans.all() if s.name.startswith("agent.step.")), key=lambda s: s.start_time)
    assert [s.name for s in steps] == ["agent.step.1", "agent.step.2", "agent.step.3"]
    assert [s.attributes["agentprof.step.number"] for s in steps] == [1, 2, 3]
    assert all(spans.parent_of(s) is agent for s in steps) or all(spans.parent_of(s).name == agent.name for s in steps)
    tools = sorted(spans.by_name("execute_tool search"), key=lambda s: s.start_time)
    assert len(tools) == 3
    assert [spans.parent_of(t).name for t in tools] == ["agent.step.1", "agent.step.2", "agent.step.3"]
    hashes = [t.attributes["agentprof.tool.args_hash"] for t in tools]
    assert hashes[0] == hashes[2] != hashes[1]  # same arguments -> same hash
    assert tools[0].attributes["gen_ai.tool.name"] == "search"
    assert tools[0].attributes["agentprof.span.category"] == "tool"
    assert tools[0].attributes["agentprof.tool.source"] == "web"
    assert "gen_ai.tool.call.arguments" not in tools[0].attributes  # content capture off
    assert tools[0].end_time - tools[0].start_time == 5_000_000 + clock.step_ns  # virtual clock, exact
    r = spans.by_name("retrieval docs")[0]
    assert r.attributes["agentprof.span.category"] == "retrieval"
    assert r.attributes["gen_ai.data_source.id"] == "docs"


def test_step_numbers_restart_per_agent_and_nested_agents(spans):
    @agentprof.step(name="think")
    def think():
        return 1

    @agentprof.agent
    def inner():
        think()
        return think()

    @agentprof.agent
    def outer():
        think()
        inner()
        think()

    outer()
    numbers = {}
    for s in spans.all():
        if s.name.startswith("agent.step."):
            numbers.setdefault(spans.parent_of(s).name, []).append(s.attributes["agentprof.step.number"])
    assert sorted(numbers["invoke_agent outer"]) == [1, 2]
    assert sorted(numbers["invoke_agent inner"]) == [1, 2]
    assert spans.all()[0].attributes["agentprof.step.name"] == "think"


def test_args_hash_is_stable_for_unhashable_and_non_json_args(spans):
    class Thing:
        def __repr__(self):
            return "Thing()"

    @agentprof.tool
    def t(a, b=None, **kw):
        return None

    t({"z": 1, "a": [1, 2]}, b={3, 1, 2}, extra=Thing())
    t({"a": [1, 2], "z": 1}, b={2, 3, 1}, extra=Thing())
    t({"a": [1, 2], "z": 2}, b={1, 2, 3}, extra=Thing())
    h = [s.attributes["agentprof.tool.args_hash"] for s in sorted(spans.all(), key=lambda s: s.start_time)]
    assert h[0] == h[1] != h[2]
    assert len(h[0]) == 16 and int(h[0], 16) >= 0


def test_methods_hash_without_self(spans):
    class Toolbox:
        @agentprof.tool(name="lookup")
        def lookup(self, key):
            return key

    Toolbox().lookup("k")
    Toolbox().lookup("k")
    h = [s.attributes["agentprof.tool.args_hash"] for s in spans.by_name("execute_tool lookup")]
    assert len(h) == 2 and h[0] == h[1]


def test_exception_propagates_unchanged_and_span_is_error(spans):
    err = ValueError("boom")

    @agentprof.tool
    def bad():
        raise err

    with pytest.raises(ValueError) as info:
        bad()
    assert info.value is err
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "bad"  # the raising frame is still the last one
    s = spans.one("execute_tool bad")
    assert s.status.status_code.name == "ERROR"
    assert s.attributes["error.type"] == "ValueError"
    assert s.events[0].name == "exception"


def test_async_generator_and_generator_spans_cover_iteration(spans, clock):
    @agentprof.tool
    def count(n):
        for i in range(n):
            clock.advance(10_000_000)
            yield i
        return "end"

    @agentprof.retrieval(source="kb")
    async def stream(n):
        for i in range(n):
            await asyncio.sleep(0)
            clock.advance(10_000_000)
            yield i

    @agentprof.agent(name="a")
    async def run():
        got = [x async for x in stream(3)]
        return got + list(count(2))

    assert asyncio.run(run()) == [0, 1, 2, 0, 1]
    c = spans.one("execute_tool count")
    assert c.end_time - c.start_time >= 20_000_000
    st = spans.one("retrieval kb")
    assert st.end_time - st.start_time >= 30_000_000
    assert spans.parent_of(c).name == "invoke_agent a"
    assert spans.parent_of(st).name == "invoke_agent a"


def test_generator_error_and_early_close(spans):
    @agentprof.tool
    def broken():
        yield 1
        raise KeyError("k")

    g = broken()
    assert next(g) == 1
    with pytest.raises(KeyError):
        next(g)

    @agentprof.tool
    def endless():
        while True:
            yield 1

    g2 = endless()
    next(g2)
    g2.close()
    by = {s.name: s for s in spans.all()}
    assert by["execute_tool broken"].status.status_code.name == "ERROR"
    assert by["execute_tool endless"].status.status_code.name == "UNSET"


def test_async_function_and_concurrent_agents_do_not_cross(spans):
    @agentprof.step
    async def turn():
        await asyncio.sleep(0.001)

    @agentprof.agent
    async def worker(i):
        for _ in range(i):
            await turn()

    async def main():
        await asyncio.gather(worker(1), worker(2), worker(3))

    asyncio.run(main())
    agents = spans.by_name("invoke_agent worker")
    assert len(agents) == 3
    per_agent = {}
    for s in spans.all():
        if s.name.startswith("agent.step."):
            per_agent.setdefault(s.parent.span_id, []).append(s.attributes["agentprof.step.number"])
    assert sorted(sorted(v) for v in per_agent.values()) == [[1], [1, 2], [1, 2, 3]]


def test_llm_decorator_reads_usage_from_dicts_and_objects(spans):
    class Usage:
        input_tokens = 20
        output_tokens = 7
        cache_read_input_tokens = 100
        cache_creation_input_tokens = 30

    class Message:
        type = "message"
        role = "assistant"
        model = "claude-x"
        stop_reason = "end_turn"
        usage = Usage()

    @agentprof.llm(provider="anthropic")
    def call_anthropic():
        return Message()

    @agentprof.llm(model="gpt-4o", provider="openai")
    def call_openai():
        return {"model": "gpt-4o-2024", "usage": {"prompt_tokens": 50, "completion_tokens": 12,
                                                  "prompt_tokens_details": {"cached_tokens": 32}}}

    @agentprof.llm
    def call_langchain():
        return {"usage_metadata": {"input_tokens": 80, "output_tokens": 8, "input_token_details": {"cache_read": 10}}}

    call_anthropic()
    call_openai()
    call_langchain()
    a = spans.one("chat claude-x")
    assert a.attributes["gen_ai.usage.input_tokens"] == 150  # 20 + 100 + 30: Anthropic excludes the cache
    assert a.attributes["gen_ai.usage.cache_read.input_tokens"] == 100
    assert a.attributes["gen_ai.usage.cache_creation.input_tokens"] == 30
    assert a.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    o = spans.one("chat gpt-4o")
    assert o.attributes["gen_ai.usage.input_tokens"] == 50
    assert o.attributes["gen_ai.usage.cache_read.input_tokens"] == 32
    assert o.attributes["gen_ai.response.model"] == "gpt-4o-2024"
    assert o.kind.name == "CLIENT" and o.attributes["agentprof.span.category"] == "llm"
    lc = spans.one("chat")
    assert lc.attributes["gen_ai.usage.input_tokens"] == 80
    assert lc.attributes["gen_ai.usage.cache_read.input_tokens"] == 10


def test_span_context_manager_setters_and_async_with(spans, clock):
    with agentprof.span("approve", category="handoff", attributes={"x": "y"}) as s:
        clock.advance(3_000_000)
        s.set_ttft_ns()
        s.set_usage(input_tokens=10, output_tokens=2, cache_read_tokens=4, model="m1")
        s.set_prompt_sizes(system_chars=5, tool_schema_chars=6, history_chars=7, tool_output_chars=8)
        s.mark_human_approval()
        s.set("none.is.ignored", None)

    async def inner():
        async with agentprof.span("async-part") as s2:
            s2.set("k", 2)

    asyncio.run(inner())
    a = spans.one("approve")
    attrs = dict(a.attributes)
    assert attrs["agentprof.span.category"] == "handoff" and attrs["x"] == "y"
    assert attrs["agentprof.ttft_ns"] == 3_000_000 + clock.step_ns
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.004)
    assert attrs["gen_ai.usage.input_tokens"] == 10 and attrs["gen_ai.response.model"] == "m1"
    assert attrs["agentprof.prompt.tool_output_chars"] == 8
    assert attrs["agentprof.human_approval"] is True
    assert "none.is.ignored" not in attrs
    assert spans.one("async-part").attributes["agentprof.span.category"] == "other"


def test_content_capture_redacts_arguments(clock):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    mem = InMemorySpanExporter()
    agentprof.configure(exporter=mem, clock=clock, capture_content=True, set_global=False)
    try:
        @agentprof.tool
        def send(to, body, api_key):
            return None

        send("bob@example.com", "card 4111 1111 1111 1111 ok", api_key="sk-abcdefghijklmnopqrstuvwx")
        agentprof.flush()
        args = mem.get_finished_spans()[0].attributes["gen_ai.tool.call.arguments"]
    finally:
        agentprof.shutdown()
    assert "bob@example.com" not in args and "4111" not in args and "sk-abc" not in args
    assert "[REDACTED_EMAIL]" in args and "[REDACTED_CARD]" in args and "[REDACTED]" in args


def test_capture_content_env_var(monkeypatch, clock):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    monkeypatch.setenv("AGENTPROF_CAPTURE_CONTENT", "1")
    agentprof.configure(exporter=InMemorySpanExporter(), clock=clock, set_global=False)
    try:
        assert _state.capture_content is True
    finally:
        agentprof.shutdown()


def test_instrumentation_failure_never_reaches_user_code(spans, monkeypatch):
    class BrokenTracer:
        def start_span(self, *a, **k):
            raise RuntimeError("tracer broken")

    monkeypatch.setattr(_state, "tracer", BrokenTracer())

    @agentprof.tool
    def ok(x):
        return x * 2

    assert ok(21) == 42
    assert ok(1) == 2
    with agentprof.span("s") as s:
        s.set("a", 1)
    assert stats()["instrumentation_errors"] == 3


def test_nests_under_application_span_when_joining_its_provider():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app_mem, our_mem = InMemorySpanExporter(), InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(app_mem))
    import opentelemetry.trace as ot

    monkey = ot.get_tracer_provider
    ot.get_tracer_provider = lambda: app_provider  # as if the application had set it globally
    try:
        agentprof.configure(exporter=our_mem)
    finally:
        ot.get_tracer_provider = monkey
    try:
        @agentprof.tool
        def t():
            return 1

        with app_provider.get_tracer("app").start_as_current_span("request") as app_span:
            t()
        agentprof.flush()
    finally:
        agentprof.shutdown()
    ours = [s for s in our_mem.get_finished_spans() if s.name == "execute_tool t"]
    assert len(ours) == 1
    assert ours[0].parent.span_id == app_span.get_span_context().span_id
    # the app's own span reaches our exporter too: we joined its pipeline
    assert any(s.name == "request" for s in our_mem.get_finished_spans())
    # after shutdown our processor is out of the app's pipeline
    with app_provider.get_tracer("app").start_as_current_span("later"):
        pass
    assert not any(s.name == "later" for s in our_mem.get_finished_spans())


def test_deterministic_ids_with_id_generator(clock):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class Seq(IdGenerator):
        def __init__(self):
            self.n = 0

        def generate_span_id(self):
            self.n += 1
            return self.n

        def generate_trace_id(self):
            return 0xABC

    mem = InMemorySpanExporter()
    agentprof.configure(exporter=mem, clock=clock, id_generator=Seq(), set_global=False)
    try:
        @agentprof.agent
        def a():
            with agentprof.span("inner"):
                pass

        a()
        agentprof.flush()
    finally:
        agentprof.shutdown()
    got = sorted((s.context.trace_id, s.context.span_id) for s in mem.get_finished_spans())
    assert got == [(0xABC, 1), (0xABC, 2)]
