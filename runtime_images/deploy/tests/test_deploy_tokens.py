"""Tokens in the manifests, as the compiler's Kubeflow target writes them: the namespace in
Istio hosts, the run id in labels and in the revision's name, parameter values by --set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnai_deploy import cli
from cnai_runtime import exitcodes
from cnai_testkit.kubeapi import KubeAPI
from cnai_testkit.procs import run_module

RUN = "4BD1E2D6-0000-4c2b-9f3e-8d5a0c1b2e3f"
LABELS = {"cnai.dev/run": "${CNAI_RUN_ID}"}
SERVICE = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "api-canary", "labels": LABELS},
    "spec": {"template": {
        "metadata": {"name": "api-canary-${CNAI_RUN_SHORT}", "labels": LABELS},
        "spec": {"containers": [{"image": "model:1", "args": ["--model", "${CNAI_INPUT_URI}"]}]},
    }},
}  # fmt: skip
ROUTE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "api"},
    "spec": {"hosts": ["api.example.com"], "http": [{"route": [
        {"destination": {"host": "api-canary.${CNAI_NAMESPACE}.svc.cluster.local"}, "weight": 10},
        {"destination": {"host": "api.${CNAI_NAMESPACE}.svc.cluster.local"}, "weight": 90},
    ]}]},
}  # fmt: skip


def _ready_on_write(api: KubeAPI) -> None:
    """Play Knative: the revision the template names becomes ready."""

    def react(api: KubeAPI, event: str, obj: dict[str, Any]) -> None:
        if event != "create" or obj.get("kind") != "Service":
            return
        revision = obj["spec"]["template"]["metadata"]["name"]
        status = {"observedGeneration": obj["metadata"]["generation"],
                  "latestCreatedRevisionName": revision, "latestReadyRevisionName": revision,
                  "conditions": [{"type": "Ready", "status": "True"}]}
        api.after(0.1, lambda: api.set_status("services", obj["metadata"]["name"], status))

    api.reactors.append(react)


def test_tokens_are_filled_before_anything_is_applied(kube_api: KubeAPI, tmp_path: Path) -> None:
    _ready_on_write(kube_api)
    manifests = "---\n".join(json.dumps(doc) + "\n" for doc in (SERVICE, ROUTE))
    result = run_module("cnai_deploy", [
        "--manifests-text", manifests, "--run-id", RUN, "--set", "CNAI_INPUT_URI=s3://m/1",
        "--timeout", "20", "--poll-interval", "0.2",
        "--kubeconfig", str(kube_api.kubeconfig(tmp_path / "kubeconfig"))])  # fmt: skip
    assert result.returncode == 0, result.stderr
    service = kube_api.find("services", "api-canary")
    assert service is not None
    template = service["spec"]["template"]
    # A DNS label: the service's name and the run's first 8 letters and digits, lower-cased.
    assert template["metadata"]["name"] == "api-canary-4bd1e2d6"
    assert template["metadata"]["labels"] == {"cnai.dev/run": RUN}
    assert template["spec"]["containers"][0]["args"] == ["--model", "s3://m/1"]
    route = kube_api.find("virtualservices", "api")
    assert route is not None
    hosts = [r["destination"]["host"] for r in route["spec"]["http"][0]["route"]]
    # No --namespace: the kubeconfig context's namespace, where the objects went.
    assert hosts == ["api-canary.team-a.svc.cluster.local", "api.team-a.svc.cluster.local"]


def test_a_malformed_set_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    manifests = json.dumps(SERVICE)
    code = cli.main(["--manifests-text", manifests, "--set", "no-equals",
                     "--kubeconfig", str(tmp_path / "none")])
    assert code == exitcodes.USAGE
    assert "--set takes NAME=VALUE" in capsys.readouterr().err
