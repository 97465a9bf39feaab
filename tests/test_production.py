"""examples/production.cnai: every group of production settings (#17) in one realistic
pipeline, compiled to both targets, strictly valid, and checked field by field: what each
setting on the pipeline gives every pod, and what a step's own changes.

The settings' own tests (tests/test_prod_identity.py, test_prod_placement.py,
test_prod_config.py, test_prod_failure.py) cover each setting's cases and bad input; this
file checks that they hold together in one pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file
from fakes.kfp_server import KfpServer
from fakes.support import hermetic, submit
from test_kfp_support import pipeline_spec, platform_spec
from test_prod_identity import argo_pods, restricted_violations
from testpaths import EXAMPLES

Doc = dict[str, Any]
PRODUCTION = EXAMPLES / "production.cnai"
STEPS = ("prepare", "train", "publish", "report")

# What the pipeline sets for every pod.
LABELS = {"app.kubernetes.io/part-of": "ranking", "team": "search"}
ANNOTATIONS = {"sidecar.istio.io/inject": "false"}
POOL = {"cloud.google.com/gke-nodepool": "ml-pool"}
ML_TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "ml",
                 "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
REGION = {"name": "REGION", "valueFrom": {"configMapKeyRef": {"name": "cluster-info",
                                                              "key": "region"}}}


@pytest.fixture(scope="module")
def workflow() -> Doc:
    result = compile_file(PRODUCTION, "argo")
    assert result.warnings == []
    (doc,) = result.documents
    return doc


@pytest.fixture(scope="module")
def kfp_documents() -> list[Doc]:
    result = compile_file(PRODUCTION, "kfp")
    assert result.warnings == []
    return result.documents


def templates(doc: Doc) -> dict[str, Doc]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def mounts(container: Doc) -> dict[str, Doc]:
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def volumes(template: Doc) -> dict[str, Doc]:
    return {v["name"]: v for v in template.get("volumes", [])}


# ---- Argo -------------------------------------------------------------------------------

def test_argo_is_strictly_valid(workflow: Doc) -> None:
    schemacheck.assert_all_valid([workflow])


def test_argo_every_pod_is_restricted(workflow: Doc) -> None:
    pods = dict(argo_pods(workflow))
    assert set(pods) == set(STEPS)
    for name, pod in pods.items():
        assert restricted_violations(pod) == [], name


def test_argo_workflow_identity_and_hygiene(workflow: Doc) -> None:
    spec = workflow["spec"]
    assert spec["serviceAccountName"] == "ranking-pipeline"  # 1. every pod's account
    assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert spec["activeDeadlineSeconds"] == 12 * 3600  # 7. the run's deadline, not a step's
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 3 * 24 * 3600}
    assert spec["onExit"] == "finally"  # 8. the report runs whatever happened
    for template in spec["templates"]:  # no step overrides the account
        assert "serviceAccountName" not in template


def test_argo_pipeline_defaults_reach_every_step(workflow: Doc) -> None:
    found = templates(workflow)
    for name in STEPS:
        template = found[name]
        container = template["container"]
        assert container["imagePullPolicy"] == "IfNotPresent", name
        assert template["metadata"]["labels"] == LABELS, name
        assert template["metadata"]["annotations"].items() >= ANNOTATIONS.items(), name
        assert template["securityContext"] == {
            "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"}}, name
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}, name
        assert env(container)["LOG_LEVEL"]["value"] == "info", name
        assert env(container)["REGION"] == REGION, name
        if name != "train":
            assert template["nodeSelector"] == POOL, name
            assert template["tolerations"] == [ML_TOLERATION], name
            assert "activeDeadlineSeconds" not in template, name


def test_argo_prepare_requests_volumes_and_pod_fields(workflow: Doc) -> None:
    template = templates(workflow)["prepare"]
    container = template["container"]
    assert container["resources"] == {"limits": {"cpu": "8", "memory": "32Gi"},
                                      "requests": {"cpu": "2", "memory": "16Gi"}}
    assert env(container)["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert mounts(container)["/features"] == {"name": "features", "mountPath": "/features",
                                             "subPath": "ranking"}
    assert mounts(container)["/scratch"] == {"name": "scratch", "mountPath": "/scratch"}
    assert volumes(template)["features"] == {
        "name": "features", "persistentVolumeClaim": {"claimName": "feature-store"}}
    assert volumes(template)["scratch"] == {"name": "scratch",
                                            "emptyDir": {"sizeLimit": "50Gi"}}
    assert "/etc/ranking" not in mounts(container)  # mounted by train only


def test_argo_train_overrides_and_adds(workflow: Doc) -> None:
    template = templates(workflow)["train"]
    container = template["container"]
    # The step's node selector is laid over the pipeline's key by key; gpu_type adds one.
    assert template["nodeSelector"] == {"cloud.google.com/gke-nodepool": "h100-pool",
                                        "nvidia.com/gpu.product": "nvidia-h100-80gb"}
    assert template["tolerations"] == [ML_TOLERATION, GPU_TOLERATION]  # its own list
    assert template["metadata"]["annotations"] == {
        **ANNOTATIONS, "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    affinity = template["affinity"]["nodeAffinity"]
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [{
            "key": "topology.kubernetes.io/zone", "operator": "In",
            "values": ["us-central1-a", "us-central1-b"]}]}]}
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"] == [{
        "weight": 50, "preference": {"matchExpressions": [{
            "key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]}]}}]
    assert container["image"] == "{{inputs.parameters.train_image}}"
    assert container["resources"] == {"limits": {"cpu": "32", "memory": "240Gi",
                                                 "nvidia.com/gpu": "4"}}
    shm = mounts(container)["/dev/shm"]
    assert volumes(template)[shm["name"]]["emptyDir"] == {"medium": "Memory",
                                                          "sizeLimit": "32Gi"}
    assert mounts(container)["/etc/ranking"]["readOnly"] is True
    assert volumes(template)["model-config"]["configMap"] == {"name": "ranking-config"}
    assert env(container)["WANDB_API_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "wandb", "key": "api-key"}}
    assert template["retryStrategy"] == {"limit": "2", "retryPolicy": "Always",
                                         "backoff": {"duration": "1m"}}
    assert template["activeDeadlineSeconds"] == "28800"


def test_argo_gate_and_finally(workflow: Doc) -> None:
    tasks = {t["name"]: t for t in templates(workflow)["main"]["dag"]["tasks"]}
    assert tasks["publish"]["depends"] == "train.Succeeded"
    assert "min_ndcg" in tasks["publish"]["when"]
    (report,) = templates(workflow)["finally"]["dag"]["tasks"]
    assert report["arguments"]["parameters"] == [{"name": "pipeline_status",
                                                  "value": "{{workflow.status}}"}]


# ---- Kubeflow ---------------------------------------------------------------------------

def test_kfp_parses_into_kfp_and_kfp_kubernetes(kfp_documents: list[Doc]) -> None:
    spec, platform = kfp_documents
    pipeline_spec(spec)
    configs = platform_spec(platform)  # each a KubernetesExecutorConfig, unknown fields refused
    assert set(configs) == {f"exec-{name}" for name in STEPS}


def test_kfp_loads_with_kfp(tmp_path: Path, kfp_documents: list[Doc]) -> None:
    from kfp import components

    path = tmp_path / "production.yaml"
    path.write_text(yaml.safe_dump_all(kfp_documents, sort_keys=False))
    assert components.load_component_from_file(str(path)).name == "ranking-nightly"


def executors(kfp_documents: list[Doc]) -> dict[str, Doc]:
    platform = kfp_documents[1]["platforms"]["kubernetes"]
    return {name.removeprefix("exec-"): config
            for name, config in platform["deploymentSpec"]["executors"].items()}


def test_kfp_pipeline_defaults_reach_every_executor(kfp_documents: list[Doc]) -> None:
    found = executors(kfp_documents)
    for name in STEPS:
        config = found[name]
        assert config["imagePullPolicy"] == "IfNotPresent", name
        assert [s["secretName"] for s in config["imagePullSecret"]] == ["registry-credentials"]
        assert config["podMetadata"]["labels"] == LABELS, name
        assert config["securityContext"] == {"runAsUser": "1000", "runAsGroup": "1000",
                                             "runAsNonRoot": True}, name
        assert config["configMapAsEnv"][0]["keyToEnv"] == [{"configMapKey": "region",
                                                            "envVar": "REGION"}], name
        if name != "train":
            assert config["nodeSelector"] == {"labels": POOL}, name
            assert config["tolerations"] == [ML_TOLERATION], name


def test_kfp_step_settings(kfp_documents: list[Doc]) -> None:
    found = executors(kfp_documents)
    prepare, train = found["prepare"], found["train"]
    assert prepare["pvcMount"][0]["constant"] == "feature-store"
    assert prepare["pvcMount"][0]["subPath"] == "ranking"
    assert prepare["fieldPathAsEnv"] == [{"name": "POD_NAME", "fieldPath": "metadata.name"}]
    assert train["nodeSelector"]["labels"]["cloud.google.com/gke-nodepool"] == "h100-pool"
    assert train["tolerations"] == [ML_TOLERATION, GPU_TOLERATION]
    assert train["enabledSharedMemory"]["size"] == "32Gi"
    assert train["configMapAsVolume"][0]["mountPath"] == "/etc/ranking"
    assert train["activeDeadlineSeconds"] == "28800"
    assert [term.get("weight") for term in train["nodeAffinity"]] == [None, 50]
    resources = kfp_documents[0]["deploymentSpec"]["executors"]["exec-prepare"]["container"][
        "resources"]
    assert (resources["resourceCpuRequest"], resources["resourceCpuLimit"]) == ("2", "8")
    config = kfp_documents[1]["platforms"]["kubernetes"]["pipelineConfig"]
    assert config == {"activeDeadlineSeconds": 43200, "resourceTtlOnCompletion": 259200}


@pytest.fixture
def kfp_context(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hermetic(monkeypatch)
    monkeypatch.setattr("kfp.client.client.Client._LOCAL_KFP_CONTEXT",
                        str(tmp_path / "kfp-context.json"))


@pytest.mark.usefixtures("kfp_context")
def test_kfp_run_takes_the_pipelines_account(capsys: pytest.CaptureFixture[str]) -> None:
    """Kubeflow sets an account per run, not per task: `cnai submit` sends the pipeline's."""
    with KfpServer() as kfp:
        result = submit(capsys, str(PRODUCTION), "-t", "kfp", "--host", kfp.url)
    assert result.code == 0, result.err
    (run,) = [body for where, body in kfp.bodies if where == "/apis/v2beta1/runs"]
    assert run["service_account"] == "ranking-pipeline"
