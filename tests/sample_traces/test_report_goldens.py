"""Golden terminal and Markdown reports of every bundled sample trace.

Fixed width, no colour. Regenerate with ``pytest tests/sample_traces --update-golden`` and
review the diff: a changed number in a report is a changed analysis.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from agentprof.reports import markdown, terminal

SAMPLES = (
    "research_agent_sequential_retrieval.json",
    "support_ticket_loop.json",
    "coding_agent_context_growth.jsonl",
    "crm_tool_latency.jsonl.gz",
    "healthy_three_step.pb",
    "support_agent_tool_schemas.json",
    "multi_agent_handoff.json",
    "model_routing.json",
    "fleet_200_runs.jsonl.gz",
)


def _stem(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("width", [100, 80])
def test_terminal_report(sample, golden, name: str, width: int) -> None:
    console = Console(width=width, color_system=None, record=True, file=io.StringIO(), highlight=False)
    terminal.render(sample(name).profile, console)
    text = console.export_text()
    assert all(len(line.rstrip()) <= width for line in text.splitlines())
    golden.check(f"samples/{_stem(name)}.terminal.w{width}.txt", text)


@pytest.mark.parametrize("name", SAMPLES)
def test_markdown_report(sample, golden, name: str) -> None:
    text = markdown.render(sample(name).profile, html_name="report.html")
    assert len(text) <= 65_536
    assert "report.html" in text
    golden.check(f"samples/{_stem(name)}.md", text)
