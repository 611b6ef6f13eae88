"""One OTLP JSON document, read as JSON lines by the Arrow readers.

A document ``{"resourceSpans":[E1,E2,…,En]}`` holds the same spans as the JSON lines
``{"resourceSpans":[E1,…,Ek]}`` ``{"resourceSpans":[Ek+1,…,En]}``, so cutting it between
two ResourceSpans lets the JSON-lines readers (Arrow's parser, both cores, memory bounded by
the block) read a file the lenient reader would walk span by span in Python.

The cuts are where ``}`` ``,`` ``{`` ``"resource"`` ``:`` follow each other with only
whitespace between (:data:`CUT`: a ResourceSpans element's end, then the next one's start).
In valid JSON that never lies inside a string: a quote inside a string is written ``\\"``,
and a string that ended at the quote before ``resource`` would be followed by
``resource"``, which is not JSON. Where it belongs to an object nested deeper than the
ResourceSpans array, the line before the cut leaves a bracket open, Arrow's parser refuses
that line, and the lenient reader reads the document.

Newlines and carriage returns of the document become tabs, so that a pretty-printed
document makes whole lines: between tokens a tab is whitespace as a newline is, and inside a
string (which JSON forbids raw control characters in) Arrow's parser refuses a raw tab as it
would the newline, so the lenient reader then reports it. Anything else this reader does not
expect is refused in the same way, by the parser or here: a document whose first key is not
``resourceSpans``, one ResourceSpans larger than :data:`MAX_LINE_BYTES` (e.g. a single
resource holding every span), another key after the array. Of documents placed back to back,
one ends and the next begins on one line, which Arrow's parser reads as the lenient reader does.
"""

from __future__ import annotations

import re
from collections import deque
from typing import IO

PREFIX = b'{"resourceSpans":['
"""How each line begins."""

_WS = rb"[ \t\n\r]*"

START = re.compile(rb"\A" + _WS + rb"\{" + _WS + rb'"resourceSpans"' + _WS + rb":" + _WS + rb"\[")
"""How a document this reader cuts begins (SDK and Collector encoders write this key first)."""

CUT = re.compile(rb"\}" + _WS + rb"," + _WS + rb"(\{)" + _WS + rb'"resource"' + _WS + rb":")
"""One ResourceSpans' end and the next one's start (group 1: the next one's ``{``)."""

MAX_CUT_BYTES = 4096
"""Longest cut looked for across two reads (whitespace of pretty-printing included); one
longer is not cut there, and the line goes on to the next."""

LINE_BYTES = 1 << 20
"""Bytes a line holds before the next cut ends it (the Collector's file exporter writes
lines of about this size, which Arrow's parser reads at its best)."""

MAX_LINE_BYTES = 4 << 20
"""Longest line: a ResourceSpans larger than this sends the document to the lenient
reader (a line must fit in half of an 8 MiB parser block)."""

READ_BYTES = 4 << 20
"""Bytes of the document read at a time."""


class UncuttableDocument(OSError):
    """The document is not in the shape this reader cuts (see the module docstring)."""


class DocumentLines:
    """A binary stream over ``raw`` (an OTLP JSON document: anything with ``read(n)``
    and ``close()``) that reads as JSON lines of whole ResourceSpans. ``read`` raises
    :class:`UncuttableDocument` where the document does not have the expected shape.

    The lines are the document itself with newlines as tabs and some cuts replaced by
    ``}]}\n{"resourceSpans":[{``: its bytes pass through as views of what was read, and one
    join per ``read`` copies them (cutting by re-buffering cost 8x a plain read)."""

    def __init__(self, raw: IO[bytes], *, line_bytes: int | None = None, max_line_bytes: int | None = None,
                 read_bytes: int | None = None) -> None:
        self._raw = raw
        self._line_bytes = line_bytes or LINE_BYTES
        self._max_line_bytes = max_line_bytes or MAX_LINE_BYTES
        self._read_bytes = read_bytes or READ_BYTES
        self._held = b""  # the last bytes read, not handed out yet: a cut may begin in them
        self._line = 0  # bytes of the current line handed out or held
        self._out: deque[memoryview] = deque()  # pieces ready to hand out, in order
        self._out_bytes = 0
        self._started = False
        self._eof = False
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        """``n`` bytes of the lines (all that is left when ``n`` < 0); fewer only at the end."""
        while (n < 0 or self._out_bytes < n) and not self._eof:
            self._more()
        if n < 0 or n >= self._out_bytes:
            data = b"".join(self._out)
            self._out.clear()
            self._out_bytes = 0
            return data
        pieces, size = [], 0
        while size < n:
            piece = self._out.popleft()
            if size + len(piece) > n:
                self._out.appendleft(piece[n - size :])
                piece = piece[: n - size]
            pieces.append(piece)
            size += len(piece)
        self._out_bytes -= n
        return b"".join(pieces)

    def _more(self) -> None:
        """Read one chunk of the document and queue its bytes, with the cuts it completes."""
        chunk = self._raw.read(self._read_bytes).replace(b"\n", b"\t")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r", b"\t")
        if not self._started:
            self._held += chunk
            if chunk and len(self._held) < MAX_CUT_BYTES:  # enough to see the start, whitespace and all
                return
            if not START.match(self._held):
                raise UncuttableDocument("the document does not start with {\"resourceSpans\":[")
            self._started, chunk, self._held = True, self._held, b""
        if not chunk:  # the rest is the last line (it ends with the document's own "]}")
            self._eof = True
            self._queue(memoryview(self._held + b"\n"))
            self._held = b""
            return
        # Positions below are in held + chunk, without joining the two.
        held, h = self._held, len(self._held)
        size = h + len(chunk)
        view = memoryview(chunk)

        def piece(a: int, b: int) -> None:  # held + chunk [a:b]
            if a < h:
                self._queue(memoryview(held[a : min(b, h)]))
            if b > h:
                self._queue(view[max(a - h, 0) : b - h])

        done = 0  # queued up to here
        while (cut := self._find(held, chunk, done + max(self._line_bytes - self._line, 0))) is not None:
            at, following = cut
            piece(done, at + 1)
            self._queue(memoryview(_JOIN))
            done, self._line = following, len(PREFIX)
        # A cut may begin at the last '}' and go on in the next chunk: hold the bytes from there.
        brace = chunk.rfind(b"}", max(len(chunk) - MAX_CUT_BYTES, 0))
        brace = brace + h if brace >= 0 else held.rfind(b"}", max(size - MAX_CUT_BYTES, 0))
        keep = size - brace if brace >= done else 0
        piece(done, size - keep)
        self._line += size - keep - done
        self._held = (held + chunk[-keep:])[-keep:] if keep else b""
        if self._line > self._max_line_bytes:
            raise UncuttableDocument(f"a resourceSpans element (or several without a cut) longer than {self._max_line_bytes} bytes")

    @staticmethod
    def _find(held: bytes, chunk: bytes, start: int) -> tuple[int, int] | None:
        """(the position of its '}', of the next ResourceSpans' '{') of the first cut at or after
        ``start`` in held + chunk, None if none."""
        h = len(held)
        if start < h:
            m = CUT.search(held + chunk[: MAX_CUT_BYTES], start)
            if m:
                return m.start(), m.start(1)
        m = CUT.search(chunk, max(start - h, 0))
        return (m.start() + h, m.start(1) + h) if m else None

    def _queue(self, piece: memoryview) -> None:
        if len(piece):
            self._out.append(piece)
            self._out_bytes += len(piece)

    def close(self) -> None:
        self.closed = True
        self._raw.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


_JOIN = b"]}\n" + PREFIX
"""What replaces the comma of a cut: the end of one line and the start of the next."""
