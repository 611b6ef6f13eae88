"""DuckDB's memory capped while trace files stream into a file store.

Uncapped, DuckDB keeps every block it has written cached, up to its default limit of 80% of
RAM, so its share of an ingest grows with the file. While files stream in, every statement
holds one batch, so a small cap only makes DuckDB evict blocks that are already on disk.
1M spans into a file store peaked at 535-557 MB capped, against ~600-620 MB uncapped, for
~3% more time (bench/README.md).

Statements that work on a whole table (moving what was loaded into the stage, removing a
refused file's rows) run with the cap lifted: some of DuckDB's operators cannot spill, and
such a statement would fail where it succeeds uncapped. The steps after the files are read
(repairs, finalize, pricing) run uncapped too. Should a batch statement still run out of
memory under the cap, the caller lifts it for the rest of the ingest and reads that file
again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

LIMIT = "128MB"
"""DuckDB's memory limit while files stream into a file store. 256MB took nothing off the
peak for 1M spans (600 MB either way), 128MB took 55 MB."""


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


class MemoryCap:
    """``with MemoryCap(con) as cap:`` caps DuckDB's memory at :data:`LIMIT` for a file store
    whose limit is DuckDB's default, and restores the default on leaving. An in-memory store
    holds its table in that memory, and a limit the caller set is theirs: both are left
    alone (the cap is then never :attr:`active`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        import duckdb

        from agentprof.store import in_memory

        self._con = con
        self.active = False
        if in_memory(con):  # the common case (`agentprof analyze FILE`): no second database
            return
        with duckdb.connect() as fresh:  # a new database shows DuckDB's default limit
            self.active = _limit(con) == _limit(fresh)

    def __enter__(self) -> MemoryCap:
        self._cap()
        return self

    def _cap(self) -> None:
        import duckdb

        if not self.active:
            return
        try:
            self._con.execute(f"SET memory_limit = '{LIMIT}'")
        except duckdb.OutOfMemoryException:  # DuckDB holds more than that and cannot free it
            self.active = False

    def __exit__(self, *exc: object) -> None:
        self.lift()

    def lift(self) -> None:
        """Restore DuckDB's default limit for good (this ingest stays uncapped)."""
        if self.active:
            self._con.execute("RESET memory_limit")
            self.active = False

    @contextmanager
    def lifted(self) -> Iterator[None]:
        """Run a whole-table statement at DuckDB's default limit, then cap again."""
        if not self.active:
            yield
            return
        self._con.execute("RESET memory_limit")
        try:
            yield
        finally:
            self._cap()
