"""Hand-made traces with known answers, shared by the rule tests.

Each function adds one run to a ``TraceBuilder`` and returns the ids a test asserts on.
Times are seconds from T0. Token counts are chosen so the expected numbers are exact.
"""

from __future__ import annotations

from typing import Any

GPT4O = {"request_model": "gpt-4o", "response_model": "gpt-4o-2024-08-06", "provider": "openai"}


def llm(b: Any, parent: str | None, start: float, end: float, **cols: Any) -> str:
    return b.span("chat gpt-4o", category="llm", parent=parent, start=start, end=end, **{**GPT4O, **cols})


def tool(b: Any, parent: str | None, name: str, start: float, end: float, args: str | None = None, **cols: Any) -> str:
    return b.span(f"execute_tool {name}", category="tool", parent=parent, start=start, end=end, tool_name=name,
                  tool_args_hash=args if args is not None else f"{name}-{start}", **cols)


def sequential_retrieval(b: Any, *, dependent: bool = False, parallel: bool = False) -> dict[str, Any]:
    """A 47 s run: three 11.3 s vector-store calls one after another in one step, 3.6 s of LLM.

    ``dependent``: an LLM call sits between the calls (each may use the previous result).
    ``parallel``: the three calls overlap (already concurrent).
    """
    root = b.span("research agent", category="agent", start=0, end=47, agent_name="research")
    llm(b, root, 0.2, 2.0, input_tokens=1200, output_tokens=80)
    ids = []
    t = 2.1
    for i in range(3):
        if dependent and i:
            llm(b, root, t, t + 0.05, input_tokens=1300, output_tokens=20)
            t += 0.05
        start = 2.1 if parallel else t
        ids.append(b.span("vector_search", category="retrieval", parent=root, start=start, end=start + 11.3,
                          tool_name="vector_search", tool_args_hash=f"q{i}"))
        t = start + 11.3
    llm(b, root, 36.0, 37.8, input_tokens=4000, output_tokens=300)
    send = tool(b, root, "send_email", 38.0, 46.8)
    return {"root": root, "retrievals": ids, "send": send}


def compounding_history(b: Any, *, steps: int = 20, growth_tokens: int = 1800, cached: bool = False) -> dict[str, Any]:
    """An agent loop that re-sends its whole history: step k has 3000 + growth_tokens*k input tokens.

    The 3,000-token system prompt (12,000 chars) opens every call; history grows by
    growth_tokens (4 chars a token) per step; each step writes 150 tokens and calls one tool.
    With the defaults total input is 402,000 tokens and the last call has 37,200.
    """
    root = b.span("coding agent", category="agent", start=0, end=steps * 2.0 + 1, agent_name="coder")
    llm_ids, tool_ids = [], []
    for k in range(steps):
        t = 1 + 2.0 * k
        inp = 3000 + growth_tokens * k
        llm_ids.append(
            llm(b, root, t, t + 1.2, input_tokens=inp, output_tokens=150, system_chars=12_000,
                history_chars=4 * growth_tokens * k, cache_read_tokens=3000 if cached and k else 0)
        )
        tool_ids.append(tool(b, root, "run_tests", t + 1.3, t + 1.9, args=f"v{k}"))
    return {"root": root, "llm": llm_ids, "tools": tool_ids}


def tool_sequence(b: Any, names_args: list[tuple[str, str]], *, status: dict[int, str] | None = None,
                  gap: float = 1.0, root_status: str = "ok", **tool_cols: Any) -> dict[str, Any]:
    """One LLM call before each tool call, in order; ``status`` maps call index -> span status."""
    n = len(names_args)
    root = b.span("agent", category="agent", start=0, end=n * 2 * gap + 1, agent_name="a", status=root_status)
    tools = []
    for i, (name, args) in enumerate(names_args):
        t = 0.5 + 2 * gap * i
        llm(b, root, t, t + gap * 0.5, input_tokens=500, output_tokens=30)
        tools.append(tool(b, root, name, t + gap * 0.6, t + gap * 1.6, args=args,
                          status=(status or {}).get(i, "ok"), **tool_cols))
    return {"root": root, "tools": tools}
