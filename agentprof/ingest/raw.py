"""The raw span form every reader produces, and the helpers to build it.

A reader turns its input into batches of raw spans (see ``RAW_COLUMNS``): ids as lower-case
hex, times in ns, attributes/events/resource as JSON text with OTLP AnyValues already
decoded. ``normalize.normalize_into`` maps a batch into the span table with SQL, so a
reader never needs to know any attribute convention.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import orjson

RAW_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "start_ns",
    "end_ns",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "resource",
    "scope_name",
    "source_format",
    "source_file",
)
"""Column order of a raw batch. Readers build row tuples of the first 13 (per span);
``source_format`` and ``source_file`` are added per batch by :func:`rows_to_arrow`."""

ROW_WIDTH = 13

MAX_ATTRIBUTE_CHARS = 64 * 1024
"""Longer attribute strings are cut to this many characters (and reported), so one huge
value cannot make the store take gigabytes. Prompt-part sizes are measured before the cut."""

TRUNCATION_MARKER = "…[agentprof: truncated {n} chars]"

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUSES = {0: "unset", 1: "ok", 2: "error"}


def raw_schema():  # -> pyarrow.Schema
    import pyarrow as pa

    s, i = pa.string(), pa.int64()
    types = (s, s, s, s, s, i, i, s, s, s, s, s, s, s, s)
    return pa.schema([pa.field(n, t) for n, t in zip(RAW_COLUMNS, types)])


def rows_to_arrow(rows: list[tuple], source_format: str, source_file: str | None):  # -> pyarrow.Table
    """Turn row tuples (the first ``ROW_WIDTH`` raw columns) into a raw Arrow batch."""
    import pyarrow as pa

    schema = raw_schema()
    n = len(rows)
    cols = list(zip(*rows)) if rows else [()] * ROW_WIDTH
    arrays = [pa.array(c, type=schema.field(i).type) for i, c in enumerate(cols)]
    arrays.append(pa.array([source_format] * n, type=pa.string()))
    arrays.append(pa.array([source_file] * n, type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def decode_id(value: Any, hex_chars: int) -> str | None:
    """OTLP id → lower-case hex. Accepts hex (any case) and proto3-JSON base64; '' → None.

    Raises ValueError for anything else (the caller reports the span).
    """
    if not value:
        return None
    if not isinstance(value, str):
        raise ValueError(f"id {value!r} is not a string")
    if len(value) == hex_chars:
        v = value.lower()
        int(v, 16)  # validates: raises ValueError on non-hex
        return v
    if len(value) in (12, 24) or value.endswith("="):
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) * 2 == hex_chars:
            return raw.hex()
    if len(value) < hex_chars and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower().rjust(hex_chars, "0")  # e.g. 64-bit Jaeger trace ids
    raise ValueError(f"id {value[:40]!r} is neither {hex_chars}-char hex nor base64")


def to_int(value: Any) -> int | None:
    """proto3 JSON 64-bit ints arrive as numbers or decimal strings."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):  # an int subclass in Python, never a number in a trace
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value else None
    return int(value)


def dumps(obj: Any) -> str:
    """JSON text for attributes/events (NaN/inf become null, as orjson writes them).

    Falls back to the stdlib for what orjson refuses (ints beyond 64 bits, non-str keys).
    """
    try:
        return orjson.dumps(obj).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(_clean(obj), default=str, ensure_ascii=False)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def truncate_long_strings(obj: Any, limit: int = MAX_ATTRIBUTE_CHARS) -> tuple[Any, int]:
    """Cut every string longer than ``limit`` (recursively). Returns (new value, strings cut)."""
    if isinstance(obj, str):
        if len(obj) > limit:
            return obj[:limit] + TRUNCATION_MARKER.format(n=len(obj) - limit), 1
        return obj, 0
    if isinstance(obj, dict):
        cut = 0
        out = {}
        for k, v in obj.items():
            out[k], c = truncate_long_strings(v, limit)
            cut += c
        return out, cut
    if isinstance(obj, list):
        cut = 0
        out_list = []
        for v in obj:
            nv, c = truncate_long_strings(v, limit)
            out_list.append(nv)
            cut += c
        return out_list, cut
    return obj, 0
