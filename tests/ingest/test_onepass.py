"""The one-pass JSON-lines reader must store exactly what the lenient reader stores, or refuse.

Each case ingests the same file twice with ``ingest_files``: once as the CLI does (one-pass
first) and once with ``fast=False`` (the lenient Python reader), and compares the ``spans``
rows column by column, JSON columns as text, plus the per-file reports.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pytest

import agentprof.ingest as ingest_mod
from agentprof import schema
from agentprof.ingest import fastpath, ingest_files, onepass, repair
from agentprof.ingest.onepass import OnePassUnsupported
from agentprof.store import open_store

T0 = 1_795_287_678_000_000_000


def _kv(key, value):
    return {"key": key, "value": value}


def _s(v):
    return {"stringValue": v}


def _i(v):
    return {"intValue": str(v)}


def _d(v):
    return {"doubleValue": v}


def _b(v):
    return {"boolValue": v}


def _arr(*vals):
    return {"arrayValue": {"values": list(vals)}}


# One span's attributes per convention; each builder gets a random generator.
CONVENTIONS = {
    "genai": lambda r: [
        _kv("gen_ai.operation.name", _s("chat")), _kv("gen_ai.provider.name", _s("openai")),
        _kv("gen_ai.request.model", _s("gpt-4o")), _kv("gen_ai.response.model", _s("gpt-4o-2024-08-06")),
        _kv("gen_ai.usage.input_tokens", _i(r.randint(100, 9000))), _kv("gen_ai.usage.output_tokens", _i(r.randint(1, 900))),
        _kv("gen_ai.usage.cache_read.input_tokens", _i(r.randint(0, 50))),
        _kv("gen_ai.usage.reasoning.output_tokens", _i(0)),
        _kv("gen_ai.response.finish_reasons", _arr(_s("stop"), _s("length"))),
        _kv("gen_ai.response.time_to_first_chunk", _d(round(r.random(), 6))),
        _kv("gen_ai.request.temperature", _d(0.2)), _kv("gen_ai.request.stream", _b(True)),
        _kv("gen_ai.conversation.id", _s(f"conv-{r.randint(0, 3)}")), _kv("user.id", _s("u1")),
    ],
    "genai_deprecated": lambda r: [
        _kv("gen_ai.system", _s(r.choice(["anthropic", "vertex_ai", "az.ai.openai"]))),
        _kv("gen_ai.request.model", _s("claude-sonnet-4-5")), _kv("gen_ai.operation.name", _s("chat")),
        _kv("gen_ai.usage.prompt_tokens", _i(10)), _kv("gen_ai.usage.completion_tokens", _i(r.randint(1, 99))),
        _kv("gen_ai.usage.cache_read_input_tokens", _i(500)), _kv("gen_ai.usage.cache_creation_input_tokens", _i(20)),
        _kv("gen_ai.response.finish_reasons", _arr()), _kv("session.id", _i(42)),
    ],
    "openinference": lambda r: [
        _kv("openinference.span.kind", _s(r.choice(["LLM", "TOOL", "RETRIEVER", "CHAIN", "EMBEDDING"]))),
        _kv("llm.provider", _s("anthropic")), _kv("llm.model_name", _s("claude-3-5-haiku")),
        _kv("llm.invocation_parameters", _s('{"model": "claude-3-5-haiku", "temperature": 0}')),
        _kv("llm.token_count.prompt", _i(r.randint(1, 5000))), _kv("llm.token_count.completion", _d(12.0)),
        _kv("llm.token_count.prompt_details.cache_read", _i(3)),
        _kv("tool.name", _s("search")), _kv("input.value", _s('{"q": "x", "a": [1, 2]}')),
        _kv("session.id", _s("s-1")), _kv("llm.cost.total", _d(0.0123)),
    ],
    "openllmetry": lambda r: [
        _kv("traceloop.span.kind", _s(r.choice(["workflow", "agent", "task", "tool"]))),
        _kv("traceloop.entity.name", _s("planner")), _kv("llm.request.type", _s("chat")),
        _kv("gen_ai.system", _s("openai")), _kv("gen_ai.request.model", _s("gpt-4o-mini")),
        _kv("llm.usage.prompt_tokens", _i(77)), _kv("gen_ai.completion.0.finish_reason", _s("stop")),
        _kv("traceloop.entity.input", _s("not json {")),
        _kv("traceloop.association.properties.user_id", _s("u-9")),
    ],
    "agentprof": lambda r: [
        _kv("agentprof.span.category", _s(r.choice(["agent", "step", "tool", "llm", "retrieval"]))),
        _kv("agentprof.step.number", _i(r.randint(1, 9))), _kv("gen_ai.agent.name", _s("researcher")),
        _kv("gen_ai.tool.name", _s("fetch")), _kv("gen_ai.tool.call.id", _s("call_1")),
        _kv("agentprof.tool.args_hash", _s("abc")), _kv("agentprof.human_approval", _b(r.random() < 0.5)),
        _kv("agentprof.cost_usd", _d(0.5)), _kv("agentprof.prompt.system_chars", _i(120)),
        _kv("agentprof.ttft_ns", _i(1500)), _kv("agentprof.request.serialization_ns", _i(20)),
        _kv("gen_ai.usage.input_tokens", _s("many")),  # wrong type: reported, column left empty
        _kv("gen_ai.usage.output_tokens", _d(-3.0)),
    ],
    "plain": lambda r: [
        _kv("http.method", _s("GET")), _kv("tags", _arr(_s("a"), _i(2), _d(1.5), _b(False))),
        _kv("empty.array", {"arrayValue": {}}), _kv("empty.value", {}), _kv("unicode", _s('café ✓ "q"\n')),
    ],
}

NAMES = ["chat gpt-4o", "agent.step.3", "invoke_agent planner", "execute_tool fetch", "handoff to b", "agent run", "db"]


def _span(r: random.Random, trace: str, span_id: str, parent: str | None, start: int, end: int | None, convention: str) -> dict:
    s = {
        "traceId": trace,
        "spanId": span_id,
        "parentSpanId": parent or "",
        "name": r.choice(NAMES),
        "kind": r.randint(0, 5),
        "startTimeUnixNano": str(start),
        "attributes": CONVENTIONS[convention](r),
        "status": r.choice([{}, {"code": 1}, {"code": 2, "message": "boom"}]),
    }
    if end is not None:
        s["endTimeUnixNano"] = str(end)
    if r.random() < 0.3:
        s["events"] = [
            {"timeUnixNano": str(start + 5), "name": "exception",
             "attributes": [_kv("exception.type", _s("TimeoutError")), _kv("exception.message", _s("slow"))]},
            {"timeUnixNano": str(start + 6), "name": "gen_ai.choice", "attributes": [_kv("index", _i(0))]},
        ]
    return s


def generate(path: Path, *, traces: int, seed: int, conventions=tuple(CONVENTIONS)) -> Path:
    """Random trees mixing every convention, errors, exception events, missing ends, an orphan."""
    r = random.Random(seed)
    lines = []
    for t in range(traces):
        trace = f"{r.getrandbits(128):032x}"
        spans, ids = [], []
        for i in range(r.randint(1, 12)):
            sid = f"{r.getrandbits(64):016X}" if i % 3 == 0 else f"{r.getrandbits(64):016x}"  # ids in either case
            parent = r.choice(ids) if ids else None
            start = T0 + t * 10**9 + i * 1000
            end = None if r.random() < 0.1 else start + r.randint(0, 10**6)
            spans.append(_span(r, trace, sid, parent, start, end, r.choice(conventions)))
            ids.append(sid)
        if t == 3:
            spans[-1]["parentSpanId"] = "00000000000000ff"  # its parent was never exported
        resource = [_kv("service.name", _s(f"svc-{t % 3}")), _kv("host", _i(t))]
        lines.append({"resourceSpans": [{"resource": {"attributes": resource},
                                         "scopeSpans": [{"scope": {"name": "lib" if t % 2 else ""}, "spans": spans}]}]})
    path.write_bytes(b"".join(orjson.dumps(doc) + b"\n" for doc in lines))
    return path


def _rows(con) -> list[tuple]:
    cols = ", ".join(schema.COLUMN_NAMES)
    return con.execute(f"SELECT {cols} FROM spans ORDER BY trace_id, span_id, start_ns").fetchall()


def _both(path: Path, monkeypatch, *, expect_onepass: bool | None = True, reader: str = "ingest_jsonl"):
    """(rows via the CLI's path, rows via the lenient reader, their reports); whether the
    one-pass ``reader`` read the file is checked against ``expect_onepass`` (None: either)."""
    used = []
    real = getattr(onepass, reader)

    def spy(*a, **kw):
        n = real(*a, **kw)
        used.append(n)
        return n

    monkeypatch.setattr(onepass, reader, spy)
    fast_con, slow_con = open_store(), open_store()
    (fast_rep,) = ingest_files(fast_con, [path])
    # The lenient reader through the stage and its repairs: the reference the direct load must equal.
    pipelined = ingest_mod._read_pipelined
    monkeypatch.setattr(ingest_mod, "_read_pipelined", lambda *a, **kw: pipelined(*a, **{**kw, "direct": False}))
    (slow_rep,) = ingest_files(slow_con, [path], fast=False)
    monkeypatch.setattr(ingest_mod, "_read_pipelined", pipelined)
    monkeypatch.setattr(onepass, reader, real)
    assert expect_onepass is None or bool(used) == expect_onepass, "one-pass reader used" if used else "refused"
    return _rows(fast_con), _rows(slow_con), fast_rep, slow_rep


def _assert_identical(path: Path, monkeypatch, **kw) -> list[tuple]:
    fast, slow, fast_rep, slow_rep = _both(path, monkeypatch, **kw)
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a == b
    assert fast_rep == slow_rep
    return fast


def test_generated_mixed_conventions_are_identical_to_the_lenient_reader(tmp_path, monkeypatch):
    rows = _assert_identical(generate(tmp_path / "mixed.jsonl", traces=60, seed=11), monkeypatch)
    col = {n: i for i, n in enumerate(schema.COLUMN_NAMES)}
    assert len(rows) > 300
    cats = {r[col["category"]] for r in rows}
    assert {"llm", "tool", "agent", "step"} <= cats
    # Things that only come out right when each convention's rule fires:
    assert any(r[col["provider"]] == "gcp.vertex_ai" for r in rows)  # deprecated alias mapped
    assert any(r[col["error_type"]] == "TimeoutError" for r in rows)  # from the exception event
    assert any(r[col["finish_reason"]] == "stop" for r in rows)
    assert any(r[col["request_model"]] == "claude-3-5-haiku" for r in rows)  # from invocation parameters
    assert all(r[col["end_ns"]] >= r[col["start_ns"]] for r in rows)  # missing ends repaired


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_each_convention_alone_is_identical(tmp_path, monkeypatch, convention):
    _assert_identical(generate(tmp_path / f"{convention}.jsonl", traces=8, seed=3, conventions=(convention,)), monkeypatch)


def test_bench_corpus_is_identical_and_reads_one_pass(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_corpus", Path(__file__).resolve().parents[2] / "bench" / "gen_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    paths = mod.generate(3000, tmp_path, {"jsonl"}, seed=7)
    assert paths["jsonl"].read_bytes().count(b"\n") > 1  # JSON lines, not one document
    rows = _assert_identical(paths["jsonl"], monkeypatch)
    assert len(rows) == 3000


def test_kvlist_values_fall_back_and_stay_identical(tmp_path, monkeypatch):
    p = generate(tmp_path / "kv.jsonl", traces=5, seed=1)
    docs = [orjson.loads(x) for x in p.read_bytes().splitlines()]
    docs[2]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(
        _kv("meta", {"kvlistValue": {"values": [_kv("a", _i(1)), _kv("b", _arr(_s("x")))]}})
    )
    p.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    _assert_identical(p, monkeypatch, expect_onepass=False)


def prompt_content_docs(tmp_path: Path) -> list[dict]:
    """Generated requests, one span of which carries prompt content (8 system, 11 history chars)."""
    p = generate(tmp_path / "content.jsonl", traces=5, seed=2, conventions=("genai",))
    docs = [orjson.loads(x) for x in p.read_bytes().splitlines()]
    messages = json.dumps([{"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
                           {"role": "user", "parts": [{"type": "text", "content": "hello there"}]}])
    docs[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"].append(_kv("gen_ai.input.messages", _s(messages)))
    return docs


def assert_prompt_parts_measured(rows: list[tuple]) -> None:
    col = {n: i for i, n in enumerate(schema.COLUMN_NAMES)}
    measured = [r for r in rows if r[col["system_chars"]] is not None or r[col["history_chars"]] is not None]
    assert [(r[col["system_chars"]], r[col["history_chars"]]) for r in measured] == [(8, 11)]


def test_prompt_content_goes_to_the_fast_reader_and_stays_identical(tmp_path, monkeypatch):
    p = tmp_path / "content.jsonl"
    p.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in prompt_content_docs(tmp_path)))
    assert_prompt_parts_measured(_assert_identical(p, monkeypatch, expect_onepass=False))


def _line(spans, resource=None) -> bytes:
    doc = {"resourceSpans": [{"resource": {"attributes": resource or [_kv("service.name", _s("svc"))]},
                              "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]}
    return orjson.dumps(doc) + b"\n"


def _one(**over) -> dict:
    s = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "x", "kind": 1,
         "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10), "attributes": [_kv("a", _i(1))], "status": {}}
    s.update(over)
    return s


REFUSED = {
    "repeated span attribute key": lambda: _line([_one(attributes=[_kv("x", _i(1)), _kv("x", _i(2))])]),
    "repeated event attribute key": lambda: _line([_one(events=[{"name": "e", "attributes": [_kv("x", _i(1)), _kv("x", _i(2))]}])]),
    "negative start": lambda: _line([_one(startTimeUnixNano="-5")]),
    "intValue not a number": lambda: _line([_one(attributes=[_kv("x", {"intValue": "abc"})])]),
    "kind as enum name": lambda: _line([_one(kind="SPAN_KIND_CLIENT")]),
    "kvlist value": lambda: _line([_one(attributes=[_kv("x", {"kvlistValue": {"values": []}})])]),
    "prompt content": lambda: _line([_one(attributes=[_kv("llm.input_messages.0.message.role", _s("user"))])]),
    "broken JSON line": lambda: _line([_one()]) + b'{"resourceSpans": [\n',
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refuses_what_it_cannot_read_exactly(tmp_path, case):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(REFUSED[case]())
    con = open_store()
    repair.create_stage(con)
    with pytest.raises(OnePassUnsupported, match="bad.jsonl"):
        onepass.ingest_jsonl(con, p, target=repair.STAGE)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_files_still_ingest_like_the_lenient_reader(tmp_path, monkeypatch, case):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(REFUSED[case]())
    _assert_identical(p, monkeypatch, expect_onepass=False)


def test_a_late_refusal_leaves_no_rows_behind(tmp_path, monkeypatch):
    """Blocks loaded before the refused one are removed before the next reader starts."""
    good = _line([_one(spanId=f"{i:016x}") for i in range(1, 40)])
    p = tmp_path / "late.jsonl"
    p.write_bytes(good * 4 + _line([_one(spanId="00000000000000aa", kind="SPAN_KIND_CLIENT")]))
    con = open_store()
    repair.create_stage(con)
    with pytest.raises(OnePassUnsupported):
        onepass.ingest_jsonl(con, p, target=repair.STAGE, batch_bytes=1024, rows_per_insert=1)
    assert con.execute(f"SELECT count(*) FROM {repair.STAGE}").fetchone()[0] >= 39  # earlier blocks were in
    con.close()
    _assert_identical(p, monkeypatch, expect_onepass=False)


def test_small_blocks_and_batches_give_the_same_rows(tmp_path):
    p = generate(tmp_path / "m.jsonl", traces=30, seed=5)
    out = []
    for kw in ({}, {"batch_bytes": 1024, "rows_per_insert": 7}):
        con = open_store()
        repair.create_stage(con)
        n, _ = onepass.ingest_jsonl(con, p, target=repair.STAGE, **kw)
        cols = ", ".join(schema.COLUMN_NAMES)
        out.append((n, con.execute(f"SELECT {cols} FROM {repair.STAGE} ORDER BY _seq").fetchall()))
    assert out[0][0] == len(out[0][1]) > 100
    assert out[0] == out[1]


def test_gzip_reads_one_pass_and_is_identical(tmp_path, monkeypatch):
    import gzip

    plain = generate(tmp_path / "m.jsonl", traces=20, seed=8)
    p = tmp_path / "m.jsonl.gz"
    p.write_bytes(gzip.compress(plain.read_bytes()))
    rows = _assert_identical(p, monkeypatch)
    assert len(rows) > 50


def test_a_truncated_gzip_goes_to_the_lenient_reader(tmp_path, monkeypatch):
    import gzip

    plain = generate(tmp_path / "m.jsonl", traces=20, seed=8)
    p = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(plain.read_bytes())
    p.write_bytes(data[: len(data) * 2 // 3])
    fast, slow, fast_rep, slow_rep = _both(p, monkeypatch, expect_onepass=False)
    assert fast == slow and fast_rep == slow_rep and any("truncated" in m for m in fast_rep.problems)


def test_refusal_is_the_fast_readers_exception():
    assert OnePassUnsupported is fastpath.FastPathUnsupported


def test_the_connection_is_free_after_ingest(tmp_path):
    """No result is left open: the caller can register an Arrow table and query it."""
    import pyarrow as pa

    con = open_store()
    ingest_files(con, [generate(tmp_path / "m.jsonl", traces=4, seed=9)])
    con.register("t", pa.table({"x": [1, 2]}))
    assert con.sql("SELECT sum(x) FROM t").fetchall() == [(3,)]


def test_resources_are_decoded_like_the_lenient_reader(tmp_path, monkeypatch):
    """A repeated resource key keeps the last value; numbers, arrays and empty values too."""
    resource = [_kv("service.name", _s("a")), _kv("service.name", _s("b")), _kv("n", _i(7)), _kv("d", _d(2.5)),
                _kv("list", _arr(_s("x"), _b(True))), _kv("empty", {}), _kv("none", {"arrayValue": {}})]
    p = tmp_path / "res.jsonl"
    p.write_bytes(_line([_one()], resource=resource) + _line([_one(spanId="00000000000000a2")], resource=[_kv("service.name", _i(5))]))
    rows = _assert_identical(p, monkeypatch)
    col = {n: i for i, n in enumerate(schema.COLUMN_NAMES)}
    assert [r[col["service_name"]] for r in rows] == ["5", "b"]
    assert json.loads(rows[1][col["resource"]]) == {"service.name": "b", "n": 7, "d": 2.5, "list": ["x", True], "empty": None, "none": []}


def _clean_file(path: Path, traces: int = 6, *, seed: int = 4) -> Path:
    """Well-formed trees: every span ends, inside its parent, parents present, tokens numbers."""
    r = random.Random(seed)
    lines = []
    for t in range(traces):
        trace = f"{r.getrandbits(128):032x}"
        root = f"{r.getrandbits(64):016x}"
        start = T0 + t * 10**9
        spans = [_one(traceId=trace, spanId=root, name="invoke_agent a", startTimeUnixNano=str(start),
                      endTimeUnixNano=str(start + 10**6), attributes=[_kv("gen_ai.agent.name", _s("a"))])]
        for i in range(5):
            spans.append(_one(traceId=trace, spanId=f"{r.getrandbits(64):016x}", parentSpanId=root, name="chat gpt-4o",
                              startTimeUnixNano=str(start + 1000 * (i + 1)), endTimeUnixNano=str(start + 1000 * (i + 2)),
                              attributes=CONVENTIONS["genai"](r)))
        lines.append(_line(spans))
    path.write_bytes(b"".join(lines))
    return path


def test_a_clean_file_loads_straight_into_the_span_table(tmp_path, monkeypatch):
    staged = []
    monkeypatch.setattr(repair, "stage_spans", lambda con, real=repair.stage_spans: (staged.append(1), real(con))[1])
    rows = _assert_identical(_clean_file(tmp_path / "clean.jsonl"), monkeypatch)
    assert len(rows) == 36 and staged == []


@pytest.mark.parametrize("problem", ["orphan", "duplicate", "clock skew", "cycle", "end before start"])
def test_problems_found_after_a_direct_load_go_through_the_stage(tmp_path, monkeypatch, problem):
    p = _clean_file(tmp_path / "p.jsonl")
    docs = [orjson.loads(x) for x in p.read_bytes().splitlines()]
    spans = docs[2]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    if problem == "orphan":
        spans[3]["parentSpanId"] = "00000000000000ff"
    elif problem == "duplicate":
        docs[4]["resourceSpans"][0]["scopeSpans"][0]["spans"].append(dict(spans[2]))
    elif problem == "clock skew":
        spans[2]["endTimeUnixNano"] = str(int(spans[0]["endTimeUnixNano"]) + 5)
    elif problem == "cycle":
        spans[0]["parentSpanId"] = spans[1]["spanId"]
    else:
        spans[2]["endTimeUnixNano"] = str(int(spans[2]["startTimeUnixNano"]) - 5)
    p.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    staged = []
    monkeypatch.setattr(repair, "stage_spans", lambda con, real=repair.stage_spans: (staged.append(1), real(con))[1])
    _, _, report, _ = _both(p, monkeypatch)
    assert staged == [1] and report.problems
    _assert_identical(p, monkeypatch)


def _spans_table(rows: list[tuple[str, str | None, int, int]]):
    con = open_store()
    con.executemany(
        "INSERT INTO spans (trace_id, span_id, parent_span_id, name, category, start_ns, end_ns, status, source_format, attributes, events, resource) "
        "VALUES ('t', ?, ?, 'x', 'other', ?, ?, 'unset', 'test', '{}', '[]', '{}')", rows)
    return con


def test_a_cycle_of_spans_with_equal_times_needs_the_repair():
    """Inside each other and all parents present: only the walk from the roots finds it."""
    tree = [("a", None, 0, 100), ("b", "a", 10, 50), ("c", "b", 20, 30)]
    assert not repair.needs_repair(_spans_table(tree))
    assert not repair.needs_repair(_spans_table(tree + [("d", "c", 20, 30)]))  # tied, no cycle
    assert repair.needs_repair(_spans_table(tree + [("d", "e", 20, 30), ("e", "d", 20, 30)]))
    assert repair.needs_repair(_spans_table(tree + [("f", "f", 20, 30)]))  # its own parent


@pytest.mark.parametrize("problem", ["missing end", "tokens of the wrong type"])
def test_a_late_span_needing_the_stage_moves_the_loaded_rows_there(tmp_path, monkeypatch, problem):
    from agentprof.ingest import normalize

    p = _clean_file(tmp_path / "late.jsonl", traces=8)
    docs = [orjson.loads(x) for x in p.read_bytes().splitlines()]
    span = docs[6]["resourceSpans"][0]["scopeSpans"][0]["spans"][2]
    if problem == "missing end":
        del span["endTimeUnixNano"]
    else:
        span["attributes"].append(_kv("gen_ai.usage.cache_write.input_tokens", _s("lots")))
    p.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))

    direct = open_store()
    repair.create_stage(direct)
    demoted = []

    def demote():
        demoted.append(direct.execute("SELECT count(*) FROM spans").fetchall()[0][0])
        repair.stage_spans(direct)
        return repair.STAGE

    n, into = onepass.ingest_jsonl(direct, p, target=schema.TABLE, demote=demote, batch_bytes=1024, rows_per_insert=1)
    assert (n, into) == (48, repair.STAGE)
    assert demoted and 0 < demoted[0] < 48  # earlier batches had gone straight in
    staged = open_store()
    repair.create_stage(staged)
    onepass.ingest_jsonl(staged, p, target=repair.STAGE, batch_bytes=1024, rows_per_insert=1)
    cols = ", ".join(normalize.schema.COLUMN_NAMES) + ", _bad"
    query = f"SELECT {cols} FROM {repair.STAGE} ORDER BY _seq"
    assert direct.execute(query).fetchall() == staged.execute(query).fetchall()
    assert direct.execute("SELECT count(*) FROM spans").fetchall() == [(0,)]
    _assert_identical(p, monkeypatch)


def test_finalize_on_a_fresh_store_agrees_with_reading_agent_names_from_attributes(tmp_path):
    """ingest_files into an empty store takes own agent names from the column; a full
    finalize (reading them from the attributes JSON) must change nothing."""
    from agentprof.ingest import normalize

    p = generate(tmp_path / "m.jsonl", traces=40, seed=12, conventions=("agentprof", "openllmetry", "genai", "plain"))
    con = open_store()
    ingest_files(con, [p])
    before = _rows(con)
    assert sum(1 for r in before if r[schema.COLUMN_NAMES.index("agent_name")] is not None) > 50
    normalize.finalize(con)
    assert _rows(con) == before


@pytest.mark.parametrize("sample", ["healthy_three_step.pb", "multi_agent_handoff.json", "crm_tool_latency.jsonl.gz"])
def test_lenient_readers_load_straight_into_an_empty_store_as_the_stage_would(monkeypatch, sample):
    """Protobuf, one JSON document, gzip: one file into an empty store loads straight into
    the span table (strict inserts); the rows and reports equal loading through the stage."""
    path = Path(__file__).resolve().parents[2] / "sample_traces" / sample
    direct_con, staged_con = open_store(), open_store()
    staged = []
    monkeypatch.setattr(repair, "stage_spans", lambda con, real=repair.stage_spans: (staged.append(1), real(con))[1])
    direct_rep = ingest_files(direct_con, [path])
    assert staged == []  # clean samples: nothing to repair, so nothing was staged
    pipelined = ingest_mod._read_pipelined
    monkeypatch.setattr(ingest_mod, "_read_pipelined", lambda *a, **kw: pipelined(*a, **{**kw, "direct": False}))
    staged_rep = ingest_files(staged_con, [path])
    assert _rows(direct_con) == _rows(staged_con) and len(_rows(direct_con)) > 5
    assert direct_rep == staged_rep


def test_a_lenient_read_needing_a_repair_moves_to_the_stage(tmp_path, monkeypatch):
    """A protobuf file with a span missing its end: the strict insert fails, what was loaded
    moves to the stage, the repair fills the end and reports it, exactly as via the stage."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    src = Path(__file__).resolve().parents[2] / "sample_traces" / "healthy_three_step.pb"
    req = ExportTraceServiceRequest()
    req.ParseFromString(src.read_bytes())
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[len(spans) - 1].end_time_unix_nano = 0
    path = tmp_path / "missing_end.pb"
    path.write_bytes(req.SerializeToString())
    staged = []
    monkeypatch.setattr(repair, "stage_spans", lambda con, real=repair.stage_spans: (staged.append(1), real(con))[1])
    direct_con, staged_con = open_store(), open_store()
    (direct_rep,) = ingest_files(direct_con, [path])
    assert staged == [1] and direct_rep.problems
    pipelined = ingest_mod._read_pipelined
    monkeypatch.setattr(ingest_mod, "_read_pipelined", lambda *a, **kw: pipelined(*a, **{**kw, "direct": False}))
    (staged_rep,) = ingest_files(staged_con, [path])
    assert _rows(direct_con) == _rows(staged_con)
    assert direct_rep == staged_rep
