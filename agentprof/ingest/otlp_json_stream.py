"""Stream one huge OTLP JSON document without holding it in memory.

``orjson.loads`` of a 1 GB document needs ~10 GB. Here the outer structure
(``{"resourceSpans":[{"resource":…,"scopeSpans":[{"scope":…,"spans":[…]}]}]}``) is walked
by a few lines of Python, and each leaf value (a resource, a scope, one span) is decoded
by the stdlib's C ``raw_decode`` from a sliding text buffer. Memory follows the largest
single span, and a truncated file keeps every span before the break.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from agentprof.ingest._report import FileReport
from agentprof.ingest.otlp_json import _FIX_EXPORT, decode_attributes, json_object, span_row
from agentprof.ingest.raw import dumps


class _Truncated(Exception):
    def __init__(self, offset: int, why: str, *, broken: bool = True) -> None:
        self.offset = offset  # in the current text buffer
        self.why = why
        self.broken = broken  # False: valid JSON this reader cannot follow (e.g. nested too deeply)


class DocumentStream:
    """Yields raw-row batches of one document (or several placed back to back)."""

    _CHUNK = 1 << 20

    def __init__(self, f: IO[bytes], report: FileReport, batch_spans: int) -> None:
        import codecs

        self.f = f
        self.report = report
        self.batch_spans = batch_spans
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = ""
        self.pos = 0
        self.base = 0  # characters dropped from the front of buf
        self.eof = False
        self.raw = json.JSONDecoder().raw_decode
        self.rows: list[tuple] = []
        self.bad_utf8 = False
        self.lines = 0  # newlines in text already dropped from the buffer

    def place(self, offset_in_buf: int) -> str:
        line = self.lines + self.buf.count("\n", 0, offset_in_buf) + 1
        return f"line {line}, character offset {self.base + offset_in_buf}"

    # -- buffer -------------------------------------------------------------------------
    def _fill(self, grow: bool = False) -> bool:
        """Read more text. ``grow`` doubles the read so one huge value is not re-parsed O(n²)."""
        if self.eof:
            return False
        self.lines += self.buf.count("\n", 0, self.pos)
        chunk = self.f.read(max(self._CHUNK, len(self.buf) - self.pos) if grow else self._CHUNK)
        if not chunk:
            self.eof = True
            self.buf = self.buf[self.pos :] + self.decoder.decode(b"", final=True)
        else:
            text = self.decoder.decode(chunk)
            if "\ufffd" in text and not self.bad_utf8:
                self.bad_utf8 = True
                self.report.note(
                    "bad-utf8",
                    self.place(len(self.buf)),
                    "invalid UTF-8 bytes were replaced with U+FFFD (or the file has U+FFFD characters)",
                    "check the exporter writes UTF-8",
                )
            self.buf = self.buf[self.pos :] + text
        self.base += self.pos
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            buf, pos = self.buf, self.pos
            n = len(buf)
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < n:
                return buf[pos]
            if not self._fill():
                raise _Truncated(self.pos, "the document ends early")

    def _at_end(self) -> bool:
        try:
            self._peek()
        except _Truncated:
            return True
        return False

    def _expect(self, ch: str) -> None:
        if self._peek() != ch:
            raise _Truncated(self.pos, f"expected {ch!r}, found {self.buf[self.pos]!r}")
        self.pos += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.raw(self.buf, self.pos)
            except RecursionError:  # the stdlib decoder recurses per level; no trace nests so deep
                raise _Truncated(self.pos, "a value starting here nests too deeply to read", broken=False) from None
            except json.JSONDecodeError as exc:
                # Incomplete at the end of the buffer: read more and retry; else it is broken.
                if not self.eof:
                    self._fill(grow=True)
                    continue
                # Report where the broken value starts: that is the span (or object) lost.
                raise _Truncated(self.pos, f"a value starting here is cut: {exc.msg} at character {self.base + exc.pos}") from None
            if end >= len(self.buf) and not self.eof:
                # A number at the very end of the buffer may continue in the next chunk.
                if self._fill(grow=True):
                    continue
            self.pos = end
            return value

    def _keys(self) -> Iterator[str]:
        """Iterate the keys of the object at the cursor, leaving the cursor at each value."""
        self._expect("{")
        if self._peek() == "}":
            self.pos += 1
            return
        while True:
            key = self._value()
            self._expect(":")
            yield key
            c = self._peek()
            self.pos += 1
            if c == "}":
                return
            if c != ",":
                raise _Truncated(self.pos - 1, f"expected ',' or '}}', found {c!r}")

    def _items(self) -> Iterator[None]:
        """Iterate the elements of the array at the cursor, cursor at each element."""
        self._expect("[")
        if self._peek() == "]":
            self.pos += 1
            return
        while True:
            yield None
            c = self._peek()
            self.pos += 1
            if c == "]":
                return
            if c != ",":
                raise _Truncated(self.pos - 1, f"expected ',' or ']', found {c!r}")

    # -- structure ----------------------------------------------------------------------
    def batches(self) -> Iterator[list[tuple]]:
        try:
            while True:  # one document, or several back to back (JSON lines with huge lines)
                for key in self._keys():
                    if key in ("resourceSpans", "resource_spans"):
                        if not self._here("[", key):
                            continue
                        for _ in self._items():
                            if self._here("{", "a resourceSpans entry"):
                                yield from self._resource_spans()
                    else:
                        self._value()
                if self._at_end():
                    break
        except _Truncated as exc:
            kept = self.report.spans_read + len(self.rows)
            if exc.broken:
                self.report.note(
                    "truncated",
                    self.place(exc.offset),
                    f"document is not valid JSON from here ({exc.why}); the {kept} spans before it were kept",
                    "the file is probably truncated; re-export it, or convert it to JSON lines",
                )
            else:
                self.report.note(
                    "unreadable",
                    self.place(exc.offset),
                    f"document cannot be read from here ({exc.why}); the {kept} spans before it were kept",
                    "no trace nests this deep: check what wrote this value, or remove it",
                )
        if self.rows:
            yield self.rows
            self.rows = []

    def _resource_spans(self) -> Iterator[list[tuple]]:
        resource: str | None = None
        pending: list[dict[str, Any]] = []  # spans seen before "resource" (rare key order)
        for key in self._keys():
            if key == "resource":
                at = self.pos
                res = self._value()
                json_object(res, "resource", self.report, lambda: self.place(at), "its spans are kept without resource attributes")
                resource = dumps(decode_attributes(res.get("attributes") if isinstance(res, dict) else None))
                for s in pending:
                    self._add(s, resource, s.pop("\0scope", None))
                pending = []
            elif key in ("scopeSpans", "instrumentationLibrarySpans", "scope_spans"):
                if not self._here("[", key):
                    continue
                for _ in self._items():
                    if not self._here("{", "a scopeSpans entry"):
                        continue
                    scope = None
                    for k2 in self._keys():
                        if k2 in ("scope", "instrumentationLibrary"):
                            at = self.pos
                            sc = self._value()
                            json_object(sc, "scope", self.report, lambda: self.place(at), "its spans are kept without a scope name")
                            scope = (sc.get("name") or None) if isinstance(sc, dict) else None
                        elif k2 == "spans":
                            if not self._here("[", "spans"):
                                continue
                            for _ in self._items():
                                s = self._value()
                                if resource is None:
                                    if isinstance(s, dict):
                                        s["\0scope"] = scope
                                    pending.append(s)
                                else:
                                    self._add(s, resource, scope)
                                if len(self.rows) >= self.batch_spans:
                                    yield self.rows
                                    self.rows = []
                        else:
                            self._value()
            else:
                self._value()
        for s in pending:
            self._add(s, "{}", s.pop("\0scope", None))
        if len(self.rows) >= self.batch_spans:
            yield self.rows
            self.rows = []

    def _here(self, opening: str, what: str) -> bool:
        """True when an object (``{``) or array (``[``) starts at the cursor, as OTLP has it
        here. Otherwise the value is skipped and noted, and reading goes on after it."""
        if self._peek() == opening:
            return True
        at = self.pos
        value = self._value()
        kind = "object" if opening == "{" else "array"
        if value is not None:
            self.report.note(f"not-{kind}:{what}", self.place(at), f"{what} is not a JSON {kind}; skipped", _FIX_EXPORT)
        return False

    def _add(self, s: Any, resource: str, scope: str | None) -> None:
        if not isinstance(s, dict):
            self.report.note("bad-span", self.place(self.pos), "span is not a JSON object; skipped", _FIX_EXPORT, skipped=1)
            return
        pos = self.pos
        row = span_row(s, resource, scope, self.report, lambda: self.place(pos))
        if row is not None:
            self.rows.append(row)
