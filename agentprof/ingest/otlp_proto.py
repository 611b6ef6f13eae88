"""OTLP protobuf: a raw ``ExportTraceServiceRequest`` body (what OTLP/HTTP posts), and the
Collector file exporter's ``format: proto`` form (records prefixed with a 4-byte big-endian
length). Gzip of either is unwrapped by ``detect`` before this module sees the bytes.

The request is not parsed in one piece: its top-level ``resource_spans`` fields are read one
at a time (tag, length, bytes) and each is parsed with the generated ``ResourceSpans`` class,
so memory follows the largest ResourceSpans, not the file, and a truncated file keeps
everything before the break.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from agentprof.ingest._report import FileReport
from agentprof.ingest.otlp_json import attributes_text
from agentprof.ingest.raw import KINDS, STATUSES, dumps, truncate_long_strings, MAX_ATTRIBUTE_CHARS

_FIX = "the file is probably truncated or not OTLP protobuf; re-export it"


def _varint(f: IO[bytes]) -> int | None:
    """Read a protobuf varint; None at a clean end of file. Raises EOFError mid-varint."""
    shift = result = 0
    while True:
        b = f.read(1)
        if not b:
            if shift:
                raise EOFError("the file ends inside a field header")
            return None
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint")


_SCALARS = frozenset(("string_value", "int_value", "double_value", "bool_value"))


def _any(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        import base64

        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, which)


def _attrs(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:  # the scalar case inline: this runs for every attribute of every span
        v = kv.value
        which = v.WhichOneof("value")
        out[kv.key] = getattr(v, which) if which in _SCALARS else _any(v)
    return out


def resource_spans_rows(rs: Any, rows: list[tuple], report: FileReport, place: str) -> None:
    """Append the raw rows of one ``ResourceSpans`` message."""
    resource = dumps(_attrs(rs.resource.attributes))
    append = rows.append
    for ss in rs.scope_spans:
        scope = ss.scope.name or None
        for s in ss.spans:
            trace_id, span_id, start, end = s.trace_id, s.span_id, s.start_time_unix_nano, s.end_time_unix_nano
            # fixed64 times: one an int64 cannot hold is no time at all (as the JSON reader reads it)
            if len(trace_id) != 16 or len(span_id) != 8 or not 0 < start < 1 << 63:
                report.note(
                    "bad-span",
                    place,
                    "span skipped: its trace id, span id or start time is missing or malformed",
                    "re-export the trace with an OTLP exporter",
                    skipped=1,
                )
                continue
            span_id = span_id.hex()
            events_text = "[]"
            if s.events:
                events = [
                    {"name": e.name, "time_ns": e.time_unix_nano, "attributes": _attrs(e.attributes)} for e in s.events
                ]
                events_text = dumps(events)
                if len(events_text) > MAX_ATTRIBUTE_CHARS:
                    cut_events, cut = truncate_long_strings(events)
                    if cut:
                        where = f"{place}, span {span_id}"
                        report.note("long-attribute", where, "long event attribute strings were cut", "nothing to do", count=cut)
                        events_text = dumps(cut_events)
            status = s.status
            append(
                (
                    trace_id.hex(),
                    span_id,
                    s.parent_span_id.hex() or None,
                    s.name,
                    KINDS.get(s.kind, "UNSPECIFIED"),
                    start,
                    end if 0 < end < 1 << 63 else None,
                    STATUSES.get(status.code, "unset"),
                    status.message or None,
                    attributes_text(_attrs(s.attributes), report, f"{place}, span {span_id}"),
                    events_text,
                    resource,
                    scope,
                )
            )


def _request_fields(f: IO[bytes], report: FileReport, base: int, end: int | None) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, bytes) of each ``resource_spans`` field of a request read from ``f``.

    ``end`` bounds a length-prefixed record; None reads to end of file.
    """
    while end is None or f.tell() - base < end:
        at = f.tell()
        tag = _varint(f)
        if tag is None:
            return
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            n = _varint(f)
            if n is None:
                raise EOFError("the file ends inside a field header")
            data = f.read(n)
            if len(data) < n:
                raise EOFError(f"a {n}-byte field is cut after {len(data)} bytes")
            if field == 1:
                yield at, data
        elif wire == 0:
            _varint(f)
        elif wire == 1:
            f.read(8)
        elif wire == 5:
            f.read(4)
        else:
            raise ValueError(f"wire type {wire} is not valid in a trace request")


def read(f: IO[bytes], report: FileReport, batch_spans: int, *, length_prefixed: bool) -> Iterator[list[tuple]]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

    rows: list[tuple] = []
    record = 0
    try:
        while True:
            if length_prefixed:
                header = f.read(4)
                if not header:
                    break
                if len(header) < 4:
                    raise EOFError("the file ends inside a 4-byte record length")
                record += 1
                n = int.from_bytes(header, "big")
                base = f.tell()
                fields = _request_fields(f, report, base, n)
            else:
                fields = _request_fields(f, report, 0, None)
            for at, data in fields:
                place = f"byte offset {at}" + (f" (record {record})" if length_prefixed else "")
                try:
                    rs = ResourceSpans.FromString(data)
                except DecodeError as exc:
                    report.note("bad-proto", place, f"ResourceSpans message does not parse ({exc}); its spans were skipped", _FIX)
                    continue
                resource_spans_rows(rs, rows, report, place)
                if len(rows) >= batch_spans:
                    yield rows
                    rows = []
            if not length_prefixed:
                break
    except (EOFError, ValueError) as exc:
        report.note(
            "truncated",
            f"byte offset {f.tell()}",
            f"protobuf data breaks here ({exc}); the spans before it were kept",
            _FIX,
        )
    if rows:
        yield rows
