"""What every scenario shares: configuring agentprof onto the virtual clock, simulated work,
a fake LLM call for the manual layer, deterministic filler text.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from typing import Any

from .clock import VirtualClock
from .collect import Collector
from .ids import SeededIdGenerator


@contextlib.contextmanager
def instrumented(clock: VirtualClock, collector: Collector, *, seed: int, service_name: str) -> Iterator[None]:
    """agentprof configured to read ``clock`` and export into ``collector`` with seeded ids.

    Raises when the instrumentation dropped a span or hit an internal problem during the
    scenario: a sample must hold everything the simulated agent did.
    """
    import agentprof
    from agentprof.instrumentation import stats

    watched = ("spans_dropped", "instrumentation_errors", "export_errors")
    before = {k: stats().get(k, 0) for k in watched}
    agentprof.configure(
        exporter=collector,
        service_name=service_name,
        clock=clock.now_ns,
        id_generator=SeededIdGenerator(seed),
        set_global=False,
        max_queue_size=1_000_000,
        max_export_batch_size=4096,
        schedule_delay_millis=60_000,
    )
    try:
        yield
    finally:
        agentprof.shutdown()  # flushes every queued span into the collector
    problems = {k: stats().get(k, 0) - before[k] for k in watched if stats().get(k, 0) != before[k]}
    if problems:
        raise RuntimeError(f"{service_name}: agentprof's instrumentation reported {problems}; see the log above")


class Sim:
    """Seeded randomness and virtual time for one scenario."""

    def __init__(self, clock: VirtualClock, seed: int) -> None:
        self.clock = clock
        self.rng = random.Random(seed)

    def work_ms(self, ms: float) -> None:
        """Untraced or traced work that takes ``ms`` of virtual time."""
        self.clock.advance_ms(ms)

    def vary(self, value: float, rel: float) -> float:
        """``value`` with uniform relative noise of ±``rel``."""
        return value * (1.0 + self.rng.uniform(-rel, rel))

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(self.rng.gauss(0.0, sigma))


def fake_chat(
    sim: Sim,
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    ttft_ms: float,
    gen_ms: float,
    provider: str = "openai",
    response_model: str | None = None,
    serialization_ms: float = 0.0,
    cached_tokens: int = 0,
    sizes: dict[str, int] | None = None,
    finish: str = "stop",
) -> dict[str, Any]:
    """One LLM call through ``@agentprof.llm``: advances the clock and returns a provider-shaped
    response, from which the decorator records usage, response model and finish reason."""
    import agentprof
    from agentprof.instrumentation import current_span

    @agentprof.llm(model=model, provider=provider)
    def chat() -> dict[str, Any]:
        span = current_span()
        if serialization_ms:
            sim.work_ms(serialization_ms)
            span.set("agentprof.request.serialization_ns", round(serialization_ms * 1_000_000))
        sim.work_ms(ttft_ms)
        span.set_ttft_ns()
        if sizes:
            span.set_prompt_sizes(**sizes)
        sim.work_ms(gen_ms)
        if provider == "anthropic":
            return {
                "type": "message", "role": "assistant", "model": response_model or model, "stop_reason": finish,
                "usage": {"input_tokens": input_tokens - cached_tokens, "output_tokens": output_tokens,
                          "cache_read_input_tokens": cached_tokens, "cache_creation_input_tokens": 0},
            }
        return {
            "model": response_model or model,
            "choices": [{"index": 0, "finish_reason": finish}],
            "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens,
                      "prompt_tokens_details": {"cached_tokens": cached_tokens}},
        }

    return chat()


_WORDS = (
    "the customer account order refund policy shipping invoice delivery warehouse region latency "
    "index vector embedding document section clause contract renewal pricing tier discount support "
    "ticket escalation priority agent response summary analysis result source citation quarterly "
    "revenue growth market segment function module test failure stack trace error handler request "
    "payload schema field value returns raises configuration parameter timeout retry budget limit"
).split()


def text(rng: random.Random, n_chars: int, prefix: str = "") -> str:
    """Deterministic prose of exactly ``n_chars`` characters (starting with ``prefix``)."""
    parts = [prefix] if prefix else []
    size = len(prefix)
    while size < n_chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 16))).capitalize() + ". "
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:n_chars]


def openai_chat(client: Any, *, stream: bool = False, **kwargs: Any) -> tuple[str, list[dict[str, Any]]]:
    """One chat completion through the real OpenAI client; returns (text, tool calls).

    Streams with ``include_usage`` when ``stream`` is set, reading every chunk as an
    application would (the instrumentation measures TTFT on the first chunk).
    """
    if not stream:
        resp = client.chat.completions.create(**kwargs)
        msg = resp.choices[0].message
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in msg.tool_calls or []]
        return msg.content or "", calls
    parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs):
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                parts.append(delta.content)
            for tc in delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": tc.id, "name": "", "arguments": ""})
                if tc.function is not None:
                    entry["name"] += tc.function.name or ""
                    entry["arguments"] += tc.function.arguments or ""
    return "".join(parts), [calls[i] for i in sorted(calls)]


def tool_result_message(call: dict[str, Any], content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call["id"], "content": content}


def assistant_message(text_out: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text_out or None}
    if calls:
        msg["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in calls
        ]
    return msg


def function_tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool definition."""
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": sorted(properties)}}}
