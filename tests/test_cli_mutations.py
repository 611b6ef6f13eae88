"""Damaged and odd copies of the bundled sample traces through the real command line.

A trace file is untrusted: whatever a seeded mutation does to it (cut bytes, flipped bytes,
spliced blocks, odd values in valid JSON), ``agentprof analyze`` must end with a report or a
clean error (exit 0 or 2), never an internal error, and ``--json`` must print valid JSON.
Mutations of this kind found that a plain file named ``*.gz`` failed (Arrow guessed the
compression from the name).
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentprof.cli import app
from agentprof.errors import AgentprofError

SAMPLES = Path(__file__).resolve().parents[1] / "sample_traces"
SMALL = ("research_agent_sequential_retrieval.json", "coding_agent_context_growth.jsonl", "healthy_three_step.pb",
         "crm_tool_latency.jsonl.gz", "multi_agent_handoff.json")


def _bytes_mutation(rnd: random.Random, data: bytes) -> bytes:
    i = rnd.randrange(len(data))
    op = rnd.randrange(5)
    if op == 0:
        b = bytearray(data)
        for _ in range(rnd.randint(1, 5)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        return bytes(b)
    if op == 1:
        return data[:i]
    if op == 2:
        j = min(len(data), i + rnd.randint(1, 2000))
        return data[:j] + data[i:j] + data[j:]
    if op == 3:
        return data[:i] + rnd.choice([b'"', b"{", b"]", b"\x00", b"\xff\xfe", b"1e999", b'"\\ud800"', b"\n"]) + data[i:]
    return data[:i] + b"[" * 5000 + data[i:]


ODD = [None, "", "abc", -1, 2**70, 1e308, True, [], {}, "x" * 3000, "<script>alert(1)</script>"]
KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.request.model", "gen_ai.operation.name",
        "agentprof.span.category", "agentprof.step.number", "gen_ai.tool.name", "gen_ai.input.messages")


def _value(rnd: random.Random) -> dict:
    return rnd.choice([{"stringValue": "<b>x</b>"}, {"intValue": "99999999999999999999"}, {"intValue": "-5"},
                       {"doubleValue": "NaN"}, {"boolValue": True}, {"kvlistValue": {"values": []}}, {"bytesValue": "AAEC"},
                       {"arrayValue": {"values": [{"intValue": "1"}]}}, {}])


def _json_mutation(rnd: random.Random, doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    spans = [(ss, sp) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for sp in ss["spans"]]
    for _ in range(rnd.randint(1, 6)):
        ss, sp = rnd.choice(spans)
        op = rnd.randrange(8)
        if op == 0:
            sp[rnd.choice(["startTimeUnixNano", "endTimeUnixNano"])] = rnd.choice([*ODD, "0", "-100", str(2**63 - 1)])
        elif op == 1:
            sp["parentSpanId"] = rnd.choice([sp.get("spanId"), "ffffffffffffffff", rnd.choice(spans)[1].get("spanId"), ""])
        elif op == 2:
            ss["spans"].append(copy.deepcopy(sp))
        elif op == 3:
            sp[rnd.choice(["spanId", "traceId"])] = rnd.choice(["", "zz", "AAAAAAAAAAAAAAAAAAAAAA==", "0" * 16])
        elif op == 4:
            sp.setdefault("attributes", []).append({"key": rnd.choice(KEYS), "value": _value(rnd)})
        elif op == 5:
            sp["kind"] = rnd.choice([7, -1, "SPAN_KIND_CLIENT", "bogus", None])
        elif op == 6:
            sp["status"] = rnd.choice([{"code": 9}, {"code": "STATUS_CODE_ERROR", "message": "<img src=x>"}, None, "x"])
        else:
            sp.pop(rnd.choice(["traceId", "spanId", "name", "startTimeUnixNano", "endTimeUnixNano"]), None)
    return doc


def _case(seed: int, folder: Path) -> Path:
    rnd = random.Random(seed)
    name = SMALL[seed % len(SMALL)]
    data = (SAMPLES / name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    if seed % 2 and name.endswith((".json", ".jsonl")):
        doc = json.loads(data.splitlines()[0] if name.endswith(".jsonl") else data)
        data = json.dumps(_json_mutation(rnd, doc)).encode() + b"\n"
    else:
        for _ in range(rnd.randint(1, 3)):
            data = _bytes_mutation(rnd, data) or data
    if name.endswith(".gz") and rnd.random() < 0.7:
        data = gzip.compress(data)
    path = folder / f"case{seed}-{name}"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("seed", range(40))
def test_a_damaged_trace_gives_a_report_or_a_clean_error(seed, tmp_path):
    path = _case(seed, tmp_path)
    outputs = (["--json"], ["--html", str(tmp_path / "r.html"), "--md", str(tmp_path / "r.md")])[seed % 2]
    result = CliRunner().invoke(app, ["analyze", str(path), *outputs], catch_exceptions=True)
    exc = result.exception
    # Reading that stops on an exception nobody expected is reported as a bug in agentprof.
    assert "agentprof bug" not in str(exc) + result.output
    if isinstance(exc, AgentprofError):  # main() prints it and exits 2
        assert str(path) in str(exc)
        return
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert result.exit_code == 0, result.output
    if "--json" in outputs:
        profile = json.loads(result.stdout)
        assert profile["schema_version"] == 1 and profile["sources"][0]["path"] == str(path)
        assert not any("agentprof bug" in p for p in profile["sources"][0]["problems"])
