"""GenAI facts shared by every layer: attribute names, usage extraction, prompt-part sizes.

Usage comes in four shapes and all end up as OTel GenAI attributes with an *inclusive*
``gen_ai.usage.input_tokens`` (cache reads and writes counted in):

* OpenAI Chat Completions: ``prompt_tokens`` (already inclusive), ``completion_tokens``,
  ``prompt_tokens_details.cached_tokens`` / ``cache_write_tokens``,
  ``completion_tokens_details.reasoning_tokens``;
* OpenAI Responses: ``input_tokens`` (inclusive), ``input_tokens_details.cached_tokens``,
  ``output_tokens_details.reasoning_tokens``;
* Anthropic: ``input_tokens`` EXCLUDES the cache, so input = input + cache_read + cache_creation;
* LangChain ``usage_metadata``: ``input_tokens`` (inclusive), ``input_token_details.cache_read``
  / ``cache_creation``, ``output_token_details.reasoning``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

CATEGORY = "agentprof.span.category"
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE = "gen_ai.usage.cache_creation.input_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TTFC_S = "gen_ai.response.time_to_first_chunk"
TTFT_NS = "agentprof.ttft_ns"
SERIALIZATION_NS = "agentprof.request.serialization_ns"
SYSTEM_CHARS = "agentprof.prompt.system_chars"
TOOL_SCHEMA_CHARS = "agentprof.prompt.tool_schema_chars"
HISTORY_CHARS = "agentprof.prompt.history_chars"
TOOL_OUTPUT_CHARS = "agentprof.prompt.tool_output_chars"
PROMPT_CHARS = "agentprof.prompt.chars"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_ARGS = "gen_ai.tool.call.arguments"
TOOL_ARGS_HASH = "agentprof.tool.args_hash"
AGENT_NAME = "gen_ai.agent.name"
STEP_NUMBER = "agentprof.step.number"
HUMAN_APPROVAL = "agentprof.human_approval"
ERROR_TYPE = "error.type"


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _int(v: Any) -> int | None:
    return v if type(v) is int else (int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None)


def usage_attributes(usage: Any, *, anthropic: bool | None = None) -> dict[str, int]:
    """GenAI usage attributes from one provider usage object or dict (any shape above)."""
    if usage is None:
        return {}
    out: dict[str, int] = {}
    prompt = _int(_get(usage, "prompt_tokens"))
    if prompt is not None:  # OpenAI chat
        out[INPUT_TOKENS] = prompt
        out[OUTPUT_TOKENS] = _int(_get(usage, "completion_tokens")) or 0
        details = _get(usage, "prompt_tokens_details")
        cached, written = _int(_get(details, "cached_tokens")), _int(_get(details, "cache_write_tokens"))
        reasoning = _int(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens"))
    else:
        inp = _int(_get(usage, "input_tokens"))
        if inp is None:
            return {}
        out[OUTPUT_TOKENS] = _int(_get(usage, "output_tokens")) or 0
        cr, cc = _get(usage, "cache_read_input_tokens"), _get(usage, "cache_creation_input_tokens")
        if anthropic or (anthropic is None and (cr is not None or cc is not None)):
            cached, written = _int(cr), _int(cc)
            out[INPUT_TOKENS] = inp + (cached or 0) + (written or 0)  # Anthropic excludes the cache
            reasoning = _int(_get(_get(usage, "output_tokens_details"), "reasoning_tokens"))
        else:
            out[INPUT_TOKENS] = inp  # OpenAI Responses and LangChain usage_metadata are inclusive
            details = _get(usage, "input_tokens_details")
            if details is not None:
                cached, written = _int(_get(details, "cached_tokens")), _int(_get(details, "cache_write_tokens"))
                reasoning = _int(_get(_get(usage, "output_tokens_details"), "reasoning_tokens"))
            else:
                details = _get(usage, "input_token_details")
                cached, written = _int(_get(details, "cache_read")), _int(_get(details, "cache_creation"))
                reasoning = _int(_get(_get(usage, "output_token_details"), "reasoning"))
    if cached is not None:
        out[CACHE_READ] = cached
    if written is not None:
        out[CACHE_WRITE] = written
    if reasoning is not None:
        out[REASONING] = reasoning
    return out


def response_attributes(result: Any) -> dict[str, Any]:
    """Usage, response model and finish reason from whatever an LLM call returned.

    Understands OpenAI ChatCompletion/Response, Anthropic Message, LangChain AIMessage /
    LLMResult-like objects and dicts with ``usage`` / ``usage_metadata`` / ``model``.
    """
    if result is None or isinstance(result, (str, bytes, int, float, bool)):
        return {}
    out: dict[str, Any] = {}
    usage = _get(result, "usage_metadata")
    anthropic = None
    if usage is None:
        usage = _get(result, "usage")
        anthropic = True if _get(result, "type") == "message" and _get(result, "role") == "assistant" else None
    if usage is None and isinstance(result, dict) and ("input_tokens" in result or "prompt_tokens" in result):
        usage = result
    out.update(usage_attributes(usage, anthropic=anthropic))
    model = _get(result, "model")
    if not isinstance(model, str):
        meta = _get(result, "response_metadata")
        model = _get(meta, "model_name") or _get(meta, "model")
    if isinstance(model, str) and model:
        out[RESPONSE_MODEL] = model
    reasons = finish_reasons(result)
    if reasons:
        out[FINISH_REASONS] = reasons
    return out


def finish_reasons(result: Any) -> tuple[str, ...]:
    choices = _get(result, "choices")
    if isinstance(choices, (list, tuple)):
        found = tuple(r for r in (_get(c, "finish_reason") for c in choices) if isinstance(r, str))
        if found:
            return found
    for key in ("stop_reason", "finish_reason"):
        r = _get(result, key)
        if isinstance(r, str):
            return (r,)
    meta = _get(result, "response_metadata")
    for key in ("finish_reason", "stop_reason"):
        r = _get(meta, key)
        if isinstance(r, str):
            return (r,)
    return ()


# ---------------------------------------------------------------------------- prompt parts


def _content_chars(content: Any) -> int:
    """Characters of a message content: a string, or a list of parts (text parts counted as text)."""
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, (list, tuple)):
        total = 0
        for part in content:
            if isinstance(part, str):
                total += len(part)
                continue
            text = _get(part, "text")
            if isinstance(text, str):
                total += len(text)
            else:
                total += _json_chars(part)
        return total
    return _json_chars(content)


def _json_chars(value: Any) -> int:
    try:
        return len(orjson.dumps(value, default=str))
    except Exception:
        return len(str(value))


def openai_prompt_sizes(messages: Any, tools: Any = None, instructions: Any = None) -> dict[str, int]:
    """Prompt-part sizes (chars) for an OpenAI chat ``messages`` list (or Responses ``input``)."""
    system = history = tool_out = 0
    if isinstance(instructions, str):
        system += len(instructions)
    if isinstance(messages, str):
        history += len(messages)
        messages = ()
    for m in messages or ():
        role = _get(m, "role")
        mtype = _get(m, "type")
        if role in ("system", "developer"):
            system += _content_chars(_get(m, "content"))
        elif role == "tool" or mtype == "function_call_output":
            tool_out += _content_chars(_get(m, "content") if role == "tool" else _get(m, "output"))
        else:
            history += _content_chars(_get(m, "content"))
            calls = _get(m, "tool_calls")
            if calls:
                history += _json_chars(calls)
            if mtype == "function_call":
                history += _content_chars(_get(m, "arguments"))
    return {
        SYSTEM_CHARS: system,
        TOOL_SCHEMA_CHARS: _json_chars(tools) if tools else 0,
        HISTORY_CHARS: history,
        TOOL_OUTPUT_CHARS: tool_out,
    }


def anthropic_prompt_sizes(system: Any, messages: Any, tools: Any = None) -> dict[str, int]:
    """Prompt-part sizes (chars) for an Anthropic ``messages.create`` call."""
    history = tool_out = 0
    for m in messages or ():
        content = _get(m, "content")
        if isinstance(content, (list, tuple)):
            for block in content:
                btype = _get(block, "type")
                if btype == "tool_result":
                    tool_out += _content_chars(_get(block, "content"))
                elif btype == "tool_use":
                    history += _json_chars(_get(block, "input")) + len(_get(block, "name") or "")
                else:
                    history += _content_chars([block])
        else:
            history += _content_chars(content)
    return {
        SYSTEM_CHARS: _content_chars(system),
        TOOL_SCHEMA_CHARS: _json_chars(tools) if tools else 0,
        HISTORY_CHARS: history,
        TOOL_OUTPUT_CHARS: tool_out,
    }


# ---------------------------------------------------------------------------- hashing


def _repr_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(repr(v) for v in value)
    return repr(value)


def args_hash(value: Any) -> str:
    """Stable 16-hex-digit hash of canonical JSON (sorted keys); non-JSON parts via ``repr``."""
    try:
        data = orjson.dumps(value, default=_repr_default, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except Exception:
        data = repr(value).encode("utf-8", "replace")
    return hashlib.sha256(data).hexdigest()[:16]


def error_type(exc: BaseException) -> str:
    """``error.type``: the exception's qualified class name (``module.Class``; builtins bare)."""
    cls = type(exc)
    mod = cls.__module__
    return cls.__qualname__ if mod in ("builtins", "__main__") else f"{mod}.{cls.__qualname__}"
