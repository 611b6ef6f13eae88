"""Spans written by each instrumentation layer, read back by ``agentprof.ingest.ingest_files``."""

from __future__ import annotations

import openai
import pytest

import agentprof
from agentprof.ingest import ingest_files
from agentprof.store import open_store


@pytest.fixture
def trace_dir(tmp_path, clock):
    agentprof.configure(tmp_path, clock=clock, service_name="e2e", set_global=False)
    try:
        yield tmp_path
    finally:
        agentprof.uninstrument()
        agentprof.shutdown()


def _ingest(directory):
    agentprof.shutdown()  # flush and close the file
    con = open_store()
    sources = ingest_files(con, [directory])
    assert len(sources) == 1 and sources[0].spans_skipped == 0, sources
    return con


def test_manual_layer_analyzes(trace_dir, clock):
    @agentprof.tool
    def search(q):
        clock.advance(200_000_000)
        return q

    @agentprof.llm(model="gpt-4o", provider="openai")
    def think(n):
        clock.advance(1_000_000_000)
        return {"model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": 100 * n, "completion_tokens": 10,
                          "prompt_tokens_details": {"cached_tokens": 40}}}

    @agentprof.step
    def turn(n):
        think(n)
        search("x")

    @agentprof.agent(name="planner")
    def run():
        for n in (1, 2, 3):
            turn(n)

    run()
    con = _ingest(trace_dir)
    rows = con.execute("SELECT category, count(*) FROM spans GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("agent", 1), ("llm", 3), ("step", 3), ("tool", 3)]
    assert con.execute("SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens) FROM spans").fetchone() \
        == (600, 30, 120)
    steps = con.execute("SELECT step_number FROM spans WHERE category='step' ORDER BY start_ns").fetchall()
    assert [r[0] for r in steps] == [1, 2, 3]
    assert con.execute("SELECT DISTINCT agent_name, service_name, provider, response_model FROM spans "
                       "WHERE category='llm'").fetchall() == [("planner", "e2e", "openai", "gpt-4o-2024-08-06")]
    assert con.execute("SELECT count(DISTINCT tool_args_hash), min(end_ns - start_ns) FROM spans "
                       "WHERE category='tool'").fetchone() == (1, 201_000_000)


def test_auto_layer_analyzes(trace_dir, llm_server):
    agentprof.instrument()
    import anthropic

    oai = openai.OpenAI(base_url=llm_server.openai_url, api_key="sk-test", max_retries=0)
    list(oai.chat.completions.create(model="gpt-4o", stream=True,
                                     messages=[{"role": "system", "content": "abc"}, {"role": "user", "content": "hi"}]))
    ant = anthropic.Anthropic(base_url=llm_server.anthropic_url, api_key="x", max_retries=0, open_telemetry=False)
    ant.messages.create(model="claude-sonnet-4", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    con = _ingest(trace_dir)
    rows = con.execute("SELECT provider, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
                       "ttft_ns IS NOT NULL, system_chars, category FROM spans ORDER BY provider").fetchall()
    assert rows == [("anthropic", 150, 15, 100, 30, False, 0, "llm"), ("openai", 120, 30, 64, None, True, 3, "llm")]


def test_langchain_layer_analyzes(trace_dir):
    from test_langchain import INPUT, _agent

    from agentprof.instrumentation.langchain import AgentprofCallbackHandler

    _agent().invoke(INPUT, config={"callbacks": [AgentprofCallbackHandler()]})
    con = _ingest(trace_dir)
    cats = con.execute("SELECT category, count(*) FROM spans GROUP BY 1 ORDER BY 1").fetchall()
    assert cats == [("agent", 1), ("chain", 3), ("llm", 2), ("tool", 1)]
    assert con.execute("SELECT sum(input_tokens), sum(output_tokens), sum(cache_read_tokens) FROM spans").fetchone() \
        == (130, 20, 32)
    assert con.execute("SELECT tool_name, tool_call_id FROM spans WHERE category='tool'").fetchone() \
        == ("get_weather", "call_1")
    assert con.execute("SELECT list(tool_output_chars ORDER BY start_ns) FROM spans WHERE category='llm'").fetchone()[0] \
        == [0, len("rainy in Paris")]


_GLOBAL_PROVIDER_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from llm_server import LlmServer
import agentprof, anthropic
agentprof.configure({out!r})          # installs the global provider: the SDK's own tracing sees it
agentprof.instrument("anthropic")
with LlmServer(lifetime_s=60) as srv:
    client = anthropic.Anthropic(base_url=srv.anthropic_url, api_key="x", max_retries=0)
    client.messages.create(model="claude-sonnet-4", max_tokens=10, messages=[{{"role": "user", "content": "hi"}}])
    list(client.messages.create(model="claude-sonnet-4", max_tokens=10, stream=True,
                                messages=[{{"role": "user", "content": "hi"}}]))
agentprof.shutdown()
"""


def test_anthropic_sdk_own_spans_do_not_double_count(tmp_path):
    """With a global provider, the Anthropic SDK traces its requests itself; inside an
    agentprof-recorded call its span is suppressed, so each call's tokens appear once."""
    import os
    import subprocess
    import sys

    here = os.path.dirname(__file__)
    script = _GLOBAL_PROVIDER_SCRIPT.format(here=here, out=str(tmp_path))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    con = open_store()
    ingest_files(con, [tmp_path])
    assert con.execute("SELECT count(*), sum(input_tokens), sum(output_tokens) FROM spans WHERE category='llm'") \
        .fetchone() == (2, 300, 30)


def test_langchain_model_calling_an_instrumented_sdk_counts_tokens_once(trace_dir, llm_server):
    """A LangChain chat model whose calls go through the (patched) OpenAI SDK: the SDK span
    nests under the LangChain LLM span, which ingest then treats as a wrapper."""
    import asyncio

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from agentprof.instrumentation.langchain import AgentprofCallbackHandler

    sync_client = openai.OpenAI(base_url=llm_server.openai_url, api_key="sk-test", max_retries=0)
    async_client = openai.AsyncOpenAI(base_url=llm_server.openai_url, api_key="sk-test", max_retries=0)

    def to_result(resp):
        usage = {"input_tokens": resp.usage.prompt_tokens, "output_tokens": resp.usage.completion_tokens,
                 "total_tokens": resp.usage.total_tokens}
        msg = AIMessage(content=resp.choices[0].message.content, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=msg)])

    class SdkChat(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "sdk-chat"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            return to_result(sync_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}]))

        async def _agenerate(self, messages, stop=None, run_manager=None, **kwargs):
            resp = await async_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
            return to_result(resp)

    agentprof.instrument("openai")
    handler = AgentprofCallbackHandler()
    model = SdkChat()
    model.invoke("hi", config={"callbacks": [handler]})

    async def concurrent():
        await asyncio.gather(*(model.ainvoke("hi", config={"callbacks": [handler]}) for _ in range(3)))

    asyncio.run(concurrent())
    con = _ingest(trace_dir)
    assert con.execute("SELECT count(*), sum(input_tokens), sum(output_tokens) FROM spans WHERE category='llm'") \
        .fetchone() == (4, 480, 120)
    # every SDK span sits under its own LangChain run
    assert con.execute("SELECT count(DISTINCT parent_span_id) FROM spans WHERE category='llm'").fetchone() == (4,)
