"""Hand-made traces for tests: write only what matters, get rows of the span table.

    b = TraceBuilder()                      # one trace; times in seconds from t0
    root = b.span("agent run", category="agent", start=0, end=47)
    b.span("chat", category="llm", parent=root, start=1, end=3, input_tokens=100)
    con = b.load()                          # fresh in-memory store with these rows

``span`` returns the new span's id, so children can name their parent. ``trace(...)`` starts
another trace in the same builder. Times are seconds (floats) from ``T0_NS``, turned into
integer ns by rounding, or pass ``start_ns=`` / ``end_ns=`` for exact absolute values.
Every other keyword is a column of ``agentprof.schema`` (``ttft_ns``, ``cost_usd``, ...).
"""

from __future__ import annotations

from typing import Any

from agentprof import schema

T0_NS = 1_700_000_000_000_000_000


def s_to_ns(seconds: float) -> int:
    return round(seconds * 1e9)


class TraceBuilder:
    def __init__(self, trace_id: str | None = None, *, service_name: str | None = "test-agent") -> None:
        self.rows: list[dict[str, Any]] = []
        self._traces = 0
        self._spans = 0
        self.service_name = service_name
        self.trace_id = trace_id or self._next_trace_id()

    def _next_trace_id(self) -> str:
        self._traces += 1
        return f"{self._traces:032x}"

    def trace(self, trace_id: str | None = None) -> str:
        """Start a new trace; later spans go into it. Returns its id."""
        self.trace_id = trace_id or self._next_trace_id()
        return self.trace_id

    def span(
        self,
        name: str = "span",
        *,
        category: str = "other",
        start: float | None = None,
        end: float | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        parent: str | None = None,
        span_id: str | None = None,
        status: str = "ok",
        **columns: Any,
    ) -> str:
        """Add one span and return its id."""
        unknown = set(columns) - set(schema.COLUMN_NAMES)
        if unknown:
            raise TypeError(f"not span-table columns: {sorted(unknown)}")
        self._spans += 1
        sid = span_id or f"{self._spans:016x}"
        s = start_ns if start_ns is not None else T0_NS + s_to_ns(start or 0.0)
        e = end_ns if end_ns is not None else (T0_NS + s_to_ns(end) if end is not None else s)
        row: dict[str, Any] = {c: None for c in schema.COLUMN_NAMES}
        row.update(
            trace_id=columns.pop("trace_id", self.trace_id),
            span_id=sid,
            parent_span_id=parent,
            name=name,
            kind="INTERNAL",
            category=category,
            start_ns=s,
            end_ns=e,
            status=status,
            service_name=self.service_name,
            source_format="test",
            attributes="{}",
            events="[]",
            resource="{}",
        )
        if category in ("llm", "embedding"):
            row["cost_source"] = "unknown"
        row.update(columns)
        if row.get("cost_usd") is not None and "cost_source" not in columns:
            row["cost_source"] = "reported"
        self.rows.append(row)
        return sid

    def table(self, rows: list[dict[str, Any]] | None = None):
        """The rows as an Arrow table matching ``schema.arrow_schema()``."""
        import pyarrow as pa

        sch = schema.arrow_schema()
        data = rows if rows is not None else self.rows
        return pa.Table.from_pylist(data, schema=sch)

    def load(self, con: Any = None, rows: list[dict[str, Any]] | None = None):
        """Append the rows to ``con`` (a new in-memory store when None) and return it."""
        from agentprof.store import load_arrow, open_store

        con = con if con is not None else open_store()
        load_arrow(con, self.table(rows))
        return con
