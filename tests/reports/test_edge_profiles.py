"""Every report renders the degenerate Profiles: no runs, one span without an LLM call."""

from __future__ import annotations

import io
import json

import pytest

from agentprof.profile import Profile
from agentprof.reports import chrome_trace, html_report, json_report, markdown, terminal

from . import profiles as P


@pytest.mark.parametrize("build", [P.empty_profile, P.single_span_profile])
def test_all_reports_render(build):
    from rich.console import Console

    profile = build()
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    terminal.render(profile, console)
    text = console.export_text()
    md = markdown.render(profile)
    page = html_report.render(profile, plotly_cdn=True)
    assert Profile.from_dict(json.loads(json_report.render(profile))) == profile
    json.loads(chrome_trace.render(profile))
    assert "Cost       —" in text  # unknown cost is a dash, never $0
    assert "| Cost | — (0 LLM calls" in md
    data = html_report.extract_payload(page)
    assert data["headline"]["total_cost_usd"] is None
    if profile.runs:
        assert "Unattributed" in text and "100.0%" in text
        assert data["default_run"] == profile.runs[0].run_id
    else:
        assert "0 runs" in text and "no spans" in text
        assert data["default_run"] is None and data["details"] == {}
