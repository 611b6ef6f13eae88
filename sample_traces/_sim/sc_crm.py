"""crm_tool_latency: 200 runs of a tool-augmented agent, 8.2 s median, one slow CRM call.

Manual layer (``@agent``, ``@step``, ``@tool``, ``@llm``) with seeded, realistic variance.
Per run, median: LLM inference 2.1 s (three gpt-4o-mini calls, TTFT + generation), tool execution
4.8 s (``crm_get_customer`` ~4.3 s, ``kb_lookup`` ~0.3 s), request serialization 0.6 s
(a 0.2 s pydantic dump of the CRM record before each call) and framework overhead 0.7 s
(setup, tool dispatch, post-processing). Customers come from a pool of 25 accounts, so the
same ``crm_get_customer(customer_id)`` lookup recurs across runs, and in about 20% of the runs
the model asks for the record a second time within the run: a cache would serve both.
Written as gzip-compressed OTLP JSON lines.
"""

from __future__ import annotations

from .harness import Sim, fake_chat
from .mock_llm import MockLLMServer

NAME = "crm_tool_latency"
FILE = "crm_tool_latency.jsonl.gz"
SERVICE = "crm-assistant"
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
RUNS = 200
REFETCH_SHARE = 0.2
"""Share of runs in which the model calls crm_get_customer a second time with the same id."""
CUSTOMERS = tuple(f"C-{1000 + 37 * i}" for i in range(25))

SYSTEM_CHARS = 3_600


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof

    rng = sim.rng

    def llm(input_tokens: int, output_tokens: int, infer_ms: float, history: int, tool_out: int) -> None:
        ttft = infer_ms * 0.45
        fake_chat(sim, MODEL, response_model=RESPONSE_MODEL, input_tokens=input_tokens, output_tokens=output_tokens,
                  serialization_ms=sim.vary(200, 0.15), ttft_ms=ttft, gen_ms=infer_ms - ttft,
                  finish="tool_calls" if output_tokens < 100 else "stop",
                  sizes={"system_chars": SYSTEM_CHARS, "tool_schema_chars": 1_600, "history_chars": history,
                         "tool_output_chars": tool_out})

    @agentprof.tool
    def crm_get_customer(customer_id: str) -> dict:
        sim.work_ms(sim.lognormal(4_300, 0.18))  # external CRM REST API, no cache
        return {"id": customer_id, "tier": "enterprise"}

    @agentprof.tool
    def kb_lookup(topic: str) -> str:
        sim.work_ms(sim.lognormal(300, 0.2))
        return "article"

    @agentprof.agent(name="crm_assistant")
    def handle(customer_id: str, topic: str, refetch: bool) -> None:
        sim.work_ms(sim.vary(250, 0.25))  # load session, build tool registry

        @agentprof.step
        def lookup_customer() -> None:
            llm(2_500, 45, sim.lognormal(700, 0.12), 4_800, 0)
            sim.work_ms(sim.vary(100, 0.3))  # parse tool call, dispatch
            crm_get_customer(customer_id)

        @agentprof.step
        def lookup_kb() -> None:
            llm(2_600, 40, sim.lognormal(650, 0.12), 4_800, 400)
            sim.work_ms(sim.vary(100, 0.3))
            kb_lookup(topic)
            if refetch:  # the model asks for the record it already has: same tool, same arguments
                crm_get_customer(customer_id)

        @agentprof.step
        def answer() -> None:
            llm(2_700, 150, sim.lognormal(750, 0.12), 4_800, 800)
            sim.work_ms(sim.vary(250, 0.25))  # render the reply, log the interaction

        lookup_customer()
        lookup_kb()
        answer()

    topics = ("billing dispute", "renewal quote", "seat increase", "invoice copy", "contact change")
    for _ in range(RUNS):
        customer = CUSTOMERS[min(int(rng.paretovariate(1.2)) - 1, len(CUSTOMERS) - 1)]
        handle(customer, rng.choice(topics), rng.random() < REFETCH_SHARE)
        sim.work_ms(sim.vary(420_000, 0.6))  # the next conversation, minutes later
