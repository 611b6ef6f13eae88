"""THE span-table contract between ingest and analysis.

Every reader, every exporter and every convention mapping writes rows with exactly these
columns; every analyzer reads only this table (and the views ``agentprof.store`` derives
from it). Nothing downstream ever looks at raw trace JSON or asks which library produced
a span. Units are in the names: ``_ns`` nanoseconds since the Unix epoch (or a duration in
nanoseconds), ``_tokens`` token counts, ``_usd`` US dollars, ``_chars`` characters.

Change a column here, bump ``SCHEMA_VERSION``, and the DDL and Arrow schema follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SCHEMA_VERSION: Final = 1
"""Version of the span table. Stored in DuckDB files; a mismatch is a StoreError."""

TABLE: Final = "spans"
"""Name of the span table in DuckDB."""

# Closed vocabularies (the normalizer maps every convention onto these).
CATEGORIES: Final = ("agent", "step", "llm", "tool", "retrieval", "embedding", "chain", "handoff", "other")
STATUSES: Final = ("ok", "error", "unset")
COST_SOURCES: Final = ("reported", "computed", "unknown")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    doc: str
    storage: str = ""
    """DDL after the type, e.g. a compression method (not part of the column's type)."""


COLUMNS: Final[tuple[Column, ...]] = (
    # identity and tree
    Column("trace_id", "VARCHAR NOT NULL", "Lower-case hex trace id (32 chars). One trace is one *run*."),
    Column("span_id", "VARCHAR NOT NULL", "Lower-case hex span id (16 chars)."),
    Column("parent_span_id", "VARCHAR", "Parent span id, NULL for a root (missing or empty in the source)."),
    Column("name", "VARCHAR NOT NULL", "Span name as the producer wrote it."),
    Column("kind", "VARCHAR", "OTel span kind without prefix: INTERNAL, CLIENT, SERVER, PRODUCER, CONSUMER, UNSPECIFIED."),
    Column("category", "VARCHAR NOT NULL", "One of CATEGORIES: agent, step, llm, tool, retrieval, embedding, chain, handoff, other."),
    # time
    Column("start_ns", "BIGINT NOT NULL", "Start, ns since the Unix epoch."),
    Column("end_ns", "BIGINT NOT NULL", "End, ns since the Unix epoch (ingest repairs missing/negative ends and reports it)."),
    Column("ttft_ns", "BIGINT", "Time to first token/chunk in ns after start_ns, when the producer recorded it."),
    Column("serialization_ns", "BIGINT", "Request serialization time in ns, when the producer measured it."),
    # outcome
    Column("status", "VARCHAR NOT NULL", "One of STATUSES: ok, error, unset."),
    Column("status_message", "VARCHAR", "Status description, if any."),
    Column("error_type", "VARCHAR", "error.type / exception type when the span failed."),
    # who
    Column("service_name", "VARCHAR", "Resource service.name."),
    Column("agent_name", "VARCHAR", "Agent this span belongs to (own gen_ai.agent.name or inherited from the nearest agent ancestor)."),
    Column("session_id", "VARCHAR", "Session / conversation / thread id (gen_ai.conversation.id, session.id, ...)."),
    Column("user_id", "VARCHAR", "End-user id (user.id, enduser.id, ...)."),
    # LLM call
    Column("operation", "VARCHAR", "gen_ai.operation.name (chat, text_completion, embeddings, execute_tool, invoke_agent, ...)."),
    Column("provider", "VARCHAR", "Lower-case provider (gen_ai.provider.name, with gen_ai.system and aliases mapped)."),
    Column("request_model", "VARCHAR", "Model asked for."),
    Column("response_model", "VARCHAR", "Model that answered (often a dated snapshot)."),
    Column("input_tokens", "BIGINT", "Input tokens INCLUDING cache reads and writes (Anthropic's counts are summed in). NULL when not an LLM call or unknown."),
    Column("output_tokens", "BIGINT", "Output tokens, including reasoning tokens."),
    Column("cache_read_tokens", "BIGINT", "Input tokens served from the provider's prompt cache (a part of input_tokens)."),
    Column("cache_write_tokens", "BIGINT", "Input tokens written to the prompt cache (a part of input_tokens)."),
    Column("reasoning_tokens", "BIGINT", "Reasoning tokens (a part of output_tokens)."),
    Column("cost_usd", "DOUBLE", "Cost of this span's own LLM call in USD; NULL when unknown. Never aggregated usage."),
    Column("cost_source", "VARCHAR", "One of COST_SOURCES: reported (by the trace), computed (by pricing), unknown; NULL for non-LLM spans."),
    Column("finish_reason", "VARCHAR", "First finish/stop reason as the provider wrote it."),
    # tools
    Column("tool_name", "VARCHAR", "Tool name for tool spans (gen_ai.tool.name, tool.name, ...)."),
    Column("tool_call_id", "VARCHAR", "Tool call id linking the LLM's tool call and the tool span."),
    Column("tool_args_hash", "VARCHAR", "Stable hash of the tool arguments (canonical JSON), for repeat detection."),
    # prompt-part sizes (the cost analyzer apportions input_tokens by these)
    Column("system_chars", "BIGINT", "Characters of system prompt / instructions sent with this LLM call."),
    Column("tool_schema_chars", "BIGINT", "Characters of tool definitions sent with this LLM call."),
    Column("history_chars", "BIGINT", "Characters of conversation messages (user and assistant) sent, excluding tool results."),
    Column("tool_output_chars", "BIGINT", "Characters of tool results sent back to the model in this call."),
    # markers
    Column("step_number", "INTEGER", "Explicit step number from a step span (agent.step.N, @step), else NULL."),
    Column("escalated", "BOOLEAN", "True when the span records a human approval / escalation."),
    # provenance and raw data
    Column("source_format", "VARCHAR NOT NULL", "Reader that produced the row: otlp-json, otlp-jsonl, otlp-proto, agentprof, ..."),
    Column("source_file", "VARCHAR", "File the span was read from, if any."),
    # ZSTD: ~260 characters of JSON per span that repeat keys; it writes faster than DuckDB's
    # default choice (FSST) and takes a third of the space (84 instead of 129 bytes per span
    # for the whole benchmark table).
    Column("attributes", "JSON", "All span attributes as a JSON object (values decoded, long strings kept).",
           "USING COMPRESSION zstd"),
    Column("events", "JSON", "Span events as a JSON array of {name, time_ns, attributes}."),
    Column("resource", "JSON", "Resource attributes as a JSON object."),
)

COLUMN_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in COLUMNS)


def create_table_sql(table: str = TABLE) -> str:
    """DDL for the span table."""
    cols = ",\n    ".join(f"{c.name} {c.sql_type} {c.storage}".rstrip() for c in COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {cols}\n)"


def arrow_schema():  # -> pyarrow.Schema; imported lazily so the CLI starts fast
    """The span table as an Arrow schema, for bulk loads from readers and exporters."""
    import pyarrow as pa

    to_arrow = {
        "VARCHAR": pa.string(),
        "BIGINT": pa.int64(),
        "INTEGER": pa.int32(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "JSON": pa.string(),
    }
    fields = []
    for c in COLUMNS:
        base = c.sql_type.split()[0]
        fields.append(pa.field(c.name, to_arrow[base], nullable="NOT NULL" not in c.sql_type))
    return pa.schema(fields)


def describe() -> str:
    """Human-readable table of the columns (``agentprof schema``)."""
    width = max(len(c.name) for c in COLUMNS)
    lines = [f"spans table, schema version {SCHEMA_VERSION}", ""]
    for c in COLUMNS:
        lines.append(f"{c.name:<{width}}  {c.sql_type.split()[0]:<8} {c.doc}")
    return "\n".join(lines)
