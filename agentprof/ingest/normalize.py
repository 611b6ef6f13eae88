"""Map raw spans of every convention into the span table, with set-based DuckDB SQL.

One ``INSERT … SELECT`` per raw batch: every attribute the mapping needs is pulled out of the
attributes JSON text with a single ``json_extract_string(attributes, [paths…])`` call, and each
span-table column is a ``coalesce`` over an ordered alias list. The alias lists are data
(``ALIASES``): supporting another convention's spelling is one line there.

Tree-level facts (an agent name inherited from the nearest agent ancestor; an LLM span that
merely wraps another LLM span) need the whole trace, so they are settled by :func:`finalize`
after all batches are in. Call it once after loading (``ingest_files`` does).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from agentprof import schema
from agentprof.ingest import prompt_parts

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# Column (or intermediate fact) -> attribute keys, first present wins. A key ending in
# "[0]" takes the first element of an array value.
ALIASES: dict[str, tuple[str, ...]] = {
    "category": ("agentprof.span.category",),
    "operation": ("gen_ai.operation.name",),
    "openinference_kind": ("openinference.span.kind",),
    "traceloop_kind": ("traceloop.span.kind",),
    "legacy_request_type": ("llm.request.type", "gen_ai.request.type"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "request_model": ("gen_ai.request.model", "llm.request.model_name"),
    "response_model": ("gen_ai.response.model", "llm.response.model_name", "llm.model_name"),
    "invocation_parameters": ("llm.invocation_parameters",),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "cache_read_tokens": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
        "gen_ai.usage.input_tokens.cached",
    ),
    "cache_write_tokens": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.cache_write_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
        "gen_ai.usage.details.reasoning_tokens",  # pydantic-ai
    ),
    "ttft_ns": ("agentprof.ttft_ns",),
    "ttft_s": (
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.client.operation.time_to_first_chunk",  # pydantic-ai
        "gen_ai.server.time_to_first_token",
    ),
    "serialization_ns": ("agentprof.request.serialization_ns",),
    "finish_reason": (
        "gen_ai.response.finish_reasons[0]",
        "gen_ai.response.finish_reasons",
        "llm.finish_reason",
        "gen_ai.completion.0.finish_reason",
    ),
    "tool_name": ("gen_ai.tool.name", "tool.name"),
    "tool_call_id": ("gen_ai.tool.call.id", "tool.id", "tool_call.id"),
    "tool_args_hash": ("agentprof.tool.args_hash",),
    "tool_args": ("gen_ai.tool.call.arguments", "tool_arguments", "input.value", "traceloop.entity.input"),
    "agent_name": ("gen_ai.agent.name", "agent.name", "agent_name"),
    "entity_name": ("traceloop.entity.name",),
    "session_id": (
        "gen_ai.conversation.id",
        "session.id",
        "session_id",
        "traceloop.association.properties.session_id",
        "traceloop.association.properties.conversation_id",
        "traceloop.association.properties.thread_id",
        "langsmith.metadata.session_id",
        "langsmith.metadata.thread_id",
    ),
    "user_id": (
        "user.id",
        "enduser.id",
        "gen_ai.user.id",
        "user_id",
        "traceloop.association.properties.user_id",
        "langsmith.metadata.user_id",
    ),
    "error_type": ("error.type", "exception.type"),
    "escalated": ("agentprof.human_approval",),
    "cost_usd": ("agentprof.cost_usd", "llm.cost.total", "gen_ai.usage.cost", "gen_ai.cost.total_usd", "operation.cost"),
    "step_number": ("agentprof.step.number",),
    "system_chars": ("agentprof.prompt.system_chars",),
    "tool_schema_chars": ("agentprof.prompt.tool_schema_chars",),
    "history_chars": ("agentprof.prompt.history_chars",),
    "tool_output_chars": ("agentprof.prompt.tool_output_chars",),
}

PROVIDER_ALIASES: dict[str, str] = {
    "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "xai": "x_ai",
    "mistralai": "mistral_ai",
    "bedrock": "aws.bedrock",
}
"""Deprecated ``gen_ai.system`` (and OpenInference) values → ``gen_ai.provider.name`` values."""

OPERATION_CATEGORY: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "invoke_workflow": "agent",
    "retrieval": "retrieval",
    "handoff": "handoff",
}
OPENINFERENCE_CATEGORY: dict[str, str] = {
    "LLM": "llm",
    "TOOL": "tool",
    "AGENT": "agent",
    "CHAIN": "chain",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "EMBEDDING": "embedding",
}
TRACELOOP_CATEGORY: dict[str, str] = {"workflow": "agent", "agent": "agent", "task": "chain", "tool": "tool"}
LEGACY_OPERATION: dict[str, str] = {"chat": "chat", "completion": "text_completion", "embedding": "embeddings", "rerank": "rerank"}
"""OpenLLMetry's ``llm.request.type`` (renamed ``gen_ai.operation.name`` in semconv-ai 0.5) → operation."""
LEGACY_REQUEST_CATEGORY: dict[str, str] = {"chat": "llm", "completion": "llm", "embedding": "embedding", "rerank": "retrieval"}

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_INT_COLUMNS = TOKEN_COLUMNS + ("ttft_ns", "serialization_ns", "step_number") + tuple(
    f"{p}_chars" for p in ("system", "tool_schema", "history", "tool_output")
)
_MEASURED = ("_m_system_chars", "_m_tool_schema_chars", "_m_history_chars", "_m_tool_output_chars")

STAGE_EXTRA = "_bad"
"""Extra stage column: names of the columns whose attribute had a value of the wrong type."""


def _paths() -> tuple[list[str], dict[str, int]]:
    keys = list(dict.fromkeys(itertools.chain.from_iterable(ALIASES.values())))
    paths = []
    for k in keys:
        if k.endswith("[0]"):
            paths.append(f'$."{k[:-3]}"[0]')
        else:
            paths.append(f'$."{k}"')
    return paths, {k: i + 1 for i, k in enumerate(keys)}


def alias_keys() -> list[str]:
    """Every alias key (``name[0]``: the first element of its array), in ``_Sql.index`` order."""
    return list(_paths()[1])


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _one_of(expr: str, values) -> str:
    """``expr`` is one of the string constants ``values`` (true, else NULL).

    Not ``IN (...)``, nor ``list_contains``, which DuckDB rewrites into it: DuckDB plans an IN
    list of a few constants as a hash join, and an INSERT through that join no longer keeps
    the rows in the order they were read (the span table's order and the stage's read-order
    numbers would then not follow the file)."""
    whens = " ".join("WHEN '" + v.replace("'", "''") + "' THEN true" for v in values)
    return f"(CASE {expr} {whens} END)"


def _case_map(expr: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE {expr} {whens} END"


class _Sql:
    """Builds expressions over the extracted list ``a`` (one element per alias key), or over
    one column per alias key (``columns``: named by :func:`alias_column`).

    ``present``: the attribute keys that can occur (None: any). The others are NULL
    constants, so DuckDB folds every CASE and cast over them away at plan time."""

    def __init__(self, present: frozenset[str] | None = None, *, columns: bool = False) -> None:
        self.columns = columns  # values in columns named by alias_column, not the list ``a``
        self.paths, self.index = _paths()
        if present is not None:
            kept = [k for k in self.index if k.removesuffix("[0]") in present]
            self.paths = [self.paths[self.index[k] - 1] for k in kept]
            self.index = {k: i + 1 for i, k in enumerate(kept)}

    def v(self, key: str) -> str:
        if key not in self.index:
            return "NULL::VARCHAR"
        return f'"{alias_column(key)}"' if self.columns else f"a[{self.index[key]}]"

    def first(self, col: str) -> str:
        vals = [self.v(k) for k in ALIASES[col]]
        return vals[0] if len(vals) == 1 else f"coalesce({', '.join(vals)})"

    def n(self, key: str) -> str:
        """Name of the DOUBLE column holding key's value (computed once in the ``y`` CTE)."""
        return f"n{self.index[key]}" if key in self.index else "NULL::DOUBLE"

    def num(self, key: str) -> str:
        """A whole number from a JSON scalar's text: 12, "12", 12.0; NULL for garbage/negative."""
        n = self.n(key)
        return f"(CASE WHEN {n} >= 0 AND {n} < 9.2e18 THEN CAST({n} AS BIGINT) END)"

    def int_col(self, col: str) -> tuple[str, str]:
        """(value expression, wrong-type flag expression) for an integer column."""
        casts = [self.num(k) for k in ALIASES[col]]
        value = casts[0] if len(casts) == 1 else f"coalesce({', '.join(casts)})"
        bad = " OR ".join(f"({self.v(k)} IS NOT NULL AND {c} IS NULL)" for k, c in zip(ALIASES[col], casts))
        return value, bad

    def numeric_keys(self) -> list[str]:
        return list(dict.fromkeys(k for c in _INT_COLUMNS for k in ALIASES[c] if k in self.index))


def _extract_sql(attrs: str) -> str:
    return f"json_extract_string({attrs}, {_sql_list(_SQL.paths)})"


# --- the two representations of a span's attributes ----------------------------------------
# Every expression below reads attribute values through ``_Sql.v``: from ``a``, a list with one
# element per alias key (``_Sql.index``), or from one column per alias key; each the value as
# ``json_extract_string`` gives it (a string as is; a number, bool or array as its JSON text;
# NULL when absent or null). A representation says how those values (and the two facts read
# from events and resource) are computed from its raw relation.


class JsonTextRep:
    """Raw spans (``raw.RAW_COLUMNS``): attributes, events and resource as JSON text."""

    measured = True
    """The relation has the measured prompt-part columns (``_MEASURED``)."""

    @property
    def sql(self) -> _Sql:
        return _SQL

    def attr_list(self) -> str:
        return _extract_sql("r.attributes")

    def exception_type(self) -> str:
        return (
            "(CASE WHEN events LIKE '%\"exception\"%' THEN json_extract_string(list_filter(CAST(json_extract(events, '$[*]') AS JSON[]), "
            "lambda e: json_extract_string(e, '$.name') = 'exception')[1], '$.attributes.\"exception.type\"') END)"
        )

    def service_name(self) -> str:
        return "json_extract_string(resource, '$.\"service.name\"')"


def alias_column(key: str) -> str:
    """Name of the column holding alias key ``key``'s value in a relation of flat attribute
    values (:class:`FlatRep`)."""
    return f"a:{key}"


class FlatRep:
    """OTLP read by Arrow (``onepass``): the relation has, next to the JSON-text columns the
    span table keeps, one text column per alias key (:func:`alias_column`, the value as
    ``json_extract_string`` reads it from the attributes), ``_exception_type`` and
    ``_service_name``, all computed in Arrow (``kv_arrow``). No JSON text is parsed again.

    ``present``: the attribute keys whose alias columns the relation has (None: all). The
    other alias keys become NULL constants, which DuckDB folds away."""

    measured = False

    def __init__(self, present: frozenset[str] | None = None) -> None:
        self.present = present
        self.sql = _Sql(present, columns=True)

    def attr_list(self) -> None:
        return None  # the values are columns already

    def exception_type(self) -> str:
        return "_exception_type"

    def service_name(self) -> str:
        return "_service_name"


JSON_TEXT = JsonTextRep()


_SQL = _Sql()


def own_agent_sql(category: str = "category", s: _Sql | None = None) -> str:
    """Agent name a span states itself (needs ``a`` = extracted attributes in scope)."""
    s = s or _SQL
    return f"coalesce({s.first('agent_name')}, CASE WHEN {category} = 'agent' THEN {s.first('entity_name')} END)"


def category_sql(s: _Sql | None = None) -> str:
    s = s or _SQL
    own, op, name = f"lower({s.first('category')})", f"lower({s.first('operation')})", "name"
    return f"""CASE
        WHEN {_one_of(own, schema.CATEGORIES)} THEN {own}
        WHEN {op} = 'handoff' THEN 'handoff'
        WHEN {_one_of(op, ('chat', 'text_completion', 'generate_content', 'embeddings'))} THEN {_case_map(op, OPERATION_CATEGORY)}
        WHEN lower({name}) LIKE '%handoff%' THEN 'handoff'
        WHEN regexp_full_match({name}, 'agent\\.step\\.[0-9]+') THEN 'step'
        WHEN {_case_map(op, OPERATION_CATEGORY)} IS NOT NULL THEN {_case_map(op, OPERATION_CATEGORY)}
        WHEN {_case_map(s.first('openinference_kind'), OPENINFERENCE_CATEGORY)} IS NOT NULL
            THEN {_case_map(s.first('openinference_kind'), OPENINFERENCE_CATEGORY)}
        WHEN {_case_map(f"lower({s.first('traceloop_kind')})", TRACELOOP_CATEGORY)} IS NOT NULL
            THEN {_case_map(f"lower({s.first('traceloop_kind')})", TRACELOOP_CATEGORY)}
        WHEN {_case_map(f"lower({s.first('legacy_request_type')})", LEGACY_REQUEST_CATEGORY)} IS NOT NULL
            THEN {_case_map(f"lower({s.first('legacy_request_type')})", LEGACY_REQUEST_CATEGORY)}
        WHEN {name} = 'agent run' OR {name} LIKE 'invoke\\_agent%' ESCAPE '\\' THEN 'agent'
        WHEN {name} LIKE 'running tool%' OR {name} LIKE 'execute\\_tool %' ESCAPE '\\' THEN 'tool'
        WHEN {name} LIKE 'chat %' AND {s.first('request_model')} IS NOT NULL THEN 'llm'
        WHEN {s.v('gen_ai.tool.name')} IS NOT NULL THEN 'tool'
        ELSE 'other' END"""


NEEDS_STAGE = "agentprof: the batch needs the ingest stage"
"""Error text raised by a ``strict`` insert: a span needs a repair or a report."""


def needs_stage(exc: Exception) -> bool:
    """Did a ``strict`` insert fail because a span needs the stage (and insert nothing)?"""
    import duckdb

    return isinstance(exc, duckdb.InvalidInputException) and NEEDS_STAGE in str(exc)


def _select_sql(raw: str, stage: bool, rep: JsonTextRep | FlatRep = JSON_TEXT, *, strict: bool = False) -> str:
    """``INSERT INTO @TARGET@ … SELECT`` of span-table rows from relation ``raw`` (a table
    name or a parenthesized query) whose attributes are in representation ``rep``.

    ``strict`` (span-table target only): instead of filling in a missing end, or dropping an
    attribute value of the wrong type unreported, fail with :data:`NEEDS_STAGE` — the
    caller then loads through the stage, whose repairs fix and report both."""
    s = rep.sql
    provider_raw = f"lower({s.first('provider')})"
    provider = f"coalesce({_case_map(provider_raw, PROVIDER_ALIASES)}, {provider_raw})"
    ip = s.v("llm.invocation_parameters")
    invocation_model = f"(CASE WHEN json_valid({ip}) THEN json_extract_string({ip}, '$.model') END)"
    llm = _one_of("cat", ("llm", "embedding"))
    legacy_operation = _case_map(f"lower({s.first('legacy_request_type')})", LEGACY_OPERATION)

    ints = {c: s.int_col(c) for c in _INT_COLUMNS}
    tok = {c: f"(CASE WHEN {llm} THEN v_{c} END)" for c in TOKEN_COLUMNS}
    cr, cw = f"coalesce({tok['cache_read_tokens']}, 0)", f"coalesce({tok['cache_write_tokens']}, 0)"
    # Anthropic's own usage counts input EXCLUSIVE of cache reads/writes; OTel and OpenInference
    # are inclusive. Input below the cache counts can only be the exclusive form: add them in.
    input_tokens = (
        f"(CASE WHEN prov = 'anthropic' AND {tok['input_tokens']} < {cr} + {cw} "
        f"THEN {tok['input_tokens']} + {cr} + {cw} ELSE {tok['input_tokens']} END)"
    )
    ttft_s = f"TRY_CAST({s.first('ttft_s')} AS DOUBLE)"
    ttft = f"coalesce(v_ttft_ns, CASE WHEN {ttft_s} >= 0 AND {ttft_s} < 9e9 THEN CAST(round({ttft_s} * 1e9) AS BIGINT) END)"
    fr_all = s.v("gen_ai.response.finish_reasons")
    finish = (
        f"coalesce({s.v('gen_ai.response.finish_reasons[0]')}, CASE WHEN NOT starts_with({fr_all}, '[') THEN {fr_all} END, "
        f"{s.v('llm.finish_reason')}, {s.v('gen_ai.completion.0.finish_reason')})"
    )
    args = s.first("tool_args")
    args_hash = (
        f"coalesce({s.first('tool_args_hash')}, CASE WHEN cat = 'tool' AND {args} IS NOT NULL THEN "
        f"md5(CASE WHEN json_valid({args}) THEN CAST(json({args}) AS VARCHAR) ELSE {args} END) END)"
    )
    exception_type = rep.exception_type()
    cost = f"(CASE WHEN {llm} THEN coalesce({', '.join(f'TRY_CAST({s.v(k)} AS DOUBLE)' for k in ALIASES['cost_usd'])}) END)"
    step_from_name = "TRY_CAST(regexp_extract(name, '^agent\\.step\\.([0-9]+)$', 1) AS INTEGER)"
    parts = {
        p: f"(CASE WHEN cat = 'llm' THEN {f'coalesce(v_{p}, {m})' if rep.measured else f'v_{p}'} END)"
        for p, m in zip(("system_chars", "tool_schema_chars", "history_chars", "tool_output_chars"), _MEASURED)
    }

    cols = {
        "trace_id": "trace_id",
        "span_id": "span_id",
        "parent_span_id": "nullif(parent_span_id, '')",
        "name": "coalesce(name, '')",
        "kind": "kind",
        "category": "cat",
        "start_ns": "start_ns",
        "end_ns": "end_ns" if stage else f"coalesce(end_ns, error('{NEEDS_STAGE}'))" if strict else "coalesce(end_ns, start_ns)",
        "ttft_ns": ttft,
        "serialization_ns": "v_serialization_ns",
        "status": "coalesce(lower(status_code), 'unset')",
        "status_message": "status_message",
        "error_type": f"coalesce({s.first('error_type')}, {exception_type})",
        "service_name": rep.service_name(),
        "agent_name": own_agent_sql("cat", s),
        "session_id": s.first("session_id"),
        "user_id": s.first("user_id"),
        "operation": f"coalesce({s.first('operation')}, {legacy_operation})",
        "provider": "prov",
        "request_model": f"coalesce({s.first('request_model')}, {invocation_model})",
        "response_model": s.first("response_model"),
        "input_tokens": input_tokens,
        "output_tokens": tok["output_tokens"],
        "cache_read_tokens": tok["cache_read_tokens"],
        "cache_write_tokens": tok["cache_write_tokens"],
        "reasoning_tokens": tok["reasoning_tokens"],
        "cost_usd": "reported_cost",
        "cost_source": "(CASE WHEN reported_cost IS NOT NULL THEN 'reported' END)",
        "finish_reason": finish,
        "tool_name": f"coalesce({s.first('tool_name')}, CASE WHEN cat = 'tool' THEN {s.v('traceloop.entity.name')} END)",
        "tool_call_id": s.first("tool_call_id"),
        "tool_args_hash": args_hash,
        **parts,
        "step_number": f"TRY_CAST(coalesce(v_step_number, {step_from_name}) AS INTEGER)",
        "escalated": f"TRY_CAST({s.first('escalated')} AS BOOLEAN)",
        "source_format": "coalesce(source_format, 'unknown')",
        "source_file": "source_file",
        "attributes": "attributes",
        "events": "coalesce(events, '[]')",
        "resource": "coalesce(resource, '{}')",
    }
    names = list(schema.COLUMN_NAMES)
    select = [f"{cols[n]} AS {n}" for n in names]
    if stage:
        checked = [c for c in _INT_COLUMNS if c != "ttft_ns"] + ["ttft_ns"]
        flags = ", ".join(f"CASE WHEN bad_{c} THEN '{c}' END" for c in checked)
        select.append(f"list_filter([{flags}], lambda v: v IS NOT NULL) AS {STAGE_EXTRA}")
        names.append(STAGE_EXTRA)
    doubles = ", ".join(f"TRY_CAST({s.v(k)} AS DOUBLE) AS {s.n(k)}" for k in s.numeric_keys())
    values = ", ".join(f"{v} AS v_{c}" for c, (v, _) in ints.items())
    bads = ", ".join(f"coalesce({b}, false) AS bad_{c}" for c, (_, b) in ints.items()) if stage or strict else ""
    if strict:
        any_bad = " OR ".join(f"bad_{c}" for c in ints)
        select[names.index("category")] = f"CASE WHEN {any_bad} THEN error('{NEEDS_STAGE}') ELSE cat END AS category"
    return f"""INSERT INTO @TARGET@ ({', '.join(names)})
WITH x AS (SELECT r.*{f', {a} AS a' if (a := rep.attr_list()) else ''} FROM {raw} r),
y AS (SELECT x.*{', ' + doubles if doubles else ''} FROM x),
c AS (SELECT y.*, {category_sql(s)} AS cat, {provider} AS prov, {values}{', ' + bads if bads else ''} FROM y),
d AS (SELECT c.*, {cost} AS reported_cost FROM c)
SELECT {', '.join(select)} FROM d"""


_STATEMENTS: dict[tuple[bool, bool], str] = {}


def _add_measured(raw: pa.Table) -> pa.Table:
    """Append the measured prompt-part columns (Python, only for spans that carry content)."""
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc

    n = raw.num_rows
    has = pc.match_substring_regex(raw.column("attributes"), prompt_parts.CONTENT_KEYS_REGEX)
    idx = pc.indices_nonzero(pc.fill_null(has, False)).to_pylist()
    cols = [[None] * n for _ in _MEASURED]
    if idx:
        texts = raw.column("attributes").take(pa.array(idx)).to_pylist()
        for i, text in zip(idx, texts):
            try:
                sizes = prompt_parts.measure(orjson.loads(text))
            except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
                sizes = None
            if sizes is not None:
                for col, v in zip(cols, sizes):
                    col[i] = v
    for name, col in zip(_MEASURED, cols):
        raw = raw.append_column(name, pa.array(col, type=pa.int64()))
    return raw


def normalize_into(
    con: duckdb.DuckDBPyConnection, raw_table: pa.Table, *, target: str = schema.TABLE, strict: bool = False
) -> int:
    """Map one batch of raw spans (``raw.RAW_COLUMNS``) into ``target``; returns rows inserted.

    ``target`` is the span table, or an ingest stage table (same columns with a nullable
    ``end_ns`` plus ``_bad``) that repairs run on before the rows move to the span table.
    ``strict`` (span table only): a row that needs a repair or a report fails the whole
    statement with :data:`NEEDS_STAGE` instead (nothing is inserted); see ``_select_sql``.
    Call :func:`finalize` once all batches are in.
    """
    stage = target != schema.TABLE
    key = (stage, strict and not stage)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _select_sql("_agentprof_raw", stage, strict=key[1])
    table = _add_measured(raw_table)
    con.register("_agentprof_raw", table)
    try:
        con.execute(_STATEMENTS[key].replace("@TARGET@", target))
    finally:
        con.unregister("_agentprof_raw")
    return raw_table.num_rows


def finalize(con: duckdb.DuckDBPyConnection, table: str = schema.TABLE, *, fresh: bool = False) -> None:
    """Settle what needs the whole trace. Idempotent; run after all batches are loaded.

    ``fresh``: every row was inserted since the last ``finalize`` (e.g. the store was empty
    before this ingest), so ``agent_name`` still holds each span's own agent name and need
    not be read from the attributes JSON again.

    1. An LLM span with an LLM/embedding descendant that has token counts is a wrapper (e.g. a
       framework's LLM span around the SDK call): it becomes ``chain`` and its usage stays only
       in ``attributes``, so tokens and cost are never counted twice.
    2. ``agent_name`` = the span's own agent name, else that of its nearest ancestor that has one.
    """
    # A wrapper has a child. LLM spans are leaves in most traces, and this join costs a
    # fifth of the walk up from every LLM span.
    has_wrappers = con.execute(
        f"""SELECT EXISTS (SELECT 1 FROM {table} c SEMI JOIN (SELECT trace_id, span_id FROM {table} WHERE category = 'llm') p
                                  ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id)"""
    ).fetchall()[0][0]
    if has_wrappers:
        con.execute(
            f"""
            WITH RECURSIVE up(trace_id, anc) AS (
                SELECT trace_id, parent_span_id FROM {table}
                WHERE category IN ('llm', 'embedding') AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
                  AND parent_span_id IS NOT NULL
                UNION
                SELECT p.trace_id, p.parent_span_id FROM up JOIN {table} p ON p.trace_id = up.trace_id AND p.span_id = up.anc
                WHERE p.parent_span_id IS NOT NULL
            )
            UPDATE {table} t SET category = 'chain', input_tokens = NULL, output_tokens = NULL, cache_read_tokens = NULL,
                cache_write_tokens = NULL, reasoning_tokens = NULL, cost_usd = NULL, cost_source = NULL,
                system_chars = NULL, tool_schema_chars = NULL, history_chars = NULL, tool_output_chars = NULL
            FROM (SELECT DISTINCT trace_id, anc FROM up) w
            WHERE t.trace_id = w.trace_id AND t.span_id = w.anc AND t.category = 'llm'
            """
        )
    agent_keys = ALIASES["agent_name"]
    agent_paths = [f'$."{k}"' for k in (*agent_keys, *ALIASES["entity_name"])]
    own = (
        f"SELECT trace_id, span_id, parent_span_id, agent_name AS own FROM {table}"
        if fresh
        else f"""SELECT trace_id, span_id, parent_span_id, coalesce({', '.join(f'a[{i + 1}]' for i in range(len(agent_keys)))},
                   CASE WHEN category = 'agent' THEN a[{len(agent_keys) + 1}] END) AS own
            FROM (SELECT trace_id, span_id, parent_span_id, category,
                         json_extract_string(CAST(attributes AS VARCHAR), {_sql_list(agent_paths)}) AS a FROM {table})"""
    )
    if fresh and not con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {table} WHERE agent_name IS NULL AND parent_span_id IS NOT NULL)"
    ).fetchall()[0][0]:
        return  # every span that could inherit an agent name states its own: nothing to walk
    con.execute(
        f"""
        WITH RECURSIVE own AS ({own}),
        walk(trace_id, span_id, agent) AS (
            SELECT trace_id, span_id, own FROM own WHERE own IS NOT NULL OR parent_span_id IS NULL
            UNION ALL
            SELECT c.trace_id, c.span_id, w.agent FROM own c JOIN walk w ON c.trace_id = w.trace_id AND c.parent_span_id = w.span_id
            WHERE c.own IS NULL
        )
        UPDATE {table} t SET agent_name = walk.agent FROM walk
        WHERE t.trace_id = walk.trace_id AND t.span_id = walk.span_id AND t.agent_name IS DISTINCT FROM walk.agent
        """
    )
