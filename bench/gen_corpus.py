"""Generate the benchmark corpus: agent runs as OTLP JSON lines, one JSON document, protobuf.

Every run is one trace of exactly 20 spans: an agent root (``invoke_agent``), six steps, each
step an LLM chat span followed by a tool span, and a final LLM answer under the root. LLM
spans carry 12 GenAI attributes (operation, provider, request/response model, input/output/
cache-read tokens, finish reasons as an array, agent name, conversation id, temperature,
max tokens); tool spans carry the tool name, call id and an args hash. Input tokens grow
step by step the way a real agent's context does, 3% of tool calls fail with an exception
event. The layout is what the Collector's ``file`` exporter writes: one
``{"resourceSpans":[...]}`` per line, many resourceSpans (one per run) per line, ~1 MB lines.

Outputs (under bench/data/ by default, which is git-ignored):

- ``corpus-<N>.jsonl``   OTLP JSON lines (ids hex, 64-bit ints as strings, enums as ints)
- ``corpus-<N>.json``    the same spans as ONE ``{"resourceSpans":[...]}`` document
- ``corpus-<N>.pb``      the same spans as ONE ``ExportTraceServiceRequest`` (protobuf wire
  bytes). Repeated message fields concatenate on the wire, so the message is written run by
  run without ever holding all of it; 1M spans is ~0.5 GB, well under protobuf's 2 GiB cap.

Text is produced from templates (no dict per span), so 1M spans take seconds, and it is
seeded: the same ``--seed`` and ``--spans`` give byte-identical files.

    python bench/gen_corpus.py --spans 1000000
    python bench/gen_corpus.py --spans 100000 --formats jsonl
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import orjson

SPANS_PER_RUN = 20
STEPS_PER_RUN = 6
RUNS_PER_LINE = 64  # 64 runs x 20 spans x ~0.8 KB = ~1 MB per line, as the Collector batches
START_NS = 1_795_000_000_000_000_000

MODELS = (
    ("openai", "gpt-4o", "gpt-4o-2024-08-06"),
    ("openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929"),
)
TOOLS = ("web_search", "read_file", "run_python", "sql_query", "fetch_url", "write_file")
AGENTS = ("researcher", "coder", "support-triage", "planner")
FINISH_TOOL = '["tool_calls"]'
FINISH_STOP = '["stop"]'


# --- JSON templates -----------------------------------------------------------------------
# One AnyValue KeyValue per helper; keys and enum-like values are plain ASCII so they need no
# escaping. Dynamic strings that could need escaping go through orjson.


def _s(key: str, value: str) -> str:
    return '{"key":"%s","value":{"stringValue":%s}}' % (key, orjson.dumps(value).decode())


def _i(key: str, value: int) -> str:
    return '{"key":"%s","value":{"intValue":"%d"}}' % (key, value)


def _d(key: str, value: float) -> str:
    return '{"key":"%s","value":{"doubleValue":%r}}' % (key, value)


def _a(key: str, values: list[str]) -> str:
    items = ",".join('{"stringValue":%s}' % orjson.dumps(v).decode() for v in values)
    return '{"key":"%s","value":{"arrayValue":{"values":[%s]}}}' % (key, items)


_SPAN = (
    '{"traceId":"%s","spanId":"%s",%s"flags":256,"name":%s,"kind":%d,'
    '"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s],%s"status":%s}'
)


def _span_json(sp: dict) -> str:
    parent = '"parentSpanId":"%s",' % sp["parent"] if sp["parent"] else ""
    attrs = ",".join(_attr_json(a) for a in sp["attrs"])
    events = ""
    if sp["events"]:
        events = '"events":[%s],' % ",".join(
            '{"timeUnixNano":"%d","name":%s,"attributes":[%s]}'
            % (t, orjson.dumps(n).decode(), ",".join(_attr_json(a) for a in ea))
            for t, n, ea in sp["events"]
        )
    if sp["status"] == 2:
        status = '{"message":%s,"code":2}' % orjson.dumps(sp["message"]).decode()
    elif sp["status"] == 1:
        status = '{"code":1}'
    else:
        status = "{}"
    return _SPAN % (
        sp["trace"], sp["span"], parent, orjson.dumps(sp["name"]).decode(), sp["kind"],
        sp["start"], sp["end"], attrs, events, status,
    )


def _attr_json(a: tuple) -> str:
    kind, key, value = a
    if kind == "s":
        return _s(key, value)
    if kind == "i":
        return _i(key, value)
    if kind == "d":
        return _d(key, value)
    return _a(key, value)


def _resource_json(run: dict) -> str:
    res = ",".join(
        [
            _s("service.name", run["service"]),
            _s("telemetry.sdk.language", "python"),
            _s("telemetry.sdk.name", "opentelemetry"),
            _s("service.instance.id", run["instance"]),
        ]
    )
    spans = ",".join(_span_json(sp) for sp in run["spans"])
    return (
        '{"resource":{"attributes":[%s]},"scopeSpans":[{"scope":{"name":"agentprof","version":"0.1.0"},'
        '"spans":[%s]}]}' % (res, spans)
    )


# --- the runs ------------------------------------------------------------------------------


def _make_run(rng: random.Random, run_index: int) -> dict:
    """One agent run (trace) of exactly SPANS_PER_RUN spans, as plain tuples."""
    trace = "%032x" % rng.getrandbits(128)
    agent = AGENTS[run_index % len(AGENTS)]
    provider, req_model, resp_model = MODELS[run_index % len(MODELS)]
    conv = "conv-%08d" % run_index
    t0 = START_NS + run_index * 60_000_000_000 + rng.randrange(1_000_000_000)
    root_id = "%016x" % rng.getrandbits(64)
    spans: list[dict] = []
    t = t0 + 1_000_000
    context_tokens = rng.randrange(800, 3000)  # system prompt + tool schemas

    def llm(parent: str, start: int, last: bool) -> dict:
        nonlocal context_tokens
        dur = rng.randrange(300_000_000, 4_000_000_000)
        out = rng.randrange(20, 600)
        cache = context_tokens * 7 // 10 if rng.random() < 0.6 else 0
        attrs = [
            ("s", "gen_ai.operation.name", "chat"),
            ("s", "gen_ai.provider.name", provider),
            ("s", "gen_ai.request.model", req_model),
            ("s", "gen_ai.response.model", resp_model),
            ("i", "gen_ai.usage.input_tokens", context_tokens),
            ("i", "gen_ai.usage.output_tokens", out),
            ("i", "gen_ai.usage.cache_read.input_tokens", cache),
            ("a", "gen_ai.response.finish_reasons", ["stop"] if last else ["tool_calls"]),
            ("s", "gen_ai.agent.name", agent),
            ("s", "gen_ai.conversation.id", conv),
            ("d", "gen_ai.request.temperature", 0.2),
            ("i", "gen_ai.request.max_tokens", 4096),
        ]
        context_tokens += out
        return dict(
            trace=trace, span="%016x" % rng.getrandbits(64), parent=parent, name=f"chat {req_model}",
            kind=3, start=start, end=start + dur, attrs=attrs, events=(), status=0, message=None,
        )

    for step in range(1, STEPS_PER_RUN + 1):
        step_id = "%016x" % rng.getrandbits(64)
        step_start = t
        call = llm(step_id, t + 200_000, last=False)
        t = call["end"] + 100_000
        tool_name = TOOLS[rng.randrange(len(TOOLS))]
        tool_dur = rng.randrange(5_000_000, 2_500_000_000)
        failed = rng.random() < 0.03
        call_id = "call_%012x" % rng.getrandbits(48)
        tool = dict(
            trace=trace, span="%016x" % rng.getrandbits(64), parent=step_id,
            name=f"execute_tool {tool_name}", kind=1, start=t, end=t + tool_dur,
            attrs=[
                ("s", "gen_ai.operation.name", "execute_tool"),
                ("s", "gen_ai.tool.name", tool_name),
                ("s", "gen_ai.tool.call.id", call_id),
                ("s", "agentprof.tool.args_hash", "%016x" % rng.getrandbits(64)),
                ("s", "gen_ai.agent.name", agent),
                ("s", "gen_ai.conversation.id", conv),
            ],
            events=(
                ((t + tool_dur - 1000, "exception", [("s", "exception.type", "TimeoutError"),
                                                     ("s", "exception.message", "tool timed out")]),)
                if failed else ()
            ),
            status=2 if failed else 0, message="tool timed out" if failed else None,
        )
        if failed:
            tool["attrs"].append(("s", "error.type", "TimeoutError"))
        context_tokens += rng.randrange(50, 1500)  # the tool result goes back into the context
        t = tool["end"] + 300_000
        spans.append(dict(
            trace=trace, span=step_id, parent=root_id, name=f"step {step}", kind=1,
            start=step_start, end=t,
            attrs=[("s", "agentprof.span.category", "step"), ("i", "agentprof.step.number", step),
                   ("s", "gen_ai.agent.name", agent)],
            events=(), status=0, message=None,
        ))
        spans.append(call)
        spans.append(tool)
    final = llm(root_id, t, last=True)
    spans.append(final)
    t = final["end"] + 500_000
    root = dict(
        trace=trace, span=root_id, parent=None, name=f"invoke_agent {agent}", kind=1, start=t0, end=t,
        attrs=[("s", "gen_ai.operation.name", "invoke_agent"), ("s", "gen_ai.agent.name", agent),
               ("s", "gen_ai.conversation.id", conv), ("s", "agentprof.span.category", "agent")],
        events=(), status=1, message=None,
    )
    spans.insert(0, root)
    assert len(spans) == SPANS_PER_RUN
    return dict(spans=spans, service=f"agent-{agent}", instance="%032x" % rng.getrandbits(128))


# --- protobuf ------------------------------------------------------------------------------


def _resource_proto(run: dict) -> bytes:
    """One ResourceSpans, serialized as field 1 of ExportTraceServiceRequest."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in (("service.name", run["service"]), ("telemetry.sdk.language", "python"),
                 ("telemetry.sdk.name", "opentelemetry"), ("service.instance.id", run["instance"])):
        kv = rs.resource.attributes.add()
        kv.key = k
        kv.value.string_value = v
    ss = rs.scope_spans.add()
    ss.scope.name = "agentprof"
    ss.scope.version = "0.1.0"
    for sp in run["spans"]:
        p = ss.spans.add()
        p.trace_id = bytes.fromhex(sp["trace"])
        p.span_id = bytes.fromhex(sp["span"])
        if sp["parent"]:
            p.parent_span_id = bytes.fromhex(sp["parent"])
        p.flags = 256
        p.name = sp["name"]
        p.kind = sp["kind"]
        p.start_time_unix_nano = sp["start"]
        p.end_time_unix_nano = sp["end"]
        _attrs_proto(p.attributes, sp["attrs"])
        for t, n, ea in sp["events"]:
            ev = p.events.add()
            ev.time_unix_nano = t
            ev.name = n
            _attrs_proto(ev.attributes, ea)
        if sp["status"]:
            p.status.code = sp["status"]
            if sp["message"]:
                p.status.message = sp["message"]
    return req.SerializeToString()


def _attrs_proto(target, attrs) -> None:
    for kind, key, value in attrs:
        kv = target.add()
        kv.key = key
        if kind == "s":
            kv.value.string_value = value
        elif kind == "i":
            kv.value.int_value = value
        elif kind == "d":
            kv.value.double_value = value
        else:
            for x in value:
                kv.value.array_value.values.add().string_value = x


# --- driver --------------------------------------------------------------------------------


def generate(spans: int, out_dir: Path, formats: set[str], seed: int = 7) -> dict[str, Path]:
    runs = max(1, spans // SPANS_PER_RUN)
    n = runs * SPANS_PER_RUN
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "jsonl": out_dir / f"corpus-{n}.jsonl",
        "json": out_dir / f"corpus-{n}.json",
        "proto": out_dir / f"corpus-{n}.pb",
    }
    rng = random.Random(seed)
    jl = open(paths["jsonl"], "w", encoding="utf-8") if "jsonl" in formats else None
    doc = open(paths["json"], "w", encoding="utf-8") if "json" in formats else None
    pb = open(paths["proto"], "wb") if "proto" in formats else None
    try:
        if doc:
            doc.write('{"resourceSpans":[')
        first = True
        for line_start in range(0, runs, RUNS_PER_LINE):
            batch = [_make_run(rng, i) for i in range(line_start, min(runs, line_start + RUNS_PER_LINE))]
            if jl or doc:
                body = ",".join(_resource_json(r) for r in batch)
                if jl:
                    jl.write('{"resourceSpans":[%s]}\n' % body)
                if doc:
                    doc.write(body if first else "," + body)
            if pb:
                for r in batch:
                    pb.write(_resource_proto(r))
            first = False
        if doc:
            doc.write("]}\n")
    finally:
        for f in (jl, doc, pb):
            if f:
                f.close()
    return {k: v for k, v in paths.items() if k in formats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000, help="spans to write (rounded down to whole runs of 20)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    ap.add_argument("--formats", default="jsonl,json,proto", help="comma list of jsonl,json,proto")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    formats = set(args.formats.split(","))
    t = time.perf_counter()
    paths = generate(args.spans, args.out, formats, args.seed)
    dt = time.perf_counter() - t
    for fmt, p in paths.items():
        print(f"{fmt:5s} {p}  {os.path.getsize(p) / 1e6:,.1f} MB")
    print(f"generated {args.spans // SPANS_PER_RUN * SPANS_PER_RUN:,} spans in {dt:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
