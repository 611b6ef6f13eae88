"""The terminal report (rich): what a run spent, where its time went, and what to change.

``render(profile, console)`` prints to a rich Console; the Console decides colour (none when
stdout is not a terminal). Every string from a trace goes through ``Text`` (never markup),
so a span named ``[bold]x`` prints as written. Long inputs are cut to a readable size with
a note saying how to see everything (``--all``, ``--run ID``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from agentprof.profile import BUCKETS, COMPONENT_LABELS, Profile, Run
from agentprof.reports import _format as F
from agentprof.reports import _select as S
from agentprof.reports._theme import category_style, terminal_theme

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

MAX_WATERFALL_ROWS: Final = 40
MAX_STEP_ROWS: Final = 30
MAX_PATH_ROWS: Final = 20
MAX_FINDINGS: Final = 15
MAX_FINDINGS_PER_CODE: Final = 2
"""With several runs, one rule's findings beyond this many are summed up in one line."""
MAX_RUN_ROWS: Final = 10
MAX_PROBLEMS_PER_FILE: Final = 5


def render(profile: Profile, console: Console, *, show_all: bool = False,
           run_id: str | None = None) -> None:
    """Print the report of ``profile`` on ``console``.

    Args:
        profile: The analysis to show.
        console: Where to print; its width and colour system decide the layout.
        show_all: Show every run's detail, every step, span and finding. Defaults to False.
        run_id: Show the detail of this run (id or unique prefix). Defaults to the slowest.

    Raises:
        ConfigError: ``run_id`` names no run of the profile.
    """
    chosen = S.find_run(profile, run_id) if run_id else None
    console.push_theme(terminal_theme())
    try:
        for part in _sections(profile, console.width, show_all, chosen):
            console.print(part)
    finally:
        console.pop_theme()


def _sections(profile: Profile, width: int, show_all: bool, chosen: Run | None):
    from rich.text import Text

    yield from _header(profile)
    yield from _sources(profile, show_all)
    many = len(profile.runs) > 1
    if many and chosen is None:
        yield from _across_runs(profile, show_all)
    if chosen is not None:
        detail = [chosen]
    elif show_all:
        detail = [r for r in profile.runs if S.has_detail(r)]
    else:
        first = S.default_run(profile)
        detail = [first] if first is not None else []
    for run in detail:
        yield from _run_detail(profile, run, width, show_all, many)
    if many and not show_all and chosen is None and detail:
        yield Text(f"Detail shown for run {F.short_id(detail[0].run_id)} only (slowest with "
                   "detail); see another with --run ID, every run with --all.",
                   style="agentprof.note")
    yield from _findings(profile, show_all, chosen)


def _heading(title: str) -> RenderableType:
    from rich.text import Text

    return Text.assemble("\n", (title, "agentprof.heading"))


def _t(text: object, style: str = "", max_chars: int = 60):
    """Untrusted text as a rich Text: one line, cut, never parsed as markup."""
    from rich.text import Text

    return Text(F.one_line(text, max_chars), style=style)


def _header(profile: Profile):
    from rich.table import Table
    from rich.text import Text

    agg = profile.aggregates
    runs = profile.runs
    ok = sum(r.ok for r in runs)
    title = Text.assemble((f"agentprof {profile.agentprof_version}", "agentprof.title"),
                          f" · {len(runs):,} run{'s' if len(runs) != 1 else ''}")
    if len(runs) > 1 or (runs and not runs[0].ok):
        title.append(f" ({ok:,} ok, {len(runs) - ok:,} failed)")
    yield title
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="agentprof.label", no_wrap=True)
    grid.add_column()
    wall = F.fmt_duration_ns(S.total_wall_ns(profile))
    if len(runs) > 1:
        slowest = max(r.wall_ns for r in runs)
        wall += f" total · slowest {F.fmt_duration_ns(slowest)}"
    grid.add_row("Wall time", wall)
    src = S.cost_sources_total(profile)
    calls = sum(src.values())
    cost = Text(F.fmt_usd(agg.total_cost_usd),
                style="agentprof.cost" if agg.total_cost_usd is not None
                else "agentprof.cost.unknown")
    cost.append(f"  ({F.plural(calls, 'LLM call')}: {src['reported']:,} reported, "
                f"{src['computed']:,} computed, {src['unknown']:,} unknown price)",
                style="agentprof.label")
    grid.add_row("Cost", cost)
    if profile.unknown_models:
        names = ", ".join(F.one_line(m, 40) for m in profile.unknown_models[:5])
        more = len(profile.unknown_models) - 5
        names += f" and {more} more" if more > 0 else ""
        grid.add_row("", Text(f"No price for {names}: the cost above leaves these calls out.",
                              style="agentprof.warning"))
    grid.add_row("Tokens", f"input {F.fmt_tokens(agg.total_input_tokens)} · output "
                 f"{F.fmt_tokens(agg.total_output_tokens)} · cache read "
                 f"{F.fmt_tokens(agg.total_cache_read_tokens)} · cache write "
                 f"{F.fmt_tokens(agg.total_cache_write_tokens)}")
    for note in profile.price_notes[:3]:
        grid.add_row("Prices", _t(note, "agentprof.note", 70))
    yield grid


def _sources(profile: Profile, show_all: bool):
    from rich.padding import Padding
    from rich.text import Text

    troubled = [s for s in profile.sources if s.problems or s.spans_skipped]
    if not troubled:
        return
    yield _heading("Input problems")
    for src in troubled:
        yield Text.assemble("  ", F.one_line(src.path, 60),
                            (f"  ({src.format}: {src.spans_read:,} spans read, "
                             f"{src.spans_skipped:,} skipped)", "agentprof.label"))
        cap = None if show_all else MAX_PROBLEMS_PER_FILE
        for problem in src.problems[:cap]:
            yield Padding(Text.assemble("- ", (F.one_line(problem, 200), "agentprof.warning")),
                          (0, 0, 0, 4))
        if cap is not None and len(src.problems) > cap:
            yield Text(f"    … {len(src.problems) - cap} more (--all shows them)",
                       style="agentprof.note")


def _across_runs(profile: Profile, show_all: bool):
    from rich.table import Table
    from rich.text import Text

    agg = profile.aggregates
    yield _heading(f"Across {agg.run_count:,} runs")
    line = f"Success rate {F.fmt_share(agg.success_rate)}"
    if agg.escalation_rate is not None:
        line += f" · escalation rate {F.fmt_share(agg.escalation_rate)}"
    yield Text(line)
    if agg.distributions:
        t = Table(box=None, pad_edge=False, header_style="agentprof.label")
        for name, justify in (("metric", "left"), ("p50", "right"), ("p95", "right"),
                              ("p99", "right"), ("mean", "right"), ("max", "right")):
            t.add_column(name, justify=justify, no_wrap=True)
        for d in S.visible_distributions(agg.distributions):
            label = S.metric_label(d.metric)
            if d.metric.startswith("component:"):
                label = "  " + label
            t.add_row(_t(label, max_chars=26), *(F.fmt_metric(v, d.unit)
                      for v in (d.p50, d.p95, d.p99, d.mean, d.max)))
        yield t
    if agg.tools:
        yield _heading("Tools")
        t = Table(box=None, pad_edge=False, header_style="agentprof.label")
        for name in ("tool", "calls", "errors", "error rate", "p50", "p95"):
            t.add_column(name, justify="left" if name == "tool" else "right", no_wrap=True)
        for ts in agg.tools:
            t.add_row(_t(ts.tool_name, max_chars=30), f"{ts.calls:,}", f"{ts.errors:,}",
                      Text(F.fmt_share(ts.error_rate),
                           style="agentprof.error" if ts.errors else ""),
                      F.fmt_metric(ts.p50_ms, "ms"), F.fmt_metric(ts.p95_ms, "ms"))
        yield t
    if agg.alerts:
        yield _heading("Alerts")
        for a in agg.alerts:
            mark = ("BREACHED", "agentprof.alert.breached") if a.breached else \
                ("ok", "agentprof.alert.ok")
            yield Text.assemble(("  " + mark[0].ljust(9), mark[1]),
                                f"{a.metric} = {a.value:.4g} (alert when {a.comparison} "
                                f"{a.threshold:.4g}; {a.config_key})")
    yield _heading("Slowest runs")
    ranked = S.runs_by_wall(profile)
    cap = None if show_all else MAX_RUN_ROWS
    t = Table(box=None, pad_edge=False, header_style="agentprof.label")
    for name in ("run", "name", "wall", "cost", "tokens", "steps", "status"):
        t.add_column(name, justify="left" if name in ("run", "name", "status") else "right",
                     no_wrap=name != "name", overflow="ellipsis", max_width=28 if
                     name == "name" else None)
    for r in ranked[:cap]:
        t.add_row(F.short_id(r.run_id), _t(r.name, max_chars=28), F.fmt_duration_ns(r.wall_ns),
                  F.fmt_usd(r.cost_usd), F.fmt_compact(r.input_tokens + r.output_tokens),
                  f"{r.step_count:,}", Text("ok", "agentprof.ok") if r.ok
                  else Text("error", "agentprof.error"))
    yield t
    if cap is not None and len(ranked) > cap:
        yield Text(f"… {len(ranked) - cap:,} more runs (--all lists them)",
                   style="agentprof.note")
    if profile.runs_elided:
        yield Text(f"{profile.runs_elided:,} runs were summarised without span detail to "
                   "bound size.", style="agentprof.note")


def _run_detail(profile: Profile, run: Run, width: int, show_all: bool, many: bool):
    from rich.text import Text

    title = f"Run {F.short_id(run.run_id)}" if many else "Run"
    yield _heading(title)
    yield Text.assemble(_t(run.name, "agentprof.title", 50),
                        (f"  {F.fmt_duration_ns(run.wall_ns)} · {F.fmt_usd(run.cost_usd)} · "
                         f"{F.plural(run.step_count, 'step')} · {F.plural(run.llm_call_count, 'LLM call')} · "
                         f"{F.plural(run.tool_call_count, 'tool call')} · {F.plural(run.error_count, 'error')}",
                         "agentprof.label"))
    if not S.has_detail(run):
        yield Text("No span detail kept for this run (large input).", style="agentprof.note")
        return
    yield from _steps(run, show_all, width)
    yield from _buckets(run, show_all)
    yield from _components(run, width)
    yield from _critical_path(run, show_all)
    from agentprof.reports._waterfall_text import waterfall_lines

    if run.spans:
        yield _heading("Waterfall (◆ critical path, ✗ error)")
        yield from waterfall_lines(run, width, None if show_all else MAX_WATERFALL_ROWS)


def _table(*columns: tuple[str, str], rows: list[list]) -> RenderableType:
    """A borderless table; each column (header, justify) is at least as wide as its cells.

    Number columns must never be squeezed to ``1,…``: only left-justified text columns may
    shrink (with an ellipsis) when the console is narrow.
    """
    from rich.table import Table

    t = Table(box=None, pad_edge=False, header_style="agentprof.label")
    for i, (header, justify) in enumerate(columns):
        widest = max([len(header)] + [len(str(getattr(r[i], "plain", r[i]))) for r in rows])
        if justify == "right":
            t.add_column(header, justify="right", no_wrap=True, min_width=widest)
        else:
            t.add_column(header, no_wrap=True, overflow="ellipsis",
                         min_width=min(widest, max(len(header), 6)))
    for r in rows:
        t.add_row(*r)
    return t


def _steps(run: Run, show_all: bool, width: int):
    from rich.text import Text

    if not run.steps:
        return
    yield _heading("Steps")
    cap = None if show_all else MAX_STEP_ROWS
    several_agents = len({s.agent_name for s in run.steps}) > 1
    # What is left of the width after the fixed columns goes to the tool list.
    tools_chars = max(12, width - 58 - (18 if several_agents else 0))
    rows = []
    for s in run.steps[:cap]:
        row = [str(s.index)]
        if several_agents:
            row.append(_t(s.agent_name or F.MISSING, max_chars=16))
        row += [_t(s.model or F.MISSING, max_chars=22), F.fmt_tokens(s.input_tokens),
                F.fmt_tokens(s.output_tokens), F.fmt_usd(s.cost_usd),
                F.fmt_duration_ns(s.duration_ns), _t(S.tool_summary(s.tool_names), max_chars=tools_chars),
                Text(str(s.error_count), style="agentprof.error") if s.error_count else "0"]
        rows.append(row)
    cols = [("#", "right")] + ([("agent", "left")] if several_agents else []) + [
        ("model", "left"), ("in", "right"), ("out", "right"), ("cost", "right"),
        ("time", "right"), ("tools", "left"), ("err", "right")]
    yield _table(*cols, rows=rows)
    if cap is not None and len(run.steps) > cap:
        yield Text(f"… {len(run.steps) - cap:,} more steps (--all shows every step)",
                   style="agentprof.note")


def _buckets(run: Run, show_all: bool):
    from rich.table import Table
    from rich.text import Text

    if not run.steps:
        return
    estimated = any(s.buckets.estimated for s in run.steps)
    yield _heading("Input tokens by prompt part" + (" (estimated)" if estimated else "")
                   + " and marginal cost")
    t = Table(box=None, pad_edge=False, header_style="agentprof.label")
    t.add_column("#", justify="right", no_wrap=True)
    for name in ("system", "tool schemas", "history", "tool outputs", "unattrib.",
                 "marginal", "growth"):
        t.add_column(name, justify="right", no_wrap=True)
    cap = None if show_all else MAX_STEP_ROWS
    for s in run.steps[:cap]:
        b = s.buckets.as_mapping()
        t.add_row(str(s.index), *(F.fmt_tokens(b[k]) for k in BUCKETS),
                  F.fmt_signed_usd(s.marginal_cost_usd), F.fmt_growth(s.cost_growth))
    yield t
    if cap is not None and len(run.steps) > cap:
        yield Text(f"… {len(run.steps) - cap:,} more steps", style="agentprof.note")


def _components(run: Run, width: int):
    from rich.table import Table
    from rich.text import Text

    parts = [c for c in run.components if c.duration_ns > 0]
    if not parts:
        return
    yield _heading("Where the time went (critical path)")
    bar_w = max(10, min(40, width - 48))
    t = Table(box=None, pad_edge=False, show_header=False)
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(no_wrap=True)
    for c in parts:
        label = COMPONENT_LABELS.get(c.name, c.name)
        n = round(max(0.0, min(1.0, c.share)) * bar_w)
        t.add_row(_t(label, max_chars=26), F.fmt_duration_ns(c.duration_ns), F.fmt_share(c.share),
                  Text("█" * n if n else "▏", style="agentprof.bar"))
    yield t
    total = sum(c.duration_ns for c in run.components)
    yield Text(f"Components sum to {F.fmt_duration_ns(total)} of {F.fmt_duration_ns(run.wall_ns)}"
               " wall time. 'LLM (not split)': calls without time-to-first-token; "
               "'Unattributed': time no rule explains.", style="agentprof.note")


def _critical_path(run: Run, show_all: bool):
    from rich.table import Table
    from rich.text import Text

    path = list(run.critical_path)
    if not path:
        return
    yield _heading(f"Critical path ({len(path):,} spans)")
    cap = None if show_all else MAX_PATH_ROWS
    shown = path
    if cap is not None and len(path) > cap:
        top = set(map(id, sorted(path, key=lambda p: -p.on_path_ns)[:cap]))
        shown = [p for p in path if id(p) in top]
    t = Table(box=None, pad_edge=False, header_style="agentprof.label")
    t.add_column("span", overflow="ellipsis", no_wrap=True, max_width=40)
    t.add_column("category", no_wrap=True)
    t.add_column("on path", justify="right", no_wrap=True)
    t.add_column("share", justify="right", no_wrap=True)
    for p in shown:
        t.add_row(_t(p.name, max_chars=40), Text(F.one_line(p.category, 12),
                  style=category_style(p.category)), F.fmt_duration_ns(p.on_path_ns),
                  F.fmt_share(p.share))
    yield t
    if len(shown) < len(path):
        yield Text(f"Showing the {len(shown)} spans holding the path longest of {len(path):,} "
                   "(--all shows the whole path).", style="agentprof.note")


def _findings(profile: Profile, show_all: bool, chosen: Run | None):
    from rich.padding import Padding
    from rich.text import Text

    findings = [f for f in profile.findings
                if chosen is None or f.run_id in (None, chosen.run_id)]
    yield _heading(f"Findings ({len(findings)})")
    if not findings:
        yield Text("No rule fired.", style="agentprof.note")
        return
    many = len(profile.runs) > 1
    cap = None if show_all else MAX_FINDINGS
    shown, held = S.findings_for_display(
        findings, MAX_FINDINGS_PER_CODE if many and not show_all else None)
    for f in shown[:cap]:
        head = Text.assemble((f.code, "agentprof.code"), " ",
                             (f.severity, f"agentprof.severity.{f.severity}"
                              if f.severity in ("high", "medium", "low", "info") else ""),
                             " ", _t(f.name, max_chars=50))
        saving = F.fmt_savings(f.est_savings_s, f.est_savings_usd)
        if saving != F.MISSING:
            head.append(f"  saves {saving}", style="agentprof.saving")
        if many and f.run_id:
            head.append(f"  run {F.short_id(f.run_id)}", style="agentprof.label")
        yield head
        yield Padding(Text(F.one_line(f.message, 400)), (0, 0, 0, 4))
        yield Padding(Text.assemble("→ ", (F.one_line(f.suggestion, 400), "agentprof.note")),
                      (0, 0, 0, 4))
    if held:
        yield Text(S.held_note(held) + " (in other runs; --all lists every finding)",
                   style="agentprof.note")
    if cap is not None and len(shown) > cap:
        yield Text(f"… {len(shown) - cap} more findings (--all shows them)",
                   style="agentprof.note")
