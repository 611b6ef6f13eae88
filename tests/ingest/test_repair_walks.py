"""The repairs skip the walk for parent cycles when no cycle is possible (``repair._could_cycle``)."""

from __future__ import annotations

from agentprof.ingest import repair
from agentprof.store import open_store


def _staged(*spans):
    con = open_store()
    repair.create_stage(con)
    for span_id, parent, start in spans:
        con.execute(
            f"INSERT INTO {repair.STAGE} (trace_id, span_id, parent_span_id, name, category, start_ns, end_ns, status, source_format, _bad) "
            "VALUES ('t', ?, ?, 'n', 'other', ?, 100, 'ok', 'x', [])",
            [span_id, parent, start],
        )
    return con


def test_a_cycle_needs_a_child_that_starts_no_later_than_its_parent():
    # Every child after its parent: starts would have to increase all the way round a cycle.
    assert not repair._could_cycle(_staged(("a", None, 1), ("b", "a", 2), ("c", "b", 3), ("d", "a", 5)))
    assert repair._could_cycle(_staged(("a", None, 1), ("b", "a", 2), ("c", "b", 2)))  # same start
    assert repair._could_cycle(_staged(("a", None, 1), ("b", "a", 0)))  # starts before (clock skew)
    assert repair._could_cycle(_staged(("a", None, 1), ("b", "a", None)))  # no start
    # A real cycle, found and broken whatever the times.
    con = _staged(("a", "c", 1), ("b", "a", 1), ("c", "b", 1), ("r", None, 0))
    assert repair._could_cycle(con)
    repair.repair_stage(con, {})
    roots = con.execute(f"SELECT span_id FROM {repair.STAGE} WHERE parent_span_id IS NULL ORDER BY 1").fetchall()
    assert roots == [("a",), ("r",)]
