"""Redaction of secrets and personal data (used only when content capture is on)."""

from __future__ import annotations

import pytest

from agentprof.instrumentation.privacy import redact, redact_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-abcdefghijklmnopqrstuvwx end", "key [REDACTED_API_KEY] end"),
        ("anthropic sk-ant-api03-abcdefghijklmnop_qrs", "anthropic [REDACTED_API_KEY]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED_AWS_KEY]"),
        ("Authorization: Bearer eyJhbGciOi.abc-def", "Authorization: Bearer [REDACTED_TOKEN]"),
        ("mail alice.smith+x@example.co.uk now", "mail [REDACTED_EMAIL] now"),
        ("card 4111 1111 1111 1111.", "card [REDACTED_CARD]."),
        ("card 4012-8888-8888-1881", "card [REDACTED_CARD]"),
        ("order 4111 1111 1111 1112", "order 4111 1111 1111 1112"),  # fails Luhn: kept
        ("id 12345678901234", "id 12345678901234"),
        ("url?api_key=abcd1234&x=1", "url?api_key=[REDACTED]&x=1"),
        ('{"password": "hunter22"}', '{"password": "[REDACTED]"}'),
        ("plain text stays", "plain text stays"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_redact_value_keeps_shape_and_blanks_secret_keys():
    value = {"query": "mail bob@x.org", "api_key": "short", "nested": [{"token": 12345}, "AKIAIOSFODNN7EXAMPLE"],
             "n": 3, "ok": True}
    assert redact_value(value) == {"query": "mail [REDACTED_EMAIL]", "api_key": "[REDACTED]",
                                   "nested": [{"token": "[REDACTED]"}, "[REDACTED_AWS_KEY]"], "n": 3, "ok": True}
