"""A stand-in for the GitHub REST API on 127.0.0.1: serves scripted answers by path and
records every request, so tests run the real httpx code path without the network."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class GitHubStandIn:
    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.requests: list[Seen] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin.requests.append(Seen(self.path, dict(self.headers.items())))
                answer = standin.routes.get(self.path, Answer(404, {"message": "Not Found"}))
                data = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def issue(self, owner: str, name: str, number: int, *, title: str = "", body: str | None = "",
              pull_request: bool = False) -> None:
        data: dict[str, Any] = {
            "number": number, "title": title, "body": body, "state": "open",
            "html_url": f"https://github.com/{owner}/{name}/issues/{number}",
        }
        if pull_request:
            data["pull_request"] = {"url": f"https://api.github.com/repos/{owner}/{name}/pulls/1"}
        self.routes[f"/repos/{owner}/{name}/issues/{number}"] = Answer(200, data)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
