"""coding_agent_context_growth: a 20-step coding agent that re-sends everything every step.

Manual layer (``@agent``, ``@step``, ``@tool``) around the automatic OpenAI layer: each step is
a real streamed ``openai`` chat completion whose ``messages`` hold the long system prompt of
coding guidelines, the task, every earlier assistant turn and every earlier tool output. The
instrumentation measures the prompt parts from those messages; the mock server counts input
tokens as characters / 4. Written as OTLP JSON lines (what ``JsonlSpanExporter`` writes).
"""

from __future__ import annotations

import json

from .harness import Sim, assistant_message, function_tool, openai_chat, text, tool_result_message
from .mock_llm import MockLLMServer, Reply

NAME = "coding_agent_context_growth"
FILE = "coding_agent_context_growth.jsonl"
SERVICE = "coding-agent"
MODEL = "gpt-4o"
STEPS = 20

SYSTEM_CHARS = 14_000  # ~3,500 tokens of coding guidelines
TASK_CHARS = 1_200
TOOL_OUTPUT_CHARS = 6_000  # ~1,500 tokens: a file, a diff or a test log per step
THOUGHT_CHARS = 1_000

TOOLS = [
    function_tool("read_file", "Read a file of the repository.", {"path": {"type": "string"}}),
    function_tool("edit_file", "Replace a range of lines in a file.",
                  {"path": {"type": "string"}, "start": {"type": "integer"}, "end": {"type": "integer"},
                   "text": {"type": "string"}}),
    function_tool("run_tests", "Run the test suite (or one test file) and return the log.",
                  {"target": {"type": "string"}}),
    function_tool("grep", "Search the repository for a regular expression.", {"pattern": {"type": "string"}}),
]

PLAN = (
    ("grep", {"pattern": "def parse_invoice"}), ("read_file", {"path": "billing/invoice.py"}),
    ("read_file", {"path": "billing/tests/test_invoice.py"}), ("run_tests", {"target": "billing/tests"}),
    ("read_file", {"path": "billing/currency.py"}),
    ("edit_file", {"path": "billing/invoice.py", "start": 88, "end": 104, "text": "..."}),
    ("run_tests", {"target": "billing/tests/test_invoice.py"}), ("read_file", {"path": "billing/rounding.py"}),
    ("edit_file", {"path": "billing/rounding.py", "start": 12, "end": 30, "text": "..."}),
    ("run_tests", {"target": "billing/tests/test_rounding.py"}), ("grep", {"pattern": "quantize\\("}),
    ("read_file", {"path": "billing/tax.py"}),
    ("edit_file", {"path": "billing/tax.py", "start": 40, "end": 52, "text": "..."}),
    ("run_tests", {"target": "billing/tests/test_tax.py"}), ("read_file", {"path": "billing/tests/test_tax.py"}),
    ("edit_file", {"path": "billing/tests/test_tax.py", "start": 1, "end": 9, "text": "..."}),
    ("run_tests", {"target": "billing"}), ("grep", {"pattern": "TODO\\(rounding\\)"}),
    ("run_tests", {"target": "."}),
)
TOOL_MS = {"grep": 300, "read_file": 60, "edit_file": 120, "run_tests": 8_500}


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof
    import openai

    agentprof.instrument("openai")
    client = openai.OpenAI(base_url=server.openai_url, api_key="sk-mock-coding", max_retries=0)
    system = text(sim.rng, SYSTEM_CHARS, "You are a senior Python engineer. Follow these coding guidelines. ")
    task = text(sim.rng, TASK_CHARS, "Fix: invoices in JPY are rounded to cents. ")

    def make_tool(name: str):
        @agentprof.tool(name=name)
        def call(**args: object) -> str:
            sim.work_ms(sim.vary(TOOL_MS[name], 0.15))
            return text(sim.rng, TOOL_OUTPUT_CHARS, f"$ {name} {json.dumps(args)}\n")
        return call

    tools = {name: make_tool(name) for name in TOOL_MS}

    @agentprof.agent(name="coding_agent")
    def solve() -> str:
        sim.work_ms(900)  # index the repository
        messages: list[dict] = [{"role": "system", "content": system}, {"role": "user", "content": task}]
        for n in range(1, STEPS + 1):

            @agentprof.step
            def turn() -> str | None:
                final = n == STEPS
                thought = text(sim.rng, THOUGHT_CHARS, f"Step {n}: ")
                calls = [] if final else [PLAN[n - 1]]
                # every turn re-sends the whole conversation: time to first token grows with it
                prompt_tokens = sum(len(str(m.get("content") or "")) for m in messages) / 4
                server.queue(Reply(text=thought, tool_calls=calls, output_tokens=300,
                                   ttft_ms=sim.vary(450 + prompt_tokens * 0.02, 0.1), gen_ms=sim.vary(4_200, 0.1)))
                out, got = openai_chat(client, stream=True, model=MODEL, messages=messages, tools=TOOLS)
                messages.append(assistant_message(out, got))
                if final:
                    return out
                sim.work_ms(sim.vary(80, 0.2))
                for call in got:
                    messages.append(tool_result_message(call, tools[call["name"]](**json.loads(call["arguments"]))))
                return None

            answer = turn()
            if answer is not None:
                return answer
        return ""

    try:
        solve()
    finally:
        client.close()
        agentprof.uninstrument()
