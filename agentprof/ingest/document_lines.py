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
    :class:`DocumentTooWide` where the document does not have the expected shape."""

    def __init__(self, raw: IO[bytes], *, line_bytes: int | None = None, max_line_bytes: int | None = None,
                 read_bytes: int | None = None) -> None:
        self._raw = raw
        self._line_bytes = line_bytes or LINE_BYTES
        self._max_line_bytes = max_line_bytes or MAX_LINE_BYTES
        self._read_bytes = read_bytes or READ_BYTES
        self._buf = b""  # input not yet handed out; a line starts at its first byte
        self._searched = 0  # no cut before this offset of _buf (past the line's minimum length)
        self._out: list[bytes] = []  # lines ready to hand out, in order
        self._out_bytes = 0
        self._started = False
        self._eof = False
        self._ended = False  # a newline was read: the document's end
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the lines (all that is left when ``n`` < 0); fewer only at the end."""
        while (n < 0 or self._out_bytes < n) and not self._eof:
            self._more()
        data = b"".join(self._out)
        if 0 <= n < len(data):
            self._out, self._out_bytes = [data[n:]], len(data) - n
            return data[:n]
        self._out, self._out_bytes = [], 0
        return data

    def _more(self) -> None:
        """Read one chunk of the document and cut off the lines it completes."""
        chunk = self._raw.read(self._read_bytes)
        newline = chunk.find(b"\n")
        if self._ended or newline >= 0:  # only whitespace may follow a newline
            self._ended = True
            rest = chunk[newline:] if newline >= 0 else chunk
            if rest.strip():
                raise DocumentTooWide("a newline inside the document")
            chunk = chunk[:newline] if newline >= 0 else b""
        if chunk:
            self._buf += chunk
        if not self._started:
            if len(self._buf) < len(PREFIX) and chunk:
                return
            if not self._buf.startswith(PREFIX):
                raise DocumentTooWide(f"the document does not start with {PREFIX.decode()}")
            self._started = True
        if not chunk:  # the rest is the last line (it ends with the document's own "]}")
            while tail := self._raw.read(self._read_bytes):
                if tail.strip():
                    raise DocumentTooWide("a newline inside the document")
            self._eof = True
            self._emit(self._buf + b"\n")
            self._buf = b""
            return
        buf, start = self._buf, 0
        while (at := buf.find(CUT, max(start + self._line_bytes, self._searched))) >= 0:
            self._emit(buf[start : at + 1] + b"]}\n" + PREFIX)
            start = at + 2  # the next line's first ResourceSpans begins at its '{'
        self._buf = buf[start:] if start else buf
        # A cut may straddle this chunk's end: search again from just before it next time.
        self._searched = max(0, len(self._buf) - len(CUT) + 1)
        if len(self._buf) > self._max_line_bytes:
            raise DocumentTooWide(f"a resourceSpans element (or several without a cut) longer than {self._max_line_bytes} bytes")

    def _emit(self, data: bytes) -> None:
        self._out.append(data)
        self._out_bytes += len(data)

    def close(self) -> None:
        self.closed = True
        self._raw.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False
