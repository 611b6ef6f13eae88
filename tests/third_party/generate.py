"""Regenerate the third-party trace fixtures in this folder (see README.md).

Each scenario runs a real instrumentation library against the real ``openai`` client (or
pydantic-ai's own instrumentation), talking to the deterministic mock server in
``mock_openai_server.py``. Spans go to an ``InMemorySpanExporter`` in a private
``TracerProvider`` with seeded ids, and are written with the real OTLP encoders:

* ``<scenario>.pb``    ``encode_spans(spans).SerializeToString()`` (OTLP protobuf);
* ``<scenario>.json``  ``MessageToDict`` of the same message, ids turned into hex and enums into
  integers: the OTLP JSON form;
* for ``JSONL_SCENARIO`` also ``.jsonl`` (one ``{"resourceSpans": ...}`` line per span, as a
  simple span processor feeding a file exporter writes) and ``.json.gz``.

Every scenario runs in its own subprocess, because instrumentations patch the ``openai``
classes process-wide and read their environment variables at import time. ``expected.json``
collects, per scenario, what the mock server actually served (models, usage) and what the
span SDK actually produced (span, trace and error counts), never hand-typed numbers.

Usage (from the repository root)::

    /tmp/venv/bin/python tests/third_party/generate.py \
        [--openai-v2-python /tmp/venv_openai_v2/bin/python] \
        [--legacy-python /tmp/venv_legacy_traceloop/bin/python] [--only SCENARIO ...]

The official OpenAI instrumentation and the legacy Traceloop one need library versions that
cannot share one environment (README.md says how to make theirs); without those flags their
committed fixtures and expected entries are kept as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mock_openai_server import MockOpenAIServer  # noqa: E402

MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are a terse weather assistant."
USER_QUESTION = "What is the weather in Paris?"
STREAM_PROMPT = "Say hello."
ERROR_PROMPT = "TRIGGER_429 please answer anyway."
AGENT_NAME = "weather_agent"
SESSION_ID = "session-fixture-1"
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
JSONL_SCENARIO = "pydantic_ai"
LEGACY = "traceloop_legacy"


# --------------------------------------------------------------------------------------------
# helpers shared by every scenario (run inside the child process)
# --------------------------------------------------------------------------------------------

TOOL_RUNS: list[dict[str, Any]] = []
"""Every real execution of the tool, counted by the tool itself (expected tool spans)."""


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    result = f"Sunny, 21 C in {city}."
    TOOL_RUNS.append({"name": "get_weather", "city": city, "result": result})
    return result


def make_tracer_provider(scenario: str, provider_cls: Any = None) -> tuple[Any, Any]:
    """A TracerProvider with seeded span/trace ids and an in-memory exporter."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class SeededIdGenerator(IdGenerator):
        """Deterministic ids, so a regenerated fixture's diff is mostly timestamps."""

        def __init__(self, seed: str) -> None:
            self._rng = random.Random(seed)

        def generate_span_id(self) -> int:
            return self._rng.getrandbits(64) or 1

        def generate_trace_id(self) -> int:
            return self._rng.getrandbits(128) or 1

    exporter = InMemorySpanExporter()
    resource = Resource({"service.name": f"fixture-{scenario.replace('_', '-')}", "telemetry.sdk.language": "python"})
    cls = provider_cls or TracerProvider
    tp = cls(resource=resource, id_generator=SeededIdGenerator(scenario))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, exporter


def openai_conversation(client: Any, tool_span: Callable[[Any], Any]) -> None:
    """The raw-SDK conversation: tool call, tool run, answer; a streamed call; a 429.

    ``tool_span(tool_call)`` is a context manager that wraps the tool execution in the
    span a framework around this library would write.
    """
    import openai

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_QUESTION},
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, temperature=0.2, max_tokens=100)
    call = first.choices[0].message.tool_calls[0]
    with tool_span(call):
        result = get_weather(**json.loads(call.function.arguments))
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, temperature=0.2, max_tokens=100)

    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": STREAM_PROMPT}],
                                            stream=True, stream_options={"include_usage": True})
    for _ in stream:
        pass

    try:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": ERROR_PROMPT}])
    except openai.RateLimitError:
        pass  # the instrumentation has recorded the failed call; that span is what we want
    else:
        raise RuntimeError("the mock server should have answered 429")


def _sync_client(base_url: str) -> Any:
    import openai

    return openai.OpenAI(base_url=base_url, api_key="test", max_retries=0)


# --------------------------------------------------------------------------------------------
# scenarios: each returns (spans, library-name->version); runs with the mock server `srv`
# --------------------------------------------------------------------------------------------

def scenario_openinference(srv: MockOpenAIServer) -> tuple[Any, Any]:
    from openinference.instrumentation import TracerProvider as OITracerProvider
    from openinference.instrumentation import using_session
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from openinference.semconv.trace import SpanAttributes

    tp, exporter = make_tracer_provider("openinference", OITracerProvider)
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    tracer = tp.get_tracer("fixture.weather_agent")

    @contextlib.contextmanager
    def tool_span(call: Any) -> Iterator[None]:
        with tracer.start_as_current_span(call.function.name, openinference_span_kind="tool") as span:
            span.set_tool(name=call.function.name, description=TOOLS[0]["function"]["description"],
                          parameters=TOOLS[0]["function"]["parameters"])
            span.set_attribute(SpanAttributes.TOOL_ID, call.id)
            span.set_input(call.function.arguments, mime_type="application/json")
            yield
            span.set_output(TOOL_RUNS[-1]["result"])

    with using_session(SESSION_ID):
        with tracer.start_as_current_span(AGENT_NAME, openinference_span_kind="agent") as root:
            root.set_attribute("agent.name", AGENT_NAME)
            root.set_input(USER_QUESTION)
            openai_conversation(_sync_client(srv.base_url), tool_span)
            root.set_output("done")
    OpenAIInstrumentor().uninstrument()
    return exporter.get_finished_spans(), ["openinference-instrumentation-openai", "openinference-instrumentation"]


def _scenario_openai_v2(srv: MockOpenAIServer, name: str) -> tuple[Any, Any]:
    # Runs in its own venv: openai-v2 2.4b0 needs opentelemetry-util-genai 0.4b0 (see README).
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.util.genai.handler import TelemetryHandler

    tp, exporter = make_tracer_provider(name)
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    # The agent and tool spans come from the GenAI utility library the instrumentation uses.
    handler = TelemetryHandler(tracer_provider=tp)

    @contextlib.contextmanager
    def tool_span(call: Any) -> Iterator[None]:
        with handler.tool(call.function.name, arguments=json.loads(call.function.arguments),
                          tool_call_id=call.id, tool_type="function",
                          tool_description=TOOLS[0]["function"]["description"]):
            yield

    with handler.invoke_local_agent("openai", request_model=MODEL) as agent:
        agent.agent_name = AGENT_NAME
        agent.conversation_id = SESSION_ID
        openai_conversation(_sync_client(srv.base_url), tool_span)
        # A framework reports the run's total usage on its invoke_agent span (semconv allows
        # gen_ai.usage.* there); a reader must not add it to the chat spans' own usage.
        usage = [c["usage"] for c in srv.served if c["usage"]]
        agent.input_tokens = sum(u["prompt_tokens"] for u in usage)
        agent.output_tokens = sum(u["completion_tokens"] for u in usage)
    OpenAIInstrumentor().uninstrument()
    return exporter.get_finished_spans(), ["opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"]


def scenario_openai_v2_default(srv: MockOpenAIServer) -> tuple[Any, Any]:
    return _scenario_openai_v2(srv, "openai_v2_default")


def scenario_openai_v2_latest(srv: MockOpenAIServer) -> tuple[Any, Any]:
    return _scenario_openai_v2(srv, "openai_v2_latest")


def _scenario_traceloop(srv: MockOpenAIServer, name: str) -> tuple[Any, Any]:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.trace import SpanKind

    tp, exporter = make_tracer_provider(name)
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    tracer = tp.get_tracer("fixture.weather_agent")

    # traceloop-sdk's @agent / @tool decorators would write these spans; the SDK itself needs
    # Traceloop.init() (global provider, its own exporter), so the same attributes are set here.
    @contextlib.contextmanager
    def tool_span(call: Any) -> Iterator[None]:
        attrs = {"traceloop.span.kind": "tool", "traceloop.entity.name": call.function.name,
                 "traceloop.entity.path": AGENT_NAME, "traceloop.workflow.name": AGENT_NAME,
                 "traceloop.entity.input": json.dumps({"args": [], "kwargs": json.loads(call.function.arguments)}),
                 "traceloop.association.properties.session_id": SESSION_ID}
        with tracer.start_as_current_span(f"{call.function.name}.tool", kind=SpanKind.INTERNAL, attributes=attrs) as s:
            yield
            s.set_attribute("traceloop.entity.output", json.dumps(TOOL_RUNS[-1]["result"]))

    root_attrs = {"traceloop.span.kind": "agent", "traceloop.entity.name": AGENT_NAME,
                  "traceloop.workflow.name": AGENT_NAME,
                  "traceloop.association.properties.session_id": SESSION_ID}
    with tracer.start_as_current_span(f"{AGENT_NAME}.agent", attributes=root_attrs):
        openai_conversation(_sync_client(srv.base_url), tool_span)
    OpenAIInstrumentor().uninstrument()
    return exporter.get_finished_spans(), ["opentelemetry-instrumentation-openai", "opentelemetry-semantic-conventions-ai"]


def scenario_traceloop(srv: MockOpenAIServer) -> tuple[Any, Any]:
    return _scenario_traceloop(srv, "traceloop")


def scenario_traceloop_legacy(srv: MockOpenAIServer) -> tuple[Any, Any]:
    return _scenario_traceloop(srv, LEGACY)


def scenario_pydantic_ai(srv: MockOpenAIServer, name: str = "pydantic_ai", **settings_kwargs: Any) -> tuple[Any, Any]:
    import openai
    from pydantic_ai import Agent
    from pydantic_ai.capabilities.instrumentation import Instrumentation
    from pydantic_ai.exceptions import ModelHTTPError
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    tp, exporter = make_tracer_provider(name)
    instrument = [Instrumentation(settings=InstrumentationSettings(tracer_provider=tp, **settings_kwargs))]
    client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0)
    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(openai_client=client))
    weather_agent = Agent(model, name=AGENT_NAME, instructions=SYSTEM_PROMPT, tools=[get_weather],
                          capabilities=instrument)
    chat_agent = Agent(model, name="chat_agent", capabilities=instrument)

    async def main() -> None:
        result = await weather_agent.run(USER_QUESTION)
        assert "Paris" in result.output, result.output
        async with chat_agent.run_stream(STREAM_PROMPT) as streamed:
            async for _ in streamed.stream_text():
                pass
        try:
            await weather_agent.run(ERROR_PROMPT)
        except ModelHTTPError:
            pass
        else:
            raise RuntimeError("the mock server should have answered 429")

    asyncio.run(main())
    return exporter.get_finished_spans(), ["pydantic-ai-slim"]


def scenario_pydantic_ai_usage_attrs(srv: MockOpenAIServer) -> tuple[Any, Any]:
    # Agent-run totals under the standard gen_ai.usage.* names, as pydantic-ai wrote them before
    # it introduced gen_ai.aggregated_usage.*: the sharpest double-counting trap for a reader.
    return scenario_pydantic_ai(srv, "pydantic_ai_usage_attrs", use_aggregated_usage_attribute_names=False)


SCENARIOS: dict[str, Callable[[MockOpenAIServer], tuple[Any, Any]]] = {
    "openinference": scenario_openinference,
    "openai_v2_default": scenario_openai_v2_default,
    "openai_v2_latest": scenario_openai_v2_latest,
    "traceloop": scenario_traceloop,
    LEGACY: scenario_traceloop_legacy,
    "pydantic_ai": scenario_pydantic_ai,
    "pydantic_ai_usage_attrs": scenario_pydantic_ai_usage_attrs,
}

OWN_VENV: dict[str, str] = {
    "openai_v2_default": "--openai-v2-python",
    "openai_v2_latest": "--openai-v2-python",
    LEGACY: "--legacy-python",
}
"""Scenarios whose library versions cannot share the main venv, and the flag naming their python."""

SCENARIO_ENV: dict[str, dict[str, str]] = {
    "openai_v2_default": {"OTEL_SEMCONV_STABILITY_OPT_IN": "", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": ""},
    "openai_v2_latest": {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
                         "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    "traceloop": {"TRACELOOP_TRACE_CONTENT": "true"},
    LEGACY: {"TRACELOOP_TRACE_CONTENT": "true"},
}


LIBRARY_GAPS: dict[str, dict[str, Any]] = {
    # What each library leaves out of its spans although the server sent it (checked in the
    # generated files). A reader cannot recover these, so the expected columns leave them out.
    # Values: "all" calls, only "stream"ed calls or only failed ("error") calls;
    # "finish_reason_written" maps the server's finish reason to the one the library writes.
    "openinference": {"operation": "all"},  # OpenInference says only span kind LLM, not which operation
    "openai_v2_default": {"cache_read": "all", "reasoning": "all", "finish_reason": "stream", "content": "all"},
    "openai_v2_latest": {"cache_read": "all", "reasoning": "all", "finish_reason": "stream"},
    "traceloop": {"reasoning": "stream", "tool_call_id": "all",
                  "finish_reason_written": {"tool_calls": "tool_call"}},
    LEGACY: {"usage": "stream", "reasoning": "all", "tool_call_id": "all"},
    "pydantic_ai": {"finish_reason_written": {"tool_calls": "tool_call"}, "content": "error"},
    "pydantic_ai_usage_attrs": {"finish_reason_written": {"tool_calls": "tool_call"}, "content": "error"},
}


def expected_llm_calls(name: str, served: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per served call: the span-table values a reader should produce for it."""
    gaps = LIBRARY_GAPS[name]

    def missing(field: str, call: dict[str, Any]) -> bool:
        scope = gaps.get(field)
        return scope == "all" or (scope == "stream" and call["stream"]) or (scope == "error" and call["status"] != 200)

    rows = []
    for call in served:
        row: dict[str, Any] = {"status": "error" if call["status"] != 200 else "ok", "stream": call["stream"],
                               "request_model": call["request_model"], "response_model": call["response_model"],
                               "input_tokens": None, "output_tokens": None, "cache_read_tokens": None,
                               "reasoning_tokens": None, "finish_reason": None,
                               "system_chars": None, "tool_output_chars": None}
        if not missing("content", call):
            row["system_chars"] = call["system_chars"]
            row["tool_output_chars"] = call["tool_output_chars"]
        usage = call.get("usage")
        if usage and not missing("usage", call):
            row["input_tokens"] = usage["prompt_tokens"]
            row["output_tokens"] = usage["completion_tokens"]
            if not missing("cache_read", call):
                row["cache_read_tokens"] = usage["prompt_tokens_details"]["cached_tokens"]
            if not missing("reasoning", call):
                row["reasoning_tokens"] = usage["completion_tokens_details"]["reasoning_tokens"]
        if call["finish_reason"] and not missing("finish_reason", call):
            row["finish_reason"] = gaps.get("finish_reason_written", {}).get(call["finish_reason"], call["finish_reason"])
        rows.append(row)
    return rows


def expected_cost_usd(rows: list[dict[str, Any]]) -> float:
    """genai-prices cost of the recorded usage (inclusive input, cache reads inside it)."""
    from genai_prices import Usage, calc_price

    total = 0.0
    for row in rows:
        if row["input_tokens"] is None:
            continue
        usage = Usage(input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
                      cache_read_tokens=row["cache_read_tokens"] or None)
        total += float(calc_price(usage, model_ref=row["response_model"], provider_id="openai").total_price)
    return total


# --------------------------------------------------------------------------------------------
# writing the files
# --------------------------------------------------------------------------------------------

def _hex_ids(node: Any) -> Any:
    """proto3 JSON writes bytes ids as base64; OTLP JSON wants hex (FORMATS.md §1.2)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = base64.b64decode(value).hex()
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def otlp_json_dict(spans: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return _hex_ids(MessageToDict(encode_spans(spans), use_integers_for_enums=True))


def write_outputs(name: str, spans: Any) -> list[str]:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    files = [f"{name}.pb", f"{name}.json"]
    (HERE / f"{name}.pb").write_bytes(encode_spans(spans).SerializeToString())
    doc = json.dumps(otlp_json_dict(spans), indent=1, ensure_ascii=False) + "\n"
    (HERE / f"{name}.json").write_text(doc, encoding="utf-8")
    if name == JSONL_SCENARIO:
        lines = [json.dumps(otlp_json_dict([s]), separators=(",", ":"), ensure_ascii=False) for s in spans]
        (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        with open(HERE / f"{name}.json.gz", "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(doc.encode("utf-8"))
        files += [f"{name}.jsonl", f"{name}.json.gz"]
    return files


def _error_type(span: Any) -> str | None:
    """error.type, else the type of the first exception event: what the span says failed."""
    if span.attributes.get("error.type"):
        return str(span.attributes["error.type"])
    for event in span.events:
        if event.name == "exception" and event.attributes.get("exception.type"):
            return str(event.attributes["exception.type"])
    return None


def expected_entry(name: str, spans: Any, served: list[dict[str, Any]], libraries: list[str], files: list[str]) -> dict[str, Any]:
    """What the tests assert: server-side truth, minus the library's gaps, plus SDK span facts."""
    from importlib.metadata import version

    from opentelemetry.trace import StatusCode

    def total(rows: list[dict[str, Any]], key: str) -> int:
        return sum(r[key] or 0 for r in rows)

    rows = expected_llm_calls(name, served)
    errors = [s for s in spans if s.status.status_code == StatusCode.ERROR]
    roots = [s for s in spans if s.parent is None]
    ttft = [{"span_name": s.name, "ttft_s": s.attributes[k]} for s in spans for k in
            ("gen_ai.client.operation.time_to_first_chunk", "gen_ai.response.time_to_first_chunk") if k in s.attributes]
    return {
        "files": files,
        "libraries": {lib: version(lib) for lib in libraries} | {"openai": version("openai")},
        "library_gaps": LIBRARY_GAPS[name],
        # facts of the spans the SDK produced
        "span_count": len(spans),
        "trace_count": len({s.context.trace_id for s in spans}),
        "root_count": len(roots),
        "root_names": sorted(s.name for s in roots),
        "error_span_count": len(errors),
        "error_span_names": sorted(s.name for s in errors),
        "error_types": sorted(_error_type(s) or "" for s in errors),
        "kinds": sorted(s.kind.name for s in spans),
        "agent_span_count": len(roots),
        "agent_names": sorted({AGENT_NAME} | ({"chat_agent"} if name.startswith("pydantic_ai") else set())),
        "session_ids": sorted({str(s.attributes.get("gen_ai.conversation.id")) for s in roots}) if name.startswith("pydantic_ai")
        else [SESSION_ID],
        "ttft": ttft,
        "reported_cost_usd": sum(float(s.attributes.get("operation.cost", 0.0)) for s in spans),
        "reported_cost_span_count": sum(1 for s in spans if "operation.cost" in s.attributes),
        # facts of the calls the mock server served
        "llm_span_count": len(served),
        "llm_error_count": sum(1 for c in served if c["status"] != 200),
        "streamed_call_count": sum(1 for c in served if c["stream"]),
        "tool_span_count": len(TOOL_RUNS),
        "tool_names": sorted({r["name"] for r in TOOL_RUNS}),
        "tool_call_ids": [] if LIBRARY_GAPS[name].get("tool_call_id") else
        sorted(c["tool_call"]["id"] for c in served if "tool_call" in c),
        "llm_operation": None if LIBRARY_GAPS[name].get("operation") else "chat",
        "request_models": sorted({c["request_model"] for c in served}),
        "response_models": sorted({c["response_model"] for c in served if c["response_model"]}),
        "input_tokens": total(rows, "input_tokens"),
        "output_tokens": total(rows, "output_tokens"),
        "cache_read_tokens": total(rows, "cache_read_tokens"),
        "reasoning_tokens": total(rows, "reasoning_tokens"),
        "finish_reasons": sorted(r["finish_reason"] for r in rows if r["finish_reason"]),
        "llm_calls": rows,
        "served": served,
    }


def run_child(name: str) -> None:
    """Run one scenario in this process and print its expected entry as JSON."""
    with MockOpenAIServer() as srv:
        spans, libraries = SCENARIOS[name](srv)
        served = list(srv.served)
    files = write_outputs(name, spans)
    print("EXPECTED " + json.dumps(expected_entry(name, spans, served, libraries, files)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), help="regenerate only these scenarios")
    parser.add_argument("--legacy-python", help=f"python of a venv with the old Traceloop stack, for {LEGACY}")
    parser.add_argument("--openai-v2-python", help="python of a venv with opentelemetry-instrumentation-openai-v2")
    parser.add_argument("--run-scenario", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_scenario:
        run_child(args.run_scenario)
        return 0

    expected_path = HERE / "expected.json"
    expected = json.loads(expected_path.read_text()) if expected_path.exists() else {"scenarios": {}}
    for name in args.only or list(SCENARIOS):
        python = sys.executable
        if name in OWN_VENV:
            flag = OWN_VENV[name]
            python = getattr(args, flag.lstrip("-").replace("-", "_"))
            if not python:
                print(f"skip {name}: no {flag} given (keeping the committed files)")
                continue
        env = dict(os.environ, **SCENARIO_ENV.get(name, {}))
        env = {k: v for k, v in env.items() if v != ""}
        proc = subprocess.run([python, str(Path(__file__).resolve()), "--run-scenario", name],
                              env=env, capture_output=True, text=True, timeout=300)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("EXPECTED ")]
        if proc.returncode != 0 or not lines:
            print(proc.stdout[-3000:], proc.stderr[-6000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"scenario {name} failed (exit {proc.returncode})")
        entry = json.loads(lines[-1][len("EXPECTED "):])
        entry["cost_usd"] = expected_cost_usd(entry["llm_calls"])  # genai-prices lives in this venv only
        expected["scenarios"][name] = entry
        print(f"{name}: {expected['scenarios'][name]['span_count']} spans -> {', '.join(expected['scenarios'][name]['files'])}")
    expected["scenarios"] = dict(sorted(expected["scenarios"].items()))
    expected_path.write_text(json.dumps(expected, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
