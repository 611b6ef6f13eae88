"""One pass from well-formed OTLP JSON lines to span-table rows.

Arrow's C++ JSON parser reads blocks of lines against the strict OTLP schema of
``fastpath`` (both cores). In a worker thread, Arrow compute flattens resourceSpans →
scopeSpans → spans and writes, per span, the JSON text the span table keeps (attributes,
events, resource) and one text column per alias key the mapping reads (``kv_arrow``). Then
ONE DuckDB ``INSERT … SELECT`` per gathered batch maps those flat columns to the span table
(``normalize.FlatRep``: the same alias lists and rules as the JSON-text mapping, generated
from ``normalize.ALIASES``) while the worker prepares the next batch. Nothing parses JSON
text a second time and no Python runs per span.

Strictness is ``fastpath``'s (its schema and block checks are reused), plus what that reader
checks while flattening, plus what the lenient reader judges differently: a repeated
attribute key (span or event; the lenient reader keeps the last value), a start
time that is not positive (it skips the span). On anything it cannot read exactly it raises
:class:`OnePassUnsupported`, and :class:`NeedsMeasuring` for spans carrying prompt content
(their part sizes are measured in Python by the fast reader's path) — possibly after
earlier batches were inserted, so the caller must undo them (``ingest_files`` deletes the
file's rows from the stage table).

A gzip file is read the same way (Arrow decompresses the stream as it parses). Into an
empty store, ``ingest_files`` lets this reader insert straight into the span table (see
``demote`` in :func:`ingest_jsonl`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from agentprof.ingest import batches, kv_arrow, normalize, prompt_parts
from agentprof.ingest.fastpath import (
    DEFAULT_BATCH_BYTES,
    SOURCE_FORMAT,
    FastPathUnsupported,
    _check_block,
    _next_block,
    _open,
    span_columns,
)

if TYPE_CHECKING:
    import duckdb

OnePassUnsupported = FastPathUnsupported
"""Raised when the input needs the lenient reader (same class as the fast reader's refusal)."""


class NeedsMeasuring(OnePassUnsupported):
    """Spans carry prompt content whose part sizes are measured in Python: the fast reader
    (raw JSON text → ``normalize.normalize_into``) reads the file."""


_BLOCK = "_agentprof_onepass"

CONTENT_KEY_REGEX = "^" + prompt_parts.CONTENT_KEYS_REGEX.removeprefix('"')
"""Attribute keys whose spans carry prompt content (``normalize`` measures those in Python)."""


def _raw_relation(spans: str, source_file: str | None, source_format: str, rep: normalize.FlatRep) -> str:
    """A parenthesized query over ``spans`` (one row per span: ``fastpath.span_columns``,
    its attributes and events as JSON text, its resource's JSON text and service name, its
    scope name, its exception type and its alias columns) giving the raw columns as the span
    table keeps them plus the columns ``normalize.FlatRep`` reads."""
    sf = "NULL" if source_file is None else "'" + source_file.replace("'", "''") + "'"
    fmt = "'" + source_format.replace("'", "''") + "'"
    aliases = "".join(f", {rep.sql.v(k)}" for k in rep.sql.index)
    return f"""(
    SELECT
        trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message,
        attributes, events, resource, scope_name,
        {fmt} AS source_format, {sf} AS source_file,
        _exception_type, _service_name{aliases}
    FROM {spans})"""


def _resource(kvs: list | None, cache: dict) -> tuple[str, str | None]:
    """(JSON text, service name) of one resource's attributes (Arrow's dicts of a KeyValue
    list) that repeat a key: the very code the lenient reader runs, with its last-wins rule."""
    import orjson

    from agentprof.ingest.otlp_json import decode_attributes
    from agentprof.ingest.raw import dumps

    key = orjson.dumps(kvs)
    hit = cache.get(key)
    if hit is None:
        otlp = [{"key": kv["key"], "value": _otlp_value(kv["value"])} for kv in kvs or ()]
        attrs = decode_attributes(otlp)
        name = attrs.get("service.name")
        if name is not None and not isinstance(name, str):  # as json_extract_string reads it
            name = orjson.dumps(name).decode()
        hit = cache[key] = (dumps(attrs), name)
        if len(cache) > 10_000:
            cache.clear()
    return hit


def _otlp_value(v: dict | None) -> dict:
    """An AnyValue as Arrow returns it (every member, unset ones None) → its OTLP JSON form."""
    if v is None:
        return {}
    if v.get("jsonValue") is not None:  # a structured value protowire rendered: no OTLP form here
        raise OnePassUnsupported("a structured value in a resource that repeats a key")
    out = {k: x for k, x in v.items() if x is not None and k != "arrayValue"}
    array = v.get("arrayValue")
    if array is not None:
        out["arrayValue"] = {"values": [_otlp_value(e) for e in array.get("values") or ()]}
    return out


def _flatten(block, path: str, cache: dict):
    """One parsed block → a record batch with one row per span: ``fastpath.span_columns``, ``attributes``,
    ``events``, ``resource``, ``_service_name``, ``scope_name``, ``_exception_type`` and an
    alias column (``normalize.alias_column``) for each alias key present in the block. Arrow
    compute throughout (``kv_arrow``): no Python per span, and DuckDB gets flat columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rs = pc.list_flatten(block.column("resourceSpans"))
    ss_lists = pc.struct_field(rs, "scopeSpans")
    ss = pc.list_flatten(ss_lists)
    sp_lists = pc.struct_field(ss, "spans")
    sp = pc.list_flatten(sp_lists)
    sp_scope = pc.list_parent_indices(sp_lists).cast(pa.int32())
    sp_resource = pc.take(pc.list_parent_indices(ss_lists).cast(pa.int32()), sp_scope)
    res_lists = pc.struct_field(pc.struct_field(rs, "resource"), "attributes")
    res_kv = kv_arrow.KeyValues(res_lists)
    if res_kv.repeats_a_key():  # the lenient reader's own code keeps the last value
        resources = [_resource(kvs, cache) for kvs in res_lists.to_pylist()]
        res_text, service = (pa.array(c, pa.string()) for c in zip(*resources))
    else:
        try:
            res_text, service = res_kv.objects(), res_kv.lookup(["service.name"])["service.name"]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise OnePassUnsupported(f"{path}: {exc}; needs the lenient reader") from exc
    scope_name = pc.struct_field(pc.struct_field(ss, "scope"), "name")
    scope_name = pc.if_else(pc.equal(scope_name, ""), pa.scalar(None, pa.string()), scope_name)
    attrs = kv_arrow.KeyValues(pc.struct_field(sp, "attributes"))
    if attrs.repeats_a_key():
        raise OnePassUnsupported(f"{path}: a repeated attribute key; needs the lenient reader")
    present = frozenset(attrs.distinct_keys())
    if any(re.match(CONTENT_KEY_REGEX, k) for k in present):
        raise NeedsMeasuring(f"{path}: prompt content to measure; needs the fast reader")
    ev_lists = pc.struct_field(sp, "events")
    try:
        events, ev_attrs = kv_arrow.events(ev_lists)
        if ev_attrs.repeats_a_key():
            raise OnePassUnsupported(f"{path}: a repeated event attribute key; needs the lenient reader")
        aliases = attrs.lookup([k for k in normalize.alias_keys() if k.removesuffix("[0]") in present])
        # The exception type: of each span's first event named "exception", if it says one.
        exception_type = pa.nulls(len(sp), pa.string())
        is_exception = pc.fill_null(pc.equal(pc.struct_field(pc.list_flatten(ev_lists), "name"), "exception"), False)
        if pc.any(is_exception).as_py():
            rows = np.flatnonzero(is_exception.to_numpy(zero_copy_only=False))
            spans, first = np.unique(pc.list_parent_indices(ev_lists).to_numpy()[rows], return_index=True)
            at = np.full(len(sp), -1, np.int64)
            at[spans] = rows[first]
            exception_type = pc.take(ev_attrs.lookup(["exception.type"])["exception.type"], pa.array(at, mask=at < 0))
        span = span_columns(sp, path)
        # A start that is not positive: the lenient reader skips the span (and reports it).
        if not pc.all(pc.greater(span["start_ns"], 0)).as_py():
            raise OnePassUnsupported(f"{path}: a start time that is not positive; needs the lenient reader")
        end = span["end_ns"]
        span["end_ns"] = pc.if_else(pc.greater(end, 0), end, pa.scalar(None, pa.int64()))  # as a missing end
        columns = {
            # Flat columns, not the span struct: DuckDB then converts only what it reads.
            **span,
            # Typed as JSON: DuckDB then stores the text as is, where from a string it would
            # parse it to check it (~0.4 CPU-s per 1M spans). Valid by construction
            # (kv_arrow's escaping is tested against DuckDB's to_json; orjson).
            "attributes": _json(attrs.objects()),
            "events": _json(events),
            # Per resource and scope once, indexed per span (DuckDB reads the dictionary):
            # a resource's text is repeated by all its spans (166 of ~770 bytes per span).
            "resource": pa.DictionaryArray.from_arrays(sp_resource, _json(res_text)),
            "_service_name": pa.DictionaryArray.from_arrays(sp_resource, service),
            "scope_name": pa.DictionaryArray.from_arrays(sp_scope, scope_name),
            "_exception_type": exception_type,
            **{normalize.alias_column(k): v for k, v in aliases.items()},
        }
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # e.g. an intValue that is not an int64
        raise OnePassUnsupported(f"{path}: {exc}; needs the lenient reader") from exc
    return pa.record_batch(columns)


def _json(texts):
    """JSON texts as Arrow's JSON extension type (read by DuckDB as its JSON type)."""
    import pyarrow as pa

    return pa.ExtensionArray.from_storage(pa.json_(), texts)


def _open_gzip(path: str, batch_bytes: int):
    """``fastpath._open`` for a gzip file: Arrow decompresses as it reads (one stream)."""
    import gzip
    import zlib

    import pyarrow as pa

    from agentprof.ingest.fastpath import MAX_BLOCK_BYTES, BlockReader

    try:
        with gzip.open(path, "rb") as fh:  # a block must hold whole lines: size it from the first one
            first = len(fh.readline(MAX_BLOCK_BYTES))
        stream = pa.input_stream(path, compression="gzip")
        return BlockReader(stream, min(max(batch_bytes, 2 * first), MAX_BLOCK_BYTES))
    except (OSError, EOFError, zlib.error, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise OnePassUnsupported(f"{path}: {exc}") from exc


def ingest_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    *,
    target: str,
    document: bool = False,
    demote: Callable[[], str] | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    rows_per_insert: int | None = None,
    source_file: str | None = None,
    source_format: str = SOURCE_FORMAT,
) -> tuple[int, str]:
    """Insert the spans of an OTLP JSON-lines file (``document``: one OTLP JSON document,
    see ``document_lines``) into ``target``.

    Returns (spans inserted, the table they are in). ``target`` is the span table or an
    ingest stage table (``repair.STAGE``). With ``demote`` (span-table target only), inserts
    are strict (``normalize.NEEDS_STAGE``): the first span that needs a repair or a report
    calls ``demote()``, which moves what is loaded so far into a stage and returns its name,
    and the rest of the file goes there. Memory is bounded by ``batch_bytes`` (one block
    parsed at a time) and ``rows_per_insert`` (spans per query; by default one row group in
    a file store, the first query filling the target's last one: see ``batches.plan``).
    Raises :class:`OnePassUnsupported` on the first block that needs another reader; rows of
    earlier blocks are then already inserted.
    """
    path = os.fspath(path)
    parsed, close = json_blocks(path, document=document, batch_bytes=batch_bytes)
    return _ingest(con, path, parsed, close, target=target, demote=demote, rows_per_insert=rows_per_insert,
                   source_file=source_file, source_format=source_format)


def json_blocks(path: str, *, document: bool = False, batch_bytes: int = DEFAULT_BATCH_BYTES) -> tuple[Iterator, Callable[[], None]]:
    """(Arrow's parsed blocks of the OTLP JSON-lines file at ``path`` (gzip or not), a
    function that closes the file). ``document``: the file is one OTLP JSON
    document, read as JSON lines (``document_lines``). What Arrow or the cutting refuses
    raises :class:`OnePassUnsupported` naming the file."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if document:
        reader = _open_document(path, batch_bytes, gz)
    else:
        reader = _open_gzip(path, batch_bytes) if gz else _open(path, batch_bytes)

    def parsed():  # _next_block turns what the parser or the input refuses into OnePassUnsupported
        while (block := _next_block(reader, path)) is not None:
            yield block

    return parsed(), reader.close


def _open_document(path: str, batch_bytes: int, gz: bool):
    """``fastpath._open`` for one OTLP JSON document (``document_lines`` cuts it into
    lines of whole ResourceSpans; Arrow decompresses a gzip file as it reads)."""
    import pyarrow as pa

    from agentprof.ingest.document_lines import DocumentLines
    from agentprof.ingest.fastpath import BlockReader

    try:
        stream = pa.input_stream(path, compression="gzip" if gz else None)
        return BlockReader(DocumentLines(stream), batch_bytes)
    except (OSError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # the first block is parsed here
        raise OnePassUnsupported(f"{path}: {exc}; needs the lenient reader") from exc


def ingest_proto(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    *,
    length_prefixed: bool,
    target: str,
    demote: Callable[[], str] | None = None,
    rows_per_insert: int | None = None,
    source_file: str | None = None,
    source_format: str,
) -> tuple[int, str]:
    """:func:`ingest_jsonl` for OTLP protobuf (a raw ``ExportTraceServiceRequest``, or
    ``length_prefixed`` records; gzip of either): ``protowire`` decodes it into the blocks
    Arrow's JSON parser gives for JSON lines, and the rest is the same."""
    path = os.fspath(path)
    parsed, close = proto_blocks(path, length_prefixed=length_prefixed)
    return _ingest(con, path, parsed, close, target=target, demote=demote, rows_per_insert=rows_per_insert,
                   source_file=source_file, source_format=source_format)


def proto_blocks(path: str, *, length_prefixed: bool) -> tuple[Iterator, Callable[[], None]]:
    """(the ``protowire`` blocks of the protobuf file at ``path`` (gzip or not), a function
    that closes the file). Anything the decoder refuses or did not foresee raises
    :class:`OnePassUnsupported` naming the file."""
    import pyarrow as pa

    from agentprof.ingest import detect, protowire

    f = detect.open_content(path)

    def parsed():
        try:
            yield from protowire.blocks(f, length_prefixed=length_prefixed)
            if getattr(getattr(f, "raw", None), "truncated", False):  # detect.Gunzip: the stream broke off
                raise OnePassUnsupported(f"{path}: the gzip stream is cut short; needs the lenient reader")
        except OSError as exc:  # a gzip stream cut short: the lenient reader reports it
            raise OnePassUnsupported(f"{path}: {exc}") from exc
        except OnePassUnsupported as exc:
            raise OnePassUnsupported(f"{path}: {exc}; needs the lenient reader") from exc
        except (IndexError, ValueError, OverflowError, pa.ArrowException) as exc:
            # Bytes the decoder's checks did not foresee: the lenient reader (upb) judges them.
            raise OnePassUnsupported(f"{path}: {type(exc).__name__}: {exc}; needs the lenient reader") from exc

    return parsed(), f.close


def _ingest(con, path: str, parsed: Iterator, close: Callable[[], None], *, target: str,
            demote: Callable[[], str] | None, rows_per_insert: int | None, source_file: str | None,
            source_format: str) -> tuple[int, str]:
    """Check, flatten and insert the ``parsed`` blocks of ``path`` (see :func:`ingest_jsonl`);
    ``close`` ends the block source (also when stopping early)."""
    import duckdb
    import pyarrow as pa

    if source_file is None:
        source_file = path
    statements: dict[tuple[str, frozenset[str]], str] = {}  # per target and set of alias keys present
    resource_cache: dict = {}
    inserted = 0

    def blocks():
        """One table of spans per parsed block. Runs in the worker thread (parsing, checks
        and flattening)."""
        for block in parsed:
            if block.num_rows == 0:
                continue
            _check_block(block, path)
            yield pa.Table.from_batches([_flatten(block, path, resource_cache)])

    def load(table, present: frozenset[str]) -> None:
        nonlocal target
        con.register(_BLOCK, table)
        try:
            try:
                con.execute(statement(present))
            except duckdb.InvalidInputException as exc:
                if demote is None or target != normalize.schema.TABLE or not normalize.needs_stage(exc):
                    raise
                target = demote()
                con.execute(statement(present))
        except (duckdb.ConversionException, duckdb.InvalidInputException, duckdb.OutOfRangeException) as exc:
            # A cast or check that failed on this data: another reader must decide.
            raise OnePassUnsupported(f"{path}: {_first_line(exc)}") from exc
        finally:
            con.unregister(_BLOCK)

    def statement(present: frozenset[str]) -> str:
        if (target, present) not in statements:
            stage = target != normalize.schema.TABLE
            rep = normalize.FlatRep(present)
            relation = _raw_relation(_BLOCK, source_file, source_format, rep)
            sql = normalize._select_sql(relation, stage, rep, strict=demote is not None and not stage)
            statements[target, present] = sql.replace("@TARGET@", target)
        return statements[target, present]

    # Parse the next statement's blocks in a thread while DuckDB maps this one: both release
    # the GIL. Only this loop advances the generator, one step at a time.
    tables = batches.cut(blocks(), batches.plan(con, target, rows_per_insert))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        pending = pool.submit(next, tables, None)
        while (table := pending.result()) is not None:
            # The alias keys whose columns the blocks of this statement have (see _flatten).
            present = frozenset(c.removeprefix(_ALIAS_PREFIX).removesuffix("[0]") for c in table.column_names if c.startswith(_ALIAS_PREFIX))
            pending = pool.submit(next, tables, None)
            load(table, present)
            inserted += table.num_rows
            del table  # let Arrow free the rows before the next statement's arrive
    finally:
        close()  # first: a parse waiting for input must see its end
        pool.shutdown(wait=True, cancel_futures=True)
    return inserted, target


_ALIAS_PREFIX = normalize.alias_column("")


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return re.sub(r"^\w+ Error: ", "", text)
