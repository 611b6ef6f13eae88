"""The data the HTML report embeds: display-ready tables, per-run detail and plotly figures.

Two kinds of strings leave here. Plain strings (span names, attributes, messages) are raw:
the page only ever puts them into the DOM with ``textContent``. Strings inside plotly
figures (hover text, tick labels, legend names) are HTML-escaped here, because plotly.js
renders them as (a subset of) HTML. Numbers are formatted with ``_format`` so the page
reads exactly like the terminal and Markdown reports.
"""

from __future__ import annotations

import html
from typing import Any, Final

from agentprof.profile import BUCKET_LABELS, BUCKETS, COMPONENT_LABELS, Profile, Run, SpanView
from agentprof.reports import _format as F
from agentprof.reports import _select as S
from agentprof.reports._theme import (
    BUCKET_COLORS,
    CATEGORY_COLORS,
    COMPONENT_COLORS,
    CRITICAL_OUTLINE,
    HIGHLIGHT_OUTLINE,
)

MAX_WATERFALL_BARS: Final = 400
"""Bars per waterfall: above this, the critical path and the longest spans are drawn."""
MAX_EXPLORER_SPANS: Final = 10_000
"""Spans per run listed in the span explorer."""
MAX_DETAIL_RUNS: Final = 50
"""Runs whose detail (figures, steps, spans) the page embeds; the picker offers these."""
MAX_RUN_ROWS: Final = 200
"""Runs listed in the runs table (slowest first)."""
MAX_ATTR_CHARS: Final = 300
MAX_ATTR_VALUE_CHARS: Final = 120


def esc(text: object, max_chars: int = 80) -> str:
    """Untrusted text for plotly (which renders HTML tags): one line, cut, HTML-escaped."""
    return html.escape(F.one_line(text, max_chars), quote=True)


def attr_text(attributes: dict[str, Any]) -> str:
    """Attributes as ``key=value; …``, each value cut, the whole cut (raw, not escaped)."""
    parts = []
    for key in sorted(attributes, key=str):
        value = attributes[key]
        parts.append(f"{F.one_line(key, 60)}={F.one_line(value, MAX_ATTR_VALUE_CHARS)}")
    return F.one_line("; ".join(parts), MAX_ATTR_CHARS)


def build_payload(profile: Profile) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    agg = profile.aggregates
    src = S.cost_sources_total(profile)
    default = S.default_run(profile)
    detail_runs = [r for r in profile.runs if S.has_detail(r)]
    # Keep the slowest runs with detail, and always the default one.
    detail_runs = sorted(detail_runs, key=lambda r: -r.wall_ns)[:MAX_DETAIL_RUNS]
    payload: dict[str, Any] = {
        "version": profile.agentprof_version,
        "schema_version": profile.schema_version,
        "headline": {
            "run_count": len(profile.runs),
            "ok_count": sum(r.ok for r in profile.runs),
            "wall_ns": S.total_wall_ns(profile),
            "slowest_wall_ns": max((r.wall_ns for r in profile.runs), default=0),
            "total_cost_usd": agg.total_cost_usd,
            "input_tokens": agg.total_input_tokens,
            "output_tokens": agg.total_output_tokens,
            "cache_read_tokens": agg.total_cache_read_tokens,
            "cache_write_tokens": agg.total_cache_write_tokens,
            "cost_sources": src,
            "unknown_models": list(profile.unknown_models),
            "price_notes": list(profile.price_notes),
            "text": {
                "wall": F.fmt_duration_ns(S.total_wall_ns(profile)),
                "slowest": F.fmt_duration_ns(max((r.wall_ns for r in profile.runs), default=0)),
                "cost": F.fmt_usd(agg.total_cost_usd),
                "cost_sources": f"{F.plural(sum(src.values()), 'LLM call')}: "
                                f"{src['reported']:,} reported, {src['computed']:,} computed, "
                                f"{src['unknown']:,} unknown price",
                "tokens": f"input {F.fmt_tokens(agg.total_input_tokens)} · output "
                          f"{F.fmt_tokens(agg.total_output_tokens)} · cache read "
                          f"{F.fmt_tokens(agg.total_cache_read_tokens)} · cache write "
                          f"{F.fmt_tokens(agg.total_cache_write_tokens)}",
                "success": F.fmt_share(agg.success_rate),
            },
        },
        "findings": [
            {"code": f.code, "name": f.name, "severity": f.severity, "message": f.message,
             "suggestion": f.suggestion, "run_id": f.run_id, "span_ids": list(f.span_ids),
             "est_savings_s": f.est_savings_s, "est_savings_usd": f.est_savings_usd,
             "saving_text": F.fmt_savings(f.est_savings_s, f.est_savings_usd)}
            for f in profile.findings],
        "runs": [_run_row(r) for r in S.runs_by_wall(profile)[:MAX_RUN_ROWS]],
        "runs_total": len(profile.runs),
        "runs_elided": profile.runs_elided,
        "detail_run_ids": [r.run_id for r in detail_runs],
        "default_run": default.run_id if default is not None and S.has_detail(default) else None,
        "details": {r.run_id: run_detail(r) for r in detail_runs},
        "distributions": [
            {"metric": d.metric, "label": S.metric_label(d.metric), "unit": d.unit,
             "count": d.count, "component": d.metric.startswith("component:"),
             "text": [F.fmt_metric(v, d.unit) for v in (d.p50, d.p95, d.p99, d.mean, d.max)]}
            for d in S.visible_distributions(agg.distributions)],
        "tools": [
            {"tool_name": t.tool_name, "text": [f"{t.calls:,}", f"{t.errors:,}",
                                                F.fmt_share(t.error_rate),
                                                F.fmt_metric(t.p50_ms, "ms"),
                                                F.fmt_metric(t.p95_ms, "ms")]}
            for t in agg.tools],
        "alerts": [
            {"metric": a.metric, "breached": a.breached,
             "text": f"{a.metric} = {a.value:.4g} (alert when {a.comparison} {a.threshold:.4g}; "
                     f"{a.config_key})"} for a in agg.alerts],
        "sources": [
            {"path": s.path, "format": s.format, "spans_read": s.spans_read,
             "spans_skipped": s.spans_skipped, "problems": list(s.problems[:50])}
            for s in profile.sources if s.problems or s.spans_skipped],
        "figures": {},
    }
    if len(profile.runs) > 1:
        payload["figures"]["wall_hist"] = _wall_histogram(profile)
    return payload


def _run_row(r: Run) -> dict[str, Any]:
    return {"run_id": r.run_id, "name": r.name, "ok": r.ok, "detail": S.has_detail(r),
            "text": [F.short_id(r.run_id), F.fmt_duration_ns(r.wall_ns), F.fmt_usd(r.cost_usd),
                     F.fmt_compact(r.input_tokens + r.output_tokens), f"{r.step_count:,}",
                     "ok" if r.ok else "error"]}


def run_detail(run: Run) -> dict[str, Any]:
    """One run's figures, steps, critical path and span explorer rows."""
    shown, hidden = S.select_spans(run.spans, MAX_WATERFALL_BARS)
    explorer = S.tree_order(run.spans)[:MAX_EXPLORER_SPANS]
    wall = run.wall_ns
    return {
        "run_id": run.run_id,
        "title": f"{F.one_line(run.name, 100)} · {F.fmt_duration_ns(wall)} · "
                 f"{F.fmt_usd(run.cost_usd)} · {F.plural(run.step_count, 'step')} · "
                 f"{F.plural(run.llm_call_count, 'LLM call')} · "
                 f"{F.plural(run.tool_call_count, 'tool call')} · "
                 f"{F.plural(run.error_count, 'error')}",
        "waterfall_span_ids": [s.span_id for s in shown],
        "waterfall_note": (f"Showing {len(shown):,} of {len(run.spans):,} spans: the critical "
                           "path first, then the longest. The span explorer lists "
                           f"{min(len(run.spans), MAX_EXPLORER_SPANS):,}.") if hidden else "",
        "explorer_note": (f"The explorer lists the first {MAX_EXPLORER_SPANS:,} of "
                          f"{len(run.spans):,} spans." if len(run.spans) > MAX_EXPLORER_SPANS
                          else ""),
        "spans": [_span_row(s, run.start_ns) for s in explorer],
        "steps": [
            {"index": s.index, "span_id": s.span_id,
             "span_ids": [s.span_id, *s.llm_span_ids, *s.tool_span_ids],
             "cells": [str(s.index), s.agent_name or F.MISSING, s.model or F.MISSING,
                       F.fmt_tokens(s.input_tokens), F.fmt_tokens(s.output_tokens),
                       F.fmt_usd(s.cost_usd), F.fmt_signed_usd(s.marginal_cost_usd),
                       F.fmt_duration_ns(s.duration_ns), S.tool_summary(s.tool_names),
                       str(s.error_count)]}
            for s in run.steps],
        "critical_path": [
            {"span_id": p.span_id, "cells": [p.name, p.category, F.fmt_duration_ns(p.on_path_ns),
                                             F.fmt_share(p.share)]}
            for p in run.critical_path[:500]],
        "critical_path_total": len(run.critical_path),
        "figures": {
            "waterfall": waterfall_figure(run, shown),
            "components": _components_figure(run),
            "buckets": _buckets_figure(run),
            "marginal": _marginal_figure(run),
        },
    }


def _span_row(s: SpanView, t0_ns: int) -> dict[str, Any]:
    return {"id": s.span_id, "parent": s.parent_span_id, "depth": s.depth,
            "crit": s.on_critical_path, "error": s.status == "error",
            "cells": [F.one_line(s.name, 200), s.category,
                      F.fmt_duration_ns(s.start_ns - t0_ns), F.fmt_duration_ns(s.duration_ns),
                      F.fmt_duration_ns(s.self_time_ns), s.status,
                      F.one_line(s.model or s.tool_name or "", 80),
                      "" if s.input_tokens is None and s.output_tokens is None else
                      f"{F.fmt_tokens(s.input_tokens or 0)} / {F.fmt_tokens(s.output_tokens or 0)}",
                      F.fmt_usd(s.cost_usd) if s.cost_usd is not None else "",
                      attr_text(s.attributes)]}


def _hover(s: SpanView, t0_ns: int) -> str:
    """Hover text for one bar: every trace string escaped, joined by our own <br>."""
    lines = [f"<b>{esc(s.name, 80)}</b>", f"{esc(s.category, 20)} · {esc(s.status, 10)}"
             + (" · critical path" if s.on_critical_path else ""),
             f"start +{F.fmt_duration_ns(s.start_ns - t0_ns)} · duration "
             f"{F.fmt_duration_ns(s.duration_ns)} · self {F.fmt_duration_ns(s.self_time_ns)}"]
    if s.model:
        lines.append("model " + esc(s.model, 60))
    if s.tool_name:
        lines.append("tool " + esc(s.tool_name, 60))
    if s.input_tokens is not None or s.output_tokens is not None:
        lines.append(f"tokens in {F.fmt_tokens(s.input_tokens or 0)} / out "
                     f"{F.fmt_tokens(s.output_tokens or 0)}")
    if s.cost_usd is not None:
        lines.append("cost " + F.fmt_usd(s.cost_usd))
    if s.error_type:
        lines.append("error " + esc(s.error_type, 60))
    for key in sorted(s.attributes, key=str)[:8]:
        lines.append(f"{esc(key, 40)} = {esc(s.attributes[key], 60)}")
    if len(s.attributes) > 8:
        lines.append(f"… {len(s.attributes) - 8} more attributes (span explorer)")
    return "<br>".join(lines)


def _figure(data: list, layout: dict) -> dict[str, Any]:
    """A plotly figure as JSON-ready dict, validated by plotly; the template is shared."""
    import plotly.graph_objects as go

    fig = go.Figure(data=data, layout=layout).to_plotly_json()
    fig["layout"].pop("template", None)
    return fig


def waterfall_figure(run: Run, shown: list[SpanView]) -> dict[str, Any]:
    """Horizontal bars (base = start) nested by parent, one trace per category.

    y is the row number (not the name, which may repeat); tick labels carry the indented
    names. Critical-path bars are opaque with a red outline; the last trace, empty at
    first, is where the page draws the spans of a clicked finding.
    """
    import plotly.graph_objects as go

    t0 = run.start_ns
    row = {s.span_id: i for i, s in enumerate(shown)}
    by_cat: dict[str, list[SpanView]] = {}
    for s in shown:
        by_cat.setdefault(s.category, []).append(s)
    traces = []
    for cat in sorted(by_cat, key=lambda c: (list(CATEGORY_COLORS).index(c)
                                             if c in CATEGORY_COLORS else 99, c)):
        spans = by_cat[cat]
        traces.append(go.Bar(
            orientation="h", name=esc(cat, 20), meta="spans", width=0.7,
            y=[row[s.span_id] for s in spans],
            base=[(s.start_ns - t0) / 1e6 for s in spans],
            x=[max(s.duration_ns, 0) / 1e6 for s in spans],
            customdata=[s.span_id for s in spans],
            hovertext=[_hover(s, t0) for s in spans], hoverinfo="text",
            marker={"color": CATEGORY_COLORS.get(cat, CATEGORY_COLORS["other"]),
                    "opacity": [1.0 if s.on_critical_path else 0.55 for s in spans],
                    "line": {"color": CRITICAL_OUTLINE,
                             "width": [1.5 if s.on_critical_path else 0 for s in spans]}}))
    traces.append(go.Bar(orientation="h", name="selected", meta="highlight", width=0.9, y=[],
                         base=[],
                         x=[], showlegend=False, hoverinfo="skip",
                         marker={"color": "rgba(0,0,0,0)",
                                 "line": {"color": HIGHLIGHT_OUTLINE, "width": 3}}))
    # Tick labels are right-aligned; in a monospace font, padding every label to one length
    # (with no-break spaces, which plotly keeps) makes the depth indentation visible.
    raw = ["\u00a0\u00a0" * min(s.depth, 8) + F.one_line(s.name, 36) for s in shown]
    width = max((len(r) for r in raw), default=0)
    names = [html.escape(r.ljust(width, "\u00a0"), quote=True) for r in raw]
    height = max(260, min(18 * len(shown) + 120, 4000))
    return _figure(traces, {
        "barmode": "overlay", "height": height, "bargap": 0.25,
        "margin": {"l": 30 + 7 * width, "r": 20, "t": 30, "b": 40},
        "xaxis": {"title": {"text": "ms since run start"}, "rangemode": "tozero"},
        "yaxis": {"autorange": "reversed", "tickmode": "array",
                  "tickvals": list(range(len(shown))), "ticktext": names,
                  "automargin": False,
                  "tickfont": {"size": 11, "family": "ui-monospace, Menlo, Consolas, monospace"}},
        "legend": {"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
        "hoverlabel": {"align": "left"},
    })


def _components_figure(run: Run) -> dict[str, Any]:
    import plotly.graph_objects as go

    parts = [c for c in run.components if c.duration_ns > 0]
    labels = [esc(COMPONENT_LABELS.get(c.name, c.name), 40) for c in parts]
    return _figure([go.Bar(
        orientation="h", y=labels, x=[c.duration_ns / 1e9 for c in parts],
        text=[F.fmt_share(c.share) for c in parts], textposition="auto",
        hovertext=[f"{lab}: {F.fmt_duration_ns(c.duration_ns)} ({F.fmt_share(c.share)})"
                   for lab, c in zip(labels, parts)], hoverinfo="text",
        marker={"color": [COMPONENT_COLORS.get(c.name, "#999") for c in parts]})], {
        "height": 60 + 34 * max(len(parts), 1), "margin": {"l": 170, "r": 20, "t": 10, "b": 40},
        "xaxis": {"title": {"text": "seconds on the critical path"}},
        "yaxis": {"autorange": "reversed"}})


def _buckets_figure(run: Run) -> dict[str, Any]:
    import plotly.graph_objects as go

    steps = run.steps
    estimated = any(s.buckets.estimated for s in steps)
    traces = [go.Bar(name=esc(BUCKET_LABELS[b], 40), x=[s.index for s in steps],
                     y=[s.buckets.as_mapping()[b] for s in steps],
                     marker={"color": BUCKET_COLORS[b]},
                     hovertemplate=f"step %{{x}}<br>{esc(BUCKET_LABELS[b], 40)}: "
                                   "%{y:,.0f} tokens<extra></extra>")
              for b in BUCKETS]
    title = "input tokens by prompt part" + (" (estimated)" if estimated else "")
    return _figure(traces, {"barmode": "stack", "height": 320,
                            "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
                            "title": {"text": title, "font": {"size": 13}},
                            "xaxis": {"title": {"text": "step"}, "dtick": 1 if len(steps) <= 30
                                      else None},
                            "yaxis": {"title": {"text": "tokens"}}})


def _marginal_figure(run: Run) -> dict[str, Any]:
    import plotly.graph_objects as go

    steps = run.steps
    x = [s.index for s in steps]
    return _figure([
        go.Scatter(name="cost per step", x=x, y=[s.cost_usd for s in steps],
                   mode="lines+markers", hovertemplate="step %{x}: $%{y:.5f}<extra></extra>"),
        go.Scatter(name="marginal cost", x=x, y=[s.marginal_cost_usd for s in steps],
                   mode="lines+markers", line={"dash": "dot"},
                   hovertemplate="step %{x}: %{y:+.5f} USD vs previous<extra></extra>"),
    ], {"height": 320, "margin": {"l": 70, "r": 20, "t": 30, "b": 40},
        "title": {"text": "cost and marginal cost per step (USD)", "font": {"size": 13}},
        "xaxis": {"title": {"text": "step"}}, "yaxis": {"title": {"text": "USD"}}})


def _wall_histogram(profile: Profile) -> dict[str, Any]:
    import plotly.graph_objects as go

    return _figure([go.Histogram(x=[r.wall_ns / 1e9 for r in profile.runs], nbinsx=40,
                                 marker={"color": CATEGORY_COLORS["agent"]},
                                 hovertemplate="%{x} s: %{y} runs<extra></extra>")],
                   {"height": 260, "margin": {"l": 50, "r": 20, "t": 30, "b": 40},
                    "title": {"text": "wall time per run (s)", "font": {"size": 13}},
                    "xaxis": {"title": {"text": "seconds"}},
                    "yaxis": {"title": {"text": "runs"}}})


def shared_template() -> dict[str, Any]:
    """The plotly layout template every figure uses (embedded once, not per figure)."""
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()
