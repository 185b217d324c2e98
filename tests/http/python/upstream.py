"""A real HTTP server on a free loopback port, for the HTTP helper tests: each test gives it
routes (functions of the request) and reads how many requests each path received."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import urlsplit


@dataclass
class Req:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names


Answer = tuple[int, dict[str, str], bytes]


class Upstream:
    """``with Upstream() as up: up.route("/x", lambda req: (200, {}, b"hi"))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Req], Answer]] = {}
        self.calls: Counter[str] = Counter()
        self.seen: list[Req] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            # One request per connection: a stopped server then really stops answering.
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                req = Req(self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()})
                with upstream._lock:
                    upstream.calls[parts.path] += 1
                    upstream.seen.append(req)
                route = upstream.routes.get(parts.path)
                status, headers, body = route(req) if route else (404, {}, b"no route")
                self.send_response_only(status)
                if not any(k.lower() == "date" for k in headers):
                    self.send_header("Date", self.date_time_string())
                for k, v in headers.items():
                    self.send_header(k, v)
                if status not in (204, 304):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and status not in (204, 304):
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        # 100 clients may connect at once: more than the default backlog of 5.
        self.server.request_queue_size = 256
        self.server.server_bind()
        self.server.server_activate()
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, answer: Callable[[Req], Answer]) -> None:
        self.routes[path] = answer

    def last(self, path: str) -> Optional[Req]:
        return next((r for r in reversed(self.seen) if r.path == path), None)

    def __enter__(self) -> "Upstream":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def slow(seconds: float, answer: Answer) -> Callable[[Req], Answer]:
    def route(_req: Req) -> Answer:
        time.sleep(seconds)
        return answer

    return route
