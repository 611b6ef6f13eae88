"""support_agent_tool_schemas: a long system prompt and 12 large tool schemas, re-sent uncached.

Manual layer (``@agent``, ``@step``, ``@tool``) around the automatic Anthropic layer: every
step is a real streamed ``anthropic`` ``messages.create`` call to the mock server with a
3,500-token system prompt (no ``cache_control``), 12 tool definitions of ~350 tokens each,
~800 tokens of new input (the customer's message and the account context) and ~600 tokens of
output. The agent keeps its state in CRM notes, so it does not re-send history: what repeats
on every call is the system prompt and the tool schemas. Three conversations of 10, 7 and 4
steps on claude-sonnet-4-5.
"""

from __future__ import annotations

from .harness import Sim, text
from .mock_llm import MockLLMServer, Reply

NAME = "support_agent_tool_schemas"
FILE = "support_agent_tool_schemas.json"
SERVICE = "customer-support"
MODEL = "claude-sonnet-4-5"
RESPONSE_MODEL = "claude-sonnet-4-5-20250929"
CONVERSATIONS = (10, 7, 4)

SYSTEM_CHARS = 14_000  # ~3,500 tokens
INPUT_CHARS = 3_200  # ~800 tokens per step
OUTPUT_TOKENS = 600
TOOL_NAMES = (
    "lookup_customer", "lookup_order", "list_orders", "refund_order", "cancel_subscription", "update_address",
    "reset_password", "create_ticket", "escalate_to_human", "search_help_center", "apply_coupon", "schedule_callback",
)


def tool_schema(sim: Sim, name: str) -> dict:
    """An Anthropic tool definition of ~1,400 characters (~350 tokens), as real ones are."""
    props = {
        f"{name.split('_')[-1]}_{field}": {"type": "string", "description": text(sim.rng, 150, f"The {field}. ")}
        for field in ("id", "reason", "channel", "locale", "note")
    }
    schema = {"name": name, "description": text(sim.rng, 420, f"{name.replace('_', ' ').capitalize()}. "),
              "input_schema": {"type": "object", "properties": props, "required": sorted(props)[:2]}}
    return schema


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof
    import anthropic

    agentprof.instrument("anthropic")
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-mock-support", max_retries=0)
    system = text(sim.rng, SYSTEM_CHARS, "You are Acme's customer support agent. Policies follow. ")
    tools = [tool_schema(sim, name) for name in TOOL_NAMES]

    def make_tool(name: str):
        @agentprof.tool(name=name)
        def call(**args: object) -> str:
            sim.work_ms(sim.lognormal(250, 0.3))
            return "ok"
        return call

    handlers = {name: make_tool(name) for name in TOOL_NAMES}

    @agentprof.agent(name="support_agent")
    def conversation(index: int, steps: int) -> None:
        sim.work_ms(sim.vary(200, 0.2))
        for n in range(1, steps + 1):

            @agentprof.step
            def turn() -> None:
                message = text(sim.rng, INPUT_CHARS, f"[conversation {index}, message {n}] Customer: ")
                use = TOOL_NAMES[(index * 5 + n) % len(TOOL_NAMES)] if n < steps else None
                calls = [(use, {f"{use.split('_')[-1]}_id": f"A-{index}{n:02d}"})] if use else []
                server.queue(Reply(text=text(sim.rng, 1_800, "Thanks for your patience. "), tool_calls=calls,
                                   output_tokens=OUTPUT_TOKENS, ttft_ms=sim.vary(1_100, 0.15),
                                   gen_ms=OUTPUT_TOKENS * sim.vary(15, 0.1), model=RESPONSE_MODEL))
                used = []
                with client.messages.create(model=MODEL, max_tokens=1024, system=system, tools=tools, stream=True,
                                            messages=[{"role": "user", "content": message}]) as stream:
                    for event in stream:
                        if event.type == "content_block_start" and event.content_block.type == "tool_use":
                            used.append(event.content_block.name)
                for name in used:
                    sim.work_ms(sim.vary(60, 0.2))
                    handlers[name](customer=f"C-{index}")

            turn()

    try:
        for i, steps in enumerate(CONVERSATIONS, 1):
            conversation(i, steps)
            sim.work_ms(sim.vary(900_000, 0.3))
    finally:
        client.close()
        agentprof.uninstrument()
