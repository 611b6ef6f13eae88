"""The JSON report: the Profile itself, versioned, for machines.

The document is ``Profile.to_dict()`` plus a ``kind`` marker, with sorted keys, two-space
indent and shortest round-trip floats (orjson), so the same Profile always gives the same
bytes and ``Profile.from_dict(json.loads(text))`` gives the Profile back. NaN and infinity
(which JSON cannot hold) are written as null. Fields are documented in docs/json-report.md.
"""

from __future__ import annotations

import math
from typing import Any, Final

from agentprof.profile import Profile

KIND: Final = "agentprof.profile"
"""Marks a JSON document as an agentprof Profile (``schema_version`` says which layout)."""


def profile_document(profile: Profile) -> dict[str, Any]:
    """The JSON-ready dict of ``profile`` (also embedded in the HTML report)."""
    doc = profile.to_dict()
    doc["kind"] = KIND
    return doc


def render(profile: Profile) -> str:
    """The Profile as a JSON document (ends with a newline)."""
    return dumps(profile_document(profile), indent=True) + "\n"


def dumps(data: Any, *, indent: bool = False) -> str:
    """Deterministic JSON: sorted keys, shortest floats, NaN/inf as null.

    orjson handles the common case; values it refuses (integers beyond 64 bits from a
    hostile trace attribute, odd key types) fall back to the standard library.
    """
    import orjson

    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    if indent:
        options |= orjson.OPT_INDENT_2
    try:
        return orjson.dumps(data, option=options, default=_default).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        import json

        return json.dumps(_clean(data), sort_keys=True, indent=2 if indent else None,
                          ensure_ascii=False, default=str,
                          separators=None if indent else (",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return str(value)


def _clean(value: Any) -> Any:
    """NaN/inf to None and keys to strings, recursively (for the stdlib fallback)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
