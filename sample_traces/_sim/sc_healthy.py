"""healthy_three_step: a well-behaved 3.2 s run, written as OTLP protobuf.

Manual layer only: ``agentprof.span`` for the run, ``@step``, ``@tool``, ``@retrieval`` and
``@llm`` (via ``fake_chat``). gpt-4o, 4,280 tokens, $0.0320. About 1.5 s of the run is
untraced framework time (setup, dispatch, writing the transcript), which agentprof should
report as framework overhead rather than hide.
"""

from __future__ import annotations

from .harness import Sim, fake_chat
from .mock_llm import MockLLMServer

NAME = "healthy_three_step"
FILE = "healthy_three_step.pb"
SERVICE = "assistant"
MODEL = "gpt-4o"
RESPONSE_MODEL = "gpt-4o-2024-08-06"

# (input_tokens, output_tokens, duration_ms, ttft_ms, prompt part sizes in chars)
CALLS = {
    "plan": (400, 967, 420, 260, {"system_chars": 1000, "tool_schema_chars": 480, "history_chars": 120}),
    "reason": (460, 952, 380, 240, {"system_chars": 1000, "tool_schema_chars": 480, "history_chars": 200,
                                     "tool_output_chars": 160}),
    "final_answer": (580, 921, 650, 280, {"system_chars": 1000, "tool_schema_chars": 480, "history_chars": 480,
                                           "tool_output_chars": 360}),
}


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof

    def llm(step_name: str) -> None:
        inp, out, dur, ttft, sizes = CALLS[step_name]
        fake_chat(sim, MODEL, response_model=RESPONSE_MODEL, input_tokens=inp, output_tokens=out,
                  ttft_ms=ttft, gen_ms=dur - ttft, sizes=sizes)

    @agentprof.retrieval(source="vector_search")
    def vector_search(query: str) -> list[str]:
        sim.work_ms(45)
        return ["kb-17", "kb-204"]

    @agentprof.tool
    def search_kb(query: str) -> str:
        sim.work_ms(25)  # build the query
        hits = vector_search(query)
        sim.work_ms(15)  # load the two articles
        return ", ".join(hits)

    @agentprof.tool
    def send_email(to: str, subject: str) -> str:
        from agentprof.instrumentation import current_span

        current_span().mark_human_approval()  # a person approved the outgoing mail in the UI
        sim.work_ms(120)
        return "queued"

    @agentprof.step(name="plan")
    def plan() -> None:
        llm("plan")
        sim.work_ms(90)
        search_kb("reset two-factor authentication")

    @agentprof.step(name="reason")
    def reason() -> None:
        sim.work_ms(60)
        llm("reason")
        sim.work_ms(110)
        send_email("customer-4821", "How to reset two-factor authentication")

    @agentprof.step(name="final_answer")
    def final_answer() -> None:
        sim.work_ms(70)
        llm("final_answer")

    attrs = {"gen_ai.agent.name": "assistant", "user.id": "user-4821", "gen_ai.conversation.id": "sess-8f3a2c"}
    with agentprof.span("agent_run", category="agent", attributes=attrs):
        sim.work_ms(420)  # load memory and tool registry
        plan()
        reason()
        final_answer()
        sim.work_ms(795)  # write the transcript, update memory
