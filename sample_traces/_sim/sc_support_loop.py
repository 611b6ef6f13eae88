"""support_ticket_loop: a LangGraph support agent that re-classifies and re-drafts in a loop.

LangChain layer: ``langchain.agents.create_agent`` with a langchain-core fake chat model (a
``GenericFakeChatModel`` that reports usage and its first token, and advances the virtual
clock), real LangChain tools, and agentprof's ``AgentprofCallbackHandler``.

Two runs. Ticket T-1041 is handled normally: fetch, classify, search the knowledge base,
draft, answer (5 model calls). Ticket T-1042 hits the ambiguous "resolved" criterion of the
system prompt: ``check_resolution`` answers "unclear", so the agent classifies the same text
again, drafts the same reply again and checks again, until LangGraph's recursion limit stops
it without an answer, spending about 3x the tokens of the normal run.
"""

from __future__ import annotations

import math
from typing import Any

from .harness import Sim, text
from .mock_llm import MockLLMServer

NAME = "support_ticket_loop"
FILE = "support_ticket_loop.json"
SERVICE = "support-desk"
MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
RECURSION_LIMIT = 24

SYSTEM = (
    "You are the support desk agent. For every ticket: fetch it, classify it, search the knowledge base, "
    "draft a reply, and make sure the ticket is resolved before you finish. A ticket is resolved when the "
    "customer's problem is addressed. "
)


def _calls(*pairs: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": n, "args": a, "id": f"call_{n}_{i}", "type": "tool_call"} for i, (n, a) in enumerate(pairs)]


def run(sim: Sim, server: MockLLMServer) -> None:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.tools import tool
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from agentprof.instrumentation.langchain import AgentprofCallbackHandler

    system = text(sim.rng, 3_800, SYSTEM)

    class SimulatedChatModel(GenericFakeChatModel):
        """The fake chat model, on virtual time, with usage counted as characters / 4."""

        model_name: str = MODEL

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

        def _get_ls_params(self, stop: Any = None, **kwargs: Any) -> Any:
            return super()._get_ls_params(stop=stop, **kwargs) | {"ls_provider": "openai"}

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
            reply = next(self.messages)
            chars = sum(len(str(m.content)) + sum(len(c["name"]) + len(str(c["args"])) for c in
                                                   getattr(m, "tool_calls", None) or []) for m in messages)
            chars += sum(len(str(t)) for t in kwargs.get("tools") or [])
            out_tokens = max(12, math.ceil((len(reply.content) + len(str(reply.tool_calls))) / 4))
            sim.work_ms(sim.vary(450, 0.15))
            if run_manager is not None:
                run_manager.on_llm_new_token(reply.content[:8] or " ")
            sim.work_ms(out_tokens * sim.vary(14, 0.1))
            message = AIMessage(
                content=reply.content, tool_calls=reply.tool_calls,
                usage_metadata={"input_tokens": math.ceil(chars / 4), "output_tokens": out_tokens,
                                "total_tokens": math.ceil(chars / 4) + out_tokens},
                response_metadata={"model_name": RESPONSE_MODEL,
                                   "finish_reason": "tool_calls" if reply.tool_calls else "stop"},
            )
            return ChatResult(generations=[ChatGeneration(message=message)])


    @tool
    def fetch_ticket(ticket_id: str) -> str:
        """Fetch a support ticket by id."""
        sim.work_ms(sim.vary(350, 0.1))
        return text(sim.rng, 450, f"Ticket {ticket_id}: customer cannot export invoices since the upgrade. ")

    @tool
    def classify_ticket(ticket_id: str, summary: str) -> str:
        """Classify a ticket into category and priority."""
        sim.work_ms(sim.vary(900, 0.1))
        return '{"category": "billing/export", "priority": "P2"}'

    @tool
    def search_kb(query: str) -> str:
        """Search the knowledge base."""
        sim.work_ms(sim.vary(600, 0.1))
        return text(sim.rng, 500, "KB-2231 Exporting invoices after an upgrade: ")

    @tool
    def draft_reply(ticket_id: str, category: str) -> str:
        """Draft a reply to the customer."""
        sim.work_ms(sim.vary(1_200, 0.1))
        return text(sim.rng, 400, "Draft: Hello, thanks for reaching out. ")

    @tool
    def check_resolution(ticket_id: str) -> str:
        """Check whether the ticket can be closed as resolved."""
        sim.work_ms(sim.vary(400, 0.1))
        return "unclear: the customer has not confirmed the fix; resolution criteria not met"

    tools = [fetch_ticket, classify_ticket, search_kb, draft_reply, check_resolution]
    summary = "Invoices cannot be exported after upgrade"
    handler = AgentprofCallbackHandler()

    def script(ticket: str, loops: int) -> list[AIMessage]:
        first = [
            AIMessage(content="", tool_calls=_calls(("fetch_ticket", {"ticket_id": ticket}))),
            AIMessage(content="", tool_calls=_calls(("classify_ticket", {"ticket_id": ticket, "summary": summary}))),
            AIMessage(content="", tool_calls=_calls(("search_kb", {"query": "export invoices after upgrade"}))),
            AIMessage(content="", tool_calls=_calls(("draft_reply", {"ticket_id": ticket, "category": "billing/export"}))),
        ]
        if not loops:
            return first + [AIMessage(content=text(sim.rng, 900, "Reply sent to the customer: "))]
        again = [
            AIMessage(content="", tool_calls=_calls(("check_resolution", {"ticket_id": ticket}))),
            AIMessage(content="Not resolved yet; re-checking the category.",
                      tool_calls=_calls(("classify_ticket", {"ticket_id": ticket, "summary": summary}))),
            AIMessage(content="Re-drafting the reply.",
                      tool_calls=_calls(("draft_reply", {"ticket_id": ticket, "category": "billing/export"}))),
        ]
        return first + again * loops

    for ticket, loops in (("T-1041", 0), ("T-1042", 4)):
        model = SimulatedChatModel(messages=iter(script(ticket, loops)))
        agent = create_agent(model, tools=tools, system_prompt=system, name="support_agent")
        try:
            agent.invoke({"messages": [{"role": "user", "content": f"Please handle ticket {ticket}."}]},
                         config={"callbacks": [handler], "recursion_limit": RECURSION_LIMIT,
                                 "metadata": {"ticket_id": ticket}})
        except Exception as exc:  # GraphRecursionError: the loop never reached "done"
            if type(exc).__name__ != "GraphRecursionError":
                raise
        sim.work_ms(600_000)
