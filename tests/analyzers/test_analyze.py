"""analyze() as a whole: empty and tiny inputs, detail limits, finding order, rule context."""

from __future__ import annotations

import json

from spanbuilder import TraceBuilder

from agentprof.analyzers import RuleContext, analyze, sort_findings
from agentprof.config import Config
from agentprof.profile import Finding, Profile
from agentprof.store import open_store

from .helpers import NO_RULES, analyze_builder
from .test_critical_path import research_run


def test_empty_store_gives_an_empty_profile() -> None:
    profile = analyze(open_store())
    assert profile.runs == () and profile.findings == () and profile.runs_elided == 0
    assert profile.aggregates.run_count == 0 and profile.aggregates.alerts == ()
    assert profile.aggregates.total_cost_usd is None and profile.aggregates.escalation_rate is None
    assert profile.thresholds["alert_success_rate_min"] == 0.90


def test_single_span(builder: TraceBuilder) -> None:
    builder.span("lonely", category="tool", start=0, end=2)
    profile = analyze(builder.load())
    (run,) = profile.runs
    assert (run.name, run.wall_ns, run.span_count, run.step_count, run.ok) == ("lonely", 2 * 10**9, 1, 0, True)
    assert [s.name for s in run.critical_path] == ["lonely"]
    assert {c.name: c.duration_ns for c in run.components}["tool_execution"] == 2 * 10**9


def test_detail_limit_keeps_numbers_for_every_run(builder: TraceBuilder) -> None:
    for i in range(3):
        builder.trace()
        r = builder.span(f"run {i}", category="agent", start=10 - i, end=12 - i)  # later traces start earlier
        builder.span("llm", category="llm", parent=r, start=10.5 - i, end=11 - i, cost_usd=0.5)
    profile, con = analyze_builder(builder, detail_limit=2)
    assert [r.name for r in profile.runs] == ["run 2", "run 1", "run 0"]  # by start time
    assert profile.runs_elided == 1
    assert [len(r.spans) for r in profile.runs] == [2, 2, 0]
    last = profile.runs[2]
    assert last.step_count == 1 and last.steps[0].cost_usd == 0.5 and len(last.critical_path) == 2
    ctx = RuleContext(con=con, config=Config(), runs=profile.runs, aggregates=profile.aggregates)
    spans = ctx.run_spans(last.run_id)  # elided: read back from the store
    assert sorted(s.name for s in spans) == ["llm", "run 0"]
    assert next(s for s in spans if s.name == "llm").step_index == 1
    assert ctx.runs_by_id[last.run_id] is last


def test_profile_round_trips_through_json(builder: TraceBuilder) -> None:
    research_run(builder)
    profile, _ = analyze_builder(builder)
    again = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile


def test_run_records_behave_as_tuples_of_the_dataclasses(builder: TraceBuilder) -> None:
    """Steps, components and critical paths are made when read (``Records``): they must
    compare, hash, slice, copy, pickle and serialize exactly as the tuples they stand for."""
    import copy
    import dataclasses
    import pickle

    from agentprof.profile import COMPONENTS, Records, Step

    root = builder.span("agent", category="agent", start=0, end=10, agent_name="a")
    for k in range(3):
        builder.span("chat", category="llm", parent=root, start=3 * k, end=3 * k + 1, agent_name="a",
                     input_tokens=100 * (k + 1), output_tokens=10, system_chars=40, history_chars=40 * k)
        builder.span("search", category="tool", parent=root, start=3 * k + 1.5, end=3 * k + 2.5, tool_name="search")
    profile, _ = analyze_builder(builder)
    (run,) = profile.runs
    for records in (run.steps, run.components, run.critical_path):
        assert isinstance(records, Records) and len(records) > 1
        items = tuple(records)
        assert records == items and items == records and not (records != items) and hash(records) == hash(items)
        assert records[0] == items[0] and records[-1] == items[-1] and records[1:] == items[1:]
        assert records[::-1] == items[::-1] and tuple(reversed(records)) == items[::-1]
        assert records.index(items[1]) == 1 and items[0] in records and records.count(items[0]) == 1
        assert repr(records) == repr(items)
        assert pickle.loads(pickle.dumps(records)) == items and copy.deepcopy(records) == items
        for bad in (len(items), -len(items) - 1):
            try:
                records[bad]
            except IndexError:
                pass
            else:
                raise AssertionError(f"index {bad} of {len(items)} records did not raise")
    assert records != items[:-1] and records != list(items)  # a list is not a tuple, as for tuples
    assert [c.name for c in run.components] == list(COMPONENTS)
    assert all(type(s) is Step for s in run.steps) and run.steps[0].buckets is not None
    # Profile.to_dict reads Records like dataclasses.asdict reads tuples.
    plain = dataclasses.replace(run, steps=tuple(run.steps), components=tuple(run.components),
                                critical_path=tuple(run.critical_path))
    assert dataclasses.asdict(plain) == Profile.to_dict(dataclasses.replace(profile, runs=(run,)))["runs"][0]
    assert plain == run and run == plain


def test_rule_context_component_matrix_is_the_runs_components(builder: TraceBuilder) -> None:
    import numpy as np

    for i in range(3):
        builder.trace()
        research_run(builder) if i != 1 else builder.span("lonely", category="tool", start=0, end=2)
    profile, con = analyze_builder(builder)
    from_runs = RuleContext(con=con, config=Config(), runs=profile.runs, aggregates=profile.aggregates)
    expected = np.array([[c.duration_ns for c in r.components] for r in profile.runs])
    assert from_runs.component_matrix.tolist() == expected.tolist()
    assert from_runs.wall_ns.tolist() == [r.wall_ns for r in profile.runs]


def test_findings_sort_by_saving_then_dollars_then_severity() -> None:
    def f(code: str, s: float | None, usd: float | None, sev: str) -> Finding:
        return Finding(code=code, name="x", severity=sev, message="", suggestion="", run_id=None, span_ids=("a",),
                       est_savings_s=s, est_savings_usd=usd)

    got = sort_findings([f("AP1", None, None, "high"), f("AP2", 1.0, 0.5, "low"), f("AP3", 1.0, 0.9, "low"),
                         f("AP4", 2.0, None, "info"), f("AP5", None, None, "medium"), f("AP6", 1.0, 0.9, "high")])
    assert [x.code for x in got] == ["AP4", "AP6", "AP3", "AP2", "AP1", "AP5"]


def test_rules_receive_the_context_and_report_the_sequential_calls(builder: TraceBuilder) -> None:
    research_run(builder)
    profile, _ = analyze_builder(builder, Config())
    assert profile.findings, "the 47 s run with three sequential 11.3 s calls must produce a finding"
    top = profile.findings[0]
    assert top.est_savings_s is not None and abs(top.est_savings_s - 22.6) < 1e-6
    assert "parallel_saving_min_s" in profile.thresholds  # rule thresholds are reported too


def test_analysis_leaves_tree_and_step_tables_for_queries(builder: TraceBuilder) -> None:
    research_run(builder)
    profile, con = analyze_builder(builder, NO_RULES)
    on_path = con.execute(
        "SELECT s.name, t.on_path_ns FROM spans s JOIN span_tree t ON t.rid = s.rowid WHERE t.on_path_ns > 0"
    ).fetchall()
    assert dict(on_path) == {s.name: s.on_path_ns for s in profile.runs[0].critical_path}
    assert con.execute("SELECT count(*), sum(cost_usd) FROM steps").fetchall() == [(1, 0.03)]
    assert con.execute("SELECT count(*) FROM step_members").fetchall() == [(5,)]


def test_analyzing_twice_gives_the_same_profile(builder: TraceBuilder) -> None:
    research_run(builder)
    profile, con = analyze_builder(builder)
    assert analyze(con, NO_RULES) == profile


def test_analyze_works_after_a_caller_left_a_result_unread(builder: TraceBuilder) -> None:
    # DuckDB 2 refuses register()/sql() while a result is unread; analyze must not inherit that.
    research_run(builder)
    con = builder.load()
    con.execute("SELECT span_id FROM spans ORDER BY span_id").fetchone()
    profile = analyze(con, Config())
    assert len(profile.runs) == 1 and profile.runs[0].critical_path


def test_analysis_inside_an_open_transaction_sees_its_uncommitted_spans(builder: TraceBuilder) -> None:
    """The run rows are read on a second cursor beside the tree work; spans a caller has not
    committed yet are invisible there, and the analysis must still see them."""
    research_run(builder)
    committed = analyze(builder.load())
    rows = builder.load().execute("SELECT * FROM spans").fetchall()
    con = open_store()
    con.execute("BEGIN TRANSACTION")
    con.executemany(f"INSERT INTO spans VALUES ({', '.join('?' for _ in rows[0])})", rows)
    profile = analyze(con)
    con.execute("ROLLBACK")
    assert [r.wall_ns for r in profile.runs] == [r.wall_ns for r in committed.runs]
    assert [f.code for f in profile.findings] == [f.code for f in committed.findings]


def test_run_rows_from_the_tree_roots_equal_the_runs_view() -> None:
    """analyze() reads the runs query with the roots its span tree found instead of the
    root_spans view: both must give the same rows on messy traces (orphans, self-parents,
    duplicate ids, several roots, parent cycles, failed roots)."""
    import random

    from agentprof.analyzers._tree import load_tree
    from agentprof.analyzers.runs import fetch_run_rows

    rnd = random.Random(7)
    b = TraceBuilder()
    for t in range(300):
        b.trace()
        ids: list[str] = []
        for i in range(rnd.randint(1, 12)):
            r = rnd.random()
            if not ids or r < 0.1:
                parent = None
            elif r < 0.15:
                parent = "ffffffffffffffff"  # missing from the trace: an orphan, so a root
            elif r < 0.2:
                parent = f"{t:04d}{i:012x}"  # itself
            else:
                parent = rnd.choice(ids)
            sid = rnd.choice(ids) if ids and rnd.random() < 0.05 else f"{t:04d}{i:012x}"
            b.span(f"s{i}", category=rnd.choice(["agent", "llm", "tool"]), parent=parent, span_id=sid,
                   start=rnd.randint(0, 50), end=rnd.randint(50, 100), status=rnd.choice(["ok", "ok", "error"]))
            ids.append(sid)
        if rnd.random() < 0.1:  # a two-span parent cycle beside the rest
            b.span("c1", parent=f"{t:04d}ccccccccccc2", span_id=f"{t:04d}ccccccccccc1")
            b.span("c2", parent=f"{t:04d}ccccccccccc1", span_id=f"{t:04d}ccccccccccc2")
    con = b.load()
    view = fetch_run_rows(con)
    from_tree = fetch_run_rows(con, load_tree(con))
    order = sorted(range(len(view["run_id"])), key=view["run_id"].__getitem__)
    order_t = sorted(range(len(from_tree["run_id"])), key=from_tree["run_id"].__getitem__)
    assert view.keys() == from_tree.keys()
    for name in view:
        assert [view[name][k] for k in order] == [from_tree[name][k] for k in order_t], name
    assert len(view["run_id"]) == 300
    assert sum(1 for ok in view["ok"] if not ok) > 20  # failed roots were part of the comparison
