"""OTLP protobuf → the Arrow blocks the one-pass reader reads, decoded with numpy.

Walking upb messages in Python costs ~10 s of one core per 1M spans (every attribute is a
KeyValue holding an AnyValue: three message objects). Here the protobuf wire format is
decoded level by level over whole arrays instead: all spans of a chunk read their first
field at once, then their second, and so on (a span has ~20 fields; a KeyValue 2), so numpy
runs a few hundred array operations per chunk and no Python runs per span or attribute.
The result has the shape Arrow's JSON parser gives the one-pass reader for OTLP JSON lines
(``fastpath._otlp_schema``, with hex ids, but times as int64), so the same checks, the same
flattening and the same mapping INSERT follow (``onepass.ingest_proto``).

Strict, as the JSON one-pass reader is: anything it cannot turn into exactly the rows the
lenient reader (``otlp_proto``: upb messages, then the same mapping) would produce raises
:class:`~agentprof.ingest.fastpath.FastPathUnsupported` — a truncated or malformed message,
a known field with the wrong wire type, a singular field given twice (protobuf merges or
takes the last), invalid UTF-8, string-table indices, a span or start time the lenient
reader would skip. The caller then reads the file with the lenient reader, which reports
every problem with its place. Structured values (``kvlistValue``, ``bytesValue``, arrays of
those or of arrays) are rare enough to be rendered by the lenient reader's own code, one by
one (``jsonValue``; see :func:`_any_values`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from agentprof.ingest.fastpath import FastPathUnsupported

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes of ResourceSpans decoded at once (~22,000 spans of the benchmark corpus). Each
level of the decode is a fixed number of numpy calls whatever the chunk's size, so larger
chunks cost less per span; memory grows with it (a few times the chunk's bytes)."""

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
"""A single ResourceSpans larger than this goes to the lenient reader (memory stays bounded)."""

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

# Per message type: field number → (wire type, repeated). Fields not listed are unknown and
# skipped, as upb keeps them aside; a listed field with another wire type fails upb's parse.
_RESOURCE_SPANS = {1: (_LEN, False), 2: (_LEN, True), 3: (_LEN, False)}
_RESOURCE = {1: (_LEN, True), 2: (_VARINT, False), 3: (_LEN, True)}
_SCOPE_SPANS = {1: (_LEN, False), 2: (_LEN, True), 3: (_LEN, False)}
_SCOPE = {1: (_LEN, False), 2: (_LEN, False), 3: (_LEN, True), 4: (_VARINT, False)}
_SPAN = {
    1: (_LEN, False), 2: (_LEN, False), 3: (_LEN, False), 4: (_LEN, False), 5: (_LEN, False),
    6: (_VARINT, False), 7: (_I64, False), 8: (_I64, False), 9: (_LEN, True), 10: (_VARINT, False),
    11: (_LEN, True), 12: (_VARINT, False), 13: (_LEN, True), 14: (_VARINT, False), 15: (_LEN, False),
    16: (_I32, False),
}
_EVENT = {1: (_I64, False), 2: (_LEN, False), 3: (_LEN, True), 4: (_VARINT, False)}
_LINK = {1: (_LEN, False), 2: (_LEN, False), 3: (_LEN, False), 4: (_LEN, True), 5: (_VARINT, False), 6: (_I32, False)}
_STATUS = {2: (_LEN, False), 3: (_VARINT, False)}
_KEY_VALUE = {1: (_LEN, False), 2: (_LEN, False)}
_ANY_VALUE = {1: (_LEN, False), 2: (_VARINT, False), 3: (_VARINT, False), 4: (_I64, False), 5: (_LEN, False),
              6: (_LEN, False), 7: (_LEN, False)}
_ARRAY_VALUE = {1: (_LEN, True)}
_UNSUPPORTED = {
    id(_KEY_VALUE): "a KeyValue with a key string-table index",
    id(_ANY_VALUE): "a string-table value",
}
"""Messages whose every field is listed: a field not listed is one the one-pass reader does
not read (the lenient reader does)."""


class _Unsupported(FastPathUnsupported):
    pass


class _Fields:
    """The occurrences of one field in a set of messages: ``owner`` (the message's index),
    and ``a``, ``b``: (start, length) in the buffer for a length-delimited field, (value, -)
    for a varint, (start, -) for a fixed-size one. Ordered by owner, then by position."""

    __slots__ = ("owner", "a", "b")

    def __init__(self, owner, a, b) -> None:
        self.owner, self.a, self.b = owner, a, b


def _varints(buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values as uint64, positions after them) of the varints starting at ``pos``. ``buf``
    ends in 10 zero bytes of padding, so a read past a message's end stays inside it (and
    is caught by the caller's bounds check)."""
    import numpy as np

    byte = buf[pos]
    value = (byte & 0x7F).astype(np.uint64)
    size = np.ones(len(pos), np.int64)
    going = np.flatnonzero(byte & 0x80)
    shift = 7
    while going.size:
        if shift > 63:
            raise _Unsupported("a malformed varint")
        byte = buf[pos[going] + size[going]]
        value[going] |= (byte & 0x7F).astype(np.uint64) << np.uint64(shift)
        size[going] += 1
        going = going[(byte & 0x80) != 0]
        shift += 7
    return value, pos + size


def _scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, spec: dict) -> dict[int, _Fields]:
    """Decode the fields of the messages at ``[starts, ends)`` (all of one type, ``spec``).
    Every message reads its k-th field in the k-th round, so there are as many rounds as the
    longest message has fields."""
    import numpy as np

    strict = id(spec) in _UNSUPPORTED
    pieces: dict[int, list[tuple]] = {}
    msg = np.flatnonzero(starts < ends)
    pos, end = starts[msg], ends[msg]
    while msg.size:
        tag, pos = _varints(buf, pos)
        field = (tag >> np.uint64(3)).astype(np.int64)
        wire = (tag & np.uint64(7)).astype(np.int64)
        a = np.zeros(len(msg), np.int64)
        b = np.zeros(len(msg), np.int64)
        is_len, is_var = wire == _LEN, wire == _VARINT
        if is_len.any():
            at = np.flatnonzero(is_len)
            length, after = _varints(buf, pos[at])
            if (length > np.uint64(MAX_MESSAGE_BYTES)).any():
                raise _Unsupported("a length-delimited field longer than the message")
            a[at], b[at] = after, length.astype(np.int64)
            pos[at] = after + b[at]
        if is_var.any():
            at = np.flatnonzero(is_var)
            value, pos[at] = _varints(buf, pos[at])
            a[at] = value.view(np.int64)
        fixed = np.flatnonzero((wire == _I64) | (wire == _I32))
        if fixed.size:
            a[fixed] = pos[fixed]
            pos[fixed] += np.where(wire[fixed] == _I64, 8, 4)
        if not (is_len | is_var | (wire == _I64) | (wire == _I32)).all():
            raise _Unsupported(f"wire type {int(wire[~(is_len | is_var | (wire == _I64) | (wire == _I32))][0])}")
        if (pos > end).any():
            raise _Unsupported("a field that runs past the end of its message")
        small = field < 64  # field numbers of the spec are all small; others are unknown
        numbers = np.flatnonzero(np.bincount(field[small], minlength=64)).tolist()
        if not small.all():
            numbers += np.unique(field[~small]).tolist()
        for number in numbers:
            expected = spec.get(number)
            if expected is None:
                if strict or number == 0:
                    raise _Unsupported(_UNSUPPORTED.get(id(spec), f"field number {number}"))
                continue  # unknown: skipped
            sel = np.flatnonzero(field == number) if len(numbers) > 1 else slice(None)
            if (wire[sel] != expected[0]).any():
                raise _Unsupported(f"field {number} with wire type {int(wire[sel][0])}")
            pieces.setdefault(number, []).append((msg[sel], a[sel], b[sel]))
        more = pos < end
        msg, pos, end = msg[more], pos[more], end[more]
    out = {}
    for number, parts in pieces.items():
        owner = np.concatenate([p[0] for p in parts])
        a = np.concatenate([p[1] for p in parts])
        b = np.concatenate([p[2] for p in parts])
        if spec[number][1]:
            if len(parts) > 1:  # rounds are each in owner order; merge them by owner
                order = np.argsort(owner, kind="stable")
                owner, a, b = owner[order], a[order], b[order]
        elif len(parts) > 1 and np.bincount(owner).max() > 1:
            raise _Unsupported(f"field {number} given twice in one message")
        out[number] = _Fields(owner, a, b)
    return out


def _singular(fields: dict[int, _Fields], number: int, n: int):
    """(present mask, a, b) per message for a singular field (zeros where absent)."""
    import numpy as np

    present = np.zeros(n, np.bool_)
    a = np.zeros(n, np.int64)
    b = np.zeros(n, np.int64)
    f = fields.get(number)
    if f is not None:
        present[f.owner], a[f.owner], b[f.owner] = True, f.a, f.b
    return present, a, b


def _repeated(fields: dict[int, _Fields], number: int, n: int):
    """(list offsets for ``n`` messages as int32, starts, lengths) of a repeated message field."""
    import numpy as np

    f = fields.get(number)
    offsets = np.zeros(n + 1, np.int32)
    if f is None:
        empty = np.zeros(0, np.int64)
        return offsets, empty, empty
    np.cumsum(np.bincount(f.owner, minlength=n), out=offsets[1:])
    return offsets, f.a, f.a + f.b


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    """(offsets as int32, bytes) of the byte ranges, concatenated."""
    import numpy as np

    offsets = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total >= 1 << 31:
        raise _Unsupported("more than 2 GiB of strings in one chunk")
    if total == 0:
        return offsets.astype(np.int32), np.zeros(0, np.uint8)
    index = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
    return offsets.astype(np.int32), buf[index]


def _strings(buf, starts, lengths, valid=None) -> pa.Array:
    """A UTF-8-checked string array of the byte ranges (null where ``valid`` is False; an
    absent range has length 0)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(starts)
    ends = starts + lengths
    # The ranges come in buffer order (a field's occurrences are ordered by message, and
    # messages by position), so one binary array over the whole buffer holds them at its odd
    # positions, with the bytes between them at the even ones; Arrow's take copies them out.
    # An absent range (start 0) is put where the previous one ended.
    present = lengths > 0
    if n and not present.all():
        before = np.zeros(n, np.int64)
        np.maximum.accumulate(np.where(present, ends, 0)[:-1], out=before[1:])
        starts = np.where(present, starts, before)
        ends = np.where(present, ends, before)
    offsets = np.empty(2 * n + 2, np.int64)
    offsets[0], offsets[-1] = 0, len(buf)
    offsets[1:-1:2], offsets[2:-1:2] = starts, ends
    if n and (np.diff(offsets) < 0).any() or len(buf) >= 1 << 31:
        raise _Unsupported("string fields out of buffer order")
    whole = pa.Array.from_buffers(pa.binary(), 2 * n + 1, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(buf)])
    picked = pc.take(whole, pa.array(np.arange(1, 2 * n, 2, dtype=np.int32)))
    try:
        arr = picked.cast(pa.string())  # checks UTF-8
    except pa.ArrowInvalid as exc:
        raise _Unsupported("a string that is not valid UTF-8") from exc
    if valid is not None and not valid.all():
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, pa.string()))
    return arr


_HEX_PAIRS = None


def _hex(buf, starts, lengths) -> pa.Array:
    """Lower-case hex text of each byte range (ids)."""
    import numpy as np
    import pyarrow as pa

    global _HEX_PAIRS
    if _HEX_PAIRS is None:  # byte → its two hex digits, as one uint16 in memory order
        _HEX_PAIRS = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), np.uint16)
    if len(lengths) and (lengths == lengths[0]).all():  # the usual case: every id of one size
        size = int(lengths[0])
        data = buf[starts[:, None] + np.arange(size)]
        offsets = np.arange(len(starts) + 1, dtype=np.int32) * (2 * size)
    else:
        offsets, data = _gather(buf, starts, lengths)
        offsets = offsets * 2
    text = _HEX_PAIRS[data].view(np.uint8)
    return pa.Array.from_buffers(pa.string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(text)])


def _fixed64(buf, starts, present):
    """uint64 little-endian values at ``starts`` (0 where not ``present``)."""
    import numpy as np

    # Every 8-byte window of the buffer as one (unaligned) uint64: one gather reads them.
    windows = np.ndarray((len(buf) - 7,), "<u8", buffer=buf, strides=(1,))
    return np.where(present, windows[np.where(present, starts, 0)], np.uint64(0))


def _times(values: np.ndarray) -> pa.Array:
    """fixed64 times (0: absent) as int64, as the JSON reader's decimal strings are cast; a
    time an int64 cannot hold is one the lenient reader reads differently."""
    import numpy as np
    import pyarrow as pa

    if (values >= np.uint64(1 << 63)).any():
        raise _Unsupported("a time beyond the int64 range")
    return pa.array(values.view(np.int64), pa.int64())


def _list(offsets, values) -> pa.Array:
    import pyarrow as pa

    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _any_values(buf, starts, ends, *, top: bool = True) -> tuple[pa.Array, np.ndarray]:
    """AnyValue messages → (struct<stringValue, intValue, doubleValue, boolValue[,
    arrayValue, jsonValue]>: the members ``kv_arrow`` reads, all null for an AnyValue that
    holds nothing; which of them are structured). A structured value (a kvlistValue, a
    bytesValue, an array holding one of those or another array) is rendered whole as the
    lenient reader renders it, as JSON text in ``jsonValue``; ``top=False`` (array
    elements) only marks them."""
    import numpy as np
    import pyarrow as pa

    n = len(starts)
    f = _scan(buf, starts, ends, _ANY_VALUE)
    if len(f) > 1 and (np.bincount(np.concatenate([x.owner for x in f.values()]), minlength=n) > 1).any():
        raise _Unsupported("an AnyValue with more than one value")
    structured = np.zeros(n, np.bool_)
    for number in (6, 7) if top else (5, 6, 7):
        if number in f:
            structured[f[number].owner] = True
    has_s, s_at, s_len = _singular(f, 1, n)
    has_b, b_val, _ = _singular(f, 2, n)
    has_i, i_val, _ = _singular(f, 3, n)
    has_d, d_at, _ = _singular(f, 4, n)
    names = ["stringValue", "intValue", "doubleValue", "boolValue"]
    arrays = [
        _strings(buf, s_at, s_len, has_s),
        pa.array(i_val, pa.int64(), mask=~has_i),
        pa.array(_fixed64(buf, d_at, has_d).view(np.float64), pa.float64(), mask=~has_d),
        pa.array(b_val != 0, pa.bool_(), mask=~has_b),
    ]
    if top:
        has_a, a_at, a_len = _singular(f, 5, n)
        arr_fields = _scan(buf, a_at, a_at + a_len, _ARRAY_VALUE)
        offsets, e_starts, e_ends = _repeated(arr_fields, 1, n)
        elements, nested = _any_values(buf, e_starts, e_ends, top=False)
        if nested.any():
            structured[np.repeat(np.arange(n), np.diff(offsets))[nested]] = True
            has_a &= ~structured
        names.append("arrayValue")
        arrays.append(pa.StructArray.from_arrays([_list(offsets, elements)], ["values"], mask=pa.array(~has_a)))
        if structured.any():
            names.append("jsonValue")
            arrays.append(_rendered(buf, starts, ends, structured))
    return pa.StructArray.from_arrays(arrays, names), structured


def _rendered(buf, starts, ends, rows) -> pa.Array:
    """JSON text of the AnyValues at ``rows`` (null elsewhere), decoded by upb and written by
    the lenient reader's own code: structured values are rare, so Python per value is fine."""
    import numpy as np
    import pyarrow as pa
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    from agentprof.ingest.otlp_proto import _any
    from agentprof.ingest.raw import dumps

    texts: list[str | None] = [None] * len(starts)
    for i in np.flatnonzero(rows).tolist():
        try:
            texts[i] = dumps(_any(AnyValue.FromString(buf[starts[i]:ends[i]].tobytes())))
        except DecodeError as exc:
            raise _Unsupported(f"a structured value that does not parse ({exc})") from exc
    return pa.array(texts, pa.string())


def _check_utf8(buf, fields: dict[int, _Fields], number: int, n: int) -> None:
    """A string field the span table does not keep is still one upb checks for UTF-8."""
    present, at, length = _singular(fields, number, n)
    _strings(buf, at, length, present)


def _key_values(buf, offsets, starts, ends) -> pa.Array:
    """list<struct<key, value>> of the KeyValue messages at [starts, ends), in lists by ``offsets``."""
    import pyarrow as pa

    n = len(starts)
    f = _scan(buf, starts, ends, _KEY_VALUE)
    _, k_at, k_len = _singular(f, 1, n)  # an absent key is "" (proto3), as upb reads it
    has_v, v_at, v_len = _singular(f, 2, n)
    values, _ = _any_values(buf, v_at, v_at + v_len)
    kv = pa.StructArray.from_arrays([_strings(buf, k_at, k_len), values], ["key", "value"])
    return _list(offsets, kv)


def _check_links(buf, starts, ends) -> None:
    """Links are not read into the span table, but upb parses them: decode them to refuse
    what it would refuse."""
    n = len(starts)
    f = _scan(buf, starts, ends, _LINK)
    _check_utf8(buf, f, 3, n)
    _key_values(buf, *_repeated(f, 4, n))


def decode(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.RecordBatch:
    """The ResourceSpans messages at ``[starts, ends)`` of ``buf`` (uint8, with 10 bytes of
    zero padding after the last) as a one-row batch with the column ``resourceSpans``."""
    import numpy as np
    import pyarrow as pa

    n_rs = len(starts)
    rs = _scan(buf, starts, ends, _RESOURCE_SPANS)
    _, res_at, res_len = _singular(rs, 1, n_rs)
    _check_utf8(buf, rs, 3, n_rs)  # schema_url
    res = _scan(buf, res_at, res_at + res_len, _RESOURCE)
    if 3 in res:
        raise _Unsupported("a resource with entity references")
    res_attrs = _key_values(buf, *_repeated(res, 1, n_rs))
    resource = pa.StructArray.from_arrays([res_attrs], ["attributes"])
    ss_offsets, ss_starts, ss_ends = _repeated(rs, 2, n_rs)

    n_ss = len(ss_starts)
    ss = _scan(buf, ss_starts, ss_ends, _SCOPE_SPANS)
    _, sc_at, sc_len = _singular(ss, 1, n_ss)
    _check_utf8(buf, ss, 3, n_ss)  # schema_url
    sc = _scan(buf, sc_at, sc_at + sc_len, _SCOPE)
    _, name_at, name_len = _singular(sc, 1, n_ss)
    _check_utf8(buf, sc, 2, n_ss)  # version
    _key_values(buf, *_repeated(sc, 3, n_ss))  # checked; the span table keeps the scope's name only
    scope = pa.StructArray.from_arrays([_strings(buf, name_at, name_len)], ["name"])
    sp_offsets, sp_starts, sp_ends = _repeated(ss, 2, n_ss)

    n = len(sp_starts)
    sp = _scan(buf, sp_starts, sp_ends, _SPAN)
    _, tid_at, tid_len = _singular(sp, 1, n)
    _, sid_at, sid_len = _singular(sp, 2, n)
    _check_utf8(buf, sp, 3, n)  # trace_state
    _, pid_at, pid_len = _singular(sp, 4, n)
    _, nm_at, nm_len = _singular(sp, 5, n)
    _, kind, _ = _singular(sp, 6, n)
    has_start, start_at, _ = _singular(sp, 7, n)
    has_end, end_at, _ = _singular(sp, 8, n)
    start = _fixed64(buf, start_at, has_start)
    if not (start > 0).all():
        raise _Unsupported("a span whose start time is missing")
    if 13 in sp:
        _check_links(buf, *_repeated(sp, 13, n)[1:])
    _, stat_at, stat_len = _singular(sp, 15, n)
    stat = _scan(buf, stat_at, stat_at + stat_len, _STATUS)
    has_msg, msg_at, msg_len = _singular(stat, 2, n)
    _, code, _ = _singular(stat, 3, n)
    status = pa.StructArray.from_arrays(
        [_strings(buf, msg_at, msg_len, has_msg), pa.array(code, pa.int64())], ["message", "code"]
    )

    ev_offsets, ev_starts, ev_ends = _repeated(sp, 11, n)
    n_ev = len(ev_starts)
    ev = _scan(buf, ev_starts, ev_ends, _EVENT)
    has_t, t_at, _ = _singular(ev, 1, n_ev)
    _, en_at, en_len = _singular(ev, 2, n_ev)
    events = pa.StructArray.from_arrays(
        [
            _times(_fixed64(buf, t_at, has_t)),  # an absent time is 0 (proto3), as upb reads it
            _strings(buf, en_at, en_len),
            _key_values(buf, *_repeated(ev, 3, n_ev)),
        ],
        ["timeUnixNano", "name", "attributes"],
    )

    spans = pa.StructArray.from_arrays(
        [
            _hex(buf, tid_at, tid_len), _hex(buf, sid_at, sid_len), _hex(buf, pid_at, pid_len),
            _strings(buf, nm_at, nm_len), pa.array(kind, pa.int64()),
            _times(start), _times(_fixed64(buf, end_at, has_end)),  # an absent end: 0
            _key_values(buf, *_repeated(sp, 9, n)), _list(ev_offsets, events), status,
        ],
        ["traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano",
         "attributes", "events", "status"],
    )
    scope_spans = pa.StructArray.from_arrays([scope, _list(sp_offsets, spans)], ["scope", "spans"])
    resource_spans = pa.StructArray.from_arrays([resource, _list(ss_offsets, scope_spans)], ["resource", "scopeSpans"])
    column = _list(np.array([0, n_rs], np.int32), resource_spans)
    return pa.record_batch([column], ["resourceSpans"])


def _header(data: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """(value, position after) of the varint at ``at``, None when ``data`` ends inside it."""
    shift = value = 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise _Unsupported("a malformed varint")
    return None


def blocks(f: IO[bytes], *, length_prefixed: bool, chunk_bytes: int | None = None) -> Iterator[pa.RecordBatch]:
    """Decoded blocks (see :func:`decode`) of an OTLP protobuf stream: a raw
    ``ExportTraceServiceRequest``, or (``length_prefixed``) records of a 4-byte big-endian
    length and a request each. Each block holds the ResourceSpans of about ``chunk_bytes``
    (default :data:`CHUNK_BYTES`)."""
    import numpy as np

    chunk_bytes = chunk_bytes or CHUNK_BYTES
    data = bytearray()
    at = 0  # where the next top-level field (or record) starts in ``data``
    record_end = None  # with length prefixes: where the current record ends in ``data``
    eof = False
    starts: list[int] = []
    ends: list[int] = []

    def flush() -> pa.RecordBatch:
        buf = np.zeros(ends[-1] + 10, np.uint8)  # one copy, with the padding decode wants
        view = np.frombuffer(data, np.uint8, ends[-1])
        buf[: ends[-1]] = view
        del view  # (a bytearray with a view cannot shrink)
        return decode(buf, np.array(starts, np.int64), np.array(ends, np.int64))

    while True:
        if starts and (ends[-1] - starts[0] >= chunk_bytes or eof):
            yield flush()
            cut = ends[-1]
            del data[:cut]
            at -= cut
            if record_end is not None:
                record_end -= cut
            starts, ends = [], []
        if eof and at >= len(data):
            if record_end is not None and at < record_end:
                raise _Unsupported("the file ends inside a record")
            return
        need = None  # bytes wanted beyond ``data`` to go on
        if length_prefixed and (record_end is None or at >= record_end):
            if at != record_end and record_end is not None:
                raise _Unsupported("a field that runs past the end of its record")
            if len(data) - at >= 4:
                record_end = at + 4 + int.from_bytes(data[at:at + 4], "big")
                at += 4
                continue
            need = 4
        else:
            tag = _header(data, at)
            size = _header(data, tag[1]) if tag is not None and tag[0] & 7 == _LEN else None
            if tag is not None and tag[0] & 7 != _LEN:
                raise _Unsupported("a top-level field that is not length-delimited")
            if size is not None:
                body, stop = size[1], size[1] + size[0]
                if size[0] > MAX_MESSAGE_BYTES:
                    raise _Unsupported("a ResourceSpans message larger than the reader's bound")
                if record_end is not None and stop > record_end:
                    raise _Unsupported("a field that runs past the end of its record")
                if stop <= len(data):
                    if tag[0] >> 3 == 1:
                        starts.append(body)
                        ends.append(stop)
                    elif tag[0] >> 3 == 0:
                        raise _Unsupported("field number 0")
                    at = stop
                    continue
                need = stop - len(data)
            else:
                need = 1
        if eof:
            if at < len(data):
                raise _Unsupported("the file ends inside a message")
            continue
        chunk = f.read(max(chunk_bytes, need))
        if not chunk:
            eof = True
        data += chunk
