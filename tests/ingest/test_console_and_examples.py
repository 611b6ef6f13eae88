"""The OTel SDK console format, and FORMATS.md's verbatim OTLP JSON example."""

from __future__ import annotations

import io
import json

from agentprof.ingest import ingest_files
from agentprof.store import open_store

# FORMATS.md §1.2: a real line written by the Python FileSpanExporter (with hand-added kvlist, bool, link).
FORMATS_EXAMPLE = """{"resourceSpans":[{"resource":{"attributes":[
    {"key":"service.name","value":{"stringValue":"agent-demo"}},
    {"key":"telemetry.sdk.language","value":{"stringValue":"python"}}]},
  "scopeSpans":[{"scope":{"name":"demo.scope","version":"0.1.0"},"spans":[{
    "traceId":"0e2f6c3414ea40e350e31e3b8a74e933","spanId":"613cb517205c279d",
    "parentSpanId":"eb29715483259138","flags":256,"name":"chat gpt-4o","kind":3,
    "startTimeUnixNano":"1795287678731316271","endTimeUnixNano":"1795287678731346425",
    "attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"50"}},
      {"key":"gen_ai.request.temperature","value":{"doubleValue":0.2}},
      {"key":"gen_ai.request.stream","value":{"boolValue":false}},
      {"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[{"stringValue":"tool_calls"}]}}},
      {"key":"x.obj","value":{"kvlistValue":{"values":[{"key":"a","value":{"doubleValue":1.5}}]}}}],
    "events":[{"timeUnixNano":"1795287678731328629","name":"gen_ai.client.inference.operation.details",
               "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}],
    "links":[{"traceId":"0e2f6c3414ea40e350e31e3b8a74e933","spanId":"eb29715483259138","flags":256,
              "attributes":[{"key":"l","value":{"intValue":"1"}}]}],
    "status":{"message":"rate limited","code":2}}]}]}]}"""


def test_formats_md_example(tmp_path):
    p = tmp_path / "example.json"
    p.write_text(FORMATS_EXAMPLE)
    con = open_store()
    (sf,) = ingest_files(con, [p])
    assert (sf.format, sf.spans_read) == ("otlp-json", 1)
    # the parent eb29…138 is not in the file: kept as a root and reported
    assert sf.problems == (f"{p} (span 613cb517205c279d): parent span is not in the trace; kept the span as a root; export the whole trace (its parent may still have been running when the file was cut)",)
    row = con.execute(
        "SELECT trace_id, span_id, parent_span_id, name, kind, category, start_ns, end_ns, status, status_message, service_name,"
        " operation, input_tokens, finish_reason, CAST(attributes AS VARCHAR), CAST(events AS VARCHAR) FROM spans"
    ).fetchone()
    assert row[:14] == (
        "0e2f6c3414ea40e350e31e3b8a74e933", "613cb517205c279d", None, "chat gpt-4o", "CLIENT", "llm",
        1795287678731316271, 1795287678731346425, "error", "rate limited", "agent-demo", "chat", 50, "tool_calls",
    )
    assert json.loads(row[14]) == {
        "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 50, "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stream": False, "gen_ai.response.finish_reasons": ["tool_calls"], "x.obj": {"a": 1.5},
    }
    assert json.loads(row[15]) == [{"name": "gen_ai.client.inference.operation.details", "time_ns": 1795287678731328629, "attributes": {"gen_ai.operation.name": "chat"}}]


def test_console_exporter_output(tmp_path):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    out = io.StringIO()
    provider = TracerProvider(resource=Resource.create({"service.name": "console-demo"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
    tracer = provider.get_tracer("t")
    t0 = 1_795_287_678_000_000_000
    with tracer.start_as_current_span("invoke_agent a", start_time=t0, end_on_exit=False, attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}) as root:
        child = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=t0 + 1_000_000, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12,
            "gen_ai.response.finish_reasons": ("stop",)})
        child.set_status(Status(StatusCode.ERROR, "boom"))
        child.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hi"}, timestamp=t0 + 2_000_000)
        child.end(end_time=t0 + 5_000_000)
        root.end(end_time=t0 + 9_000_000)
    provider.shutdown()
    p = tmp_path / "console.txt"
    p.write_text(out.getvalue())
    con = open_store()
    (sf,) = ingest_files(con, [p])
    assert (sf.format, sf.spans_read, sf.problems) == ("otel-console", 2, ())
    rows = con.execute(
        "SELECT name, kind, category, start_ns - $t, end_ns - $t, status, status_message, agent_name, input_tokens, finish_reason, service_name,"
        " parent_span_id IS NULL, CAST(events AS VARCHAR) FROM spans ORDER BY start_ns", {"t": t0}
    ).fetchall()
    assert rows[0][:12] == ("invoke_agent a", "INTERNAL", "agent", 0, 9_000_000, "unset", None, "a", None, None, "console-demo", True)
    assert rows[1][:12] == ("chat gpt-4o", "CLIENT", "llm", 1_000_000, 5_000_000, "error", "boom", "a", 12, "stop", "console-demo", False)
    assert json.loads(rows[1][12]) == [{"name": "gen_ai.content.prompt", "time_ns": t0 + 2_000_000, "attributes": {"gen_ai.prompt": "hi"}}]
