"""Placement and resources: node selectors, tolerations, node affinity, requests,
ephemeral storage, AMD GPUs, Cloud TPUs, extended resources, GPU counts from params, and spot
retries on Kubeflow; pipeline defaults overridden per step and per template; template sharing;
the quota check with requests; exact diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file
from cnai.diagnostics.render import render_text
from cnai.driver import CompileFailed, check_source, compile_source
from cnai.submit.params import GpuParam, check_gpu_quota, gpu_params_of
from cnai.usage import UsageError
from test_kfp_support import pipeline_spec, platform_spec
from testpaths import FIXTURES

PROD = FIXTURES / "valid" / "prod_placement.cnai"
ARGO_ONLY = FIXTURES / "valid" / "argo_placement.cnai"
PIPELINE_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
        "matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In",
             "values": ["us-east1-b", "us-east1-c"]},
            {"key": "example.com/draining", "operator": "DoesNotExist"}]}]},
    "preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 20, "preference": {"matchExpressions": [
            {"key": "cloud.google.com/machine-family", "operator": "In",
             "values": ["n2", "c3"]}]}}]}
PIPELINE_SELECTOR = {"kubernetes.io/os": "linux", "disktype": "ssd"}
PIPELINE_TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "ml",
                       "effect": "NoSchedule"}


def templates(path: Path) -> dict[str, dict[str, Any]]:
    documents = list(yaml.safe_load_all(compile_file(path, "argo").text))
    schemacheck.assert_all_valid(documents)
    (workflow,) = documents
    found = {t["name"]: t for t in workflow["spec"]["templates"]}
    tasks = {t["name"]: t["template"] for t in found["main"]["dag"]["tasks"]}
    return {task: found[template] for task, template in tasks.items()}


def kfp(path: Path | str) -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
    """The pipeline spec (parsed strictly), each task's executor config (as JSON, after
    parsing into kfp-kubernetes' KubernetesExecutorConfig) and each task's container."""
    result = (compile_file(path, "kfp") if isinstance(path, Path)
              else compile_source(path, "t.cnai", "kfp"))
    spec_doc, platform_doc = result.documents
    spec = pipeline_spec(spec_doc)
    platform_spec(platform_doc)
    executors = platform_doc["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    configs, containers = {}, {}
    for name, task in spec_doc["root"]["dag"]["tasks"].items():
        executor = spec_doc["components"][task["componentRef"]["name"]]["executorLabel"]
        configs[name] = executors.get(executor, {})
        containers[name] = spec_doc["deploymentSpec"]["executors"][executor]["container"]
    return spec, configs, containers


# ---- Argo, field by field -----------------------------------------------------------------

def test_argo_pipeline_defaults_reach_a_step_without_its_own() -> None:
    prepare = templates(PROD)["prepare"]
    assert prepare["nodeSelector"] == PIPELINE_SELECTOR
    assert prepare["tolerations"] == [PIPELINE_TOLERATION]
    assert prepare["affinity"] == {"nodeAffinity": PIPELINE_AFFINITY}
    assert prepare["container"]["resources"] == {
        "limits": {"cpu": "2"}, "requests": {"cpu": "500m", "memory": "1Gi"}}


def test_argo_a_steps_own_settings_merge_or_replace_the_pipelines() -> None:
    """node_selector: key by key (the template's, then the step's, over the pipeline's);
    tolerations and node_affinity: the step's (or its template's) replace the pipeline's."""
    train = templates(PROD)["train"]
    assert train["nodeSelector"] == {"kubernetes.io/os": "linux", "disktype": "nvme",
                                     "cloud.google.com/gke-nodepool": "a100-pool"}
    assert train["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                     "effect": "NoSchedule"}]
    assert train["affinity"] == {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [{"key": "example.com/gpu-mem", "operator": "Gt",
                                  "values": ["40"]}]}]}}}
    assert train["container"]["resources"] == {
        "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "4", "memory": "24Gi"}}


def test_argo_accelerators_amd_and_tpu() -> None:
    found = templates(PROD)
    assert found["train-amd"]["container"]["resources"] == {"limits": {"amd.com/gpu": "2"}}
    tpu = found["train-tpu"]
    assert tpu["container"]["resources"] == {"limits": {"google.com/tpu": "4"}}
    assert tpu["nodeSelector"] == {**PIPELINE_SELECTOR,
                                   "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
                                   "cloud.google.com/gke-tpu-topology": "2x2"}


def test_argo_spot_adds_its_toleration_to_an_empty_list() -> None:
    evaluate = templates(PROD)["evaluate"]
    assert evaluate["tolerations"] == [{"key": "cloud.google.com/gke-spot", "operator": "Equal",
                                        "value": "true", "effect": "NoSchedule"}]
    assert evaluate["retryStrategy"] == {"limit": "3", "retryPolicy": "OnError"}


def test_argo_only_gpu_param_ephemeral_storage_and_devices() -> None:
    train = templates(ARGO_ONLY)["train"]
    assert train["container"]["resources"] == {
        "limits": {"ephemeral-storage": "200Gi", "rdma/hca_shared_devices_a": "1"},
        "requests": {"ephemeral-storage": "100Gi"}}
    assert yaml.safe_load(train["podSpecPatch"]) == {"containers": [{
        "name": "main", "resources": {"limits": {
            "nvidia.com/gpu": "{{inputs.parameters.n_gpus}}"}}}]}
    assert train["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}


# ---- Kubeflow, field by field -------------------------------------------------------------

def test_kfp_executor_configs_parse_and_carry_placement() -> None:
    spec, configs, containers = kfp(PROD)
    prepare = configs["prepare"]
    assert prepare["nodeSelector"] == {"labels": PIPELINE_SELECTOR}
    assert prepare["tolerations"] == [PIPELINE_TOLERATION]
    # `required` is one term (its expressions ANDed); each preference a weighted term.
    assert prepare["nodeAffinity"] == [
        PIPELINE_AFFINITY["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0],
        {**PIPELINE_AFFINITY["preferredDuringSchedulingIgnoredDuringExecution"][0]
         ["preference"], "weight": 20}]
    assert containers["prepare"]["resources"] == {
        "cpuLimit": 2.0, "resourceCpuLimit": "2", "cpuRequest": 0.5,
        "resourceCpuRequest": "500m", "memoryRequest": 1.073741824,
        "resourceMemoryRequest": "1Gi"}
    assert configs["train"]["nodeSelector"]["labels"]["disktype"] == "nvme"
    assert configs["train"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                                "effect": "NoSchedule"}]
    assert containers["train-amd"]["resources"]["accelerator"] == {
        "resourceType": "amd.com/gpu", "resourceCount": "2", "type": "amd.com/gpu",
        "count": "2"}
    assert containers["train-tpu"]["resources"]["accelerator"]["resourceType"] == (
        "google.com/tpu")
    assert configs["train-tpu"]["nodeSelector"]["labels"][
        "cloud.google.com/gke-tpu-topology"] == "2x2"
    retry = spec.root.dag.tasks["evaluate"].retry_policy
    assert retry.max_retry_count == 3  # a spot step without `retry`
    assert not spec.root.dag.tasks["prepare"].HasField("retry_policy")


@pytest.mark.parametrize(("resources", "refused"), [
    ('ephemeral_storage = "20Gi"', "ephemeral_storage"),
    ('devices { "rdma/hca_shared_devices_a" = 1 }', "devices"),
])
def test_kfp_refuses_what_its_resources_cannot_hold(resources: str, refused: str) -> None:
    source = f'pipeline p {{ step s {{ image = "i" resources {{ {resources} }} }} }}'
    with pytest.raises(CompileFailed) as failure:
        compile_source(source, "t.cnai", "kfp")
    (diagnostic,) = failure.value.diagnostics
    assert diagnostic.code == "E0401" and f"`resources {{ {refused} }}`" in diagnostic.message
    compile_source(source, "t.cnai", "argo")  # Argo takes it


def test_kfp_refuses_a_gpu_count_from_a_param() -> None:
    source = ('pipeline p { param n: int = 1 '
              'step s { image = "i" resources { gpu = n } } }')
    with pytest.raises(CompileFailed) as failure:
        compile_source(source, "t.cnai", "kfp")
    (diagnostic,) = failure.value.diagnostics
    assert diagnostic.code == "E0401" and "`gpu = n`" in diagnostic.message


def test_an_image_from_params() -> None:
    """Argo substitutes the template's image; KFP's driver only a whole-param image."""
    assert templates(ARGO_ONLY)["train"]["container"]["image"] == (
        "registry.example.com/train:{{inputs.parameters.tag}}")
    assert templates(PROD)["evaluate"]["container"]["image"] == (
        "{{inputs.parameters.eval_image}}")
    _, _, containers = kfp(PROD)
    assert containers["evaluate"]["image"] == "{{$.inputs.parameters['eval_image']}}"
    with pytest.raises(CompileFailed) as failure:
        compile_file(ARGO_ONLY, "kfp")
    assert [d.code for d in failure.value.diagnostics] == ["E0401"]  # one per step


# ---- training jobs and services -----------------------------------------------------------

JOB = """\
pipeline p {
  node_selector { pool = "train" }
  tolerations = ["dedicated=ml:NoSchedule"]
  node_affinity { required = ["zone in (a)"] }
  step t {
    image = "trainer"
    distributed pytorch { workers = 2 }
    resources { gpu = 1  cpu_request = 2  devices { "rdma/hca_shared_devices_a" = 1 } }
  }
  service api after t { image = "server" }
}
"""


def pod_specs(node: Any) -> list[dict[str, Any]]:
    """Every pod spec in ``node``, also inside manifests held as text (Argo's resource
    templates, KFP's launcher arguments)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "containers" in node:
            found.append(node)
        for value in node.values():
            found += pod_specs(value)
    elif isinstance(node, list):
        for value in node:
            found += pod_specs(value)
    elif isinstance(node, str) and "apiVersion" in node:
        found += pod_specs(yaml.safe_load(node))
    return found


@pytest.mark.parametrize("target", ["argo", "kfp"])
def test_training_jobs_and_services_are_placed_too(target: str) -> None:
    specs = pod_specs(compile_source(JOB, "t.cnai", target).documents)
    assert len(specs) == 3  # the master's, the workers' and the Knative revision's
    for spec in specs:
        assert spec["nodeSelector"] == {"pool": "train"}
        assert spec["tolerations"][0]["key"] == "dedicated"
        assert "requiredDuringSchedulingIgnoredDuringExecution" in spec["affinity"][
            "nodeAffinity"]
    replica = specs[0]["containers"][0]["resources"]
    assert replica == {"limits": {"nvidia.com/gpu": "1", "rdma/hca_shared_devices_a": "1"},
                       "requests": {"cpu": "2"}}


def test_a_knative_revision_is_placed() -> None:
    import json

    (workflow,) = compile_source(JOB, "t.cnai", "argo").documents
    manifests = [yaml.safe_load(t["resource"]["manifest"]) for t in workflow["spec"]["templates"]
                 if "resource" in t]
    service = next(m for m in manifests if m["kind"] == "Service")
    spec = service["spec"]["template"]["spec"]
    schemacheck.assert_valid(service)
    assert spec["nodeSelector"] == {"pool": "train"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert json.dumps(spec["affinity"])  # present


# ---- template sharing ---------------------------------------------------------------------

@pytest.mark.parametrize("differs", [
    'node_selector { disktype = "nvme" }', 'tolerations = ["a=b:NoSchedule"]',
    'node_affinity { required = ["zone in (b)"] }', 'resources { cpu_request = "1" }',
    'resources { gpu = 1  gpu_vendor = "amd" }', "resources { tpu = 1 }"])
def test_steps_that_differ_in_placement_do_not_share(differs: str) -> None:
    same = 'image = "i" command = ["run"]'
    source = (f"pipeline p {{ node_selector {{ disktype = \"ssd\" }} "
              f"step a {{ {same} }} step b {{ {same} }} step c {{ {same} {differs} }} }}")
    (workflow,) = compile_source(source, "t.cnai", "argo").documents
    main = workflow["spec"]["templates"][0]
    used = {t["name"]: t["template"] for t in main["dag"]["tasks"]}
    assert used["a"] == used["b"] != used["c"]


# ---- the quota check ----------------------------------------------------------------------

def codes(source: str) -> list[str]:
    try:
        diagnostics, _ = check_source(source, "t.cnai")
    except CompileFailed as failure:
        diagnostics = failure.diagnostics
    return [d.code for d in diagnostics]


def test_the_quota_counts_requests_where_given() -> None:
    step = 'step s {{ image = "i" resources {{ cpu = 8 {request} }} }}'
    quota = "quota { cpu = 4 }"
    assert codes(f"pipeline p {{ {quota} {step.format(request='cpu_request = 1')} }}") == []
    assert codes(f"pipeline p {{ {quota} {step.format(request='')} }}") == ["E0209"]


def test_the_quota_counts_nvidia_gpus_only() -> None:
    step = 'step s { image = "i" resources { gpu = 8  gpu_vendor = "amd" } }'
    assert codes(f"pipeline p {{ quota {{ gpu = 4 }} {step} }}") == []


def test_a_gpu_param_is_checked_with_its_default_and_at_submit() -> None:
    source = ('pipeline p {{ param n: int{default} quota {{ gpu = 4 }} '
              'step s {{ image = "i" resources {{ gpu = n }} }} }}')
    assert codes(source.format(default=" = 2")) == []
    assert codes(source.format(default=" = 8")) == ["E0209"]
    assert codes(source.format(default="")) == ["E0208"]
    graph = compile_source(source.format(default=" = 2"), "t.cnai", "argo").graph
    assert graph is not None
    checks = gpu_params_of(graph)
    assert checks == (GpuParam("s", "n", 4.0),)
    check_gpu_quota({"n": 4}, checks)
    with pytest.raises(UsageError, match=r"E0209: -p n=5: step `s` would ask for 5"):
        check_gpu_quota({"n": 5}, checks)


def test_a_gpu_count_from_a_param_is_for_a_steps_own_pod() -> None:
    source = ('pipeline p { param n: int = 1 step s { image = "i" resources { gpu = n } '
              "distributed pytorch { workers = 2 } } }")
    assert codes(source) == ["E0401"]


# ---- exact diagnostics --------------------------------------------------------------------

def render(source: str) -> str:
    try:
        diagnostics, sources = check_source(source, "p.cnai")
    except CompileFailed as failure:
        diagnostics, sources = failure.diagnostics, failure.sources
    return render_text(diagnostics, sources)


def test_a_bad_toleration_is_reported_at_its_string() -> None:
    source = 'pipeline p {\n  tolerations = ["gpu:NoSchedul"]\n  step s { image = "i" }\n}\n'
    assert render(source) == (
        'error[E0208]: invalid toleration "gpu:NoSchedul": its effect `NoSchedul` is not one '
        "of `NoSchedule`, `PreferNoSchedule`, `NoExecute`\n"
        " --> p.cnai:2:18\n"
        "  |\n"
        '2 |   tolerations = ["gpu:NoSchedul"]\n'
        "  |                  ^^^^^^^^^^^^^^^ not a taint\n"
        '  = help: write a taint as `kubectl taint` does: "KEY", "KEY=VALUE", "KEY:EFFECT" or '
        '"KEY=VALUE:EFFECT", the effect one of NoSchedule, PreferNoSchedule, NoExecute\n'
        "\n1 error\n")


def test_a_bad_affinity_expression_is_reported_at_its_string() -> None:
    source = ('pipeline p {\n  step s {\n    image = "i"\n'
              '    node_affinity { required = ["zone = a"] }\n  }\n}\n')
    text = render(source)
    assert text.startswith('error[E0208]: invalid node affinity expression "zone = a"\n'
                           " --> p.cnai:4:33\n")
    assert "= help: write `KEY in (A, B)`" in text


def test_a_selector_that_contradicts_gpu_type_is_reported_at_its_key() -> None:
    source = ('pipeline p {\n  step s {\n    image = "i"\n    resources { gpu = 1  '
              'gpu_type = "a100" }\n    node_selector { "nvidia.com/gpu.product" = "h100" }\n'
              "  }\n}\n")
    text = render(source)
    assert text.startswith(
        'error[E0208]: node selector `nvidia.com/gpu.product` is "h100" but `gpu_type` '
        'selects "a100"\n --> p.cnai:5:21\n')


def test_a_request_above_its_limit_names_both() -> None:
    source = ('pipeline p {\n  step s {\n    image = "i"\n'
              '    resources { memory = "1Gi"  memory_request = "2Gi" }\n  }\n}\n')
    text = render(source)
    assert text.startswith("error[E0208]: `memory_request` 2Gi is above the `memory` limit "
                           "1Gi\n --> p.cnai:4:50\n")
    assert "the limit" in text


@pytest.mark.parametrize("target", ["argo", "kfp"])
def test_a_preload_step_is_placed_as_the_pipeline(target: str) -> None:
    source = ('pipeline p { tolerations = ["dedicated=ml:NoSchedule"] '
              'node_selector { pool = "ml" } '
              'dataset d { source = "s3://b/x" path = "/data" size = "1Gi" } '
              'step s { image = "i" mount d tolerations = [] } }')
    specs = [spec for spec in _pods(compile_source(source, "t.cnai", target).documents)
             if spec.get("nodeSelector")]
    assert len(specs) == 2  # the preload's and s's
    assert [spec.get("tolerations") for spec in specs].count(None) == 1  # s cleared its own


def _pods(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Argo's container templates, or KFP's executor configs."""
    if "spec" in documents[0]:
        return [t for t in documents[0]["spec"]["templates"] if "container" in t]
    config = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return [{"nodeSelector": c.get("nodeSelector"), "tolerations": c.get("tolerations")}
            for c in config.values()]


# hera serialises requests with pydantic v1's `.json()` (as tests/test_submit_argo.py says).
@pytest.mark.filterwarnings("ignore:The `json` method is deprecated:DeprecationWarning")
def test_cnai_submit_checks_a_gpu_param_before_sending(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    from fakes.argo_server import ArgoServer
    from fakes.support import hermetic, submit, write

    hermetic(monkeypatch)
    path = write(tmp_path, 'pipeline p { param n: int = 2  quota { gpu = 4 } '
                           'step s { image = "i" resources { gpu = n } } }')
    with ArgoServer() as argo:
        refused = submit(capsys, path, "--server", argo.url, "-p", "n=8")
        assert refused.code != 0 and "error: E0209: -p n=8" in refused.err
        assert not argo.workflows  # nothing was sent
        accepted = submit(capsys, path, "--server", argo.url, "-p", "n=4")
        assert accepted.code == 0, accepted.err
        assert len(argo.workflows) == 1
