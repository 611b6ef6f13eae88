"""A scripted mock LLM server (OpenAI Chat Completions and Anthropic Messages) on 127.0.0.1.

The real ``openai`` / ``anthropic`` SDK clients talk to it over HTTP, so agentprof's automatic
SDK layer sees genuine responses, streams and usage objects. Each request takes the next
scripted :class:`Reply`; the server advances the shared :class:`VirtualClock` by the reply's
simulated time to first token before the first byte and by its generation time before the
last chunk, so the client's TTFT and duration measurements come out exactly as scripted.

Input tokens are counted from the request as characters / 4 (messages, system prompt and tool
definitions), the way the scenarios size their prompts; output tokens are scripted.
The server listens on an ephemeral port, serves from a daemon thread and stops when its
``with`` block ends.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .clock import VirtualClock

CREATED_S = 1_772_442_000  # 2026-03-02 09:00 UTC: fixed, so bodies are identical between runs


@dataclass
class Reply:
    """One scripted model answer."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    output_tokens: int | None = None
    """Completion tokens; default: characters of text and tool-call arguments / 4."""
    ttft_ms: float = 400.0
    gen_ms: float = 300.0
    """Time from the first to the last chunk (non-streamed: added to ttft_ms)."""
    cached_tokens: int = 0
    """Prompt tokens served from the provider cache (a part of the input)."""
    model: str | None = None
    """Response model; default: the requested model."""

    def completion_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        chars = len(self.text) + sum(len(n) + len(json.dumps(a)) for n, a in self.tool_calls)
        return max(1, math.ceil(chars / 4))


def _content_chars(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    total += len(part["text"])
                elif part.get("type") == "tool_use":
                    total += len(part.get("name", "")) + len(json.dumps(part.get("input", {})))
                elif part.get("type") == "tool_result":
                    total += _content_chars(part.get("content"))
            elif isinstance(part, str):
                total += len(part)
        return total
    return len(json.dumps(content))


def prompt_chars(body: dict[str, Any]) -> int:
    """Characters the model reads: system prompt, messages, tool calls, tool definitions."""
    total = _content_chars(body.get("system"))
    for msg in body.get("messages", []):
        total += _content_chars(msg.get("content"))
        for call in msg.get("tool_calls") or []:
            fn = call.get("function", {})
            total += len(fn.get("name", "")) + len(fn.get("arguments", ""))
    tools = body.get("tools")
    if tools:
        total += sum(len(json.dumps(t, separators=(",", ":"))) for t in tools)
    return total


class MockLLMServer:
    """``with MockLLMServer(clock) as srv: srv.queue(Reply(...)); client(base_url=srv.openai_url)``."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._script: collections.deque[Reply] = collections.deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.sync_timeouts = 0
        """Streams whose first chunk the client never timed: their TTFT would not be deterministic."""
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> MockLLMServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"

    # -------------------------------------------------------------- script
    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def _next(self, body: dict[str, Any], path: str) -> tuple[Reply, int, str]:
        with self._lock:
            if not self._script:
                raise RuntimeError(f"mock LLM: no scripted reply left for {path}")
            reply = self._script.popleft()
            n = next(self._ids)
        return reply, math.ceil(prompt_chars(body) / 4), f"{n:06d}"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client closing its keep-alive socket is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: MockLLMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs

    def log_message(self, *args: Any) -> None:  # keep the generator quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        try:
            reply, prompt_tokens, rid = self.owner._next(body, self.path)
        except RuntimeError as exc:
            self._send_json(500, {"error": {"message": str(exc), "type": "server_error"}})
            return
        if self.path.endswith("/chat/completions"):
            _OpenAI(self, body, reply, prompt_tokens, rid).respond()
        elif self.path.endswith("/messages"):
            _Anthropic(self, body, reply, prompt_tokens, rid).respond()
        else:
            self._send_json(404, {"error": {"message": f"unknown path {self.path}"}})

    # ---------------------------------------------------------------- output
    def _send_json(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_sse(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Responder:
    first_output_events = 1
    """Stream events up to and including the first that carries output (where TTFT is read)."""
    def __init__(self, h: _Handler, body: dict[str, Any], reply: Reply, prompt_tokens: int, rid: str) -> None:
        self.h, self.body, self.reply, self.prompt_tokens, self.rid = h, body, reply, prompt_tokens, rid
        self.clock = h.owner.clock
        self.model = reply.model or body.get("model") or "unknown"
        self.output_tokens = reply.completion_tokens()

    def respond(self) -> None:
        if self.body.get("stream"):
            self.clock.advance_ms(self.reply.ttft_ms)
            self.h._start_sse()
            reads = self.clock.reads
            events = self.events()
            n = self.first_output_events
            self.h._write_chunk("".join(events[:n]))
            # Wait until the client has read the clock on the first output chunk (its TTFT),
            # then move time on by the generation time before the rest of the stream.
            if not self.clock.wait_for_read(reads, timeout_s=2.0):
                self.h.owner.sync_timeouts += 1
            self.clock.advance_ms(self.reply.gen_ms)
            self.h._write_chunk("".join(events[n:]))
            self.h._end_sse()
        else:
            self.clock.advance_ms(self.reply.ttft_ms + self.reply.gen_ms)
            self.h._send_json(200, self.message())

    def events(self) -> list[str]:
        raise NotImplementedError

    def message(self) -> dict[str, Any]:
        raise NotImplementedError


def _halves(text: str) -> tuple[str, str]:
    cut = min(len(text), max(1, len(text) // 8))
    return text[:cut], text[cut:]


class _OpenAI(_Responder):
    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.prompt_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.reply.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }

    def _calls(self) -> list[dict[str, Any]]:
        return [
            {"id": f"call_{self.rid}_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args, sort_keys=True)}}
            for i, (name, args) in enumerate(self.reply.tool_calls)
        ]

    def _finish(self) -> str:
        return "tool_calls" if self.reply.tool_calls else "stop"

    def message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.reply.text or None, "refusal": None}
        if self.reply.tool_calls:
            msg["tool_calls"] = self._calls()
        return {
            "id": f"chatcmpl-mock{self.rid}", "object": "chat.completion", "created": CREATED_S,
            "model": self.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": self._finish()}],
            "usage": self.usage(),
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, usage: Any = None, choices: bool = True) -> str:
        obj: dict[str, Any] = {
            "id": f"chatcmpl-mock{self.rid}", "object": "chat.completion.chunk", "created": CREATED_S,
            "model": self.model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        }
        if usage is not None or not choices:
            obj["usage"] = usage
        return f"data: {json.dumps(obj)}\n\n"

    def events(self) -> list[str]:
        first, rest = _halves(self.reply.text)
        calls = [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(self._calls())]
        if first:
            out = [self._chunk({"role": "assistant", "content": first})]
        else:  # a tool-call-only answer: the first call is the first output
            out = [self._chunk({"role": "assistant", "content": None, **calls.pop(0)})]
        if rest:
            out.append(self._chunk({"content": rest}))
        out.extend(self._chunk(delta) for delta in calls)
        out.append(self._chunk({}, finish=self._finish()))
        if (self.body.get("stream_options") or {}).get("include_usage"):
            out.append(self._chunk({}, usage=self.usage(), choices=False))
        out.append("data: [DONE]\n\n")
        return out


class _Anthropic(_Responder):
    first_output_events = 3  # message_start, content_block_start, first content_block_delta

    def usage(self) -> dict[str, Any]:
        cached = self.reply.cached_tokens
        return {"input_tokens": self.prompt_tokens - cached, "output_tokens": self.output_tokens,
                "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}

    def _blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.reply.text:
            blocks.append({"type": "text", "text": self.reply.text})
        for i, (name, args) in enumerate(self.reply.tool_calls):
            blocks.append({"type": "tool_use", "id": f"toolu_{self.rid}_{i}", "name": name, "input": args})
        return blocks

    def _stop(self) -> str:
        return "tool_use" if self.reply.tool_calls else "end_turn"

    def message(self) -> dict[str, Any]:
        return {"id": f"msg_mock{self.rid}", "type": "message", "role": "assistant", "model": self.model,
                "content": self._blocks(), "stop_reason": self._stop(), "stop_sequence": None, "usage": self.usage()}

    def events(self) -> list[str]:
        def ev(name: str, obj: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **obj})}\n\n"

        start = self.message() | {"content": [], "stop_reason": None, "usage": self.usage() | {"output_tokens": 1}}
        out = [ev("message_start", {"message": start})]
        for i, block in enumerate(self._blocks()):
            if block["type"] == "text":
                out.append(ev("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}}))
                out.append(ev("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                out.append(ev("content_block_start", {"index": i, "content_block": block | {"input": {}}}))
                out.append(ev("content_block_delta", {"index": i, "delta": {
                    "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
            out.append(ev("content_block_stop", {"index": i}))
        out.append(ev("message_delta", {"delta": {"stop_reason": self._stop(), "stop_sequence": None},
                                        "usage": {"output_tokens": self.output_tokens}}))
        out.append(ev("message_stop", {}))
        return out
