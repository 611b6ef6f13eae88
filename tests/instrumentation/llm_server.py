"""A local stand-in for the OpenAI and Anthropic HTTP APIs (127.0.0.1, ephemeral port).

Answers with realistic JSON bodies and SSE streams carrying usage and cached-token counts,
so the real SDK clients can be tested offline. ``model="bad"`` answers 400 (OpenAI-style or
Anthropic-style error body). OpenAI chat streams send the usage-only chunk (and
``"usage": null`` on every other chunk) only when the request asked for
``stream_options.include_usage``, as the real API does. The server shuts itself down after
``lifetime_s`` seconds even if nobody stops it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The numbers tests assert on.
CHAT_USAGE = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150,
              "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0}}
CHAT_STREAM_PIECES = ["Hel", "lo", " world"]
RESPONSES_USAGE = {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40},
                   "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 120}
ANTHROPIC_USAGE = {"input_tokens": 20, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 30,
                   "output_tokens": 15}
ANTHROPIC_INCLUSIVE_INPUT = 150


def _chat_completion(model: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": f"{model}-2024-08-06",
            "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello world", "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": CHAT_USAGE}


def _chat_chunks(model: str, include_usage: bool) -> list[dict]:
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000,
            "model": f"{model}-2024-08-06", "system_fingerprint": "fp_1"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    for piece in CHAT_STREAM_PIECES:
        chunks.append({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        for c in chunks:
            c["usage"] = None
        chunks.append({**base, "choices": [], "usage": CHAT_USAGE})
    return chunks


def _response(model: str) -> dict:
    return {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed",
            "model": f"{model}-2025-04-14", "output": [
                {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hi there", "annotations": []}]}],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": RESPONSES_USAGE}


def _response_events(model: str) -> list[tuple[str, dict]]:
    done = _response(model)
    created = {**done, "status": "in_progress", "output": [], "usage": None}
    return [
        ("response.created", {"type": "response.created", "sequence_number": 0, "response": created}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
                                        "output_index": 0, "content_index": 0, "delta": "Hi", "logprobs": []}),
        ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 2, "item_id": "msg_1",
                                        "output_index": 0, "content_index": 0, "delta": " there", "logprobs": []}),
        ("response.completed", {"type": "response.completed", "sequence_number": 3, "response": done}),
    ]


def _message(model: str) -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello from Claude"}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": ANTHROPIC_USAGE}


def _message_events(model: str) -> list[tuple[str, dict]]:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    msg = {**_message(model), "content": [], "stop_reason": None, "usage": start_usage}
    return [
        ("message_start", {"type": "message_start", "message": msg}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " from Claude"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict]], done: bool) -> None:
        parts = []
        for name, data in events:
            prefix = f"event: {name}\n" if name else ""
            parts.append(f"{prefix}data: {json.dumps(data)}\n\n")
        if done:
            parts.append("data: [DONE]\n\n")
        payload = "".join(parts).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))  # type: ignore[attr-defined]
        model = body.get("model", "m")
        stream = bool(body.get("stream"))
        if self.path.endswith("/chat/completions"):
            if model == "bad":
                return self._json(400, {"error": {"message": "Unknown model: bad", "type": "invalid_request_error",
                                                  "param": "model", "code": "model_not_found"}})
            if stream:
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                return self._sse([(None, c) for c in _chat_chunks(model, include)], done=True)
            return self._json(200, _chat_completion(model))
        if self.path.endswith("/responses"):
            if stream:
                return self._sse(list(_response_events(model)), done=False)
            return self._json(200, _response(model))
        if self.path.endswith("/messages"):
            if model == "bad":
                return self._json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                   "message": "model: bad is not a model"}})
            if stream:
                return self._sse(list(_message_events(model)), done=False)
            return self._json(200, _message(model))
        self._json(404, {"error": {"message": "not found"}})


class LlmServer:
    """``with LlmServer() as srv:`` → ``srv.openai_url``, ``srv.anthropic_url``, ``srv.requests``."""

    def __init__(self, lifetime_s: float = 300.0) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.requests = []  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list:
        return self._httpd.requests  # type: ignore[attr-defined]

    def start(self) -> LlmServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
