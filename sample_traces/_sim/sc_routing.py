"""model_routing: an 8-step run on gpt-4o where 6 steps only pick a tool or extract a field.

Manual layer (``@agent``, ``@step``, ``@tool``) around the automatic OpenAI layer (non-streamed
``openai`` chat completions to the mock server, so their LLM time is not split into TTFT and
generation). Step 1 plans (600 output tokens) and step 8 writes the synthesis (1,000 output
tokens): they need the strong model. Steps 2-7 read a ~2,500-token filing excerpt and answer
with one tool call or a short extraction (~40 output tokens): gpt-4o-mini would do. Those six
steps are ~64% of the run's LLM cost; at gpt-4o-mini prices they cost 6% as much.
"""

from __future__ import annotations

import json

from .harness import Sim, function_tool, openai_chat, text
from .mock_llm import MockLLMServer, Reply

NAME = "model_routing"
FILE = "model_routing.json"
SERVICE = "filings-analyst"
MODEL = "gpt-4o"
RESPONSE_MODEL = "gpt-4o-2024-08-06"

SYSTEM_CHARS = 2_000  # ~500 tokens
SECTIONS = ("revenue", "operating_margin", "guidance", "segment_mix", "risk_factors", "share_buybacks")
TOOLS = [
    function_tool("record_field", "Record one extracted field of the filing.",
                  {"field": {"type": "string"}, "value": {"type": "string"}}),
]


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof
    import openai

    agentprof.instrument("openai")
    client = openai.OpenAI(base_url=server.openai_url, api_key="sk-mock-routing", max_retries=0)
    system = text(sim.rng, SYSTEM_CHARS, "You analyse quarterly filings for an equity research desk. ")

    @agentprof.tool
    def fetch_section(ticker: str, section: str) -> str:
        sim.work_ms(sim.lognormal(420, 0.2))
        return text(sim.rng, 9_400, f"{ticker} 10-Q, section {section}: ")

    @agentprof.tool
    def record_field(field: str, value: str) -> str:
        sim.work_ms(sim.lognormal(35, 0.2))
        return "ok"

    def chat(user: str, reply: Reply) -> tuple[str, list]:
        server.queue(reply)
        return openai_chat(client, model=MODEL, tools=TOOLS,
                           messages=[{"role": "system", "content": system}, {"role": "user", "content": user}])

    @agentprof.agent(name="filings_analyst")
    def analyse(ticker: str) -> str:
        sim.work_ms(300)

        @agentprof.step
        def plan() -> None:
            chat(text(sim.rng, 4_000, f"Analyse {ticker}'s latest quarter. Context: "),
                 Reply(text=text(sim.rng, 2_400, "Plan: "), output_tokens=600, ttft_ms=620, gen_ms=6_600))

        facts: list[str] = []

        def make_extract(section: str):
            @agentprof.step
            def extract() -> None:
                excerpt = fetch_section(ticker, section)
                sim.work_ms(sim.vary(40, 0.2))
                value = f"{section} value for {ticker}"
                _, calls = chat(f"Extract {section} from:\n{excerpt}",
                                Reply(tool_calls=[("record_field", {"field": section, "value": value})],
                                      output_tokens=40, ttft_ms=sim.vary(540, 0.1), gen_ms=sim.vary(420, 0.1)))
                for call in calls:
                    facts.append(record_field(**json.loads(call["arguments"])))
            return extract

        @agentprof.step
        def synthesise() -> str:
            out, _ = chat(text(sim.rng, 10_000, "Write the note from these extracted fields and excerpts: "),
                          Reply(text=text(sim.rng, 4_000, "Note: "), output_tokens=1_000, ttft_ms=700, gen_ms=11_000))
            return out

        plan()
        for section in SECTIONS:
            make_extract(section)()
        return synthesise()

    try:
        analyse("ACME")
    finally:
        client.close()
        agentprof.uninstrument()
