"""An Ollama test double: a real HTTP server on 127.0.0.1 speaking Ollama's API.

It serves ``POST /api/chat`` (NDJSON streaming, tool calls, ``prompt_eval_count``),
``POST /api/show`` and ``GET /api/tags``, so the real ``ChatOllama`` client path runs end to
end. Answers come from a script (a list of :class:`Answer`) or, when it runs out, from a
``responder`` function of the request. Every request body is recorded.

Faults for reliability tests are scripted per answer: an HTTP error status, a hang before the
answer (``delay``, longer than the client's timeout), or a connection closed after the first
streamed chunks (``drop_after_chunks``).

Run standalone (for a ``langgraph dev`` server in another process)::

    python tests/support/ollama_double.py --port 11555 --model qwen3:4b
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langgraph_memgpt.graph.prompts import MEMORY_NOTE_INTRO, RETRIEVED_INTRO


class RawJSON(str):
    """Tool-call arguments sent as this exact JSON text (e.g. nested deeper than json.dumps
    can encode), not as a JSON string."""


@dataclass
class Answer:
    """One scripted reply of the model."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """``{"name": ..., "arguments": {...}}``; arguments may be a raw (even broken) string."""
    prompt_eval_count: int | None = None
    """Reported prompt tokens; None means a rough count of the request."""
    status: int = 200
    """A non-200 status answers with an Ollama-style error body instead."""
    error: str = ""
    """The error text of a non-200 answer (default "scripted failure <status>")."""
    delay: float = 0.0
    """Seconds to wait before answering (a hang, when longer than the client's timeout)."""
    drop_after_chunks: int | None = None
    """Close the socket after this many NDJSON chunks, without ending the chunked body."""


# What a real Ollama server answers to POST /api/show (the ollama client requires model_info).
SHOW_BODY: dict[str, Any] = {
    "modified_at": "2026-01-01T00:00:00Z",
    "license": "",
    "modelfile": "",
    "parameters": "",
    "template": "{{ .Prompt }}",
    "details": {"format": "gguf", "family": "double", "parameter_size": "4B"},
    "model_info": {"general.architecture": "double", "double.context_length": 40960},
    "capabilities": ["completion", "tools"],
}


def send_message(text: str) -> Answer:
    return Answer(tool_calls=[{"name": "send_message", "arguments": {"message": text}}])


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The user turns of a recorded request, without the agent's memory note (which the cached
    prompt layout sends as the first user message) or its retrieved-memory note (automatic
    retrieval, on for Ollama models, sends it before the user message)."""
    return [
        m["content"]
        for m in messages
        if m.get("role") == "user"
        and not str(m.get("content", "")).startswith((MEMORY_NOTE_INTRO, RETRIEVED_INTRO))
    ]


def memory_text(messages: list[dict[str, Any]]) -> str:
    """All a recorded request shows of memory: the system message, the memory note (cached
    prompt layout), the tool results, where that layout shows a block edited since, and the
    retrieved-memory note."""
    shown = [
        str(m.get("content", ""))
        for m in messages
        if m.get("role") in ("system", "tool")
        or str(m.get("content", "")).startswith((MEMORY_NOTE_INTRO, RETRIEVED_INTRO))
    ]
    return "\n\n".join(shown)


def echo_responder(request: dict[str, Any]) -> Answer:
    """Default: answer the last user message through send_message."""
    users = user_texts(request.get("messages", []))
    last = users[-1] if users else ""
    return send_message(f"You said: {last}")


class OllamaDouble:
    def __init__(
        self,
        models: tuple[str, ...] = ("qwen3:4b",),
        script: list[Answer] | None = None,
        responder: Callable[[dict[str, Any]], Answer] = echo_responder,
        host: str = "127.0.0.1",
        port: int = 0,
        show_body: dict[str, Any] | None = None,
    ) -> None:
        self.models = models
        self.show_body = SHOW_BODY if show_body is None else show_body
        self.script = list(script or [])
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # wakes hanging answers when the double stops
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        report = self._server.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            # A client that gave up mid-answer (a fault test) is not news.
            if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
                report(request, client_address)

        self._server.handle_error = handle_error  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> OllamaDouble:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OllamaDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("_path") == "/api/chat"]

    def _next_answer(self, request: dict[str, Any]) -> Answer:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        return self.responder(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    models = [{"name": m, "model": m} for m in double.models]
                    self._json(200, {"models": models})
                elif self.path in ("/", "/api/version"):
                    self._json(200, {"version": "0.0.0-double"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                body["_path"] = self.path
                with double._lock:
                    double.requests.append(body)
                if self.path == "/api/show":
                    if body.get("model") in double.models:
                        self._json(200, double.show_body)
                    else:
                        self._json(404, {"error": f"model '{body.get('model')}' not found"})
                elif self.path == "/api/chat":
                    self._chat(body)
                else:
                    self._json(404, {"error": "not found"})

            def _chat(self, body: dict[str, Any]) -> None:
                if body.get("model") not in double.models:
                    self._json(404, {"error": f"model '{body.get('model')}' not found"})
                    return
                answer = double._next_answer(body)
                if answer.delay:
                    double._stopping.wait(answer.delay)
                if answer.status != 200:
                    text = answer.error or f"scripted failure {answer.status}"
                    self._json(answer.status, {"error": text})
                    return
                prompt_tokens = answer.prompt_eval_count
                if prompt_tokens is None:
                    prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
                chunks = _stream_chunks(body["model"], answer, prompt_tokens)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for index, chunk in enumerate(chunks):
                    if answer.drop_after_chunks is not None and index >= answer.drop_after_chunks:
                        self._drop()
                        return
                    data = (_encode(chunk) + "\n").encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            def _drop(self) -> None:
                """Die mid-answer like a crashed server: no terminating chunk, socket closed."""
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        return Handler


def _encode(chunk: dict[str, Any]) -> str:
    """One NDJSON line; RawJSON arguments are spliced in as they are."""
    raws: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, RawJSON):
            raws.append(str(value))
            return f"__raw_json_{len(raws) - 1}__"
        return value

    for call in (chunk.get("message") or {}).get("tool_calls") or []:
        call["function"]["arguments"] = placeholder(call["function"]["arguments"])
    line = json.dumps(chunk)
    for index, raw in enumerate(raws):
        line = line.replace(f'"__raw_json_{index}__"', raw, 1)
    return line


def _stream_chunks(model: str, answer: Answer, prompt_tokens: int) -> list[dict[str, Any]]:
    now = "2026-01-01T00:00:00Z"
    chunks: list[dict[str, Any]] = []
    words = answer.content.split(" ") if answer.content else []
    for index, word in enumerate(words):
        piece = word if index == len(words) - 1 else word + " "
        chunks.append(
            {
                "model": model,
                "created_at": now,
                "message": {"role": "assistant", "content": piece},
                "done": False,
            }
        )
    if answer.tool_calls:
        calls = [
            {"function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in answer.tool_calls
        ]
        chunks.append(
            {
                "model": model,
                "created_at": now,
                "message": {"role": "assistant", "content": "", "tool_calls": calls},
                "done": False,
            }
        )
    chunks.append(
        {
            "model": model,
            "created_at": now,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1,
            "load_duration": 1,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 1,
            "eval_count": max(1, len(words)),
            "eval_duration": 1,
        }
    )
    return chunks


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--port", type=int, default=11434)
    args.add_argument("--model", action="append", default=None)
    options = args.parse_args()
    double = OllamaDouble(models=tuple(options.model or ["qwen3:4b"]), port=options.port)
    print(f"Ollama double on {double.url}", flush=True)
    double._server.serve_forever()


if __name__ == "__main__":
    main()
