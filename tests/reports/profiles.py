"""Hand-built Profiles for report tests (realistic numbers that agree with each other).

``three_run_profile`` is the main fixture: three runs of a research agent, the slowest with
full detail (steps, components, critical path, nested spans with a parallel tool fan-out),
findings and aggregates. ``injection_profile`` carries hostile strings in every trace field.
``large_span_profile`` (one run, 5,000 spans) and ``many_runs_profile`` (2,000 runs, detail for
a few) exercise the size limits. Builders are deterministic: same call, same Profile.
"""

from __future__ import annotations

import dataclasses

from agentprof.profile import (
    Aggregates,
    Alert,
    Component,
    CriticalSegment,
    Distribution,
    Finding,
    Profile,
    Run,
    SourceFile,
    SpanView,
    Step,
    TokenBuckets,
    ToolStats,
)

T0_NS = 1_763_700_000_000_000_000
MS = 1_000_000
VERSION = "0.1.0"


def _sid(n: int) -> str:
    return f"{n:016x}"


def _tid(n: int) -> str:
    """A trace id that looks like a real one (random-looking hex) but is deterministic."""
    import hashlib

    return hashlib.sha256(f"trace-{n}".encode()).hexdigest()[:32]


class _Tree:
    """Collects SpanViews with times in ms from a run start; computes depth and self time."""

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.rows: list[dict] = []

    def add(self, sid: int, parent: int | None, name: str, category: str, start_ms: float,
            end_ms: float, *, crit: bool = False, **extra) -> str:
        depth = 0
        if parent is not None:
            depth = next(r["depth"] for r in self.rows if r["span_id"] == _sid(parent)) + 1
        self.rows.append(dict(
            span_id=_sid(sid), parent_span_id=None if parent is None else _sid(parent),
            name=name, category=category, start_ns=self.start_ns + round(start_ms * MS),
            end_ns=self.start_ns + round(end_ms * MS), depth=depth, on_critical_path=crit,
            status=extra.pop("status", "ok"), **extra))
        return _sid(sid)

    def views(self) -> tuple[SpanView, ...]:
        out = []
        for r in self.rows:
            kids = [c for c in self.rows if c["parent_span_id"] == r["span_id"]]
            # Self time: the span minus the union of its children's intervals.
            covered, cur_s, cur_e = 0, None, None
            for c in sorted(kids, key=lambda c: c["start_ns"]):
                s, e = max(c["start_ns"], r["start_ns"]), min(c["end_ns"], r["end_ns"])
                if cur_e is None or s > cur_e:
                    if cur_e is not None:
                        covered += cur_e - cur_s
                    cur_s, cur_e = s, e
                else:
                    cur_e = max(cur_e, e)
            if cur_e is not None:
                covered += cur_e - cur_s
            out.append(SpanView(self_time_ns=r["end_ns"] - r["start_ns"] - covered, **r))
        return tuple(out)


def _steps_run_a(start_ns: int, run_id: str) -> tuple[Step, ...]:
    def step(index, sid, start_ms, end_ms, inp, out, cache_read, cost, prev_cost, cum, buckets,
             llm, tools, names, errors=0):
        marginal = None if prev_cost is None else round(cost - prev_cost, 6)
        growth = None if prev_cost is None else round((cost - prev_cost) / prev_cost, 4)
        return Step(run_id=run_id, index=index, agent_name="researcher", span_id=_sid(sid),
                    explicit=True, model="gpt-4o-2024-08-06",
                    start_ns=start_ns + start_ms * MS, end_ns=start_ns + end_ms * MS,
                    input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                    cache_write_tokens=0, cost_usd=cost, cumulative_cost_usd=cum,
                    marginal_cost_usd=marginal, cost_growth=growth, buckets=buckets,
                    llm_span_ids=tuple(_sid(x) for x in llm),
                    tool_span_ids=tuple(_sid(x) for x in tools), tool_names=names,
                    error_count=errors)

    return (
        step(1, 2, 20, 3100, 1850, 212, 0, 0.006745, None, 0.006745,
             TokenBuckets(900.0, 750.0, 200.0, 0.0, 0.0), [3], [4], ("web_search",)),
        step(2, 5, 3120, 7180, 4620, 180, 1024, 0.013870, 0.006745, 0.020615,
             TokenBuckets(900.0, 750.0, 1170.0, 1800.0, 0.0), [6], [7, 8, 9],
             ("web_search", "fetch_page", "fetch_page")),
        step(3, 10, 7200, 12350, 9480, 420, 4096, 0.022580, 0.013870, 0.043195,
             TokenBuckets(900.0, 750.0, 3130.0, 4700.0, 0.0), [11], [12],
             ("summarize",), errors=1),
    )


def _run_a() -> Run:
    run_id = _tid(0xA1)
    start = T0_NS
    t = _Tree(start)
    t.add(1, None, "invoke_agent researcher", "agent", 0, 12400, crit=True,
          agent_name="researcher", attributes={"gen_ai.agent.name": "researcher",
                                               "user.id": "u-42"})
    t.add(2, 1, "agent.step.1", "step", 20, 3100, crit=True, step_index=1)
    t.add(3, 2, "chat gpt-4o", "llm", 40, 2080, crit=True, model="gpt-4o-2024-08-06",
          input_tokens=1850, output_tokens=212, cost_usd=0.006745, step_index=1,
          attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.response.finish_reasons": ["tool_calls"]})
    t.add(4, 2, "execute_tool web_search", "tool", 2110, 3080, crit=True,
          tool_name="web_search", step_index=1,
          attributes={"gen_ai.tool.name": "web_search",
                      "gen_ai.tool.call.arguments": '{"q": "LLM agent latency"}'})
    t.add(5, 1, "agent.step.2", "step", 3120, 7180, crit=True, step_index=2)
    t.add(6, 5, "chat gpt-4o", "llm", 3140, 4990, crit=True, model="gpt-4o-2024-08-06",
          input_tokens=4620, output_tokens=180, cost_usd=0.013870, step_index=2,
          attributes={"gen_ai.operation.name": "chat"})
    t.add(7, 5, "execute_tool web_search", "tool", 5010, 6020, tool_name="web_search",
          step_index=2, attributes={"gen_ai.tool.name": "web_search"})
    t.add(8, 5, "execute_tool fetch_page", "tool", 6030, 6900, tool_name="fetch_page",
          step_index=2, attributes={"url": "https://example.org/a"})
    t.add(9, 5, "execute_tool fetch_page", "tool", 6040, 7160, crit=True,
          tool_name="fetch_page", step_index=2, attributes={"url": "https://example.org/b"})
    t.add(10, 1, "agent.step.3", "step", 7200, 12350, crit=True, step_index=3)
    t.add(11, 10, "chat gpt-4o", "llm", 7230, 10010, crit=True, model="gpt-4o-2024-08-06",
          input_tokens=9480, output_tokens=420, cost_usd=0.022580, step_index=3)
    t.add(12, 10, "execute_tool summarize", "tool", 10100, 12300, crit=True,
          tool_name="summarize", step_index=3, status="error", error_type="TimeoutError",
          attributes={"exception.message": "summarize timed out after 2.2 s"})
    spans = t.views()
    wall = 12400 * MS
    comp_ms = {"serialization": 30, "ttft": 1830, "generation": 4780, "tool_execution": 4290,
               "context_injection": 80, "framework_overhead": 920, "coordination": 0,
               "llm_unsplit": 0, "unattributed": 470}
    assert sum(comp_ms.values()) == 12400
    components = tuple(Component(name=k, duration_ns=v * MS, share=v * MS / wall)
                       for k, v in comp_ms.items())
    by_id = {s.span_id: s for s in spans}
    path_ms = [(1, 180), (2, 40), (3, 2040), (4, 970), (5, 60), (6, 1850), (9, 1120),
               (10, 80), (11, 2780), (12, 2200), (1, 0)]
    path = []
    for sid, on_ms in path_ms[:-1]:
        s = by_id[_sid(sid)]
        path.append(CriticalSegment(span_id=s.span_id, name=s.name, category=s.category,
                                    start_ns=s.start_ns, end_ns=s.end_ns, on_path_ns=on_ms * MS,
                                    share=on_ms * MS / wall))
    # The root's own time is its gaps: 180 + the remainder so the path sums to the wall.
    rest = wall - sum(p.on_path_ns for p in path)
    path[0] = dataclasses.replace(path[0], on_path_ns=path[0].on_path_ns + rest,
                                  share=(path[0].on_path_ns + rest) / wall)
    assert sum(p.on_path_ns for p in path) == wall
    return Run(run_id=run_id, name="invoke_agent researcher", service_name="research-svc",
               agent_names=("researcher",), session_id="sess-1", user_id="u-42",
               start_ns=start, end_ns=start + wall, ok=False, span_count=len(spans),
               llm_call_count=3, tool_call_count=5, step_count=3, error_count=1,
               input_tokens=15950, output_tokens=812, cache_read_tokens=5120,
               cache_write_tokens=0, reasoning_tokens=0, cost_usd=0.043195,
               cost_sources={"reported": 0, "computed": 3, "unknown": 0}, unknown_models=(),
               steps=_steps_run_a(start, run_id), components=components,
               critical_path=tuple(path), spans=spans)


def _small_run(n: int, wall_ms: int, cost: float | None, inp: int, out: int,
               model: str, cost_sources: dict[str, int], unknown=()) -> Run:
    """A two-step run with spans (for the run picker and the runs table)."""
    run_id = _tid(0xB0 + n)
    start = T0_NS + n * 60_000 * MS
    t = _Tree(start)
    base = 100 * n
    t.add(base + 1, None, "invoke_agent researcher", "agent", 0, wall_ms, crit=True,
          agent_name="researcher")
    half = wall_ms // 2
    t.add(base + 2, base + 1, f"chat {model}", "llm", 10, half, crit=True, model=model,
          input_tokens=inp // 2, output_tokens=out // 2, step_index=1,
          cost_usd=None if cost is None else cost / 2)
    t.add(base + 3, base + 1, "execute_tool web_search", "tool", half + 10, half + 400,
          crit=True, tool_name="web_search", step_index=1)
    t.add(base + 4, base + 1, f"chat {model}", "llm", half + 420, wall_ms - 10, crit=True,
          model=model, input_tokens=inp - inp // 2, output_tokens=out - out // 2,
          step_index=2, cost_usd=None if cost is None else cost / 2)
    spans = t.views()
    wall = wall_ms * MS
    comp = {"ttft": 0, "generation": 0, "tool_execution": 390 * MS,
            "llm_unsplit": (wall_ms - 440) * MS, "framework_overhead": 50 * MS}
    components = tuple(Component(k, v, v / wall) for k, v in comp.items())
    path = tuple(CriticalSegment(s.span_id, s.name, s.category, s.start_ns, s.end_ns,
                                 s.self_time_ns, s.self_time_ns / wall) for s in spans)
    half_cost = None if cost is None else cost / 2
    steps = tuple(
        Step(run_id=run_id, index=i + 1, agent_name="researcher", span_id=llm.span_id,
             explicit=False, model=model, start_ns=llm.start_ns,
             end_ns=(spans[2].end_ns if i == 0 else llm.end_ns), input_tokens=llm.input_tokens,
             output_tokens=llm.output_tokens, cache_read_tokens=0, cache_write_tokens=0,
             cost_usd=half_cost, cumulative_cost_usd=None if cost is None else half_cost * (i + 1),
             marginal_cost_usd=None if i == 0 or cost is None else 0.0,
             cost_growth=None if i == 0 or cost is None else 0.0,
             buckets=TokenBuckets(unattributed_tokens=float(llm.input_tokens), estimated=False),
             llm_span_ids=(llm.span_id,), tool_span_ids=(spans[2].span_id,) if i == 0 else (),
             tool_names=("web_search",) if i == 0 else ())
        for i, llm in enumerate((spans[1], spans[3])))
    return Run(run_id=run_id, name="invoke_agent researcher", service_name="research-svc",
               agent_names=("researcher",), session_id=None, user_id=None, start_ns=start,
               end_ns=start + wall, ok=True, span_count=4, llm_call_count=2, tool_call_count=1,
               step_count=2, error_count=0, input_tokens=inp, output_tokens=out,
               cache_read_tokens=0, cache_write_tokens=0, reasoning_tokens=0, cost_usd=cost,
               cost_sources=cost_sources, unknown_models=tuple(unknown), steps=steps,
               components=components, critical_path=path, spans=spans)


def three_run_profile() -> Profile:
    """Three runs: a slow one with an error and full detail, two quicker ones."""
    a = _run_a()
    b = _small_run(1, 4200, 0.0051, 3000, 260, "gpt-4o-mini",
                   {"reported": 2, "computed": 0, "unknown": 0})
    c = _small_run(2, 6100, None, 2600, 300, "acme-llm-1",
                   {"reported": 0, "computed": 0, "unknown": 2}, unknown=("acme-llm-1",))
    runs = (a, b, c)
    findings = (
        Finding("AP101", "sequential-independent-tool-calls", "high",
                "3 tool calls in step 2 ran one after another (2.15 s) but do not depend on "
                "each other.", "Run independent tool calls concurrently (asyncio.gather).",
                a.run_id, (_sid(7), _sid(8), _sid(9)), 1.03, None),
        Finding("AP202", "context-growth-per-step", "medium",
                "Input tokens grew 150% per step (1,850 → 9,480) over 3 steps.",
                "Summarize or trim tool outputs before they enter the history.",
                a.run_id, (_sid(3), _sid(6), _sid(11)), None, 0.0121),
        Finding("AP301", "tool-error", "medium",
                "Tool summarize failed with TimeoutError after 2.20 s on the critical path.",
                "Set a shorter timeout with a fallback, or retry with backoff.",
                a.run_id, (_sid(12),), 0.8, None),
        Finding("AP203", "unknown-model-price", "info",
                "No price for model acme-llm-1: 2 calls have no cost.",
                "Add the model to a --prices file.", None, (), None, None),
    )
    dist = (
        Distribution("wall_s", "s", 3, 7.5667, 6.1, 11.77, 12.337, 4.2, 12.4),
        Distribution("cost_usd", "usd", 2, 0.0241475, 0.0241475, 0.04109, 0.042984, 0.0051,
                     0.043195),
        Distribution("total_tokens", "tokens", 3, 7640.67, 3260.0, 15435.8, 16591.16, 2900.0,
                     16762.0),
        Distribution("steps", "steps", 3, 2.33, 2.0, 2.9, 2.98, 2.0, 3.0),
        Distribution("component:tool_execution", "s", 3, 1.69, 0.39, 3.88, 4.21, 0.39, 4.29),
        Distribution("component:llm_unsplit", "s", 3, 3.22, 3.76, 5.43, 5.6, 0.0, 5.66),
    )
    aggregates = Aggregates(
        run_count=3, success_rate=2 / 3, escalation_rate=None, total_cost_usd=0.048295,
        total_input_tokens=21550, total_output_tokens=1372, total_cache_read_tokens=5120,
        total_cache_write_tokens=0, distributions=dist,
        tools=(ToolStats("web_search", 4, 0, 0.0, 390.0, 993.5),
               ToolStats("fetch_page", 2, 0, 0.0, 995.0, 1107.5),
               ToolStats("summarize", 1, 1, 1.0, 2200.0, 2200.0)),
        alerts=(Alert("success_rate", 2 / 3, 0.95, "<", True, "alerts.success_rate_min"),
                Alert("p95_wall_s", 11.77, 30.0, ">", False, "alerts.p95_wall_s_max"),
                Alert("tool_error_rate", 1 / 7, 0.05, ">", True, "alerts.tool_error_rate_max")),
    )
    sources = (
        SourceFile("traces/research.jsonl", "otlp-jsonl", 20, 2,
                   ("line 14: span 00000000000000ff has no end time; kept with end = last "
                    "child end", "line 31: not valid JSON (truncated?); skipped 1 line")),
        SourceFile("traces/extra.json", "otlp-json", 0, 0, ()),
    )
    return Profile(agentprof_version=VERSION, sources=sources, runs=runs,
                   aggregates=aggregates, findings=findings,
                   thresholds={"AP101.min_saving_s": 0.5, "alerts.success_rate_min": 0.95},
                   unknown_models=("acme-llm-1",),
                   price_notes=("genai-prices snapshot 2026-10",), runs_elided=0)


def single_run_profile() -> Profile:
    """Only the detailed run (no cross-run sections)."""
    p = three_run_profile()
    a = p.runs[0]
    agg = Aggregates(1, 0.0, None, a.cost_usd, a.input_tokens, a.output_tokens,
                     a.cache_read_tokens, a.cache_write_tokens)
    return Profile(VERSION, (), (a,), agg, tuple(f for f in p.findings if f.run_id == a.run_id),
                   runs_elided=0)


XSS_SCRIPT = "<script>alert(1)</script>"
XSS_CLOSE = "</script><script>window.__pwned=1;alert('close')</script>"
XSS_IMG = '"><img src=x onerror="window.__pwned=1;alert(2)">'
XSS_JS_URL = "javascript:alert(1)"
XSS_MD = "| col | `tick` **bold** [link](javascript:alert(1)) <b>x</b>"
TERM_ESC = "\x1b[31mred\x1b[0m\nnewline"
PAYLOADS = (XSS_SCRIPT, XSS_CLOSE, XSS_IMG, XSS_JS_URL, XSS_MD, TERM_ESC,
            "\u2028line-sep\u2029para-sep", "<!--", "]]>")


def injection_profile() -> Profile:
    """Every trace-borne string is hostile: names, attributes, models, tools, messages."""
    start = T0_NS
    t = _Tree(start)
    attrs = {f"k{i}": p for i, p in enumerate(PAYLOADS)}
    attrs[XSS_IMG] = XSS_SCRIPT  # a hostile key too
    t.add(1, None, XSS_SCRIPT, "agent", 0, 2000, crit=True, agent_name=XSS_IMG,
          attributes=attrs)
    t.add(2, 1, XSS_CLOSE, "llm", 10, 1200, crit=True, model=XSS_IMG, input_tokens=100,
          output_tokens=20, cost_usd=0.001, step_index=1, attributes=attrs)
    t.add(3, 1, XSS_IMG, "tool", 1210, 1990, crit=True, tool_name=XSS_JS_URL, step_index=1,
          status="error", error_type=XSS_SCRIPT, attributes={"args": XSS_MD})
    t.add(4, 1, XSS_MD, "tool", 1300, 1500, tool_name=TERM_ESC, step_index=1,
          attributes={"x": TERM_ESC})
    spans = t.views()
    run_id = _tid(0xBAD)
    wall = 2000 * MS
    step = Step(run_id, 1, XSS_IMG, _sid(2), False, XSS_IMG, start + 10 * MS, start + 1990 * MS,
                100, 20, 0, 0, 0.001, 0.001, None, None,
                TokenBuckets(10.0, 20.0, 30.0, 40.0, 0.0), (_sid(2),), (_sid(3), _sid(4)),
                (XSS_JS_URL, TERM_ESC), 1)
    run = Run(run_id, XSS_SCRIPT, XSS_CLOSE, (XSS_IMG,), XSS_MD, XSS_JS_URL, start, start + wall,
              False, 4, 1, 2, 1, 1, 100, 20, 0, 0, 0, 0.001,
              {"reported": 1, "computed": 0, "unknown": 0}, (XSS_IMG,), (step,),
              (Component("llm_unsplit", 1190 * MS, 0.595), Component("tool_execution", 780 * MS, 0.39),
               Component("unattributed", 30 * MS, 0.015)),
              tuple(CriticalSegment(s.span_id, s.name, s.category, s.start_ns, s.end_ns,
                                    s.self_time_ns, s.self_time_ns / wall)
                    for s in spans if s.on_critical_path), spans)
    findings = (Finding("AP301", XSS_IMG, "high", "Tool failed: " + XSS_CLOSE,
                        "Fix " + XSS_MD, run_id, (_sid(3), _sid(4)), 0.5, 0.0005),)
    agg = Aggregates(1, 0.0, None, 0.001, 100, 20, 0, 0,
                     tools=(ToolStats(XSS_JS_URL, 1, 1, 1.0, 780.0, 780.0),))
    return Profile(VERSION, (SourceFile(XSS_CLOSE, "otlp-json", 4, 1, (XSS_IMG, TERM_ESC)),),
                   (run,), agg, findings, unknown_models=(XSS_IMG,), price_notes=(XSS_MD,))


def large_span_profile(n_steps: int = 500, tools_per_step: int = 8) -> Profile:
    """One run with 1 + n_steps * (2 + tools_per_step) spans (5,001 by default)."""
    start = T0_NS
    t_rows: list[SpanView] = []
    step_ms = 100.0
    wall_ms = n_steps * step_ms + 20
    root = _sid(1)
    t_rows.append(SpanView(root, None, "invoke_agent bulk", "agent", start,
                           start + round(wall_ms * MS), 0, 20 * MS, "ok", True,
                           agent_name="bulk"))
    sid = 2
    steps, path = [], []
    wall = round(wall_ms * MS)
    for i in range(n_steps):
        s0 = start + round((10 + i * step_ms) * MS)
        st = _sid(sid)
        llm = _sid(sid + 1)
        t_rows.append(SpanView(st, root, f"agent.step.{i + 1}", "step", s0, s0 + 100 * MS, 1,
                               0, "ok", True, step_index=i + 1))
        t_rows.append(SpanView(llm, st, "chat gpt-4o-mini", "llm", s0, s0 + 40 * MS, 2,
                               40 * MS, "ok", True, model="gpt-4o-mini", input_tokens=1000 + i,
                               output_tokens=50, cost_usd=0.00018, step_index=i + 1))
        tool_ids = []
        for k in range(tools_per_step):
            tid = _sid(sid + 2 + k)
            tool_ids.append(tid)
            dur = 20 + 7 * k + (i % 11) if k < tools_per_step - 1 else 60
            t_rows.append(SpanView(tid, st, f"execute_tool tool_{k}", "tool", s0 + 40 * MS,
                                   s0 + (40 + dur) * MS, 2, dur * MS,
                                   "error" if (i + k) % 97 == 0 else "ok",
                                   k == tools_per_step - 1, tool_name=f"tool_{k}",
                                   step_index=i + 1, attributes={"i": i, "k": k}))
        path.append(CriticalSegment(llm, "chat gpt-4o-mini", "llm", s0, s0 + 40 * MS, 40 * MS,
                                    40 * MS / wall))
        path.append(CriticalSegment(tool_ids[-1], f"execute_tool tool_{tools_per_step - 1}",
                                    "tool", s0 + 40 * MS, s0 + 100 * MS, 60 * MS, 60 * MS / wall))
        steps.append(Step("c" * 32, i + 1, "bulk", st, True, "gpt-4o-mini", s0, s0 + 100 * MS,
                          1000 + i, 50, 0, 0, 0.00018, 0.00018 * (i + 1),
                          None if i == 0 else 0.0, None if i == 0 else 0.0,
                          TokenBuckets(500.0, 300.0, 200.0 + i, 0.0, 0.0), (llm,),
                          tuple(tool_ids), tuple(f"tool_{k}" for k in range(tools_per_step))))
        sid += 2 + tools_per_step
    path.insert(0, CriticalSegment(root, "invoke_agent bulk", "agent", start, start + wall,
                                   20 * MS, 20 * MS / wall))
    n = len(t_rows)
    run = Run("c" * 32, "invoke_agent bulk", "bulk-svc", ("bulk",), None, None, start,
              start + wall, True, n, n_steps, n_steps * tools_per_step, n_steps, 0,
              sum(s.input_tokens for s in steps), 50 * n_steps, 0, 0, 0, 0.00018 * n_steps,
              {"reported": 0, "computed": n_steps, "unknown": 0}, (), tuple(steps),
              (Component("llm_unsplit", 40 * MS * n_steps, 40 * MS * n_steps / wall),
               Component("tool_execution", 60 * MS * n_steps, 60 * MS * n_steps / wall),
               Component("framework_overhead", 20 * MS, 20 * MS / wall)),
              tuple(path), tuple(t_rows))
    agg = Aggregates(1, 1.0, None, run.cost_usd, run.input_tokens, run.output_tokens, 0, 0)
    return Profile(VERSION, (), (run,), agg, ())


def many_runs_profile(n_runs: int = 2000, detail_runs: int = 20) -> Profile:
    """n_runs runs; the first ``detail_runs`` keep spans and steps, the rest are summaries."""
    runs = []
    for n in range(n_runs):
        wall_ms = 2000 + (n * 7919) % 9000
        cost = 0.002 + ((n * 31) % 50) / 10_000
        r = _small_run(n + 10, wall_ms, cost, 2000 + n % 500, 200, "gpt-4o-mini",
                       {"reported": 2, "computed": 0, "unknown": 0})
        if n >= detail_runs:
            r = dataclasses.replace(r, steps=(), components=(), critical_path=(), spans=())
        runs.append(r)
    walls = sorted(r.wall_ns / 1e9 for r in runs)

    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    total_cost = sum(r.cost_usd for r in runs)
    dist = (Distribution("wall_s", "s", n_runs, sum(walls) / n_runs, pct(walls, 0.5),
                         pct(walls, 0.95), pct(walls, 0.99), walls[0], walls[-1]),)
    agg = Aggregates(n_runs, 1.0, None, total_cost, sum(r.input_tokens for r in runs),
                     200 * n_runs, 0, 0, distributions=dist)
    return Profile(VERSION, (), tuple(runs), agg, (), runs_elided=n_runs - detail_runs)


def empty_profile() -> Profile:
    """No runs at all (every input was empty or unreadable)."""
    return Profile(VERSION, (SourceFile("empty.json", "otlp-json", 0, 0, ("no spans",)),), (),
                   Aggregates(0, 0.0, None, None, 0, 0, 0, 0), ())


def single_span_profile() -> Profile:
    """One run of one span with no LLM call: no steps, no cost, no findings."""
    s = SpanView(_sid(1), None, "lonely", "other", T0_NS, T0_NS + 5 * MS, 0, 5 * MS, "unset",
                 True)
    run = Run(_tid(0x51), "lonely", None, (), None, None, T0_NS, T0_NS + 5 * MS, True, 1, 0, 0,
              0, 0, 0, 0, 0, 0, 0, None, {}, (), (),
              (Component("unattributed", 5 * MS, 1.0),),
              (CriticalSegment(s.span_id, s.name, s.category, s.start_ns, s.end_ns, 5 * MS, 1.0),),
              (s,))
    return Profile(VERSION, (), (run,), Aggregates(1, 1.0, None, None, 0, 0, 0, 0), ())
