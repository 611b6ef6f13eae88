"""Semantic style names for the terminal report and colours for the HTML report.

Renderers refer to styles only by name (``agentprof.cost``, ``agentprof.critical``); this
module maps names to colours, so a colour change happens in one place. ``rich`` is imported
inside ``terminal_theme`` so importing this module stays free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from rich.theme import Theme

STYLES: Final = {
    "agentprof.title": "bold",
    "agentprof.heading": "bold cyan",
    "agentprof.label": "dim",
    "agentprof.note": "dim italic",
    "agentprof.number": "",
    "agentprof.cost": "green",
    "agentprof.cost.unknown": "yellow",
    "agentprof.tokens": "",
    "agentprof.duration": "",
    "agentprof.error": "bold red",
    "agentprof.warning": "yellow",
    "agentprof.ok": "green",
    "agentprof.critical": "bold magenta",
    "agentprof.bar": "blue",
    "agentprof.bar.critical": "magenta",
    "agentprof.severity.high": "bold red",
    "agentprof.severity.medium": "yellow",
    "agentprof.severity.low": "cyan",
    "agentprof.severity.info": "dim",
    "agentprof.saving": "bold green",
    "agentprof.code": "bold",
    "agentprof.alert.breached": "bold red",
    "agentprof.alert.ok": "green",
    "agentprof.category.agent": "bright_blue",
    "agentprof.category.step": "blue",
    "agentprof.category.llm": "magenta",
    "agentprof.category.tool": "green",
    "agentprof.category.retrieval": "cyan",
    "agentprof.category.embedding": "cyan",
    "agentprof.category.chain": "blue",
    "agentprof.category.handoff": "yellow",
    "agentprof.category.other": "white",
}

CATEGORY_COLORS: Final = {
    "agent": "#4c78a8",
    "step": "#9ecae9",
    "llm": "#b279a2",
    "tool": "#54a24b",
    "retrieval": "#72b7b2",
    "embedding": "#88d27a",
    "chain": "#bab0ac",
    "handoff": "#eeca3b",
    "other": "#9d755d",
}
"""Waterfall bar colour per span category (HTML)."""

COMPONENT_COLORS: Final = {
    "serialization": "#9d755d",
    "ttft": "#e45756",
    "generation": "#b279a2",
    "tool_execution": "#54a24b",
    "context_injection": "#72b7b2",
    "framework_overhead": "#f58518",
    "coordination": "#eeca3b",
    "llm_unsplit": "#d4a6c8",
    "unattributed": "#bab0ac",
}

BUCKET_COLORS: Final = {
    "system": "#4c78a8",
    "tool_schemas": "#f58518",
    "history": "#72b7b2",
    "tool_outputs": "#54a24b",
    "unattributed": "#bab0ac",
}

CRITICAL_OUTLINE: Final = "#d62728"
HIGHLIGHT_OUTLINE: Final = "#111111"


def category_style(category: str) -> str:
    """The style name for a span category (unknown categories fall back to ``other``)."""
    name = f"agentprof.category.{category}"
    return name if name in STYLES else "agentprof.category.other"


def terminal_theme() -> Theme:
    """The rich Theme holding every ``agentprof.*`` style."""
    from rich.theme import Theme

    return Theme(STYLES)
