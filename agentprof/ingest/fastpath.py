"""Fast reader for well-formed OTLP JSON lines (the Collector / SDK file-exporter layout).

OTLP JSON is object-dense (two JSON objects per attribute), so a Python loop over decoded
dicts tops out near 80k spans/s on one core. Here Arrow's C++ JSON parser reads blocks of
lines against an explicit OTLP schema (using both cores), and one DuckDB query per block
flattens resourceSpans → scopeSpans → spans and turns every KeyValue list into the JSON
object text of the raw span form. No Python code runs per span.

The price of speed is strictness. The schema pins every field and every type, and anything
this reader cannot turn into exactly the rows the lenient reader would produce raises
:class:`FastPathUnsupported`: base64 or non-hex ids, enum names instead of integers, 64-bit
ints written as bare numbers, ``kvlistValue``/``bytesValue``/nested arrays, unknown fields
(e.g. ``instrumentationLibrarySpans``), strings long enough to be truncated, lines larger
than one block, malformed JSON. The caller then reads the file again with the lenient
reader, which reports every problem precisely.

Batches can already have been yielded when the exception comes (it is raised by the block
that holds the first unsupported record), so the caller must make the load undoable, e.g.
run it inside a DuckDB transaction and roll back before falling back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from agentprof.ingest.raw import MAX_ATTRIBUTE_CHARS

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
"""Bytes of the input parsed per batch. Peak memory grows with it (the nested Arrow form of
a block is ~3× its text); a line longer than this makes the file unsupported here."""

SOURCE_FORMAT = "otlp-jsonl"


class FastPathUnsupported(Exception):
    """The file is not in the exact shape this reader handles; use the lenient reader."""


def _otlp_schema():  # -> pyarrow.Schema
    """OTLP JSON as Arrow types. Every field OTLP defines is listed, because the parser runs
    with ``unexpected_field_behavior="error"``: an unknown field (old or future protocol)
    must send the file to the lenient reader rather than be dropped silently."""
    import pyarrow as pa

    s, i, f, b = pa.string(), pa.int64(), pa.float64(), pa.bool_()
    scalar = [("stringValue", s), ("intValue", s), ("doubleValue", f), ("boolValue", b)]
    any_value = pa.struct(scalar + [("arrayValue", pa.struct([("values", pa.list_(pa.struct(scalar)))]))])
    attrs = pa.list_(pa.struct([("key", s), ("value", any_value)]))
    event = pa.struct([("timeUnixNano", s), ("name", s), ("attributes", attrs), ("droppedAttributesCount", i)])
    link = pa.struct(
        [("traceId", s), ("spanId", s), ("traceState", s), ("flags", i),
         ("attributes", attrs), ("droppedAttributesCount", i)]
    )
    span = pa.struct(
        [
            ("traceId", s), ("spanId", s), ("traceState", s), ("parentSpanId", s), ("flags", i),
            ("name", s), ("kind", i), ("startTimeUnixNano", s), ("endTimeUnixNano", s),
            ("attributes", attrs), ("droppedAttributesCount", i),
            ("events", pa.list_(event)), ("droppedEventsCount", i),
            ("links", pa.list_(link)), ("droppedLinksCount", i),
            ("status", pa.struct([("message", s), ("code", i)])),
        ]
    )
    scope = pa.struct([("name", s), ("version", s), ("attributes", attrs), ("droppedAttributesCount", i)])
    scope_spans = pa.struct([("scope", scope), ("spans", pa.list_(span)), ("schemaUrl", s)])
    resource = pa.struct([("attributes", attrs), ("droppedAttributesCount", i)])
    resource_spans = pa.struct([("resource", resource), ("scopeSpans", pa.list_(scope_spans)), ("schemaUrl", s)])
    return pa.schema([("resourceSpans", pa.list_(resource_spans))])


# --- SQL ---------------------------------------------------------------------------------
# The block has been validated (see _check_block) before this runs, so the SQL is plain
# expressions: CASE inside a lambda costs DuckDB ~3x a COALESCE, and the lambdas run once per
# attribute. A cast that still fails (e.g. intValue "1e3") raises and means "unsupported".


def _scalar_parts(v: str) -> list[str]:
    """JSON text of each member of a scalar AnyValue struct ``v``, as the lenient reader
    decodes it. At most one member is set in a well-formed AnyValue, so the first non-null
    one is the value; an empty AnyValue decodes to null."""
    return [
        f"to_json({v}.stringValue)",
        f"CAST(CAST({v}.intValue AS BIGINT) AS VARCHAR)",
        f"CAST({v}.doubleValue AS VARCHAR)",
        f"CAST({v}.boolValue AS VARCHAR)",
    ]


def _value_json(v: str) -> str:
    element = ", ".join(_scalar_parts("e") + ["'null'"])
    array = f"'[' || array_to_string(list_transform({v}.arrayValue.\"values\", lambda e: coalesce({element})), ',') || ']'"
    # {"arrayValue": {}} has no values list: the lenient reader decodes it to [].
    empty = f"CASE WHEN {v}.arrayValue IS NOT NULL THEN '[]' END"
    return "coalesce(" + ", ".join(_scalar_parts(v) + [array, empty, "'null'"]) + ")"


def _attrs_json(attrs: str, var: str = "kv") -> str:
    """JSON object text of a KeyValue list, keys in file order ('{}' when absent)."""
    return (
        f"coalesce('{{' || array_to_string(list_transform({attrs}, lambda {var}: "
        f"to_json({var}.key) || ':' || {_value_json(f'{var}.value')}), ',') || '}}', '{{}}')"
    )


def _flatten_sql(table: str) -> str:
    events = (
        "coalesce('[' || array_to_string(list_transform(sp.events, lambda ev: "
        "'{\"name\":' || coalesce(to_json(ev.name), 'null') || ',\"time_ns\":' || "
        "coalesce(CAST(CAST(ev.timeUnixNano AS BIGINT) AS VARCHAR), 'null') || "
        f"',\"attributes\":' || {_attrs_json('ev.attributes', 'ekv')} || '}}'), ',') || ']', '[]')"
    )
    return f"""
WITH r AS (SELECT unnest(resourceSpans) AS rs FROM {table}),
s AS (SELECT {_attrs_json('rs.resource.attributes', 'rkv')} AS resource, unnest(rs.scopeSpans) AS ss FROM r),
p AS (SELECT resource, nullif(ss.scope.name, '') AS scope_name, unnest(ss.spans) AS sp FROM s)
SELECT
  lower(sp.traceId) AS trace_id,
  lower(sp.spanId) AS span_id,
  lower(nullif(sp.parentSpanId, '')) AS parent_span_id,
  coalesce(sp.name, '') AS name,
  ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'][coalesce(sp.kind, 0) + 1] AS kind,
  CAST(sp.startTimeUnixNano AS BIGINT) AS start_ns,
  nullif(CAST(nullif(sp.endTimeUnixNano, '') AS BIGINT), 0) AS end_ns,
  ['unset', 'ok', 'error'][coalesce(sp.status.code, 0) + 1] AS status_code,
  nullif(sp.status.message, '') AS status_message,
  {_attrs_json('sp.attributes')} AS attributes,
  {events} AS events,
  resource,
  scope_name,
  '{SOURCE_FORMAT}' AS source_format,
  CAST(@SOURCE_FILE@ AS VARCHAR) AS source_file,
  len(sp.attributes) > len(list_distinct(list_transform(sp.attributes, lambda d: d.key))) AS _dup_keys
FROM p
"""


# --- validation (Arrow compute over the whole block, no per-span Python) ------------------

_ID_RE = {32: "^[0-9a-fA-F]{32}$", 16: "^[0-9a-fA-F]{16}$"}


def _check_block(block, path: str) -> None:
    """Raise FastPathUnsupported if any record needs the lenient reader's judgement."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def fail(what: str):
        raise FastPathUnsupported(f"{path}: {what}; needs the lenient reader")

    def all_true(mask) -> bool:
        return bool(pc.all(mask, skip_nulls=True).as_py() in (True, None))

    def check_values(values) -> None:  # struct array of AnyValue scalars
        strings = values.field("stringValue")
        if len(strings) and (pc.max(pc.binary_length(strings)).as_py() or 0) > MAX_ATTRIBUTE_CHARS:
            fail("an attribute string long enough to be truncated")
        doubles = values.field("doubleValue")
        if doubles.null_count < len(doubles) and not all_true(pc.is_finite(doubles)):
            fail("a non-finite doubleValue")

    def check_attrs(lists) -> None:
        kv = pc.list_flatten(lists)
        if kv.field("key").null_count:
            fail("an attribute without key")
        values = kv.field("value")
        check_values(values)
        check_values(pc.list_flatten(values.field("arrayValue").field("values")))

    column = block.column("resourceSpans")  # an Array (RecordBatch) or a ChunkedArray (Table)
    for chunk in getattr(column, "chunks", [column]):
        rs = pc.list_flatten(chunk)
        check_attrs(rs.field("resource").field("attributes"))
        spans = pc.list_flatten(pc.list_flatten(rs.field("scopeSpans")).field("spans"))
        if not len(spans):
            continue
        for field, n in (("traceId", 32), ("spanId", 16)):
            ids = spans.field(field)
            if ids.null_count or not all_true(pc.match_substring_regex(ids, _ID_RE[n])):
                fail(f"a {field} that is not {n}-char hex")
        parents = spans.field("parentSpanId")
        if not all_true(pc.or_(pc.equal(parents, ""), pc.match_substring_regex(parents, _ID_RE[16]))):
            fail("a parentSpanId that is not 16-char hex")
        starts = spans.field("startTimeUnixNano")
        if starts.null_count or pc.any(pc.is_in(starts, pa.array(["", "0"]))).as_py():
            fail("a span without startTimeUnixNano")
        kinds = spans.field("kind")
        if not all_true(pc.and_(pc.greater_equal(kinds, 0), pc.less_equal(kinds, 5))):
            fail("a span kind outside 0..5")
        codes = spans.field("status").field("code")
        if not all_true(pc.and_(pc.greater_equal(codes, 0), pc.less_equal(codes, 2))):
            fail("a status code outside 0..2")
        check_attrs(spans.field("attributes"))
        events = pc.list_flatten(spans.field("events"))
        if len(events):
            check_attrs(events.field("attributes"))


def iter_raw_batches_jsonl(
    path: str | os.PathLike[str],
    *,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    source_file: str | None = None,
) -> Iterator[pa.Table]:
    """Yield raw-span Arrow tables (``raw.RAW_COLUMNS``) for an OTLP JSON-lines file.

    Memory is bounded by ``batch_bytes`` (one block parsed at a time), not by the file.
    Raises :class:`FastPathUnsupported` on the first block this reader cannot handle exactly;
    batches yielded before that are correct but the file is incomplete without the rest.
    ``source_file`` defaults to ``path`` as given.
    """
    import duckdb
    import pyarrow.compute as pc

    from agentprof.ingest.raw import raw_schema

    path = os.fspath(path)
    if source_file is None:
        source_file = path
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        raise FastPathUnsupported(f"{path}: gzip-compressed")

    schema = raw_schema()
    literal = "'" + source_file.replace("'", "''") + "'"
    sql = _flatten_sql("_fastpath_block").replace("@SOURCE_FILE@", literal)
    reader = _open(path, batch_bytes)
    con = duckdb.connect()  # private: the caller's connection is never touched
    # Parse the next block in a thread while DuckDB flattens this one: both release the GIL,
    # and Arrow's parser alone does not keep two cores busy.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pending = pool.submit(_next_block, reader, path)
        while True:
            block = pending.result()
            if block is None:
                return
            pending = pool.submit(_next_block, reader, path)
            if block.num_rows == 0:
                continue
            _check_block(block, path)
            con.register("_fastpath_block", block)
            try:
                out = con.sql(sql).to_arrow_table()
            except duckdb.Error as exc:
                raise FastPathUnsupported(f"{path}: {str(exc).splitlines()[0]}") from exc
            finally:
                con.unregister("_fastpath_block")
            dup = out.column("_dup_keys")
            if pc.any(dup).as_py():
                raise FastPathUnsupported(f"{path}: a span with a repeated attribute key; needs the lenient reader")
            out = out.drop_columns(["_dup_keys"])
            if out.num_rows:
                yield out.cast(schema)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        con.close()


def _open(path: str, batch_bytes: int):
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        return pj.open_json(
            path,
            read_options=pj.ReadOptions(block_size=batch_bytes, use_threads=True),
            parse_options=pj.ParseOptions(
                explicit_schema=_otlp_schema(), unexpected_field_behavior="error", newlines_in_values=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # the first block is parsed here
        raise FastPathUnsupported(f"{path}: {exc}") from exc


def _next_block(reader, path: str):
    """The next parsed block, None at the end; parse errors become FastPathUnsupported."""
    import pyarrow as pa

    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise FastPathUnsupported(f"{path}: {exc}") from exc
