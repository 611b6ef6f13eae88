"""Markdown report: golden output, escaping checked by a real Markdown parser, size caps."""

from __future__ import annotations

import re

from agentprof.profile import Finding, Profile
from agentprof.reports import markdown

from . import profiles as P


def to_html(text: str) -> str:
    """Render as GitHub does for the parts that matter here (CommonMark + tables)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(text)


def test_three_runs_golden(golden):
    golden.check("three_runs.md", markdown.render(P.three_run_profile(), html_name="report.html"))


def test_single_run_golden(golden):
    golden.check("single_run.md", markdown.render(P.single_run_profile()))


def test_injection_golden(golden):
    golden.check("injection.md", markdown.render(P.injection_profile()))


def test_many_runs_golden(golden):
    golden.check("many_runs.md", markdown.render(P.many_runs_profile()))


def test_headline_and_findings():
    text = markdown.render(P.three_run_profile())
    assert text.startswith("## agentprof: 3 runs · 22.7 s · $0.0483\n")
    assert "| Tokens | input 21,550 · output 1,372 · cache read 5,120 · cache write 0 |" in text
    assert re.findall(r"^\d+\. \*\*(AP\d+)\*\*", text, flags=re.M) == \
        ["AP101", "AP202", "AP301", "AP203"]
    assert "(high, saves ~1.03 s)" in text and "(medium, saves ~$0.0121)" in text
    assert "Full interactive report" not in text


def test_trace_strings_cannot_inject_html_or_break_tables():
    text = markdown.render(P.injection_profile(), html_name="<img src=x>`.html")
    html = to_html(text)
    for tag in ("<script", "<img", "<b>", "<a "):
        assert tag not in html
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # only ever as text
    # The steps table keeps its 9 columns in every row despite pipes in the trace.
    steps = html.split("<th>model</th>")[1].split("</table>")[0]
    for row in re.findall(r"<tr>(.*?)</tr>", steps, flags=re.S)[1:]:
        assert row.count("<td") == 9
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text


def test_steps_are_truncated_with_a_note():
    text = markdown.render(P.large_span_profile())
    assert len(re.findall(r"^\| \d+ \| gpt-4o-mini", text, flags=re.M)) == markdown.MAX_STEPS
    assert "_First 20 of 500 steps; the full report has all._" in text
    assert len(text) < 20_000


def test_hard_cap_on_huge_findings():
    base = P.three_run_profile()
    many = tuple(Finding(f"AP{i:03d}", "x" * 100, "low", "m" * 10_000, "s" * 10_000, None, ())
                 for i in range(500))
    profile = Profile(**{**base.__dict__, "findings": many})
    text = markdown.render(profile)
    assert len(text) <= markdown.MAX_CHARS
    assert "490 more findings in the full report" in text
    # Long messages are cut: each finding stays a couple of hundred characters.
    assert len(text) < 20_000


def test_one_rule_over_many_runs_is_summed_up():
    base = P.three_run_profile()
    runs = [r.run_id for r in base.runs]
    repeated = tuple(Finding("AP401", "repeated-identical-tool-call", "high", f"run {i}", "cache",
                             runs[i % 3], (), 5.0 - i) for i in range(5))
    profile = Profile(**{**base.__dict__, "findings": repeated + base.findings[:1]})
    text = markdown.render(profile)
    assert re.findall(r"^\d+\. \*\*(AP\d+)\*\*", text, flags=re.M) == ["AP401", "AP401", "AP101"]
    assert "_Also fired: AP401 3 more times (in other runs)._" in text
