"""THE Profile contract between analysis and reports.

``agentprof.analyzers.analyze`` builds one frozen ``Profile``; every report (terminal, HTML,
Markdown, JSON) renders it and nothing else: reports never query DuckDB and never recompute,
so two reports of one Profile always agree. Times are integer nanoseconds (``_ns``), money is
US dollars (``_usd``, ``None`` when unknown, never a silent zero), shares are fractions 0..1.

``to_dict`` gives the versioned JSON form (``agentprof analyze --json``); ``from_dict``
reads it back, so a saved profile can be re-rendered later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar, overload

PROFILE_SCHEMA_VERSION: Final = 1
"""Version of the Profile / JSON report layout."""

Severity = Literal["high", "medium", "low", "info"]
SEVERITIES: Final = ("high", "medium", "low", "info")


def _fast_init(cls: type) -> type:
    """Give a frozen dataclass an ``__init__`` that writes the instance ``__dict__`` directly.

    The generated frozen ``__init__`` calls ``object.__setattr__`` once per field, which
    costs about twice as much; an analysis of 50,000 runs builds millions of these objects
    (a CriticalSegment per span on a path, a Step, TokenBuckets and Components per step).
    Equality, hashing, ``repr``, ``replace`` and immutability after construction are the
    dataclass's own and unchanged.
    """
    if any(not f.init or f.kw_only for f in dataclasses.fields(cls)) or "__post_init__" in vars(cls):
        return cls  # keep the generated __init__ where it does more than assign
    names: list[str] = []
    params: list[str] = []
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        names.append(f.name)
        if f.default is not dataclasses.MISSING:
            defaults[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            defaults[f"_factory_{f.name}"] = f.default_factory
            defaults["_MISSING"] = dataclasses.MISSING
            params.append(f"{f.name}=_MISSING")
        else:
            params.append(f.name)
    slots = "__slots__" in vars(cls)
    lines = [f"def __init__(_self, {', '.join(params)}):"]
    if not slots:
        lines.append("    _fields = _self.__dict__")
    for name in names:
        value = f"_factory_{name}() if {name} is _MISSING else {name}" if f"_factory_{name}" in defaults else name
        if slots:  # the slot's own descriptor stores the value, bypassing the frozen __setattr__
            defaults[f"_set_{name}"] = vars(cls)[name].__set__
            lines.append(f"    _set_{name}(_self, {value})")
        else:
            lines.append(f"    _fields[{name!r}] = {value}")
    namespace = dict(defaults)
    exec("\n".join(lines), namespace)  # noqa: S102 - the source is built from field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


T = TypeVar("T")


class Records(Sequence[T]):
    """The records of one run (its steps, critical path, components), made when read.

    An analysis of 50,000 runs holds over a million steps, critical-path segments and
    components. Building each as an object up front cost more time (and memory) than the
    rest of the analysis, while a report reads those of a few runs. So each run holds a
    ``Records``: a range of rows in columns that all runs share, and ``make(row)`` builds
    the frozen dataclass of one row when it is read.

    It behaves as an immutable tuple of those dataclasses: ``len``, indexing, iteration;
    a slice is a tuple; equal to a tuple (or ``Records``) with equal items, and hashed as
    one; it pickles and deep-copies as a tuple. Every read builds a new, equal object.
    """

    __slots__ = ("_make", "_lo", "_hi")

    def __init__(self, make: Callable[[int], T], lo: int, hi: int) -> None:
        self._make = make
        self._lo = lo
        self._hi = max(hi, lo)

    def __len__(self) -> int:
        return self._hi - self._lo

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...
    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            return tuple(map(self._make, range(self._lo, self._hi)[index]))
        return self._make(range(self._lo, self._hi)[index])  # range checks the bounds and negatives

    def __iter__(self) -> Iterator[T]:
        return map(self._make, range(self._lo, self._hi))

    def __reversed__(self) -> Iterator[T]:
        return map(self._make, range(self._hi - 1, self._lo - 1, -1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Records, tuple)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))


# The latency components, in display order. The first seven are the field's seven
# components; "llm_unsplit" is LLM time whose producer recorded no sub-timing (no TTFT),
# "unattributed" is time no rule can attribute. Along a run's critical path the
# components sum exactly to its wall-clock time.
COMPONENTS: Final = (
    "serialization",
    "ttft",
    "generation",
    "tool_execution",
    "context_injection",
    "framework_overhead",
    "coordination",
    "llm_unsplit",
    "unattributed",
)
COMPONENT_LABELS: Final = {
    "serialization": "Request serialization",
    "ttft": "Time to first token",
    "generation": "Generation",
    "tool_execution": "Tool execution",
    "context_injection": "Context injection",
    "framework_overhead": "Framework overhead",
    "coordination": "Inter-step coordination",
    "llm_unsplit": "LLM (not split)",
    "unattributed": "Unattributed",
}

# Prompt-part buckets the input tokens of a step are apportioned into.
BUCKETS: Final = ("system", "tool_schemas", "history", "tool_outputs", "unattributed")
BUCKET_LABELS: Final = {
    "system": "System prompt",
    "tool_schemas": "Tool schemas",
    "history": "Conversation history",
    "tool_outputs": "Tool outputs",
    "unattributed": "Unattributed",
}


@_fast_init
@dataclass(frozen=True, slots=True)
class TokenBuckets:
    """Input tokens of one step split by prompt part (an estimate: apportioned by size)."""

    system_tokens: float = 0.0
    tool_schemas_tokens: float = 0.0
    history_tokens: float = 0.0
    tool_outputs_tokens: float = 0.0
    unattributed_tokens: float = 0.0
    estimated: bool = True
    """True when the split apportions reported tokens by measured part sizes."""

    def as_mapping(self) -> dict[str, float]:
        return {b: getattr(self, f"{b}_tokens") for b in BUCKETS}


@_fast_init
@dataclass(frozen=True, slots=True)
class Step:
    """One turn of the agent loop: one LLM call and the tool calls it triggered."""

    run_id: str
    index: int
    """1-based position of the step in its run (per agent order, then time)."""
    agent_name: str | None
    span_id: str
    """The step span if explicit, else the step's LLM span."""
    explicit: bool
    """True when the trace had a step span (agent.step.N, @step)."""
    model: str | None
    start_ns: int
    end_ns: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None
    cumulative_cost_usd: float | None
    marginal_cost_usd: float | None
    """This step's cost minus the previous step's (None for the first step)."""
    cost_growth: float | None
    """marginal_cost_usd / previous step's cost (0.2 = 20% more than the step before)."""
    buckets: TokenBuckets
    llm_span_ids: tuple[str, ...] = ()
    tool_span_ids: tuple[str, ...] = ()
    tool_names: tuple[str, ...] = ()
    error_count: int = 0

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@_fast_init
@dataclass(frozen=True, slots=True)
class Component:
    """Time of one latency component within a run (along its critical path)."""

    name: str
    """One of COMPONENTS."""
    duration_ns: int
    share: float
    """duration_ns / the run's wall-clock time."""


@_fast_init
@dataclass(frozen=True, slots=True)
class CriticalSegment:
    """A span on the critical path and the time it holds the path."""

    span_id: str
    name: str
    category: str
    start_ns: int
    end_ns: int
    on_path_ns: int
    """Time this span itself (not its children) determines the run's end."""
    share: float
    """on_path_ns / the run's wall-clock time."""


@_fast_init
@dataclass(frozen=True, slots=True)
class SpanView:
    """One span, as reports draw it (waterfall, span explorer)."""

    span_id: str
    parent_span_id: str | None
    name: str
    category: str
    start_ns: int
    end_ns: int
    depth: int
    self_time_ns: int
    status: str
    on_critical_path: bool
    agent_name: str | None = None
    model: str | None = None
    tool_name: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error_type: str | None = None
    step_index: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """Trace attributes (untrusted: reports must escape every string)."""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@_fast_init
@dataclass(frozen=True, slots=True)
class Run:
    """One trace: an agent run, with its steps, latency components and critical path."""

    run_id: str
    """The trace id."""
    name: str
    """Root span name."""
    service_name: str | None
    agent_names: tuple[str, ...]
    session_id: str | None
    user_id: str | None
    start_ns: int
    end_ns: int
    ok: bool
    """False when the root span or an unhandled error ended the run in error."""
    span_count: int
    llm_call_count: int
    tool_call_count: int
    step_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    """Sum of known LLM costs; None when no cost is known at all."""
    cost_sources: dict[str, int]
    """LLM calls per cost_source: {"reported": n, "computed": n, "unknown": n}."""
    unknown_models: tuple[str, ...]
    """Models whose price is unknown (their cost is missing from cost_usd)."""
    steps: Sequence[Step] = ()
    """In step order; a ``Records`` (an immutable, tuple-like sequence) from ``analyze``."""
    components: Sequence[Component] = ()
    """One per name in ``COMPONENTS`` order (``Records`` from ``analyze``)."""
    critical_path: Sequence[CriticalSegment] = ()
    """On-path spans in the order they first hold the path (``Records`` from ``analyze``)."""
    spans: tuple[SpanView, ...] = ()
    """All spans of the run for drawing; empty when detail was elided for a large input."""
    escalated: bool = False

    @property
    def wall_ns(self) -> int:
        return self.end_ns - self.start_ns


@_fast_init
@dataclass(frozen=True, slots=True)
class Finding:
    """One rule violation: what happened, what to do, and what it would save."""

    code: str
    """Rule code, e.g. AP101."""
    name: str
    """Kebab-case rule name describing the pattern."""
    severity: Severity
    message: str
    """What happened, with the numbers."""
    suggestion: str
    """What to change."""
    run_id: str | None
    """The run it rests on; None for findings across runs."""
    span_ids: tuple[str, ...]
    est_savings_s: float | None = None
    est_savings_usd: float | None = None


@_fast_init
@dataclass(frozen=True)
class Distribution:
    """Spread of one per-run metric across runs."""

    metric: str
    """e.g. wall_s, cost_usd, total_tokens, steps, or component:<name>."""
    unit: str
    """s, usd, tokens, steps."""
    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    min: float
    max: float


@_fast_init
@dataclass(frozen=True)
class ToolStats:
    tool_name: str
    calls: int
    errors: int
    error_rate: float
    p50_ms: float
    p95_ms: float


@_fast_init
@dataclass(frozen=True)
class Alert:
    """One aggregate compared with its alert threshold."""

    metric: str
    value: float
    threshold: float
    comparison: Literal[">", "<"]
    breached: bool
    config_key: str


@_fast_init
@dataclass(frozen=True)
class Aggregates:
    """Across all runs of the input."""

    run_count: int
    success_rate: float
    escalation_rate: float | None
    """Share of runs with a human approval/escalation; None when no run marks any."""
    total_cost_usd: float | None
    total_input_tokens: int
    total_output_tokens: int
    total_cache_read_tokens: int
    total_cache_write_tokens: int
    distributions: tuple[Distribution, ...] = ()
    tools: tuple[ToolStats, ...] = ()
    alerts: tuple[Alert, ...] = ()


@_fast_init
@dataclass(frozen=True)
class SourceFile:
    """What ingest did with one input file."""

    path: str
    format: str
    spans_read: int
    spans_skipped: int
    problems: tuple[str, ...] = ()
    """Human-readable notes: what was skipped or repaired, and where."""


@_fast_init
@dataclass(frozen=True)
class Profile:
    """The whole analysis of one input: the only thing reports render."""

    agentprof_version: str
    sources: tuple[SourceFile, ...]
    runs: tuple[Run, ...]
    aggregates: Aggregates
    findings: tuple[Finding, ...]
    """All findings, sorted by estimated saving (seconds, then dollars), then severity."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """The thresholds the rules and alerts used (after config overrides)."""
    unknown_models: tuple[str, ...] = ()
    price_notes: tuple[str, ...] = ()
    """Where prices came from (genai-prices snapshot, user overrides)."""
    runs_elided: int = 0
    """Runs whose spans/steps were left out of ``runs[*].spans`` to bound size."""
    schema_version: int = PROFILE_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return _from_dict(cls, data)


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` that also reads ``Records`` (as tuples) instead of deep-copying
    them; field names are looked up once per class (a Profile can hold millions of objects)."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, Records):
        return tuple(map(_plain, value))
    if isinstance(value, (list, tuple)):
        return type(value)(map(_plain, value))
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _from_dict(cls: type, data: Any) -> Any:
    """Rebuild nested frozen dataclasses from ``to_dict`` output (lists become tuples)."""
    import typing

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


def _coerce(tp: Any, value: Any) -> Any:
    import typing

    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value)
    if origin is tuple or origin is Sequence:
        inner = args[0] if args else Any
        return tuple(_coerce(inner, v) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for a in args:
            if a is type(None):
                continue
            if dataclasses.is_dataclass(a):
                return _from_dict(a, value)
        return value
    return value
