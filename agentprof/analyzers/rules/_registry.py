"""The rule registry: codes, names, docs, thresholds, and running the selected rules.

A rule is a function ``check(ctx) -> Iterable[Finding]`` registered with ``@rule(...)``; its
docstring is the rule's documentation (ruff's template, see ``DOC_SECTIONS``), so the docs
live next to the code. ``run_rules`` runs every rule the config selects; a rule that raises
is logged and skipped so one broken rule never costs the user the whole analysis.

This module imports nothing heavy: ``agentprof rule CODE`` only needs the metadata.
"""

from __future__ import annotations

import difflib
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agentprof.errors import UnknownRuleError

if TYPE_CHECKING:
    from agentprof.profile import Finding, Severity

log = logging.getLogger("agentprof.rules")

FAMILIES: Final = {
    "AP1": "latency and critical path",
    "AP2": "cost and tokens",
    "AP3": "reliability and retries",
    "AP4": "tools and loops",
    "AP5": "context size",
}

DOC_SECTIONS: Final = ("What it does", "Why is this bad?", "Example", "Use instead", "Thresholds", "References")
"""Sections every rule doc must have, in this order (ruff's template, adapted to traces)."""

_CODE_RE = re.compile(r"^AP[1-5]\d\d$")
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Rule:
    """One deterministic bottleneck rule."""

    code: str
    """e.g. AP101; the first three characters name the family."""
    name: str
    """Kebab-case name of the flagged pattern, readable as "allow <name>"."""
    family: str
    severity: Severity
    """Default severity: used when a finding's saving cannot be estimated."""
    summary: str
    """One line."""
    doc: str
    """Markdown in the template of DOC_SECTIONS."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """Config keys this rule reads, with their defaults."""
    check: Callable[[Any], Iterable[Finding]] = field(default=lambda ctx: (), compare=False, repr=False)

    @property
    def title(self) -> str:
        return f"{self.name} ({self.code})"


_RULES: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    *,
    severity: Severity,
    summary: str,
    thresholds: dict[str, float] | None = None,
) -> Callable[[Callable[[Any], Iterable[Finding]]], Callable[[Any], Iterable[Finding]]]:
    """Register ``check`` as rule ``code``; its docstring becomes the rule doc."""

    def register(check: Callable[[Any], Iterable[Finding]]) -> Callable[[Any], Iterable[Finding]]:
        if not _CODE_RE.match(code):
            raise ValueError(f"rule code {code!r} must look like AP101")
        if not _NAME_RE.match(name) or name.startswith(("no-", "avoid-", "disallow-")):
            raise ValueError(f"rule name {name!r} must be kebab-case and name the flagged pattern")
        if code in _RULES:
            raise ValueError(f"rule code {code} registered twice")
        _RULES[code] = Rule(
            code=code,
            name=name,
            family=FAMILIES[code[:3]],
            severity=severity,
            summary=summary,
            doc=inspect.cleandoc(check.__doc__ or ""),
            thresholds=dict(thresholds or {}),
            check=check,
        )
        return check

    return register


def all_rules() -> tuple[Rule, ...]:
    """Every registered rule, sorted by code."""
    return tuple(_RULES[c] for c in sorted(_RULES))


def get_rule(code: str) -> Rule:
    """The rule with this code (case-insensitive); UnknownRuleError lists close codes."""
    key = code.strip().upper()
    if key in _RULES:
        return _RULES[key]
    by_name = {r.name: r for r in _RULES.values()}
    if code.strip().lower() in by_name:
        return by_name[code.strip().lower()]
    # Same family and decade first (AP109 -> AP101..AP106), then anything that looks alike.
    close = [c for c in sorted(_RULES) if len(key) >= 4 and c.startswith(key[:4])]
    close += [c for c in difflib.get_close_matches(key, sorted(_RULES), n=3, cutoff=0.5) if c not in close]
    close = close[:6]
    hint = f"did you mean {', '.join(close)}?" if close else "list the rules with `agentprof rule --all`"
    raise UnknownRuleError(f"no rule with code {code!r}", hint=hint)


def default_thresholds() -> dict[str, float]:
    """Every threshold key any rule reads, with its default (keys shared by rules agree)."""
    out: dict[str, float] = {}
    for r in all_rules():
        for key, value in r.thresholds.items():
            if key in out and out[key] != value:
                raise ValueError(f"threshold {key!r} has two defaults ({out[key]} and {value})")
            out[key] = value
    return out


def effective_thresholds(config: Any) -> dict[str, float]:
    """The thresholds the rules use after config overrides (for Profile.thresholds)."""
    return {k: float(config.threshold(k, v)) for k, v in default_thresholds().items()}


def run_rules(ctx: Any) -> list[Finding]:
    """Run every rule ``ctx.config`` selects; a rule that raises is logged and skipped."""
    findings: list[Finding] = []
    for r in all_rules():
        if not ctx.config.selects(r.code):
            continue
        try:
            found = list(r.check(ctx))
        except Exception:  # noqa: BLE001 - one broken rule must not cost the whole analysis
            log.warning("rule %s (%s) failed and was skipped", r.code, r.name, exc_info=True)
            failed = getattr(ctx, "failed_rules", None)
            if isinstance(failed, list):
                failed.append(r.code)
            continue
        findings.extend(found)
    return findings


def missing_doc_sections(r: Rule) -> list[str]:
    """Sections of DOC_SECTIONS the rule's doc lacks (or has empty), in template order."""
    present = _sections(r.doc)
    return [s for s in DOC_SECTIONS if not present.get(s, "").strip()]


def _sections(doc: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current = None
    for line in doc.splitlines():
        m = re.match(r"^##\s+(.*?)\s*$", line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current is not None:
            out[current] += line + "\n"
    return out


def render_rule_text(r: Rule) -> str:
    """A rule's documentation as printed by ``agentprof rule CODE`` (Markdown)."""
    lines = [f"# {r.title}", "", f"Family: {r.family}. Default severity: {r.severity}.", "", r.summary, "", r.doc]
    return "\n".join(lines).rstrip() + "\n"


def rules_as_json() -> str:
    """Every rule as a JSON array (``agentprof rule --all --json``)."""
    return json.dumps(
        [
            {
                "code": r.code,
                "name": r.name,
                "family": r.family,
                "severity": r.severity,
                "summary": r.summary,
                "thresholds": r.thresholds,
                "doc": r.doc,
            }
            for r in all_rules()
        ],
        indent=2,
    )


def render_rules_markdown() -> str:
    """docs/rules.md: an index, then every rule's doc (generated; a test keeps it current)."""
    out = [
        "# Rules",
        "",
        "<!-- Generated by `python -m agentprof.analyzers.rules > docs/rules.md`; do not edit by hand. -->",
        "",
        "Deterministic bottleneck rules, ruff-style. Select or ignore them by code prefix",
        "(`--select AP2 --ignore AP204`, or `select`/`ignore` under `[tool.agentprof]`); the more",
        "specific prefix wins and `ignore` beats `select` on a tie. Thresholds are set under",
        "`[tool.agentprof.thresholds]` or with `--set key=value`.",
        "",
        "A finding is **high** severity when its estimated saving is at least `high_severity_share`",
        "(default 20%) of its run's wall-clock time or cost, **medium** when it is smaller; a",
        "finding whose saving cannot be estimated has its rule's default severity. A few rules",
        "grade severity by their own measure, as their docs say (AP301, AP401 across runs, AP501).",
        "",
        "| Code | Name | Summary |",
        "|---|---|---|",
    ]
    for r in all_rules():
        out.append(f"| [{r.code}](#{r.code.lower()}) | `{r.name}` | {r.summary} |")
    for r in all_rules():
        body = re.sub(r"^## ", "### ", r.doc, flags=re.M)
        out += ["", f"## {r.code}", "", f"**{r.name}** — {r.family}; default severity {r.severity}.", "",
                r.summary, "", body]
    return "\n".join(out).rstrip() + "\n"
