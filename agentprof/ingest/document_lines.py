"""One compact OTLP JSON document, read as JSON lines by the Arrow readers.

A document ``{"resourceSpans":[E1,E2,…,En]}`` holds the same spans as the JSON lines
``{"resourceSpans":[E1,…,Ek]}`` ``{"resourceSpans":[Ek+1,…,En]}``, so cutting it between
two ResourceSpans lets the JSON-lines readers (Arrow's parser, both cores, memory bounded by
the block) read a file the lenient reader would walk span by span in Python.

The cut points come from one byte search for ``},{"resource":`` (a ResourceSpans element's
end, then the next one's start). In valid JSON that text never lies inside a string: a
quote inside a string is written ``\\"``, and a string that ended at that quote would be
followed by ``resource":``, which is not JSON. Where the text belongs to an object nested
deeper than the ResourceSpans array, the line before the cut leaves a bracket open, Arrow's
parser refuses that line, and the lenient reader reads the document. It does the same for
anything else this reader does not expect: a document not starting exactly with
``{"resourceSpans":[`` (whitespace between tokens, as pretty-printed files have, or another
key first), a newline inside the document, one ResourceSpans larger than
:data:`MAX_LINE_BYTES` (e.g. a single resource holding every span), or another key after
the array.
"""

from __future__ import annotations

from collections import deque
from typing import IO

PREFIX = b'{"resourceSpans":['
"""How a compact OTLP JSON document begins (SDK and Collector encoders write this key first)."""

CUT = b'},{"resource":'
"""One ResourceSpans' end and the next one's start, as a compact encoder writes them."""

LINE_BYTES = 1 << 20
"""Bytes a line holds before the next cut ends it (the Collector's file exporter writes
lines of about this size, which Arrow's parser reads at its best)."""

MAX_LINE_BYTES = 4 << 20
"""Longest line: a ResourceSpans larger than this sends the document to the lenient
reader (a line must fit in half of an 8 MiB parser block)."""

READ_BYTES = 4 << 20
"""Bytes of the document read at a time."""


class DocumentTooWide(OSError):
    """The document is not in the shape this reader cuts (see the module docstring)."""


class DocumentLines:
    """A binary stream over ``raw`` (a compact OTLP JSON document: anything with ``read(n)``
    and ``close()``) that reads as JSON lines of whole ResourceSpans. ``read`` raises
    :class:`DocumentTooWide` where the document does not have the expected shape.

    The lines are the document itself with the comma of some cuts replaced by
    ``]}\n{"resourceSpans":[``: its bytes pass through as views of what was read, and one
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
        self._ended = False  # a newline was read: the document's end
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
        chunk = self._raw.read(self._read_bytes)
        newline = chunk.find(b"\n")
        if self._ended or newline >= 0:  # only whitespace may follow a newline
            self._ended = True
            rest = chunk[newline:] if newline >= 0 else chunk
            if rest.strip():
                raise DocumentTooWide("a newline inside the document")
            chunk = chunk[:newline] if newline >= 0 else b""
        if not self._started:
            if chunk and len(self._held) + len(chunk) < len(PREFIX):
                self._held += chunk
                return
            if not (self._held + chunk[: len(PREFIX)]).startswith(PREFIX):
                raise DocumentTooWide(f"the document does not start with {PREFIX.decode()}")
            self._started = True
        if not chunk:  # the rest is the last line (it ends with the document's own "]}")
            while tail := self._raw.read(self._read_bytes):
                if tail.strip():
                    raise DocumentTooWide("a newline inside the document")
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
        while True:
            at = self._find(held, chunk, done + max(self._line_bytes - self._line, 0))
            if at < 0:
                break
            piece(done, at + 1)
            self._queue(memoryview(_JOIN))
            done, self._line = at + 2, len(PREFIX)  # the next line's first ResourceSpans begins at its '{'
        keep = min(len(CUT) - 1, size - done)  # a cut may begin in the last bytes: hold them
        piece(done, size - keep)
        self._line += size - keep - done
        self._held = (held + chunk[-keep:])[-keep:] if keep else b""
        if self._line > self._max_line_bytes:
            raise DocumentTooWide(f"a resourceSpans element (or several without a cut) longer than {self._max_line_bytes} bytes")

    @staticmethod
    def _find(held: bytes, chunk: bytes, start: int) -> int:
        """The first cut at or after ``start`` in held + chunk, -1 if none."""
        h = len(held)
        if start < h:
            at = (held + chunk[: len(CUT) - 1]).find(CUT, start)
            if at >= 0:
                return at
        at = chunk.find(CUT, max(start - h, 0))
        return at + h if at >= 0 else -1

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
