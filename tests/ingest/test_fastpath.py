"""The fast JSON-lines reader must give exactly the lenient reader's rows, or refuse.

Equality is checked where it matters: after ``normalize_into`` into two stores, the ``spans``
rows are identical (JSON columns compared as parsed JSON, since number formatting of the two
encoders may differ in text only).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import orjson
import pytest

from agentprof.ingest import fastpath
from agentprof.ingest.fastpath import FastPathUnsupported, iter_raw_batches_jsonl
from agentprof.ingest.raw import RAW_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
JSON_COLUMNS = {"attributes", "events", "resource"}


def _gen_corpus():
    spec = importlib.util.spec_from_file_location("gen_corpus", ROOT / "bench" / "gen_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _lenient_tables(path: Path):
    from agentprof.ingest import otlp_json
    from agentprof.ingest._report import FileReport
    from agentprof.ingest.raw import rows_to_arrow

    report = FileReport(str(path))
    with open(path, "rb") as f:
        for rows in otlp_json.read_lines(f, report, 1000):
            yield rows_to_arrow(rows, "otlp-jsonl", str(path))


def _store_rows(tables) -> list[dict]:
    from agentprof import schema
    from agentprof.ingest.normalize import normalize_into
    from agentprof.store import open_store

    con = open_store()
    for t in tables:
        normalize_into(con, t)
    cols = ", ".join(schema.COLUMN_NAMES)
    cur = con.execute(f"SELECT {cols} FROM spans ORDER BY trace_id, span_id")
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        rec = dict(zip(names, row))
        for c in JSON_COLUMNS:
            rec[c] = json.loads(rec[c]) if rec[c] is not None else None
        out.append(rec)
    con.close()
    return out


def _assert_same_as_lenient(path: Path, **kw) -> list[dict]:
    fast = _store_rows(iter_raw_batches_jsonl(path, **kw))
    slow = _store_rows(_lenient_tables(path))
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a == b
    return fast


def test_generated_corpus_equals_lenient_reader(tmp_path):
    paths = _gen_corpus().generate(400, tmp_path, {"jsonl"}, seed=3)
    rows = _assert_same_as_lenient(paths["jsonl"])
    assert len(rows) == 400
    assert len({r["trace_id"] for r in rows}) == 20  # 20 runs of 20 spans
    llm = [r for r in rows if r["category"] == "llm"]
    assert len(llm) == 20 * 7  # six steps + the final answer per run
    assert all(r["input_tokens"] > 0 and r["request_model"] for r in llm)


def test_small_blocks_give_several_bounded_batches(tmp_path):
    paths = _gen_corpus().generate(6000, tmp_path, {"jsonl"}, seed=5)  # 300 runs: 5 lines
    batches = list(iter_raw_batches_jsonl(paths["jsonl"], batch_bytes=1024, min_rows=1))  # raised to 2 lines
    assert 3 <= len(batches) <= 5
    assert sum(b.num_rows for b in batches) == 6000
    assert max(b.num_rows for b in batches) <= 2 * 64 * 20  # never more than two lines' spans
    assert batches[0].schema.names == list(RAW_COLUMNS)


def _kv(key, value):
    return {"key": key, "value": value}


def _span(**over):
    s = {
        "traceId": "5B8EFFF798038103D269B633813FC60C",  # upper-case hex is valid OTLP JSON
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "",
        "flags": 256,
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": "1795287678731316271",
        "endTimeUnixNano": "1795287678931346425",
        "attributes": [
            _kv("gen_ai.operation.name", {"stringValue": "chat"}),
            _kv("gen_ai.provider.name", {"stringValue": "openai"}),
            _kv("gen_ai.request.model", {"stringValue": "gpt-4o \"quoted\"\nline"}),
            _kv("gen_ai.usage.input_tokens", {"intValue": "1200"}),
            _kv("gen_ai.usage.output_tokens", {"intValue": "34"}),
            _kv("gen_ai.request.temperature", {"doubleValue": 1}),
            _kv("gen_ai.request.stream", {"boolValue": False}),
            _kv("gen_ai.response.finish_reasons", {"arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "2"}]}}),
            _kv("empty.array", {"arrayValue": {}}),
            _kv("empty.value", {}),
            _kv("no.value", None),
            _kv("unicode", {"stringValue": "café ✓"}),
        ],
        "events": [
            {"timeUnixNano": "1795287678731328629", "name": "gen_ai.choice",
             "attributes": [_kv("index", {"intValue": "0"}), _kv("ok", {"boolValue": True})]},
            {"timeUnixNano": "1795287678731328630"},
        ],
        "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "flags": 256}],
        "status": {"message": "rate limited", "code": 2},
    }
    s.update(over)
    return s


def _line(spans, resource_attrs=None, scope=None) -> bytes:
    doc = {"resourceSpans": [{
        "resource": {"attributes": resource_attrs if resource_attrs is not None else [_kv("service.name", {"stringValue": "svc"})]},
        "scopeSpans": [{"scope": scope if scope is not None else {"name": "s", "version": "1"}, "spans": spans}],
    }]}
    return orjson.dumps(doc) + b"\n"


def test_every_supported_encoding_matches_lenient_reader(tmp_path):
    child = _span(spanId="0000000000000002", parentSpanId="EEE19B7EC3C1B174", kind=1, status={},
                  endTimeUnixNano="0", attributes=[], events=[], name="tool")
    p = tmp_path / "edge.jsonl"
    p.write_bytes(
        _line([_span(), child]) + b"\n" + _line([_span(spanId="0000000000000003", kind=0)], resource_attrs=[], scope={"name": ""})
    )
    rows = _assert_same_as_lenient(p)
    by_id = {r["span_id"]: r for r in rows}
    root = by_id["eee19b7ec3c1b174"]
    assert root["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert root["parent_span_id"] is None
    assert (root["kind"], root["status"], root["status_message"]) == ("CLIENT", "error", "rate limited")
    assert (root["input_tokens"], root["output_tokens"]) == (1200, 34)
    assert root["attributes"]["gen_ai.response.finish_reasons"] == ["stop", 2]
    assert root["attributes"]["empty.array"] == [] and root["attributes"]["empty.value"] is None
    assert root["events"][0] == {"name": "gen_ai.choice", "time_ns": 1795287678731328629, "attributes": {"index": 0, "ok": True}}
    assert root["events"][1] == {"name": None, "time_ns": 1795287678731328630, "attributes": {}}
    assert by_id["0000000000000002"]["parent_span_id"] == "eee19b7ec3c1b174"
    assert by_id["0000000000000003"]["kind"] == "UNSPECIFIED"


def test_a_pretty_printed_document_equals_the_document_reader(tmp_path):
    from agentprof.ingest import otlp_json
    from agentprof.ingest._report import FileReport
    from agentprof.ingest.raw import rows_to_arrow

    p = tmp_path / "doc.json"
    p.write_text(json.dumps(orjson.loads(_line([_span(), _span(spanId="0000000000000009")])), indent=2))
    fast = _store_rows(iter_raw_batches_jsonl(p, source_format="otlp-json"))
    with open(p, "rb") as f:
        slow = _store_rows(rows_to_arrow(r, "otlp-json", str(p)) for r in otlp_json.read_document(f, FileReport(str(p)), 100))
    assert len(fast) == 2 and fast == slow


def test_raw_form_of_one_span(tmp_path):
    p = tmp_path / "one.jsonl"
    p.write_bytes(_line([_span()]))
    (t,) = list(iter_raw_batches_jsonl(p, source_file="given-name.jsonl"))
    r = t.to_pylist()[0]
    assert (r["start_ns"], r["end_ns"]) == (1795287678731316271, 1795287678931346425)
    assert (r["status_code"], r["source_format"], r["source_file"]) == ("error", "otlp-jsonl", "given-name.jsonl")
    assert json.loads(r["resource"]) == {"service.name": "svc"}
    assert r["scope_name"] == "s"
    assert json.loads(r["attributes"])["gen_ai.request.temperature"] == 1.0


UNSUPPORTED = {
    "base64 ids": lambda: _line([_span(traceId="W47/95gDgQPSabYzgT/GDA==")]),
    "short hex id": lambda: _line([_span(spanId="abc")]),
    "16 chars, not hex": lambda: _line([_span(spanId="0123456789abcdeg")]),
    "16 bytes, not hex": lambda: _line([_span(spanId="\u00e9" * 8)]),  # 8 two-byte characters
    "parent 16 chars, not hex": lambda: _line([_span(parentSpanId="zzzzzzzzzzzzzzzz")]),
    "trace id 32 chars, one not hex": lambda: _line([_span(traceId="5b8efff798038103d269b633813fc60x")]),
    "kind as enum name": lambda: _line([_span(kind="SPAN_KIND_CLIENT")]),
    "status code as enum name": lambda: _line([_span(status={"code": "STATUS_CODE_ERROR"})]),
    "kind out of range": lambda: _line([_span(kind=9)]),
    "timestamps as numbers": lambda: _line([_span(startTimeUnixNano=1795287678731316271)]),
    "missing start": lambda: _line([{k: v for k, v in _span().items() if k != "startTimeUnixNano"}]),
    "kvlist value": lambda: _line([_span(attributes=[_kv("x", {"kvlistValue": {"values": [_kv("a", {"intValue": "1"})]}})])]),
    "bytes value": lambda: _line([_span(attributes=[_kv("x", {"bytesValue": "AAE="})])]),
    "nested array": lambda: _line([_span(attributes=[_kv("x", {"arrayValue": {"values": [{"arrayValue": {"values": []}}]}})])]),
    "NaN double": lambda: _line([_span(attributes=[_kv("x", {"doubleValue": "NaN"})])]),
    "intValue not a number": lambda: _line([_span(attributes=[_kv("x", {"intValue": "abc"})])]),
    "duplicate attribute key": lambda: _line([_span(attributes=[_kv("x", {"intValue": "1"}), _kv("x", {"intValue": "2"})])]),
    "string to truncate": lambda: _line([_span(attributes=[_kv("x", {"stringValue": "a" * (64 * 1024 + 1)})])]),
    "instrumentationLibrarySpans": lambda: orjson.dumps(
        {"resourceSpans": [{"resource": {}, "instrumentationLibrarySpans": [{"spans": [_span()]}]}]}) + b"\n",
    "snake_case keys": lambda: orjson.dumps({"resource_spans": []}) + b"\n",
    "broken JSON line": lambda: _line([_span()]) + b'{"resourceSpans": [\n',
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_input_raises(tmp_path, case):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(UNSUPPORTED[case]())
    with pytest.raises(FastPathUnsupported, match="bad.jsonl"):
        for _ in iter_raw_batches_jsonl(p):
            pass


def test_small_tables_are_gathered_up_to_min_rows(tmp_path):
    paths = _gen_corpus().generate(6000, tmp_path, {"jsonl"}, seed=5)
    sizes = [t.num_rows for t in iter_raw_batches_jsonl(paths["jsonl"], batch_bytes=1024, min_rows=2500)]
    assert sum(sizes) == 6000 and len(sizes) < 5 and all(n >= 2500 for n in sizes[:-1])


def test_gzip_and_overlong_lines_are_unsupported(tmp_path):
    gz = tmp_path / "t.jsonl.gz"
    gz.write_bytes(gzip.compress(_line([_span()])))
    with pytest.raises(FastPathUnsupported, match="gzip"):
        list(iter_raw_batches_jsonl(gz))
    long = tmp_path / "long.jsonl"  # blocks are sized from the first line; a later one is 50x longer
    long.write_bytes(_line([_span()]) + _line([_span(spanId=f"{i:016x}") for i in range(50)]))
    with pytest.raises(FastPathUnsupported):
        list(iter_raw_batches_jsonl(long, batch_bytes=1024))


def test_a_late_unsupported_block_can_be_rolled_back(tmp_path):
    """Batches may already be loaded when a later block is refused: the caller's transaction
    undoes them before falling back to the lenient reader."""
    from agentprof.ingest.normalize import normalize_into
    from agentprof.store import open_store, span_count

    good = _line([_span(spanId=f"{i:016x}") for i in range(1, 40)])
    p = tmp_path / "late.jsonl"
    p.write_bytes(good * 4 + good.replace(b'"kind":3', b'"kind":"SPAN_KIND_CLIENT"'))
    con = open_store()
    loaded = 0
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(FastPathUnsupported):
        for t in iter_raw_batches_jsonl(p, batch_bytes=1024, min_rows=1):  # blocks of about two lines
            loaded += normalize_into(con, t)
    con.execute("ROLLBACK")
    assert loaded >= 39 and loaded % 39 == 0 and span_count(con) == 0


class _CountingFile:
    """A file-like source that records how far it has been read."""

    def __init__(self, data: bytes) -> None:
        import io

        self._f = io.BytesIO(data)
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.read_bytes += len(data)
        return data

    def close(self) -> None:
        pass


def test_the_block_reader_reads_at_most_a_few_blocks_ahead(monkeypatch):
    """Arrow's reader alone buffers ~34 blocks of input ahead; paced, it stays within reach."""
    import time

    block = 64 * 1024
    line = _line([_span(spanId=f"{i:016x}") for i in range(40)])
    lines = line * (60 * block // len(line))  # ~60 blocks
    source = _CountingFile(lines)
    reader = fastpath.BlockReader(source, block)
    try:
        first = reader.read_next_batch()
        time.sleep(0.3)  # Arrow's background reader runs as far as it may
        ahead = source.read_bytes
        assert first.num_rows > 0
        assert ahead <= (fastpath.READ_AHEAD_BLOCKS + 1) * block + len(line)
        rows = first.num_rows
        while True:
            try:
                rows += reader.read_next_batch().num_rows
            except StopIteration:
                break
        assert rows == lines.count(b"\n") and source.read_bytes == len(lines)
    finally:
        reader.close()


def test_closing_a_paced_input_ends_a_waiting_read():
    import threading

    paced = fastpath._PacedInput(_CountingFile(b"x" * 100), ahead=10)
    assert paced.read(10) == b"x" * 10
    got = []
    waiting = threading.Thread(target=lambda: got.append(paced.read(10)))
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive() and got == []  # past its allowance: it waits
    paced.release(5)
    waiting.join(2)
    assert got == [b"x" * 10]
    waiting = threading.Thread(target=lambda: got.append(paced.read(10)))
    waiting.start()
    paced.close()
    waiting.join(2)
    assert not waiting.is_alive() and got[-1] == b""  # the end, not a hang


def test_a_reader_abandoned_mid_file_does_not_hang(tmp_path):
    p = tmp_path / "big.jsonl"
    line = _line([_span(spanId=f"{i:016x}") for i in range(40)])
    p.write_bytes(line * 400)
    batches = iter_raw_batches_jsonl(p, batch_bytes=64 * 1024, min_rows=1)
    assert next(batches).num_rows > 0
    batches.close()  # the generator's finally closes the reader while Arrow reads ahead


def test_paced_input_checks_utf8_across_reads():
    """Characters cut between two reads are whole again; a bad byte or a character cut by the
    end of the input is refused, wherever it falls."""
    import io

    from agentprof.ingest.fastpath import InvalidUtf8, _PacedInput

    def read_all(data: bytes, n: int) -> bytes:
        stream = _PacedInput(io.BytesIO(data), ahead=1 << 30)
        out = b""
        while chunk := stream.read(n):
            out += chunk
        stream.read(n)  # the end, once more: the decoder's final check
        return out

    text = ("ascii first, " + "caf\u00e9 \u2713 \U0001f600 " * 5).encode()
    for n in (1, 2, 3, 5, 64):
        assert read_all(text, n) == text
        for bad in (text + b"\xe9", text[:20] + b"\xff" + text[20:], text[:-2]):  # text[:-2]: the emoji cut
            with pytest.raises(InvalidUtf8):
                read_all(bad, n)
