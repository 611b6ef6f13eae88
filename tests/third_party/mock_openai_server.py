"""A tiny, deterministic OpenAI-compatible chat server for generating trace fixtures.

Serves ``POST /v1/chat/completions`` on 127.0.0.1 (ephemeral port) from a thread, as JSON or
as SSE when ``stream`` is set (with a final usage chunk when ``stream_options.include_usage``
is true). The answer depends only on the request, so every instrumentation sees the same
conversation whatever it sends:

* a user message containing ``TRIGGER_429``      -> HTTP 429 rate-limit error body;
* the last message has role ``tool``             -> final text answer (``finish_reason=stop``);
* the request offers ``tools``                   -> a ``get_weather({"city": "Paris"})`` tool call;
* otherwise                                      -> a short text answer.

Each response kind carries its own usage numbers, all different, so a wrong sum (a call
missed, counted twice, cache tokens added on top of input) cannot come out right by
accident. Every served response is recorded in ``server.served`` so the fixture generator
writes what was actually returned into ``expected.json`` rather than hand-typed numbers.
Only the standard library is used: the generator also runs this module in an old,
throwaway virtual environment.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED_S = 1_700_000_000
"""Fixed ``created`` timestamp, so response bodies are byte-identical between runs."""

WEATHER_ARGS_JSON = '{"city": "Paris"}'
FINAL_TEXT = "It is sunny in Paris, 21 C."
PLAIN_TEXT = "Hello from the mock model."

# prompt_tokens (inclusive of cached), completion_tokens (inclusive of reasoning), cached, reasoning
USAGE_BY_KIND: dict[str, tuple[int, int, int, int]] = {
    "tool_call": (50, 12, 32, 4),
    "final": (80, 8, 48, 0),
    "text": (30, 6, 16, 2),
}


def response_model_for(request_model: str) -> str:
    """The dated snapshot name the mock answers with (real APIs answer with one too)."""
    return f"{request_model}-2024-07-18"


def _usage_body(kind: str) -> dict[str, Any]:
    prompt, completion, cached, reasoning = USAGE_BY_KIND[kind]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def classify(request: dict[str, Any]) -> str:
    """Which response kind this request gets: error, final, tool_call or text."""
    messages = request.get("messages") or []
    if any(m.get("role") == "user" and "TRIGGER_429" in _message_text(m) for m in messages):
        return "error"
    if messages and messages[-1].get("role") == "tool":
        return "final"
    if request.get("tools"):
        return "tool_call"
    return "text"


class MockOpenAIServer:
    """Context manager: ``with MockOpenAIServer() as srv: OpenAI(base_url=srv.base_url)``.

    The server thread is a daemon and is shut down on exit; a safety timer also stops it
    after ``max_lifetime_s`` so a crashed generator never leaves it listening.
    """

    def __init__(self, max_lifetime_s: float = 300.0) -> None:
        self.served: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._max_lifetime_s = max_lifetime_s
        self._httpd: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> MockOpenAIServer:
        server = self

        class Handler(_Handler):
            mock = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self._timer = threading.Timer(self._max_lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._httpd is not None:
            httpd, self._httpd = self._httpd, None
            httpd.shutdown()
            httpd.server_close()

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            entry["index"] = len(self.served)
            self.served.append(entry)
            return entry


class _Handler(BaseHTTPRequestHandler):
    mock: MockOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        kind = classify(request)
        model = str(request.get("model") or "unknown")
        messages = request.get("messages") or []
        sizes = {  # characters of the prompt parts the server received, for prompt-size checks
            "system_chars": sum(len(_message_text(m)) for m in messages if m.get("role") in ("system", "developer")),
            "tool_output_chars": sum(len(_message_text(m)) for m in messages if m.get("role") == "tool"),
        }
        stream = bool(request.get("stream"))
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        if kind == "error":
            self.mock.record({"kind": "error", "status": 429, "stream": stream, "request_model": model,
                              "response_model": None, "id": None, "finish_reason": None, "usage": None, **sizes})
            self._send_json(429, {"error": {"message": f"Rate limit reached for {model} (mock).",
                                            "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
                            extra_headers={"retry-after": "0"})
            return
        entry = self.mock.record({"kind": kind, "status": 200, "stream": stream, "request_model": model,
                                  "response_model": response_model_for(model), **sizes})
        entry["id"] = f"chatcmpl-mock{entry['index']:03d}"
        entry["finish_reason"] = "tool_calls" if kind == "tool_call" else "stop"
        usage = _usage_body(kind)
        entry["usage"] = usage if (not stream or include_usage) else None
        if kind == "tool_call":
            entry["tool_call"] = {"id": f"call_weather_{entry['index']:03d}", "name": "get_weather",
                                  "arguments": WEATHER_ARGS_JSON}
        if stream:
            self._send_stream(entry, usage if include_usage else None)
        else:
            self._send_json(200, self._completion(entry, usage))

    # -- bodies -----------------------------------------------------------------------------

    @staticmethod
    def _completion(entry: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
        if entry["kind"] == "tool_call":
            tc = entry["tool_call"]
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
                {"id": tc["id"], "type": "function", "function": {"name": tc["name"], "arguments": tc["arguments"]}}]}
        else:
            message = {"role": "assistant", "content": FINAL_TEXT if entry["kind"] == "final" else PLAIN_TEXT,
                       "refusal": None}
        return {
            "id": entry["id"], "object": "chat.completion", "created": CREATED_S, "model": entry["response_model"],
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": entry["finish_reason"]}],
            "usage": usage,
        }

    def _send_stream(self, entry: dict[str, Any], usage: dict[str, Any] | None) -> None:
        base = {"id": entry["id"], "object": "chat.completion.chunk", "created": CREATED_S,
                "model": entry["response_model"], "system_fingerprint": "fp_mock"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            c = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
            if usage is not None:
                c["usage"] = None  # OpenAI sends usage: null on every chunk but the last
            return c

        chunks: list[dict[str, Any]] = []
        if entry["kind"] == "tool_call":
            tc = entry["tool_call"]
            chunks.append(chunk({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": tc["id"], "type": "function", "function": {"name": tc["name"], "arguments": ""}}]}))
            half = len(tc["arguments"]) // 2
            for piece in (tc["arguments"][:half], tc["arguments"][half:]):
                chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            text = FINAL_TEXT if entry["kind"] == "final" else PLAIN_TEXT
            chunks.append(chunk({"role": "assistant", "content": ""}))
            for word in text.split(" "):
                chunks.append(chunk({"content": word + " "}))
        chunks.append(chunk({}, entry["finish_reason"]))
        if usage is not None:
            chunks.append(dict(base, choices=[], usage=usage))
        payload = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
