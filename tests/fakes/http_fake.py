"""The parts every fake API server shares: a threaded http.server on 127.0.0.1 (port 0), a
log of requests, bearer-token checks, injected faults and a route table.

A subclass adds routes (``self.route("POST", r"/api/v1/workflows/(?P<namespace>[^/]+)",
handler)``) and says how its API shapes an error body (``error_body``). Handlers get a Request
and return a Reply; an ``ApiError`` raised anywhere becomes that error's reply. Servers are
context managers: ``with ArgoServer() as server: ... server.url``.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route's named groups

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status, self.message, self.body = status, message, body


@dataclass
class Fault:
    """Answer ``status`` to matching requests, ``times`` times (None: always)."""

    method: str
    path: str  # a regular expression matched against the start of the path
    status: int
    message: str
    times: int | None
    headers: dict[str, str]
    body: Any
    delay: float  # seconds to wait before answering, to test timeouts


Handler = Callable[[Request], Reply]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a timeout test) closed the socket: nothing to report


class FakeServer:
    """Base class; see the module docstring."""

    unauthorised_message = "unauthenticated"
    forbidden_message = "forbidden"

    def __init__(self, *, tokens: dict[str, bool] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        # token -> True (may do anything) or False (authenticated but forbidden: 403).
        # None: no authentication, as with a port-forward to an unsecured server.
        self.tokens = tokens
        self.requests: list[Request] = []
        self.rejected: list[str] = []  # bodies the fake refused as invalid (its own checks)
        self.faults: list[Fault] = []
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.lock = threading.RLock()
        self.server = QuietServer(("127.0.0.1", 0), self._handler_class())
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- configuration by tests --------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler))

    def fail(self, method: str, path: str, status: int, message: str = "", *,
             times: int | None = None, headers: dict[str, str] | None = None,
             body: Any = None, delay: float = 0.0) -> None:
        """Inject a failure in front of the API, as a proxy or an overloaded server would."""
        with self.lock:
            self.faults.append(Fault(method, path, status, message or HTTPStatus(status).phrase,
                                     times, headers or {}, body, delay))

    def count(self, method: str, path: str) -> int:
        """Requests received (faults included) whose path matches ``path`` from the start."""
        with self.lock:
            return sum(1 for r in self.requests
                       if r.method == method and re.match(path + r"\Z", r.path))

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    # ---- dispatch ----------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            fault = self._take_fault(request)
        if fault is not None:
            time.sleep(fault.delay)
            body = fault.body if fault.body is not None else self.error_body(fault.status,
                                                                             fault.message)
            return Reply(fault.status, body, fault.headers)
        try:
            self._authorise(request)
            for method, pattern, handler in self.routes:
                match = pattern.match(request.path)
                if match and method == request.method:
                    request.params = match.groupdict()
                    with self.lock:
                        return handler(request)
            raise ApiError(404, f"Not Found: {request.method} {request.path}")
        except ApiError as error:
            body = error.body if error.body is not None else self.error_body(error.status,
                                                                             error.message)
            return Reply(error.status, body)

    def reject(self, status: int, message: str, body: Any = None) -> ApiError:
        """A validation failure of the fake's own checks: recorded, so tests can assert none."""
        with self.lock:
            self.rejected.append(message)
        return ApiError(status, message, body)

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and re.match(fault.path, request.path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                return fault
        return None

    def _authorise(self, request: Request) -> None:
        if self.tokens is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            raise ApiError(401, self.unauthorised_message)
        if not self.tokens[token]:
            raise ApiError(403, self.forbidden_message)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class HandlerClass(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                reply = owner.dispatch(request)
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(
                    reply.body if reply.body is not None else {}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return HandlerClass
