"""A thin layer over the official ``kubernetes`` client: REST verbs on any object path.

Configuration: ``--kubeconfig`` when given, else the in-cluster service account, else
``$KUBECONFIG`` / ``~/.kube/config``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.watch.watch import iter_resp_lines

from cnai_launcher.resources import Ref
from cnai_runtime.exitcodes import AUTH, NOT_FOUND, REMOTE, USAGE, StepError

SERVICE_ACCOUNT_NS = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "").strip() or "no details"


def api_error(exc: ApiException, what: str) -> StepError:
    """The StepError for an API failure while doing ``what``."""
    status = exc.status or 0
    message = _status_message(exc)
    if status == 0:
        return StepError(f"{what}: cannot reach the Kubernetes API ({message})", REMOTE)
    if status in (401, 403):
        return StepError(f"{what}: access denied (HTTP {status}: {message})", AUTH)
    if status == 404:
        return StepError(f"{what}: not found (HTTP 404: {message})", NOT_FOUND)
    if status in (400, 409, 422):
        return StepError(f"{what}: rejected (HTTP {status}: {message})", USAGE)
    return StepError(f"{what}: the API server answered HTTP {status} ({message})", REMOTE)


def add_cluster_options(parser: Any) -> None:
    """``--kubeconfig`` and ``--context``, which :meth:`Kube.connect` takes."""
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default: in-cluster, then $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--context", help="kubeconfig context")


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> tuple[Kube, str]:
        """A client and the namespace to use when neither flag nor manifest gives one."""
        cfg = client.Configuration()
        namespace = "default"
        try:
            if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
                config.load_incluster_config(client_configuration=cfg)
                if SERVICE_ACCOUNT_NS.exists():
                    namespace = SERVICE_ACCOUNT_NS.read_text().strip() or namespace
            else:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=cfg
                )
                contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
                if context:
                    active = next((c for c in contexts if c["name"] == context), active)
                namespace = (active or {}).get("context", {}).get("namespace") or namespace
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            raise StepError(f"no usable Kubernetes configuration: {exc}", AUTH) from None
        return cls(client.ApiClient(cfg)), namespace

    def close(self) -> None:
        self.api.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = JSON,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        response = self.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=(10.0, timeout),
        )
        data = response.data
        return json.loads(data) if data else {}

    def create(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", ref.collection, body=obj)

    def get(self, ref: Ref) -> dict[str, Any]:
        return self.request("GET", ref.path)

    def replace(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", ref.path, body=obj)

    def merge_patch(self, ref: Ref, patch: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", ref.path, body=patch, content_type=MERGE_PATCH)

    def delete(self, ref: Ref) -> bool:
        """Delete with background propagation; False when it was already gone."""
        try:
            # The query parameter rather than a DeleteOptions body: the API server takes
            # both, and a bodiless DELETE is safe on any keep-alive connection.
            self.request("DELETE", ref.path, query=[("propagationPolicy", "Background")])
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(self, ref: Ref, resource_version: str, seconds: int) -> Iterator[tuple[str, Any]]:
        """Watch events for one object (``?watch=1``, one JSON object per line)."""
        query = [
            ("watch", "1"),
            ("fieldSelector", f"metadata.name={ref.name}"),
            ("timeoutSeconds", str(max(1, seconds))),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        response = self.api.call_api(
            ref.collection,
            "GET",
            query_params=query,
            header_params={"Accept": JSON},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=(10.0, seconds + 15.0),
        )
        try:
            for line in iter_resp_lines(response):
                event = json.loads(line)
                yield str(event.get("type", "")), event.get("object") or {}
        finally:
            response.close()
            response.release_conn()
