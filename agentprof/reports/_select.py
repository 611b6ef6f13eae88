"""What a report shows when there is too much: which run gets detail, which spans get drawn.

Every report uses these choices, so the terminal, Markdown and HTML views of one Profile
show the same run and the same spans. Selection only picks from the Profile; it never
computes a number the analyzers did not.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentprof.errors import ConfigError
from agentprof.profile import Distribution, Finding, Profile, Run, SpanView


def has_detail(run: Run) -> bool:
    """True when the analyzers kept this run's spans or steps (not elided for size)."""
    return bool(run.spans or run.steps)


def find_run(profile: Profile, run_id: str) -> Run:
    """The run whose id is ``run_id`` or starts with it (ids are shown shortened)."""
    exact = [r for r in profile.runs if r.run_id == run_id]
    if exact:
        return exact[0]
    matches = [r for r in profile.runs if r.run_id.startswith(run_id.lower())]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        shown = ", ".join(r.run_id[:8] for r in profile.runs[:5])
        raise ConfigError(f"No run with id {run_id!r} in this input.",
                          hint=f"pass one of the run ids in the report (e.g. {shown})")
    raise ConfigError(f"Run id prefix {run_id!r} matches {len(matches)} runs.",
                      hint="pass more characters of the run id")


def default_run(profile: Profile) -> Run | None:
    """The run a report details by default: the slowest run that still has detail."""
    detailed = [(k, r) for k, r in enumerate(profile.runs) if has_detail(r)]
    pool = detailed or list(enumerate(profile.runs))
    if not pool:
        return None
    # The earliest of equally slow runs: by position (runs.index would make this quadratic).
    return max(pool, key=lambda kr: (kr[1].wall_ns, -kr[0]))[1]


def runs_by_wall(profile: Profile) -> list[Run]:
    """Runs, slowest first (ties keep input order)."""
    return sorted(profile.runs, key=lambda r: -r.wall_ns)


def tree_order(spans: Sequence[SpanView]) -> list[SpanView]:
    """Spans depth-first by parent, children by start time; orphans become roots.

    Iterative (a deep or cyclic trace cannot overflow the stack); each span appears once.
    """
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanView]] = {}
    for s in spans:
        parent = s.parent_span_id if s.parent_span_id in ids and s.parent_span_id != s.span_id \
            else None
        children.setdefault(parent, []).append(s)
    for kids in children.values():
        kids.sort(key=lambda s: (s.start_ns, -s.end_ns, s.span_id))
    out: list[SpanView] = []
    seen: set[str] = set()
    stack = list(reversed(children.get(None, [])))
    while stack:
        s = stack.pop()
        if s.span_id in seen:
            continue
        seen.add(s.span_id)
        out.append(s)
        stack.extend(reversed(children.get(s.span_id, [])))
    # Spans only reachable through a cycle: append in time order so none is lost.
    if len(out) < len(spans):
        out.extend(sorted((s for s in spans if s.span_id not in seen),
                          key=lambda s: (s.start_ns, s.span_id)))
    return out


def select_spans(spans: Sequence[SpanView], max_rows: int | None) -> tuple[list[SpanView], int]:
    """At most ``max_rows`` spans in tree order: the critical path first, then the longest.

    Ancestors of a kept span are kept too so nesting still reads. Returns the spans and how
    many were left out.
    """
    ordered = tree_order(spans)
    if max_rows is None or len(ordered) <= max_rows:
        return ordered, 0
    by_id = {s.span_id: s for s in spans}
    keep: set[str] = set()

    def add_with_ancestors(s: SpanView) -> None:
        chain = []
        cur: SpanView | None = s
        while cur is not None and cur.span_id not in keep and len(chain) <= len(by_id):
            chain.append(cur.span_id)
            cur = by_id.get(cur.parent_span_id) if cur.parent_span_id else None
        if len(keep) + len(chain) <= max_rows:
            keep.update(chain)

    ranked = sorted(spans, key=lambda s: (not s.on_critical_path, -s.duration_ns, s.start_ns))
    for s in ranked:
        if len(keep) >= max_rows:
            break
        add_with_ancestors(s)
    shown = [s for s in ordered if s.span_id in keep]
    return shown, len(ordered) - len(shown)


def tool_summary(tool_names: Sequence[str]) -> str:
    """``web_search, fetch_page ×2`` — tool names in first-call order with repeat counts."""
    counts: dict[str, int] = {}
    for name in tool_names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(n if c == 1 else f"{n} ×{c}" for n, c in counts.items())


def cost_sources_total(profile: Profile) -> dict[str, int]:
    """LLM calls per cost provenance over all runs (reported, computed, unknown)."""
    total = {"reported": 0, "computed": 0, "unknown": 0}
    for r in profile.runs:
        for k, v in r.cost_sources.items():
            total[k] = total.get(k, 0) + int(v)
    return total


def total_wall_ns(profile: Profile) -> int:
    """Sum of the runs' wall-clock times (the headline 'wall time')."""
    return sum(r.wall_ns for r in profile.runs)


def metric_label(metric: str) -> str:
    """A distribution's metric name for people (``component:ttft`` → ``Time to first token``)."""
    from agentprof.profile import COMPONENT_LABELS

    if metric.startswith("component:"):
        key = metric.split(":", 1)[1]
        return COMPONENT_LABELS.get(key, key)
    return {"wall_s": "Wall time", "cost_usd": "Cost", "total_tokens": "Tokens",
            "input_tokens": "Input tokens", "output_tokens": "Output tokens",
            "steps": "Steps", "llm_calls": "LLM calls", "tool_calls": "Tool calls"}.get(
                metric, metric)


def findings_for_display(findings: Sequence[Finding], per_code: int | None
                         ) -> tuple[list[Finding], dict[str, int]]:
    """At most ``per_code`` findings of each rule code (keeping the Profile's order).

    Over many runs one rule fires once per run; a list of 200 identical AP401s hides every
    other rule. Returns the findings to show and, per code, how many were held back.
    """
    if per_code is None:
        return list(findings), {}
    shown: list[Finding] = []
    held: dict[str, int] = {}
    seen: dict[str, int] = {}
    for f in findings:
        seen[f.code] = seen.get(f.code, 0) + 1
        if seen[f.code] <= per_code:
            shown.append(f)
        else:
            held[f.code] = held.get(f.code, 0) + 1
    return shown, held


def held_note(held: dict[str, int]) -> str:
    """``Also fired: AP101 3 more times, AP201 1 more time`` for findings held back."""
    parts = [f"{code} {n} more time{'s' if n != 1 else ''}" for code, n in held.items()]
    return "Also fired: " + ", ".join(parts)


def visible_distributions(distributions: Sequence[Distribution]) -> list[Distribution]:
    """Distributions worth a row: latency components that were zero in every run are dropped."""
    return [d for d in distributions
            if not (d.metric.startswith("component:") and d.max == 0 and d.min == 0)]
