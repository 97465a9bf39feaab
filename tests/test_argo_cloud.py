"""Cloud-native constructs on Argo: training jobs, gang scheduling, spot, quotas,
disruption budgets, Knative + Istio services, Fluid. Embedded manifests are validated too."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

import argo_engine
import schemacheck
from cnai import compile_file, compile_source
from cnai.context import Options
from cnai.driver import CompileFailed
from k8s_expansion import run_container
from k8s_rules import admitted_resources
from testpaths import EXAMPLES, FIXTURES


def documents(path: Any, options: Options | None = None) -> list[dict[str, Any]]:
    docs = list(yaml.safe_load_all(compile_file(path, "argo", options).text))
    schemacheck.assert_all_valid(docs)
    return docs


def spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"].get("workflowSpec", doc["spec"])  # type: ignore[no-any-return]


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in spec(doc)["templates"] if t["name"] == name)


UID = "4bd1e2d6-5b1a-4c2b-9f3e-8d5a0c1b2e3f"


def argo_values(doc: dict[str, Any], **params: str) -> dict[str, str]:
    """What Argo fills in: the workflow's own variables, and each input at its default value
    unless ``params`` says."""
    values = {"workflow.uid": UID, "workflow.name": "run-x", "workflow.namespace": "ml"}
    for parameter in spec(doc).get("arguments", {}).get("parameters", []):
        values[f"inputs.parameters.{parameter['name']}"] = parameter.get("value", "")
    values.update({f"inputs.parameters.{k}": v for k, v in params.items()})
    return values


def manifest(doc: dict[str, Any], name: str, **params: str) -> dict[str, Any]:
    """The object the template applies, filled in as Argo does, then parsed."""
    return argo_engine.manifest(template(doc, name), argo_values(doc, **params))  # type: ignore[no-any-return]


def tasks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in template(doc, "main")["dag"]["tasks"]}


@pytest.fixture(scope="module")
def resnet() -> list[dict[str, Any]]:
    return documents(EXAMPLES / "cloud_native.cnai")


def test_layout_workflow_first_then_namespace_objects(resnet: list[dict[str, Any]]) -> None:
    assert [d["kind"] for d in resnet] == ["CronWorkflow", "ResourceQuota", "LimitRange"]
    assert resnet[1]["spec"]["hard"] == {"requests.nvidia.com/gpu": "64", "requests.cpu": "512",
                                         "requests.memory": "2Ti"}
    (limits,) = resnet[2]["spec"]["limits"]
    assert limits["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}


def test_the_limit_range_caps_no_container(resnet: list[dict[str, Any]]) -> None:
    # A default limit would give every replica that states only `gpu` 1Gi of memory and
    # 1 CPU: an 8-GPU training replica killed for memory at start. Only requests default.
    limit_range = resnet[2]
    box = yaml.safe_load(template(resnet[0], "train")["resource"]["manifest"])[
        "spec"]["tfReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert admitted_resources(box, limit_range) == {
        "limits": {"nvidia.com/gpu": "8"},
        "requests": {"nvidia.com/gpu": "8", "cpu": "100m", "memory": "256Mi"}}


def test_tfjob_with_gang_scheduling_on_spot(resnet: list[dict[str, Any]]) -> None:
    doc = resnet[0]
    train = template(doc, "train")["resource"]
    assert train["action"] == "create" and train["setOwnerReference"] is True
    assert train["successCondition"] == "status.completionTime"
    assert train["failureCondition"] == ", ".join(
        f"status.conditions.{slot}.type == Failed" for slot in range(5))
    job = manifest(doc, "train")
    assert job["kind"] == "TFJob" and job["apiVersion"] == "kubeflow.org/v1"
    replicas = job["spec"]["tfReplicaSpecs"]
    assert (replicas["Chief"]["replicas"], replicas["Worker"]["replicas"]) == (1, 7)
    for replica in replicas.values():
        pod = replica["template"]["spec"]
        (container,) = pod["containers"]
        assert container["name"] == "tensorflow"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
        assert pod["schedulerName"] == "volcano" and pod["priorityClassName"] == "high"
        assert pod["nodeSelector"] == {"cloud.google.com/gke-spot": "true"}
        assert pod["tolerations"] == [{"key": "cloud.google.com/gke-spot", "operator": "Equal",
                                       "value": "true", "effect": "NoSchedule"}]
    assert job["spec"]["runPolicy"]["schedulingPolicy"] == {
        "minAvailable": 8, "queue": "training", "priorityClass": "high"}
    assert spec(doc)["parallelism"] == 1  # 64 GPUs cannot hold two 136-GPU jobs


def test_disruption_budget_precedes_the_job(resnet: list[dict[str, Any]]) -> None:
    doc = resnet[0]
    assert tasks(doc)["train"]["depends"] == "train-pdb.Succeeded"
    budget = manifest(doc, "train-pdb")
    assert budget["kind"] == "PodDisruptionBudget"
    assert budget["spec"]["minAvailable"] == 7
    selector = budget["spec"]["selector"]["matchLabels"]
    pod_labels = manifest(doc, "train")["spec"]["tfReplicaSpecs"]["Worker"]["template"][
        "metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert template(doc, "train-pdb")["resource"]["setOwnerReference"] is True


def test_knative_service_istio_split_and_circuit_breaker(resnet: list[dict[str, Any]]) -> None:
    doc = resnet[0]
    dag = tasks(doc)
    assert dag["resnet-api"]["depends"] == "train.Succeeded"
    assert dag["resnet-api-rule"]["depends"] == "resnet-api.Succeeded"
    assert dag["resnet-api-route"]["depends"] == "resnet-api-rule.Succeeded"
    service = manifest(doc, "resnet-api")
    assert service["kind"] == "Service" and service["metadata"]["name"] == "resnet-api-canary"
    revision = service["spec"]["template"]
    assert revision["spec"]["containerConcurrency"] == 100
    assert revision["metadata"]["annotations"] == {
        "autoscaling.knative.dev/min-scale": "1", "autoscaling.knative.dev/max-scale": "20",
        "autoscaling.knative.dev/target-burst-capacity": "0"}  # for the circuit breaker
    (container,) = revision["spec"]["containers"]
    assert container["ports"] == [{"containerPort": 8080, "name": "h2c"}]
    assert container["resources"] == {"limits": {"cpu": "1", "memory": "2Gi"}}
    ready = template(doc, "resnet-api")["resource"]["successCondition"]
    assert argo_engine.fill(ready, argo_values(doc)) == (
        f"status.latestReadyRevisionName == {revision['metadata']['name']}")
    route = manifest(doc, "resnet-api-route")
    weights = [(r["destination"]["host"].split(".")[0], r["weight"])
               for r in route["spec"]["http"][0]["route"]]
    assert weights == [("resnet-api-canary", 10), ("resnet-api", 90)]
    rule = manifest(doc, "resnet-api-rule")
    assert rule["spec"]["trafficPolicy"]["outlierDetection"] == {
        "consecutive5xxErrors": 5, "baseEjectionTime": "30s", "interval": "10s",
        "maxEjectionPercent": 100}
    assert rule["spec"]["trafficPolicy"]["connectionPool"]["tcp"] == {"maxConnections": 100}


@pytest.fixture(scope="module")
def cloud() -> dict[str, Any]:
    (doc,) = documents(FIXTURES / "valid" / "cloud.cnai",
                       Options(spot_label_text="eks.amazonaws.com/capacityType=SPOT"))
    return doc


def test_pytorch_job_and_workers_only_and_master_only(cloud: dict[str, Any]) -> None:
    pretrain = manifest(cloud, "pretrain")
    assert pretrain["kind"] == "PyTorchJob"
    assert set(pretrain["spec"]["pytorchReplicaSpecs"]) == {"Master", "Worker"}
    assert pretrain["spec"]["runPolicy"]["backoffLimit"] == 2
    assert pretrain["spec"]["runPolicy"]["activeDeadlineSeconds"] == 43200
    pod = pretrain["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
    assert pod["containers"][0]["name"] == "pytorch"
    assert pod["containers"][0]["command"][3] == "0.001"
    assert pod["volumes"] == [{"name": "corpus", "persistentVolumeClaim": {
        "claimName": "corpus", "readOnly": True}}]
    assert pod["nodeSelector"] == {"eks.amazonaws.com/capacityType": "SPOT"}
    finetune = template(cloud, "finetune")["resource"]
    assert finetune["successCondition"] == "status.completionTime"
    assert "Chief" not in manifest(cloud, "finetune")["spec"]["tfReplicaSpecs"]
    assert "schedulingPolicy" not in manifest(cloud, "finetune")["spec"]["runPolicy"]
    solo = manifest(cloud, "solo")["spec"]["tfReplicaSpecs"]
    assert set(solo) == {"Chief"}


def test_step_scheduling_overrides_the_pipeline(cloud: dict[str, Any]) -> None:
    prepare = template(cloud, "prepare")
    assert prepare["priorityClassName"] == "batch"
    assert "nodeSelector" not in prepare and "retryStrategy" not in prepare


def test_fluid_dataset_and_data_load(cloud: dict[str, Any]) -> None:
    load = template(cloud, "preload-corpus")
    assert "resource" not in load and "preload-corpus-dataset" not in tasks(cloud)
    # What the launcher reads: its arguments after the kubelet's $(VAR) / $$ expansion.
    args, _ = run_container(load["container"])
    assert load["container"]["command"] == ["python", "-m", "cnai_launcher"]
    assert args[args.index("--set") + 1] == "CNAI_INPUT_DATA_URI={{inputs.parameters.data_uri}}"
    assert load["inputs"] == {"parameters": [{"name": "data_uri"}]}
    dataset = json.loads(args[args.index("--ensure-text") + 1])
    assert dataset["kind"] == "Dataset"
    assert dataset["spec"]["mounts"][0]["mountPoint"] == "${CNAI_INPUT_DATA_URI}"
    # The Dataset is a cache shared by runs, bound to the cluster's runtime of its name.
    assert dataset["metadata"]["name"] == "corpus"
    data_load = json.loads(args[args.index("--manifest-text") + 1])
    assert data_load["spec"]["dataset"]["name"] == "corpus"
    assert args[args.index("--success-condition") + 1] == "status.phase == Complete"
    assert tasks(cloud)["prepare"]["depends"] == "preload-corpus.Succeeded"
    assert "volumeClaimTemplates" not in spec(cloud)


def test_service_without_canary_has_no_route(cloud: dict[str, Any]) -> None:
    names = {t["name"] for t in spec(cloud)["templates"]}
    assert {"api", "guarded", "guarded-rule"} <= names
    assert "api-route" not in names and "guarded-route" not in names
    api = manifest(cloud, "api")
    assert api["metadata"]["name"] == "api"
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"containerPort": 9000, "name": "http1"}]
    assert {"name": "MODEL", "value": "0.001"} in container["env"]
    rule = manifest(cloud, "guarded-rule")
    assert rule["spec"]["trafficPolicy"]["connectionPool"]["http"] == {
        "http1MaxPendingRequests": 10}
    route = manifest(cloud, "routed-route")
    assert route["spec"]["hosts"] == ["models.example.com"]
    assert [r["weight"] for r in route["spec"]["http"][0]["route"]] == [25, 75]


@pytest.mark.parametrize("body, code", [
    ('host = "a.example.com"', "E0208"),
    ('distributed pytorch { workers = 1 }', "E0208"),
])
def test_service_field_errors(body: str, code: str) -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source(f'pipeline p {{ service s {{ image = "x"\n {body} }} }}')
    assert [d.code for d in failure.value.diagnostics] == [code]


def test_long_service_names_are_refused() -> None:
    name = "s" * 50
    with pytest.raises(CompileFailed) as failure:
        compile_source(f'pipeline p {{ service {name} {{ image = "x" canary {{ weight = 5 }} }} }}')
    assert [d.code for d in failure.value.diagnostics] == ["E0208"]


def test_volcano_queue_on_a_plain_step() -> None:
    (doc,) = yaml.safe_load_all(compile_source(
        'pipeline p { scheduling { scheduler = "volcano"  queue = "q1" }\n'
        ' step a { image = "x" } }').text)
    step = template(doc, "a")
    assert step["schedulerName"] == "volcano"
    assert step["metadata"] == {"annotations": {"scheduling.volcano.sh/queue-name": "q1"}}
    schemacheck.assert_valid(doc)


def test_spot_steps_retry_lost_pods() -> None:
    (doc,) = yaml.safe_load_all(compile_source(
        'pipeline p { scheduling { spot = true } step a { image = "x" } }').text)
    assert template(doc, "a")["retryStrategy"] == {"limit": "3", "retryPolicy": "OnError"}


@pytest.mark.parametrize("body, code", [
    ('distributed jax { workers = 2 }', "E0208"),
    ('distributed pytorch { masters = 0  workers = 2 }', "E0208"),
    ('distributed tensorflow { masters = 2 }', "E0208"),
    ('disruption_budget = 2', "E0208"),
    ('distributed tensorflow { workers = 1 }\n disruption_budget = 5', "E0208"),
    ('distributed tensorflow { workers = 1 }\n output x: string', "E0401"),
])
def test_distributed_errors(body: str, code: str) -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source(f'pipeline p {{ step a {{ image = "x"\n {body} }} }}')
    assert [d.code for d in failure.value.diagnostics] == [code]


def test_quota_counts_replicas_and_points_at_both() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source('pipeline p { quota { gpu = 4 }\n step a { image = "x"\n'
                       ' distributed pytorch { workers = 1 }\n resources { gpu = 8 } } }')
    (error,) = failure.value.diagnostics
    assert error.code == "E0209" and error.span.line == 2
    assert [label.span.line for label in error.secondary] == [1]


def test_quota_counts_the_executor_container() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source('pipeline p { quota { cpu = 4 }\n'
                       ' step a { image = "x" resources { cpu = 4 } } }')
    (error,) = failure.value.diagnostics
    assert error.code == "E0209" and "4.1 > 4" in error.message
    assert "executor container asks for 100m more" in error.help[0]
    compile_source('pipeline p { quota { cpu = 4 }\n'
                   ' step a { image = "x" resources { cpu = "3900m" } } }')
