"""Exporters: valid OTLP JSON lines, one file per process, drop counting, DuckDB store."""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import time

import orjson
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import agentprof
from agentprof.instrumentation import _state, stats
from agentprof.instrumentation.exporters import JsonlSpanExporter, encode_otlp_json, spans_to_raw


def _sample_spans():
    mem = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(mem))
    tracer = provider.get_tracer("agentprof", "1.0")
    with tracer.start_as_current_span("invoke_agent bot", attributes={"gen_ai.agent.name": "bot"}):
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as s:
            s.set_attributes({"gen_ai.usage.input_tokens": 120, "gen_ai.request.temperature": 0.5,
                              "flag": True, "reasons": ("stop", "length"), "nan": float("nan"),
                              "counts": (1, 2)})
            s.add_event("first_token", {"i": 1})
            s.set_status(Status(StatusCode.ERROR, "rate limited"))
    return mem.get_finished_spans()


def _hex_to_b64(doc):
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
    return doc


def test_jsonl_line_is_valid_otlp_and_round_trips_through_proto():
    spans = _sample_spans()
    doc = orjson.loads(encode_otlp_json(spans))
    chat = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert chat["name"] == "chat gpt-4o" and chat["kind"] == 3  # CLIENT as an integer enum
    assert len(chat["traceId"]) == 32 and len(chat["spanId"]) == 16 and len(chat["parentSpanId"]) == 16
    assert isinstance(chat["startTimeUnixNano"], str)
    attrs = {a["key"]: a["value"] for a in chat["attributes"]}
    assert attrs["gen_ai.usage.input_tokens"] == {"intValue": "120"}
    assert attrs["flag"] == {"boolValue": True}
    assert attrs["reasons"] == {"arrayValue": {"values": [{"stringValue": "stop"}, {"stringValue": "length"}]}}
    assert attrs["nan"] == {"doubleValue": "NaN"}
    assert chat["status"] == {"code": 2, "message": "rate limited"}
    root = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    assert "parentSpanId" not in root and root["kind"] == 1 and root["status"] == {}
    msg = ParseDict(_hex_to_b64(doc), ExportTraceServiceRequest(), ignore_unknown_fields=False)
    ps = msg.resource_spans[0].scope_spans[0]
    assert ps.scope.name == "agentprof" and ps.scope.version == "1.0"
    assert ps.spans[0].trace_id.hex() == format(spans[0].context.trace_id, "032x")
    assert ps.spans[0].start_time_unix_nano == spans[0].start_time
    assert ps.spans[0].attributes[0].value.int_value == 120 or any(
        kv.value.int_value == 120 for kv in ps.spans[0].attributes)
    assert ps.spans[0].events[0].name == "first_token"


def test_default_layout_one_file_per_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exp = agentprof.configure(set_global=False)  # default layout; leave the global provider alone
    try:
        @agentprof.tool
        def t():
            return 1

        t()
    finally:
        agentprof.shutdown()
    files = os.listdir(tmp_path / ".agentprof" / "traces")
    assert len(files) == 1 and files[0].endswith(f"-{os.getpid()}.jsonl")
    assert exp.file is not None and os.path.basename(exp.file) == files[0]
    lines = (tmp_path / ".agentprof" / "traces" / files[0]).read_bytes().splitlines()
    assert len(lines) == 1 and b'"execute_tool t"' in lines[0]


def _child(directory: str, n_spans: int) -> None:
    import agentprof as ap

    ap.configure(directory, max_export_batch_size=64)

    @ap.tool
    def work(i):
        return i

    for i in range(n_spans):
        work(i)
    ap.shutdown()


def _count_spans(paths):
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            for line in f:
                doc = orjson.loads(line)
                total += sum(len(ss["spans"]) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"])
    return total


@pytest.mark.parametrize(("method", "n_procs"), [("spawn", 2), ("fork", 4)])
def test_many_processes_lose_no_span(tmp_path, method, n_procs):
    n_spans = 300
    ctx = mp.get_context(method)
    procs = [ctx.Process(target=_child, args=(str(tmp_path), n_spans)) for _ in range(n_procs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    files = sorted(tmp_path.iterdir())
    assert len(files) == n_procs  # one file per process
    assert _count_spans(files) == n_procs * n_spans


def test_shared_file_from_many_processes(tmp_path):
    target = tmp_path / "all.jsonl"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_child, args=(str(target), 200)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert _count_spans([target]) == 600  # O_APPEND single writes: no torn lines


class _SlowExporter(SpanExporter):
    def __init__(self):
        self.exported = 0

    def export(self, spans):
        time.sleep(0.05)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def test_full_queue_drops_are_counted_and_warned(caplog):
    _state.reset_stats()
    slow = _SlowExporter()
    agentprof.configure(exporter=slow, max_queue_size=16, max_export_batch_size=8, set_global=False)
    try:
        @agentprof.tool
        def t():
            return None

        for _ in range(500):
            t()
        agentprof.flush()
        s = stats()
    finally:
        agentprof.shutdown()
    assert s["spans_ended"] == 500
    assert s["spans_dropped"] > 0
    assert slow.exported + s["spans_dropped"] == 500  # every span is either exported or counted
    assert "span queue full" in caplog.text


def test_export_failure_is_counted_not_raised(tmp_path):
    _state.reset_stats()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    exp = JsonlSpanExporter(str(blocker / "sub"))  # a directory under a regular file: cannot be created
    assert exp.export(_sample_spans()).name == "FAILURE"
    assert stats()["export_errors"] == 1 and stats()["spans_dropped"] == 2


def test_spans_to_raw_form():
    spans = _sample_spans()
    raw = spans_to_raw(spans, source_file="x.duckdb").to_pylist()
    chat = raw[0]
    assert chat["kind"] == "CLIENT" and chat["status_code"] == "error" and chat["status_message"] == "rate limited"
    assert chat["parent_span_id"] == raw[1]["span_id"] and raw[1]["parent_span_id"] is None
    assert orjson.loads(chat["attributes"])["reasons"] == ["stop", "length"]
    assert orjson.loads(chat["events"])[0]["name"] == "first_token"
    assert orjson.loads(chat["resource"])["telemetry.sdk.language"] == "python"
    assert chat["scope_name"] == "agentprof" and chat["source_format"] == "agentprof-duckdb"
    assert chat["end_ns"] - chat["start_ns"] == spans[0].end_time - spans[0].start_time


def _duckdb_child(path: str, n: int) -> None:
    import agentprof as ap

    ap.configure(path, exporter="duckdb", max_export_batch_size=100)

    @ap.tool
    def work(i):
        return i

    for i in range(n):
        work(i)
    ap.shutdown()


def test_duckdb_exporter_several_processes_one_store(tmp_path):
    from agentprof.store import open_store

    path = str(tmp_path / "spans.duckdb")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_duckdb_child, args=(path, 150)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    con = open_store(path)
    try:
        rows = con.execute("SELECT count(*), count(DISTINCT span_id), min(category), max(category), "
                           "min(tool_name), count(tool_args_hash) FROM spans").fetchone()
    finally:
        con.close()
    assert rows == (300, 300, "tool", "tool", "work", 300)


def test_otlp_exporter_sends_to_a_collector():
    """exporter="otlp": the standard OTLP/HTTP protobuf exporter, here to a local collector stub."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Collector(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], ExportTraceServiceRequest.FromString(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        agentprof.configure(f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces", exporter="otlp",
                            set_global=False)

        @agentprof.tool
        def lookup(k):
            return k

        lookup("a")
        agentprof.shutdown()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert len(received) == 1
    path, ctype, msg = received[0]
    assert path == "/v1/traces" and ctype == "application/x-protobuf"
    span = msg.resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "execute_tool lookup"
    assert {kv.key: kv.value.string_value for kv in span.attributes}["gen_ai.tool.name"] == "lookup"


def _forked_worker(n: int) -> None:
    @agentprof.tool
    def job(i):
        return i

    for i in range(n):
        job(i)
    # no flush, no shutdown: the child leaves through multiprocessing's exit path


def test_forked_children_of_a_configured_parent_flush_on_exit(tmp_path):
    agentprof.configure(tmp_path, set_global=False, schedule_delay_millis=60_000)  # nothing exports by timer
    try:
        ctx = mp.get_context("fork")
        procs = [ctx.Process(target=_forked_worker, args=(250,)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
    finally:
        agentprof.shutdown()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 3  # one per child; the parent made no span
    assert _count_spans(files) == 750


_RECONFIGURE_SCRIPT = """
import agentprof
from opentelemetry import trace
from agentprof.instrumentation import stats
agentprof.configure({first!r})                      # installs our provider globally
agentprof.configure({second!r}, service_name="b")   # again: the global provider is reused
with trace.get_tracer("app").start_as_current_span("app-span"):
    with agentprof.span("ours"):
        pass
agentprof.shutdown()
print(stats()["spans_dropped"])
"""


def test_configure_again_keeps_the_global_provider_working(tmp_path):
    import subprocess
    import sys

    first, second = tmp_path / "a", tmp_path / "b"
    out = subprocess.run([sys.executable, "-c", _RECONFIGURE_SCRIPT.format(first=str(first), second=str(second))],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.strip() == "0"
    assert not first.exists() or not any(first.iterdir())
    files = list(second.iterdir())
    assert _count_spans(files) == 2
    doc = orjson.loads(files[0].read_bytes().splitlines()[0])
    res = {a["key"]: a["value"] for a in doc["resourceSpans"][0]["resource"]["attributes"]}
    assert res["service.name"] == {"stringValue": "b"}
