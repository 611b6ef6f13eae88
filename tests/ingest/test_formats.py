"""Every file form of the same spans gives the same span table."""

from __future__ import annotations

import json

import pytest
from ingest_builders import T0, sdk_request, span, write_forms
from opentelemetry.trace import SpanKind

from agentprof.ingest import ingest_files
from agentprof.store import open_store

COMPARE = (
    "trace_id, span_id, parent_span_id, name, kind, category, start_ns, end_ns, status, status_message, service_name,"
    " agent_name, operation, provider, request_model, response_model, input_tokens, output_tokens, cache_read_tokens,"
    " cost_source, round(cost_usd, 12), finish_reason, tool_name, tool_args_hash, history_chars, system_chars,"
    " CAST(attributes AS VARCHAR), CAST(events AS VARCHAR), CAST(resource AS VARCHAR)"
)


def _agent_run(tracer):
    root = span(tracer, "invoke_agent weather", 0, None, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "weather"})
    chat = span(
        tracer,
        "chat gpt-4o",
        1,
        None,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 500,
            "gen_ai.response.finish_reasons": ("tool_calls",),
            "gen_ai.request.temperature": 0.2,
            "gen_ai.input.messages": json.dumps(
                [
                    {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
                    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
                ]
            ),
        },
        root,
        kind=SpanKind.CLIENT,
    )
    chat.add_event("gen_ai.choice", {"index": 0}, timestamp=T0 + 1_500_000)
    chat.end(end_time=T0 + 900_000_000)
    span(tracer, "execute_tool get_weather", 901, 950, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.arguments": '{"city": "Paris"}'}, root)
    span(tracer, "failing", 951, 960, {"x.list": [1, 2, 3]}, root, error="boom")
    root.end(end_time=T0 + 1_000_000_000)


@pytest.fixture(scope="module")
def forms(tmp_path_factory):
    return write_forms(sdk_request(_agent_run), tmp_path_factory.mktemp("forms"))


def _table(path):
    con = open_store()
    (sf,) = ingest_files(con, [path])
    return sf, con.execute(f"SELECT {COMPARE} FROM spans ORDER BY start_ns").fetchall()


def test_all_forms_give_identical_span_tables(forms):
    sf, reference = _table(forms["lines.jsonl"])
    assert sf.format == "otlp-jsonl" and sf.spans_read == 4 and sf.spans_skipped == 0 and sf.problems == ()
    expected_formats = {
        "doc.json": "otlp-json",
        "proto3.json": "otlp-json",
        "lines.jsonl": "otlp-jsonl",
        "body.pb": "otlp-proto",
        "records.pb": "otlp-proto-lp",
    }
    for name, path in forms.items():
        sf, table = _table(path)
        fmt = expected_formats[name.removesuffix(".gz")] + ("+gzip" if name.endswith(".gz") else "")
        assert sf.format == fmt, name
        assert sf.problems == (), name
        assert table == reference, name


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst", ".lz4"])
def test_the_format_comes_from_the_content_not_the_file_name(forms, tmp_path, suffix):
    """A plain file named like a compressed one, and a gzip file named like a plain one, read
    as their content says (Arrow's JSON reader guesses compression from a name if let)."""
    import shutil

    _, reference = _table(forms["lines.jsonl"])
    misnamed = {"lines.jsonl": f"lines.jsonl{suffix}", "doc.json": f"doc.json{suffix}", "body.pb": f"body.pb{suffix}",
                "lines.jsonl.gz": "gzip-inside.jsonl"}
    for source, name in misnamed.items():
        shutil.copyfile(forms[source], tmp_path / name)
        sf, table = _table(tmp_path / name)
        assert (sf.spans_read, sf.problems) == (4, ()), name
        assert table == reference, name


def test_values_of_the_reference(forms):
    con = open_store()
    ingest_files(con, [forms["doc.json"]])
    rows = con.execute(
        "SELECT name, kind, category, status, status_message, agent_name, provider, request_model, response_model,"
        " input_tokens, output_tokens, cache_read_tokens, finish_reason, cost_source, cost_usd, end_ns - start_ns,"
        " system_chars, history_chars, tool_name, service_name FROM spans ORDER BY start_ns"
    ).fetchall()
    assert rows[0][:6] == ("invoke_agent weather", "INTERNAL", "agent", "unset", None, "weather")
    assert rows[0][9] is None  # no tokens on the agent span
    chat = rows[1]
    assert chat[:9] == ("chat gpt-4o", "CLIENT", "llm", "unset", None, "weather", "openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert chat[9:14] == (1000, 200, 500, "tool_calls", "computed")
    assert chat[14] == pytest.approx(0.003875, rel=1e-12)
    assert chat[15] == 899_000_000
    assert chat[16:18] == (14, 17)
    assert rows[2][2] == "tool" and rows[2][18] == "get_weather" and rows[2][5] == "weather"
    assert rows[3][3:5] == ("error", "boom") and rows[3][2] == "other"
    assert {r[19] for r in rows} == {"agent-demo"}
    attrs = json.loads(con.execute("SELECT attributes FROM spans WHERE name = 'failing'").fetchone()[0])
    assert attrs == {"x.list": [1, 2, 3]}
    events = json.loads(con.execute("SELECT events FROM spans WHERE category = 'llm'").fetchone()[0])
    assert events == [{"name": "gen_ai.choice", "time_ns": T0 + 1_500_000, "attributes": {"index": 0}}]


def test_json_lines_with_lines_longer_than_the_sniffed_head(tmp_path):
    from ingest_builders import otlp_span, write_doc

    big = "x" * 300_000  # each line > 256 KiB (Collector lines are ~1 MB)
    lines = []
    for i in range(1, 4):
        p = write_doc(tmp_path / f"l{i}.json", [otlp_span(f"{i:016x}", attrs={"pad": big[:60_000]}, start=i)])
        lines.append(p.read_text().replace("svc", big))  # a long resource value
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one = tmp_path / "one.json"
    one.write_text(lines[0])  # one long line, nothing after: one document
    con = open_store()
    a, b = ingest_files(con, [path, one], fast=False)
    assert (a.format, a.spans_read, b.format, b.spans_read) == ("otlp-jsonl", 3, "otlp-json", 0)
    assert b.spans_skipped == 1  # the same span as line 1: a duplicate


def test_document_with_resource_after_spans_and_documents_back_to_back(tmp_path):
    from ingest_builders import otlp_span

    res = {"attributes": [{"key": "service.name", "value": {"stringValue": "late"}}]}
    doc1 = {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span("0000000000000001")], "scope": {"name": "sc"}}], "resource": res}]}
    doc2 = {"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {"name": "sc"}, "spans": [otlp_span("0000000000000002", "0000000000000001")]}]}]}
    p = tmp_path / "two.json"
    p.write_text(json.dumps(doc1, indent=2) + "\n" + json.dumps(doc2, indent=2))
    con = open_store()
    (sf,) = ingest_files(con, [p])
    assert (sf.format, sf.spans_read, sf.problems) == ("otlp-json", 2, ())
    assert con.execute("SELECT span_id, service_name FROM spans ORDER BY span_id").fetchall() == [
        ("0000000000000001", "late"),
        ("0000000000000002", "late"),
    ]


def test_a_well_formed_document_never_computes_a_place(tmp_path, monkeypatch):
    # A place (line and offset) counts the lines in the read buffer, so computing one per
    # resource or scope made reading a large single-document file quadratic. Only a note needs one.
    from ingest_builders import otlp_span

    from agentprof.ingest import otlp_json_stream

    calls = []
    real = otlp_json_stream.DocumentStream.place
    monkeypatch.setattr(otlp_json_stream.DocumentStream, "place", lambda self, at: calls.append(at) or real(self, at))
    res = {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}
    doc = {"resourceSpans": [{"resource": res, "scopeSpans": [{"scope": {"name": "sc"}, "spans": [otlp_span(f"{i:016x}")]}]} for i in range(1, 30)]}
    p = tmp_path / "doc.json"
    p.write_text(json.dumps(doc, indent=2))
    (sf,) = ingest_files(open_store(), [p])
    assert (sf.format, sf.spans_read, sf.problems, calls) == ("otlp-json", 29, (), [])
    bad = dict(doc, resourceSpans=[dict(doc["resourceSpans"][0], resource=7)])
    p.write_text(json.dumps(bad, indent=2))
    (sf,) = ingest_files(open_store(), [p])
    assert (sf.spans_read, len(calls)) == (1, 1)
    assert "resource is not a JSON object" in sf.problems[0]


def test_the_form_of_a_long_first_line_is_told_without_parsing_it(monkeypatch):
    """Parsing a first line of hundreds of MB cost seconds and ~10x its size in memory."""
    import io

    from agentprof.ingest import detect

    def no_parse(*a):
        raise AssertionError("parsed")

    monkeypatch.setattr(detect.orjson, "loads", no_parse)
    line = b'{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"' + b"x" * 400_000 + b'"}}]}}]}'
    cases = {
        line + b"\n" + line + b"\n": detect.OTLP_JSONL,
        line + b"\n": detect.OTLP_JSON,  # one line, nothing after
        line + b"\n  \n": detect.OTLP_JSON,
        line[:-2] + b"\n]}\n": detect.OTLP_JSON,  # the document goes on
        line[:-1] + b",\n" + line[1:] + b"\n": detect.OTLP_JSON,
    }
    for data, form in cases.items():
        f = io.BytesIO(data)
        head = f.read(detect.HEAD_BYTES)
        assert detect.json_form_long_line(f, head) == form
