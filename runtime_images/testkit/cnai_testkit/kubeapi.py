"""A minimal Kubernetes API stand-in on 127.0.0.1 for launcher and deploy tests.

Implements, for namespaced core (``/api/v1``) and group (``/apis/<g>/<v>``) paths:
create (POST), get, list, watch (``?watch=1``: chunked JSON lines), replace (PUT),
merge patch (PATCH), delete. Objects live in memory. Tests change status through
:meth:`KubeAPI.set_status` and react to requests through ``reactors``.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cnai_testkit import QuietServer

_ROUTE = re.compile(
    r"^/(?P<api>api/v1|apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
    r"(?:/(?P<name>[^/]+))?$"
)

Query = dict[str, str]
Reactor = Callable[["KubeAPI", str, dict[str, Any]], None]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class Event:
    rv: int
    collection: str
    type: str
    obj: dict[str, Any]


@dataclass
class KubeAPI:
    token: str = "test-token"
    watch_enabled: bool = True
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    gets: dict[str, int] = field(default_factory=dict)
    reactors: list[Reactor] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # plurals answered 404 (CRD not installed)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rv = 100
        self._closing = False
        self._server = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timers: list[threading.Timer] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> KubeAPI:
        self._thread.start()
        return self

    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` once, ``delay`` seconds from now (cancelled by :meth:`stop`)."""
        timer = threading.Timer(delay, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        with self._lock:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def kubeconfig(self, path: Path, namespace: str = "team-a", token: str | None = None) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": "standin",
                    "context": {"cluster": "standin", "user": "tester", "namespace": namespace},
                }
            ],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    # -- state helpers for tests -------------------------------------------------------
    def find(self, plural: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            for (collection, obj_name), obj in self.objects.items():
                if obj_name == name and collection.endswith("/" + plural):
                    return copy.deepcopy(obj)
        return None

    def _key_of(self, plural: str, name: str) -> tuple[str, str]:
        for key in self.objects:
            if key[1] == name and key[0].endswith("/" + plural):
                return key
        raise KeyError(f"{plural}/{name}")

    def _record(self, collection: str, kind: str, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self.events.append(Event(self._rv, collection, kind, copy.deepcopy(obj)))
        self._changed.notify_all()

    def seed(self, collection: str, obj: dict[str, Any]) -> None:
        """Store an object as if it had been created earlier (no reactors run)."""
        with self._lock:
            stored = copy.deepcopy(obj)
            meta = stored["metadata"]
            meta.update(
                namespace=collection.split("/namespaces/")[1].split("/")[0],
                uid=secrets.token_hex(8),
                generation=1,
            )
            self.objects[(collection, meta["name"])] = stored
            self._record(collection, "ADDED", stored)

    def set_status(self, plural: str, name: str, status: dict[str, Any]) -> None:
        """Replace an object's status (as its controller would) and emit MODIFIED."""
        with self._lock:
            key = self._key_of(plural, name)
            obj = self.objects[key]
            obj["status"] = copy.deepcopy(status)
            self._record(key[0], "MODIFIED", obj)

    def _react(self, event: str, obj: dict[str, Any]) -> None:
        for reactor in list(self.reactors):
            reactor(self, event, copy.deepcopy(obj))

    # -- HTTP --------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def _dispatch(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                with api._lock:
                    api.requests.append((time.monotonic(), self.command, url.path))
                if self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._status(401, "Unauthorized", "Unauthorized")
                    return
                match = _ROUTE.match(url.path)
                if not match or match.group("plural") in api.missing:
                    self._status(404, "NotFound", f"the server could not find {url.path}")
                    return
                collection = url.path if not match.group("name") else url.path.rsplit("/", 1)[0]
                name = match.group("name")
                handler = getattr(api, f"_{self.command.lower()}", None)
                if handler is None:
                    self._status(405, "MethodNotAllowed", self.command)
                    return
                handler(self, collection, match.group("ns"), name, query)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

        return Handler

    def _post(self, h: Any, collection: str, ns: str, name: str | None, q: Query) -> None:
        obj = h._body()
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = meta.get("generateName", "obj-") + secrets.token_hex(3)[:5]
        with self._lock:
            key = (collection, meta["name"])
            if key in self.objects:
                h._status(409, "AlreadyExists", f"{meta['name']} already exists")
                return
            meta.update(
                namespace=ns,
                uid=secrets.token_hex(8),
                generation=1,
                creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            self.objects[key] = obj
            self._record(collection, "ADDED", obj)
            answer = copy.deepcopy(obj)
        h._send(201, answer)
        self._react("create", answer)

    def _get(self, h: Any, collection: str, ns: str, name: str | None, q: Query) -> None:
        if name is None:
            if q.get("watch") in ("1", "true"):
                self._watch(h, collection, q)
                return
            with self._lock:
                items = [copy.deepcopy(o) for (c, _), o in self.objects.items() if c == collection]
            h._send(
                200,
                {
                    "kind": "List",
                    "apiVersion": "v1",
                    "items": items,
                    "metadata": {"resourceVersion": str(self._rv)},
                },
            )
            return
        with self._lock:
            obj = self.objects.get((collection, name))
            if obj is None:
                h._status(404, "NotFound", f"{name} not found")
                return
            self.gets[name] = self.gets.get(name, 0) + 1
        self._react("get", obj)
        with self._lock:
            answer = copy.deepcopy(self.objects.get((collection, name), obj))
        h._send(200, answer)

    def _put(self, h: Any, collection: str, ns: str, name: str | None, q: Query) -> None:
        self._update(h, collection, name, lambda current, body: body)

    def _patch(self, h: Any, collection: str, ns: str, name: str | None, q: Query) -> None:
        self._update(h, collection, name, merge_patch)

    def _update(
        self,
        h: Any,
        collection: str,
        name: str | None,
        apply: Callable[[dict[str, Any], Any], dict[str, Any]],
    ) -> None:
        body = h._body()
        with self._lock:
            current = self.objects.get((collection, name or ""))
            if current is None:
                h._status(404, "NotFound", f"{name} not found")
                return
            sent_rv = (body.get("metadata") or {}).get("resourceVersion")
            if h.command == "PUT" and sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                h._status(409, "Conflict", "the object has been modified")
                return
            updated = apply(current, body)
            updated["metadata"] = {**current["metadata"], **(updated.get("metadata") or {})}
            updated["status"] = current.get("status", {})  # status is a subresource
            if updated.get("spec") != current.get("spec"):
                updated["metadata"]["generation"] = current["metadata"]["generation"] + 1
            self.objects[(collection, name or "")] = updated
            self._record(collection, "MODIFIED", updated)
            answer = copy.deepcopy(updated)
        h._send(200, answer)
        self._react("update", answer)

    def _remove(self, collection: str, name: str) -> bool:
        with self._lock:
            obj = self.objects.pop((collection, name), None)
            if obj is None:
                return False
            self.deleted.append(f"{collection}/{name}")
            self._record(collection, "DELETED", obj)
            return True

    def delete_object(self, plural: str, name: str) -> None:
        """Delete as another client would (emits DELETED to watchers)."""
        with self._lock:
            collection, _ = self._key_of(plural, name)
            self._remove(collection, name)

    def _delete(self, h: Any, collection: str, ns: str, name: str | None, q: Query) -> None:
        if not self._remove(collection, name or ""):
            h._status(404, "NotFound", f"{name} not found")
            return
        h._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def _watch(self, h: Any, collection: str, q: dict[str, str]) -> None:
        if not self.watch_enabled:
            h._status(405, "MethodNotAllowed", "watch is disabled in this test")
            return
        name = q.get("fieldSelector", "").removeprefix("metadata.name=") or None
        deadline = time.monotonic() + float(q.get("timeoutSeconds", "30"))
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        with self._lock:
            since = int(q.get("resourceVersion") or 0)
            pending: list[Event] = []
            if not since:
                since = self._rv
                pending = [
                    Event(self._rv, collection, "ADDED", copy.deepcopy(o))
                    for (c, n), o in self.objects.items()
                    if c == collection and (name is None or n == name)
                ]
        try:
            while True:
                for event in pending:
                    chunk(json.dumps({"type": event.type, "object": event.obj}).encode() + b"\n")
                with self._lock:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closing:
                        break
                    self._changed.wait(timeout=min(remaining, 0.5))
                    pending = [
                        e
                        for e in self.events
                        if e.rv > since
                        and e.collection == collection
                        and (name is None or e.obj["metadata"]["name"] == name)
                    ]
                    if pending:
                        since = pending[-1].rv
            chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            pass
