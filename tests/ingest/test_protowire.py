"""The protobuf one-pass reader (``protowire`` → ``onepass.ingest_proto``) must store exactly
what the lenient protobuf reader (upb messages walked in Python) stores, or refuse.

Files are made from the JSON-lines test generator's documents through the real OTLP proto
classes (``json_format.ParseDict`` → ``SerializeToString``), and byte-level damage is
written with the wire format's own rules, so upb judges every case the way it would judge a
file from the field.
"""

from __future__ import annotations

import base64
import copy
import gzip
import math
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentprof import schema
from agentprof.ingest import detect, ingest_files, onepass, otlp_proto, protowire, repair
from agentprof.ingest.onepass import OnePassUnsupported
from agentprof.store import open_store
from test_onepass import CONVENTIONS, T0, _kv, _one, _s, generate
from test_onepass import _both as _both_readers

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- building protobuf files ---------------------------------------------------------------

def _request_bytes(doc: dict) -> bytes:
    """An OTLP JSON document (hex ids, as the generator writes) → a serialized request."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    doc = copy.deepcopy(doc)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if sp.get(key):
                        sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
                for link in sp.get("links", []):
                    for key in ("traceId", "spanId"):
                        link[key] = base64.b64encode(bytes.fromhex(link[key])).decode()
    return ParseDict(doc, ExportTraceServiceRequest()).SerializeToString()


def _to_proto(jsonl: Path, out: Path, *, length_prefixed: bool = False) -> Path:
    """The same spans as protobuf: one request (requests concatenate into one on the wire),
    or the Collector's length-prefixed records, one per JSON line."""
    parts = []
    for line in jsonl.read_bytes().splitlines():
        body = _request_bytes(orjson.loads(line))
        parts.append(len(body).to_bytes(4, "big") + body if length_prefixed else body)
    out.write_bytes(b"".join(parts))
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _span_bytes(**over) -> bytes:
    """One span (``_one``'s, with ``over``; a None value leaves the field out), serialized."""
    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    doc = _request_doc([_one(**over)])
    sp = {k: v for k, v in doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0].items() if v is not None}
    for key in ("traceId", "spanId", "parentSpanId"):
        if sp.get(key):
            sp[key] = base64.b64encode(bytes.fromhex(sp[key])).decode()
    return ParseDict(sp, Span()).SerializeToString()


def _wrap(span: bytes) -> bytes:
    """A request holding one resource (service "svc"), one scope "s" and this span's bytes."""
    resource = _field(1, _field(1, b"service.name") + _field(2, _field(1, b"svc")))
    return _field(1, _field(1, resource) + _field(2, _field(1, _field(1, b"s")) + _field(2, span)))


def _request_doc(spans: list[dict]) -> dict:
    return {"resourceSpans": [{"resource": {"attributes": [_kv("service.name", _s("svc"))]},
                               "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]}


# --- comparing with the lenient reader -------------------------------------------------------

def _both(path: Path, monkeypatch, *, expect_onepass: bool | None):
    return _both_readers(path, monkeypatch, expect_onepass=expect_onepass, reader="ingest_proto")


_JSON_COLUMNS = [i for i, c in enumerate(schema.COLUMNS) if c.sql_type == "JSON"]


def _as_values(row: tuple) -> tuple:
    """The row with its JSON columns parsed: the one-pass readers write DuckDB's spelling of
    the same values (``\\u000F`` where orjson writes ``\\u000f``, ``1e+20`` for ``1e20``)."""
    return tuple(orjson.loads(v) if i in _JSON_COLUMNS else v for i, v in enumerate(row))


def _assert_identical(path: Path, monkeypatch, *, expect_onepass: bool = True, json_as_values: bool = False) -> list[tuple]:
    fast, slow, fast_rep, slow_rep = _both(path, monkeypatch, expect_onepass=expect_onepass)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        if json_as_values:
            a, b = _as_values(a), _as_values(b)
        assert a == b
    assert fast_rep == slow_rep
    return fast


COL = {n: i for i, n in enumerate(schema.COLUMN_NAMES)}


# --- well-formed files read one pass ---------------------------------------------------------

def test_mixed_conventions_are_identical_to_the_lenient_reader(tmp_path, monkeypatch):
    """Every convention, errors, exception events, arrays, doubles, missing ends, an orphan."""
    p = _to_proto(generate(tmp_path / "mixed.jsonl", traces=60, seed=11), tmp_path / "mixed.pb")
    assert detect.sniff(p.read_bytes()[:4096]) == detect.OTLP_PROTO
    rows = _assert_identical(p, monkeypatch)
    assert len(rows) > 300
    assert {r[COL["source_format"]] for r in rows} == {"otlp-proto"}
    assert any(r[COL["provider"]] == "gcp.vertex_ai" for r in rows)
    assert any(r[COL["error_type"]] == "TimeoutError" for r in rows)
    assert any(r[COL["finish_reason"]] == "stop" for r in rows)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_each_convention_alone_is_identical(tmp_path, monkeypatch, convention):
    jsonl = generate(tmp_path / f"{convention}.jsonl", traces=8, seed=3, conventions=(convention,))
    _assert_identical(_to_proto(jsonl, tmp_path / f"{convention}.pb"), monkeypatch)


def test_the_same_spans_as_json_lines_give_the_same_rows(tmp_path, monkeypatch):
    """Protobuf and JSON lines of one trace differ only in the columns naming the source."""
    jsonl = generate(tmp_path / "m.jsonl", traces=30, seed=5)
    pb = _to_proto(jsonl, tmp_path / "m.pb")
    cons = {}
    for name, path in (("jsonl", jsonl), ("pb", pb)):
        cons[name] = open_store()
        ingest_files(cons[name], [path])
    cols = ", ".join(c for c in schema.COLUMN_NAMES if c not in ("source_format", "source_file"))
    q = f"SELECT {cols} FROM spans ORDER BY trace_id, span_id, start_ns"
    a, b = cons["jsonl"].execute(q).fetchall(), cons["pb"].execute(q).fetchall()
    assert len(a) > 150 and a == b


def test_bench_corpus_is_identical_with_exact_totals(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_corpus", Path(__file__).resolve().parents[2] / "bench" / "gen_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    paths = mod.generate(3000, tmp_path, {"jsonl", "proto"}, seed=7)
    rows = _assert_identical(paths["proto"], monkeypatch)
    assert len(rows) == 3000
    con = open_store()
    ingest_files(con, [paths["jsonl"]])
    totals = "SELECT count(*), sum(input_tokens), sum(output_tokens), count(DISTINCT trace_id) FROM spans"
    assert (3000, *[sum(r[COL[c]] or 0 for r in rows) for c in ("input_tokens", "output_tokens")],
            len({r[COL["trace_id"]] for r in rows})) == con.execute(totals).fetchone()


def test_length_prefixed_records_read_one_pass(tmp_path, monkeypatch):
    p = _to_proto(generate(tmp_path / "m.jsonl", traces=20, seed=8), tmp_path / "m.pblp", length_prefixed=True)
    assert detect.sniff(p.read_bytes()[:4096]) == detect.OTLP_PROTO_LP
    rows = _assert_identical(p, monkeypatch)
    assert len(rows) > 50 and {r[COL["source_format"]] for r in rows} == {"otlp-proto-lp"}


def test_gzip_reads_one_pass(tmp_path, monkeypatch):
    plain = _to_proto(generate(tmp_path / "m.jsonl", traces=20, seed=8), tmp_path / "m.pb")
    p = tmp_path / "m.pb.gz"
    p.write_bytes(gzip.compress(plain.read_bytes()))
    assert len(_assert_identical(p, monkeypatch)) > 50


def test_small_chunks_give_the_same_rows(tmp_path, monkeypatch):
    """Chunk boundaries fall between ResourceSpans; a message larger than a chunk is one chunk."""
    p = _to_proto(generate(tmp_path / "m.jsonl", traces=40, seed=6), tmp_path / "m.pb")
    whole = _assert_identical(p, monkeypatch)
    with open(p, "rb") as f:
        assert len(list(protowire.blocks(f, length_prefixed=False))) == 1
    monkeypatch.setattr(protowire, "CHUNK_BYTES", 300)
    with open(p, "rb") as f:
        assert len(list(protowire.blocks(f, length_prefixed=False))) > 10
    assert _assert_identical(p, monkeypatch) == whole


def test_unknown_fields_and_links_are_read_past(tmp_path, monkeypatch):
    """upb keeps unknown fields aside and parses links; neither reaches the span table."""
    links = [{"traceId": "ab" * 16, "spanId": "cd" * 8, "traceState": "k=v", "attributes": [_kv("l", _s("x"))]}]
    span = _span_bytes(links=links) + _field(99, b"from a newer protocol") + _varint(100 << 3) + _varint(7)
    p = tmp_path / "u.pb"
    p.write_bytes(_wrap(span))
    rows = _assert_identical(p, monkeypatch)
    assert [(r[COL["span_id"]], r[COL["name"]]) for r in rows] == [("eee19b7ec3c1b174", "x")]


def test_structured_values_are_read_one_pass(tmp_path, monkeypatch):
    """kvlist, bytes and arrays of those or of arrays: rendered as the lenient reader renders
    them, in span attributes, event attributes and resources."""
    kvlist = {"kvlistValue": {"values": [_kv("role", _s("user")), _kv("n", {"intValue": "3"}),
                                         _kv("inner", {"kvlistValue": {"values": [_kv("d", {"doubleValue": 0.5})]}})]}}
    raw = {"bytesValue": base64.b64encode(b"\x00\xff").decode()}
    nested = {"arrayValue": {"values": [_s("a"), {"arrayValue": {"values": [{"boolValue": True}]}}, kvlist]}}
    attrs = [_kv("msg", kvlist), _kv("raw", raw), _kv("nested", nested), _kv("plain", _s("x")),
             _kv("gen_ai.conversation.id", kvlist)]  # a column the mapping reads: its JSON text
    events = [{"timeUnixNano": str(T0 + 1), "name": "e", "attributes": [_kv("payload", kvlist)]}]
    doc = _request_doc([_one(attributes=attrs, events=events)])
    doc["resourceSpans"][0]["resource"]["attributes"].append(_kv("deployment", kvlist))
    p = tmp_path / "structured.pb"
    p.write_bytes(_request_bytes(doc))
    (row,) = _assert_identical(p, monkeypatch)
    assert orjson.loads(row[COL["attributes"]]) == {
        "msg": {"role": "user", "n": 3, "inner": {"d": 0.5}}, "raw": "AP8=",
        "nested": ["a", [True], {"role": "user", "n": 3, "inner": {"d": 0.5}}], "plain": "x",
        "gen_ai.conversation.id": {"role": "user", "n": 3, "inner": {"d": 0.5}}}
    assert orjson.loads(row[COL["session_id"]]) == {"role": "user", "n": 3, "inner": {"d": 0.5}}
    assert orjson.loads(row[COL["events"]])[0]["attributes"]["payload"]["role"] == "user"
    assert orjson.loads(row[COL["resource"]])["deployment"]["inner"] == {"d": 0.5}


# --- what it refuses, and the result is still the lenient reader's ----------------------------

def _attr_span(value: dict) -> bytes:
    return _span_bytes(attributes=[_kv("a", value)])


def _name_placeholder() -> bytes:
    return _wrap(_span_bytes(name="NAME"))


REFUSED = {
    "a string-table value": lambda: _wrap(_attr_span({"stringValueStrindex": 2})),
    "the first element of a structured finish reason": lambda: _wrap(_span_bytes(attributes=[
        _kv("gen_ai.response.finish_reasons", {"arrayValue": {"values": [{"kvlistValue": {"values": []}}]}})])),
    "invalid UTF-8": lambda: _name_placeholder().replace(b"NAME", b"N\xffME"),
    "a name given twice": lambda: _wrap(_span_bytes() + _field(5, b"second")),
    "a known field with another wire type": lambda: _wrap(_span_bytes() + _varint(5 << 3) + _varint(1)),
    "no trace id": lambda: _wrap(_span_bytes(traceId="")),
    "a start time of 0": lambda: _wrap(_span_bytes(startTimeUnixNano="0")),
    "a truncated file": lambda: (_wrap(_span_bytes()) * 3)[:-7],
    "an attribute key given twice": lambda: _wrap(_span_bytes(attributes=[_kv("x", _s("1")), _kv("x", _s("2"))])),
    "a key string-table index": lambda: _wrap(_span_bytes(attributes=[{"keyStrindex": 3, "value": _s("v")}])),
    "a non-finite double": lambda: _wrap(_attr_span({"doubleValue": "NaN"})),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refuses_what_it_cannot_read_exactly(tmp_path, case):
    p = tmp_path / "bad.pb"
    p.write_bytes(REFUSED[case]())
    con = open_store()
    repair.create_stage(con)
    with pytest.raises(OnePassUnsupported, match="bad.pb"):
        onepass.ingest_proto(con, p, length_prefixed=False, target=repair.STAGE, source_format="otlp-proto")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_files_still_ingest_like_the_lenient_reader(tmp_path, monkeypatch, case):
    p = tmp_path / "bad.pb"
    p.write_bytes(REFUSED[case]())
    _assert_identical(p, monkeypatch, expect_onepass=False)


def test_a_late_refusal_leaves_no_rows_behind(tmp_path, monkeypatch):
    good = _to_proto(generate(tmp_path / "m.jsonl", traces=30, seed=2), tmp_path / "good.pb").read_bytes()
    p = tmp_path / "late.pb"
    p.write_bytes(good + REFUSED["a name given twice"]())
    monkeypatch.setattr(protowire, "CHUNK_BYTES", 500)
    con = open_store()
    repair.create_stage(con)
    with pytest.raises(OnePassUnsupported):
        onepass.ingest_proto(con, p, length_prefixed=False, target=repair.STAGE, source_format="otlp-proto",
                             rows_per_insert=1)
    assert con.execute(f"SELECT count(*) FROM {repair.STAGE}").fetchone()[0] > 100  # earlier chunks were in
    _assert_identical(p, monkeypatch, expect_onepass=False)


def test_prompt_content_goes_to_the_fast_reader(tmp_path, monkeypatch):
    """Part sizes are measured in Python from the content: the fast reader (the same blocks →
    raw JSON text → the mapping that measures) reads such a file, not the lenient one."""
    messages = orjson.dumps([{"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                             {"role": "user", "parts": [{"type": "text", "content": "hello there"}]}]).decode()
    attrs = [_kv("gen_ai.operation.name", _s("chat")), _kv("gen_ai.input.messages", _s(messages))]
    p = _to_proto(generate(tmp_path / "m.jsonl", traces=10, seed=4), tmp_path / "content.pb")
    p.write_bytes(p.read_bytes() + _wrap(_span_bytes(attributes=attrs)))
    rows = _assert_identical(p, monkeypatch, expect_onepass=False)
    measured = [r for r in rows if r[COL["system_chars"]] is not None]
    assert [(r[COL["system_chars"]], r[COL["history_chars"]]) for r in measured] == [(8, 11)]
    monkeypatch.setattr(otlp_proto, "read", lambda *a, **kw: pytest.fail("the lenient reader ran"))
    (report,) = ingest_files(open_store(), [p])
    assert report.spans_read == len(rows) > 20


def test_the_lenient_reader_is_not_called_for_a_clean_file(tmp_path, monkeypatch):
    p = _to_proto(generate(tmp_path / "m.jsonl", traces=10, seed=4), tmp_path / "m.pb")
    monkeypatch.setattr(otlp_proto, "read", lambda *a, **kw: pytest.fail("the lenient reader ran"))
    (report,) = ingest_files(open_store(), [p])
    assert report.spans_read > 20 and report.format == "otlp-proto"


# --- values: any AnyValue the one-pass reader accepts is stored as upb reads it ----------------

_scalars = st.one_of(
    st.builds(lambda v: {"stringValue": v}, st.text(max_size=20)),
    st.builds(lambda v: {"intValue": str(v)}, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda v: {"doubleValue": v}, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(lambda v: {"boolValue": v}, st.booleans()),
    st.just({}),
)
_values = st.recursive(
    st.one_of(_scalars, st.builds(lambda b: {"bytesValue": base64.b64encode(b).decode()}, st.binary(max_size=6))),
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=4)),
        st.builds(lambda kvs: {"kvlistValue": {"values": [_kv(k, v) for k, v in kvs]}},
                  st.lists(st.tuples(st.text(max_size=5), inner), max_size=3)),
    ),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_values, min_size=1, max_size=6), event_values=st.lists(_values, max_size=3),
       name=st.text(max_size=12), end_offset=st.sampled_from([None, 0, 10, -10]))
def test_any_values_are_stored_as_the_lenient_reader_stores_them(tmp_path_factory, monkeypatch, values, event_values,
                                                                 name, end_offset):
    attrs = [_kv(f"k{i}", v) for i, v in enumerate(values)]
    events = [{"timeUnixNano": str(T0 + 3), "name": name, "attributes": [_kv(f"e{i}", v) for i, v in enumerate(event_values)]}]
    over = {"attributes": attrs, "events": events, "name": name}
    over["endTimeUnixNano"] = None if end_offset is None else str(T0 + end_offset)
    p = tmp_path_factory.mktemp("pb") / "v.pb"
    p.write_bytes(_wrap(_span_bytes(**over)))
    rows = _assert_identical(p, monkeypatch, json_as_values=True)
    stored = orjson.loads(rows[0][COL["attributes"]])
    assert list(stored) == [f"k{i}" for i in range(len(values))]
    for i, v in enumerate(values):
        if "doubleValue" in v and math.isfinite(v["doubleValue"]):
            assert stored[f"k{i}"] == v["doubleValue"]


def test_a_first_message_123_bytes_long_is_protobuf_not_json(tmp_path):
    """A request starts with 0x0A (a newline) and the first ResourceSpans' length: 123 is "{",
    which read as JSON once the newline was skipped."""
    data = next(d for n in range(80) if (d := _wrap(_span_bytes(name="x" * n, attributes=[])))[1] == 0x7B)
    assert data[:2] == b"\n{"
    p = tmp_path / "t.pb"
    p.write_bytes(data)
    assert detect.sniff(data) == detect.OTLP_PROTO
    (report,) = ingest_files(open_store(), [p])
    assert (report.format, report.spans_read) == ("otlp-proto", 1)


@pytest.fixture(scope="module")
def clean_proto(tmp_path_factory) -> bytes:
    d = tmp_path_factory.mktemp("clean")
    return _to_proto(generate(d / "m.jsonl", traces=6, seed=12), d / "m.pb").read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_bytes_are_stored_as_the_lenient_reader_stores_them(tmp_path_factory, monkeypatch, clean_proto, data):
    """Flipped, cut, dropped or inserted bytes: the one-pass reader stores the same rows and
    reports as the lenient reader, or refuses and leaves the file to it; it never raises."""
    raw = bytearray(clean_proto)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        how = data.draw(st.sampled_from(["flip", "cut", "drop", "insert"]))
        if how == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            del raw[at:]
        elif how == "drop":
            del raw[at]
        else:
            raw[at:at] = bytes([data.draw(st.integers(0, 255))])
        if not raw:
            raw = bytearray(b"\x0a")
    p = tmp_path_factory.mktemp("dmg") / "d.pb"
    p.write_bytes(bytes(raw))
    fast, slow, fast_rep, slow_rep = _both(p, monkeypatch, expect_onepass=None)
    assert not any("unexpected" in m for m in fast_rep.problems)
    assert [_as_values(r) for r in fast] == [_as_values(r) for r in slow]
    assert fast_rep == slow_rep


def test_a_gzip_cut_between_messages_goes_to_the_lenient_reader(tmp_path, monkeypatch):
    """The decompressed bytes end cleanly after a ResourceSpans, but the stream broke off:
    the lenient reader reports the cut, so the one-pass reader must not read the file."""
    body = _to_proto(generate(tmp_path / "m.jsonl", traces=8, seed=3), tmp_path / "m.pb").read_bytes()
    p = tmp_path / "cut.pb.gz"
    p.write_bytes(gzip.compress(body) + gzip.compress(body)[:6])  # a second member cut in its header
    fast, slow, fast_rep, slow_rep = _both(p, monkeypatch, expect_onepass=False)
    assert fast == slow and len(fast) > 20
    assert fast_rep == slow_rep and any("cut short" in m for m in fast_rep.problems)
