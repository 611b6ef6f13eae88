"""Content capture and redaction.

Prompts and tool arguments are *not* recorded unless content capture is on
(``configure(capture_content=True)`` or ``AGENTPROF_CAPTURE_CONTENT=1``). Sizes, hashes and
token counts are always recorded: they carry no content.

When content is captured, :func:`redact` replaces secrets and personal data before the text
reaches a span: API keys (``sk-...``, ``sk-ant-...``, AWS ``AKIA...``, GitHub/Slack/Google
token shapes, generic ``api_key=...``/``password: ...`` pairs), bearer tokens, JWTs, e-mail
addresses, and card numbers that pass the Luhn check (so ordinary long numbers survive).
"""

from __future__ import annotations

import os
import re
from typing import Any

ENV_CAPTURE = "AGENTPROF_CAPTURE_CONTENT"

_TRUE = {"1", "true", "yes", "on"}


def env_capture_content() -> bool:
    """True when ``AGENTPROF_CAPTURE_CONTENT`` asks for content capture."""
    return os.environ.get(ENV_CAPTURE, "").strip().lower() in _TRUE


# Order matters: specific token shapes first, then generic key=value pairs, then PII.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*"), "Bearer [REDACTED_TOKEN]"),
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"), "[REDACTED_API_KEY]"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "[REDACTED_AWS_KEY]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), "[REDACTED_API_KEY]"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"), "[REDACTED_API_KEY]"),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"), "[REDACTED_API_KEY]"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), "[REDACTED_JWT]"),
    (
        re.compile(
            r"(?i)\b((?:api[_\-]?key|apikey|access[_\-]?key|secret(?:[_\-]?key)?|token|auth|password|passwd|pwd)"
            r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]{4,})"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), "[REDACTED_EMAIL]"),
)

# 13-19 digits, optionally separated by single spaces or dashes.
_CARD = re.compile(r"\b\d(?:[ \-]?\d){12,18}\b")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_sub(match: re.Match[str]) -> str:
    digits = re.sub(r"[ \-]", "", match.group(0))
    return "[REDACTED_CARD]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def redact(text: str) -> str:
    """Return ``text`` with secrets, e-mail addresses and Luhn-valid card numbers replaced."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return _CARD.sub(_card_sub, text)


def redact_value(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples), keeping its shape.

    Values under keys that name a secret (``api_key``, ``password``, ``authorization``, ...)
    are replaced whole, whatever they look like.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str) and _SECRET_KEY.search(k) and isinstance(v, (str, int, bytes)):
                out[k] = "[REDACTED]"
            else:
                out[k] = redact_value(v)
        return out
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


_SECRET_KEY = re.compile(r"(?i)(api[_\-]?key|apikey|secret|password|passwd|token|authorization|credential)")
