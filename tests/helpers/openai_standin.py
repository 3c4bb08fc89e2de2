"""A scripted OpenAI-compatible HTTP server for tests and benchmarks.

The real `openai` SDK talks to it over loopback HTTP, so tests exercise the same code path
as production (serialisation, status codes, headers, retries) without patching anything.
Replies are consumed from a script in order; when the script is empty the `default` reply
is served. Every request body is recorded.

    with OpenAIStandIn() as server:
        server.script(Reply.text("hello"), Reply.error(429, retry_after=0.2))
        ... AsyncOpenAI(base_url=server.base_url, api_key="sk-test") ...
        server.requests[0].body["messages"]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. Build with the classmethods rather than by hand."""

    status: int = 200
    content: str | None = "ok"
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"
    prompt_tokens: int | None = None  # None: derived from the request's size
    completion_tokens: int | None = None  # None: derived from the content's size
    cached_tokens: int = 0
    logprobs: list[dict[str, Any]] | None = None
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw_body: bytes | None = None  # sent verbatim (malformed bodies)
    drop: bool = False  # close the connection without answering

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls(content=content, **kw)

    @classmethod
    def tool_call(cls, name: str, args: dict[str, Any] | str, *, call_id: str = "call_1",
                  content: str | None = None, **kw: Any) -> Reply:
        arguments = args if isinstance(args, str) else json.dumps(args)
        call = {"id": call_id, "type": "function",
                "function": {"name": name, "arguments": arguments}}
        return cls(content=content, tool_calls=[call], finish_reason="tool_calls", **kw)

    @classmethod
    def yes_no(cls, p_yes: float, p_no: float, *, first: str | None = None,
               others: dict[str, float] | None = None, **kw: Any) -> Reply:
        """A one-token reply whose top_logprobs give P(YES)=p_yes and P(NO)=p_no."""
        import math

        alts = {"YES": p_yes, "NO": p_no, **(others or {})}
        top = [{"token": t, "logprob": math.log(p), "bytes": list(t.encode())}
               for t, p in sorted(alts.items(), key=lambda kv: -kv[1]) if p > 0]
        token = first or top[0]["token"]
        entry = {"token": token, "logprob": next(e["logprob"] for e in top if e["token"] == token),
                 "bytes": list(token.encode()), "top_logprobs": top}
        return cls(content=token, logprobs=[entry], completion_tokens=1, finish_reason="length",
                   **kw)

    @classmethod
    def error(cls, status: int, message: str = "error", *, code: str | None = None,
                    retry_after: float | None = None, err_type: str = "server_error") -> Reply:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        err = {"message": message, "type": err_type, "param": None, "code": code}
        return cls(status=status, error_body={"error": err}, headers=headers, content=None)

    @classmethod
    def malformed(cls, body: bytes = b'{"id": "x", "choices": [ {"broken') -> Reply:
        return cls(raw_body=body, content=None)

    @classmethod
    def dropped(cls) -> Reply:
        return cls(drop=True, content=None)


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


class OpenAIStandIn:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self, *, api_key: str | None = None, model: str = "standin-model") -> None:
        self.required_key = api_key  # when set, other keys get a 401 like the real API
        self.model = model
        self.default = Reply.text("ok")
        # When set, answers each request from its body (order-free tests of concurrency).
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque()
        self._by_model: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def script_for(self, model: str, *replies: Reply) -> None:
        """Replies for requests naming `model` only: parallel callers using different
        model names each get their own deterministic sequence."""
        with self._lock:
            self._by_model.setdefault(model, deque()).extend(replies)

    def _next(self, model: str | None = None) -> Reply:
        with self._lock:
            queue = self._by_model.get(model or "")
            if queue is not None:
                return queue.popleft() if queue else self.default
            return self._script.popleft() if self._script else self.default

    @property
    def pending(self) -> int:
        """Scripted replies not yet served, the per-model queues included."""
        with self._lock:
            return len(self._script) + sum(len(q) for q in self._by_model.values())

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIStandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is part of the tests, not an error
        worth a traceback; anything else is still reported."""
        if not isinstance(sys.exc_info()[1], OSError):  # reset, broken pipe, not connected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIStandIn
    protocol_version = "HTTP/1.1"  # keep-alive, like real API front ends
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            body = {"object": "list", "data": [
                {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "standin"}]}
            self._send(200, json.dumps(body).encode(), {})
        else:
            self._send(404, b'{"error": {"message": "not found"}}', {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {"_unparsed": raw.decode(errors="replace")}
        owner = self.owner
        with owner._lock:
            headers = {k.lower(): v for k, v in self.headers.items()}
            owner.requests.append(Received(self.path, body, headers, time.monotonic()))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "unknown path"}}', {})
            return
        if owner.required_key is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {owner.required_key}":
                err = {"error": {"message": "Incorrect API key provided.",
                                 "type": "invalid_request_error", "code": "invalid_api_key"}}
                self._send(401, json.dumps(err).encode(), {})
                return
        reply = owner.responder(body) if owner.responder else owner._next(body.get("model"))
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(2)  # the client sees a dropped connection
            return
        if reply.raw_body is not None:
            self._send(reply.status, reply.raw_body, reply.headers)
        elif reply.error_body is not None:
            self._send(reply.status, json.dumps(reply.error_body).encode(), reply.headers)
        else:
            self._send(reply.status, json.dumps(_completion(body, reply, owner.model)).encode(),
                       reply.headers)

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)


def _completion(request: dict[str, Any], reply: Reply, model: str) -> dict[str, Any]:
    prompt = reply.prompt_tokens
    if prompt is None:  # a plausible count: about 4 bytes a token
        prompt = max(1, len(json.dumps(request.get("messages", []))) // 4)
    completion = reply.completion_tokens
    if completion is None:
        text = (reply.content or "") + json.dumps(reply.tool_calls or "")
        completion = max(1, len(text) // 4)
    # Like a real server, never exceed the requested output budget.
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    finish = reply.finish_reason
    if limit is not None and completion > limit:
        completion, finish = int(limit), "length"
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish,
                              "logprobs": None}
    if reply.logprobs is not None:
        choice["logprobs"] = {"content": reply.logprobs, "refusal": None}
    return {
        "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
        "model": request.get("model", model), "choices": [choice],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": reply.cached_tokens}},
    }
