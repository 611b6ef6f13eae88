"""The Markdown report: a compact summary that fits a pull-request comment.

Headline numbers, the top findings with their savings, the per-step table of the slowest
run, where its time went, and distributions when there are several runs. The text stays far
under GitHub's 65,536-character comment limit (typically a few KB, capped hard at
``MAX_CHARS``). Every string from a trace is escaped so it can neither inject HTML nor break
a table (pipes, backticks, brackets, angle brackets).
"""

from __future__ import annotations

from typing import Final

from agentprof.profile import COMPONENT_LABELS, Profile, Run
from agentprof.reports import _format as F
from agentprof.reports import _select as S

MAX_CHARS: Final = 65_536
"""GitHub's limit for one comment; the report is cut (with a note) before it."""
MAX_FINDINGS: Final = 10
MAX_FINDINGS_PER_CODE: Final = 2
MAX_STEPS: Final = 20
MAX_PATH: Final = 5
MAX_TOOLS: Final = 10
MAX_PROBLEMS: Final = 3

_MD_SPECIAL = "\\`*_[]|~"


def escape(text: object, max_chars: int = 120) -> str:
    """Untrusted text made inert in Markdown and HTML, on one line, at most ``max_chars``.

    ``&``, ``<`` and ``>`` become entities (no HTML tag can form); Markdown punctuation that
    could start emphasis, code, links or table cells is backslash-escaped.
    """
    s = F.one_line(text, max_chars)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in s)


def render(profile: Profile, *, html_name: str | None = None) -> str:
    """The Markdown summary of ``profile``.

    Args:
        profile: The analysis to summarise.
        html_name: Name of the HTML report written next to it; adds a pointer to it.
            Defaults to None (no pointer).
    """
    parts: list[str] = []
    parts += _headline(profile)
    if html_name:
        parts.append(f"Full interactive report: `{_code(html_name)}` (open it in a browser; "
                     "it works offline).")
        parts.append("")
    parts += _findings(profile)
    if len(profile.runs) > 1:
        parts += _across_runs(profile)
    run = S.default_run(profile)
    if run is not None:
        parts += _run(profile, run)
    parts += _sources(profile)
    text = "\n".join(parts).rstrip() + "\n"
    if len(text) > MAX_CHARS:
        note = "\n\n_(Report cut to fit a comment; see the HTML or JSON report.)_\n"
        cut = text.rfind("\n", 0, MAX_CHARS - len(note))
        text = text[:cut] + note
    return text


def _code(text: str) -> str:
    """Text for inside a code span: backticks cannot close it, newlines cannot escape it."""
    return F.one_line(text, 120).replace("`", "'")


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def _headline(profile: Profile) -> list[str]:
    agg = profile.aggregates
    runs = profile.runs
    ok = sum(r.ok for r in runs)
    src = S.cost_sources_total(profile)
    calls = sum(src.values())
    wall = F.fmt_duration_ns(S.total_wall_ns(profile))
    title = (f"## agentprof: {len(runs):,} run{'s' if len(runs) != 1 else ''} · {wall} · "
             f"{F.fmt_usd(agg.total_cost_usd)}")
    rows = [
        ["Runs", f"{len(runs):,} ({ok:,} ok, {len(runs) - ok:,} failed)"],
        ["Wall time", wall + (f" total, slowest {F.fmt_duration_ns(max(r.wall_ns for r in runs))}"
                              if len(runs) > 1 else "")],
        ["Cost", f"{F.fmt_usd(agg.total_cost_usd)} ({F.plural(calls, 'LLM call')}: "
                 f"{src['reported']:,} reported, {src['computed']:,} computed, "
                 f"{src['unknown']:,} unknown price)"],
        ["Tokens", f"input {F.fmt_tokens(agg.total_input_tokens)} · output "
                   f"{F.fmt_tokens(agg.total_output_tokens)} · cache read "
                   f"{F.fmt_tokens(agg.total_cache_read_tokens)} · cache write "
                   f"{F.fmt_tokens(agg.total_cache_write_tokens)}"],
    ]
    out = [title, ""] + _table(["", ""], rows, "ll")
    if profile.unknown_models:
        names = ", ".join(escape(m, 60) for m in profile.unknown_models[:5])
        more = len(profile.unknown_models) - 5
        out += [f"> **No price for {names}{f' and {more} more' if more > 0 else ''}**: "
                "the cost above leaves these calls out.", ""]
    return out


def _findings(profile: Profile) -> list[str]:
    findings = profile.findings
    out = [f"### Findings ({len(findings)})", ""]
    if not findings:
        return out + ["No rule fired.", ""]
    many = len(profile.runs) > 1
    shown, held = S.findings_for_display(findings, MAX_FINDINGS_PER_CODE if many else None)
    for i, f in enumerate(shown[:MAX_FINDINGS], 1):
        saving = F.fmt_savings(f.est_savings_s, f.est_savings_usd)
        head = f"{i}. **{escape(f.code, 12)}** {escape(f.name, 60)} ({escape(f.severity, 10)}"
        head += f", saves {saving})" if saving != F.MISSING else ")"
        if many and f.run_id:
            head += f" · run `{_code(F.short_id(f.run_id))}`"
        out.append(head + ": " + escape(f.message, 300) + "  ")
        out.append("   → " + escape(f.suggestion, 300))
    if held:
        out.append(f"\n_{S.held_note(held)} (in other runs)._")
    if len(shown) > MAX_FINDINGS:
        out.append(f"\n_{len(shown) - MAX_FINDINGS} more findings in the full report._")
    return out + [""]


def _across_runs(profile: Profile) -> list[str]:
    agg = profile.aggregates
    out = [f"### Across {agg.run_count:,} runs", "",
           f"Success rate {F.fmt_share(agg.success_rate)}"
           + (f" · escalation rate {F.fmt_share(agg.escalation_rate)}"
              if agg.escalation_rate is not None else ""), ""]
    if agg.distributions:
        rows = [[escape(S.metric_label(d.metric), 40)]
                + [F.fmt_metric(v, d.unit) for v in (d.p50, d.p95, d.p99, d.mean, d.max)]
                for d in S.visible_distributions(agg.distributions)]
        out += _table(["metric", "p50", "p95", "p99", "mean", "max"], rows, "lrrrrr")
    breached = [a for a in agg.alerts if a.breached]
    for a in breached:
        out.append(f"- ⚠️ **{escape(a.metric, 40)}** = {a.value:.4g} (alert when "
                   f"{escape(a.comparison, 2)} {a.threshold:.4g}; `{_code(a.config_key)}`)")
    if breached:
        out.append("")
    if agg.tools:
        tools = sorted(agg.tools, key=lambda t: -t.calls)[:MAX_TOOLS]
        rows = [[escape(t.tool_name, 40), f"{t.calls:,}", f"{t.errors:,}",
                 F.fmt_share(t.error_rate), F.fmt_metric(t.p50_ms, "ms"),
                 F.fmt_metric(t.p95_ms, "ms")] for t in tools]
        out += _table(["tool", "calls", "errors", "error rate", "p50", "p95"], rows, "lrrrrr")
        if len(agg.tools) > MAX_TOOLS:
            out += [f"_{len(agg.tools) - MAX_TOOLS} more tools in the full report._", ""]
    return out


def _run(profile: Profile, run: Run) -> list[str]:
    many = len(profile.runs) > 1
    slowest = max(r.wall_ns for r in profile.runs)
    which = "Slowest run" if run.wall_ns == slowest else "Slowest run with detail"
    title = f"### {which} `{_code(F.short_id(run.run_id))}`" if many else "### Run"
    out = [title, "",
           f"{escape(run.name, 80)}: {F.fmt_duration_ns(run.wall_ns)} · "
           f"{F.fmt_usd(run.cost_usd)} · {F.plural(run.step_count, 'step')} · "
           f"{F.plural(run.llm_call_count, 'LLM call')} · "
           f"{F.plural(run.tool_call_count, 'tool call')} · {F.plural(run.error_count, 'error')}",
           ""]
    if run.steps:
        rows = [[str(s.index), escape(s.model or F.MISSING, 40), F.fmt_tokens(s.input_tokens),
                 F.fmt_tokens(s.output_tokens), F.fmt_usd(s.cost_usd),
                 F.fmt_signed_usd(s.marginal_cost_usd), F.fmt_duration_ns(s.duration_ns),
                 escape(S.tool_summary(s.tool_names), 60), str(s.error_count)]
                for s in run.steps[:MAX_STEPS]]
        out += _table(["#", "model", "in", "out", "cost", "marginal", "time", "tools", "err"],
                      rows, "rlrrrrrlr")
        if len(run.steps) > MAX_STEPS:
            out += [f"_First {MAX_STEPS} of {len(run.steps):,} steps; the full report has all._",
                    ""]
    parts = [c for c in run.components if c.duration_ns > 0]
    if parts:
        rows = [[COMPONENT_LABELS.get(c.name, escape(c.name, 30)),
                 F.fmt_duration_ns(c.duration_ns), F.fmt_share(c.share)] for c in parts]
        out += ["**Where the time went** (critical path)", ""]
        out += _table(["component", "time", "share"], rows, "lrr")
    if run.critical_path:
        top = sorted(run.critical_path, key=lambda p: -p.on_path_ns)[:MAX_PATH]
        out += [f"**Critical path**: {len(run.critical_path):,} spans; longest:", ""]
        out += [f"- {escape(p.name, 60)} ({escape(p.category, 12)}): "
                f"{F.fmt_duration_ns(p.on_path_ns)}, {F.fmt_share(p.share)}" for p in top]
        out.append("")
    return out


def _sources(profile: Profile) -> list[str]:
    troubled = [s for s in profile.sources if s.problems or s.spans_skipped]
    if not troubled:
        return []
    out = ["### Input problems", ""]
    for src in troubled:
        out.append(f"- {escape(src.path, 80)}: {src.spans_read:,} spans read, "
                   f"{src.spans_skipped:,} skipped")
        out += [f"  - {escape(p, 200)}" for p in src.problems[:MAX_PROBLEMS]]
        if len(src.problems) > MAX_PROBLEMS:
            out.append(f"  - … {len(src.problems) - MAX_PROBLEMS} more")
    return out + [""]
