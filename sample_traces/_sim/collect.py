"""Collect the spans agentprof's instrumentation exports and write them as sample files.

The collector is an ordinary OpenTelemetry ``SpanExporter`` handed to
``agentprof.configure(exporter=...)``. Before writing, every span gets a fixed
``Resource({"service.name": ...})`` and an instrumentation scope without a version, so the
bytes of a sample never depend on the installed SDK or agentprof version (``Resource.create``
would add ``telemetry.sdk.version``). Spans that a scenario ran "in another service" (see
``Collector.move_subtree``) get that service's resource, as a second process would give them.

Writers: one OTLP JSON document (``.json``), OTLP JSON lines as ``JsonlSpanExporter`` writes
them (``.jsonl``, optionally gzip-compressed), and OTLP protobuf ``ExportTraceServiceRequest``
(``.pb``).
"""

from __future__ import annotations

import gzip
import sys
import sysconfig
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope


class Collector(SpanExporter):
    """Keeps every exported span in memory, in export (= end) order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: list[ReadableSpan] = []
        self._moves: list[tuple[int, str]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def move_subtree(self, span_id: int, service_name: str) -> None:
        """The span ``span_id`` and all its descendants belong to ``service_name``."""
        self._moves.append((span_id, service_name))

    def take(self, service_name: str) -> list[ReadableSpan]:
        """The collected spans with fixed resources, sorted by (trace start, start, span id); clears."""
        with self._lock:
            spans, self.spans = self.spans, []
            moves, self._moves = self._moves, []
        service_of = _services(spans, moves)
        resources: dict[str, Resource] = {}
        out = []
        for s in spans:
            name = service_of.get(s.context.span_id, service_name)
            res = resources.setdefault(name, Resource({"service.name": name}))
            scope = s.instrumentation_scope
            out.append(
                ReadableSpan(
                    name=s.name, context=s.context, parent=s.parent, resource=res,
                    attributes=s.attributes, events=tuple(_portable_event(e) for e in s.events), links=s.links, kind=s.kind,
                    status=s.status, start_time=s.start_time, end_time=s.end_time,
                    instrumentation_scope=InstrumentationScope(scope.name if scope else "agentprof"),
                )
            )
        trace_start: dict[int, int] = {}
        for s in out:
            t = s.context.trace_id
            trace_start[t] = min(trace_start.get(t, s.start_time), s.start_time)
        out.sort(key=lambda s: (trace_start[s.context.trace_id], s.context.trace_id, s.start_time, s.context.span_id))
        return out


# Exception events carry a stack trace with absolute file names: the checkout's and the
# virtual environment's. They are replaced by fixed names so the bytes of a sample do not
# depend on where the generator ran.
_PATH_PREFIXES = sorted(
    {
        (str(Path(__file__).resolve().parents[2]), "<repo>"),
        *((sysconfig.get_paths()[k], "<site-packages>") for k in ("purelib", "platlib")),
        (sysconfig.get_paths()["stdlib"], "<stdlib>"),
        (sys.prefix, "<prefix>"),
    },
    key=lambda pair: -len(pair[0]),  # longest first: site-packages lies inside the prefix
)


def _portable(text: str) -> str:
    for prefix, name in _PATH_PREFIXES:
        text = text.replace(prefix, name)
    return text


def _portable_event(event: Event) -> Event:
    trace = (event.attributes or {}).get("exception.stacktrace")
    if not isinstance(trace, str):
        return event
    attributes = {**event.attributes, "exception.stacktrace": _portable(trace)}
    return Event(event.name, attributes, event.timestamp)


def _services(spans: list[ReadableSpan], moves: list[tuple[int, str]]) -> dict[int, str]:
    if not moves:
        return {}
    children: dict[int, list[int]] = {}
    for s in spans:
        if s.parent is not None:
            children.setdefault(s.parent.span_id, []).append(s.context.span_id)
    out: dict[int, str] = {}
    for root, name in moves:
        stack = [root]
        while stack:
            sid = stack.pop()
            out[sid] = name
            stack.extend(children.get(sid, ()))
    return out


# ------------------------------------------------------------------ writers


def _otlp_json(spans: Sequence[ReadableSpan]) -> bytes:
    from agentprof.instrumentation.exporters import encode_otlp_json

    return encode_otlp_json(spans)


def write_otlp_json(path: Path, spans: Sequence[ReadableSpan]) -> None:
    """One OTLP JSON ``TracesData`` document, one line (what an OTLP/JSON export looks like)."""
    path.write_bytes(_otlp_json(spans) + b"\n")


def write_jsonl(path: Path, spans: Sequence[ReadableSpan], *, batch: int = 256, compress: bool = False) -> None:
    """OTLP JSON lines written by agentprof's own ``JsonlSpanExporter``, one line per batch of spans.

    With ``compress`` the lines are gzip-compressed (mtime 0 and no file name in the header,
    so the same spans give the same bytes).
    """
    import tempfile

    from agentprof.instrumentation.exporters import JsonlSpanExporter

    with tempfile.TemporaryDirectory() as tmp:
        lines = Path(tmp) / "spans.jsonl"
        exporter = JsonlSpanExporter(lines)
        for i in range(0, len(spans), batch):
            exporter.export(spans[i : i + batch])
        exporter.shutdown()
        data = lines.read_bytes()
    if compress:
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write(data)
    else:
        path.write_bytes(data)


def write_otlp_proto(path: Path, spans: Sequence[ReadableSpan]) -> None:
    """OTLP protobuf ``ExportTraceServiceRequest`` (what an OTLP/HTTP exporter POSTs)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    path.write_bytes(encode_spans(list(spans)).SerializeToString(deterministic=True))
