"""OpenAI SDK patches: ``chat.completions.create`` and ``responses.create``, sync and async.

Chat streams only report usage when asked (``stream_options={"include_usage": True}``): if
the caller did not ask, the patch asks, reads the extra usage-only chunk (``choices == []``)
and hides it, so the caller sees exactly the chunks they would have seen without agentprof.
Through ``with_raw_response``/``with_streaming_response`` the caller reads the bytes as sent,
so nothing is asked for there. ``with_streaming_response`` returns the response before its
body is read: the span ends when the caller reads it (``parse()``: with its usage).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from agentprof.instrumentation import _genai as g
from agentprof.instrumentation import _state
from agentprof.instrumentation.auto._common import (
    SKIP,
    AsyncStreamProxy,
    LlmCall,
    SyncStreamProxy,
    parsed_result,
    raw_request,
    unread_response,
)

PROVIDER = "openai"


# ---------------------------------------------------------------------------- chat completions


def _chat_observe(call: LlmCall, chunk: Any) -> Any:
    usage = getattr(chunk, "usage", None)
    choices = getattr(chunk, "choices", None)
    model = getattr(chunk, "model", None)
    attrs = call.stream_attrs
    if model and g.RESPONSE_MODEL not in attrs:
        attrs[g.RESPONSE_MODEL] = model
    if choices:
        if call.first_ns is None:
            call.first_output()
        reasons = attrs.get(g.FINISH_REASONS, ())
        for c in choices:
            r = getattr(c, "finish_reason", None)
            if r:
                reasons = (*reasons, r)
        if reasons:
            attrs[g.FINISH_REASONS] = reasons
    if usage is not None:
        attrs.update(g.usage_attributes(usage))
        if call.inject_hidden and not choices:
            return SKIP  # the usage-only chunk we asked for; the caller did not
    return None


def _chat_open(kwargs: dict[str, Any]) -> tuple[LlmCall | None, dict[str, Any]]:
    call = LlmCall.open(
        PROVIDER, kwargs.get("model"), kwargs,
        lambda: g.openai_prompt_sizes(kwargs.get("messages"), kwargs.get("tools")),
    )
    if call is None or not kwargs.get("stream"):
        return call, kwargs
    call.observe = _chat_observe
    if raw_request(kwargs):  # the caller reads the response as sent: nothing added, nothing hidden
        return call, kwargs
    try:
        options = kwargs.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage")):
            kwargs = dict(kwargs)
            kwargs["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
            call.inject_hidden = True
    except Exception as exc:
        _state.note_error("openai-stream-options", exc)
    return call, kwargs


def _result_attrs(result: Any) -> dict[str, Any]:
    parsed = parsed_result(result)
    attrs = g.response_attributes(parsed) if parsed is not None else {}
    status = getattr(parsed, "status", None)
    if g.FINISH_REASONS not in attrs and isinstance(status, str) and getattr(parsed, "object", None) == "response":
        attrs[g.FINISH_REASONS] = (status,)
    return attrs


def _sync(open_call: Callable[[dict[str, Any]], tuple[LlmCall | None, dict[str, Any]]]) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        @functools.wraps(original)
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _state.ENABLED:
                return original(self, *args, **kwargs)
            call, call_kwargs = open_call(kwargs)
            if call is None:
                return original(self, *args, **kwargs)
            call.enter()
            try:
                result = original(self, *args, **call_kwargs)
            except BaseException as exc:
                call.leave()
                call.fail(exc)
                raise
            call.leave()
            stream = bool(call_kwargs.get("stream"))
            if call.observe is not None and stream and hasattr(result, "__next__"):
                return SyncStreamProxy(result, call)
            unread = unread_response(result, call, _result_attrs, stream=stream)
            if unread is not None:  # with_streaming_response: ends when the caller reads it
                return unread
            try:
                call.finish(_result_attrs(result))
            except Exception as exc:
                _state.note_error("openai-result", exc)
            return result
        return create
    return make


def _async(open_call: Callable[[dict[str, Any]], tuple[LlmCall | None, dict[str, Any]]]) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        @functools.wraps(original)
        async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not _state.ENABLED:
                return await original(self, *args, **kwargs)
            call, call_kwargs = open_call(kwargs)
            if call is None:
                return await original(self, *args, **kwargs)
            call.enter()
            try:
                result = await original(self, *args, **call_kwargs)
            except BaseException as exc:
                call.leave()
                call.fail(exc)
                raise
            call.leave()
            stream = bool(call_kwargs.get("stream"))
            if call.observe is not None and stream and hasattr(result, "__anext__"):
                return AsyncStreamProxy(result, call)
            unread = unread_response(result, call, _result_attrs, stream=stream)
            if unread is not None:  # with_streaming_response: ends when the caller reads it
                return unread
            try:
                call.finish(_result_attrs(result))
            except Exception as exc:
                _state.note_error("openai-result", exc)
            return result
        return create
    return make


# ---------------------------------------------------------------------------- responses


def _responses_observe(call: LlmCall, event: Any) -> Any:
    etype = getattr(event, "type", "") or ""
    if call.first_ns is None and etype.endswith(".delta"):
        call.first_output()
    if etype in ("response.completed", "response.incomplete", "response.failed"):
        response = getattr(event, "response", None)
        if response is not None:
            call.stream_attrs.update(_result_attrs(response))
    return None


def _responses_open(kwargs: dict[str, Any]) -> tuple[LlmCall | None, dict[str, Any]]:
    call = LlmCall.open(
        PROVIDER, kwargs.get("model"), kwargs,
        lambda: g.openai_prompt_sizes(kwargs.get("input"), kwargs.get("tools"), kwargs.get("instructions")),
    )
    if call is not None and kwargs.get("stream"):
        call.observe = _responses_observe
    return call, kwargs


def install(patch: Callable[[type, str, Any], None]) -> None:
    """Patch the SDK classes (called by ``agentprof.instrument``)."""
    from openai.resources.chat.completions import completions as chat
    from openai.resources.responses import responses

    patch(chat.Completions, "create", _sync(_chat_open))
    patch(chat.AsyncCompletions, "create", _async(_chat_open))
    patch(responses.Responses, "create", _sync(_responses_open))
    patch(responses.AsyncResponses, "create", _async(_responses_open))
