"""The OTel Python SDK ``ConsoleSpanExporter`` output (``ReadableSpan.to_json()``).

Not OTLP: flat snake_case objects, pretty-printed and placed back to back (not JSON lines),
ids as ``0x…`` hex, kinds as ``SpanKind.CLIENT``, times as ISO-8601 with microseconds
(FORMATS.md §2). Debug output is small, so the text is read whole and decoded object by
object with ``raw_decode``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import IO, Any

from agentprof.ingest._report import FileReport
from agentprof.ingest.otlp_json import attributes_text
from agentprof.ingest.raw import decode_id, dumps

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _ns(iso: Any) -> int | None:
    if not iso:
        return None
    dt = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _hex(v: Any, n: int) -> str | None:
    if not v:
        return None
    return decode_id(str(v).removeprefix("0x"), n)


def _row(obj: dict[str, Any], report: FileReport, place: str) -> tuple | None:
    try:
        ctx = obj.get("context") or {}
        trace_id, span_id = _hex(ctx.get("trace_id"), 32), _hex(ctx.get("span_id"), 16)
        start = _ns(obj.get("start_time"))
        if not trace_id or not span_id or not start:
            raise ValueError("it has no trace id, span id or start time")
        status = obj.get("status") or {}
        events = [
            {"name": e.get("name"), "time_ns": _ns(e.get("timestamp")), "attributes": e.get("attributes") or {}}
            for e in obj.get("events") or ()
        ]
        return (
            trace_id,
            span_id,
            _hex(obj.get("parent_id"), 16),
            str(obj.get("name") or ""),
            str(obj.get("kind") or "SpanKind.INTERNAL").removeprefix("SpanKind."),
            start,
            _ns(obj.get("end_time")),
            str(status.get("status_code") or "UNSET").lower(),
            status.get("description") or None,
            attributes_text(dict(obj.get("attributes") or {}), report, f"{place}, span {span_id}"),
            dumps(events),
            dumps(((obj.get("resource") or {}).get("attributes")) or {}),
            None,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        report.note("bad-span", place, f"span skipped: {exc}", "re-export with the console exporter or OTLP", skipped=1)
        return None


def read(f: IO[bytes], report: FileReport, batch_spans: int) -> Iterator[list[tuple]]:
    data = f.read()
    text = data.decode("utf-8", "replace")
    if "\ufffd" in text and b"\xef\xbf\xbd" not in data:
        report.note("bad-utf8", None, "invalid UTF-8 bytes were replaced with U+FFFD", "check the exporter writes UTF-8")
    decode = json.JSONDecoder().raw_decode
    rows: list[tuple] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            break
        place = f"line {text.count(chr(10), 0, pos) + 1}"
        try:
            obj, pos = decode(text, pos)
        except json.JSONDecodeError as exc:
            report.note(
                "truncated",
                f"line {exc.lineno}, character offset {exc.pos}",
                f"not valid JSON from here ({exc.msg}); the spans before it were kept",
                "the output is probably cut off; export again",
            )
            break
        for item in obj if isinstance(obj, list) else [obj]:
            row = _row(item, report, place) if isinstance(item, dict) else None
            if row is not None:
                rows.append(row)
        if len(rows) >= batch_spans:
            yield rows
            rows = []
    if rows:
        yield rows
