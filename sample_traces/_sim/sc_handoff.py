"""multi_agent_handoff: researcher -> writer -> reviewer, the reviewer in another service.

Manual layer (``@agent``, ``@step``, ``@tool``, ``agentprof.span(..., category="handoff")``)
around the automatic OpenAI layer (researcher on gpt-4o-mini, writer on gpt-4o, streamed)
and the automatic Anthropic layer (reviewer on claude-sonnet-4-5). The writer hands the
draft to the reviewer over HTTP: the W3C ``traceparent`` travels in the request headers, the
reviewer's spans carry ``service.name=review-service``, and the first request of the run hits
a cold container (2.8 s start-up before the reviewer's code runs). Handoffs queue state and
wait for the next agent, so inter-step coordination shows up as its own latency component and
the critical path crosses all three agents. Two runs; only the first has the cold start.
"""

from __future__ import annotations

from .collect import Collector
from .harness import Sim, openai_chat, text
from .mock_llm import MockLLMServer, Reply

NAME = "multi_agent_handoff"
FILE = "multi_agent_handoff.json"
SERVICE = "editorial-pipeline"
REMOTE_SERVICE = "review-service"
NEEDS_COLLECTOR = True
COLD_START_MS = 2_800


def run(sim: Sim, server: MockLLMServer, collector: Collector) -> None:
    import agentprof
    import anthropic
    import openai
    from opentelemetry import context as otel_context
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    agentprof.instrument("openai", "anthropic")
    oai = openai.OpenAI(base_url=server.openai_url, api_key="sk-mock-editorial", max_retries=0)
    claude = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-mock-review", max_retries=0)
    propagator = TraceContextTextMapPropagator()
    warm = {"review": False}

    @agentprof.tool
    def web_search(query: str) -> str:
        sim.work_ms(sim.lognormal(1_300, 0.15))
        return text(sim.rng, 3_000, f"Results for {query}: ")

    @agentprof.agent(name="researcher")
    def researcher(topic: str) -> str:
        notes = []
        for n, query in enumerate((f"{topic} statistics 2025", f"{topic} expert opinion")):

            @agentprof.step
            def turn() -> None:
                server.queue(Reply(tool_calls=[("web_search", {"query": query})], ttft_ms=sim.vary(380, 0.1),
                                   gen_ms=sim.vary(260, 0.1)))
                openai_chat(oai, model="gpt-4o-mini", messages=[
                    {"role": "system", "content": "You research topics for a newsroom."},
                    {"role": "user", "content": f"Research: {topic}. Notes so far:\n" + "\n".join(notes)}])
                notes.append(web_search(query))

            turn()
        return "\n".join(notes)

    @agentprof.agent(name="writer")
    def writer(notes: str) -> str:
        @agentprof.step
        def draft() -> str:
            server.queue(Reply(text=text(sim.rng, 6_000, "Draft: "), output_tokens=1_500,
                               ttft_ms=sim.vary(650, 0.1), gen_ms=sim.vary(16_000, 0.05)))
            out, _ = openai_chat(oai, stream=True, model="gpt-4o", messages=[
                {"role": "system", "content": "You write 800-word explainers."},
                {"role": "user", "content": notes}])
            return out

        return draft()

    @agentprof.agent(name="reviewer")
    def reviewer(draft_text: str) -> str:
        @agentprof.step
        def review() -> str:
            server.queue(Reply(text=text(sim.rng, 1_600, "Review: "), output_tokens=400,
                               ttft_ms=sim.vary(900, 0.1), gen_ms=sim.vary(5_200, 0.05), model="claude-sonnet-4-5-20250929"))
            msg = claude.messages.create(model="claude-sonnet-4-5", max_tokens=1_024,
                                         system="You review explainers for accuracy and tone.",
                                         messages=[{"role": "user", "content": draft_text}])
            return msg.content[0].text

        return review()

    def review_service(headers: dict[str, str], draft_text: str) -> str:
        """The reviewer's HTTP endpoint, as the other service runs it."""
        token = otel_context.attach(propagator.extract(headers))
        try:
            with agentprof.span("POST /review", category="chain", kind=SpanKind.SERVER,
                                attributes={"http.request.method": "POST", "http.route": "/review"}) as srv:
                collector.move_subtree(srv.otel_span.get_span_context().span_id, REMOTE_SERVICE)
                if not warm["review"]:
                    sim.work_ms(COLD_START_MS)  # container start and model client import, untraced
                    warm["review"] = True
                sim.work_ms(sim.vary(40, 0.2))
                return reviewer(draft_text)
        finally:
            otel_context.detach(token)

    def handoff(source: str, target: str, attrs: dict | None = None):
        return agentprof.span(f"handoff {source} -> {target}", category="handoff",
                              attributes={"agentprof.handoff.from": source, "agentprof.handoff.to": target, **(attrs or {})})

    @agentprof.agent(name="editorial_pipeline")
    def pipeline(topic: str) -> str:
        sim.work_ms(sim.vary(200, 0.2))
        notes = researcher(topic)
        with handoff("researcher", "writer"):
            sim.work_ms(sim.vary(450, 0.15))  # persist notes, enqueue the writer job, worker picks it up
        draft_text = writer(notes)
        with handoff("writer", "reviewer", {"server.address": "review-service.internal"}):
            headers: dict[str, str] = {}
            propagator.inject(headers)
            sim.work_ms(sim.vary(35, 0.2))  # request to the review service
            result = review_service(headers, draft_text)
            sim.work_ms(sim.vary(30, 0.2))
        sim.work_ms(sim.vary(150, 0.2))
        return result

    try:
        for topic in ("heat pumps in cold climates", "household battery recycling"):
            pipeline(topic)
            sim.work_ms(sim.vary(1_200_000, 0.2))
    finally:
        oai.close()
        claude.close()
        agentprof.uninstrument()
