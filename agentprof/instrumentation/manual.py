"""Manual instrumentation: ``agentprof.span(...)`` and the ``@agent/@step/@tool/@llm/@retrieval``
decorators.

Spans follow the OTel GenAI conventions without the user spelling them out:

=============  ==========================  ===============================================
decorator      span name                   attributes
=============  ==========================  ===============================================
``@agent``     ``invoke_agent {name}``     gen_ai.operation.name=invoke_agent, gen_ai.agent.name
``@step``      ``agent.step.{n}``          agentprof.step.number=n (1-based per enclosing agent)
``@tool``      ``execute_tool {name}``     gen_ai.tool.name, agentprof.tool.args_hash
``@retrieval`` ``retrieval {source}``      gen_ai.operation.name=retrieval, gen_ai.data_source.id
``@llm``       ``chat {model}``            usage/model/finish reason from the return value
=============  ==========================  ===============================================

Every span carries ``agentprof.span.category``. When nothing is configured the decorators
check one module flag and call straight through. Exceptions raised by the user's code pass
through unchanged (same object, traceback intact); failures of the instrumentation itself
are counted and logged once, never raised.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentprof.instrumentation import _genai as g
from agentprof.instrumentation import _state
from agentprof.instrumentation.privacy import redact_value

_INTERNAL = SpanKind.INTERNAL
_CLIENT = SpanKind.CLIENT
_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach


class _AgentFrame:
    """Per agent invocation: counts the steps inside it."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


class _LlmFrame:
    """Per ``@llm`` call: set when an SDK span inside it already recorded usage."""

    __slots__ = ("child_usage",)

    def __init__(self) -> None:
        self.child_usage = False


_AGENT: contextvars.ContextVar[_AgentFrame | None] = contextvars.ContextVar("agentprof_agent", default=None)
_LLM: contextvars.ContextVar[_LlmFrame | None] = contextvars.ContextVar("agentprof_llm", default=None)
_root_steps: dict[int, int] = {}  # trace id -> steps seen, for @step outside any @agent


def note_child_usage() -> None:
    """Called by the SDK patches: usage was recorded on a span inside the current ``@llm``."""
    frame = _LLM.get()
    if frame is not None:
        frame.child_usage = True


def _next_step_number() -> int:
    frame = _AGENT.get()
    if frame is not None:
        frame.steps += 1
        return frame.steps
    trace_id = trace.get_current_span().get_span_context().trace_id
    if not trace_id:
        return 1
    if len(_root_steps) > 4096:
        _root_steps.clear()
    n = _root_steps.get(trace_id, 0) + 1
    _root_steps[trace_id] = n
    return n


# ---------------------------------------------------------------------------- span handle


class Span:
    """What ``with agentprof.span(...) as s`` yields: a few setters over one OTel span."""

    __slots__ = ("_span", "_start_ns")

    def __init__(self, otel_span: Any, start_ns: int) -> None:
        self._span = otel_span
        self._start_ns = start_ns

    @property
    def otel_span(self) -> Any:
        """The underlying OpenTelemetry span (for anything the setters do not cover)."""
        return self._span

    def set(self, key: str, value: Any) -> Span:
        """Set one attribute (``None`` is ignored)."""
        if value is not None:
            try:
                self._span.set_attribute(key, value)
            except Exception as exc:
                _state.note_error("span-set", exc)
        return self

    def set_attributes(self, attributes: dict[str, Any]) -> Span:
        for key, value in attributes.items():
            self.set(key, value)
        return self

    def set_usage(self, usage: Any = None, /, *, input_tokens: int | None = None, output_tokens: int | None = None,
                  cache_read_tokens: int | None = None, cache_write_tokens: int | None = None,
                  reasoning_tokens: int | None = None, model: str | None = None) -> Span:
        """Record token usage: a provider response/usage object or dict, or explicit counts.

        ``input_tokens`` is inclusive of cache reads and writes (GenAI convention).
        """
        try:
            if usage is not None:
                attrs = g.response_attributes(usage) or g.usage_attributes(usage)
                self.set_attributes(attrs)
            self.set(g.INPUT_TOKENS, input_tokens)
            self.set(g.OUTPUT_TOKENS, output_tokens)
            self.set(g.CACHE_READ, cache_read_tokens)
            self.set(g.CACHE_WRITE, cache_write_tokens)
            self.set(g.REASONING, reasoning_tokens)
            self.set(g.RESPONSE_MODEL, model)
        except Exception as exc:
            _state.note_error("set-usage", exc)
        return self

    def set_prompt_sizes(self, *, system_chars: int | None = None, tool_schema_chars: int | None = None,
                         history_chars: int | None = None, tool_output_chars: int | None = None) -> Span:
        """Record the sizes of the prompt parts sent with an LLM call (characters)."""
        self.set(g.SYSTEM_CHARS, system_chars)
        self.set(g.TOOL_SCHEMA_CHARS, tool_schema_chars)
        self.set(g.HISTORY_CHARS, history_chars)
        return self.set(g.TOOL_OUTPUT_CHARS, tool_output_chars)

    def set_ttft_ns(self, ttft_ns: int | None = None) -> Span:
        """Record time to first token: ``ttft_ns`` after the span start, or now (by the configured clock)."""
        try:
            if ttft_ns is None:
                ttft_ns = _state.clock() - self._start_ns
            self.set(g.TTFT_NS, int(ttft_ns))
            self.set(g.TTFC_S, ttft_ns / 1e9)
        except Exception as exc:
            _state.note_error("set-ttft", exc)
        return self

    def mark_human_approval(self, approved: bool = True) -> Span:
        """Mark that this span waited for / records a human approval (escalation)."""
        return self.set(g.HUMAN_APPROVAL, bool(approved))


class _NoopSpan(Span):
    """Returned when instrumentation is off: every setter does nothing."""

    __slots__ = ()

    def set(self, key: str, value: Any) -> Span:
        return self

    def set_usage(self, usage: Any = None, /, **kwargs: Any) -> Span:
        return self

    def set_ttft_ns(self, ttft_ns: int | None = None) -> Span:
        return self


NOOP_SPAN = _NoopSpan(trace.INVALID_SPAN, 0)


# ---------------------------------------------------------------------------- open / close


class _Active:
    """One started span plus the context it makes current while the user's code runs."""

    __slots__ = ("span", "handle", "token", "frame_var", "frame_value", "frame_token")

    def __init__(self) -> None:
        self.token = None
        self.frame_var = None
        self.frame_value = None
        self.frame_token = None


def _start(name: str, attributes: dict[str, Any], kind: SpanKind) -> _Active | None:
    """Start a span under the current context; None when instrumentation failed."""
    try:
        start_ns = _state.clock()
        s = _state.tracer.start_span(name, kind=kind, attributes=attributes, start_time=start_ns)
        a = _Active()
        a.span = s
        a.handle = Span(s, start_ns)
        return a
    except Exception as exc:
        _state.note_error("start-span", exc)
        return None


def _enter(a: _Active) -> None:
    """Make the span (and its agent/llm frame) current. Generators call this on every resume."""
    try:
        a.token = _attach(_set_span_in_context(a.span))
        if a.frame_var is not None:
            a.frame_token = a.frame_var.set(a.frame_value)
    except Exception as exc:
        _state.note_error("attach-context", exc)


def _leave(a: _Active) -> None:
    """Undo :func:`_enter` (in reverse order). Never raises."""
    try:
        if a.frame_token is not None:
            a.frame_var.reset(a.frame_token)
            a.frame_token = None
        token = a.token
        if token is not None:
            a.token = None
            _detach(token)
    except Exception as exc:
        _state.note_error("detach-context", exc)


def _finish(a: _Active, exc: BaseException | None) -> None:
    """End the span: status and ``error.type`` when ``exc`` is set. Never raises."""
    try:
        s = a.span
        if exc is not None and not isinstance(exc, GeneratorExit):
            s.set_attribute(g.ERROR_TYPE, g.error_type(exc))
            s.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))
            s.record_exception(exc, timestamp=_state.clock(), escaped=True)
        s.end(end_time=_state.clock())
    except Exception as err:
        _state.note_error("end-span", err)


class span:
    """Context manager (sync and async) for one span: ``with agentprof.span("plan", category="step") as s:``.

    Args:
        name: span name.
        category: ``agentprof.span.category`` (agent, step, llm, tool, retrieval, embedding,
            chain, handoff, other). Defaults to "other".
        attributes: extra attributes set at start.
        kind: OTel span kind. Defaults to INTERNAL.
    """

    __slots__ = ("_name", "_attrs", "_kind", "_active")

    def __init__(self, name: str, category: str = "other", *, attributes: dict[str, Any] | None = None,
                 kind: SpanKind = _INTERNAL) -> None:
        self._name = name
        attrs = {g.CATEGORY: category}
        if attributes:
            attrs.update(attributes)
        self._attrs = attrs
        self._kind = kind
        self._active = None

    def __enter__(self) -> Span:
        if not _state.ENABLED:
            return NOOP_SPAN
        a = _start(self._name, self._attrs, self._kind)
        if a is None:
            return NOOP_SPAN
        _enter(a)
        self._active = a
        return a.handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        a = self._active
        if a is not None:
            self._active = None
            _leave(a)
            _finish(a, exc)
        return False

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)


def current_span() -> Span:
    """A handle on the current span (``NOOP_SPAN`` when instrumentation is off or none is current)."""
    if not _state.ENABLED:
        return NOOP_SPAN
    s = trace.get_current_span()
    return Span(s, getattr(s, "start_time", None) or _state.clock()) if s.get_span_context().is_valid else NOOP_SPAN


# ---------------------------------------------------------------------------- decorators


class _Spec:
    """How one decorator names its span, what it records at start, and after return."""

    __slots__ = ("role", "label", "attrs", "kind", "sig", "skip_first", "hash_args")

    def __init__(self, role: str, label: str, attrs: dict[str, Any], kind: SpanKind, fn: Callable[..., Any],
                 hash_args: bool) -> None:
        self.role = role
        self.label = label
        self.attrs = attrs
        self.kind = kind
        self.hash_args = hash_args
        self.sig = None
        self.skip_first = False
        if hash_args:
            try:
                self.sig = inspect.signature(fn)
                params = list(self.sig.parameters)
                self.skip_first = bool(params) and params[0] in ("self", "cls")
            except (TypeError, ValueError):
                self.sig = None

    def open(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Active | None:
        try:
            attrs = dict(self.attrs)
            role = self.role
            if role == "step":
                n = _next_step_number()
                attrs[g.STEP_NUMBER] = n
                name = f"agent.step.{n}"
            elif role == "agent":
                name = f"invoke_agent {self.label}"
            elif role == "tool":
                name = f"execute_tool {self.label}"
            elif role == "retrieval":
                name = f"retrieval {self.label}"
            else:  # llm
                model = attrs.get(g.REQUEST_MODEL)
                name = f"{attrs.get(g.OPERATION, 'chat')} {model}" if model else attrs.get(g.OPERATION, "chat")
            if self.hash_args:
                bound = self._bound(args, kwargs)
                attrs[g.TOOL_ARGS_HASH] = g.args_hash(bound)
                if _state.capture_content:
                    attrs[g.TOOL_ARGS] = g.orjson.dumps(redact_value(bound), default=repr).decode()
        except Exception as exc:
            _state.note_error("decorator-attributes", exc)
            return None
        a = _start(name, attrs, self.kind)
        if a is None:
            return None
        if role == "agent":
            a.frame_var, a.frame_value = _AGENT, _AgentFrame()
        elif role == "llm":
            a.frame_var, a.frame_value = _LLM, _LlmFrame()
        return a

    def _bound(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.sig is None:
            return {"args": list(args), "kwargs": kwargs}
        try:
            ba = self.sig.bind(*args, **kwargs)
        except TypeError:
            return {"args": list(args), "kwargs": kwargs}
        out = dict(ba.arguments)
        if self.skip_first and out:
            out.pop(next(iter(out)))
        return out

    def close(self, a: _Active, result: Any, exc: BaseException | None) -> None:
        frame = a.frame_value
        if type(frame) is _LlmFrame and exc is None and result is not None and not frame.child_usage:
            try:
                attrs = g.response_attributes(result)
                for k, v in attrs.items():
                    a.span.set_attribute(k, v)
                model = attrs.get(g.RESPONSE_MODEL)
                if model and not self.attrs.get(g.REQUEST_MODEL):
                    a.span.update_name(f"{self.attrs.get(g.OPERATION, 'chat')} {model}")
            except Exception as err:
                _state.note_error("llm-usage", err)
        _finish(a, exc)


def _wrap(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            a = spec.open(args, kwargs) if _state.ENABLED else None
            agen = fn(*args, **kwargs)
            if a is None:
                async for item in agen:
                    yield item
                return
            send: Any = None
            throw: BaseException | None = None
            while True:
                _enter(a)
                try:
                    item = await (agen.athrow(throw) if throw is not None else agen.asend(send))
                except StopAsyncIteration:
                    _leave(a)
                    spec.close(a, None, None)
                    return
                except BaseException as exc:
                    _leave(a)
                    spec.close(a, None, exc)
                    raise
                _leave(a)
                throw = None
                try:
                    send = yield item
                except GeneratorExit:
                    try:
                        await agen.aclose()
                    finally:
                        spec.close(a, None, None)
                    raise
                except BaseException as exc:
                    throw = exc
        return agen_wrapper

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            a = spec.open(args, kwargs) if _state.ENABLED else None
            gen = fn(*args, **kwargs)
            if a is None:
                return (yield from gen)
            send: Any = None
            throw: BaseException | None = None
            while True:
                _enter(a)
                try:
                    item = gen.throw(throw) if throw is not None else gen.send(send)
                except StopIteration as stop:
                    _leave(a)
                    spec.close(a, stop.value, None)
                    return stop.value
                except BaseException as exc:
                    _leave(a)
                    spec.close(a, None, exc)
                    raise
                _leave(a)
                throw = None
                try:
                    send = yield item
                except GeneratorExit:
                    try:
                        gen.close()
                    finally:
                        spec.close(a, None, None)
                    raise
                except BaseException as exc:
                    throw = exc
        return gen_wrapper

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _state.ENABLED:
                return await fn(*args, **kwargs)
            a = spec.open(args, kwargs)
            if a is None:
                return await fn(*args, **kwargs)
            _enter(a)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                _leave(a)
                spec.close(a, None, exc)
                raise
            _leave(a)
            spec.close(a, result, None)
            return result
        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _state.ENABLED:
            return fn(*args, **kwargs)
        a = spec.open(args, kwargs)
        if a is None:
            return fn(*args, **kwargs)
        _enter(a)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _leave(a)
            spec.close(a, None, exc)
            raise
        _leave(a)
        spec.close(a, result, None)
        return result
    return wrapper


def _decorator(fn: Callable[..., Any] | None, make: Callable[[Callable[..., Any]], _Spec]) -> Any:
    if fn is not None:
        return _wrap(fn, make(fn))
    return lambda f: _wrap(f, make(f))


def _fn_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


def agent(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark a function as one agent invocation: span ``invoke_agent {name}``."""
    def make(f: Callable[..., Any]) -> _Spec:
        label = name or _fn_name(f)
        attrs = {g.CATEGORY: "agent", g.OPERATION: "invoke_agent", g.AGENT_NAME: label}
        return _Spec("agent", label, attrs, _INTERNAL, f, hash_args=False)
    return _decorator(fn, make)


def step(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark one turn of the agent loop: span ``agent.step.{n}``, n counted per enclosing agent."""
    def make(f: Callable[..., Any]) -> _Spec:
        label = name or _fn_name(f)
        return _Spec("step", label, {g.CATEGORY: "step", "agentprof.step.name": label}, _INTERNAL, f, hash_args=False)
    return _decorator(fn, make)


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None, source: str | None = None) -> Any:
    """Mark a tool: span ``execute_tool {name}`` with the tool name and a hash of its arguments."""
    def make(f: Callable[..., Any]) -> _Spec:
        label = name or _fn_name(f)
        attrs = {g.CATEGORY: "tool", g.OPERATION: "execute_tool", g.TOOL_NAME: label}
        if source:
            attrs["agentprof.tool.source"] = source
        return _Spec("tool", label, attrs, _INTERNAL, f, hash_args=True)
    return _decorator(fn, make)


def retrieval(fn: Callable[..., Any] | None = None, *, name: str | None = None, source: str | None = None) -> Any:
    """Mark a retrieval: span ``retrieval {source}`` (source defaults to the name / function name)."""
    def make(f: Callable[..., Any]) -> _Spec:
        label = source or name or _fn_name(f)
        attrs = {g.CATEGORY: "retrieval", g.OPERATION: "retrieval", "gen_ai.data_source.id": label}
        return _Spec("retrieval", label, attrs, _CLIENT, f, hash_args=True)
    return _decorator(fn, make)


def llm(fn: Callable[..., Any] | None = None, *, name: str | None = None, model: str | None = None,
        provider: str | None = None, operation: str = "chat") -> Any:
    """Mark an LLM call: span ``chat {model}``; usage, model and finish reason come from the return value.

    If an SDK call inside the function is already instrumented (``agentprof.instrument()``),
    its span carries the usage and this span does not repeat it (no double counting).
    """
    def make(f: Callable[..., Any]) -> _Spec:
        attrs: dict[str, Any] = {g.CATEGORY: "llm", g.OPERATION: operation}
        if model:
            attrs[g.REQUEST_MODEL] = model
        if provider:
            attrs[g.PROVIDER] = provider
        if name:
            attrs["agentprof.llm.name"] = name
        return _Spec("llm", name or _fn_name(f), attrs, _CLIENT, f, hash_args=False)
    return _decorator(fn, make)
