"""Untrusted trace files: every problem is kept local, reported with file, place and fix; never a traceback."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from ingest_builders import T0, otlp_span, sdk_request, span, write_doc, write_forms

from agentprof.ingest import ingest_files
from agentprof.store import open_store

TRACE = "0e2f6c3414ea40e350e31e3b8a74e933"


def run(*paths):
    con = open_store()
    return con, ingest_files(con, list(paths))


def only(problems, needle):
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, problems
    return hits[0]


def line_of(spans):
    return json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]})


def test_empty_file(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"  \n")
    con, (sf,) = run(p)
    assert (sf.format, sf.spans_read) == ("empty", 0)
    assert sf.problems == (f"{p}: the file is empty; nothing to read (did the traced program flush its exporter?)",)
    assert con.execute("SELECT count(*) FROM spans").fetchone()[0] == 0


def test_truncated_json_lines_keep_complete_lines(tmp_path):
    lines = [line_of([otlp_span(f"{i:016x}", start=i * 10, end=i * 10 + 5)]) for i in range(1, 5)]
    p = tmp_path / "cut.jsonl"
    p.write_text("\n".join(lines[:3]) + "\n" + lines[3][:57])
    con, (sf,) = run(p)
    assert (sf.format, sf.spans_read) == ("otlp-jsonl", 3)
    msg = only(sf.problems, "line 4")
    assert msg.startswith(f"{p} (line 4): line is not valid JSON") and "re-export" in msg


def test_truncated_document_keeps_spans_before_the_break(tmp_path):
    spans = [otlp_span(f"{i:016x}", start=i * 10, end=i * 10 + 5) for i in range(1, 6)]
    p = write_doc(tmp_path / "doc.json", spans)
    text = p.read_text()
    cut = text.index('"spanId": "0000000000000004"')
    p.write_text(text[:cut])
    con, (sf,) = run(p)
    assert (sf.format, sf.spans_read) == ("otlp-json", 3)
    msg = only(sf.problems, "document is not valid JSON from here")
    assert f"character offset {text.rindex('{', 0, cut)}" in msg and "line 1" in msg
    assert "the 3 spans before it were kept" in msg


def test_truncated_protobuf_and_gzip(tmp_path):
    def build(t):
        for i in range(4):
            span(t, f"s{i}", i, i + 1)

    paths = write_forms(sdk_request(build), tmp_path)
    lp = paths["records.pb"].read_bytes()
    cut = tmp_path / "cut.pb"
    cut.write_bytes(lp[: len(lp) - 10])
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(paths["lines.jsonl.gz"].read_bytes()[:-12])
    con, (a,) = run(cut)
    con, (b,) = run(gz)
    assert (a.format, a.spans_read) == ("otlp-proto-lp", 3)
    assert "protobuf data breaks here" in only(a.problems, "byte offset")
    # 12 bytes = the 8-byte gzip trailer and the end of line 4: lines 1-3 are kept.
    assert (b.format, b.spans_read) == ("otlp-jsonl+gzip", 3)
    assert "the gzip stream is cut short" in only(b.problems, "compressed file")
    assert "line is not valid JSON" in only(b.problems, "line 4")


def test_other_formats_are_named(tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("name,age\nann,3\n")
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    jaeger = tmp_path / "jaeger.json"
    jaeger.write_text('{"data": [{"traceID": "abc", "spans": []}]}')
    con, (a, b, c) = run(csv, png, jaeger)
    assert a.problems[0].startswith(f"{csv}: not a trace file: it looks like CSV or other text. agentprof reads OTLP JSON")
    assert b.problems[0].startswith(f"{png}: not a trace file: it looks like a PNG image.")
    assert "it is JSON, but not OTLP" in c.problems[0]
    assert all(sf.format == "not-a-trace" and sf.spans_read == 0 for sf in (a, b, c))


def test_tree_repairs(tmp_path):
    spans = [
        otlp_span("00000000000000a1", None, start=0, end=None),  # no end: children end at 900
        otlp_span("00000000000000a2", "00000000000000a1", start=100, end=None),
        otlp_span("00000000000000a3", "00000000000000a2", start=200, end=900),
        otlp_span("00000000000000b1", "00000000000000ff", start=50, end=60),  # orphan
        otlp_span("00000000000000c1", "00000000000000a1", start=70, end=80, name="first"),
        otlp_span("00000000000000c1", "00000000000000a1", start=70, end=80, name="second copy"),  # duplicate
        otlp_span("00000000000000d1", "00000000000000d2", start=300, end=400),  # cycle d1 -> d2 -> d1
        otlp_span("00000000000000d2", "00000000000000d1", start=310, end=390),
        otlp_span("00000000000000d3", "00000000000000d3", start=320, end=330),  # self cycle
        otlp_span("00000000000000e1", "00000000000000a3", start=500, end=450),  # negative duration
        otlp_span("00000000000000f1", "00000000000000a3", start=150, end=950),  # outside its parent (200..900)
    ]
    p = write_doc(tmp_path / "t.json", spans)
    con, (sf,) = run(p)
    assert (sf.spans_read, sf.spans_skipped) == (10, 1)
    got = dict(con.execute("SELECT span_id, (parent_span_id, start_ns - $t0, end_ns - $t0, name) FROM spans", {"t0": T0}).fetchall())
    assert got["00000000000000a1"] == (None, 0, 950, "op")  # latest descendant end (f1 at 950)
    assert got["00000000000000a2"] == ("00000000000000a1", 100, 950, "op")
    assert got["00000000000000b1"][0] is None
    assert got["00000000000000c1"][3] == "first"
    assert (got["00000000000000d1"][0], got["00000000000000d2"][0]) == (None, "00000000000000d1")
    assert got["00000000000000d3"][0] is None
    assert got["00000000000000e1"][1:3] == (500, 500)
    assert got["00000000000000f1"][1:3] == (150, 950)
    msgs = "\n".join(sf.problems)
    assert f"{p} (span 00000000000000a1, span 00000000000000a2): 2 × span has no end time" in msgs
    assert f"{p} (span 00000000000000b1): parent span is not in the trace; kept the span as a root" in msgs
    assert f"{p} (span 00000000000000c1): duplicate span id in the same trace; kept the first copy" in msgs
    assert f"{p} (span 00000000000000d1, span 00000000000000d3): 2 × spans form a parent cycle" in msgs
    assert f"{p} (span 00000000000000e1): span ends before it starts" in msgs
    # only f1 (150..950) lies outside its parent a3 (200..900); repaired ends keep a2 inside a1.
    assert f"{p} (span 00000000000000f1): child span lies partly outside its parent" in msgs


def test_wrong_attribute_types(tmp_path):
    attrs_ok = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": "7.0"}
    attrs_bad = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": "many", "gen_ai.usage.output_tokens": -3}
    p = write_doc(tmp_path / "t.json", [otlp_span("0000000000000001", attrs=attrs_ok), otlp_span("0000000000000002", attrs=attrs_bad)])
    doc = json.loads(p.read_text())
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append({"key": "agentprof.ttft_ns", "value": {"intValue": "oops"}})
    p.write_text(json.dumps(doc))
    con, (sf,) = run(p)
    assert con.execute("SELECT span_id, input_tokens, output_tokens, ttft_ns FROM spans ORDER BY span_id").fetchall() == [
        ("0000000000000001", 12, 7, None),
        ("0000000000000002", None, None, None),
    ]
    msgs = "\n".join(sf.problems)
    assert f"{p} (span 0000000000000002): attribute for input_tokens is not a non-negative number; left input_tokens empty" in msgs
    assert f"{p} (span 0000000000000002): attribute for output_tokens is not a non-negative number" in msgs
    assert f"{p} (span 0000000000000001): attribute for ttft_ns" in msgs


def test_invalid_utf8_is_replaced(tmp_path):
    line = line_of([otlp_span("0000000000000001", name="cafX")]).encode().replace(b"cafX", b"caf\xe9")
    p = tmp_path / "bad.jsonl"
    p.write_bytes(line + b"\n")
    doc = tmp_path / "bad.json"
    text = json.dumps(json.loads(line_of([otlp_span("0000000000000001", name="cafX", trace="2" * 32)])), indent=1)
    doc.write_bytes(text.encode().replace(b"cafX", b"caf\xe9"))
    con, (a, b) = run(p, doc)
    assert con.execute("SELECT name, count(*) FROM spans GROUP BY name").fetchall() == [("caf\ufffd", 2)]
    assert "invalid UTF-8 bytes were replaced" in only(a.problems, "line 1")
    assert "invalid UTF-8 bytes were replaced" in only(b.problems, "UTF-8")


@pytest.mark.parametrize("form", ["jsonl", "jsonl.gz", "json", "json-pretty"])
def test_invalid_utf8_after_valid_lines_is_replaced_not_fatal(tmp_path, form):
    """Arrow's JSON parser passes invalid UTF-8 on; a span name holding it made DuckDB
    invalidate the database (a fatal error in ``lower``). The fast readers now refuse such a
    file and the lenient reader replaces and reports the bytes."""
    good = [otlp_span(f"{i:016x}", name="caf\u00e9 \u2713", start=i) for i in range(1, 4)]
    bad = otlp_span("00000000000000ff", name="cafX", start=9)
    if form.startswith("jsonl"):
        data = (line_of(good) + "\n" + line_of([bad]) + "\n").encode()
    else:
        doc = {"resourceSpans": [json.loads(line_of(good))["resourceSpans"][0], json.loads(line_of([bad]))["resourceSpans"][0]]}
        data = json.dumps(doc, indent=1 if form == "json-pretty" else None, separators=None if form == "json-pretty" else (",", ":")).encode()
    data = data.replace(b"cafX", b"caf\xe9")
    p = tmp_path / f"bad.{form}"
    p.write_bytes(gzip.compress(data) if form.endswith(".gz") else data)
    con, (report,) = run(p)
    assert sorted(con.execute("SELECT name FROM spans").fetchall()) == [("caf\u00e9 \u2713",)] * 3 + [("caf\ufffd",)]
    assert "invalid UTF-8 bytes were replaced" in only(report.problems, "UTF-8")


def test_huge_attribute_is_cut_fast(tmp_path):
    big = "x" * (100 * 1024 * 1024)
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "y" * 200_000}]}])
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "blob": big, "gen_ai.input.messages": messages}
    p = tmp_path / "big.jsonl"
    p.write_text(line_of([otlp_span("0000000000000001", attrs=attrs)]) + "\n")
    q = write_doc(tmp_path / "big.json", [otlp_span("0000000000000002", attrs=attrs, trace="1" * 32)])
    t = time.perf_counter()
    con, (a, b) = run(p, q)
    assert time.perf_counter() - t < 60  # ~2 s on an idle machine; generous for loaded CI
    rows = con.execute("SELECT length(json_extract_string(attributes, '$.blob')), history_chars FROM spans").fetchall()
    assert rows == [(65536 + len("…[agentprof: truncated 104791040 chars]"), 200_000)] * 2
    assert "2 × attribute strings longer than 64 KiB were cut" in only(a.problems, "span 0000000000000001")
    assert any("were cut" in m for m in b.problems)


def test_directory_is_read_sorted_and_gzip_inside(tmp_path):
    d = tmp_path / "traces"
    d.mkdir()
    (d / "b.jsonl").write_text(line_of([otlp_span("0000000000000002")]) + "\n")
    (d / "a.jsonl.gz").write_bytes(gzip.compress((line_of([otlp_span("0000000000000001")]) + "\n").encode()))
    (d / ".hidden").write_text("x")
    seen = []
    con = open_store()
    files = ingest_files(con, [d], progress=lambda done, total: seen.append((done, total)))
    assert [(f.path.rsplit("/", 1)[1], f.format, f.spans_read) for f in files] == [("a.jsonl.gz", "otlp-jsonl+gzip", 1), ("b.jsonl", "otlp-jsonl", 1)]
    assert seen[-1][0] == seen[-1][1] > 0


def test_ids_in_base64_and_upper_case_and_enum_names(tmp_path):
    s1 = otlp_span("0000000000000001", trace=TRACE.upper())
    s1.update(kind="SPAN_KIND_CLIENT", status={"code": "STATUS_CODE_ERROR", "message": "x"}, parentSpanId="")
    s2 = otlp_span("AAAAAAAAAAI=", "0000000000000001", trace="Di9sNBTqQONQ4x47inTpMw==")
    s2["startTimeUnixNano"] = T0 + 1_000  # a number, not a string
    s2["attributes"] = [{"key": "d", "value": {"doubleValue": "NaN"}}, {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "a", "value": {"intValue": 1}}]}}}]
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"resourceSpans": [{"resource": {}, "instrumentationLibrarySpans": [{"instrumentationLibrary": {"name": "old"}, "spans": [s1, s2]}]}]}))
    con, (sf,) = run(p)
    assert sf.problems == ()
    assert con.execute("SELECT trace_id, span_id, parent_span_id, kind, status, CAST(attributes AS VARCHAR) FROM spans ORDER BY span_id").fetchall() == [
        (TRACE, "0000000000000001", None, "CLIENT", "error", "{}"),
        (TRACE, "0000000000000002", "0000000000000001", "INTERNAL", "unset", '{"d":null,"kv":{"a":1}}'),
    ]


def test_bad_spans_are_skipped_and_counted(tmp_path):
    p = write_doc(tmp_path / "x.json", [otlp_span("zz"), otlp_span("0000000000000001"), {"traceId": TRACE, "spanId": "0000000000000002"}])
    con, (sf,) = run(p)
    assert (sf.spans_read, sf.spans_skipped) == (1, 2)
    assert "2 × span skipped" in only(sf.problems, "span skipped")


def test_out_of_range_numbers(tmp_path):
    s = otlp_span("0000000000000001", attrs={"agentprof.step.number": 2**40, "gen_ai.response.time_to_first_chunk": 1e300, "gen_ai.usage.input_tokens": "1e30"})
    s2 = otlp_span("0000000000000002")
    s2["startTimeUnixNano"] = str(2**70)
    s3 = otlp_span("0000000000000003")
    s3["endTimeUnixNano"] = "-5"
    p = write_doc(tmp_path / "x.json", [s, s2, s3])
    con, (sf,) = run(p)
    assert (sf.spans_read, sf.spans_skipped) == (2, 1)
    assert con.execute("SELECT span_id, step_number, ttft_ns, input_tokens, end_ns - start_ns FROM spans ORDER BY span_id").fetchall() == [
        ("0000000000000001", None, None, None, 1000),
        ("0000000000000003", None, None, None, 0),
    ]
    assert "span skipped: it has no start time" in "\n".join(sf.problems)
    assert "span has no end time" in "\n".join(sf.problems)


def test_foreign_lines_in_json_lines(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_text(line_of([otlp_span("0000000000000001")]) + '\n{"level": "info", "msg": "hello"}\n[1, 2]\n' + line_of([otlp_span("0000000000000002")]) + "\n")
    con, (sf,) = run(p)
    assert (sf.spans_read, sf.spans_skipped) == (2, 0)
    assert f'{p} (line 2, line 3): 2 × JSON value is not an OTLP traces object' in only(sf.problems, "not an OTLP")


def test_ingesting_a_file_twice_into_one_store_keeps_one_copy(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(line_of([otlp_span("0000000000000001"), otlp_span("0000000000000002", "0000000000000001")]) + "\n")
    con = open_store(tmp_path / "store.duckdb")
    (first,) = ingest_files(con, [p])
    (second,) = ingest_files(con, [p])
    assert (first.spans_read, second.spans_read, second.spans_skipped) == (2, 0, 2)
    assert "2 × span is already in the store; kept the stored copy" in only(second.problems, "already in the store")
    assert con.execute("SELECT count(*) FROM spans").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '_agentprof%'").fetchone()[0] == 0


def test_values_of_the_wrong_shape_where_otlp_has_objects_and_arrays(tmp_path):
    """Valid JSON with a number, string or object where OTLP has an object or array: that part
    is skipped and named, the spans around it are kept (it used to stop the file)."""

    def spans(*ids):
        return [otlp_span(f"{i:016x}", start=i * 10, end=i * 10 + 5) for i in ids]

    doc = {"resourceSpans": [
        {"resource": 5, "scopeSpans": [{"scope": "s", "spans": spans(1, 2)}, 3, {"scope": {"name": "ok"}, "spans": {}}]},
        "not an entry",
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
         "scopeSpans": "x"},
        {"resource": {}, "scopeSpans": [{"scope": {"name": "ok"}, "spans": spans(3)}]},
    ]}
    expected = {"resource is not a JSON object; its spans are kept without resource attributes",
                "scope is not a JSON object; its spans are kept without a scope name",
                "a scopeSpans entry is not a JSON object; skipped", "spans is not a JSON array; skipped",
                "a resourceSpans entry is not a JSON object; skipped", "scopeSpans is not a JSON array; skipped"}
    for name, text in (("doc.json", json.dumps(doc, indent=1)), ("lines.jsonl", json.dumps(doc) + "\n" + line_of(spans(4)))):
        p = tmp_path / name
        p.write_text(text)
        con, (sf,) = run(p)
        kept = [r[0] for r in con.execute("SELECT span_id FROM spans ORDER BY span_id").fetchall()]
        assert kept == [f"{i:016x}" for i in ((1, 2, 3) if name == "doc.json" else (1, 2, 3, 4))], name
        assert (sf.spans_read, sf.spans_skipped) == (len(kept), 0)
        for what in expected:
            msg = only(sf.problems, what)
            assert msg.startswith(f"{p} (line ") and "re-export" in msg, msg
        assert not any("agentprof bug" in m or "not valid JSON" in m for m in sf.problems), sf.problems


def test_a_boolean_time_and_a_too_deep_value(tmp_path):
    """true is an int to Python, never a time; a value nested thousands of levels deep cannot be
    read by a recursive JSON decoder. Both are named; the spans around them are kept."""
    good = [otlp_span(f"{i:016x}", start=i * 10, end=i * 10 + 5) for i in (1, 2)]
    bad_time = otlp_span("0000000000000003", start=30, end=35) | {"startTimeUnixNano": True}
    p = write_doc(tmp_path / "bool.json", [*good, bad_time])
    con, (sf,) = run(p)
    assert (sf.spans_read, sf.spans_skipped) == (2, 1)
    assert "span skipped: expected a number, got true" in only(sf.problems, "got true")

    deep = otlp_span("0000000000000004", start=40, end=45)
    deep["attributes"] = [{"key": "x", "value": {"stringValue": "x"}}]
    text = write_doc(tmp_path / "deep.json", [*good, deep]).read_text()
    cut = text.index('{"traceId"', text.index("0000000000000002"))
    p = tmp_path / "deep.json"
    p.write_text(text[:cut] + "[" * 50_000 + "]" * 50_000 + ", " + text[cut:])
    con, (sf,) = run(p)
    assert sf.spans_read == 2
    msg = only(sf.problems, "too deeply")
    assert "document cannot be read from here (a value starting here nests too deeply to read)" in msg
    assert "check what wrote this value" in msg and "truncated" not in msg


def test_protobuf_times_beyond_int64(tmp_path):
    """OTLP times are fixed64: a start no int64 holds skips the span, such an end counts as
    missing (the JSON reader's rule); the other spans of the batch are kept."""

    def build(t):
        for i in range(4):
            span(t, f"s{i}", i, i + 1)

    request = sdk_request(build)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[1].start_time_unix_nano = 2**64 - 1
    spans[2].end_time_unix_nano = 2**63
    p = tmp_path / "times.pb"
    p.write_bytes(request.SerializeToString())
    con, (sf,) = run(p)
    assert (sf.format, sf.spans_read, sf.spans_skipped) == ("otlp-proto", 3, 1)
    assert con.execute("SELECT name, end_ns - start_ns FROM spans ORDER BY start_ns").fetchall() == [
        ("s0", 1_000_000), ("s2", 0), ("s3", 1_000_000)]
    assert "span has no end time" in only(sf.problems, "no end time")
