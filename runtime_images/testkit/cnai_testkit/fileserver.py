"""A small HTTP file server on 127.0.0.1 serving in-memory files, with a request log."""

from __future__ import annotations

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from cnai_testkit import QuietServer


class FileServer:
    """``files`` maps a URL path (``/data/x.bin``) to bytes; ``status`` forces an answer."""

    def __init__(self, send_md5: bool = True) -> None:
        self.files: dict[str, bytes] = {}
        self.status: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []
        self.send_md5 = send_md5
        self.lie_md5: set[str] = set()  # paths whose Content-MD5 is deliberately wrong
        self.unsized: set[str] = set()  # paths sent chunked, with no Content-Length
        self._lock = threading.Lock()
        self._server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, with_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                with owner._lock:
                    owner.requests.append((self.command, path))
                forced = owner.status.get(path)
                body = owner.files.get(path)
                if forced is not None or body is None:
                    code = forced or 404
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("ETag", '"' + hashlib.sha1(body).hexdigest() + '"')
                if path in owner.unsized:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if with_body:  # a HEAD answer has no body, not even the last chunk
                        for start in range(0, len(body), 65536):
                            part = body[start : start + 65536]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                if owner.send_md5:
                    digest = hashlib.md5(body + (b"x" if path in owner.lie_md5 else b""))
                    self.send_header("Content-MD5", base64.b64encode(digest.digest()).decode())
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

        return Handler

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def gets(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == "GET" and (path is None or p == path))
