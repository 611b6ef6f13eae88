"""Anthropic SDK patches: ``messages.create`` (sync/async, with or without ``stream=True``) and
the ``messages.stream(...)`` context manager.

Anthropic's ``input_tokens`` excludes the prompt cache, so the span's inclusive
``gen_ai.usage.input_tokens`` is ``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``. In a stream, ``message_start`` carries the input and cache
counts and each ``message_delta`` the cumulative output count (the last one wins).
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any, Callable

from agentprof.instrumentation import _genai as g
from agentprof.instrumentation import _state
from agentprof.instrumentation.auto._common import AsyncStreamProxy, LlmCall, SyncStreamProxy, unread_response

PROVIDER = "anthropic"

# Recent SDKs create their own OTel span per request when a tracer provider exists. Inside a
# call agentprof already records, that span would duplicate ours (and its tokens), so the
# client's tracer reads as None while one of our calls is in progress.
_IN_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("agentprof_anthropic_call", default=False)


def _observe(call: LlmCall, event: Any) -> Any:
    etype = getattr(event, "type", None)
    attrs = call.stream_attrs
    if etype == "message_start":
        message = getattr(event, "message", None)
        usage = getattr(message, "usage", None)
        if usage is not None:
            attrs.update(g.usage_attributes(usage, anthropic=True))
            attrs["_in"] = getattr(usage, "input_tokens", 0) or 0
        model = getattr(message, "model", None)
        if model:
            attrs[g.RESPONSE_MODEL] = model
    elif etype == "content_block_delta" or etype == "content_block_start":
        if call.first_ns is None and etype == "content_block_delta":
            call.first_output()
    elif etype == "message_delta":
        usage = getattr(event, "usage", None)
        if usage is not None:
            out = getattr(usage, "output_tokens", None)
            if isinstance(out, int):
                attrs[g.OUTPUT_TOKENS] = out  # cumulative: the last delta wins
            # Deltas may repeat the input/cache counts; when they do, they are authoritative.
            inp = getattr(usage, "input_tokens", None)
            cr = getattr(usage, "cache_read_input_tokens", None)
            cc = getattr(usage, "cache_creation_input_tokens", None)
            if any(isinstance(v, int) for v in (inp, cr, cc)):
                base = inp if isinstance(inp, int) else attrs.get("_in", 0)
                if isinstance(cr, int):
                    attrs[g.CACHE_READ] = cr
                if isinstance(cc, int):
                    attrs[g.CACHE_WRITE] = cc
                attrs["_in"] = base
                attrs[g.INPUT_TOKENS] = base + attrs.get(g.CACHE_READ, 0) + attrs.get(g.CACHE_WRITE, 0)
        reason = getattr(getattr(event, "delta", None), "stop_reason", None)
        if reason:
            attrs[g.FINISH_REASONS] = (reason,)
    return None


class _Call(LlmCall):
    __slots__ = ()

    def finish(self, attrs: dict[str, Any]) -> None:
        attrs.pop("_in", None)
        super().finish(attrs)


def _open(kwargs: dict[str, Any]) -> _Call | None:
    call = _Call.open(
        PROVIDER, kwargs.get("model"), kwargs,
        lambda: g.anthropic_prompt_sizes(kwargs.get("system"), kwargs.get("messages"), kwargs.get("tools")),
    )
    if call is not None:
        call.observe = _observe
    return call  # type: ignore[return-value]


def _sync_create(original: Any) -> Any:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _state.ENABLED:
            return original(self, *args, **kwargs)
        call = _open(kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        call.enter()
        token = _IN_CALL.set(True)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            _IN_CALL.reset(token)
            call.leave()
            call.fail(exc)
            raise
        _IN_CALL.reset(token)
        call.leave()
        if kwargs.get("stream") and hasattr(result, "__next__"):
            return SyncStreamProxy(result, call)
        unread = unread_response(result, call, _message_attrs, stream=bool(kwargs.get("stream")))
        if unread is not None:  # with_streaming_response: ends when the caller reads it
            return unread
        call.finish(_message_attrs(result))
        return result
    return create


def _async_create(original: Any) -> Any:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _state.ENABLED:
            return await original(self, *args, **kwargs)
        call = _open(kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        call.enter()
        token = _IN_CALL.set(True)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            _IN_CALL.reset(token)
            call.leave()
            call.fail(exc)
            raise
        _IN_CALL.reset(token)
        call.leave()
        if kwargs.get("stream") and hasattr(result, "__anext__"):
            return AsyncStreamProxy(result, call)
        unread = unread_response(result, call, _message_attrs, stream=bool(kwargs.get("stream")))
        if unread is not None:  # with_streaming_response: ends when the caller reads it
            return unread
        call.finish(_message_attrs(result))
        return result
    return create


def _message_attrs(result: Any) -> dict[str, Any]:
    try:
        from agentprof.instrumentation.auto._common import parsed_result

        parsed = parsed_result(result)
        if parsed is None:
            return {}
        attrs = g.response_attributes(parsed)
        usage = getattr(parsed, "usage", None)
        if usage is not None:  # a Message: Anthropic usage semantics even without cache fields
            attrs.update(g.usage_attributes(usage, anthropic=True))
        return attrs
    except Exception as exc:
        _state.note_error("anthropic-result", exc)
        return {}


# ---------------------------------------------------------------------------- messages.stream()


class _StreamManager:
    """Wraps ``MessageStreamManager``: the span covers ``with`` entry (the request) to exit."""

    def __init__(self, manager: Any, kwargs: dict[str, Any], is_async: bool) -> None:
        self._manager = manager
        self._kwargs = kwargs
        self._call: _Call | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    def _wrap(self, stream: Any, proxy: type) -> Any:
        call = self._call
        if call is not None:
            try:
                stream._raw_stream = proxy(stream._raw_stream, call)
            except Exception as exc:
                _state.note_error("anthropic-stream-manager", exc)
        return stream

    def __enter__(self) -> Any:
        self._call = _open(self._kwargs) if _state.ENABLED else None
        token = _IN_CALL.set(self._call is not None)
        try:
            stream = self._manager.__enter__()
        except BaseException as exc:
            if self._call is not None:
                self._call.fail(exc)
            raise
        finally:
            _IN_CALL.reset(token)
        return self._wrap(stream, SyncStreamProxy)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            if self._call is not None:
                if exc_info[1] is not None:
                    self._call.fail(exc_info[1])
                self._call.finish_stream()

    async def __aenter__(self) -> Any:
        self._call = _open(self._kwargs) if _state.ENABLED else None
        token = _IN_CALL.set(self._call is not None)
        try:
            stream = await self._manager.__aenter__()
        except BaseException as exc:
            if self._call is not None:
                self._call.fail(exc)
            raise
        finally:
            _IN_CALL.reset(token)
        return self._wrap(stream, AsyncStreamProxy)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc_info)
        finally:
            if self._call is not None:
                if exc_info[1] is not None:
                    self._call.fail(exc_info[1])
                self._call.finish_stream()


def _stream_method(is_async: bool) -> Callable[[Any], Any]:
    def make(original: Any) -> Any:
        @functools.wraps(original)
        def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
            manager = original(self, *args, **kwargs)
            if not _state.ENABLED:
                return manager
            return _StreamManager(manager, kwargs, is_async)
        return stream
    return make


def _quiet_tracer(original: Any) -> Any:
    """The client's ``_tracer`` property, reading None inside an agentprof-recorded call."""
    def fget(self: Any) -> Any:
        if _IN_CALL.get():
            return None
        return original.fget(self)
    return property(fget, doc=original.__doc__)


def install(patch: Callable[[type, str, Any], None]) -> None:
    """Patch the SDK classes (called by ``agentprof.instrument``)."""
    from anthropic import _base_client
    from anthropic.resources.messages import messages

    if isinstance(_base_client.BaseClient.__dict__.get("_tracer"), property):
        patch(_base_client.BaseClient, "_tracer", _quiet_tracer)

    patch(messages.Messages, "create", _sync_create)
    patch(messages.AsyncMessages, "create", _async_create)
    patch(messages.Messages, "stream", _stream_method(False))
    patch(messages.AsyncMessages, "stream", _stream_method(True))
