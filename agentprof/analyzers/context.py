"""What a bottleneck rule gets to look at: ``RuleContext``.

Rules read the finished analysis (runs with their steps, components and critical path;
aggregates) and may query the store directly. Besides the ``spans`` table and the views of
``agentprof.store`` (``llm_calls``, ``tool_calls``, ``root_spans``, ``runs``), ``analyze``
leaves these temp tables on the connection while rules run:

* ``span_tree(rid, depth, self_time_ns, on_path_ns, step_rid)`` joined to ``spans.rowid``:
  per-span depth, self time, time on the critical path (0 = off the path), nearest step span;
* ``step_members(rid, step_rid)``: which step each LLM/tool/retrieval/embedding span is in;
* ``steps``: one row per step (``step_rid``, ``trace_id``, ``step_index``, ``span_id``,
  ``explicit``, token sums, ``cost_usd``, ``cumulative_cost_usd``, ``marginal_cost_usd``,
  ``cost_growth``, bucket tokens, ``error_count``); its spans are in ``step_members``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agentprof.config import Config
from agentprof.profile import COMPONENTS, Aggregates, Run, SpanView

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class RuleContext:
    """Input to every rule: ``run_rules(ctx) -> list[Finding]``."""

    con: duckdb.DuckDBPyConnection
    """The span store (``spans`` plus the views and temp tables listed in the module doc)."""
    config: Config
    """Settings: ``config.threshold(key, default)``, ``config.selects(code)``, ``config.token_budget``."""
    runs: tuple[Run, ...]
    """Every run, with steps, components and critical path; ``spans`` only for detailed runs."""
    aggregates: Aggregates
    failed_rules: list[str] = field(default_factory=list)
    """Codes of rules that raised (``run_rules`` appends; analyze logs them)."""
    component_ns: Any = None
    """The runs' latency components as an int64 array [run, component] in ``runs`` and
    ``COMPONENTS`` order, when the caller has it; ``component_matrix`` reads it."""

    @cached_property
    def component_matrix(self) -> Any:
        """int64 [run, component] in ``runs`` and ``COMPONENTS`` order (from the runs when
        ``component_ns`` was not given)."""
        import numpy as np

        if self.component_ns is not None:
            return np.asarray(self.component_ns, dtype=np.int64).reshape(len(self.runs), len(COMPONENTS))
        out = np.zeros((len(self.runs), len(COMPONENTS)), dtype=np.int64)
        slot = {name: k for k, name in enumerate(COMPONENTS)}
        for i, run in enumerate(self.runs):
            for c in run.components:
                if c.name in slot:
                    out[i, slot[c.name]] = c.duration_ns
        return out

    @cached_property
    def wall_ns(self) -> Any:
        """int64 wall-clock time of each run, in ``runs`` order."""
        import numpy as np

        return np.array([r.end_ns - r.start_ns for r in self.runs], dtype=np.int64)

    @cached_property
    def runs_by_id(self) -> dict[str, Run]:
        return {r.run_id: r for r in self.runs}

    @cached_property
    def run_totals(self) -> dict[str, tuple[float, float | None]]:
        """run id -> (wall-clock seconds, cost USD or None); many rules read it, built once."""
        return {r.run_id: ((r.end_ns - r.start_ns) / 1_000_000_000, r.cost_usd) for r in self.runs}

    def threshold(self, key: str, default: float) -> float:
        return float(self.config.threshold(key, default))

    def run_spans(self, run_id: str) -> tuple[SpanView, ...]:
        """All spans of one run as SpanViews (from the profile if detailed, else from the store)."""
        run = self.runs_by_id.get(run_id)
        if run is not None and run.spans:
            return run.spans
        from agentprof.analyzers.runs import load_run_spans

        return load_run_spans(self.con, run_id)

    def parallel_saving_ns(self, run_id: str, span_ids: Iterable[str]) -> int:
        """ns the run would end sooner if ``span_ids`` ran concurrently (see ``critical_path``)."""
        from agentprof.analyzers.critical_path import parallel_saving_ns

        return parallel_saving_ns(self.run_spans(run_id), span_ids)

    def parallel_saving_s(self, run_id: str, span_ids: Iterable[str]) -> float:
        return self.parallel_saving_ns(run_id, span_ids) / 1e9
