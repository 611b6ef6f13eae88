"""Fast reader for well-formed OTLP JSON lines (the Collector / SDK file-exporter layout).

OTLP JSON is object-dense (two JSON objects per attribute), so a Python loop over decoded
dicts tops out near 80k spans/s on one core. Here Arrow's C++ JSON parser reads blocks of
lines against an explicit OTLP schema (using both cores), Arrow compute flattens
resourceSpans → scopeSpans → spans and writes the JSON text of every key/value and joins
them per span (``kv_arrow``: strings escaped and numbers formatted as DuckDB writes them).
No Python code runs per span.

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

from agentprof.ingest import kv_arrow
from agentprof.ingest.raw import MAX_ATTRIBUTE_CHARS

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
"""Bytes of input parsed per block. A fixed cost per block (~200 Arrow kernel calls to check
and flatten it, on data that has just left the parser's threads) favours larger ones, and
memory grows with it (``READ_AHEAD_BLOCKS`` raw blocks plus the few being parsed). 1M spans
on 1 MB lines, one-pass reader into a file store: checking and flattening took 3.0 CPU-s in
4 MiB blocks, 2.3 in 8 MiB ones; ingest 0.73-0.76x the reference's speed against
0.80-0.84x. A block must hold a whole line, so the first line's length raises it (see
``_open``)."""

DEFAULT_MIN_ROWS = 50_000
"""Raw spans per yielded table (several blocks' worth). The normalizer's one big INSERT costs
~50 ms of fixed work per call, so 5,000-span tables (one 4 MiB block) spent 2.7x the CPU
that 50,000-span tables do; 50,000 raw spans are ~40 MB."""

MAX_BLOCK_BYTES = 64 * 1024 * 1024
"""Largest block: a first line longer than this (e.g. a whole file as one JSON document) makes
the file unsupported here, so memory stays bounded."""

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


# --- flattening: Arrow compute (structure, and the JSON text of key/values: kv_arrow) --------


def _flatten_block(block, source_file: str, source_format: str, path: str):
    """One parsed block (rows = lines) → one raw-span table (rows = spans)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def field(arr, name):
        return pc.struct_field(arr, name)  # applies the parent's nulls, unlike StructArray.field

    rs_lists = block.column("resourceSpans")
    rs = pc.list_flatten(rs_lists)
    ss_lists = field(rs, "scopeSpans")
    ss = pc.list_flatten(ss_lists)
    sp_lists = field(ss, "spans")
    sp = pc.list_flatten(sp_lists)
    n = len(sp)
    if n == 0:
        return None
    sp_scope = pc.list_parent_indices(sp_lists)  # span → its scopeSpans row
    sp_resource = pc.take(pc.list_parent_indices(ss_lists), sp_scope)  # span → its resourceSpans row

    span_kv = kv_arrow.KeyValues(field(sp, "attributes"))
    if span_kv.repeats_a_key():
        raise FastPathUnsupported(f"{path}: a span with a repeated attribute key; needs the lenient reader")
    try:
        attributes = span_kv.objects()
        events, _ = kv_arrow.events(field(sp, "events"))
        resource = pc.take(kv_arrow.KeyValues(field(field(rs, "resource"), "attributes")).objects(), sp_resource)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # an intValue that is not a decimal int64
        raise FastPathUnsupported(f"{path}: {exc}; needs the lenient reader") from exc
    scope_name = pc.take(_nullif_empty(field(field(ss, "scope"), "name")), sp_scope)
    return pa.table(
        {
            **span_columns(sp, path),
            "attributes": attributes,
            "events": events,
            "resource": resource,
            "scope_name": scope_name,
            "source_format": pa.array([source_format] * n, pa.string()),
            "source_file": pa.array([source_file] * n, pa.string()),
        }
    )


def span_columns(sp, path: str) -> dict:
    """The span table's columns that come from a span's own fields (not its attributes), for
    spans as the parsed blocks hold them (``sp``: a struct array, checked by
    :func:`_check_block`): ids in lower case, ``kind``, ``status_code`` and
    ``status_message``, and ``start_ns``/``end_ns`` as int64 (times as OTLP JSON's decimal
    strings or as integers; an empty or zero end is null). Arrow compute, in the reader's
    thread: the mapping statement that follows has less to do."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def field(name):
        return pc.struct_field(sp, name)

    end = field("endTimeUnixNano")
    try:
        start = pc.cast(field("startTimeUnixNano"), pa.int64())
        if pa.types.is_string(end.type):
            end = _nullif_empty(end)
        end = pc.cast(end, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # a time that is not a decimal int64
        raise FastPathUnsupported(f"{path}: {exc}; needs the lenient reader") from exc
    status = field("status")
    kinds = pa.array(["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"])
    codes = pa.array(["unset", "ok", "error"])
    return {
        "trace_id": _lower_hex(field("traceId")),
        "span_id": _lower_hex(field("spanId")),
        "parent_span_id": _lower_hex(_nullif_empty(field("parentSpanId"))),
        "name": pc.fill_null(field("name"), ""),
        "kind": pc.take(kinds, pc.fill_null(field("kind"), 0)),
        "start_ns": start,
        "end_ns": pc.if_else(pc.equal(end, 0), pa.scalar(None, pa.int64()), end),
        "status_code": pc.take(codes, pc.fill_null(pc.struct_field(status, "code"), 0)),
        "status_message": _nullif_empty(pc.struct_field(status, "message")),
    }


def _nullif_empty(arr):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _lower_hex(ids):
    """Hex ids in lower case; one byte test first, since most producers write them so."""
    import pyarrow.compute as pc

    data = kv_arrow.value_bytes(ids)
    if ((data >= 0x41) & (data <= 0x46)).any():
        return pc.ascii_lower(ids)
    return ids


# --- validation (Arrow compute over the whole block, no per-span Python) ------------------

def _all_hex(ids, n: int, *, empty_ok: bool = False) -> bool:
    """Is every (non-null) id ``n`` hex digits (or empty, with ``empty_ok``)? One length test
    and one table lookup over all the ids' bytes: a regex per id cost ~10x as much."""
    import numpy as np
    import pyarrow.compute as pc

    lengths = pc.binary_length(ids)
    right = pc.equal(lengths, n) if not empty_ok else pc.or_(pc.equal(lengths, n), pc.equal(lengths, 0))
    if not pc.all(right, skip_nulls=True).as_py() in (True, None):
        return False
    hex_byte = np.zeros(256, np.bool_)
    hex_byte[np.frombuffer(b"0123456789abcdefABCDEF", np.uint8)] = True
    return bool(hex_byte[kv_arrow.value_bytes(ids)].all())


def _check_block(block, path: str) -> None:
    """Raise FastPathUnsupported if any record needs the lenient reader's judgement."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def fail(what: str):
        raise FastPathUnsupported(f"{path}: {what}; needs the lenient reader")

    def all_true(mask) -> bool:
        return bool(pc.all(mask, skip_nulls=True).as_py() in (True, None))

    def check_values(values) -> None:  # struct array of AnyValue scalars (and protowire's jsonValue)
        texts = [values.field("stringValue")]
        if values.type.get_field_index("jsonValue") >= 0:
            texts.append(values.field("jsonValue"))
        for strings in texts:
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
            if ids.null_count or not _all_hex(ids, n):
                fail(f"a {field} that is not {n}-char hex")
        if not _all_hex(spans.field("parentSpanId"), 16, empty_ok=True):
            fail("a parentSpanId that is not 16-char hex")
        starts = spans.field("startTimeUnixNano")
        absent = pc.is_in(starts, pa.array(["", "0"])) if pa.types.is_string(starts.type) else pc.equal(starts, 0)
        if starts.null_count or pc.any(absent).as_py():
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
    min_rows: int = DEFAULT_MIN_ROWS,
    source_file: str | None = None,
    source_format: str = SOURCE_FORMAT,
) -> Iterator[pa.Table]:
    """Yield raw-span Arrow tables (``raw.RAW_COLUMNS``) for an OTLP JSON-lines file.

    Memory is bounded by ``batch_bytes`` (one block parsed at a time) and ``min_rows`` (raw
    spans gathered from several blocks into one table), not by the file.
    Raises :class:`FastPathUnsupported` on the first block this reader cannot handle exactly;
    batches yielded before that are correct but the file is incomplete without the rest.
    ``source_file`` defaults to ``path`` as given. A file holding one OTLP JSON document on a
    single line (or several, one per line) reads the same way; pass ``source_format="otlp-json"``.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        raise FastPathUnsupported(f"{path}: gzip-compressed")

    reader = _open(path, batch_bytes)

    def parsed():
        while (block := _next_block(reader, path)) is not None:
            yield block

    return iter_raw_batches(parsed(), reader.close, path, min_rows=min_rows, source_file=source_file,
                            source_format=source_format)


def iter_raw_batches(
    blocks: Iterator[pa.RecordBatch],
    close,
    path: str,
    *,
    min_rows: int = DEFAULT_MIN_ROWS,
    source_file: str | None = None,
    source_format: str = SOURCE_FORMAT,
) -> Iterator[pa.Table]:
    """:func:`iter_raw_batches_jsonl` for any source of parsed blocks (Arrow's JSON parser,
    or ``protowire`` for protobuf); ``close()`` ends the source, also when stopping early."""
    import pyarrow as pa

    from agentprof.ingest.raw import raw_schema

    if source_file is None:
        source_file = path
    schema = raw_schema()
    # Parse the next block in a thread while this one is flattened: Arrow releases the GIL,
    # and Arrow's parser alone does not keep two cores busy.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pending = pool.submit(next, blocks, None)
        gathered: list[pa.Table] = []
        rows = 0
        while True:
            block = pending.result()
            if block is None:
                break
            pending = pool.submit(next, blocks, None)
            if block.num_rows == 0:
                continue
            _check_block(block, path)
            out = _flatten_block(block, source_file, source_format, path)
            if out is not None:
                gathered.append(out.cast(schema))
                rows += out.num_rows
            if rows >= min_rows:
                yield pa.concat_tables(gathered)
                gathered, rows = [], 0
        if gathered:
            yield pa.concat_tables(gathered)
    finally:
        close()  # first: a parse waiting for input must see its end
        pool.shutdown(wait=True, cancel_futures=True)


PARSER_DECAY_MS = 100
"""How long the parser's allocator keeps freed pages before returning them to the system."""


def parser_memory_pool():  # -> pyarrow.MemoryPool
    """The memory pool the JSON parser allocates blocks in: Arrow's jemalloc pool, which
    returns freed pages to the system after ``PARSER_DECAY_MS`` (Arrow's default pool keeps
    them much longer: peak RSS of 1M spans 0.98 GB against 0.88 GB, at the same speed; 0 ms
    cost a quarter more CPU), else the default pool where Arrow was built without jemalloc.
    Only Arrow's jemalloc instance is tuned, and Arrow uses it only when asked, so the
    caller's own Arrow allocations are not affected."""
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(PARSER_DECAY_MS)
    except NotImplementedError:
        return pa.default_memory_pool()
    return pool


READ_AHEAD_BLOCKS = 8
"""Raw blocks read beyond the last one handed out. Arrow's streaming JSON reader reads its
input ahead in a background thread, up to ~34 blocks (285 MB of a file's bytes at 8 MiB).
1M spans into a file store (interleaved runs, ingest only): 4 blocks ahead 8.60 s and
785-845 MB peak, 12 ahead 8.35 s and 854-905 MB, unpaced 8.05 s and 1,036-1,044 MB."""


class InvalidUtf8(OSError):
    """The input holds bytes that are not UTF-8 (the lenient reader replaces and reports them)."""


class _PacedInput:
    """A binary stream (``raw``: anything with ``read(n)`` and ``close()``) that lets its
    reader get at most ``ahead`` bytes beyond what :meth:`release` has allowed so far: a
    ``read`` past that waits. :meth:`close` ends the stream (later reads see its end), so a
    reader abandoned mid-file never waits forever.

    It also checks that the bytes are UTF-8, which Arrow's JSON parser does not: a string it
    hands on with invalid bytes made DuckDB invalidate the whole database (a fatal error in
    ``lower``). ASCII, the usual case, is told by ``bytes.isascii``; from the first other
    byte on, every read is decoded (:class:`InvalidUtf8` where that fails)."""

    def __init__(self, raw, ahead: int) -> None:
        import threading

        self._raw = raw
        self._read = 0
        self._allowed = ahead
        self._cond = threading.Condition()
        self._utf8 = None  # an incremental decoder, from the first byte that is not ASCII
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        with self._cond:
            while self._read >= self._allowed and not self.closed:
                self._cond.wait()
            if self.closed:
                return b""
        data = self._raw.read(n)
        if self._utf8 is not None or not data.isascii():
            self._check_utf8(data)
        with self._cond:
            self._read += len(data)
        return data

    def _check_utf8(self, data: bytes) -> None:
        import codecs

        if self._utf8 is None:
            self._utf8 = codecs.getincrementaldecoder("utf-8")()
        try:
            self._utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InvalidUtf8(f"bytes that are not UTF-8 ({exc.reason}) near byte {self._read + exc.start}") from exc

    def release(self, nbytes: int) -> None:
        with self._cond:
            self._allowed += nbytes
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._cond.notify_all()
        self._raw.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class BlockReader:
    """Parsed blocks of an OTLP JSON-lines stream (Arrow's streaming JSON reader over a
    :class:`_PacedInput`, at most :data:`READ_AHEAD_BLOCKS` blocks ahead). Call
    :meth:`close` when done, also when stopping early."""

    def __init__(self, raw, block_bytes: int) -> None:
        import pyarrow as pa
        import pyarrow.json as pj

        self._input = _PacedInput(raw, READ_AHEAD_BLOCKS * block_bytes)
        self._block_bytes = block_bytes
        try:
            self._reader = pj.open_json(
                pa.PythonFile(self._input, mode="r"),
                read_options=pj.ReadOptions(block_size=block_bytes, use_threads=True),
                parse_options=pj.ParseOptions(
                    explicit_schema=_otlp_schema(), unexpected_field_behavior="error", newlines_in_values=False
                ),
                memory_pool=parser_memory_pool(),
            )
        except BaseException:
            self._input.close()
            raise

    def read_next_batch(self):
        batch = self._reader.read_next_batch()
        self._input.release(self._block_bytes)
        return batch

    def close(self) -> None:
        self._input.close()


def _open(path: str, batch_bytes: int) -> BlockReader:
    import pyarrow as pa

    with open(path, "rb") as fh:  # a block must hold whole lines: size it from the first one
        first = len(fh.readline(MAX_BLOCK_BYTES))
    batch_bytes = min(max(batch_bytes, 2 * first), MAX_BLOCK_BYTES)
    try:
        # The format comes from the content, never the name: Arrow would take a ".gz" (or
        # ".bz2", ".zst", ...) name for compression and fail on a plain file so named.
        return BlockReader(pa.input_stream(path, compression=None), batch_bytes)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:  # the first block is parsed here
        raise FastPathUnsupported(f"{path}: {exc}") from exc


def _next_block(reader, path: str):
    """The next parsed block, None at the end; parse errors become FastPathUnsupported."""
    import pyarrow as pa

    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:  # OSError: e.g. InvalidUtf8, a cut gzip stream
        raise FastPathUnsupported(f"{path}: {exc}") from exc
