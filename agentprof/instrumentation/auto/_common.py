"""What every SDK patch shares: one LLM call as a span, and transparent stream proxies.

A :class:`LlmCall` is opened before the SDK method runs (request attributes, prompt-part
sizes, serialization time), fed each stream chunk, and closed with the response or the
exception. Stream proxies are ``wrapt.ObjectProxy`` objects, so ``isinstance`` checks,
``.response``, ``with`` blocks and every other attribute of the SDK stream keep working; the
proxy only observes chunks (and hides the usage-only chunk agentprof itself asked for).

Request serialization time is measured as the time (by the configured clock) to JSON-encode
the call's keyword arguments with orjson: a lower bound on the SDK's own request building,
which runs inside the HTTP client where it cannot be timed separately. The same encoding
gives ``agentprof.prompt.chars``, the size of the request body.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
import wrapt
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from agentprof.instrumentation import _genai as g
from agentprof.instrumentation import _state
from agentprof.instrumentation.privacy import redact_value

SKIP = object()
"""Returned by a chunk observer for a chunk the caller must not see."""


class LlmCall:
    """One instrumented LLM API call (a CLIENT span)."""

    __slots__ = ("span", "start_ns", "ended", "first_ns", "stream_attrs", "observe", "inject_hidden", "_token")

    def __init__(self, span: Any, start_ns: int) -> None:
        self.span = span
        self.start_ns = start_ns
        self.ended = False
        self.first_ns: int | None = None
        self.stream_attrs: dict[str, Any] = {}
        self.observe: Callable[[LlmCall, Any], Any] | None = None
        self.inject_hidden = False
        self._token: Any = None

    def enter(self) -> None:
        """Make the span current while the SDK sends the request (HTTP spans nest under it)."""
        try:
            self._token = otel_context.attach(set_span_in_context(self.span))
        except Exception as exc:
            _state.note_error("llm-call-attach", exc)

    def leave(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                otel_context.detach(token)
            except Exception as exc:
                _state.note_error("llm-call-detach", exc)

    @classmethod
    def open(cls, provider: str, model: Any, kwargs: dict[str, Any], sizes: Callable[[], dict[str, int]],
             operation: str = "chat") -> LlmCall | None:
        """Start the span. Never raises (returns None if instrumentation failed)."""
        try:
            clock = _state.clock
            start_ns = clock()
            attrs: dict[str, Any] = {
                g.CATEGORY: "llm",
                g.OPERATION: operation,
                g.PROVIDER: provider,
                "gen_ai.request.stream": bool(kwargs.get("stream")),
            }
            if isinstance(model, str):
                attrs[g.REQUEST_MODEL] = model
            for key, attr in (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p")):
                v = kwargs.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    attrs[attr] = float(v)
            for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
                v = kwargs.get(key)
                if type(v) is int:
                    attrs["gen_ai.request.max_tokens"] = v
                    break
            t0 = clock()
            body = orjson.dumps(kwargs, default=str, option=orjson.OPT_NON_STR_KEYS)
            attrs[g.SERIALIZATION_NS] = clock() - t0
            attrs[g.PROMPT_CHARS] = len(body)
            attrs.update(sizes())
            if _state.capture_content:
                content = {k: kwargs[k] for k in ("system", "instructions", "messages", "input") if k in kwargs}
                attrs["gen_ai.input.messages"] = orjson.dumps(redact_value(content), default=str).decode()
            name = f"{operation} {model}" if isinstance(model, str) else operation
            parent = None
            framework_run = _state.framework_llm.get()
            if framework_run is not None and not framework_run.ended:
                parent = set_span_in_context(framework_run.span)  # e.g. inside a LangChain chat model run
            span = _state.tracer.start_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attrs,
                                            start_time=start_ns)
            return cls(span, start_ns)
        except Exception as exc:
            _state.note_error("llm-call-open", exc)
            return None

    # -- outcomes -------------------------------------------------------------------------

    def finish(self, attrs: dict[str, Any]) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            span = self.span
            for k, v in attrs.items():
                if v is not None:
                    span.set_attribute(k, v)
            if g.INPUT_TOKENS in attrs:
                from agentprof.instrumentation.manual import note_child_usage

                note_child_usage()
            span.end(end_time=_state.clock())
        except Exception as exc:
            _state.note_error("llm-call-finish", exc)

    def fail(self, exc: BaseException) -> None:
        if self.ended:
            return
        try:
            span = self.span
            span.set_attribute(g.ERROR_TYPE, g.error_type(exc))
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))
            span.record_exception(exc, timestamp=_state.clock(), escaped=True)
        except Exception as err:
            _state.note_error("llm-call-fail", err)
        self.finish(self.stream_attrs)

    # -- streams --------------------------------------------------------------------------

    def chunk(self, chunk: Any) -> Any:
        """Observe one stream chunk; returns SKIP to hide it from the caller."""
        try:
            return self.observe(self, chunk) if self.observe is not None else None
        except Exception as exc:
            _state.note_error("llm-stream-chunk", exc)
            return None

    def first_output(self) -> None:
        """Mark the first chunk carrying output (TTFT)."""
        if self.first_ns is None:
            self.first_ns = now = _state.clock()
            ttft = now - self.start_ns
            self.stream_attrs[g.TTFT_NS] = ttft
            self.stream_attrs[g.TTFC_S] = ttft / 1e9

    def finish_stream(self) -> None:
        self.finish(self.stream_attrs)


class _CallProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """An SDK object whose use ends ``call``: closing it ends the span, and so does dropping
    it unclosed (a span is never left open or lost)."""

    def __init__(self, wrapped: Any, call: LlmCall) -> None:
        super().__init__(wrapped)
        self._self_call = call

    def __del__(self) -> None:
        try:
            self._self_call.finish_stream()
        except Exception:
            pass


class _SyncCallProxy(_CallProxy):
    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()


class _AsyncCallProxy(_CallProxy):
    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_call.finish_stream()


class SyncStreamProxy(_SyncCallProxy):
    """Wraps an SDK ``Stream``: same object to the caller, chunks observed on the way."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        call = self._self_call
        while True:
            try:
                item = self.__wrapped__.__next__()
            except StopIteration:
                call.finish_stream()
                raise
            except BaseException as exc:
                call.fail(exc)
                raise
            if call.chunk(item) is not SKIP:
                return item

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_call.finish_stream()


class AsyncStreamProxy(_AsyncCallProxy):
    """Async twin of :class:`SyncStreamProxy`."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        call = self._self_call
        while True:
            try:
                item = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                call.finish_stream()
                raise
            except BaseException as exc:
                call.fail(exc)
                raise
            if call.chunk(item) is not SKIP:
                return item

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_call.finish_stream()


def parsed_result(result: Any) -> Any:
    """The parsed model behind a ``with_raw_response`` result (parse() caches, so the caller's
    later ``.parse()`` returns the same object); other results unchanged."""
    if type(result).__name__ == "LegacyAPIResponse" and hasattr(result, "parse"):
        try:
            if getattr(result, "_is_sse_stream", False) or getattr(result, "_stream", False):
                return None
            return result.parse()
        except Exception:
            return None
    return result


RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""Both SDKs send this header on ``with_raw_response`` / ``with_streaming_response`` calls."""


def raw_request(kwargs: dict[str, Any]) -> bool:
    """True when the caller gets the HTTP response itself (and reads its bytes as sent)."""
    headers = kwargs.get("extra_headers")
    return isinstance(headers, dict) and any(str(k).lower() == RAW_RESPONSE_HEADER.lower() for k in headers)


def unread_response(result: Any, call: LlmCall, attrs_of: Callable[[Any], dict[str, Any]], *, stream: bool) -> Any:
    """A proxy that finishes ``call`` when the caller reads ``result``, an HTTP response whose
    body is not read yet (``with_streaming_response``, or a stream through
    ``with_raw_response``); None for any other result. ``attrs_of(parsed)`` gives the span
    attributes of the parsed response."""
    name = type(result).__name__
    if name == "AsyncAPIResponse" and hasattr(result, "parse"):
        return AsyncResponseProxy(result, call, attrs_of, stream)
    if (name == "APIResponse" or (name == "LegacyAPIResponse" and stream)) and hasattr(result, "parse"):
        return ResponseProxy(result, call, attrs_of, stream)
    return None


class ResponseProxy(_SyncCallProxy):
    """Wraps an SDK response the caller reads later. The call ends when the body is read
    (``parse``, ``read``, ``text``, ``json``) with the usage it reports; a stream's ``parse()``
    returns the observed stream, which ends the call at its end. Closing without reading
    (or after reading raw bytes or lines, which are not decoded) ends it without usage."""

    def __init__(self, wrapped: Any, call: LlmCall, attrs_of: Callable[[Any], dict[str, Any]], stream: bool) -> None:
        super().__init__(wrapped, call)
        self._self_attrs_of = attrs_of
        self._self_stream = stream
        self._self_proxies: dict[int, Any] = {}

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream:
            return _observed_stream(self, parsed)
        self._self_body_read()
        return parsed

    def read(self) -> Any:
        data = self.__wrapped__.read()
        self._self_body_read()
        return data

    def text(self) -> Any:
        data = self.__wrapped__.text()
        self._self_body_read()
        return data

    def json(self) -> Any:
        data = self.__wrapped__.json()
        self._self_body_read()
        return data

    def _self_body_read(self) -> None:
        call = self._self_call
        if self._self_stream or call.ended:
            return
        try:
            attrs = self._self_attrs_of(self.__wrapped__.parse())  # the SDK caches the parse
        except Exception as exc:
            _state.note_error("llm-raw-response", exc)
            attrs = {}
        call.finish(attrs)


class AsyncResponseProxy(_AsyncCallProxy):
    """Async twin of :class:`ResponseProxy` (its reads are coroutines)."""

    def __init__(self, wrapped: Any, call: LlmCall, attrs_of: Callable[[Any], dict[str, Any]], stream: bool) -> None:
        super().__init__(wrapped, call)
        self._self_attrs_of = attrs_of
        self._self_stream = stream
        self._self_proxies: dict[int, Any] = {}

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = await self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream:
            return _observed_stream(self, parsed)
        await self._self_body_read()
        return parsed

    async def read(self) -> Any:
        data = await self.__wrapped__.read()
        await self._self_body_read()
        return data

    async def text(self) -> Any:
        data = await self.__wrapped__.text()
        await self._self_body_read()
        return data

    async def json(self) -> Any:
        data = await self.__wrapped__.json()
        await self._self_body_read()
        return data

    async def _self_body_read(self) -> None:
        call = self._self_call
        if self._self_stream or call.ended:
            return
        try:
            attrs = self._self_attrs_of(await self.__wrapped__.parse())
        except Exception as exc:
            _state.note_error("llm-raw-response", exc)
            attrs = {}
        call.finish(attrs)


def _observed_stream(response: Any, parsed: Any) -> Any:
    """The stream a raw response parsed into, observed by the response's call (one proxy per
    stream: the SDK caches the parse, so a second ``parse()`` gets the same object)."""
    proxies = response._self_proxies
    key = id(parsed)
    if key not in proxies:
        if hasattr(parsed, "__next__"):
            proxies[key] = SyncStreamProxy(parsed, response._self_call)
        elif hasattr(parsed, "__anext__"):
            proxies[key] = AsyncStreamProxy(parsed, response._self_call)
        else:
            return parsed
    return proxies[key]
