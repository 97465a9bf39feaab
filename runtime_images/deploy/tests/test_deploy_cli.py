"""cnai_deploy as a subprocess against the Kubernetes API stand-in, over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnai_deploy import cli
from cnai_runtime import exitcodes
from cnai_testkit.kubeapi import KubeAPI
from cnai_testkit.procs import run_module

MANIFESTS = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: resnet-api
  namespace: ml
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "1"
    spec:
      containerConcurrency: 100
      containers:
        - image: registry.example/resnet:{tag}
          ports: [{{containerPort: 8080}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: resnet-api-canary
  namespace: ml
spec:
  hosts: [resnet-api.ml.svc.cluster.local]
  http:
    - name: canary
      route:
        - destination: {{host: "${{CNAI_NEW_REVISION}}.ml.svc.cluster.local"}}
          weight: {new}
        - destination: {{host: "${{CNAI_CURRENT_REVISION}}.ml.svc.cluster.local"}}
          weight: {current}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: resnet-api-circuit-breaker
  namespace: ml
spec:
  host: "${{CNAI_NEW_REVISION}}.ml.svc.cluster.local"
  trafficPolicy:
    connectionPool: {{tcp: {{maxConnections: 100}}}}
    outlierDetection: {{consecutive5xxErrors: 5, baseEjectionTime: 30s}}
"""


def _write(tmp_path: Path, tag: str = "v2", new: int = 10, current: int = 90) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(MANIFESTS.format(tag=tag, new=new, current=current))
    return path


def _ready(name: str, generation: int, ready: str = "True", reason: str = "") -> dict[str, Any]:
    revision = f"{name}-{generation:05d}"
    return {
        "observedGeneration": generation,
        "latestCreatedRevisionName": revision,
        "latestReadyRevisionName": revision if ready == "True" else f"{name}-{generation - 1:05d}",
        "url": f"http://{name}.ml.example.com",
        "conditions": [
            {"type": "ConfigurationsReady", "status": ready, "reason": reason},
            {"type": "Ready", "status": ready, "reason": reason, "message": "see revision"},
            {"type": "RoutesReady", "status": "True"},
        ],
    }


class Controller:
    """Plays the Knative controller: Unknown first, then the final Ready status."""

    def __init__(self, api: KubeAPI, ready: str = "True", reason: str = "") -> None:
        self.ready_at: float | None = None
        self.ready, self.reason = ready, reason
        api.reactors.append(self._react)

    def _react(self, api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event not in ("create", "update") or obj.get("kind") != "Service":
            return
        if not obj["apiVersion"].startswith("serving.knative.dev/"):
            return
        name, generation = obj["metadata"]["name"], obj["metadata"]["generation"]
        if (obj.get("status") or {}).get("observedGeneration") == generation:
            return  # our own status write, or a re-apply without spec change

        def progressing() -> None:
            status = dict(obj.get("status") or {})
            status.update(
                observedGeneration=generation, conditions=[{"type": "Ready", "status": "Unknown"}]
            )
            api.set_status("services", name, status)

        def done() -> None:
            self.ready_at = time.monotonic()
            api.set_status("services", name, _ready(name, generation, self.ready, self.reason))

        api.after(0.15, progressing)
        api.after(0.3, done)


def _deploy(
    api: KubeAPI, tmp_path: Path, manifests: Path, *extra: str, env: dict[str, str] | None = None
):
    args = [
        "--manifests",
        str(manifests),
        "--timeout",
        "20",
        "--poll-interval",
        "0.2",
        "--kubeconfig",
        str(api.kubeconfig(tmp_path / "kubeconfig")),
        *extra,
    ]
    return run_module("cnai_deploy", args, env=env)


def _first_write(api: KubeAPI, plural: str) -> float:
    return min(t for t, m, p in api.requests if m in ("POST", "PUT") and f"/{plural}" in p)


def test_first_deploy_waits_for_ready_then_routes_all_traffic_to_it(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    controller = Controller(kube_api)
    outputs = tmp_path / "outputs"
    result = _deploy(kube_api, tmp_path, _write(tmp_path), env={"CNAI_OUTPUTS_DIR": str(outputs)})
    assert result.returncode == 0, result.stderr
    assert "current ready revision of Service/resnet-api in namespace ml: none" in result.stderr
    assert controller.ready_at is not None
    assert _first_write(kube_api, "virtualservices") > controller.ready_at
    assert _first_write(kube_api, "destinationrules") > controller.ready_at
    assert _first_write(kube_api, "destinationrules") < _first_write(kube_api, "virtualservices")
    vs = kube_api.find("virtualservices", "resnet-api-canary")
    hosts = [r["destination"]["host"] for r in vs["spec"]["http"][0]["route"]]
    # No current revision yet: both routes name the new one, so it gets 100 %.
    assert hosts == ["resnet-api-00001.ml.svc.cluster.local"] * 2
    dr = kube_api.find("destinationrules", "resnet-api-circuit-breaker")
    assert dr["spec"]["host"] == "resnet-api-00001.ml.svc.cluster.local"
    assert (outputs / "revision").read_text() == "resnet-api-00001"
    assert (outputs / "previous_revision").read_text() == ""
    assert (outputs / "url").read_text() == "http://resnet-api.ml.example.com"


def test_update_shifts_canary_weight_between_new_and_current_revision(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    controller = Controller(kube_api)
    assert _deploy(kube_api, tmp_path, _write(tmp_path, tag="v1")).returncode == 0
    kube_api.requests.clear()
    result = _deploy(kube_api, tmp_path, _write(tmp_path, tag="v2", new=10, current=90))
    assert result.returncode == 0, result.stderr
    assert "current ready revision of Service/resnet-api in namespace ml: resnet-api-00001" in (
        result.stderr
    )
    assert "replaced Service/resnet-api" in result.stderr
    # The stale Ready status of generation 1 must not count: the status lines show it
    # waited through the new generation's progress before touching the VirtualService.
    assert "conditions=[Ready=Unknown]" in result.stderr
    assert controller.ready_at is not None
    assert _first_write(kube_api, "virtualservices") > controller.ready_at
    vs = kube_api.find("virtualservices", "resnet-api-canary")
    route = vs["spec"]["http"][0]["route"]
    assert [(r["destination"]["host"], r["weight"]) for r in route] == [
        ("resnet-api-00002.ml.svc.cluster.local", 10),
        ("resnet-api-00001.ml.svc.cluster.local", 90),
    ]
    assert "10% -> resnet-api-00002.ml.svc.cluster.local" in result.stderr
    service = kube_api.find("services", "resnet-api")
    assert service["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")


def test_failed_revision_leaves_traffic_untouched(kube_api: KubeAPI, tmp_path: Path) -> None:
    Controller(kube_api, ready="False", reason="RevisionFailed")
    result = _deploy(kube_api, tmp_path, _write(tmp_path))
    assert result.returncode == exitcodes.CONDITION_FAILED, result.stderr
    assert "the new revision is not ready: RevisionFailed" in result.stderr
    assert kube_api.find("virtualservices", "resnet-api-canary") is None
    assert not [p for _, m, p in kube_api.requests if "virtualservices" in p]


def test_timeout_when_the_service_never_becomes_ready(kube_api: KubeAPI, tmp_path: Path) -> None:
    result = _deploy(kube_api, tmp_path, _write(tmp_path), "--timeout", "1")
    assert result.returncode == exitcodes.TIMEOUT, result.stderr
    assert kube_api.find("virtualservices", "resnet-api-canary") is None


def test_weights_must_add_up_before_anything_is_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The kubeconfig does not exist: the check has to fail before any API access.
    args = ["--kubeconfig", str(tmp_path / "none"), "--manifests"]
    assert cli.main([*args, str(_write(tmp_path, new=10, current=80))]) == exitcodes.USAGE
    assert "add up to 90, not 100" in capsys.readouterr().err


def test_manifests_need_exactly_one_knative_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [d for d in yaml.safe_load_all(_write(tmp_path).read_text())
            if d["kind"] != "Service"]  # fmt: skip
    only_istio = tmp_path / "istio.yaml"
    only_istio.write_text(yaml.safe_dump_all(docs))
    code = cli.main(["--kubeconfig", str(tmp_path / "none"), "--manifests", str(only_istio)])
    assert code == exitcodes.USAGE
    assert "expected one Knative Service" in capsys.readouterr().err
