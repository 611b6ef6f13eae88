"""Builders for ingest tests: real OTel SDK spans → real OTLP messages → every file form."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = 1_795_287_678_000_000_000  # a fixed epoch ns so tests are deterministic


def sdk_request(build: Callable[[Any], None], service: str = "agent-demo"):
    """Run ``build(tracer)`` under a real SDK TracerProvider; return the ExportTraceServiceRequest."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer("tests.scope"))
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


def span(tracer, name: str, start_ms: float, end_ms: float | None, attrs: dict | None = None, parent=None, *, kind=None, error: str | None = None):
    """Start/end a span at fixed times (ms after T0); returns it (ended unless end_ms is None)."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    ctx = trace.set_span_in_context(parent) if parent is not None else None
    s = tracer.start_span(name, context=ctx, kind=kind or SpanKind.INTERNAL, attributes=attrs or {}, start_time=T0 + int(start_ms * 1e6))
    if error:
        s.set_status(Status(StatusCode.ERROR, error))
    if end_ms is not None:
        s.end(end_time=T0 + int(end_ms * 1e6))
    return s


def to_otlp_json(request, *, proto3: bool = False) -> dict:
    """OTLP JSON (hex ids, int enums) of a request; ``proto3=True`` keeps MessageToDict's base64/names."""
    from google.protobuf.json_format import MessageToDict

    doc = MessageToDict(request)
    if proto3:
        return doc
    kinds = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
    codes = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in s:
                        s[k] = base64.b64decode(s[k]).hex()
                if "kind" in s:
                    s["kind"] = kinds[s["kind"]]
                if "code" in s.get("status", {}):
                    s["status"]["code"] = codes[s["status"]["code"]]
    return doc


def split_request(request) -> list:
    """One request per ResourceSpans/ScopeSpans/span, as a file exporter writing many batches would."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    out = []
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                one = ExportTraceServiceRequest(
                    resource_spans=[ResourceSpans(resource=rs.resource, scope_spans=[ScopeSpans(scope=ss.scope, spans=[s])])]
                )
                out.append(one)
    return out


def write_forms(request, folder: Path) -> dict[str, Path]:
    """The same spans as every file form agentprof reads."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = split_request(request)
    data = {
        "doc.json": json.dumps(to_otlp_json(request), indent=2).encode(),
        "proto3.json": json.dumps(to_otlp_json(request, proto3=True)).encode(),
        "lines.jsonl": b"".join(json.dumps(to_otlp_json(p)).encode() + b"\n" for p in parts),
        "body.pb": request.SerializeToString(),
        "records.pb": b"".join(len(b).to_bytes(4, "big") + b for b in (p.SerializeToString() for p in parts)),
    }
    paths = {}
    for name, blob in data.items():
        paths[name] = folder / name
        paths[name].write_bytes(blob)
        paths[name + ".gz"] = folder / (name + ".gz")
        paths[name + ".gz"].write_bytes(gzip.compress(blob))
    return paths


def write_doc(path: Path, spans: list[dict], resource: dict | None = None) -> Path:
    """Write a hand-made OTLP JSON document of already-encoded spans (for bad-input tests)."""
    res = {"attributes": [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {"service.name": "svc"}).items()]}
    doc = {"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]}
    path.write_text(json.dumps(doc))
    return path


def otlp_span(span_id: str, parent: str | None = None, *, trace: str = "0e2f6c3414ea40e350e31e3b8a74e933", name: str = "op", start: int = 1_000, end: int | None = 2_000, attrs: dict | None = None) -> dict:
    """An OTLP JSON span with times in ns after T0 and plain attribute values (typed here)."""

    def any_value(v):
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        if isinstance(v, list):
            return {"arrayValue": {"values": [any_value(x) for x in v]}}
        return {"stringValue": str(v)}

    s = {"traceId": trace, "spanId": span_id, "name": name, "kind": 1, "startTimeUnixNano": str(T0 + start)}
    if end is not None:
        s["endTimeUnixNano"] = str(T0 + end)
    if parent:
        s["parentSpanId"] = parent
    s["attributes"] = [{"key": k, "value": any_value(v)} for k, v in (attrs or {}).items()]
    return s
