"""Terminal report: golden output at 100 and 80 columns, truncation, escaping."""

from __future__ import annotations

import io
import re

import pytest

from agentprof.errors import ConfigError
from agentprof.reports import terminal

from . import profiles as P


def waterfall_rows(text: str) -> list[str]:
    section = text.split("Waterfall (◆ critical path, ✗ error)")[1].split("\nFindings")[0]
    return [line for line in section.splitlines() if "█" in line]


def render_text(profile, width: int = 100, **kwargs) -> str:
    from rich.console import Console

    console = Console(width=width, color_system=None, record=True, file=io.StringIO())
    terminal.render(profile, console, **kwargs)
    return console.export_text()


@pytest.mark.parametrize("width", [100, 80])
def test_three_runs_golden(golden, width):
    golden.check(f"three_runs.terminal.w{width}.txt", render_text(P.three_run_profile(), width))


@pytest.mark.parametrize("width", [100, 80])
def test_single_run_golden(golden, width):
    golden.check(f"single_run.terminal.w{width}.txt", render_text(P.single_run_profile(), width))


def test_injection_golden(golden):
    golden.check("injection.terminal.w100.txt", render_text(P.injection_profile(), 100))


@pytest.mark.parametrize("width", [100, 80, 60])
def test_fits_width_and_has_no_escape_codes(width):
    for profile in (P.three_run_profile(), P.injection_profile(), P.large_span_profile()):
        text = render_text(profile, width)
        assert "\x1b" not in text  # no colour codes, and the trace's own escape is neutralised
        too_wide = [line for line in text.splitlines() if len(line.rstrip()) > width]
        assert too_wide == []


def test_headline_numbers():
    text = render_text(P.three_run_profile())
    assert "Wall time  22.7 s total · slowest 12.4 s" in text
    assert "$0.0483  (7 LLM calls: 2 reported, 3 computed, 2 unknown price)" in text
    assert "No price for acme-llm-1" in text
    assert "input 21,550 · output 1,372 · cache read 5,120 · cache write 0" in text
    # The slowest run gets the detail; the note says how to see the others.
    assert "Run 6d5c36b9" in text and "--run ID" in text
    # Findings keep the Profile's order (sorted by saving), with savings shown.
    codes = re.findall(r"^(AP\d{3}) ", text, flags=re.M)
    assert codes == ["AP101", "AP202", "AP301", "AP203"]
    assert "AP101 high sequential-independent-tool-calls  saves ~1.03 s" in text
    assert "saves ~$0.0121" in text
    # Parallel fan-out: the waterfall marks only the tool call on the critical path.
    fetch_rows = [line for line in waterfall_rows(text) if "execute_tool fetch_pa" in line]
    assert [r.startswith("◆") for r in fetch_rows] == [False, True]
    summarize = [line for line in waterfall_rows(text) if "execute_tool summarize" in line]
    assert summarize[0].startswith("◆✗")


def test_run_id_prefix_selects_run():
    profile = P.three_run_profile()
    other = profile.runs[1]
    text = render_text(profile, run_id=other.run_id[:6])
    assert f"Run {other.run_id[:8]}" in text
    assert "Across 3 runs" not in text
    # Findings of other runs are not shown; cross-run findings still are.
    assert "AP101" not in text and "AP203" in text


def test_unknown_run_id_is_a_config_error():
    with pytest.raises(ConfigError, match="No run with id 'zzz'"):
        render_text(P.three_run_profile(), run_id="zzz")


def test_large_run_is_truncated_with_a_note():
    text = render_text(P.large_span_profile(), 100)
    rows = waterfall_rows(text)
    assert len(rows) == terminal.MAX_WATERFALL_ROWS
    assert sum(r.startswith("◆") for r in rows) == 40  # critical path spans come first
    assert "4,961 of 5,001 spans not shown" in text and "--all" in text
    assert "… 470 more steps (--all shows every step)" in text
    assert "Showing the 20 spans holding the path longest of 1,001" in text


def test_show_all_shows_every_step_and_span():
    text = render_text(P.large_span_profile(n_steps=40, tools_per_step=2), 100, show_all=True)
    assert len(waterfall_rows(text)) == 1 + 40 * 4
    assert "more steps" not in text


def test_many_runs_shows_one_detail_and_distribution():
    text = render_text(P.many_runs_profile(), 100)
    assert "Across 2,000 runs" in text
    assert "… 1,990 more runs (--all lists them)" in text
    assert "1,980 runs were summarised without span detail" in text
    assert text.count("\nRun ") == 1


def test_trace_strings_are_not_markup():
    text = render_text(P.injection_profile(), 100)
    assert "[link](javascript:alert(1))" in text
    assert "<script>alert(1)</script>" in text


def test_one_rule_over_many_runs_is_summed_up():
    from agentprof.profile import Finding, Profile

    base = P.three_run_profile()
    runs = [r.run_id for r in base.runs]
    repeated = tuple(Finding("AP401", "repeated-identical-tool-call", "high", f"run {i}", "cache",
                             runs[i % 3], (), 5.0 - i) for i in range(5))
    profile = Profile(**{**base.__dict__, "findings": repeated})
    text = render_text(profile)
    assert re.findall(r"^(AP\d{3}) ", text, flags=re.M) == ["AP401", "AP401"]
    assert "Also fired: AP401 3 more times (in other runs; --all lists every finding)" in text
    assert re.findall(r"^(AP\d{3}) ", render_text(profile, show_all=True), flags=re.M) == \
        ["AP401"] * 5
