"""Set-based repairs of a loaded batch of spans (the ingest stage table), each reported per file.

Order matters: duplicates go first (keep the first copy), then orphans become roots, then
parent cycles are broken, so the end-time repair can walk a proper forest. Clock skew is
only counted: a child outside its parent is real data about clocks, not something to hide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentprof import schema

if TYPE_CHECKING:
    import duckdb

    from agentprof.ingest._report import FileReport

STAGE = "_agentprof_stage"


def create_stage(con: duckdb.DuckDBPyConnection) -> None:
    """The span table's columns with a nullable end, plus ``_bad`` and a read-order ``_seq``.

    A regular table, not TEMP: with a file store DuckDB can then page it to disk, so a large
    ingest is bounded by DuckDB's buffer pool rather than held twice in memory.
    """
    # JSON columns as VARCHAR here: the text is valid JSON by construction, and the span
    # table's JSON type checks it once, on the move.
    cols = ",\n".join(f"{c.name} {c.sql_type.replace(' NOT NULL', '').replace('JSON', 'VARCHAR')}" for c in schema.COLUMNS)
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    con.execute("CREATE OR REPLACE SEQUENCE _agentprof_seq")
    con.execute(f"CREATE TABLE {STAGE} ({cols}, _bad VARCHAR[], _seq BIGINT DEFAULT nextval('_agentprof_seq'))")


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    con.execute("DROP TABLE IF EXISTS _agentprof_fix")
    con.execute("DROP SEQUENCE IF EXISTS _agentprof_seq")


def _note(con, reports: dict[str, FileReport], kind: str, what: str, fix: str, *, skipped: bool = False) -> None:
    """Report the rows of ``_agentprof_fix`` (source_file, span_id, _seq) per file."""
    rows = con.execute(
        "SELECT source_file, count(*), list(span_id ORDER BY _seq)[1:3] FROM _agentprof_fix GROUP BY source_file"
    ).fetchall()
    for source_file, n, examples in rows:
        rep = reports.get(source_file)
        if rep is None:
            continue
        for i, sid in enumerate(examples):
            rep.note(kind, f"span {sid}", what, fix, count=n if i == 0 else 0, skipped=n if (skipped and i == 0) else 0)


def _fix(con, sql: str) -> int:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _agentprof_fix AS {sql}")
    return con.execute("SELECT count(*) FROM _agentprof_fix").fetchall()[0][0]  # read to the end: frees the result


def repair_stage(con: duckdb.DuckDBPyConnection, reports: dict[str, FileReport]) -> None:
    S, T = STAGE, schema.TABLE

    # 1. Duplicate span ids: keep the first copy read (files in order, lines in order).
    if _fix(
        con,
        f"""SELECT source_file, span_id, _seq FROM (
              SELECT source_file, span_id, _seq, row_number() OVER (PARTITION BY trace_id, span_id ORDER BY _seq) AS rn FROM {S})
            WHERE rn > 1""",
    ):
        _note(con, reports, "duplicate", "duplicate span id in the same trace; kept the first copy", "export each span once (check for two exporters or a re-sent batch)", skipped=True)
        con.execute(f"DELETE FROM {S} WHERE _seq IN (SELECT _seq FROM _agentprof_fix)")
    if _fix(con, f"SELECT s.source_file, s.span_id, s._seq FROM {S} s SEMI JOIN {T} t ON t.trace_id = s.trace_id AND t.span_id = s.span_id"):
        _note(con, reports, "already-stored", "span is already in the store; kept the stored copy", "ingest each file into a store once", skipped=True)
        con.execute(f"DELETE FROM {S} WHERE _seq IN (SELECT _seq FROM _agentprof_fix)")

    # 2. Orphans: a parent that is not in the trace. Kept as a root of its trace.
    if _fix(
        con,
        f"""SELECT s.source_file, s.span_id, s._seq FROM {S} s
            WHERE s.parent_span_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {S} p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
              AND NOT EXISTS (SELECT 1 FROM {T} p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)""",
    ):
        _note(con, reports, "orphan", "parent span is not in the trace; kept the span as a root", "export the whole trace (its parent may still have been running when the file was cut)")
        con.execute(f"UPDATE {S} SET parent_span_id = NULL WHERE _seq IN (SELECT _seq FROM _agentprof_fix)")

    # 3. Parent cycles: spans no root reaches. Break each cycle at its smallest span id.
    # Around a cycle starts cannot all increase, so one needs a child that starts no later
    # than its parent (or without a start); without one, the walk from the roots (over every
    # span: most of the repairs' time and memory) cannot find anything.
    unreachable = _could_cycle(con) and _fix(
        con,
        f"""WITH RECURSIVE reach(trace_id, span_id) AS (
              SELECT s.trace_id, s.span_id FROM {S} s
              WHERE s.parent_span_id IS NULL
                 OR EXISTS (SELECT 1 FROM {T} p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
              UNION
              SELECT c.trace_id, c.span_id FROM {S} c JOIN reach r ON c.trace_id = r.trace_id AND c.parent_span_id = r.span_id)
            SELECT s.source_file, s.span_id, s._seq, s.trace_id, s.parent_span_id FROM {S} s ANTI JOIN reach r
              ON r.trace_id = s.trace_id AND r.span_id = s.span_id""",
    )
    if unreachable:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _agentprof_fix AS
            WITH RECURSIVE u AS (SELECT * FROM _agentprof_fix),
            walk(trace_id, origin, cur) AS (
                SELECT trace_id, span_id, parent_span_id FROM u
                UNION
                SELECT w.trace_id, w.origin, u.parent_span_id FROM walk w JOIN u ON u.trace_id = w.trace_id AND u.span_id = w.cur),
            on_cycle AS (SELECT DISTINCT trace_id, origin FROM walk WHERE cur = origin),
            keys AS (SELECT w.trace_id, min(w.cur) AS key FROM walk w SEMI JOIN on_cycle c
                     ON c.trace_id = w.trace_id AND c.origin = w.origin GROUP BY w.trace_id, w.origin)
            SELECT u.source_file, u.span_id, u._seq FROM u SEMI JOIN keys k ON k.trace_id = u.trace_id AND k.key = u.span_id"""
        )
        _note(con, reports, "cycle", "spans form a parent cycle; broke it by making this span a root", "check the exporter's parent ids")
        con.execute(f"UPDATE {S} SET parent_span_id = NULL WHERE _seq IN (SELECT _seq FROM _agentprof_fix)")

    # 4. Negative durations: end before start. Clamp the end to the start.
    if _fix(con, f"SELECT source_file, span_id, _seq FROM {S} WHERE end_ns < start_ns"):
        _note(con, reports, "negative-duration", "span ends before it starts; set its end to its start", "check the producer's clock or time units")
        con.execute(f"UPDATE {S} SET end_ns = start_ns WHERE end_ns < start_ns")

    # 5. Missing end: the latest end (or start) among its descendants, at least its start.
    if _fix(
        con,
        # Only the traces with a span to repair: joins over the whole stage held 3M spans'
        # keys in memory to repair one span.
        f"""WITH RECURSIVE open AS (
              SELECT source_file, span_id, _seq, trace_id, parent_span_id, start_ns, end_ns FROM {S}
              WHERE trace_id IN (SELECT trace_id FROM {S} WHERE end_ns IS NULL)),
            d(trace_id, top, span_id) AS (
              SELECT trace_id, span_id, span_id FROM open WHERE end_ns IS NULL
              UNION ALL
              SELECT d.trace_id, d.top, c.span_id FROM d JOIN open c ON c.trace_id = d.trace_id AND c.parent_span_id = d.span_id)
            SELECT s.source_file, s.span_id, s._seq,
                   greatest(s.start_ns, max(coalesce(c.end_ns, c.start_ns))) AS new_end
            FROM d JOIN open s ON s.trace_id = d.trace_id AND s.span_id = d.top
                   JOIN open c ON c.trace_id = d.trace_id AND c.span_id = d.span_id
            GROUP BY s.source_file, s.span_id, s._seq, s.start_ns""",
    ):
        _note(con, reports, "no-end", "span has no end time; used the latest end among its children (or its start)", "let the span end before the exporter flushes, or flush at shutdown")
        con.execute(f"UPDATE {S} s SET end_ns = f.new_end FROM _agentprof_fix f WHERE s._seq = f._seq")

    # 6. Clock skew: a child outside its parent's interval. Kept as is, counted.
    if _fix(
        con,
        f"""SELECT c.source_file, c.span_id, c._seq FROM {S} c JOIN {S} p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
            WHERE c.start_ns < p.start_ns OR c.end_ns > p.end_ns""",
    ):
        _note(con, reports, "clock-skew", "child span lies partly outside its parent (clock skew between processes?); kept as recorded", "sync the clocks of the processes that produce the spans; analysis clips children to parents")

    # 7. Attribute values of the wrong type (e.g. tokens "many"): column left NULL.
    rows = con.execute(
        f"""SELECT source_file, b, count(*), list(span_id ORDER BY _seq)[1:3] FROM
            (SELECT source_file, span_id, _seq, unnest(_bad) AS b FROM {S} WHERE len(_bad) > 0) GROUP BY ALL"""
    ).fetchall()
    for source_file, column, n, examples in rows:
        rep = reports.get(source_file)
        if rep is None:
            continue
        for i, sid in enumerate(examples):
            rep.note(
                f"bad-type-{column}",
                f"span {sid}",
                f"attribute for {column} is not a non-negative number; left {column} empty",
                "fix the instrumentation to write a number",
                count=n if i == 0 else 0,
            )


def _could_cycle(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether some staged span starts no later than its staged parent (or has no start)."""
    return con.execute(
        f"""SELECT EXISTS (SELECT 1 FROM {STAGE} c JOIN {STAGE} p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
                           WHERE coalesce(c.start_ns > p.start_ns, false) = false)"""
    ).fetchall()[0][0]


def needs_repair(con: duckdb.DuckDBPyConnection, table: str = schema.TABLE) -> bool:
    """Would :func:`repair_stage` change or report anything for the spans of ``table``?

    For an ingest that loaded straight into an empty span table (its rows then have ends and
    well-typed values: see ``normalize.NEEDS_STAGE``): duplicates, ends before starts,
    orphans, clock skew and parent cycles are what is left to find. Cheapest checks first.
    """
    T = table
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM {T} GROUP BY trace_id, span_id HAVING count(*) > 1)").fetchall()[0][0]:
        return True
    # One join finds orphans (no parent row) and children outside their parent, and counts
    # the children with exactly their parent's start and end.
    outside, tied = con.execute(
        f"""SELECT count(*) FILTER (WHERE c.end_ns < c.start_ns OR (c.parent_span_id IS NOT NULL AND (p.span_id IS NULL
                                          OR c.start_ns < p.start_ns OR c.end_ns > p.end_ns))),
                   count(*) FILTER (WHERE c.start_ns = p.start_ns AND c.end_ns = p.end_ns)
            FROM {T} c LEFT JOIN {T} p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id"""
    ).fetchall()[0]
    if outside:
        return True
    if not tied:
        # Every child is inside its parent, so along a parent cycle starts never decrease and
        # ends never increase: all its spans would share one start and end. None do.
        return False
    # Ids are unique and every parent exists: a span no root reaches is on a cycle. A walk
    # down from the roots never enters a cycle, so UNION ALL (no dedup) ends.
    return con.execute(
        f"""WITH RECURSIVE reach(trace_id, span_id) AS (
                SELECT trace_id, span_id FROM {T} WHERE parent_span_id IS NULL
                UNION ALL
                SELECT c.trace_id, c.span_id FROM {T} c JOIN reach r ON c.trace_id = r.trace_id AND c.parent_span_id = r.span_id)
            SELECT (SELECT count(*) FROM reach) <> (SELECT count(*) FROM {T})"""
    ).fetchall()[0][0]


def stage_spans(con: duckdb.DuckDBPyConnection) -> None:
    """Move every row of the span table into the stage, in the order they were inserted.

    Only for an ingest that began with an empty span table and loaded straight into it:
    the stage then holds exactly what loading through it would have, repairs included."""
    cols = ", ".join(schema.COLUMN_NAMES)
    # Read order is the span table's row order: the rows get read-order numbers up to 0, below
    # those of every row the stage gets later (its sequence starts at 1). Sorting by rowid
    # instead held the whole table in memory (3M spans: 4.0 GB and 26 s).
    con.execute(
        f"INSERT INTO {STAGE} ({cols}, _bad, _seq) "
        f"SELECT {cols}, [], rowid - (SELECT max(rowid) FROM {schema.TABLE}) FROM {schema.TABLE}"
    )
    con.execute(f"DELETE FROM {schema.TABLE}")


def move_stage(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Append the stage to the span table in read order; returns spans kept per source file."""
    cols = ", ".join(schema.COLUMN_NAMES)
    # The stage's rows are in read order already: they were inserted in it in that order (and
    # DuckDB numbers them in the order it inserts them), and repairs only update values in
    # place or delete rows. DuckDB keeps that order through INSERT ... SELECT unless
    # preserve_insertion_order is off; only then is a sort (the whole stage in memory) needed.
    keeps_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    order = "" if keeps_order else " ORDER BY _seq"
    con.execute(f"INSERT INTO {schema.TABLE} ({cols}) SELECT {cols} FROM {STAGE}{order}")
    return dict(con.execute(f"SELECT source_file, count(*) FROM {STAGE} GROUP BY source_file").fetchall())
