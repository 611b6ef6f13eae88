"""Process-wide instrumentation state: the on/off flag, tracer, clock, counters.

Decorators read ``ENABLED`` first and return before touching OpenTelemetry when it is
False, so an unconfigured program pays one module-attribute lookup per call. Everything
else lives here so every layer (manual, LangChain, SDK patches, exporters) shares one
clock, one content-capture switch and one set of counters.

Failures inside instrumentation never reach the user's code: callers wrap their own work
in ``try``/``except`` and report it with :func:`note_error`, which counts the failure and
logs it once per kind.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any, Callable

logger = logging.getLogger("agentprof.instrumentation")

ENABLED: bool = False
"""True between ``configure()`` and ``shutdown()``. Read on every decorated call."""

tracer: Any = None
"""The OpenTelemetry tracer our spans come from (set by ``configure``)."""

clock: Callable[[], int] = time.time_ns
"""ns since the epoch; every start/end/TTFT/serialization measurement uses it."""

capture_content: bool = False
"""Record (redacted) tool arguments and prompts on spans. Off by default."""

framework_llm: contextvars.ContextVar[Any] = contextvars.ContextVar("agentprof_framework_llm", default=None)
"""The framework LLM run (LangChain) in progress in this context, if any. An SDK call made
inside it becomes its child span, so the framework span is recognised as a wrapper at ingest
and the tokens are counted once. Holds an object with ``span`` and ``ended`` attributes."""

_lock = threading.Lock()
_counters: dict[str, int] = {
    "spans_dropped": 0,
    "instrumentation_errors": 0,
    "export_errors": 0,
    "spans_exported": 0,
}
_logged_kinds: set[str] = set()


def count(key: str, n: int = 1) -> None:
    """Add ``n`` to a counter (thread-safe; counters are rare events or batch totals)."""
    with _lock:
        _counters[key] = _counters.get(key, 0) + n


def note_error(kind: str, exc: BaseException | None = None) -> None:
    """Count an instrumentation-side failure and log it the first time this kind occurs."""
    try:
        with _lock:
            _counters["instrumentation_errors"] += 1
            first = kind not in _logged_kinds
            _logged_kinds.add(kind)
        if first:
            logger.warning(
                "agentprof instrumentation problem (%s): %r; the program continues, "
                "further problems of this kind are counted in agentprof.instrumentation.stats()",
                kind,
                exc,
            )
    except Exception:  # logging itself failed: nothing more we can do safely
        pass


def warn_once(kind: str, message: str, *args: Any) -> None:
    """Log a warning the first time ``kind`` happens (no counter)."""
    with _lock:
        if kind in _logged_kinds:
            return
        _logged_kinds.add(kind)
    logger.warning(message, *args)


def stats() -> dict[str, int]:
    """A snapshot of the counters: spans_dropped, instrumentation_errors, spans_exported, ..."""
    with _lock:
        return dict(_counters)


def reset_stats() -> None:
    """Zero the counters and forget which problems were logged (tests, long-lived reconfiguration)."""
    with _lock:
        for key in _counters:
            _counters[key] = 0
        _logged_kinds.clear()
