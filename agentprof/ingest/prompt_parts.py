"""Measure the four prompt parts of an LLM call from captured content, in characters.

The cost analyzer splits a call's input tokens into system prompt, tool schemas,
conversation history and tool outputs in proportion to these sizes. They come from
``agentprof.prompt.*_chars`` when our own instrumentation wrote them; otherwise from the
captured messages of whichever convention the span uses:

* OTel GenAI: ``gen_ai.system_instructions``, ``gen_ai.input.messages`` (role ``system`` →
  system, role ``tool`` or ``tool_call_response`` parts → tool outputs, the rest → history),
  ``gen_ai.tool.definitions``. Structured values or JSON strings.
* OpenInference: ``llm.input_messages.N.message.*``, ``llm.tools.N.tool.json_schema``.
* OpenLLMetry (legacy): ``gen_ai.prompt.N.role|content``, ``llm.request.functions.N.*``.

Sizes: text → its length; a tool call → name + arguments (JSON text); a tool result → its
text (JSON text when structured); a tool definition → its compact JSON; anything else →
its compact JSON. Only spans that carry content reach this (per-span Python is fine here).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

CONTENT_KEYS_REGEX = (
    r'"(gen_ai\.input\.messages|gen_ai\.system_instructions|gen_ai\.tool\.definitions'
    r'|llm\.input_messages\.\d|llm\.tools\.\d|gen_ai\.prompt\.\d|llm\.request\.functions\.\d)'
)
"""Matches the attributes JSON text of spans that carry prompt content."""

_OI_MSG = re.compile(r"^llm\.input_messages\.(\d+)\.message\.(.+)$")
_OI_TOOL = re.compile(r"^llm\.tools\.(\d+)\.tool\.json_schema$")
_LEGACY_MSG = re.compile(r"^gen_ai\.prompt\.(\d+)\.(.+)$")
_LEGACY_FN = re.compile(r"^llm\.request\.functions\.(\d+)\.(.+)$")


def _json_len(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    try:
        return len(orjson.dumps(value).decode())
    except (TypeError, orjson.JSONEncodeError):
        return len(str(value))


def _parsed(value: Any) -> Any:
    """Content attributes may be structured or a JSON string (the Python SDK's only option)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _part_size(part: Any) -> tuple[int, bool]:
    """(chars, is_tool_output) of one GenAI message part."""
    if isinstance(part, str):
        return len(part), False
    if not isinstance(part, dict):
        return _json_len(part), False
    kind = part.get("type")
    if kind == "text" or (kind is None and "content" in part):
        return _json_len(part.get("content") or ""), False
    if kind == "tool_call":
        return len(str(part.get("name") or "")) + _json_len(part.get("arguments") or ""), False
    if kind == "tool_call_response":
        return _json_len(part.get("response", part.get("result", ""))), True
    return _json_len(part), False


def measure(attrs: dict[str, Any]) -> tuple[int, int, int, int] | None:
    """(system, tool_schema, history, tool_output) chars, or None when no content is captured."""
    system = schema = history = tool_out = 0
    found = False

    instructions = attrs.get("gen_ai.system_instructions")
    if instructions is not None:
        found = True
        parts = _parsed(instructions)
        for part in parts if isinstance(parts, list) else [parts]:
            system += _part_size(part)[0]

    messages = attrs.get("gen_ai.input.messages")
    if messages is not None:
        found = True
        msgs = _parsed(messages)
        for msg in msgs if isinstance(msgs, list) else [msgs]:
            if not isinstance(msg, dict):
                history += _json_len(msg)
                continue
            role = msg.get("role")
            parts = msg.get("parts")
            if parts is None:  # older {role, content} messages
                parts = [msg.get("content") or ""]
            for part in parts if isinstance(parts, list) else [parts]:
                n, is_tool = _part_size(part)
                if role == "system":
                    system += n
                elif role == "tool" or is_tool:
                    tool_out += n
                else:
                    history += n

    definitions = attrs.get("gen_ai.tool.definitions")
    if definitions is not None:
        found = True
        defs = _parsed(definitions)
        for d in defs if isinstance(defs, list) else [defs]:
            schema += _json_len(d)

    # Flattened conventions: group keys by message index.
    oi: dict[int, dict[str, Any]] = {}
    legacy: dict[int, dict[str, Any]] = {}
    functions: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith("llm.input_messages."):
            m = _OI_MSG.match(key)
            if m:
                oi.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif key.startswith("llm.tools."):
            if _OI_TOOL.match(key):
                found = True
                schema += _json_len(_parsed(value))
        elif key.startswith("gen_ai.prompt."):
            m = _LEGACY_MSG.match(key)
            if m:
                legacy.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif key.startswith("llm.request.functions."):
            m = _LEGACY_FN.match(key)
            if m:
                functions.setdefault(int(m.group(1)), {})[m.group(2)] = value

    for fields, content_keys in ((oi, ("content",)), (legacy, ("content",))):
        for msg in fields.values():
            found = True
            role = msg.get("role")
            n = 0
            for k, v in msg.items():
                if k in content_keys or k.endswith("message_content.text"):
                    n += _json_len(v)
                elif k.endswith(("function.name", "function.arguments")) or (
                    k.startswith("tool_calls.") and k.endswith((".name", ".arguments"))
                ):
                    n += _json_len(v)
            if role == "system":
                system += n
            elif role == "tool":
                tool_out += n
            else:
                history += n

    for fn in functions.values():
        found = True
        definition = {k: _parsed(v) if k == "parameters" else v for k, v in fn.items()}
        schema += _json_len(definition)

    return (system, schema, history, tool_out) if found else None
