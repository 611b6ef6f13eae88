"""Pricing: genai-prices for known models, user prices on top, unknown never a silent zero."""

from __future__ import annotations

import pytest

from agentprof import pricing
from agentprof.config import Config, ModelPrice
from agentprof.store import open_store

COLS = "trace_id, span_id, name, category, start_ns, end_ns, status, source_format, attributes, events, resource"


def _store(*calls):
    """calls: (span_id, category, provider, request_model, response_model, input, output, cache_read, cache_write, cost, source)."""
    con = open_store()
    for c in calls:
        con.execute(
            f"""INSERT INTO spans ({COLS}, provider, request_model, response_model, input_tokens, output_tokens,
                cache_read_tokens, cache_write_tokens, cost_usd, cost_source)
                VALUES ('t', ?, 'x', ?, 0, 1, 'ok', 'test', '{{}}', '[]', '{{}}', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            list(c),
        )
    return con


def _costs(con):
    return {sid: (cost, src) for sid, cost, src in con.execute("SELECT span_id, cost_usd, cost_source FROM spans").fetchall()}


def test_gpt4o_with_cache_reads_matches_genai_prices():
    con = _store(("a", "llm", "openai", "gpt-4o", None, 1000, 200, 500, None, None, None))
    summary = pricing.apply_prices(con, None)
    cost, src = _costs(con)["a"]
    assert src == "computed"
    assert cost == pytest.approx(0.003875, rel=1e-12)  # 500 × $2.5/M + 500 × $1.25/M + 200 × $10/M
    assert summary.unknown_models == ()
    assert summary.notes == ("1 LLM call(s) priced from genai-prices (openai/gpt-4o)",)


def test_response_model_snapshot_first_then_request_model():
    con = _store(
        ("dated", "llm", "openai", "gpt-4o", "gpt-4o-2024-08-06", 1000, 200, 500, None, None, None),
        ("fallback", "llm", "openai", "gpt-4o", "no-such-snapshot-xyz", 1000, 200, 500, None, None, None),
    )
    pricing.apply_prices(con, None)
    costs = _costs(con)
    assert costs["dated"] == (pytest.approx(0.003875, rel=1e-12), "computed")
    assert costs["fallback"] == (pytest.approx(0.003875, rel=1e-12), "computed")


def test_unknown_model_is_listed_and_never_zero():
    con = _store(
        ("u", "llm", "acme", "acme-llm-9000", None, 10, 5, None, None, None, None),
        ("nt", "llm", "openai", "gpt-4o", None, None, None, None, None, None, None),
    )
    summary = pricing.apply_prices(con, None)
    assert _costs(con) == {"u": (None, "unknown"), "nt": (None, "unknown")}
    assert summary.unknown_models == ("acme-llm-9000",)
    assert "1 LLM call(s) have no token counts, so their cost is unknown" in summary.notes


def test_user_price_overrides_genai_prices_and_is_idempotent():
    con = _store(("a", "llm", "openai", "gpt-4o", None, 1_000_000, 100_000, 200_000, 100_000, None, None))
    pricing.apply_prices(con, None)
    config = Config(prices={"gpt-4o": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0, cache_read_per_mtok=0.5, cache_write_per_mtok=4.0)})
    summary = pricing.apply_prices(con, config)
    # 700k uncached × $1 + 200k × $0.5 + 100k × $4 + 100k out × $2 = 0.7 + 0.1 + 0.4 + 0.2
    assert _costs(con)["a"] == (pytest.approx(1.4, rel=1e-12), "computed")
    assert summary.notes == ("1 LLM call(s) priced from user (gpt-4o)",)  # ModelPrice.source defaults to "user"
    pricing.apply_prices(con, config)
    assert _costs(con)["a"] == (pytest.approx(1.4, rel=1e-12), "computed")


def test_repricing_rewrites_only_what_changed_in_both_directions():
    # Priced by a user price, then priced again without it: genai-prices for the known model,
    # unknown (NULL, never the stale user figure) for the private one; a row someone edited
    # by hand is put right, and a second pass changes nothing.
    con = _store(
        ("known", "llm", "openai", "gpt-4o", None, 1000, 200, 500, None, None, None),
        ("private", "llm", "acme", "acme-ft-1", None, 1_000_000, 0, None, None, None, None),
    )
    user = Config(prices={"gpt-4o": ModelPrice(input_per_mtok=1.0, output_per_mtok=2.0),
                          "acme-ft-1": ModelPrice(input_per_mtok=3.0, output_per_mtok=3.0)})
    pricing.apply_prices(con, user)
    assert _costs(con) == {"known": (pytest.approx(0.0014, rel=1e-12), "computed"), "private": (pytest.approx(3.0), "computed")}
    summary = pricing.apply_prices(con, None)
    assert _costs(con) == {"known": (pytest.approx(0.003875, rel=1e-12), "computed"), "private": (None, "unknown")}
    assert summary.unknown_models == ("acme-ft-1",)
    con.execute("UPDATE spans SET cost_usd = 99.0 WHERE span_id = 'known'")
    pricing.apply_prices(con, None)
    before = _costs(con)
    assert before["known"] == (pytest.approx(0.003875, rel=1e-12), "computed")
    pricing.apply_prices(con, None)
    assert _costs(con) == before


def test_reported_cost_untouched_and_non_llm_rows_ignored():
    con = _store(
        ("r", "llm", "openai", "gpt-4o", None, 1000, 200, None, None, 0.123, "reported"),
        ("agent", "agent", "openai", "gpt-4o", None, None, None, None, None, None, None),
    )
    pricing.apply_prices(con, Config(prices={"gpt-4o": ModelPrice(1.0, 1.0)}))
    assert _costs(con) == {"r": (0.123, "reported"), "agent": (None, None)}


def test_tiered_prices_follow_genai_prices():
    from genai_prices import Usage, calc_price

    small = Usage(input_tokens=150_000, output_tokens=1_000, cache_read_tokens=50_000, cache_write_tokens=10_000)
    large = Usage(input_tokens=250_000, output_tokens=1_000, cache_read_tokens=50_000, cache_write_tokens=10_000)
    con = _store(
        ("small", "llm", "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 150_000, 1_000, 50_000, 10_000, None, None),
        ("large", "llm", "anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", 250_000, 1_000, 50_000, 10_000, None, None),
    )
    pricing.apply_prices(con, None)
    costs = _costs(con)
    for sid, usage in (("small", small), ("large", large)):
        expected = float(calc_price(usage, model_ref="claude-sonnet-4-5-20250929", provider_id="anthropic").total_price)
        assert costs[sid] == (pytest.approx(expected, rel=1e-12), "computed")
    # Above 200k input tokens every token costs the tier rate: 190k × $6 + 50k × $0.6 + 10k × $7.5 + 1k × $22.5
    assert (costs["small"][0], costs["large"][0]) == (pytest.approx(0.3375, rel=1e-12), pytest.approx(1.2675, rel=1e-12))


def test_price_per_mtok():
    assert pricing.price_per_mtok("gpt-4o", "openai") == (2.5, 10.0, 1.25, 2.5)
    assert pricing.price_per_mtok("claude-sonnet-4-5-20250929", "anthropic") == (3.0, 15.0, 0.3, 3.75)
    assert pricing.price_per_mtok("acme-llm-9000") is None
    user = Config(prices={"mine": ModelPrice(input_per_mtok=1.0, output_per_mtok=3.0)})
    assert pricing.price_per_mtok("mine", config=user) == (1.0, 3.0, 1.0, 1.0)
