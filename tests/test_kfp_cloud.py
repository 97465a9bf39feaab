"""Cloud-native constructs on Kubeflow: training jobs and disruption budgets by the launcher
image, services by the deploy image, Fluid data sets, scheduling, quotas. Every object the
images will create is taken out of their arguments, its tokens filled in as the images fill
them, and validated strictly against the schema of its kind."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import components

import schemacheck
from cnai import compile_file, compile_source
from cnai.backends import kfp
from cnai.context import CompileContext
from cnai.driver import CompileFailed, analyze
from cnai.source import SourceFile
from k8s_expansion import expand
from k8s_rules import admitted_resources
from test_kfp_support import FIXTURES, find_task, pipeline_spec, platform_spec, yaml_documents
from testpaths import EXAMPLES

RUN = "4bd1e2d6-5b1a-4c2b-9f3e-8d5a0c1b2e3f"
NAMESPACE = "ml-team"
Doc = dict[str, Any]


def fill(obj: Any, values: dict[str, str]) -> Any:
    """Tokens filled in as cnai_launcher.tokens does (one pass; unknown tokens stay)."""
    text = json.dumps(obj)
    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                  lambda m: json.dumps(values.get(m.group(1), m.group(0)))[1:-1], text)
    return json.loads(text)


def arguments(args: list[str], flag: str) -> list[str]:
    """The values of ``flag`` as the image reads them: after the kubelet's ``$`` expansion
    (the image's container sets no env)."""
    return [expand(args[i + 1], {}) for i, arg in enumerate(args) if arg == flag]


def sets(args: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in arguments(args, "--set"))


def tokens(args: list[str], parameters: dict[str, str]) -> dict[str, str]:
    """The token values the image gets, with KFP's placeholders filled in from ``parameters``."""
    def resolved(text: str) -> str:
        return re.sub(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}",
                      lambda m: parameters[m.group(1)], text)

    values = {name: resolved(value) for name, value in sets(args).items()}
    (run,) = arguments(args, "--run-id")
    run_id = resolved(run)
    return {**values, "CNAI_RUN_ID": run_id, "CNAI_NAMESPACE": NAMESPACE,
            "CNAI_RUN_SHORT": "".join(c for c in run_id.lower() if c.isalnum())[:8]}


def container(doc: Doc, name: str) -> Doc:
    return doc["deploymentSpec"]["executors"][f"exec-{name}"]["container"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def resnet() -> list[Doc]:
    result = compile_file(EXAMPLES / "cloud_native.cnai", "kfp")
    assert [w.code for w in result.warnings] == []  # 8 x 8 GPUs: the whole 64-GPU quota
    return result.documents


@pytest.fixture(scope="module")
def cloud() -> list[Doc]:
    return compile_file(FIXTURES / "cloud.cnai", "kfp").documents


# ---- the LANGUAGE.md example ---------------------------------------------------------------------

def test_cloud_native_loads_and_parses_strictly(resnet: list[Doc], tmp_path: Path) -> None:
    assert len(resnet) == 1  # no task needs kfp-kubernetes settings
    pipeline_spec(resnet[0])
    out = tmp_path / "resnet.yaml"
    out.write_text(compile_file(EXAMPLES / "cloud_native.cnai", "kfp").text)
    assert components.load_component_from_file(str(out)).name == "resnet"


def test_train_is_a_launcher_task_creating_a_tfjob(resnet: list[Doc]) -> None:
    spec = resnet[0]
    launcher = container(spec, "train")
    assert launcher["image"] == "ghcr.io/cnai-dev/cnai-launcher:0.1.0"
    assert launcher["command"] == ["python", "-m", "cnai_launcher"]
    args = launcher["args"]
    assert arguments(args, "--success-condition") == ["status.completionTime"]
    assert arguments(args, "--failure-condition") == [", ".join(
        f"status.conditions.{slot}.type == Failed" for slot in range(5))]
    assert "--delete-on-exit" in args
    # The run's id: a task input whose constant the driver replaces with the run's uuid.
    _, task = find_task(spec, "train")
    assert task["inputs"]["parameters"]["cnai-run-id"] == {
        "runtimeValue": {"constant": "{{$.pipeline_job_uuid}}"}}
    assert arguments(args, "--run-id") == ["{{$.inputs.parameters['cnai-run-id']}}"]
    values = tokens(args, {"cnai-run-id": RUN})
    (manifest,) = arguments(args, "--manifest-text")
    job = fill(json.loads(manifest), values)
    schemacheck.assert_valid(job)
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    replicas = job["spec"]["tfReplicaSpecs"]
    assert {t: r["replicas"] for t, r in replicas.items()} == {"Chief": 1, "Worker": 7}
    for replica in replicas.values():
        pod = replica["template"]["spec"]
        (box,) = pod["containers"]
        assert box["resources"] == {"limits": {"nvidia.com/gpu": "8"}}
        assert box["command"] == ["python", "train.py"]
        assert pod["schedulerName"] == "volcano" and pod["priorityClassName"] == "high"
        assert pod["nodeSelector"] == {"cloud.google.com/gke-spot": "true"}
        assert replica["template"]["metadata"]["labels"]["cnai.dev/run"] == RUN
    assert job["spec"]["runPolicy"]["schedulingPolicy"] == {
        "minAvailable": 8, "queue": "training", "priorityClass": "high"}


def test_the_limit_range_caps_no_replica(resnet: list[Doc]) -> None:
    # The namespace's LimitRange (namespace_objects) applied to the TFJob the launcher creates.
    (limit_range,) = [o for o in kfp.namespace_objects(ir_of(EXAMPLES / "cloud_native.cnai"))
                      if o["kind"] == "LimitRange"]
    args = container(resnet[0], "train")["args"]
    job = fill(json.loads(arguments(args, "--manifest-text")[0]),
               tokens(args, {"cnai-run-id": RUN}))
    for replica in job["spec"]["tfReplicaSpecs"].values():
        (box,) = replica["template"]["spec"]["containers"]
        assert admitted_resources(box, limit_range)["limits"] == {"nvidia.com/gpu": "8"}


def test_the_disruption_budget_is_created_first_and_selects_the_jobs_pods(
        resnet: list[Doc]) -> None:
    args = container(resnet[0], "train")["args"]
    values = tokens(args, {"cnai-run-id": RUN})
    (budget_text,) = arguments(args, "--before-text")
    budget = fill(json.loads(budget_text), values)
    schemacheck.assert_valid(budget)
    assert budget["kind"] == "PodDisruptionBudget"
    assert budget["spec"]["minAvailable"] == 7
    job = fill(json.loads(arguments(args, "--manifest-text")[0]), values)
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector == {"cnai.dev/run": RUN, "cnai.dev/step": "train"}
    for replica in job["spec"]["tfReplicaSpecs"].values():
        assert selector.items() <= replica["template"]["metadata"]["labels"].items()


def service_objects(args: list[str], parameters: dict[str, str]) -> list[Doc]:
    (text,) = arguments(args, "--manifests-text")
    return [fill(doc, tokens(args, parameters)) for doc in yaml.safe_load_all(text)]


def test_the_service_is_a_deploy_task(resnet: list[Doc]) -> None:
    spec = resnet[0]
    deploy = container(spec, "resnet-api")
    assert deploy["image"] == "ghcr.io/cnai-dev/cnai-deploy:0.1.0"
    assert deploy["command"] == ["python", "-m", "cnai_deploy"]
    assert arguments(deploy["args"], "--timeout") == ["600"]
    _, task = find_task(spec, "resnet-api")
    assert task["dependentTasks"] == ["train"]
    service, rule, route = service_objects(deploy["args"], {"cnai-run-id": RUN})
    for obj in (service, rule, route):
        schemacheck.assert_valid(obj)
    assert service["kind"] == "Service" and service["metadata"]["name"] == "resnet-api-canary"
    revision = service["spec"]["template"]
    assert revision["spec"]["containerConcurrency"] == 100
    # <service>-<the run's first 8 letters and digits>: a DNS label, as on Argo.
    assert revision["metadata"]["name"] == "resnet-api-canary-4bd1e2d6"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", revision["metadata"]["name"])
    weights = [(r["destination"]["host"], r["weight"]) for r in route["spec"]["http"][0]["route"]]
    assert weights == [(f"resnet-api-canary.{NAMESPACE}.svc.cluster.local", 10),
                       (f"resnet-api.{NAMESPACE}.svc.cluster.local", 90)]
    assert rule["spec"]["host"] == f"resnet-api-canary-4bd1e2d6.{NAMESPACE}.svc.cluster.local"
    outlier = rule["spec"]["trafficPolicy"]["outlierDetection"]
    assert (outlier["consecutive5xxErrors"], outlier["baseEjectionTime"]) == (5, "30s")


def ir_of(path: Path) -> Any:
    return analyze(SourceFile(str(path), path.read_text()), CompileContext())


def test_the_quota_objects_are_kept_out_of_the_kfp_file() -> None:
    # kfp loads one or two documents only; the quota's objects are the Argo target's.
    objects = kfp.namespace_objects(ir_of(EXAMPLES / "cloud_native.cnai"))
    assert [o["kind"] for o in objects] == ["ResourceQuota", "LimitRange"]
    assert objects[0]["spec"]["hard"]["requests.nvidia.com/gpu"] == "64"
    for obj in objects:
        schemacheck.assert_valid(obj)


def test_schedule_is_left_to_submit(resnet: list[Doc]) -> None:
    assert "0 2 * * *" not in json.dumps(resnet[0])  # cnai submit makes a recurring run


# ---- Fluid, claims of training jobs, quotas on loops, scheduling ---------------------------------

def test_fluid_data_set_is_created_and_loaded_by_the_launcher(cloud: list[Doc]) -> None:
    spec, platform = cloud
    pipeline_spec(spec)
    platform_spec(platform)
    args = container(spec, "preload-corpus")["args"]
    values = tokens(args, {"cnai-run-id": RUN, "data_uri": "s3://bucket/corpus"})
    dataset = fill(json.loads(arguments(args, "--ensure-text")[0]), values)
    load = fill(json.loads(arguments(args, "--manifest-text")[0]), values)
    for obj in (dataset, load):
        schemacheck.assert_valid(obj)
    assert dataset["kind"] == "Dataset" and load["kind"] == "DataLoad"
    # Shared by runs under the data set's name, as on Argo: Fluid binds it to the runtime of
    # that name.
    assert dataset["metadata"]["name"] == load["spec"]["dataset"]["name"] == "corpus"
    assert dataset["spec"]["mounts"][0]["mountPoint"] == "s3://bucket/corpus"
    assert arguments(args, "--success-condition") == ["status.phase == Complete"]
    assert arguments(args, "--failure-condition") == ["status.phase == Failed"]
    index = args.index("--write")
    assert args[index + 1:index + 3] == ["{{$.outputs.parameters['name'].output_file}}",
                                         "corpus"]
    assert spec["components"]["comp-preload-corpus"]["outputDefinitions"] == {
        "parameters": {"name": {"parameterType": "STRING"}}}
    # Steps mount the Dataset's claim (Fluid names it after the Dataset) from that output.
    mount = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-prepare"]
    assert mount["pvcMount"][0]["pvcNameParameter"] == {"taskOutputParameter": {
        "producerTask": "preload-corpus", "outputParameterKey": "name"}}


def test_a_training_job_mounts_the_claim_and_reads_params_as_tokens(cloud: list[Doc]) -> None:
    spec = cloud[0]
    _, task = find_task(spec, "pretrain")
    assert task["inputs"]["parameters"]["cnai-claim-corpus"] == {"taskOutputParameter": {
        "producerTask": "preload-corpus", "outputParameterKey": "name"}}
    args = container(spec, "pretrain")["args"]
    assert sets(args) == {"CNAI_INPUT_LR": "{{$.inputs.parameters['lr']}}",
                          "CNAI_CLAIM_CORPUS": "{{$.inputs.parameters['cnai-claim-corpus']}}"}
    values = tokens(args, {"cnai-run-id": RUN, "lr": "0.001", "cnai-claim-corpus": "corpus-x"})
    job = fill(json.loads(arguments(args, "--manifest-text")[0]), values)
    schemacheck.assert_valid(job)
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "corpus", "persistentVolumeClaim": {
        "claimName": "corpus-x", "readOnly": True}}]
    (box,) = pod["containers"]
    assert box["command"] == ["torchrun", "train.py", "--lr", "0.001", "--data", "/data/corpus"]
    assert {"name": "LEARNING_RATE", "value": "0.001"} in box["env"]
    assert {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}}} in (
        box["env"])
    assert pod["priorityClassName"] == "batch" and pod["schedulerName"] == "volcano"
    # The job's own deadline (12h) fails it first; the wait is the backstop.
    assert job["spec"]["runPolicy"]["activeDeadlineSeconds"] == 43200
    assert arguments(args, "--timeout") == ["43320"]


def test_the_quota_bounds_a_loop_of_gpu_steps(cloud: list[Doc]) -> None:
    _, loop = find_task(cloud[0], "for-loop-1")
    assert loop["iteratorPolicy"] == {"parallelismLimit": 2}  # 8 GPUs, 3 per iteration


def test_nested_loops_share_the_quota() -> None:
    spec = compile_source("""
pipeline q {
  quota { gpu = 16 }
  param xs: list[int] = [1, 2, 3]
  for x in xs {
    step a { image = "i"  command = ["a", "${x}"]  resources { gpu = 4 } }
    for y in xs parallel 3 {
      step b { image = "i"  command = ["b", "${y}"]  resources { gpu = 2 } }
    }
  }
}""", "q.cnai", "kfp").documents[0]
    _, outer = find_task(spec, "for-loop-1")
    _, inner = find_task(spec, "for-loop-2")
    assert inner["iteratorPolicy"] == {"parallelismLimit": 3}  # 16 / 2 = 8, within parallel 3
    assert outer["iteratorPolicy"] == {"parallelismLimit": 1}  # 4 + 3 x 2 = 10 per iteration


def test_a_scheduler_on_a_tasks_own_pod_is_refused() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source("""
pipeline p {
  scheduling { priority = "batch" }
  step prepare { image = "x"  scheduling { priority = "urgent" } }
  step other { image = "x"  scheduling { scheduler = "volcano" } }
}""", "p.cnai", "kfp")
    assert [(d.code, d.message) for d in failure.value.diagnostics] == [(
        "E0401", "`scheduling` with a scheduler or a priority class applies to the pod of "
        "`prepare` and 1 more; Kubeflow sets neither on a task's pod (kfp-kubernetes' "
        "KubernetesExecutorConfig has no schedulerName or priorityClassName), only on the pods "
        "of distributed steps")]


WIDE = """
pipeline p {
  scheduling { scheduler = "volcano"  queue = "q" }
  step prep { image = "x" }
  step fit after prep { image = "x"  distributed pytorch { workers = 2 }  resources { gpu = 1 } }
  step report after fit { image = "x" }
}"""


def test_a_pipeline_wide_scheduler_places_the_jobs_and_warns_once_for_the_rest() -> None:
    result = compile_source(WIDE, "p.cnai", "kfp")
    (warning,) = result.warnings
    assert (warning.code, warning.message, warning.span.line) == (
        "W0403", "on Kubeflow, the pipeline's scheduler `volcano` applies only to the pods of "
        "distributed steps; `prep` and 1 more run without it, under the default scheduler", 3)
    spec = result.documents[0]
    args = container(spec, "fit")["args"]
    job = fill(json.loads(arguments(args, "--manifest-text")[0]),
               tokens(args, {"cnai-run-id": RUN}))
    schemacheck.assert_valid(job)
    assert job["spec"]["runPolicy"]["schedulingPolicy"] == {"minAvailable": 3, "queue": "q"}
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        assert replica["template"]["spec"]["schedulerName"] == "volcano"
    # The plain steps' pods: nothing names a scheduler for them.
    executors = spec["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-fit", "exec-prep"}  # report shares prep's
    assert "schedulerName" not in json.dumps(executors["exec-prep"])


def test_a_pipeline_wide_priority_alone_warns_without_the_scheduler() -> None:
    result = compile_file(FIXTURES.parent / "valid" / "cloud.cnai", "kfp")
    assert [(w.code, w.message) for w in result.warnings] == [(
        "W0403", "on Kubeflow, the pipeline's priority class `batch` applies only to the pods "
        "of distributed steps; `prepare` runs without it")]


def test_artifacts_cannot_reach_a_training_jobs_pods() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source("""
pipeline p {
  step make { image = "i"  command = ["m", outputs.m]  output m: model }
  step fit { image = "i"  command = ["f", make.m]  distributed pytorch { workers = 2 } }
}""", "p.cnai", "kfp")
    assert [d.message for d in failure.value.diagnostics if d.code == "E0401"] == [
        "`fit` reads the artifact `make_m`; a distributed step's pods are made by Kubernetes, "
        "not Kubeflow, so Kubeflow cannot place artifacts in them"]


def test_output_is_deterministic_and_round_trips(cloud: list[Doc]) -> None:
    text = compile_file(FIXTURES / "cloud.cnai", "kfp").text
    assert yaml_documents(text) == cloud
    assert text == compile_file(FIXTURES / "cloud.cnai", "kfp").text
