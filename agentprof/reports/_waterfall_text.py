"""The text waterfall: one row per span, nested by parent, bars scaled to the console width."""

from __future__ import annotations

from agentprof.profile import Run
from agentprof.reports import _format as F
from agentprof.reports import _select as S
from agentprof.reports._theme import category_style


def waterfall_lines(run: Run, width: int, max_rows: int | None):
    """Yield rich Text rows: marker, indented name, duration, bar; then a note if cut."""
    from rich.text import Text

    shown, hidden = S.select_spans(run.spans, max_rows)
    if not shown:
        return
    name_w = max(16, min(34, width // 3))
    dur_w = 8
    bar_w = max(10, width - name_w - dur_w - 5)
    t0 = run.start_ns
    wall = max(run.end_ns - run.start_ns, 1)
    scale = Text(" " * (name_w + dur_w + 4))
    left, right = "0", F.fmt_duration_ns(wall)
    scale.append(left + " " * max(1, bar_w - len(left) - len(right)) + right,
                 style="agentprof.label")
    yield scale
    for s in shown:
        indent = "  " * min(s.depth, 8)
        name = F.one_line(indent + F.one_line(s.name, 200), name_w).ljust(name_w)
        a = int((s.start_ns - t0) / wall * bar_w)
        b = int(round((s.end_ns - t0) / wall * bar_w))
        a = max(0, min(a, bar_w - 1))
        b = max(a + 1, min(b, bar_w))
        row = Text()
        row.append("◆" if s.on_critical_path else " ",
                   style="agentprof.critical" if s.on_critical_path else "")
        row.append("✗" if s.status == "error" else " ", style="agentprof.error")
        row.append(name, style="agentprof.error" if s.status == "error" else "")
        row.append(" " + F.fmt_duration_ns(s.duration_ns).rjust(dur_w) + " ")
        row.append(" " * a)
        row.append("█" * (b - a), style="agentprof.bar.critical" if s.on_critical_path
                   else category_style(s.category))
        yield row
    if hidden:
        yield Text(f"… {hidden:,} of {len(run.spans):,} spans not shown (kept the critical "
                   "path and the longest spans); --all shows every span.",
                   style="agentprof.note")
