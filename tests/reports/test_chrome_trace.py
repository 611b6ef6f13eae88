"""Chrome trace export: complete events in µs, concurrent siblings on separate lanes."""

from __future__ import annotations

import json

from agentprof.reports import chrome_trace

from . import profiles as P


def test_events_and_lanes():
    profile = P.three_run_profile()
    doc = json.loads(chrome_trace.render(profile))
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == sum(len(r.spans) for r in profile.runs) == 20
    run_a = {e["args"]["span_id"]: e for e in spans if e["pid"] == 1}
    # The parallel fetch_page calls (6030–6900 ms and 6040–7160 ms) overlap without nesting.
    f1, f2 = run_a[f"{8:016x}"], run_a[f"{9:016x}"]
    assert (f1["ts"], f1["dur"]) == (6_030_000.0, 870_000.0)
    assert f1["tid"] != f2["tid"]
    # Within each lane, events nest or follow: never a partial overlap.
    for pid in {e["pid"] for e in spans}:
        for tid in {e["tid"] for e in spans if e["pid"] == pid}:
            lane = sorted(((e["ts"], e["ts"] + e["dur"]) for e in spans
                           if e["pid"] == pid and e["tid"] == tid))
            for i, (s1, e1) in enumerate(lane):
                for s2, e2 in lane[i + 1:]:
                    assert e2 <= e1 or s2 >= e1
    names = [e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"]
    assert names[0] == f"invoke_agent researcher ({profile.runs[0].run_id[:8]})"
