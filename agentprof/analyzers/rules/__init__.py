"""Deterministic bottleneck rules, ruff-style: AP1xx latency, AP2xx cost, AP3xx reliability,
AP4xx tools and loops, AP5xx context size.

Each family module registers its rules with ``@rule`` (AP1xx lives in ``latency`` and
``components``); importing this package registers all
of them. ``run_rules(ctx)`` runs the rules ``ctx.config`` selects over a ``RuleContext``
(``con`` with the ``spans`` table, ``config``, ``runs`` with steps and critical paths).
Per-span work is DuckDB SQL over ``spans``; rules only loop in Python over candidate rows,
steps and critical-path segments.
"""

from __future__ import annotations

from agentprof.analyzers.rules import components, context, cost, latency, loops, reliability  # noqa: F401 - registers rules
from agentprof.analyzers.rules._registry import (
    DOC_SECTIONS,
    FAMILIES,
    Rule,
    all_rules,
    default_thresholds,
    effective_thresholds,
    get_rule,
    missing_doc_sections,
    render_rule_text,
    render_rules_markdown,
    rule,
    rules_as_json,
    run_rules,
)

__all__ = [
    "DOC_SECTIONS",
    "FAMILIES",
    "Rule",
    "all_rules",
    "default_thresholds",
    "effective_thresholds",
    "get_rule",
    "missing_doc_sections",
    "render_rule_text",
    "render_rules_markdown",
    "rule",
    "rules_as_json",
    "run_rules",
]
