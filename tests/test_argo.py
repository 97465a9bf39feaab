"""The Argo backend: structure of what it emits, and strict validation of every Workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file, compile_source
from cnai.backends.argo import literal
from cnai.context import Options
from cnai.driver import CompileFailed
from testpaths import COMPILING_EXAMPLES, EXAMPLES, FIXTURES, VALID_FIXTURES

VALID = VALID_FIXTURES


def workflow(path: Path, options: Options | None = None) -> dict[str, Any]:
    (document,) = yaml.safe_load_all(compile_file(path, "argo", options).text)
    return document  # type: ignore[no-any-return]


def tasks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    main = document["spec"]["templates"][0]
    assert main["name"] == document["spec"]["entrypoint"]
    return {t["name"]: t for t in main["dag"]["tasks"]}


def template(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in document["spec"]["templates"] if t["name"] == name)


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return workflow(EXAMPLES / "model_pipeline.cnai")


@pytest.mark.parametrize("path", COMPILING_EXAMPLES + VALID,
                         ids=[p.stem for p in COMPILING_EXAMPLES + VALID])
def test_every_workflow_validates_strictly(path: Path) -> None:
    schemacheck.assert_all_valid(list(yaml.safe_load_all(compile_file(path, "argo").text)))


def test_seed_gate_compares_numbers(seed: dict[str, Any]) -> None:
    deploy = tasks(seed)["deploy"]
    assert deploy["when"] == (
        "{{=asFloat(trim(tasks['evaluate'].outputs.parameters['accuracy'])) > "
        "asFloat(workflow.parameters['min_accuracy'])}}")
    assert deploy["depends"] == "evaluate.Succeeded && train.Succeeded"


def test_seed_train_resources_retry_and_mount(seed: dict[str, Any]) -> None:
    train = template(seed, "train")
    assert train["container"]["resources"] == {
        "limits": {"nvidia.com/gpu": "8", "cpu": "32", "memory": "128Gi"}}
    assert train["retryStrategy"] == {"limit": "3", "retryPolicy": "Always",
                                      "backoff": {"duration": "1m"}}
    assert {"name": "imagenet", "mountPath": "/cache/imagenet", "readOnly": True} in train[
        "container"]["volumeMounts"]
    assert train["container"]["command"][3] == "{{inputs.parameters.epochs}}"
    assert train["outputs"] == {"artifacts": [{"name": "model", "path": "/cnai/outputs/model"}]}


def test_seed_preload_precedes_the_steps_that_mount(seed: dict[str, Any]) -> None:
    dag = tasks(seed)
    assert "depends" not in dag["preload-imagenet"]
    assert dag["validate"]["depends"] == "preload-imagenet.Succeeded"
    # train waits for validate, which waits for the preload: reduce_edges drops the
    # direct edge, so train still starts only after the data set is loaded.
    assert dag["train"]["depends"] == "validate.Succeeded"
    assert "preload-imagenet" not in dag["evaluate"].get("depends", "")
    preload = template(seed, "preload-imagenet")
    assert preload["container"]["image"] == "ghcr.io/cnai-dev/cnai-preload:0.1.0"
    assert preload["container"]["volumeMounts"] == [
        {"name": "imagenet", "mountPath": "/cache/imagenet"}]
    assert dag["preload-imagenet"]["arguments"]["parameters"] == [
        {"name": "data_uri", "value": "{{workflow.parameters.data_uri}}"}]
    (claim,) = seed["spec"]["volumeClaimTemplates"]
    assert claim == {"metadata": {"name": "imagenet"}, "spec": {
        "accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "500Gi"}}}}
    # Only the steps that mount the data set see it.
    assert "volumeMounts" not in template(seed, "deploy")["container"]


def claims_deleted(spec: dict[str, Any], phase: str) -> bool:
    """Whether Argo deletes the run's claims when the Workflow ends in ``phase``: the
    controller's deletePVCs (workflow/controller/operator.go) with GetVolumeClaimGC's default
    of OnWorkflowSuccess (pkg/apis/workflow/v1alpha1/workflow_types.go)."""
    strategy = spec.get("volumeClaimGC", {}).get("strategy", "OnWorkflowSuccess")
    if strategy == "OnWorkflowSuccess":
        return phase == "Succeeded"
    assert strategy == "OnWorkflowCompletion", strategy  # anything else fails the controller
    return True


@pytest.mark.parametrize("phase", ["Succeeded", "Failed", "Error"])
def test_a_runs_claims_are_deleted_whatever_its_outcome(seed: dict[str, Any],
                                                        phase: str) -> None:
    # A failed run must not keep its 500Gi claim until the Workflow is deleted; Kubeflow's
    # DeletePVC exit task deletes it after a failure too (test_kfp.py).
    assert seed["spec"]["volumeClaimTemplates"]
    assert claims_deleted(seed["spec"], phase)


def test_seed_artifact_is_passed_by_reference(seed: dict[str, Any]) -> None:
    evaluate = tasks(seed)["evaluate"]
    assert evaluate["arguments"] == {"artifacts": [
        {"name": "train_model", "from": "{{tasks.train.outputs.artifacts.model}}"}]}
    body = template(seed, "evaluate")
    assert body["inputs"] == {"artifacts": [{"name": "train_model",
                                             "path": "/cnai/inputs/train_model"}]}
    assert body["container"]["command"][3] == "/cnai/inputs/train_model"
    assert body["outputs"]["parameters"] == [
        {"name": "accuracy", "valueFrom": {"path": "/cnai/outputs/accuracy"}}]


def test_runtime_contract_env(seed: dict[str, Any]) -> None:
    env = {e["name"]: e["value"] for e in template(seed, "train")["container"]["env"]}
    assert env == {"CNAI_OUTPUTS_DIR": "/cnai/outputs",
                   "CNAI_INPUT_EPOCHS": "{{inputs.parameters.epochs}}"}
    env = {e["name"]: e["value"] for e in template(seed, "evaluate")["container"]["env"]}
    assert env["CNAI_INPUTS_DIR"] == "/cnai/inputs"
    assert template(seed, "preload-imagenet")["securityContext"] == {"fsGroup": 10001}


def test_seed_params_are_workflow_arguments(seed: dict[str, Any]) -> None:
    assert seed["spec"]["arguments"]["parameters"] == [
        {"name": "data_uri", "value": "s3://datasets/imagenet"},
        {"name": "min_accuracy", "value": "0.9"}, {"name": "epochs", "value": "90"}]
    assert seed["metadata"]["generateName"] == "model-pipeline-"


@pytest.fixture(scope="module")
def features() -> dict[str, Any]:
    return workflow(FIXTURES / "valid" / "features.cnai",
                    Options(image_registry="registry.example.com/ml", image_tag="1.2.3",
                            gpu_label_key="cloud.example.com/gpu"))


def test_gpu_type_env_secret_cache_timeout(features: dict[str, Any]) -> None:
    train = template(features, "train-small")
    assert train["nodeSelector"] == {"cloud.example.com/gpu": "NVIDIA-A100-SXM4-80GB"}
    assert train["activeDeadlineSeconds"] == "5400"
    assert train["retryStrategy"]["backoff"] == {"duration": "30s", "factor": "2"}
    prepare = template(features, "prepare")
    env = {e["name"]: e for e in prepare["container"]["env"]}
    assert env["WANDB_API_KEY"] == {"name": "WANDB_API_KEY", "valueFrom": {
        "secretKeyRef": {"name": "wandb", "key": "api-key"}}}
    assert env["STAGE"]["value"] == "{{inputs.parameters.stage}}"
    memo = prepare["memoize"]
    assert memo["cache"] == {"configMap": {"name": "cnai-cache"}}
    assert memo["key"].startswith("{{=sprig.sha256sum(toJson([")
    assert "inputs.parameters['batch']" in memo["key"]
    assert template(features, "preload-train-data")["container"]["image"] == (
        "registry.example.com/ml/cnai-preload:1.2.3")


def test_fixed_output_path_and_pvc_source(features: dict[str, Any]) -> None:
    prepare = template(features, "prepare")
    assert {"name": "stats", "path": "/tmp/stats.json"} in prepare["outputs"]["artifacts"]
    preload = template(features, "preload-reference")
    assert {"name": "cnai-source", "persistentVolumeClaim": {
        "claimName": "shared-claim", "readOnly": True}} in preload["volumes"]
    assert {"name": "cnai-source", "mountPath": "/cnai/source/shared-claim",
            "readOnly": True} in preload["container"]["volumeMounts"]


TRUTHS = "['1', 't', 'T', 'TRUE', 'true', 'True']"  # Go's strconv.ParseBool


def test_gate_keeps_every_operand_and_escapes_strings(features: dict[str, Any]) -> None:
    when = tasks(features)["publish-model"]["when"]
    assert when == (
        "{{=((asFloat(trim(tasks['train-small'].outputs.parameters['loss'])) < 0.5) && "
        "(tasks['train-small'].outputs.parameters['status'] == "
        '"it\\u0027s \\u0022done\\u0022")) || '
        f"(!((trim(tasks['train-small'].outputs.parameters['ok']) in {TRUTHS}))) || "
        f"((workflow.parameters['publish'] in {TRUTHS}) == true)}}}}")


def test_outputs_of_skippable_steps_have_defaults(features: dict[str, Any]) -> None:
    train = template(features, "train-small")
    assert all("default" not in p["valueFrom"] for p in train["outputs"]["parameters"])
    source = ('pipeline p { param go: bool = true\n'
              ' step a when go { image = "x" output v: string }\n'
              ' step b { image = "x" command = [a.v] output w: string } }')
    (document,) = yaml.safe_load_all(compile_source(source).text)
    for name in ("a", "b"):
        (param,) = template(document, name)["outputs"]["parameters"]
        assert param["valueFrom"]["default"] == ""


@pytest.mark.parametrize("value, rendered", [
    ("plain", '"plain"'), ("it's", '"it\\u0027s"'), ('a"b', '"a\\u0022b"'),
    ("back\\slash", '"back\\u005cslash"'), ("}}{{", '"\\u007d\\u007d\\u007b\\u007b"'),
    ("line\nbreak", '"line\\u000abreak"'), (0.5, "0.5"), (3, "3"), (True, "true"),
])
def test_expr_literals_cannot_escape(value: object, rendered: str) -> None:
    assert literal(value) == rendered  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ['command = ["echo {{x}}"]', 'image = "x{{y}}"'])
def test_double_braces_in_text_are_refused(field: str) -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source(f'pipeline p {{ step a {{ image = "x" {field} }} }}')
    assert [d.code for d in failure.value.diagnostics] == ["E0208"]


def test_template_names_never_clash_with_the_entrypoint() -> None:
    (document,) = yaml.safe_load_all(compile_source(
        'pipeline p { step main { image = "x" } step main_2 { image = "y" } }').text)
    names = [t["name"] for t in document["spec"]["templates"]]
    assert names == ["main", "main-2", "main-2-2"]
    assert tasks(document)["main"]["template"] == "main-2"
    schemacheck.assert_valid(document)
