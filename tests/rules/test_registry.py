"""The rule registry: docs, names, lookup, selection, isolation of a failing rule, docs/rules.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentprof.analyzers import rules
from agentprof.analyzers.rules import _registry
from agentprof.errors import UnknownRuleError

from .kit import analyze_trace, of
from .traces import compounding_history, sequential_retrieval

REQUIRED = {"AP101", "AP102", "AP103", "AP104", "AP105", "AP106", "AP107", "AP108", "AP201", "AP202", "AP203", "AP204", "AP205", "AP206",
            "AP301", "AP302", "AP303", "AP401", "AP402", "AP403", "AP404", "AP501", "AP502"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_required_rules_are_registered_in_code_order():
    codes = [r.code for r in rules.all_rules()]
    assert REQUIRED <= set(codes)
    assert codes == sorted(codes)


@pytest.mark.parametrize("rule", rules.all_rules(), ids=lambda r: r.code)
def test_every_rule_is_documented(rule):
    assert rules.missing_doc_sections(rule) == []
    headings = re.findall(r"^## (.+)$", rule.doc, flags=re.M)
    assert headings == list(rules.DOC_SECTIONS), "sections in template order"
    assert rule.summary and "\n" not in rule.summary
    assert rule.family == rules.FAMILIES[rule.code[:3]]
    for key in rule.thresholds:
        assert f"`{key}`" in rule.doc, f"{rule.code} does not document threshold {key}"


@pytest.mark.parametrize("rule", rules.all_rules(), ids=lambda r: r.code)
def test_rule_names_name_the_pattern(rule):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert not rule.name.startswith(("no-", "avoid-", "disallow-"))


def test_missing_section_is_detected():
    r = _registry.Rule(code="AP999", name="x", family="f", severity="low", summary="s",
                       doc="## What it does\nx\n## Why is this bad?\n\n## Example\ny")
    assert rules.missing_doc_sections(r) == ["Why is this bad?", "Use instead", "Thresholds", "References"]


def test_get_rule_by_code_or_name_and_unknown_code_hint():
    assert rules.get_rule("ap101").name == "sequential-independent-tool-calls"
    assert rules.get_rule("repeated-identical-tool-call").code == "AP401"
    with pytest.raises(UnknownRuleError) as exc:
        rules.get_rule("AP109")
    assert "AP109" in str(exc.value)
    assert "AP101" in exc.value.hint and "AP102" in exc.value.hint
    with pytest.raises(UnknownRuleError, match="agentprof rule --all"):
        rules.get_rule("zzz")


def test_default_thresholds_cover_every_rule_key():
    th = rules.default_thresholds()
    assert th["marginal_cost_growth"] == 0.15
    assert th["compounding_ratio"] == 10
    assert th["tool_error_rate_max"] == 0.05
    for r in rules.all_rules():
        for key, value in r.thresholds.items():
            assert th[key] == value


def test_render_rule_text_and_json():
    text = rules.render_rule_text(rules.get_rule("AP201"))
    assert text.startswith("# compounding-step-cost (AP201)\n")
    assert "`marginal_cost_growth` (default 0.15)" in text
    data = json.loads(rules.rules_as_json())
    assert [d["code"] for d in data] == [r.code for r in rules.all_rules()]
    assert data[0]["thresholds"]["parallel_saving_min_s"] == 0.5
    assert {"code", "name", "family", "severity", "summary", "thresholds", "doc"} == set(data[0])


def test_docs_rules_md_is_up_to_date():
    assert DOCS.read_text(encoding="utf-8") == rules.render_rules_markdown(), (
        "docs/rules.md is stale: python -m agentprof.analyzers.rules > docs/rules.md"
    )


def _codes(profile) -> set[str]:
    return {f.code for f in profile.findings}


def test_select_and_ignore_by_prefix(builder):
    compounding_history(builder)
    builder.trace()
    sequential_retrieval(builder)
    everything = _codes(analyze_trace(builder)[0])
    assert {"AP101", "AP201", "AP202", "AP203", "AP502"} <= everything

    assert _codes(analyze_trace(builder, select=("AP2",))[0]) == {c for c in everything if c.startswith("AP2")}
    only = _codes(analyze_trace(builder, select=("AP2",), ignore=("AP20",))[0])
    assert only == set()
    # The more specific prefix wins: select AP203 beats ignore AP2.
    assert _codes(analyze_trace(builder, select=("AP203",), ignore=("AP2",))[0]) == {"AP203"}
    assert _codes(analyze_trace(builder, ignore=("AP2", "AP5"))[0]) == {c for c in everything if c[:3] in ("AP1", "AP3", "AP4")}
    # ignore beats select for the same prefix.
    assert _codes(analyze_trace(builder, select=("AP1",), ignore=("AP1",))[0]) == set()


def test_a_failing_rule_is_logged_and_skipped(builder, monkeypatch, caplog):
    def boom(ctx):
        raise RuntimeError("bug in a rule")

    broken = _registry.Rule(code="AP499", name="broken-rule", family="tools and loops", severity="low",
                            summary="s", doc="", check=boom)
    monkeypatch.setitem(_registry._RULES, "AP499", broken)
    sequential_retrieval(builder)
    with caplog.at_level("WARNING", logger="agentprof.rules"):
        profile, _ = analyze_trace(builder)
    assert of(profile, "AP101")  # the other rules still ran
    assert not of(profile, "AP499")
    assert any("AP499" in r.getMessage() for r in caplog.records)
