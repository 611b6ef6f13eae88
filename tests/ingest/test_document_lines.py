"""One compact OTLP JSON document read as JSON lines (``document_lines``) must store exactly
what the lenient document reader stores, or refuse the file (and the lenient reader reads it)."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentprof import schema
from agentprof.ingest import detect, document_lines, onepass
from agentprof.ingest.document_lines import PREFIX, DocumentLines, UncuttableDocument
from agentprof.store import open_store
from test_onepass import _assert_identical, _both, _kv, _one, _s, assert_prompt_parts_measured, generate, prompt_content_docs


def _document(jsonl: Path, out: Path) -> Path:
    """The resourceSpans of every line of ``jsonl``, as one compact document."""
    docs = [orjson.loads(x) for x in jsonl.read_bytes().splitlines()]
    out.write_bytes(orjson.dumps({"resourceSpans": [rs for d in docs for rs in d["resourceSpans"]]}) + b"\n")
    return out


def _lines(data: bytes, **kw) -> list[bytes]:
    reader = DocumentLines(io.BytesIO(data), **kw)
    out = b""
    while chunk := reader.read(7):
        out += chunk
    return out.splitlines()


# --- cutting -----------------------------------------------------------------------------

_element = st.fixed_dictionaries({
    "resource": st.fixed_dictionaries({"attributes": st.lists(
        st.fixed_dictionaries({"key": st.text(max_size=8), "value": st.fixed_dictionaries({"stringValue": st.text(max_size=30)})}),
        max_size=3)}),
    "scopeSpans": st.just([{"spans": [{"name": "x"}]}]),
})


@settings(max_examples=60, deadline=None)
@given(elements=st.lists(_element, max_size=12), line_bytes=st.integers(1, 300), read_bytes=st.integers(1, 64),
       indent=st.sampled_from([None, 0, 1, 3]), trailing=st.sampled_from([b"", b"\n", b"\n \n\t"]))
def test_lines_hold_the_documents_resource_spans_in_order(elements, line_bytes, read_bytes, indent, trailing):
    # Strings may hold the cut's text: escaped, it is never cut there.
    elements = elements + [{"resource": {"attributes": [{"key": "k", "value": {"stringValue": '},{"resource":'}}]}}]
    doc = {"resourceSpans": elements}
    data = (orjson.dumps(doc) if indent is None else json.dumps(doc, indent=indent).encode()) + trailing
    lines = _lines(data, line_bytes=line_bytes, read_bytes=read_bytes)
    assert [rs for line in lines for rs in json.loads(line)["resourceSpans"]] == elements
    assert all(line.startswith(PREFIX) for line in lines[1:])  # the first keeps the document's own


def test_a_line_ends_at_the_first_cut_past_its_length():
    elements = [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{"name": "n" * 40}]}]} for _ in range(10)]
    data = orjson.dumps({"resourceSpans": elements})
    size = len(orjson.dumps(elements[0]))
    assert size == 109
    # The 18-byte prefix and one element are 127 bytes, two elements and their comma 237: a
    # line of at least 223 bytes ends at the cut after its second element, one of 238 after its third.
    assert [len(json.loads(x)["resourceSpans"]) for x in _lines(data, line_bytes=2 * size + 5)] == [2] * 5
    assert [len(json.loads(x)["resourceSpans"]) for x in _lines(data, line_bytes=2 * size + 20)] == [3, 3, 3, 1]


FORMS = {
    "compact": orjson.dumps,
    "pretty-printed": lambda doc: json.dumps(doc, indent=1).encode(),
    "pretty-printed, CRLF": lambda doc: json.dumps(doc, indent=2).replace("\n", "\r\n").encode(),
    "spaces between tokens": lambda doc: json.dumps(doc).encode(),
    "a newline between two tokens": lambda doc: orjson.dumps(doc).replace(b',"scopeSpans"', b',\n"scopeSpans"', 1),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_of_whitespace_is_cut_into_lines_of_whole_resource_spans(form):
    doc = {"resourceSpans": [{"resource": {"attributes": [_kv("i", _s(str(i)))]}, "scopeSpans": [{"spans": [{"name": "x"}]}]}
                             for i in range(5)]}
    for read_bytes in (3, 100, 10_000):
        lines = _lines(FORMS[form](doc) + b"\n", line_bytes=1, read_bytes=read_bytes)
        assert [json.loads(x) for x in lines] == [{"resourceSpans": [rs]} for rs in doc["resourceSpans"]]


REFUSED = {
    "another key first": lambda doc: orjson.dumps({"schema": 1, **doc}),
    "an array": lambda doc: orjson.dumps([doc]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_documents_of_another_shape_are_refused(case):
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{"name": "x"}]}]}] * 3}
    with pytest.raises(UncuttableDocument):
        _lines(REFUSED[case](doc), line_bytes=1)


def test_a_resource_spans_element_larger_than_a_line_may_be_is_refused():
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [{"name": "x" * 5000}]}]}]}
    with pytest.raises(UncuttableDocument, match="longer than 1000 bytes"):
        _lines(orjson.dumps(doc), max_line_bytes=1000, read_bytes=100)


# --- the same rows as the lenient reader ----------------------------------------------------------

def test_generated_document_is_identical_and_reads_one_pass(tmp_path, monkeypatch):
    doc = _document(generate(tmp_path / "mixed.jsonl", traces=60, seed=11), tmp_path / "mixed.json")
    with open(doc, "rb") as f:
        head = f.read(detect.HEAD_BYTES)
        assert detect.sniff(head) == detect.OTLP_JSON
    rows = _assert_identical(doc, monkeypatch)
    assert len(rows) > 300
    assert {r[schema.COLUMN_NAMES.index("source_format")] for r in rows} == {"otlp-json"}


def test_lines_cut_every_few_resources_are_identical(tmp_path, monkeypatch):
    """Small lines: many cuts, and Arrow blocks that hold many lines."""
    doc = _document(generate(tmp_path / "m.jsonl", traces=40, seed=5), tmp_path / "m.json")
    monkeypatch.setattr(document_lines, "LINE_BYTES", 300)
    monkeypatch.setattr(document_lines, "READ_BYTES", 1000)
    assert _assert_identical(doc, monkeypatch)


def test_gzip_document_is_identical_and_reads_one_pass(tmp_path, monkeypatch):
    doc = _document(generate(tmp_path / "g.jsonl", traces=20, seed=4), tmp_path / "g.json")
    gz = tmp_path / "g.json.gz"
    gz.write_bytes(gzip.compress(doc.read_bytes()))
    _assert_identical(gz, monkeypatch)


def test_bench_corpus_document_equals_its_json_lines(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_corpus", Path(__file__).resolve().parents[2] / "bench" / "gen_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    paths = mod.generate(3000, tmp_path, {"jsonl", "json"}, seed=7)
    assert paths["json"].read_bytes().count(b"\n") == 1  # one document
    rows = _assert_identical(paths["json"], monkeypatch)
    lines = _assert_identical(paths["jsonl"], monkeypatch)
    fmt = schema.COLUMN_NAMES.index("source_format")
    src = schema.COLUMN_NAMES.index("source_file")
    assert len(rows) == 3000
    assert [r[:fmt] + r[src + 1:] for r in rows] == [r[:fmt] + r[src + 1:] for r in lines]


def _generated_document(tmp_path, form: str, *, traces: int = 6, seed: int = 8) -> tuple[Path, int]:
    lines = generate(tmp_path / "g.jsonl", traces=traces, seed=seed).read_bytes().splitlines()
    doc = {"resourceSpans": [rs for x in lines for rs in orjson.loads(x)["resourceSpans"]]}
    path = tmp_path / "g.json"
    path.write_bytes((FORMS | REFUSED)[form](doc))
    return path, sum(len(ss["spans"]) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"])


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_reads_one_pass_and_identical(tmp_path, monkeypatch, form):
    path, spans = _generated_document(tmp_path, form)
    monkeypatch.setattr(document_lines, "LINE_BYTES", 2000)  # several lines
    assert len(_assert_identical(path, monkeypatch)) == spans


PARSER_REFUSES = {
    "a raw newline inside a string": lambda data: data.replace(b'"svc-1"', b'"svc\n-1"'),
    "another key after the array": lambda data: data[:-1] + b',"x":1}',
}


@pytest.mark.parametrize("case", sorted(REFUSED) + sorted(PARSER_REFUSES))
def test_refused_documents_go_to_the_lenient_reader(tmp_path, monkeypatch, case):
    path, spans = _generated_document(tmp_path, "compact" if case in PARSER_REFUSES else case)
    if case in PARSER_REFUSES:
        path.write_bytes(PARSER_REFUSES[case](path.read_bytes()))
    _assert_identical(path, monkeypatch, expect_onepass=False)


def test_documents_back_to_back_read_one_pass_and_identical(tmp_path, monkeypatch):
    """Arrow's parser reads objects placed back to back on a line, as the lenient reader reads
    documents placed back to back (the second one's spans are duplicates here)."""
    path, spans = _generated_document(tmp_path, "compact")
    path.write_bytes(path.read_bytes() * 2)
    monkeypatch.setattr(document_lines, "LINE_BYTES", 2000)
    assert len(_assert_identical(path, monkeypatch)) == spans


def test_a_cut_inside_a_nested_object_leaves_a_line_that_does_not_parse(tmp_path, monkeypatch):
    """The cut's text where an object nested deeper than the ResourceSpans array starts (here
    in a field OTLP does not define): the line before that cut leaves brackets open, so the
    parser refuses it, and the lenient reader reads the document."""
    spans = [_one(x=[{"a": 1}, {"resource": 2}]), _one(spanId="00000000000000a2")]
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans[:1]}]},
                             {"resource": {"attributes": []}, "scopeSpans": [{"spans": spans[1:]}]}]}
    data = orjson.dumps(doc)
    assert data.count(b'},{"resource":') == 2
    broken = []
    for line in _lines(data, line_bytes=1):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken.append(line)
    assert len(broken) == 2  # the line before the nested cut, and the one after it
    path = tmp_path / "nested.json"
    path.write_bytes(data)
    with pytest.raises(onepass.OnePassUnsupported):
        onepass.ingest_jsonl(open_store(), path, target=schema.TABLE, document=True)
    _assert_identical(path, monkeypatch, expect_onepass=False)


def test_prompt_content_in_a_document_is_identical(tmp_path, monkeypatch):
    path = tmp_path / "content.json"
    path.write_bytes(orjson.dumps({"resourceSpans": [rs for d in prompt_content_docs(tmp_path) for rs in d["resourceSpans"]]}))
    assert_prompt_parts_measured(_assert_identical(path, monkeypatch, expect_onepass=False))




def test_a_gzip_document_cut_short_goes_to_the_lenient_reader(tmp_path, monkeypatch):
    doc = _document(generate(tmp_path / "t.jsonl", traces=30, seed=6), tmp_path / "t.json")
    packed = gzip.compress(doc.read_bytes())
    path = tmp_path / "t.json.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    fast, slow, fast_rep, slow_rep = _both(path, monkeypatch, expect_onepass=False)
    assert fast == slow and fast_rep == slow_rep
    assert 0 < len(fast) and any("cut short" in p for p in fast_rep.problems)
