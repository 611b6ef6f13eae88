"""Tell a trace file's format from its content (never from its name).

gzip magic → look inside; ``{`` first → OTLP JSON (one document, or JSON lines when a complete
document is followed by more on the next lines) or the OTel SDK console format; otherwise OTLP
protobuf, raw or with the Collector's 4-byte length prefixes. Anything else is reported as
"not a trace file", naming what we do read.
"""

from __future__ import annotations

import io
import zlib
from typing import IO

import orjson

HEAD_BYTES = 256 * 1024

OTLP_JSON = "otlp-json"
OTLP_JSONL = "otlp-jsonl"
OTLP_PROTO = "otlp-proto"
OTLP_PROTO_LP = "otlp-proto-lp"
CONSOLE = "otel-console"
EMPTY = "empty"

READS = (
    "OTLP JSON (one document or JSON lines, as the Collector file exporter writes), OTLP protobuf "
    "(an ExportTraceServiceRequest, or length-prefixed records), the OTel SDK console exporter's "
    "JSON, and gzip of any of these"
)


class NotATraceFile(Exception):
    """The content is none of the formats in ``READS``; the message says what it looks like."""


def is_gzip(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_content(path: str) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip."""
    f = open(path, "rb", buffering=1 << 20)
    return io.BufferedReader(Gunzip(f), 1 << 20) if is_gzip(path) else f


class Gunzip(io.RawIOBase):
    """gzip decompression that keeps every byte before a break.

    ``gzip.GzipFile`` raises EOFError on a cut file and loses the buffered tail; this reader
    returns all the data it could decompress, then sets ``truncated`` and ends. Handles
    concatenated gzip members.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.z = zlib.decompressobj(31)
        self.pending = b""
        self.truncated = False
        self.done = False
        self.pos = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.raw.close()
        super().close()

    def tell_raw(self) -> int:
        return self.raw.tell()

    def readinto(self, b) -> int:
        while not self.pending and not self.done:
            chunk = self.raw.read(1 << 18)
            if not chunk:
                self.pending = self.z.flush()
                if not self.z.eof:
                    self.truncated = True
                self.done = True
                break
            try:
                self.pending = self.z.decompress(chunk)
            except zlib.error:
                self.truncated = True
                self.done = True
                break
            while self.z.eof and self.z.unused_data:  # next gzip member
                rest = self.z.unused_data
                self.z = zlib.decompressobj(31)
                self.pending += self.z.decompress(rest)
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        self.pos += n
        return n


def sniff(head: bytes) -> str:
    """Format of a file from its first ``HEAD_BYTES`` (decompressed). Raises NotATraceFile."""
    # Protobuf first: a request starts with 0x0A (a newline), and the length after it may be
    # any byte, "{" (123) among them, which would read as JSON after the newline.
    if head[:1] == b"\n" and _looks_like_proto(head):
        return OTLP_PROTO
    text = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if not text:
        return EMPTY
    first = text[:1]
    if first == b"{":
        if b'"resourceSpans"' in head or b'"resource_spans"' in head:
            return _json_form(text)
        if b'"context"' in head and b'"trace_id"' in head:
            return CONSOLE
        raise NotATraceFile("it is JSON, but not OTLP (no \"resourceSpans\" near the start)")
    if first == b"[":
        if b'"context"' in head and b'"trace_id"' in head:
            return CONSOLE
        raise NotATraceFile("it is a JSON array, not an OTLP object")
    if _looks_like_proto(head):
        return OTLP_PROTO
    if len(head) >= 5 and head[4] == 0x0A and _looks_like_proto(head[4 : 4 + int.from_bytes(head[:4], "big")]):
        return OTLP_PROTO_LP
    raise NotATraceFile(f"it looks like {_describe(head)}")


def json_form_long_line(f: IO[bytes], head: bytes, limit: int = 256 << 20) -> str:
    """JSON lines or one document, when the first line is longer than the sniffed head.

    Reads on to the first newline (at most ``limit`` bytes); lines of ~1 MB are normal in
    Collector output. A first line ending in ``}`` followed by a line starting with ``{`` →
    JSON lines: one document cannot hold that (JSON needs a comma between the two), and
    parsing a first line of hundreds of MB only to tell cost seconds and ten times its size
    in memory. The readers check every line anyway.
    """
    size, last = len(head), head.rstrip()[-1:]
    while size < limit:
        chunk = f.read(1 << 20)
        if not chunk:
            return OTLP_JSON
        nl = chunk.find(b"\n")
        if nl >= 0:
            last = chunk[:nl].rstrip()[-1:] or last
            rest = (chunk[nl + 1 :] + f.read(64)).lstrip()
            break
        last = chunk.rstrip()[-1:] or last
        size += len(chunk)
    else:
        return OTLP_JSON
    return OTLP_JSONL if last == b"}" and rest.startswith(b"{") else OTLP_JSON


def _json_form(text: bytes) -> str:
    nl = text.find(b"\n")
    if nl < 0:
        return OTLP_JSON  # one line (maybe huge): streamed as a document; extra documents are read too
    try:
        doc = orjson.loads(text[:nl])
    except orjson.JSONDecodeError:
        return OTLP_JSON  # a pretty-printed document
    return OTLP_JSONL if isinstance(doc, dict) else OTLP_JSON


def _looks_like_proto(data: bytes) -> bool:
    """True when ``data`` starts with a ``resource_spans`` field that parses as ResourceSpans."""
    if len(data) < 2 or data[0] != 0x0A:
        return False
    n = shift = 0
    i = 1
    while i < len(data) and i < 11:
        b = data[i]
        n |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            break
        shift += 7
    else:
        return False
    body = data[i : i + n]
    if n > len(body):  # the first ResourceSpans is longer than the head: parse what we have loosely
        return len(body) > 2 and body[0] in (0x0A, 0x12)  # resource (1) or scope_spans (2)
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

    try:
        rs = ResourceSpans.FromString(body)
    except DecodeError:
        return False
    return bool(rs.scope_spans) or bool(rs.resource.attributes)


def _describe(head: bytes) -> str:
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd-compressed data (decompress it first: zstd -d FILE)"
    if head.startswith(b"DUCK") or head[8:12] == b"DUCK":
        return "a DuckDB database (pass it with --db instead)"
    try:
        sample = head[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "binary data"
    first_line = sample.splitlines()[0] if sample.splitlines() else ""
    if "," in first_line and not first_line.lstrip().startswith(("{", "[")):
        return "CSV or other text"
    return "text"
