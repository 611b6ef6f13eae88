"""OTLP JSON: one document, JSON lines (the Collector file exporter), and both from gzip.

Lenient as FORMATS.md §1.2/§1.5 asks: ids in hex of any case or base64 (proto3 JSON), enums
as ints or names, 64-bit ints as strings or numbers, a root's parent missing or "",
``instrumentationLibrarySpans``, NaN doubles, AnyValue arrays and kvlists. The per-span work
is one pass that decodes AnyValues into plain values and dumps them with orjson; all the
convention mapping happens later in SQL (``normalize``). A single document is streamed by
``otlp_json_stream``, never loaded whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from agentprof.ingest import prompt_parts
from agentprof.ingest._report import FileReport
from agentprof.ingest.raw import (
    KINDS,
    MAX_ATTRIBUTE_CHARS,
    STATUSES,
    decode_id,
    dumps,
    to_int,
    truncate_long_strings,
)

_FIX_EXPORT = "re-export the trace with an OTLP exporter, or remove the broken part"


def decode_any(v: Any) -> Any:
    """OTLP AnyValue ``{"stringValue": "x"}`` → ``"x"`` (recursively for arrays/kvlists)."""
    if not isinstance(v, dict):
        return v
    for k, x in v.items():
        if k == "stringValue":
            return x
        if k == "intValue":
            try:
                return to_int(x)
            except ValueError:
                return x  # wrong type: kept as given; normalize casts it or reports it
        if k == "doubleValue":
            return float(x) if isinstance(x, str) else x
        if k == "boolValue":
            return x if isinstance(x, bool) else str(x).lower() == "true"
        if k == "arrayValue":
            return [decode_any(i) for i in (x or {}).get("values") or ()]
        if k == "kvlistValue":
            return {kv.get("key", ""): decode_any(kv.get("value")) for kv in (x or {}).get("values") or ()}
        if k == "bytesValue":
            return x
    return None


_MISSING = object()


def decode_attributes(kvs: Any) -> dict[str, Any]:
    """OTLP KeyValue list → plain dict. Strings and ints (most attributes) take one or two
    dict lookups here; everything else goes through :func:`decode_any`."""
    if not kvs:
        return {}
    try:
        out = {}
        for kv in kvs:
            v = kv["value"]
            x = v.get("stringValue", _MISSING)
            if x is not _MISSING:
                out[kv["key"]] = x
                continue
            x = v.get("intValue", _MISSING)
            if x is not _MISSING and type(x) is str and x.isdigit():
                out[kv["key"]] = int(x)
                continue
            out[kv["key"]] = decode_any(v)
        return out
    except (KeyError, TypeError, AttributeError, ValueError):
        out = {}
        for kv in kvs if isinstance(kvs, list) else ():
            if isinstance(kv, dict) and isinstance(kv.get("key"), str):
                try:
                    out[kv["key"]] = decode_any(kv.get("value"))
                except (TypeError, ValueError, AttributeError):
                    out[kv["key"]] = None
        return out


def _enum(v: Any, table: dict[int, str], prefix: str, default: str) -> str:
    if isinstance(v, str):
        if v.isdigit():
            return table.get(int(v), default)
        return v.removeprefix(prefix) if prefix in v else v
    return table.get(int(v or 0), default)


def _at(place: Any) -> str:
    """Places are strings or (in the document stream, where computing one costs) callables."""
    return place() if callable(place) else place


def attributes_text(attrs: dict[str, Any], report: FileReport, place: Any) -> str:
    """JSON text of a span's attributes; cuts huge strings after measuring prompt parts."""
    text = dumps(attrs)
    if len(text) > MAX_ATTRIBUTE_CHARS:
        sizes = prompt_parts.measure(attrs) if "agentprof.prompt.system_chars" not in attrs else None
        attrs, cut = truncate_long_strings(attrs)
        if cut:
            if sizes is not None:  # measured on the full content, before the cut
                for key, n in zip(("system", "tool_schema", "history", "tool_output"), sizes):
                    attrs[f"agentprof.prompt.{key}_chars"] = n
            report.note(
                "long-attribute",
                _at(place),
                f"attribute strings longer than {MAX_ATTRIBUTE_CHARS // 1024} KiB were cut (marked '…[agentprof: truncated N chars]')",
                "nothing to do unless the full text matters; capture less content in the instrumentation to avoid it",
                count=cut,
            )
            text = dumps(attrs)
    return text


def span_row(s: dict[str, Any], resource: str, scope: str | None, report: FileReport, place: Any) -> tuple | None:
    """One OTLP JSON span → a raw row tuple, or None (reported) when it cannot be used."""
    try:
        trace_id = decode_id(s.get("traceId"), 32)
        span_id = decode_id(s.get("spanId"), 16)
        parent = decode_id(s.get("parentSpanId"), 16)
        start = to_int(s.get("startTimeUnixNano"))
    except (ValueError, TypeError, AttributeError) as exc:
        report.note("bad-span", _at(place), f"span skipped: {exc}", _FIX_EXPORT, skipped=1)
        return None
    if start is not None and not 0 < start < 1 << 63:
        start = None  # a time no int64 holds is no time at all
    if not trace_id or not span_id or not start:
        missing = "trace id" if not trace_id else "span id" if not span_id else "start time"
        report.note("bad-span", _at(place), f"span skipped: it has no {missing}", _FIX_EXPORT, skipped=1)
        return None
    try:
        end = to_int(s.get("endTimeUnixNano")) or None
    except (ValueError, TypeError):
        end = None
    if end is not None and not 0 < end < 1 << 63:
        end = None
    def where() -> str:
        return f"{_at(place)}, span {span_id}"

    try:
        status = s.get("status") or {}
        events = [
            {
                "name": e.get("name"),
                "time_ns": to_int(e.get("timeUnixNano")),
                "attributes": decode_attributes(e.get("attributes")),
            }
            for e in s.get("events") or ()
        ]
        events_text = dumps(events) if events else "[]"
        if len(events_text) > MAX_ATTRIBUTE_CHARS:
            cut_events, cut = truncate_long_strings(events)
            if cut:
                report.note(
                    "long-attribute",
                    where(),
                    f"attribute strings longer than {MAX_ATTRIBUTE_CHARS // 1024} KiB were cut (marked '…[agentprof: truncated N chars]')",
                    "nothing to do unless the full text matters; capture less content in the instrumentation to avoid it",
                    count=cut,
                )
                events_text = dumps(cut_events)
        return (
            trace_id,
            span_id,
            parent,
            str(s.get("name") or ""),
            _enum(s.get("kind"), KINDS, "SPAN_KIND_", "UNSPECIFIED"),
            start,
            end,
            _enum(status.get("code"), STATUSES, "STATUS_CODE_", "unset").lower(),
            status.get("message") or None,
            attributes_text(decode_attributes(s.get("attributes")), report, where),
            events_text,
            resource,
            scope,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        report.note("bad-span", where(), f"span skipped: {exc}", _FIX_EXPORT, skipped=1)
        return None


def rows_from_document(doc: Any, rows: list[tuple], report: FileReport, place: str) -> None:
    """Append the spans of one ``{"resourceSpans": [...]}`` document to ``rows``."""
    if not isinstance(doc, dict) or not ("resourceSpans" in doc or "resource_spans" in doc):
        report.note("not-otlp", place, "JSON value is not an OTLP traces object (no \"resourceSpans\"); skipped", "keep only trace exports in the file")
        return
    for rs in json_array(doc.get("resourceSpans") or doc.get("resource_spans"), "resourceSpans", report, place):
        if not json_object(rs, "a resourceSpans entry", report, place, "skipped"):
            continue
        res = rs.get("resource")
        json_object(res, "resource", report, place, "its spans are kept without resource attributes")
        resource = dumps(decode_attributes(res.get("attributes") if isinstance(res, dict) else None))
        for ss in json_array(rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans"), "scopeSpans", report, place):
            if not json_object(ss, "a scopeSpans entry", report, place, "skipped"):
                continue
            sc = ss.get("scope") or ss.get("instrumentationLibrary")
            json_object(sc, "scope", report, place, "its spans are kept without a scope name")
            scope = (sc.get("name") or None) if isinstance(sc, dict) else None
            for s in json_array(ss.get("spans"), "spans", report, place):
                row = span_row(s, resource, scope, report, place)
                if row is not None:
                    rows.append(row)


def json_object(
    value: Any, what: str, report: FileReport, place: str | Callable[[], str] | None, outcome: str
) -> bool:
    """True when ``value`` is a JSON object; a missing one is fine, anything else is noted.

    A damaged or hand-made file may hold any value where OTLP has an object; reading goes on
    around it instead of stopping the file. ``place`` may be a function, called only for a
    note (a streamed document's place counts the lines read so far)."""
    if isinstance(value, dict):
        return True
    if value is not None:
        where = place() if callable(place) else place
        report.note(f"not-object:{what}", where, f"{what} is not a JSON object; {outcome}", _FIX_EXPORT)
    return False


def json_array(value: Any, what: str, report: FileReport, place: str | None) -> list[Any]:
    """``value`` when it is a JSON array, else nothing to iterate (noted unless missing)."""
    if isinstance(value, list):
        return value
    if value is not None:
        report.note(f"not-array:{what}", place, f"{what} is not a JSON array; skipped", _FIX_EXPORT)
    return []


def _loads_line(line: bytes, report: FileReport, lineno: int) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            report.note(
                "bad-utf8",
                f"line {lineno}",
                "invalid UTF-8 bytes were replaced with U+FFFD",
                "check the exporter writes UTF-8",
            )
            try:
                return orjson.loads(line.decode("utf-8", "replace"))
            except orjson.JSONDecodeError:
                pass
        report.note(
            "bad-json-line",
            f"line {lineno}",
            f"line is not valid JSON ({exc.msg.split(':')[0]} at column {exc.colno}); its spans were skipped",
            "the file may be truncated or two writers interleaved; re-export, or delete the broken line",
        )
        return None


def read_lines(f: IO[bytes], report: FileReport, batch_spans: int) -> Iterator[list[tuple]]:
    """JSON lines: one ExportTraceServiceRequest per line. Yields row batches."""
    rows: list[tuple] = []
    for lineno, line in enumerate(f, 1):
        if not line.strip():
            continue
        doc = _loads_line(line, report, lineno)
        if doc is not None:
            rows_from_document(doc, rows, report, f"line {lineno}")
        if len(rows) >= batch_spans:
            yield rows
            rows = []
    if rows:
        yield rows


def read_document(f: IO[bytes], report: FileReport, batch_spans: int) -> Iterator[list[tuple]]:
    """One OTLP JSON document (or several back to back), streamed span by span."""
    from agentprof.ingest.otlp_json_stream import DocumentStream

    yield from DocumentStream(f, report, batch_spans).batches()
