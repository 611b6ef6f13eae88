"""AgentprofCallbackHandler with a real LangChain agent (create_agent + fake chat model + @tool)."""

from __future__ import annotations

import asyncio

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agentprof.instrumentation.langchain import AgentprofCallbackHandler


class ToolCallingFake(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):  # the fakes raise NotImplementedError here
        return self


@tool
def get_weather(city: str) -> str:
    """Get weather for a city."""
    return f"rainy in {city}"


@tool
def explode(city: str) -> str:
    """Always fails."""
    raise RuntimeError("tool broke")


def _agent(tools=(get_weather,), tool_name="get_weather"):
    model = ToolCallingFake(messages=iter([
        AIMessage(content="", tool_calls=[{"name": tool_name, "args": {"city": "Paris"}, "id": "call_1"}],
                  usage_metadata={"input_tokens": 50, "output_tokens": 12, "total_tokens": 62,
                                  "input_token_details": {"cache_read": 32}}),
        AIMessage(content="It is rainy in Paris.",
                  usage_metadata={"input_tokens": 80, "output_tokens": 8, "total_tokens": 88,
                                  "output_token_details": {"reasoning": 3}}),
    ]))
    return create_agent(model, tools=list(tools), system_prompt="You are terse.")


INPUT = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}


def _check_run(spans, root):
    """One agent run: exact tree, categories, tokens, prompt sizes."""
    trace_id = root.context.trace_id
    run = [s for s in spans.all() if s.context.trace_id == trace_id]
    cats = sorted(s.attributes["agentprof.span.category"] for s in run)
    assert cats == ["agent", "chain", "chain", "chain", "llm", "llm", "tool"]
    llms = sorted((s for s in run if s.attributes["agentprof.span.category"] == "llm"), key=lambda s: s.start_time)
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in llms] == [50, 80]
    assert [s.attributes["gen_ai.usage.output_tokens"] for s in llms] == [12, 8]
    assert llms[0].attributes["gen_ai.usage.cache_read.input_tokens"] == 32
    assert llms[1].attributes["gen_ai.usage.reasoning.output_tokens"] == 3
    assert llms[0].attributes["agentprof.prompt.system_chars"] == len("You are terse.")
    assert llms[0].attributes["agentprof.prompt.history_chars"] == len("Weather in Paris?")
    assert llms[0].attributes["agentprof.prompt.tool_output_chars"] == 0
    assert llms[1].attributes["agentprof.prompt.tool_output_chars"] == len("rainy in Paris")
    assert llms[0].attributes["gen_ai.provider.name"] == "toolcallingfake"
    assert llms[0].kind.name == "CLIENT"
    for s in llms:
        assert spans.parent_of(s).name == "model"
        assert spans.parent_of(spans.parent_of(s)) is not None
        assert spans.parent_of(spans.parent_of(s)).context.span_id == root.context.span_id
    t = [s for s in run if s.attributes["agentprof.span.category"] == "tool"][0]
    assert t.name == "execute_tool get_weather"
    assert t.attributes["gen_ai.tool.call.id"] == "call_1"
    assert spans.parent_of(t).name == "tools"
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.parent is None
    return t


def test_sync_agent_run(spans):
    out = _agent().invoke(INPUT, config={"callbacks": [AgentprofCallbackHandler()]})
    assert out["messages"][-1].content == "It is rainy in Paris."
    roots = spans.by_name("invoke_agent LangGraph")
    assert len(roots) == 1
    t = _check_run(spans, roots[0])
    from agentprof.instrumentation._genai import args_hash

    assert t.attributes["agentprof.tool.args_hash"] == args_hash({"city": "Paris"})
    assert "gen_ai.tool.call.arguments" not in t.attributes


def test_async_concurrent_runs_do_not_cross(spans):
    handler = AgentprofCallbackHandler()  # one handler shared by all runs

    async def main():
        return await asyncio.gather(*[_agent().ainvoke(INPUT, config={"callbacks": [handler]}) for _ in range(4)])

    outs = asyncio.run(main())
    assert all(o["messages"][-1].content == "It is rainy in Paris." for o in outs)
    roots = spans.by_name("invoke_agent LangGraph")
    assert len(roots) == 4 and len({r.context.trace_id for r in roots}) == 4
    for root in roots:
        _check_run(spans, root)
    assert handler._runs == {}  # every run ended


def test_tool_error_is_recorded_and_nests_under_app_span(spans):
    import agentprof

    with agentprof.span("request", category="other"):
        with pytest.raises(RuntimeError, match="tool broke"):
            _agent(tools=(explode,), tool_name="explode").invoke(INPUT, config={"callbacks": [AgentprofCallbackHandler()]})
    t = spans.one("execute_tool explode")
    assert t.status.status_code.name == "ERROR" and t.attributes["error.type"] == "RuntimeError"
    root = spans.one("invoke_agent LangGraph")
    assert spans.parent_of(root).name == "request"
    assert root.status.status_code.name == "ERROR"


def test_streaming_records_ttft_and_lcel_chain(spans, clock):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("system", "sys"), ("human", "{q}")]) | FakeListChatModel(responses=["abc"])
    text = "".join(c.content for c in chain.stream({"q": "hello"}, config={"callbacks": [AgentprofCallbackHandler()]}))
    assert text == "abc"
    llm = [s for s in spans.all() if s.attributes["agentprof.span.category"] == "llm"][0]
    assert llm.attributes["agentprof.ttft_ns"] > 0
    assert llm.attributes["agentprof.prompt.system_chars"] == 3
    assert llm.attributes["agentprof.prompt.history_chars"] == 5
    seq = spans.parent_of(llm)
    assert seq.attributes["agentprof.span.category"] == "chain" and seq.parent is None


def test_handler_is_inert_without_configure():
    out = _agent().invoke(INPUT, config={"callbacks": [AgentprofCallbackHandler()]})
    assert out["messages"][-1].content == "It is rainy in Paris."


def test_retriever_and_completion_llm(spans):
    from langchain_core.documents import Document
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.retrievers import BaseRetriever

    class KB(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager=None):
            return [Document(page_content="a"), Document(page_content="b")]

    handler = AgentprofCallbackHandler()
    docs = KB().invoke("what?", config={"callbacks": [handler]})
    assert len(docs) == 2
    FakeListLLM(responses=["done"]).invoke("prompt text", config={"callbacks": [handler]})
    r = spans.one("retrieval KB")
    assert r.attributes["agentprof.span.category"] == "retrieval"
    assert r.attributes["agentprof.retrieval.documents"] == 2
    llm = [s for s in spans.all() if s.attributes["agentprof.span.category"] == "llm"][0]
    assert llm.attributes["gen_ai.operation.name"] == "text_completion"
    assert llm.attributes["agentprof.prompt.history_chars"] == len("prompt text")
