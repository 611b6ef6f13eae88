"""LangChain / LangGraph callback handler (extra ``agentprof[langchain]``).

    from agentprof.instrumentation.langchain import AgentprofCallbackHandler
    agent.invoke(inputs, config={"callbacks": [AgentprofCallbackHandler()]})

Each LangChain run becomes one span. The tree is built from ``run_id`` / ``parent_run_id``
with *explicit* parent contexts, never from the ambient OTel context, so concurrent runs
(threads, ``asyncio.gather``) cannot cross. A root run is parented on whatever span is current
when it starts, so it nests under the application's own spans.

Categories (``agentprof.span.category``): chat model / LLM -> llm, tool -> tool, retriever ->
retrieval, chain -> chain, and a LangGraph graph -> agent (the root ``LangGraph`` run, or any
graph whose nodes include the agent ``model`` node that ``langchain.agents.create_agent`` builds).

LLM spans record the model (invocation params, response metadata), provider
(``ls_provider``), usage (``usage_metadata`` or ``llm_output["token_usage"]``; cache reads from
``input_token_details``), TTFT from the first streamed token, and the prompt-part sizes:
system messages -> system_chars, ToolMessages -> tool_output_chars, all other messages ->
history_chars, ``invocation_params["tools"]`` -> tool_schema_chars.
"""

from __future__ import annotations

from typing import Any, Sequence
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentprof.instrumentation import _genai as g
from agentprof.instrumentation import _state
from agentprof.instrumentation.privacy import redact, redact_value

_INTERRUPTS = ("GraphInterrupt", "NodeInterrupt", "Interrupt")


class _Run:
    __slots__ = ("span", "start_ns", "category", "name", "first_token", "ended", "token")

    def __init__(self, span: Any, start_ns: int, category: str, name: str) -> None:
        self.span = span
        self.start_ns = start_ns
        self.category = category
        self.name = name
        self.first_token = False
        self.ended = False
        self.token: Any = None


def _message_chars(messages: Sequence[Any]) -> dict[str, int]:
    system = history = tool_out = 0
    for m in messages:
        mtype = getattr(m, "type", None)
        n = g._content_chars(getattr(m, "content", None))
        if mtype == "system":
            system += n
        elif mtype == "tool":
            tool_out += n
        else:
            history += n
            calls = getattr(m, "tool_calls", None)
            if calls:
                history += g._json_chars(calls)
    return {g.SYSTEM_CHARS: system, g.HISTORY_CHARS: history, g.TOOL_OUTPUT_CHARS: tool_out}


class AgentprofCallbackHandler(BaseCallbackHandler):
    """Turns LangChain callback events into agentprof spans (needs ``agentprof.configure()``)."""

    raise_error = False
    run_inline = True  # called in the event loop thread for async runs: exact timing, no executor hop

    def __init__(self) -> None:
        self._runs: dict[UUID, _Run] = {}

    # ------------------------------------------------------------------ plumbing

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, category: str,
               attrs: dict[str, Any], kind: SpanKind = SpanKind.INTERNAL) -> _Run | None:
        if not _state.ENABLED:
            return None
        try:
            parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
            ctx = trace.set_span_in_context(parent.span) if parent is not None else None
            attrs[g.CATEGORY] = category
            start_ns = _state.clock()
            span = _state.tracer.start_span(name, context=ctx, kind=kind, attributes=attrs, start_time=start_ns)
            run = _Run(span, start_ns, category, name)
            self._runs[run_id] = run
            return run
        except Exception as exc:
            _state.note_error("langchain-start", exc)
            return None

    def _end(self, run_id: UUID, error: BaseException | None = None, attrs: dict[str, Any] | None = None) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        run.ended = True
        if run.token is not None:
            try:
                _state.framework_llm.reset(run.token)
            except ValueError:  # ended in another context (e.g. a stream consumed elsewhere): harmless
                pass
            run.token = None
        try:
            span = run.span
            if attrs:
                for k, v in attrs.items():
                    if v is not None:
                        span.set_attribute(k, v)
            if error is not None:
                if type(error).__name__ in _INTERRUPTS:
                    span.set_attribute(g.HUMAN_APPROVAL, True)  # paused for a human, not a failure
                else:
                    span.set_attribute(g.ERROR_TYPE, g.error_type(error))
                    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:1024]))
                    span.record_exception(error, timestamp=_state.clock())
            span.end(end_time=_state.clock())
        except Exception as exc:
            _state.note_error("langchain-end", exc)

    # ------------------------------------------------------------------ chains / agents

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
            node = (metadata or {}).get("langgraph_node")
            if node == "model" and parent_run_id in self._runs:
                self._promote_to_agent(self._runs[parent_run_id])
            if name == "LangGraph":
                self._start(run_id, parent_run_id, f"invoke_agent {name}", "agent",
                            {g.OPERATION: "invoke_agent", g.AGENT_NAME: name})
                return
            attrs: dict[str, Any] = {"agentprof.chain.name": name}
            if node:
                attrs["langgraph.node"] = node
                step = (metadata or {}).get("langgraph_step")
                if isinstance(step, int):
                    attrs["langgraph.step"] = step
            self._start(run_id, parent_run_id, name, "chain", attrs)
        except Exception as exc:
            _state.note_error("langchain-chain", exc)

    def _promote_to_agent(self, run: _Run) -> None:
        if run.category == "agent":
            return
        run.category = "agent"
        span = run.span
        span.set_attribute(g.CATEGORY, "agent")
        span.set_attribute(g.OPERATION, "invoke_agent")
        span.set_attribute(g.AGENT_NAME, run.name)
        span.update_name(f"invoke_agent {run.name}")

    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None,
                       **kwargs: Any) -> None:
        self._end(run_id, error)

    def on_agent_action(self, action: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._event(run_id, "agent_action", {g.TOOL_NAME: str(getattr(action, "tool", ""))})

    def on_agent_finish(self, finish: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._event(run_id, "agent_finish", {})

    def _event(self, run_id: UUID, name: str, attrs: dict[str, Any]) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            try:
                run.span.add_event(name, attrs, timestamp=_state.clock())
            except Exception as exc:
                _state.note_error("langchain-event", exc)

    # ------------------------------------------------------------------ LLMs

    def _llm_attrs(self, serialized: dict[str, Any] | None, metadata: dict[str, Any] | None,
                   kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        params = kwargs.get("invocation_params") or {}
        meta = metadata or {}
        model = params.get("model") or params.get("model_name") or meta.get("ls_model_name")
        attrs: dict[str, Any] = {g.OPERATION: "chat"}
        if model:
            attrs[g.REQUEST_MODEL] = str(model)
        provider = meta.get("ls_provider")
        if provider:
            attrs[g.PROVIDER] = str(provider)
        for key, attr in (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                          ("max_tokens", "gen_ai.request.max_tokens")):
            v = params.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                attrs[attr] = v
        tools = params.get("tools")
        attrs[g.TOOL_SCHEMA_CHARS] = g._json_chars(tools) if tools else 0
        name = f"chat {model}" if model else f"chat {kwargs.get('name') or (serialized or {}).get('name') or ''}".rstrip()
        return name, attrs

    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *, run_id: UUID,
                            parent_run_id: UUID | None = None, tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name, attrs = self._llm_attrs(serialized, metadata, kwargs)
            flat = [m for batch in messages for m in batch]
            attrs.update(_message_chars(flat))
            if _state.capture_content:
                attrs["gen_ai.input.messages"] = g.orjson.dumps(
                    redact_value([{"role": getattr(m, "type", "?"), "content": getattr(m, "content", None)} for m in flat]),
                    default=str).decode()
            self._start_llm(run_id, parent_run_id, name, attrs)
        except Exception as exc:
            _state.note_error("langchain-llm-start", exc)

    def _start_llm(self, run_id: UUID, parent_run_id: UUID | None, name: str, attrs: dict[str, Any]) -> None:
        run = self._start(run_id, parent_run_id, name, "llm", attrs, SpanKind.CLIENT)
        if run is not None:
            # An instrumented SDK call made by this model becomes our child (see _state.framework_llm).
            run.token = _state.framework_llm.set(run)

    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name, attrs = self._llm_attrs(serialized, metadata, kwargs)
            attrs[g.OPERATION] = "text_completion"
            attrs[g.HISTORY_CHARS] = sum(len(p) for p in prompts)
            attrs[g.SYSTEM_CHARS] = 0
            attrs[g.TOOL_OUTPUT_CHARS] = 0
            if _state.capture_content:
                attrs["gen_ai.input.messages"] = g.orjson.dumps([redact(p) for p in prompts]).decode()
            self._start_llm(run_id, parent_run_id, name, attrs)
        except Exception as exc:
            _state.note_error("langchain-llm-start", exc)

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, run_id: UUID, parent_run_id: UUID | None = None,
                         **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is None or run.first_token:
            return
        run.first_token = True
        try:
            ttft_ns = _state.clock() - run.start_ns
            run.span.set_attribute(g.TTFT_NS, ttft_ns)
            run.span.set_attribute(g.TTFC_S, ttft_ns / 1e9)
        except Exception as exc:
            _state.note_error("langchain-token", exc)

    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        attrs: dict[str, Any] = {}
        try:
            gen = None
            generations = getattr(response, "generations", None) or []
            if generations and generations[0]:
                gen = generations[0][0]
            message = getattr(gen, "message", None)
            if message is not None:
                attrs.update(g.response_attributes(message))
            llm_output = getattr(response, "llm_output", None) or {}
            if g.INPUT_TOKENS not in attrs:
                usage = llm_output.get("token_usage") or llm_output.get("usage")
                attrs.update(g.usage_attributes(usage, anthropic=True if llm_output.get("stop_reason") else None))
            if g.RESPONSE_MODEL not in attrs:
                model = llm_output.get("model_name") or llm_output.get("model")
                if isinstance(model, str):
                    attrs[g.RESPONSE_MODEL] = model
            if g.FINISH_REASONS not in attrs and gen is not None:
                info = getattr(gen, "generation_info", None) or {}
                reason = info.get("finish_reason") or info.get("stop_reason")
                if isinstance(reason, str):
                    attrs[g.FINISH_REASONS] = (reason,)
            if _state.capture_content and gen is not None:
                attrs["gen_ai.output.messages"] = redact(str(getattr(gen, "text", "")))
        except Exception as exc:
            _state.note_error("langchain-llm-end", exc)
        self._end(run_id, None, attrs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None,
                     **kwargs: Any) -> None:
        self._end(run_id, error)

    # ------------------------------------------------------------------ tools and retrievers

    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        try:
            name = (serialized or {}).get("name") or kwargs.get("name") or "tool"
            args = inputs if inputs is not None else input_str
            attrs: dict[str, Any] = {
                g.OPERATION: "execute_tool",
                g.TOOL_NAME: name,
                g.TOOL_ARGS_HASH: g.args_hash(args),
            }
            call_id = kwargs.get("tool_call_id")
            if call_id:
                attrs[g.TOOL_CALL_ID] = str(call_id)
            if _state.capture_content:
                attrs[g.TOOL_ARGS] = g.orjson.dumps(redact_value(args), default=str).decode()
            self._start(run_id, parent_run_id, f"execute_tool {name}", "tool", attrs)
        except Exception as exc:
            _state.note_error("langchain-tool-start", exc)

    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        attrs: dict[str, Any] = {}
        try:
            content = getattr(output, "content", output)
            attrs["agentprof.tool.output_chars"] = g._content_chars(content) if not isinstance(content, str) else len(content)
            if _state.capture_content:
                attrs["gen_ai.tool.call.result"] = redact(content if isinstance(content, str) else str(content))
            if run is not None and getattr(output, "status", None) == "error":  # ToolMessage from a handled error
                run.span.set_status(Status(StatusCode.ERROR, "tool returned an error message"))
                attrs[g.ERROR_TYPE] = "tool_error"
        except Exception as exc:
            _state.note_error("langchain-tool-end", exc)
        self._end(run_id, None, attrs)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None,
                      **kwargs: Any) -> None:
        self._end(run_id, error)

    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        try:
            name = kwargs.get("name") or (serialized or {}).get("name") or "retriever"
            attrs: dict[str, Any] = {g.OPERATION: "retrieval", "gen_ai.data_source.id": name,
                                     g.TOOL_ARGS_HASH: g.args_hash(query)}
            if _state.capture_content:
                attrs["gen_ai.retrieval.query.text"] = redact(str(query))
            self._start(run_id, parent_run_id, f"retrieval {name}", "retrieval", attrs, SpanKind.CLIENT)
        except Exception as exc:
            _state.note_error("langchain-retriever-start", exc)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, parent_run_id: UUID | None = None,
                         **kwargs: Any) -> None:
        try:
            attrs = {"agentprof.retrieval.documents": len(documents)}
        except Exception:
            attrs = {}
        self._end(run_id, None, attrs)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None,
                           **kwargs: Any) -> None:
        self._end(run_id, error)
