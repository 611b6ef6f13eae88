"""Cost of each LLM call: genai-prices for model prices, user prices on top, provenance kept.

``apply_prices`` is set-based: it finds the distinct (provider, model) pairs of the calls
whose cost the trace did not report, resolves each pair's prices once (a user price from the
config wins; else genai-prices' bundled snapshot, offline), and fills ``cost_usd`` with one
``UPDATE … FROM`` join. Tiered prices (e.g. a higher rate above 200k input tokens) become
several price brackets keyed on the call's total input tokens, exactly as genai-prices
applies them. Every LLM row ends with a ``cost_source``: ``reported`` (left untouched),
``computed``, or ``unknown`` (cost NULL, the model listed; never a silent zero).

``input_tokens`` includes cache reads and writes, the same as genai-prices' ``Usage``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentprof import schema

if TYPE_CHECKING:
    import duckdb

    from agentprof.config import Config

_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "google": "google",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "azure": "azure",
    "aws.bedrock": "aws",
    "aws": "aws",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "together": "together",
    "openrouter": "openrouter",
    "fireworks": "fireworks",
}
"""Our provider names (``gen_ai.provider.name`` values) → genai-prices provider ids."""

PriceTuple = tuple[float, float, float, float]
"""USD per million tokens: (input, output, cache read, cache write)."""


@dataclass(frozen=True)
class PricingSummary:
    unknown_models: tuple[str, ...]
    """Models of LLM calls that could not be priced (their cost_source is 'unknown')."""
    notes: tuple[str, ...]
    """Where prices came from."""


@dataclass(frozen=True)
class _Bracket:
    above_input_tokens: int
    """Applies when the call's total input tokens are above this (-1 for the base price)."""
    prices: PriceTuple


def import_in_background() -> None:
    """Start importing genai-prices in a daemon thread. The import is ~0.2 s of Python; begun
    when an ingest starts, it overlaps the reading (native code that releases the GIL)
    instead of delaying the pricing at the end. A failure here is left to the real import."""

    def load() -> None:
        try:
            import genai_prices.types  # noqa: F401
        except Exception:  # noqa: BLE001 - apply_prices imports it again and reports
            pass

    threading.Thread(target=load, name="agentprof-import-prices", daemon=True).start()


@functools.lru_cache(maxsize=4096)
def _genai_brackets(model: str, provider: str | None) -> tuple[str, tuple[_Bracket, ...]] | None:
    """Price brackets of one model from genai-prices, or None when it does not know it."""
    from decimal import Decimal

    from genai_prices import Usage, calc_price
    from genai_prices.types import TieredPrices

    provider_id = _PROVIDER_IDS.get(provider or "")
    calc = None
    for pid in ([provider_id] if provider_id else []) + [None]:
        try:
            calc = calc_price(Usage(input_tokens=1), model_ref=model, provider_id=pid)
            break
        except (LookupError, ValueError):
            continue
    if calc is None:
        return None
    starts = {-1}
    for value in vars(calc.model_price).values():
        if isinstance(value, TieredPrices):
            starts.update(t.start for t in value.tiers)

    def per_mtok(n: int, **usage: int) -> tuple[Any, Any]:
        p = calc.model.calc_price(Usage(input_tokens=n, **usage), calc.provider)
        return p.input_price, p.output_price  # Decimal USD

    brackets = []
    for start in sorted(starts):
        n = start + 1 if start >= 0 else 1_000  # total input tokens inside this bracket
        scale = Decimal(1_000_000) / n
        input_usd = float(per_mtok(n)[0] * scale)
        cache_read_usd = float(per_mtok(n, cache_read_tokens=n)[0] * scale)
        cache_write_usd = float(per_mtok(n, cache_write_tokens=n)[0] * scale)
        output_usd = float(per_mtok(n, output_tokens=1_000_000)[1])
        brackets.append(_Bracket(start, (input_usd, output_usd, cache_read_usd, cache_write_usd)))
    return f"genai-prices ({calc.provider.id}/{calc.model.id})", tuple(brackets)


def _user_price(config: Config | None, *models: str | None) -> tuple[str, PriceTuple] | None:
    if config is None or not config.prices:
        return None
    for m in models:
        if m and m in config.prices:
            p = config.prices[m]
            cr = p.cache_read_per_mtok if p.cache_read_per_mtok is not None else p.input_per_mtok
            cw = p.cache_write_per_mtok if p.cache_write_per_mtok is not None else p.input_per_mtok
            return f"{p.source} ({m})", (p.input_per_mtok, p.output_per_mtok, cr, cw)
    return None


def _resolve(config: Config | None, provider: str | None, response_model: str | None, request_model: str | None):
    """(source, brackets) for a call, trying the response model, then the requested one."""
    user = _user_price(config, response_model, request_model)
    if user is not None:
        return user[0], (_Bracket(-1, user[1]),)
    for model in (response_model, request_model):
        if model:
            found = _genai_brackets(model, provider)
            if found is not None:
                return found
    return None


def price_per_mtok(model: str, provider: str | None = None, *, config: Config | None = None) -> PriceTuple | None:
    """Base prices of ``model`` in USD per million tokens: (input, output, cache read, cache write).

    For savings estimates (prompt caching, routing to a cheaper model). User prices in
    ``config`` win. None when the model is unknown. Tiered models give their base tier.
    """
    found = _resolve(config, provider, model, None)
    return None if found is None else found[1][0].prices


def apply_prices(con: duckdb.DuckDBPyConnection, config: Config | None = None) -> PricingSummary:
    """Fill ``cost_usd``/``cost_source`` of LLM and embedding rows the trace did not price.

    Idempotent: computed and unknown rows are recomputed (e.g. with new user prices);
    reported rows are never touched.
    """
    import pyarrow as pa

    T = schema.TABLE
    todo = "category IN ('llm', 'embedding') AND cost_source IS DISTINCT FROM 'reported'"
    pairs = con.execute(
        f"""SELECT provider, response_model, request_model, count(*) FROM {T}
            WHERE {todo} AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
            GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    rows: dict[str, list[Any]] = {k: [] for k in ("provider", "response_model", "request_model", "above", "below", "p_in", "p_out", "p_cr", "p_cw")}
    unknown: dict[str, int] = {}
    sources: dict[str, int] = {}
    for provider, response_model, request_model, n in pairs:
        found = _resolve(config, provider, response_model, request_model)
        if found is None:
            label = response_model or request_model or f"(no model name; provider {provider or 'unknown'})"
            unknown[label] = unknown.get(label, 0) + n
            continue
        source, brackets = found
        sources[source] = sources.get(source, 0) + n
        for i, b in enumerate(brackets):
            upper = brackets[i + 1].above_input_tokens if i + 1 < len(brackets) else None
            for key, value in zip(rows, (provider, response_model, request_model, b.above_input_tokens, upper, *b.prices)):
                rows[key].append(value)

    # The new cost of every row to price, then an UPDATE of only the rows whose cost or
    # source changes: re-pricing an already priced store (every analyze() after an ingest)
    # reads the table and writes nothing.
    table = pa.table(
        rows,
        schema=pa.schema(
            [("provider", pa.string()), ("response_model", pa.string()), ("request_model", pa.string()),
             ("above", pa.int64()), ("below", pa.int64())] + [(k, pa.float64()) for k in ("p_in", "p_out", "p_cr", "p_cw")]
        ),
    )
    con.register("_agentprof_prices", table)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _agentprof_repriced AS
                WITH priced AS (
                    SELECT s.rowid AS rid, s.cost_usd AS old_usd, s.cost_source AS old_source,
                           CASE WHEN s.input_tokens IS NOT NULL OR s.output_tokens IS NOT NULL THEN (
                               greatest(coalesce(s.input_tokens, 0) - coalesce(s.cache_read_tokens, 0) - coalesce(s.cache_write_tokens, 0), 0) * p.p_in
                               + coalesce(s.cache_read_tokens, 0) * p.p_cr
                               + coalesce(s.cache_write_tokens, 0) * p.p_cw
                               + coalesce(s.output_tokens, 0) * p.p_out) / 1e6 END AS usd
                    FROM {T} s LEFT JOIN _agentprof_prices p
                      ON s.provider IS NOT DISTINCT FROM p.provider
                     AND s.response_model IS NOT DISTINCT FROM p.response_model
                     AND s.request_model IS NOT DISTINCT FROM p.request_model
                     AND coalesce(s.input_tokens, 0) > p.above
                     AND (p.below IS NULL OR coalesce(s.input_tokens, 0) <= p.below)
                    WHERE {todo})
                SELECT rid, usd, CASE WHEN usd IS NULL THEN 'unknown' ELSE 'computed' END AS source
                FROM priced
                WHERE old_usd IS DISTINCT FROM usd
                   OR old_source IS DISTINCT FROM CASE WHEN usd IS NULL THEN 'unknown' ELSE 'computed' END"""
        )
    finally:
        con.unregister("_agentprof_prices")
    try:
        if con.execute("SELECT count(*) FROM _agentprof_repriced").fetchall()[0][0]:
            con.execute(
                f"UPDATE {T} s SET cost_usd = r.usd, cost_source = r.source FROM _agentprof_repriced r WHERE s.rowid = r.rid"
            )
    finally:
        con.execute("DROP TABLE IF EXISTS _agentprof_repriced")

    notes = [f"{n} LLM call(s) priced from {src}" for src, n in sorted(sources.items())]
    # fetchall, not fetchone: DuckDB keeps a result open until it is read to the end, and an
    # open result blocks the caller's next register()/sql() on this connection.
    no_tokens = con.execute(
        f"SELECT count(*) FROM {T} WHERE {todo} AND input_tokens IS NULL AND output_tokens IS NULL"
    ).fetchall()[0][0]
    if no_tokens:
        notes.append(f"{no_tokens} LLM call(s) have no token counts, so their cost is unknown")
    for label, n in sorted(unknown.items()):
        notes.append(f"{n} LLM call(s) of {label}: no price known; add it under [tool.agentprof.prices] or --prices")
    return PricingSummary(unknown_models=tuple(sorted(unknown)), notes=tuple(notes))
