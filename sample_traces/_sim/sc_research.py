"""research_agent_sequential_retrieval: three independent 11.3 s vector-store lookups in a row.

Manual layer (``@agent``, ``@step``, ``@retrieval``, ``@tool``) around the automatic OpenAI
layer: the LLM calls are real ``openai`` client calls (streamed) to the mock server.
Five requests of one research agent, about 47 s each, of which ~34 s are the three
sequential ``vector_search`` calls of step 1; LLM time is under 4 s per request.
"""

from __future__ import annotations

import json

from .harness import Sim, assistant_message, function_tool, openai_chat, text, tool_result_message
from .mock_llm import MockLLMServer, Reply

NAME = "research_agent_sequential_retrieval"
FILE = "research_agent_sequential_retrieval.json"
SERVICE = "research-agent"
MODEL = "gpt-4o"

QUESTIONS = (
    ("How did EU data-residency rules change vendor selection in 2025?",
     ("data residency regulation 2025", "vendor selection criteria cloud", "EU cloud provider market share")),
    ("What drives churn in mid-market SaaS contracts?",
     ("mid-market SaaS churn drivers", "contract renewal pricing", "customer success benchmarks")),
    ("Which battery chemistries compete with LFP for grid storage?",
     ("grid storage battery chemistry", "sodium-ion cost per kWh", "LFP supply chain risk")),
    ("How do central banks model the effect of rate cuts on housing?",
     ("monetary policy housing transmission", "mortgage rate pass-through", "house price elasticity")),
    ("What are the main failure modes of retrieval-augmented generation?",
     ("RAG failure modes", "retrieval recall evaluation", "context window distraction")),
)

TOOLS = [
    function_tool("vector_search", "Semantic search over the research corpus; returns the top_k passages.",
                  {"query": {"type": "string"}, "top_k": {"type": "integer"}}),
    function_tool("fetch_documents", "Fetch full documents by id from the document store.",
                  {"ids": {"type": "array", "items": {"type": "string"}}}),
]


def run(sim: Sim, server: MockLLMServer) -> None:
    import agentprof
    import openai

    agentprof.instrument("openai")
    client = openai.OpenAI(base_url=server.openai_url, api_key="sk-mock-research", max_retries=0)
    system = text(sim.rng, 1800, "You are a careful research assistant. Cite every claim. ")

    @agentprof.retrieval(source="vector_search")
    def vector_search(query: str, top_k: int) -> str:
        sim.work_ms(sim.vary(11_300, 0.03))  # one synchronous call to the vector database
        return text(sim.rng, 2400, f"[{top_k} passages for {query!r}] ")

    @agentprof.tool
    def fetch_documents(ids: list[str]) -> str:
        sim.work_ms(sim.vary(5_600, 0.08))
        return text(sim.rng, 3200, "Documents: ")

    @agentprof.agent(name="research_agent")
    def research(question: str, queries: tuple[str, ...]) -> str:
        sim.work_ms(sim.vary(1_100, 0.2))  # load settings, open the vector-store client
        messages: list[dict] = [{"role": "system", "content": system}, {"role": "user", "content": question}]

        @agentprof.step
        def plan_and_retrieve() -> None:
            server.queue(Reply(tool_calls=[("vector_search", {"query": q, "top_k": 8}) for q in queries],
                               ttft_ms=sim.vary(520, 0.1), gen_ms=sim.vary(680, 0.1)))
            out, calls = openai_chat(client, stream=True, model=MODEL, messages=messages, tools=TOOLS,
                                     parallel_tool_calls=True)
            messages.append(assistant_message(out, calls))
            sim.work_ms(sim.vary(120, 0.2))  # dispatch
            for call in calls:  # the bottleneck: independent lookups awaited one by one
                args = json.loads(call["arguments"])
                messages.append(tool_result_message(call, vector_search(args["query"], args["top_k"])))
            sim.work_ms(sim.vary(1_150, 0.1))  # chunk, dedupe and count tokens of 24 passages

        @agentprof.step
        def read() -> None:
            server.queue(Reply(tool_calls=[("fetch_documents", {"ids": ["doc-118", "doc-342", "doc-907"]})],
                               ttft_ms=sim.vary(480, 0.1), gen_ms=sim.vary(420, 0.1)))
            out, calls = openai_chat(client, stream=True, model=MODEL, messages=messages, tools=TOOLS)
            messages.append(assistant_message(out, calls))
            sim.work_ms(sim.vary(100, 0.2))
            for call in calls:
                messages.append(tool_result_message(call, fetch_documents(json.loads(call["arguments"])["ids"])))
            sim.work_ms(sim.vary(850, 0.1))  # trim documents into the next prompt

        @agentprof.step
        def answer() -> str:
            server.queue(Reply(text=text(sim.rng, 2600, "Summary: "), ttft_ms=sim.vary(610, 0.1),
                               gen_ms=sim.vary(1_050, 0.1)))
            out, _ = openai_chat(client, stream=True, model=MODEL, messages=messages, tools=TOOLS)
            return out

        plan_and_retrieve()
        read()
        result = answer()
        sim.work_ms(sim.vary(300, 0.2))  # format citations, store the answer
        return result

    try:
        for question, queries in QUESTIONS:
            research(question, queries)
            sim.work_ms(sim.vary(240_000, 0.5))  # next request a few minutes later
    finally:
        client.close()
        agentprof.uninstrument()
