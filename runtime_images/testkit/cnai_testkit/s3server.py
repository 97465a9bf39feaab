"""A real S3-compatible endpoint on 127.0.0.1: moto's server app, with a request log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.core.authorization import enable_iam_authentication
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str


class S3Server:
    """Start with :meth:`start`, stop with :meth:`stop`; ``requests`` lists what arrived."""

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            self.requests.append(
                Request(
                    environ["REQUEST_METHOD"],
                    environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""),
                )
            )
        return self._app(environ, start_response)

    def start(self) -> S3Server:
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def gets(self, bucket: str) -> list[str]:
        """Object GETs (not listings) seen since the last :meth:`clear`."""
        prefix = f"/{bucket}/"
        with self._lock:
            return [
                r.path[len(prefix) :]
                for r in self.requests
                if r.method == "GET" and r.path.startswith(prefix)
            ]

    @staticmethod
    @contextmanager
    def iam_enforced() -> Iterator[None]:
        """Require valid IAM credentials (moto accepts any key otherwise)."""
        with enable_iam_authentication():
            yield
