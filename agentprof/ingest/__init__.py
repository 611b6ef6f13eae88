"""Read trace files into the span table.

    ingest_files(con, paths)  →  per-file SourceFile reports

For each file: sniff the format from the content (``detect``), stream it through its reader
in batches of raw spans (``raw``), map them into a stage table with SQL (``normalize``) in
statements sized to the store (``batches``), then repair the stage as a whole (``repair``),
move it into ``spans``, settle tree-level facts (``normalize.finalize``) and price the LLM
calls (``pricing``).
Memory is bounded by the batch, not by the file (into a file store, DuckDB's own memory is
capped while files stream in: ``memory_cap``). Bad content never raises: every problem is
recorded in that file's report with its place and a fix.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from agentprof.config import Config
    from agentprof.ingest.memory_cap import MemoryCap
    from agentprof.profile import SourceFile

BATCH_SPANS = 50_000
"""Raw spans per batch handed to the normalizer (bounds reader memory)."""

__all__ = ["BATCH_SPANS", "ingest_files", "read_file", "sniff_file"]


# In a folder, files with these endings are not traces (sources, docs, images, stores); they
# are passed over and counted instead of each getting a "not a trace file" message. A file
# named on the command line is always sniffed, whatever its name.
_NOT_TRACE_SUFFIXES = frozenset(
    ".py .pyc .pyi .md .rst .txt .toml .ini .cfg .yaml .yml .html .htm .css .js .ts .sh "
    ".png .jpg .jpeg .gif .svg .pdf .csv .duckdb .wal .lock .log".split()
)


def _expand(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[str], dict[str, list[str]]]:
    """Files as given; directories → every non-hidden file inside, sorted.

    Returns the files to read and, per directory, the files passed over by name.
    """
    out: list[str] = []
    passed_over: dict[str, list[str]] = {}
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if not f.is_file() or any(part.startswith(".") for part in rel.parts):
                    continue
                if f.suffix.lower() in _NOT_TRACE_SUFFIXES:
                    passed_over.setdefault(str(path), []).append(str(rel))
                else:
                    out.append(str(f))
        else:
            out.append(str(path))
    return out, passed_over


def sniff_file(path: str, report: Any) -> tuple[str, bool] | None:
    """(format, is_gzip) of a file, or None after recording why it cannot be read."""
    from agentprof.ingest import detect

    try:
        gz = detect.is_gzip(path)
        with detect.open_content(path) as f:
            head = f.read(detect.HEAD_BYTES)
            try:
                fmt = detect.sniff(head)
            except detect.NotATraceFile as exc:
                report.format = "not-a-trace"
                report.fatal = f"{path}: not a trace file: {exc}. agentprof reads {detect.READS}"
                return None
            if fmt == detect.OTLP_JSON and b"\n" not in head.strip():
                fmt = detect.json_form_long_line(f, head)
    except OSError as exc:
        report.fatal = f"{path}: cannot read the file ({exc.strerror or exc}); check the path and permissions"
        return None
    report.format = fmt + ("+gzip" if gz else "")
    if fmt == detect.EMPTY:
        report.fatal = f"{path}: the file is empty; nothing to read (did the traced program flush its exporter?)"
        return None
    return fmt, gz


def read_file(path: str, report: Any, fmt: str, gz: bool, batch_spans: int = BATCH_SPANS) -> Iterator[tuple[list[tuple], int]]:
    """Lenient readers: yield (rows, bytes_done) for one file; problems go to ``report``."""
    from agentprof.ingest import console, detect, otlp_json, otlp_proto

    raw_size = os.path.getsize(path)
    try:
        with open(path, "rb", buffering=1 << 20) as rawf:
            gunzip = detect.Gunzip(rawf) if gz else None
            f = io.BufferedReader(gunzip, 1 << 20) if gunzip else rawf
            if fmt == detect.OTLP_JSONL:
                batches = otlp_json.read_lines(f, report, batch_spans)
            elif fmt == detect.OTLP_JSON:
                batches = otlp_json.read_document(f, report, batch_spans)
            elif fmt in (detect.OTLP_PROTO, detect.OTLP_PROTO_LP):
                batches = otlp_proto.read(f, report, batch_spans, length_prefixed=fmt == detect.OTLP_PROTO_LP)
            else:
                batches = console.read(f, report, batch_spans)
            for rows in batches:
                yield rows, min(rawf.tell(), raw_size)
            if gunzip is not None and gunzip.truncated:
                report.note(
                    "truncated-gzip",
                    f"byte offset {raw_size} of the compressed file",
                    "the gzip stream is cut short; the data before the break was read",
                    "the file is probably truncated; re-export it or check the copy",
                )
    except OSError as exc:
        report.note(
            "truncated",
            None,
            f"reading stopped early ({exc}); the spans before it were kept",
            "check the file can be read completely",
        )


def _remove_rows(con: duckdb.DuckDBPyConnection, path: str, direct: bool) -> None:
    """Remove what reading ``path`` loaded: its stage rows, and the span table's when
    ``direct`` (the span table was empty before this file)."""
    from agentprof import schema
    from agentprof.ingest import repair

    con.execute(f"DELETE FROM {repair.STAGE} WHERE source_file = ?", [path])
    if direct:
        con.execute(f"DELETE FROM {schema.TABLE}")


def _read_one(con, cap: MemoryCap, report, path: str, fmt: str, gz: bool, direct: bool, fast: bool, progress,
              done: int, total: int, batch_spans: int) -> str:
    """Read one file into the stage (or, ``direct``, the span table); returns the table."""
    from agentprof.ingest import detect

    fast_formats = (detect.OTLP_JSONL, detect.OTLP_JSON, detect.OTLP_PROTO, detect.OTLP_PROTO_LP)
    into = _read_fast(con, cap, path, fmt, direct) if fast and fmt in fast_formats else None
    if into is None:
        into = _read_pipelined(con, cap, read_file(path, report, fmt, gz, batch_spans), fmt, path, progress, done,
                               total, direct=direct)
    return into


def _read_fast(con: duckdb.DuckDBPyConnection, cap: MemoryCap, path: str, fmt: str, direct: bool) -> str | None:
    """Well-formed OTLP JSON lines, OTLP JSON documents or protobuf through the
    Arrow/DuckDB readers.

    The one-pass reader (Arrow → flat columns → span-table rows in one query per batch; for
    protobuf, ``protowire`` decodes the blocks); for spans with prompt content to measure in
    Python, the fast reader (the same blocks → raw JSON text → ``normalize_into``).
    ``direct``: the span table is empty and this is the only file, so the one-pass reader
    may load straight into it (see ``onepass.ingest_jsonl``).

    Returns the table the rows went to, or None (with this file's rows removed) when the
    readers refuse the file; the lenient reader then reads it again and reports any problem
    precisely.
    """
    from agentprof import schema
    from agentprof.ingest import batches, detect, fastpath, normalize, onepass, repair

    def undo() -> None:
        with cap.lifted():  # whole-table statements (see memory_cap)
            _remove_rows(con, path, direct)

    def demote() -> str:
        with cap.lifted():
            repair.stage_spans(con)
        return repair.STAGE

    length_prefixed = fmt == detect.OTLP_PROTO_LP
    if fmt == detect.OTLP_JSONL:
        read = onepass.ingest_jsonl
    elif fmt == detect.OTLP_JSON:  # cut into JSON lines (document_lines)
        read = functools.partial(onepass.ingest_jsonl, document=True, source_format=fmt)
    else:  # protobuf
        read = functools.partial(onepass.ingest_proto, length_prefixed=length_prefixed, source_format=fmt)
    try:
        if direct:
            return read(con, path, target=schema.TABLE, demote=demote)[1]
        return read(con, path, target=repair.STAGE)[1]
    except onepass.NeedsMeasuring:
        undo()
    except onepass.OnePassUnsupported:
        undo()
        return None
    try:  # (it refuses gzip JSON lines)
        if fmt == detect.OTLP_JSONL:
            raw = fastpath.iter_raw_batches_jsonl(path)
        elif fmt == detect.OTLP_JSON:
            raw = fastpath.iter_raw_batches(*onepass.json_blocks(path, document=True), path, source_format=fmt)
        else:
            blocks, close = onepass.proto_blocks(path, length_prefixed=length_prefixed)
            raw = fastpath.iter_raw_batches(blocks, close, path, source_format=fmt)
        for table in batches.cut(raw, batches.plan(con, repair.STAGE)):
            normalize.normalize_into(con, table, target=repair.STAGE)
    except fastpath.FastPathUnsupported:
        undo()
        return None
    return repair.STAGE


def _read_pipelined(con, cap: MemoryCap, row_batches, fmt: str, path: str, progress, done: int, total: int, *,
                    direct: bool = False) -> str:
    """Normalize batch N in DuckDB (a worker thread; DuckDB releases the GIL) while Python
    parses batch N+1, so the two cores both work.

    ``direct``: the span table is empty and this is the only file, so rows go straight into
    it (strict inserts) until one needs a repair or a report; then what is loaded moves to
    the stage and the rest follows it there (as ``onepass.ingest_jsonl`` does). Returns the
    table the rows went to.
    """
    from concurrent.futures import ThreadPoolExecutor

    import duckdb

    from agentprof import schema, store
    from agentprof.ingest import batches, normalize, repair
    from agentprof.ingest.raw import rows_to_arrow

    cur = store.cursor(con)  # same database, own connection state: safe to drive from the worker
    target = schema.TABLE if direct else repair.STAGE

    def tables():
        for rows, at in row_batches:
            yield rows_to_arrow(rows, fmt, path)
            if progress is not None:
                progress(done + at, total)

    def load(table) -> None:
        nonlocal target
        try:
            normalize.normalize_into(cur, table, target=target, strict=target == schema.TABLE)
        except duckdb.InvalidInputException as exc:
            if target != schema.TABLE or not normalize.needs_stage(exc):
                raise
            with cap.lifted():  # a whole-table statement (see memory_cap)
                repair.stage_spans(cur)  # the failed statement inserted nothing
            target = repair.STAGE
            normalize.normalize_into(cur, table, target=target)

    pending = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            # Statements sized to the store (see ``batches``).
            for table in batches.cut(tables(), batches.plan(con, target)):
                if pending is not None:
                    pending.result()
                pending = pool.submit(load, table)
        finally:
            if pending is not None:
                pending.result()
            cur.close()
    return target


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike[str]],
    *,
    config: Config | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_spans: int = BATCH_SPANS,
    fast: bool = True,
) -> tuple[SourceFile, ...]:
    """Read, normalize, repair and price the spans of ``paths`` into ``con``'s span table.

    Args:
        con: A store from ``agentprof.store.open_store``.
        paths: Trace files and/or directories (every file inside, sorted).
        config: Settings (user prices). Defaults to no overrides.
        progress: Called as ``progress(bytes_done, bytes_total)`` after each batch.
        batch_spans: Raw spans per batch. Defaults to 50,000.
        fast: Try the Arrow/DuckDB reader on uncompressed OTLP JSON lines first (it refuses,
            and the lenient reader takes over, on anything it cannot read exactly). Defaults to True.

    Returns:
        One ``SourceFile`` per file, in order, with what was read, skipped and repaired.
    """
    import duckdb

    from agentprof import pricing, schema
    from agentprof.ingest import normalize, repair
    from agentprof.ingest._report import FileReport
    from agentprof.ingest.memory_cap import MemoryCap

    pricing.import_in_background()
    files, passed_over = _expand(paths)
    sizes = {}
    for p in files:
        try:
            sizes[p] = os.path.getsize(p)
        except OSError:
            sizes[p] = 0
    total = sum(sizes.values())
    done = 0
    reports: dict[str, FileReport] = {}
    ordered: list[FileReport] = []
    repair.create_stage(con)
    # One file into an empty store: the one-pass reader may load straight into the span
    # table (no stage to fill and move) as long as nothing needs a repair.
    fresh = not con.execute(f"SELECT count(*) FROM {schema.TABLE}").fetchall()[0][0]
    direct = len(files) == 1 and fresh
    try:
        with MemoryCap(con) as cap, _one_duckdb_thread(con):
            for path in files:
                report = FileReport(path)
                ordered.append(report)
                if path in reports:  # the same file twice: its spans would all be duplicates
                    report.fatal = f"{path}: given twice; read once"
                    continue
                reports[path] = report
                if not os.path.exists(path):
                    report.fatal = f"{path}: no such file; check the path"
                    continue
                sniffed = sniff_file(path, report)
                if sniffed is None:
                    continue
                fmt, gz = sniffed
                args = (path, fmt, gz, direct, fast, progress, done, total, batch_spans)
                try:
                    try:
                        into = _read_one(con, cap, report, *args)
                    except duckdb.OutOfMemoryException:
                        if not cap.active:
                            raise
                        # A statement needed more than the cap: read this file again uncapped.
                        cap.lift()
                        _remove_rows(con, path, direct)
                        report = reports[path] = ordered[-1] = FileReport(path, format=report.format)
                        into = _read_one(con, cap, report, *args)
                    direct = into == schema.TABLE
                except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
                    # Not expected for any input; kept so that a bug shows as a message, not a traceback.
                    report.note(
                        "unexpected",
                        None,
                        f"reading stopped early on an unexpected error ({type(exc).__name__}: {str(exc)[:200]}); the spans before it were kept",
                        "please report this file's shape as an agentprof bug",
                    )
                done += sizes[path]
                if progress is not None:
                    progress(done, total)
        if direct and repair.needs_repair(con):
            repair.stage_spans(con)  # the stage repairs and reports; same rows, same order
            direct = False
        repair.repair_stage(con, reports)
        kept = repair.move_stage(con)
        if direct:
            kept = dict(con.execute(f"SELECT source_file, count(*) FROM {schema.TABLE} GROUP BY ALL").fetchall())
        for path, rep in reports.items():
            rep.spans_read = kept.get(path, 0)
            if not rep.fatal and rep.spans_read == 0 and not rep.messages():
                rep.note("no-spans", None, "the file holds no spans", "check the exporter ran and flushed")
    finally:
        repair.drop_stage(con)
    normalize.finalize(con, fresh=fresh)
    pricing.apply_prices(con, config)
    notes = []
    for folder, names in passed_over.items():
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        dir_report = FileReport(folder, format="folder")
        dir_report.note("passed-over", None, f"passed over {len(names)} file(s) whose names say they are not traces ({shown})",
                        "name a file on the command line to read it anyway")
        notes.append(dir_report.to_source_file())
    return tuple(r.to_source_file() for r in ordered) + tuple(notes)


@contextmanager
def _one_duckdb_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB maps the batches on one thread while files stream in. With two, its INSERT
    (which keeps the rows in read order) held the chunks that finished early until those
    before them were done: 1M spans peaked at 1.34-1.43 GB instead of 0.56, and took no less
    time (10.1 s against 11.2-12.8), since the reader's thread has the other core."""
    before = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {before}")
