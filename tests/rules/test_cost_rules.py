"""AP2xx: each rule on a trace that must trigger it and one that must not.

Dollar figures are checked against prices read from genai-prices here, so the test fails if a
rule used a price from anywhere else (or the wrong one of a model's prices).
"""

from __future__ import annotations

import pytest

from .kit import analyze_trace, assert_span_ids_exist, of
from .traces import compounding_history, llm, tool


def mtok(model: str, **usage: int) -> float:
    """USD for the given usage, per genai-prices (the source the rules must use)."""
    from genai_prices import Usage, calc_price

    return float(calc_price(Usage(**usage), model_ref=model, provider_id="openai").total_price)


IN = mtok("gpt-4o", input_tokens=1_000_000)
OUT = mtok("gpt-4o", output_tokens=1_000_000)
CACHE_READ = mtok("gpt-4o", input_tokens=1_000_000, cache_read_tokens=1_000_000)


def test_compounding_history_triggers_ap201_and_ap202(builder):
    ids = compounding_history(builder)
    profile, con = analyze_trace(builder)
    assert profile.runs[0].input_tokens == 402_000
    (growth,) = of(profile, "AP201")
    # Step k costs c0 + k * 1800 input tokens: a straight line, slope / c0 = growth.
    c0 = (3000 * IN + 150 * OUT) / 1e6
    slope = 1800 * IN / 1e6
    assert f"grows {slope / c0 * 100:.0f}% of the first step" in growth.message
    assert growth.est_savings_usd == pytest.approx(slope * 190, rel=1e-4)  # sum of k*slope, k = 0..19
    assert growth.severity == "high"
    assert growth.span_ids == tuple(ids["llm"])

    (comp,) = of(profile, "AP202")
    total = 20 * c0 + 190 * slope
    single = c0 + 19 * slope
    assert f"{total / single:.1f}× its largest call" in comp.message
    assert total / single > 10
    assert comp.est_savings_usd == pytest.approx(total - 10 * single, rel=1e-4)
    assert set(comp.span_ids) == set(ids["llm"])
    assert_span_ids_exist(profile, con)


def test_ap201_fits_each_agent_on_its_own_and_falls_back_to_tokens_without_prices(builder):
    # Two agents take turns in one run. The planner's model has no price, so its series is
    # input + output tokens: 1,100 + 500 k over 6 steps (growth 500 / 1,100 = 45%, 7,500
    # tokens above the flat 6 x 1,100). The coder's priced steps are flat: no finding.
    root = builder.span("team", category="agent", start=0, end=30)
    planner = []
    for k in range(6):
        t = 1 + 4.0 * k
        planner.append(llm(builder, root, t, t + 1, agent_name="planner", request_model="acme-planner-1",
                           response_model=None, provider="acme", input_tokens=1000 + 500 * k, output_tokens=100))
        llm(builder, root, t + 2, t + 3, agent_name="coder", input_tokens=2000, output_tokens=100)
    profile, con = analyze_trace(builder)
    (growth,) = of(profile, "AP201")
    assert growth.message == (
        "Agent 'planner': Step cost grows 45% of the first step per step over 6 steps "
        "(step 1: 1,100 tokens, step 6: 3,600 tokens); 7,500 tokens of the run's 14,100 tokens "
        "is above a flat per-step cost."
    )
    assert growth.span_ids == tuple(planner)
    assert growth.est_savings_usd is None
    assert_span_ids_exist(profile, con)
    # Six steps per agent are fewer than marginal_cost_min_steps = 7, though the run has twelve.
    fewer, _ = analyze_trace(builder, thresholds={"marginal_cost_min_steps": 7})
    assert of(fewer, "AP201") == []


def test_flat_steps_do_not_trigger_ap201_or_ap202(builder):
    compounding_history(builder, growth_tokens=0)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP201") == [] and of(profile, "AP202") == []


def test_ap201_threshold_is_configurable(builder):
    compounding_history(builder)
    profile, _ = analyze_trace(builder, thresholds={"marginal_cost_growth": 0.6})
    assert of(profile, "AP201") == []
    assert of(profile, "AP202")


def test_ap203_uncached_system_prompt_saving_from_cache_read_price(builder):
    ids = compounding_history(builder)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP203")
    # 3,000 system tokens in each of the 19 calls after the first, at input minus cache-read price.
    assert f.est_savings_usd == pytest.approx(19 * 3000 * (IN - CACHE_READ) / 1e6, rel=1e-4)
    assert f.span_ids == tuple(ids["llm"])
    assert "~3,000-token system prompt" in f.message


def test_ap203_not_when_cache_is_read(builder):
    compounding_history(builder, cached=True)
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP203") == []


def test_ap203_not_for_prompts_too_small_to_cache(builder):
    root = builder.span("agent", category="agent", start=0, end=10)
    for k in range(4):
        llm(builder, root, 2 * k, 2 * k + 1, input_tokens=1000, output_tokens=20, system_chars=2000,
            history_chars=2000)  # 500 system tokens
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP203") == []


def _schema_run(b, schema_chars: int) -> list[str]:
    root = b.span("agent", category="agent", start=0, end=12)
    return [
        llm(b, root, 2 * k, 2 * k + 1, input_tokens=10_000, output_tokens=50, system_chars=4000,
            tool_schema_chars=schema_chars, history_chars=40_000 - 4000 - schema_chars)
        for k in range(5)
    ]


def test_ap204_tool_schemas_share(builder):
    ids = _schema_run(builder, 24_000)  # 6,000 of 10,000 input tokens per call
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP204")
    assert "~30,000 of 50,000 input tokens (60%)" in f.message
    # Cut to 25%: S' = 0.25 * 4000 / 0.75 per call; the rest priced at the input price.
    cut = 5 * (6000 - 0.25 * 4000 / 0.75)
    assert f.est_savings_usd == pytest.approx(cut * IN / 1e6, rel=1e-4)
    assert f.span_ids == tuple(ids)


def test_ap204_not_for_small_schemas(builder):
    _schema_run(builder, 4000)  # 10%
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP204") == []


def test_ap205_expensive_model_for_tool_selection(builder):
    root = builder.span("agent", category="agent", start=0, end=20)
    ids = []
    for k in range(4):
        ids.append(llm(builder, root, 4 * k, 4 * k + 1, input_tokens=2000, output_tokens=40))
        tool(builder, root, "lookup", 4 * k + 1.1, 4 * k + 3)
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP205")
    strong = mtok("gpt-4o", input_tokens=8000, output_tokens=160)
    cheap = mtok("gpt-4o-mini", input_tokens=8000, output_tokens=160)
    assert cheap < strong
    assert f.est_savings_usd == pytest.approx(strong - cheap, rel=1e-4)
    assert "gpt-4o-mini" in f.suggestion
    assert f.span_ids == tuple(ids)


def test_ap205_not_for_long_outputs_or_a_cheap_model(builder):
    root = builder.span("agent", category="agent", start=0, end=20)
    for k in range(4):
        llm(builder, root, 4 * k, 4 * k + 1, input_tokens=2000, output_tokens=600)
    builder.trace()
    root = builder.span("agent", category="agent", start=0, end=20)
    for k in range(4):
        llm(builder, root, 4 * k, 4 * k + 1, input_tokens=2000, output_tokens=40, request_model="gpt-4o-mini")
    profile, _ = analyze_trace(builder)
    assert of(profile, "AP205") == []


def _short_calls(builder, model="gpt-4o"):
    root = builder.span("agent", category="agent", start=0, end=20)
    for k in range(4):
        llm(builder, root, 4 * k, 4 * k + 1, input_tokens=2000, output_tokens=40, request_model=model)


def test_ap205_user_routes_win_and_can_switch_a_model_off(builder):
    _short_calls(builder)
    (f,) = of(analyze_trace(builder, routes={"gpt-4o": "gpt-4.1-nano"})[0], "AP205")
    strong = mtok("gpt-4o", input_tokens=8000, output_tokens=160)
    nano = mtok("gpt-4.1-nano", input_tokens=8000, output_tokens=160)
    assert f.est_savings_usd == pytest.approx(strong - nano, rel=1e-4)
    assert "gpt-4.1-nano" in f.suggestion and "gpt-4o-mini" not in f.message
    assert of(analyze_trace(builder, routes={"gpt-4o": ""})[0], "AP205") == []


def test_ap205_routes_a_model_the_built_in_list_does_not_know(builder):
    from agentprof.config import ModelPrice

    _short_calls(builder, model="acme-large")
    prices = {"acme-large": ModelPrice(10.0, 30.0), "acme-small": ModelPrice(1.0, 2.0)}
    assert of(analyze_trace(builder, prices=prices)[0], "AP205") == []  # no route known
    (f,) = of(analyze_trace(builder, prices=prices, routes={"acme-large": "acme-small"})[0], "AP205")
    # 8,000 input and 160 output tokens at both prices (USD per million tokens).
    assert f.est_savings_usd == pytest.approx((8000 * 10 + 160 * 30 - 8000 * 1 - 160 * 2) / 1e6, rel=1e-9)
    assert "acme-small" in f.suggestion


def test_cheaper_model_mapping():
    from agentprof.analyzers.rules.cost import cheaper_model

    assert cheaper_model("gpt-4o") == "gpt-4o-mini"
    assert cheaper_model("gpt-4o-2024-08-06") == "gpt-4o-mini"
    assert cheaper_model("gpt-4o-mini") is None
    assert cheaper_model("claude-sonnet-4-5-20250929") == "claude-haiku-4-5"
    assert cheaper_model("anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude-3-5-haiku"
    assert cheaper_model("claude-3-5-haiku") is None
    assert cheaper_model("gemini-2.5-pro") == "gemini-2.5-flash"
    assert cheaper_model(None) is None


def test_ap206_token_budget(builder):
    ids = compounding_history(builder)
    assert of(analyze_trace(builder)[0], "AP206") == []  # no budget, no rule
    assert of(analyze_trace(builder, token_budget=10_000_000)[0], "AP206") == []
    profile, _ = analyze_trace(builder, token_budget=15_000)
    (f,) = of(profile, "AP206")
    # Running totals 3,150, 8,100, 14,850, 23,400, ...: calls 4 to 20 are over the budget.
    assert f.span_ids == tuple(ids["llm"][3:])
    assert "405,000 tokens" in f.message
    assert f.severity == "high"


def test_ap203_saving_counts_the_cache_write_premium(builder):
    from genai_prices import Usage, calc_price

    def usd(**usage: int) -> float:  # per million tokens, priced on 1,000 (below the long-context tier)
        return 1000 * float(calc_price(Usage(**usage), model_ref="claude-sonnet-4-5", provider_id="anthropic").total_price)

    in_p = usd(input_tokens=1000)
    read_p = usd(input_tokens=1000, cache_read_tokens=1000)
    write_p = usd(input_tokens=1000, cache_write_tokens=1000)
    assert write_p > in_p > read_p
    root = builder.span("agent", category="agent", start=0, end=10)
    for k in range(4):
        llm(builder, root, 2 * k, 2 * k + 1, input_tokens=4000, output_tokens=50, system_chars=12_000,
            history_chars=4000, request_model="claude-sonnet-4-5", provider="anthropic")
    profile, _ = analyze_trace(builder)
    (f,) = of(profile, "AP203")
    assert f.est_savings_usd == pytest.approx((3 * 3000 * (in_p - read_p) - 3000 * (write_p - in_p)) / 1e6, rel=1e-4)
