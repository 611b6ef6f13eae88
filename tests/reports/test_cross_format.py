"""One Profile, four reports: the headline numbers agree everywhere with the Profile."""

from __future__ import annotations

import io
import json
import re

import pytest

from agentprof.profile import Profile
from agentprof.reports import _format as F
from agentprof.reports import html_report, json_report, markdown, terminal

from . import profiles as P


def terminal_text(profile: Profile) -> str:
    from rich.console import Console

    console = Console(width=100, color_system=None, record=True, file=io.StringIO())
    terminal.render(profile, console)
    return console.export_text()


@pytest.mark.parametrize("build", [P.three_run_profile, P.single_run_profile,
                                   P.injection_profile])
def test_headline_numbers_agree(build):
    profile = build()
    agg = profile.aggregates
    wall_ns = sum(r.end_ns - r.start_ns for r in profile.runs)
    tokens = (f"input {agg.total_input_tokens:,} · output {agg.total_output_tokens:,} · "
              f"cache read {agg.total_cache_read_tokens:,} · cache write "
              f"{agg.total_cache_write_tokens:,}")
    savings = [F.fmt_savings(f.est_savings_s, f.est_savings_usd) for f in profile.findings]
    codes = [f.code for f in profile.findings]

    term = terminal_text(profile)
    md = markdown.render(profile)
    doc = json.loads(json_report.render(profile))
    page = html_report.extract_payload(html_report.render(profile, plotly_cdn=True))

    for text in (term, md):
        assert F.fmt_usd(agg.total_cost_usd) in text
        assert tokens in text
        assert F.fmt_duration_ns(wall_ns) in text
        for saving in savings:
            if saving != F.MISSING:
                assert f"saves {saving}" in text
    assert re.findall(r"^(AP\d{3}) ", term, flags=re.M) == codes
    assert re.findall(r"^\d+\. \*\*(AP\d{3})\*\*", md, flags=re.M) == codes

    # JSON: the exact values.
    assert doc["aggregates"]["total_cost_usd"] == agg.total_cost_usd
    assert doc["aggregates"]["total_input_tokens"] == agg.total_input_tokens
    assert doc["aggregates"]["total_output_tokens"] == agg.total_output_tokens
    assert sum(r["end_ns"] - r["start_ns"] for r in doc["runs"]) == wall_ns
    assert [(f["code"], f["est_savings_s"], f["est_savings_usd"]) for f in doc["findings"]] == \
        [(f.code, f.est_savings_s, f.est_savings_usd) for f in profile.findings]

    # HTML: the data the page is built from.
    h = page["headline"]
    assert h["total_cost_usd"] == agg.total_cost_usd
    assert (h["input_tokens"], h["output_tokens"], h["cache_read_tokens"],
            h["cache_write_tokens"]) == (agg.total_input_tokens, agg.total_output_tokens,
                                         agg.total_cache_read_tokens, agg.total_cache_write_tokens)
    assert h["wall_ns"] == wall_ns
    assert h["text"]["cost"] == F.fmt_usd(agg.total_cost_usd) and h["text"]["tokens"] == tokens
    assert [(f["code"], f["est_savings_s"], f["est_savings_usd"], f["saving_text"])
            for f in page["findings"]] == \
        [(f.code, f.est_savings_s, f.est_savings_usd, s) for f, s in zip(profile.findings, savings)]
