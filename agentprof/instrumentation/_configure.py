"""``agentprof.configure()``: one call from nothing to spans on disk.

With no arguments: OTLP JSON lines, one file per process, under ``./.agentprof/traces/``
(what ``agentprof analyze`` reads with no arguments). If the application already installed
an SDK ``TracerProvider`` globally, agentprof adds its span processor to that provider
(joining the application's tracing) instead of creating a second one; otherwise it creates
one and, if no provider is set yet, installs it globally so the application's own OTel
spans land in the same file.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Any, Callable

from agentprof.instrumentation import _state
from agentprof.instrumentation.privacy import env_capture_content

_registered_atexit = False
_processor: Any = None
_provider: Any = None
_owned_provider = False
_exporter: Any = None


def _make_exporter(exporter: Any, path: str | os.PathLike[str] | None) -> Any:
    from opentelemetry.sdk.trace.export import SpanExporter

    from agentprof.instrumentation.exporters import JsonlSpanExporter

    if isinstance(exporter, SpanExporter):
        return exporter
    if exporter in (None, "jsonl"):
        return JsonlSpanExporter(path)
    if exporter == "duckdb":
        from agentprof.instrumentation.exporters import DuckDBSpanExporter

        return DuckDBSpanExporter(path or os.path.join(".agentprof", "spans.duckdb"))
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=os.fspath(path)) if path else OTLPSpanExporter()
    raise ValueError(
        f"configure(exporter={exporter!r}): expected 'jsonl', 'duckdb', 'otlp' or a SpanExporter instance"
    )


def configure(
    path: str | os.PathLike[str] | None = None,
    *,
    exporter: Any = "jsonl",
    service_name: str | None = None,
    capture_content: bool | None = None,
    clock: Callable[[], int] | None = None,
    id_generator: Any = None,
    max_queue_size: int = 8192,
    max_export_batch_size: int = 512,
    schedule_delay_millis: float = 1000,
    set_global: bool = True,
) -> Any:
    """Turn agentprof's instrumentation on and choose where spans go.

    Args:
        path: for "jsonl", a directory (one file per process; default ``./.agentprof/traces``)
            or a ``.jsonl`` file; for "duckdb", the database file (default
            ``./.agentprof/spans.duckdb``); for "otlp", the collector endpoint URL (default from
            ``OTEL_EXPORTER_OTLP_*`` or ``http://localhost:4318/v1/traces``).
        exporter: "jsonl", "duckdb", "otlp" or any OTel ``SpanExporter``. Defaults to "jsonl".
        service_name: resource ``service.name``. Defaults to ``OTEL_SERVICE_NAME`` or the script name.
        capture_content: record redacted prompts and tool arguments. Defaults to False unless
            ``AGENTPROF_CAPTURE_CONTENT=1``.
        clock: callable returning ns since the epoch, used for every start/end/TTFT/serialization
            time agentprof records. Defaults to ``time.time_ns``; pass a virtual clock to simulate.
        id_generator: an OTel ``IdGenerator`` (deterministic ids for reproducible traces).
            Ignored, with a warning, when joining an application's existing provider.
        max_queue_size: spans buffered before export; spans beyond it are dropped and counted.
        max_export_batch_size: spans per export call (one JSON line each).
        schedule_delay_millis: longest a span waits in the queue before export.
        set_global: install agentprof's provider as the global tracer provider if none is set.

    Returns:
        The span exporter in use (``JsonlSpanExporter.file`` names the file once written).
    """
    global _processor, _provider, _owned_provider, _exporter, _registered_atexit
    import time

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from agentprof._version import __version__
    from agentprof.instrumentation.exporters import CountingBatchSpanProcessor

    if max_queue_size < 1:
        raise ValueError(f"configure(max_queue_size={max_queue_size}): must be at least 1")
    if clock is not None and not callable(clock):
        raise ValueError("configure(clock=...): expected a callable returning ns since the epoch")
    shutdown()
    exp = _make_exporter(exporter, path)
    processor = CountingBatchSpanProcessor(
        exp, max_queue_size=max_queue_size, max_export_batch_size=max_export_batch_size,
        schedule_delay_millis=schedule_delay_millis,
    )
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider) and not getattr(current, "_agentprof_owned", False):
        provider, owned = current, False
        if id_generator is not None:
            _state.warn_once("join-id-generator", "agentprof.configure(id_generator=...) ignored: joining the "
                             "application's TracerProvider, which keeps its own id generator")
    else:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or _script_name()
        resource = Resource.create({"service.name": name})
        if set_global and isinstance(current, TracerProvider):
            # Configured again after an earlier configure() installed our provider globally. The
            # global provider cannot be replaced, so reuse it (with the new settings): spans from
            # the application and other instrumentations keep reaching the current exporter.
            provider, owned = current, True
            _retarget(provider, resource, id_generator)
        else:
            kwargs: dict[str, Any] = {"resource": resource, "shutdown_on_exit": False}
            if id_generator is not None:
                kwargs["id_generator"] = id_generator
            provider, owned = TracerProvider(**kwargs), True
            provider._agentprof_owned = True  # type: ignore[attr-defined]
            if set_global and type(current).__name__ == "ProxyTracerProvider":
                trace.set_tracer_provider(provider)
    provider.add_span_processor(processor)

    _processor, _provider, _owned_provider, _exporter = processor, provider, owned, exp
    _state.tracer = provider.get_tracer("agentprof", __version__)
    _state.clock = clock or time.time_ns
    _state.capture_content = env_capture_content() if capture_content is None else bool(capture_content)
    _state.ENABLED = True
    if not _registered_atexit:
        atexit.register(shutdown)
        _register_child_exit()
        _registered_atexit = True
    return exp


class _ChildHook:
    """Weak-referenceable owner of the multiprocessing after-fork hook."""


_child_hook = _ChildHook()


def _register_child_exit() -> None:
    """Flush in ``multiprocessing`` children too. They leave through ``os._exit`` (atexit does
    not run) after running multiprocessing's finalizers, a registry each child starts empty;
    so every forked child registers our shutdown there."""
    try:
        from multiprocessing import util as mp_util

        def in_child(_owner: object) -> None:
            mp_util.Finalize(None, shutdown, exitpriority=100)

        mp_util.register_after_fork(_child_hook, in_child)
    except Exception as exc:
        _state.note_error("register-child-exit", exc)


def _retarget(provider: Any, resource: Any, id_generator: Any) -> None:
    """Give our own (global) provider and the tracers it has handed out new settings."""
    try:
        provider._update_resource(resource)  # merges; the new service.name wins
        if id_generator is not None:
            provider.id_generator = id_generator
            with provider._tracers_lock:
                for tracer in provider._tracers.values():
                    tracer.id_generator = id_generator
    except Exception as exc:  # SDK internals changed: keep the earlier settings
        _state.note_error("reconfigure-provider", exc)


def _script_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    base = os.path.splitext(os.path.basename(argv0))[0]
    return base if base and base not in ("-c", "-m") else "agentprof"


def flush(timeout_millis: int = 30000) -> bool:
    """Export every finished span now. Returns False if nothing is configured or it timed out."""
    proc = _processor
    if proc is None:
        return False
    try:
        return bool(proc.force_flush(timeout_millis))
    except Exception as exc:
        _state.note_error("flush", exc)
        return False


def shutdown() -> None:
    """Flush and stop agentprof's exporter; the decorators become no-ops again."""
    global _processor, _provider, _exporter
    _state.ENABLED = False
    proc, provider = _processor, _provider
    _processor = _provider = _exporter = None
    if proc is None:
        return
    _state.count("spans_ended", getattr(proc, "spans_ended", 0))
    try:
        proc.shutdown()  # exports what is queued, then shuts the exporter down
    except Exception as exc:
        _state.note_error("shutdown", exc)
    if provider is not None:
        # Take our processor back out of the provider's pipeline (an application's provider we
        # joined, or our own global one that a later configure() will reuse).
        try:
            multi = provider._active_span_processor
            multi._span_processors = tuple(p for p in multi._span_processors if p is not proc)
        except Exception as exc:
            _state.note_error("detach-processor", exc)


def stats() -> dict[str, int]:
    """Counters: spans_ended, spans_exported, spans_dropped, instrumentation_errors, export_errors."""
    out = _state.stats()
    proc = _processor
    out["spans_ended"] = out.get("spans_ended", 0) + (getattr(proc, "spans_ended", 0) if proc is not None else 0)
    return out


def current_exporter() -> Any:
    """The exporter set by the last ``configure()`` (None when not configured)."""
    return _exporter
