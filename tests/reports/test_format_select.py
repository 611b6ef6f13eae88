"""Shared formatting and selection: exact strings, tree order, bounded span choice."""

from __future__ import annotations

import pytest

from agentprof.profile import SpanView
from agentprof.reports import _format as F
from agentprof.reports import _select as S

from . import profiles as P


@pytest.mark.parametrize("ns, text", [
    (None, "—"), (850, "850 ns"), (850_000, "850 µs"), (12_340_000, "12.3 ms"),
    (120_400_000, "120 ms"), (1_240_000_000, "1.24 s"), (12_400_000_000, "12.4 s"),
    (125_000_000_000, "2 m 05 s"), (7_380_000_000_000, "2 h 03 m"), (-2_000_000, "-2.0 ms"),
])
def test_durations(ns, text):
    assert F.fmt_duration_ns(ns) == text


@pytest.mark.parametrize("usd, text", [
    (None, "—"), (0, "$0"), (0.00004, "$0.000040"), (0.048295, "$0.0483"), (1.5, "$1.50"),
    (1234.5, "$1,234"), (-0.0071, "-$0.0071"),
])
def test_money(usd, text):
    assert F.fmt_usd(usd) == text


def test_small_formats():
    assert F.fmt_signed_usd(0.0071) == "+$0.0071"
    assert F.fmt_growth(0.628) == "+62.8%"
    assert F.fmt_share(2 / 3) == "66.7%"
    assert F.fmt_compact(16762) == "16.8k" and F.fmt_compact(3_100_000) == "3.1M"
    assert F.fmt_savings(1.03, None) == "~1.03 s" and F.fmt_savings(None, None) == "—"
    assert F.fmt_savings(0.5, 0.0005) == "~500 ms, ~$0.0005"
    assert F.one_line("a\nb\x1b[31m\u2028c", 80) == "a b [31m c"
    assert F.one_line("x" * 10, 5) == "xxxx…"
    assert F.plural(1, "step") == "1 step" and F.plural(1200, "LLM call") == "1,200 LLM calls"


def _span(sid, parent, start, end, crit=False):
    return SpanView(sid, parent, sid, "other", start, end, 0, 0, "ok", crit)


def test_tree_order_handles_orphans_and_cycles():
    spans = [_span("c", "a", 5, 6), _span("a", None, 0, 10), _span("b", "a", 1, 4),
             _span("o", "missing", 2, 3), _span("x", "y", 0, 1), _span("y", "x", 0, 1)]
    order = [s.span_id for s in S.tree_order(spans)]
    assert order == ["a", "b", "c", "o", "x", "y"]


def test_select_spans_keeps_critical_path_longest_and_ancestors():
    spans = [_span("root", None, 0, 100, True), _span("p1", "root", 0, 50),
             _span("long", "p1", 0, 49), _span("crit", "root", 50, 100, True),
             _span("short", "root", 60, 61)]
    shown, hidden = S.select_spans(spans, 4)
    assert [s.span_id for s in shown] == ["root", "p1", "long", "crit"]
    assert hidden == 1
    assert S.select_spans(spans, None) == (S.tree_order(spans), 0)


def test_default_run_and_prefix_lookup():
    profile = P.three_run_profile()
    assert S.default_run(profile) is profile.runs[0]
    assert S.find_run(profile, profile.runs[2].run_id[:5]) is profile.runs[2]
    assert S.tool_summary(("a", "b", "b", "c")) == "a, b ×2, c"
    assert S.cost_sources_total(profile) == {"reported": 2, "computed": 3, "unknown": 2}


def test_default_run_is_the_earliest_of_the_slowest_and_never_compares_runs():
    """Picking the run must be linear: comparing runs for equality (``runs.index``) made the
    report of 50,000 runs take minutes."""
    import dataclasses

    from agentprof.profile import Run

    class NoEq(Run):
        __slots__ = ()

        def __eq__(self, other):
            raise AssertionError("runs compared for equality")

        __hash__ = None

    base = P.three_run_profile()
    template = base.runs[0]
    runs = tuple(NoEq(**{f.name: getattr(template, f.name) for f in dataclasses.fields(Run)}
                      | {"run_id": f"{k:032x}", "end_ns": template.start_ns + (5 if k in (3, 7) else 1)})
                 for k in range(10))
    profile = dataclasses.replace(base, runs=runs)
    assert S.default_run(profile) is runs[3]
