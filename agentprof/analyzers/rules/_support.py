"""Helpers every rule family shares: SQL snippets, run totals, prices, building findings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from agentprof.analyzers.rules._registry import get_rule
from agentprof.profile import Finding

log = logging.getLogger("agentprof.rules")

NS_PER_S: Final = 1_000_000_000

SPAN_IDS_MAX: Final = 50
"""Findings across runs cite at most this many spans (worst first); the message gives counts."""

SPAN_IDS_PER_FINDING_MAX: Final = 200
"""A bound on any finding's span list (a 2,000-step run must not put 2,000 ids in one finding)."""

HIGH_SEVERITY_SHARE: Final = {"high_severity_share": 0.2}
"""Threshold every rule with a saving reads: a saving >= this share of the run is high severity."""

PART_CHARS_TOTAL: Final = (
    "(coalesce(system_chars, 0) + coalesce(tool_schema_chars, 0)"
    " + coalesce(history_chars, 0) + coalesce(tool_output_chars, 0))"
)
"""SQL: the measured prompt size of an LLM call; input tokens are apportioned by part sizes."""


def part_tokens_sql(*parts: str) -> str:
    """SQL estimate of the input tokens of the given prompt parts (e.g. 'system_chars') of an LLM call.

    Apportions the provider-reported input tokens by measured character sizes, the same
    estimate the cost analyzer uses for its token buckets; NULL when no size is known.
    """
    num = " + ".join(f"coalesce({p}, 0)" for p in parts)
    return f"(CASE WHEN {PART_CHARS_TOTAL} > 0 THEN input_tokens * ({num}) / {PART_CHARS_TOTAL} END)"


def rows(con: Any, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Run SQL and return rows as dicts (results are small: one row per finding candidate)."""
    cur = con.execute(sql, list(params) if params else [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def run_totals(ctx: Any) -> dict[str, tuple[float, float | None]]:
    """trace_id -> (wall-clock seconds, known LLM cost USD or None) for every run.

    Taken from the analyzed runs, so findings use the same numbers the report shows; from
    the span table when the context carries no runs.
    """
    runs = getattr(ctx, "runs", None)
    if runs:
        cached = getattr(ctx, "run_totals", None)  # RuleContext builds it once for all rules
        if isinstance(cached, dict):
            return cached
        return {r.run_id: ((r.end_ns - r.start_ns) / NS_PER_S, r.cost_usd) for r in runs}
    sql = """
        SELECT trace_id,
               (max(end_ns) - min(start_ns)) / 1e9 AS wall_s,
               sum(cost_usd) FILTER (WHERE category = 'llm') AS cost_usd
        FROM spans GROUP BY trace_id
    """
    return {r[0]: (float(r[1]), r[2]) for r in ctx.con.execute(sql).fetchall()}


def threshold(ctx: Any, key: str, default: float) -> float:
    return float(ctx.config.threshold(key, default))


def severity_for(
    ctx: Any,
    default: str,
    *,
    savings_s: float | None = None,
    savings_usd: float | None = None,
    wall_s: float | None = None,
    cost_usd: float | None = None,
) -> str:
    """high when the saving is at least ``high_severity_share`` of the run's time or cost."""
    if savings_s is None and savings_usd is None:
        return default
    share = threshold(ctx, "high_severity_share", HIGH_SEVERITY_SHARE["high_severity_share"])
    if savings_s is not None and wall_s and savings_s >= share * wall_s:
        return "high"
    if savings_usd is not None and cost_usd and savings_usd >= share * cost_usd:
        return "high"
    return "medium"


def make_finding(
    ctx: Any,
    code: str,
    *,
    run_id: str | None,
    message: str,
    suggestion: str,
    span_ids: Sequence[str],
    savings_s: float | None = None,
    savings_usd: float | None = None,
    wall_s: float | None = None,
    cost_usd: float | None = None,
    severity: str | None = None,
) -> Finding:
    r = get_rule(code)
    sev = severity or severity_for(
        ctx, r.severity, savings_s=savings_s, savings_usd=savings_usd, wall_s=wall_s, cost_usd=cost_usd
    )
    return Finding(
        code=r.code,
        name=r.name,
        severity=sev,  # type: ignore[arg-type]
        message=message,
        suggestion=suggestion,
        run_id=run_id,
        span_ids=tuple(dict.fromkeys(s for s in span_ids if s))[:SPAN_IDS_PER_FINDING_MAX],
        est_savings_s=None if savings_s is None else round(float(savings_s), 3),
        est_savings_usd=None if savings_usd is None else round(float(savings_usd), 6),
    )


def prices(ctx: Any, model: str | None, provider: str | None = None) -> tuple[float, float, float | None, float | None] | None:
    """(input, output, cache_read, cache_write) USD per million tokens, or None when unknown.

    ``agentprof.pricing.price_per_mtok``: user prices (``[tool.agentprof.prices]``,
    ``--prices``) win, otherwise genai-prices. No price is ever written here.
    """
    if not model:
        return None
    from agentprof.pricing import price_per_mtok

    try:
        got = price_per_mtok(model, provider, config=ctx.config)
    except Exception:  # noqa: BLE001 - an odd model name must not break a rule
        log.debug("no price for %r/%r", model, provider, exc_info=True)
        return None
    if got is None:
        return None
    return tuple(None if v is None else float(v) for v in got)  # type: ignore[return-value]


def price_memo(ctx: Any):
    """``prices`` with a memo, for rules that price many rows of few models."""
    memo: dict[tuple[str | None, str | None], Any] = {}

    def lookup(model: str | None, provider: str | None = None):
        key = (model, provider)
        if key not in memo:
            memo[key] = prices(ctx, model, provider)
        return memo[key]

    return lookup


def fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def fmt_usd(usd: float | None) -> str:
    if usd is None:
        return "unknown cost"
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"
