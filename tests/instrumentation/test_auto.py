"""agentprof.instrument(): the real OpenAI and Anthropic clients against a local server."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest

import agentprof
from llm_server import ANTHROPIC_INCLUSIVE_INPUT, ANTHROPIC_USAGE, CHAT_STREAM_PIECES, CHAT_USAGE, RESPONSES_USAGE

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "wx", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "rainy, 12C"},
]
TOOLS = [{"type": "function", "function": {"name": "wx", "description": "weather", "parameters": {"type": "object"}}}]


def _oai(srv):
    return openai.OpenAI(base_url=srv.openai_url, api_key="sk-test", max_retries=0)


def _ant(srv):
    return anthropic.Anthropic(base_url=srv.anthropic_url, api_key="test", max_retries=0)


def test_openai_chat_usage_model_and_prompt_sizes(spans, llm_server):
    agentprof.instrument("openai")
    result = _oai(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS,
                                                       temperature=0.2, max_tokens=100)
    assert result.choices[0].message.content == "Hello world"
    s = spans.one("chat gpt-4o")
    a = dict(s.attributes)
    assert s.kind.name == "CLIENT"
    assert a["gen_ai.provider.name"] == "openai" and a["agentprof.span.category"] == "llm"
    assert a["gen_ai.request.model"] == "gpt-4o" and a["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 100
    assert a["gen_ai.usage.input_tokens"] == CHAT_USAGE["prompt_tokens"] == 120
    assert a["gen_ai.usage.output_tokens"] == 30
    assert a["gen_ai.usage.cache_read.input_tokens"] == 64
    assert a["gen_ai.usage.reasoning.output_tokens"] == 5
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["agentprof.prompt.system_chars"] == len("You are terse.")
    assert a["agentprof.prompt.tool_output_chars"] == len("rainy, 12C")
    import orjson

    assert a["agentprof.prompt.history_chars"] == len("Weather in Paris?") + len(orjson.dumps(MESSAGES[2]["tool_calls"]))
    assert a["agentprof.prompt.tool_schema_chars"] == len(orjson.dumps(TOOLS))
    assert a["agentprof.request.serialization_ns"] >= 0 and a["agentprof.prompt.chars"] > 200
    assert "gen_ai.input.messages" not in a  # content capture is off


def _chunk_dump(chunks):
    return [c.model_dump() for c in chunks]


def test_openai_stream_chunks_unchanged_usage_injected_and_hidden(spans, llm_server):
    client = _oai(llm_server)
    plain = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES[:2], stream=True))
    agentprof.instrument("openai")
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES[:2], stream=True)
    assert isinstance(stream, openai.Stream)
    seen = list(stream)
    assert len(seen) == len(plain) == len(CHAT_STREAM_PIECES) + 2
    assert [c.choices[0].delta.content for c in seen] == [c.choices[0].delta.content for c in plain]
    assert all(c.usage is None for c in seen)  # the usage-only chunk never reaches the caller
    assert llm_server.requests[-1][1]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in llm_server.requests[0][1]
    a = dict(spans.one("chat gpt-4o").attributes)
    assert a["gen_ai.usage.input_tokens"] == 120 and a["gen_ai.usage.output_tokens"] == 30
    assert a["gen_ai.usage.cache_read.input_tokens"] == 64
    assert a["agentprof.ttft_ns"] > 0
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(a["agentprof.ttft_ns"] / 1e9)
    assert a["gen_ai.response.finish_reasons"] == ("stop",)


def test_openai_stream_caller_asked_for_usage_keeps_usage_chunk(spans, llm_server):
    agentprof.instrument("openai")
    with _oai(llm_server).chat.completions.create(model="gpt-4o", messages=MESSAGES[:2], stream=True,
                                                   stream_options={"include_usage": True}) as stream:
        seen = list(stream)
    assert len(seen) == len(CHAT_STREAM_PIECES) + 3
    assert seen[-1].usage.prompt_tokens == 120 and seen[-1].choices == []
    assert spans.one("chat gpt-4o").attributes["gen_ai.usage.input_tokens"] == 120


def test_openai_error_propagates_unchanged(spans, llm_server):
    agentprof.instrument("openai")
    with pytest.raises(openai.BadRequestError) as info:
        _oai(llm_server).chat.completions.create(model="bad", messages=MESSAGES[:2])
    assert info.value.status_code == 400
    s = spans.one("chat bad")
    assert s.status.status_code.name == "ERROR"
    assert s.attributes["error.type"] == "openai.BadRequestError"


def test_openai_async_stream_and_responses_api(spans, llm_server):
    agentprof.instrument()

    async def run():
        client = openai.AsyncOpenAI(base_url=llm_server.openai_url, api_key="sk-test", max_retries=0)
        stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES[:2], stream=True)
        chunks = [c async for c in stream]
        resp = await client.responses.create(model="gpt-4.1", input="hi", instructions="Be brief.")
        events = [e.type async for e in await client.responses.create(model="gpt-4.1", input="hi", stream=True)]
        return chunks, resp, events

    chunks, resp, events = asyncio.run(run())
    assert len(chunks) == len(CHAT_STREAM_PIECES) + 2
    assert resp.output_text == "Hi there"
    assert events == ["response.created", "response.output_text.delta", "response.output_text.delta", "response.completed"]
    chat = dict(spans.one("chat gpt-4o-mini").attributes)
    assert chat["gen_ai.usage.input_tokens"] == 120 and chat["agentprof.ttft_ns"] > 0
    rs = sorted(spans.by_name("chat gpt-4.1"), key=lambda s: s.start_time)
    assert len(rs) == 2
    for s in rs:
        assert s.attributes["gen_ai.usage.input_tokens"] == RESPONSES_USAGE["input_tokens"] == 100
        assert s.attributes["gen_ai.usage.cache_read.input_tokens"] == 40
        assert s.attributes["gen_ai.usage.output_tokens"] == 20
    assert rs[0].attributes["agentprof.prompt.system_chars"] == len("Be brief.")
    assert "agentprof.ttft_ns" in rs[1].attributes and "agentprof.ttft_ns" not in rs[0].attributes


def test_openai_with_raw_response_still_recorded(spans, llm_server):
    agentprof.instrument("openai")
    raw = _oai(llm_server).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES[:2])
    assert raw.parse().usage.prompt_tokens == 120
    assert spans.one("chat gpt-4o").attributes["gen_ai.usage.input_tokens"] == 120


def test_anthropic_create_inclusive_input(spans, llm_server):
    agentprof.instrument("anthropic")
    msg = _ant(llm_server).messages.create(
        model="claude-sonnet-4", max_tokens=256, system="You are terse.",
        messages=[{"role": "user", "content": "hi"},
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "wx", "input": {"c": 1}}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}])
    assert msg.usage.input_tokens == ANTHROPIC_USAGE["input_tokens"] == 20  # caller's object untouched
    a = dict(spans.one("chat claude-sonnet-4").attributes)
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.usage.input_tokens"] == ANTHROPIC_INCLUSIVE_INPUT == 150
    assert a["gen_ai.usage.cache_read.input_tokens"] == 100
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 30
    assert a["gen_ai.usage.output_tokens"] == 15
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert a["gen_ai.request.max_tokens"] == 256
    assert a["agentprof.prompt.system_chars"] == len("You are terse.")
    assert a["agentprof.prompt.tool_output_chars"] == len("sunny")
    assert a["agentprof.prompt.history_chars"] == len("hi") + len('{"c":1}') + len("wx")


def test_anthropic_stream_true_and_stream_manager(spans, llm_server):
    client = _ant(llm_server)
    kwargs = dict(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    plain = [e.type for e in client.messages.create(stream=True, **kwargs)]
    agentprof.instrument("anthropic")
    events = [e.type for e in client.messages.create(stream=True, **kwargs)]
    assert events == plain
    with client.messages.stream(**kwargs) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from Claude" and final.usage.output_tokens == 15
    got = spans.by_name("chat claude-haiku-4-5")
    assert len(got) == 2
    for s in got:
        assert s.attributes["gen_ai.usage.input_tokens"] == 150
        assert s.attributes["gen_ai.usage.output_tokens"] == 15  # last message_delta, not a sum
        assert s.attributes["agentprof.ttft_ns"] > 0
        assert s.attributes["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_anthropic_async_and_error(spans, llm_server):
    agentprof.instrument("anthropic")

    async def run():
        client = anthropic.AsyncAnthropic(base_url=llm_server.anthropic_url, api_key="test", max_retries=0)
        stream = await client.messages.create(model="claude-opus-4", max_tokens=8, stream=True,
                                              messages=[{"role": "user", "content": "hi"}])
        n = len([e async for e in stream])
        async with client.messages.stream(model="claude-opus-4", max_tokens=8,
                                          messages=[{"role": "user", "content": "hi"}]) as s:
            text = "".join([t async for t in s.text_stream])
        return n, text

    n, text = asyncio.run(run())
    assert n == 7 and text == "Hello from Claude"
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans.by_name("chat claude-opus-4")] == [150, 150]
    with pytest.raises(anthropic.BadRequestError):
        _ant(llm_server).messages.create(model="bad", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    bad = spans.one("chat bad")
    assert bad.status.status_code.name == "ERROR" and bad.attributes["error.type"] == "anthropic.BadRequestError"


def test_llm_decorator_does_not_double_count_sdk_usage(spans, llm_server):
    agentprof.instrument("openai")
    client = _oai(llm_server)

    @agentprof.llm(name="planner")
    def plan():
        return client.chat.completions.create(model="gpt-4o", messages=MESSAGES[:2])

    plan()
    outer = spans.one("chat")
    assert "gen_ai.usage.input_tokens" not in outer.attributes
    assert spans.one("chat gpt-4o").attributes["gen_ai.usage.input_tokens"] == 120


def test_uninstrument_restores_methods_and_disabled_path(spans, llm_server):
    from openai.resources.chat.completions.completions import Completions

    original = Completions.create
    agentprof.instrument("openai")
    assert Completions.create is not original and Completions.create.__wrapped__ is original
    agentprof.uninstrument()
    assert Completions.create is original
    with pytest.raises(ValueError):
        agentprof.instrument("nope")


def test_openai_with_streaming_response_records_usage_when_read(spans, llm_server):
    """``with_streaming_response`` hands back the response before its body is read: the span
    ends when the caller parses it, with the usage the server sent."""
    agentprof.instrument("openai")
    client = _oai(llm_server)
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES[:2]) as resp:
        assert spans.by_name("chat gpt-4o") == []  # not read yet: the call is still open
        completion = resp.parse()
        assert resp.parse() is completion
    assert completion.usage.prompt_tokens == 120 and completion.choices[0].message.content == "Hello world"
    a = dict(spans.one("chat gpt-4o").attributes)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (120, 30)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 64 and a["gen_ai.response.finish_reasons"] == ("stop",)


def test_openai_with_streaming_response_read_as_json_or_only_closed(spans, llm_server):
    agentprof.instrument("openai")
    client = _oai(llm_server)
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES[:2]) as resp:
        body = resp.json()
    assert body["usage"]["prompt_tokens"] == 120
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES[:2]):
        pass  # closed unread: the span still ends (no usage to report), it is not lost
    read, unread = spans.by_name("chat gpt-4o")
    assert read.attributes["gen_ai.usage.input_tokens"] == 120
    assert "gen_ai.usage.input_tokens" not in unread.attributes and unread.end_time >= unread.start_time


def test_openai_raw_stream_is_observed_and_left_as_sent(spans, llm_server):
    """A stream through with_streaming_response / with_raw_response: the caller's chunks are
    exactly the server's (no usage chunk asked for), the span gets TTFT and finish reason,
    and usage when the caller asked for it."""
    client = _oai(llm_server)
    plain = [c.model_dump() for c in client.chat.completions.create(model="gpt-4o", messages=MESSAGES[:2], stream=True)]
    agentprof.instrument("openai")
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES[:2], stream=True) as resp:
        seen = [c.model_dump() for c in resp.parse()]
    assert seen == plain and "stream_options" not in llm_server.requests[-1][1]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES[:2], stream=True,
                                                           stream_options={"include_usage": True})
    with_usage = list(raw.parse())
    assert with_usage[-1].usage.prompt_tokens == 120
    first, second = spans.by_name("chat gpt-4o")
    assert first.attributes["agentprof.ttft_ns"] > 0 and first.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.usage.input_tokens" not in first.attributes  # the caller did not ask the server for it
    assert second.attributes["gen_ai.usage.input_tokens"] == 120 and second.attributes["agentprof.ttft_ns"] > 0


def test_openai_async_with_streaming_response(spans, llm_server):
    agentprof.instrument("openai")

    async def main():
        client = openai.AsyncOpenAI(base_url=llm_server.openai_url, api_key="sk-test", max_retries=0)
        async with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES[:2]) as resp:
            return await resp.parse()

    completion = asyncio.run(main())
    assert completion.usage.completion_tokens == 30
    assert spans.one("chat gpt-4o").attributes["gen_ai.usage.output_tokens"] == 30


def test_anthropic_with_streaming_response_records_usage_when_read(spans, llm_server):
    agentprof.instrument("anthropic")
    client = _ant(llm_server)
    kwargs = dict(model="claude-sonnet-4", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    with client.messages.with_streaming_response.create(**kwargs) as resp:
        message = resp.parse()
    with client.messages.with_streaming_response.create(stream=True, **kwargs) as resp:
        events = [e.type for e in resp.parse()]
    assert message.usage.input_tokens == ANTHROPIC_USAGE["input_tokens"] and events[-1] == "message_stop"
    for s in spans.by_name("chat claude-sonnet-4"):
        assert s.attributes["gen_ai.usage.input_tokens"] == ANTHROPIC_INCLUSIVE_INPUT == 150
        assert s.attributes["gen_ai.usage.output_tokens"] == 15
    assert len(spans.by_name("chat claude-sonnet-4")) == 2
