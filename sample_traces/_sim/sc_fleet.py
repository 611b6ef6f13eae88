"""fleet_200_runs: one agent, 200 runs over a day, slower at peak, a flaky tool, a few step-limit hits.

Manual layer (``@agent``, ``@step``, ``@tool``, ``@llm``). Runs are spread over 24 hours from
09:00 UTC; between 14:00 and 18:00 UTC the provider's latency rises up to 3x. ``web_fetch``
fails (timeout) on about 7% of its calls; the model then asks for the same page again in its
next step (a retry after an LLM call, so with a natural backoff).
Runs normally finish in 3-6 steps; a few never converge and stop at the 12-step limit with
``MaxStepsExceeded``. Written as gzip-compressed OTLP JSON lines.
"""

from __future__ import annotations

import math

from .clock import EPOCH_NS, NS_PER_S
from .harness import Sim, fake_chat
from .mock_llm import MockLLMServer

NAME = "fleet_200_runs"
FILE = "fleet_200_runs.jsonl.gz"
SERVICE = "ops-agent"
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
RUNS = 200
MAX_STEPS = 12
WEB_FETCH_FAILURE_RATE = 0.07
STUCK_RUNS = frozenset({23, 71, 118, 164})
"""Runs (by index) whose task never converges and that hit the step limit."""


class MaxStepsExceeded(RuntimeError):
    """The agent loop stopped at its step limit without a final answer."""


def peak_factor(hour_utc: float) -> float:
    """Provider latency multiplier: 1 off-peak, up to 3 at 16:00 UTC (a 14:00-18:00 bump)."""
    d = abs(hour_utc - 16.0)
    return 1.0 + 2.0 * max(0.0, math.cos(d / 2.0 * math.pi / 2)) if d < 2.0 else 1.0


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof

    rng = sim.rng

    fetches = [0]

    @agentprof.tool
    def web_fetch(url: str) -> str:
        k = fetches[0] = fetches[0] + 1
        if int(k * WEB_FETCH_FAILURE_RATE) > int((k - 1) * WEB_FETCH_FAILURE_RATE):  # 7 calls in every 100
            sim.work_ms(10_000)  # the client timeout
            raise TimeoutError(f"GET {url} timed out after 10 s")
        sim.work_ms(sim.lognormal(900, 0.4))
        return "page"

    @agentprof.tool
    def lookup_inventory(sku: str) -> int:
        sim.work_ms(sim.lognormal(180, 0.3))
        return 12

    @agentprof.tool
    def create_ticket(summary: str) -> str:
        sim.work_ms(sim.lognormal(350, 0.25))
        return "T-1"

    def llm(step: int, peak: float, final: bool = False) -> None:
        inp = 3_600 + 150 * step + rng.randint(-150, 150)
        out = rng.randint(90, 160) if final else rng.randint(25, 90)
        fake_chat(sim, MODEL, response_model=RESPONSE_MODEL, input_tokens=inp, output_tokens=out,
                  ttft_ms=sim.lognormal(380, 0.2) * peak, gen_ms=out * sim.vary(9.0, 0.15) * peak,
                  finish="stop" if final else "tool_calls")

    @agentprof.agent(name="ops_agent")
    def handle(index: int, peak: float) -> None:
        stuck = index in STUCK_RUNS
        planned = MAX_STEPS + 1 if stuck else rng.randint(3, 6)
        retry: list[str] = []  # a URL whose fetch failed: the model asks for it again next step
        sim.work_ms(sim.vary(150, 0.3))
        n = 0
        while n < MAX_STEPS:
            n += 1
            final = n >= planned and not retry

            @agentprof.step
            def turn() -> None:
                llm(n, peak, final)
                if final:
                    return
                sim.work_ms(sim.vary(40, 0.3))
                kind = (index + n) % 3
                try:
                    if retry or kind == 0 or stuck:
                        url = retry.pop() if retry else f"https://status.example.com/region/{(index * 7 + n) % 11}"
                        try:
                            web_fetch(url)
                        except TimeoutError:
                            retry.append(url)
                    elif kind == 1:
                        lookup_inventory(f"SKU-{(index * 13 + n) % 97:03d}")
                    else:
                        create_ticket(f"restock request {index}-{n}")
                except TimeoutError:
                    pass

            turn()
            if final:
                return
        raise MaxStepsExceeded(f"stopped after {MAX_STEPS} steps without a final answer")

    day_ns = 24 * 3600 * NS_PER_S
    for i in range(RUNS):
        start = EPOCH_NS + i * day_ns // RUNS + rng.randint(0, 300) * NS_PER_S
        sim.clock.set_ns(max(start, sim.clock.peek_ns()))
        hour = (9 + (sim.clock.peek_ns() - EPOCH_NS) / 3600 / NS_PER_S) % 24
        try:
            handle(i, peak_factor(hour))
        except MaxStepsExceeded:
            pass
