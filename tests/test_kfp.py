"""The Kubeflow Pipelines target: what a KFP user gets from `cnai compile --target kfp`.

Every emitted document is parsed with kfp's own protos, unknown fields rejected; conditions are
evaluated with cel-python the way KFP's driver binds them (test_kfp_support.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kfp import components

from cnai import compile_file
from cnai.context import Options
from cnai.driver import CompileFailed
from test_kfp_support import (
    EXAMPLES_DIR,
    FIXTURES,
    ROOT,
    Doc,
    compile_path,
    compile_text,
    evaluate,
    find_task,
    group_of,
    pipeline_spec,
    platform_spec,
    step_command,
    yaml_documents,
)

# Every example of LANGUAGE.md.
EXAMPLES = ["model_pipeline", "sweep", "cloud_native"]
SOURCES = [EXAMPLES_DIR / f"{name}.cnai" for name in EXAMPLES] + sorted(FIXTURES.glob("*.cnai"))
CLI = [sys.executable, "-m", "cnai"]


@pytest.fixture(scope="module")
def seed() -> list[Doc]:
    return compile_path(EXAMPLES_DIR / "model_pipeline.cnai")


def cli_compile(source: Path, out: Path, seed_value: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed_value}
    return subprocess.run([*CLI, "compile", str(source), "--target", "kfp", "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)


# ---- validity -----------------------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_output_parses_into_kfp_protos(source: Path) -> None:
    text = compile_file(source, "kfp").text
    components.load_component_from_text(text)  # kfp loads a pipeline YAML as a component
    documents = yaml_documents(text)
    spec = pipeline_spec(documents[0])
    assert spec.schema_version == "2.1.0"
    assert spec.sdk_version == "cnai-0.1.0"
    if len(documents) == 2:
        executors = platform_spec(documents[1])
        assert executors and set(executors) <= set(documents[0]["deploymentSpec"]["executors"])
    else:
        assert source.stem in ("gates", "sweep", "cloud_native"), (
            "only these need no Kubernetes config")


def test_cli_output_loads_as_a_kfp_component(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.yaml"
    assert cli_compile(EXAMPLES_DIR / "model_pipeline.cnai", out).returncode == 0
    component = components.load_component_from_file(str(out))
    assert component.name == "model-pipeline"
    assert {n: i.type for n, i in component.component_spec.inputs.items()} == {
        "data_uri": "String", "min_accuracy": "Float", "epochs": "Integer"}


def test_output_is_byte_identical_across_runs(tmp_path: Path) -> None:
    outputs = []
    for seed_value in ("1", "2"):
        out = tmp_path / f"run{seed_value}.yaml"
        assert cli_compile(EXAMPLES_DIR / "model_pipeline.cnai", out, seed_value).returncode == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] == (ROOT / "tests/golden/model_pipeline.kfp.yaml").read_bytes()


# ---- the seed pipeline ----------------------------------------------------------------------

def test_seed_params_keep_their_types_and_defaults(seed: list[Doc]) -> None:
    assert seed[0]["root"]["inputDefinitions"]["parameters"] == {
        "data_uri": {"parameterType": "STRING", "defaultValue": "s3://datasets/imagenet",
                     "isOptional": True},
        "min_accuracy": {"parameterType": "NUMBER_DOUBLE", "defaultValue": 0.9,
                         "isOptional": True},
        "epochs": {"parameterType": "NUMBER_INTEGER", "defaultValue": 90, "isOptional": True}}
    assert seed[0]["pipelineInfo"] == {"name": "model-pipeline",
                                       "description": "AI model full lifecycle"}


def test_seed_deploy_sits_in_a_condition_group_that_evaluates_right(seed: list[Doc]) -> None:
    spec = seed[0]
    group, task = group_of(spec, "deploy")
    assert group == "condition-2"
    assert task["dependentTasks"] == ["evaluate", "train"]
    condition = task["triggerPolicy"]["condition"]
    assert condition == ("inputs.parameter_values['pipelinechannel--evaluate-accuracy'] > "
                         "inputs.parameter_values['pipelinechannel--min_accuracy']")
    assert task["inputs"]["parameters"] == {
        "pipelinechannel--evaluate-accuracy": {"taskOutputParameter": {
            "producerTask": "evaluate", "outputParameterKey": "accuracy"}},
        "pipelinechannel--min_accuracy": {"componentInputParameter":
                                          "pipelinechannel--min_accuracy"}}

    def runs(accuracy: float, minimum: float) -> bool:
        return evaluate(condition, {"pipelinechannel--evaluate-accuracy": accuracy,
                                    "pipelinechannel--min_accuracy": minimum})

    assert runs(0.95, 0.9)
    assert not runs(0.5, 0.9)
    assert not runs(0.9, 0.9)


def test_seed_train_asks_for_8_gpus(seed: list[Doc]) -> None:
    container = seed[0]["deploymentSpec"]["executors"]["exec-train"]["container"]
    # kfp 2.17.3 writes the parameterisable fields and, for older backends, the numeric ones.
    assert container["resources"] == {
        "accelerator": {"resourceType": "nvidia.com/gpu", "resourceCount": "8",
                        "type": "nvidia.com/gpu", "count": "8"},
        "resourceCpuLimit": "32", "cpuLimit": 32.0,
        "resourceMemoryLimit": "128Gi", "memoryLimit": 137.438953472}


def test_seed_steps_use_kfp_placeholders(seed: list[Doc]) -> None:
    executors = seed[0]["deploymentSpec"]["executors"]
    assert step_command(executors["exec-train"]["container"]["command"]) == [
        "python", "train.py", "--epochs", "{{$.inputs.parameters['epochs']}}", "--out",
        "{{$.outputs.artifacts['model'].path}}"]
    assert step_command(executors["exec-evaluate"]["container"]["command"])[3:] == [
        "{{$.inputs.artifacts['train_model'].path}}", "--out",
        "{{$.outputs.parameters['accuracy'].output_file}}"]
    assert executors["exec-preload-imagenet"]["container"]["image"] == (
        "ghcr.io/cnai-dev/cnai-preload:0.1.0")
    # No CNAI_OUTPUTS_DIR on KFP: the runtime contract is the command's prefix.
    assert "env" not in executors["exec-train"]["container"]
    assert executors["exec-train"]["container"]["command"][:5] == [
        "sh", "-c", 'export CNAI_OUTPUTS="${1}" CNAI_INPUTS="${2}" CNAI_INPUT_EPOCHS="${3}"; '
        'shift 3; exec "$@"', "cnai-step", '{"model":"{{$.outputs.artifacts[\'model\'].path}}"}']


def test_seed_data_flows_and_dependencies(seed: list[Doc]) -> None:
    spec = seed[0]
    _, evaluate_task = find_task(spec, "evaluate")
    assert evaluate_task["inputs"]["artifacts"] == {"train_model": {"taskOutputArtifact": {
        "producerTask": "train", "outputArtifactKey": "model"}}}
    assert evaluate_task["dependentTasks"] == ["train"]
    _, train = find_task(spec, "train")
    assert train["dependentTasks"] == ["validate"]  # reduce_edges: validate waits for preload
    assert train["retryPolicy"] == {"maxRetryCount": 3, "backoffDuration": "60s",
                                    "backoffFactor": 1.0, "backoffMaxDuration": "2147483647s"}
    assert train["cachingOptions"] == {"enableCache": False}
    assert spec["components"]["comp-train"] == {
        "executorLabel": "exec-train",
        "inputDefinitions": {"parameters": {"epochs": {"parameterType": "NUMBER_INTEGER"}}},
        "outputDefinitions": {"artifacts": {"model": {"artifactType": {
            "schemaTitle": "system.Model", "schemaVersion": "0.0.1"}}}}}


def test_seed_data_set_is_a_pvc_created_mounted_and_always_deleted(seed: list[Doc]) -> None:
    spec, platform = seed
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"createpvc-imagenet", "exit-handler-1", "deletepvc-imagenet"}
    assert tasks["createpvc-imagenet"]["inputs"]["parameters"] == {
        "access_modes": {"runtimeValue": {"constant": ["ReadWriteMany"]}},
        "pvc_name_suffix": {"runtimeValue": {"constant": "-imagenet"}},
        "size": {"runtimeValue": {"constant": "500Gi"}}}
    executors = spec["deploymentSpec"]["executors"]
    assert executors["exec-createpvc-imagenet"] == {"container": {"image": "argostub/createpvc"}}
    assert executors["exec-deletepvc-imagenet"] == {"container": {"image": "argostub/deletepvc"}}
    delete = tasks["deletepvc-imagenet"]
    assert delete["dependentTasks"] == ["exit-handler-1"]  # the exit hook sits on one task
    assert delete["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert delete["inputs"]["parameters"]["pvc_name"] == {"taskOutputParameter": {
        "producerTask": "createpvc-imagenet", "outputParameterKey": "name"}}
    handler = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert set(handler) == {"preload-imagenet", "validate", "train", "evaluate", "condition-2"}
    mounts = {name: config["pvcMount"] for name, config in
              platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items()}
    channel = {"componentInputParameter": "pipelinechannel--createpvc-imagenet-name"}
    expected = [{"mountPath": "/cache/imagenet", "pvcNameParameter": channel, **channel}]
    assert mounts == {"exec-preload-imagenet": expected, "exec-validate": expected,
                      "exec-train": expected}


# ---- fixtures ----------------------------------------------------------------------------

def test_downstream_of_a_gated_step_reads_it_through_the_group() -> None:
    spec = compile_path(FIXTURES / "gates.cnai")[0]
    condition = spec["components"]["comp-condition-1"]
    assert condition["dag"]["outputs"] == {
        "parameters": {"pipelinechannel--both-z": {"valueFromParameter": {
            "producerSubtask": "both", "outputParameterKey": "z"}}},
        "artifacts": {"pipelinechannel--both-m": {"artifactSelectors": [{
            "producerSubtask": "both", "outputArtifactKey": "m"}]}}}
    _, downstream = find_task(spec, "downstream")
    assert downstream["dependentTasks"] == ["condition-1"]  # skipped with it
    assert downstream["inputs"]["parameters"]["both_z"] == {"taskOutputParameter": {
        "producerTask": "condition-1", "outputParameterKey": "pipelinechannel--both-z"}}
    group, nested = group_of(spec, "gated-on-gated")
    assert group == "condition-4"
    assert nested["dependentTasks"] == ["condition-1"]
    assert nested["inputs"]["parameters"]["pipelinechannel--both-z"] == {"taskOutputParameter": {
        "producerTask": "condition-1", "outputParameterKey": "pipelinechannel--both-z"}}


def test_two_data_sets_nest_two_exit_handlers() -> None:
    spec, platform = compile_path(FIXTURES / "datasets.cnai")
    assert set(spec["root"]["dag"]["tasks"]) == {
        "createpvc-images", "exit-handler-1", "deletepvc-images"}
    outer = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert set(outer) == {"createpvc-labels", "exit-handler-2", "deletepvc-labels"}
    assert outer["deletepvc-labels"]["dependentTasks"] == ["exit-handler-2"]
    assert outer["exit-handler-2"]["inputs"]["parameters"][
        "pipelinechannel--createpvc-images-name"] == {
        "componentInputParameter": "pipelinechannel--createpvc-images-name"}
    inner = spec["components"]["comp-exit-handler-2"]["dag"]["tasks"]
    assert set(inner) == {"preload-images", "preload-labels", "index", "condition-3"}
    assert inner["condition-3"]["triggerPolicy"]["condition"] == (
        "int(inputs.parameter_values['pipelinechannel--index-rows']) > 100 && "
        "inputs.parameter_values['pipelinechannel--go']")
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert [m["mountPath"] for m in executors["exec-index"]["pvcMount"]] == [
        "/data/images", "/data/labels"]


def test_features_map_to_kfp_fields() -> None:
    spec, platform = compile_path(FIXTURES / "features.cnai",
                                  Options(gpu_label_key="example.com/gpu"))
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["sizes"] == {"parameterType": "LIST", "defaultValue": [1, 2, 3],
                               "isOptional": True}
    assert params["fast"]["parameterType"] == "BOOLEAN"
    assert params["notes"] == {"parameterType": "STRING"}  # no default: required at run time
    container = spec["deploymentSpec"]["executors"]["exec-prepare"]["container"]
    assert step_command(container["command"])[2] == "--name={{$.inputs.parameters['name']}}"
    assert container["args"] == ["--rounds", "{{$.inputs.parameters['rounds']}}", "--json",
                                 '{"a": 1}']
    assert container["env"] == [{"name": "MODE", "value": "strict"}]
    assert container["resources"] == {"resourceCpuLimit": "500m", "cpuLimit": 0.5,
                                      "resourceMemoryLimit": "512Mi", "memoryLimit": 0.536870912}
    _, prepare = find_task(spec, "prepare")
    assert prepare["cachingOptions"] == {"enableCache": True}
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["exec-prepare"]["secretAsEnv"] == [
        {"secretName": "hub", "secretNameParameter": {"runtimeValue": {"constant": "hub"}},
         "keyToEnv": [{"secretKey": "token", "envVar": "TOKEN"},
                      {"secretKey": "key", "envVar": "KEY"}], "optional": False},
        {"secretName": "db", "secretNameParameter": {"runtimeValue": {"constant": "db"}},
         "keyToEnv": [{"secretKey": "url", "envVar": "DB"}], "optional": False}]
    assert executors["exec-train"]["nodeSelector"] == {
        "labels": {"example.com/gpu": "NVIDIA-A100-SXM4-80GB"}}
    assert executors["exec-train"]["activeDeadlineSeconds"] == "7200"
    createpvc = spec["root"]["dag"]["tasks"]["createpvc-corpus"]["inputs"]["parameters"]
    assert createpvc["storage_class_name"] == {"runtimeValue": {"constant": "fast-ssd"}}
    assert createpvc["access_modes"] == {"runtimeValue": {"constant": ["ReadWriteOnce"]}}


def test_steps_of_one_shape_share_a_component() -> None:
    # dedupe_templates: the words that differ become arguments with constant values.
    spec, platform = compile_text("""
pipeline shared {
  scheduling { spot = true }
  dataset d { source = "pvc://warehouse/images"  path = "/d"  size = "1Gi" }
  step a { image = "t"  command = ["run", "--seed", "1"]  mount d }
  step b { image = "t"  command = ["run", "--seed", "2"]  mount d }
}""")
    pipeline_spec(spec)
    tasks = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert tasks["a"]["componentRef"] == tasks["b"]["componentRef"] == {"name": "comp-a"}
    assert "comp-b" not in spec["components"]
    assert tasks["b"]["inputs"]["parameters"] == {"arg3": {"runtimeValue": {"constant": "2"}}}
    assert step_command(spec["deploymentSpec"]["executors"]["exec-a"]["container"]["command"]) == [
        "run", "--seed", "{{$.inputs.parameters['arg3']}}"]
    executors = platform_spec(platform)
    assert set(executors) == {"exec-a", "exec-preload-d"}
    config = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert config["exec-a"]["nodeSelector"] == {"labels": {"cloud.google.com/gke-spot": "true"}}
    assert config["exec-a"]["tolerations"] == [{"key": "cloud.google.com/gke-spot",
                                                "operator": "Equal", "value": "true",
                                                "effect": "NoSchedule"}]
    # A pvc:// source: the preload mounts the claim where the Argo target mounts it.
    assert config["exec-preload-d"]["pvcMount"][1] == {
        "mountPath": "/cnai/source/warehouse", "constant": "warehouse",
        "pvcNameParameter": {"runtimeValue": {"constant": "warehouse"}}}


def test_shared_executors_and_channels_are_the_first_steps() -> None:
    # The backend builds a shared executor's config once (set or empty) and a param's or an
    # output's channel once: each step still reads its own producer, and a shape without pod
    # settings gets no platform config though a later shape has one.
    spec, platform = compile_text("""
pipeline shared {
  param lr: float = 0.1
  step a { image = "t"  command = ["run", "${lr}", outputs.x]  output x: float }
  step b { image = "t"  command = ["run", "${lr}", a.x, outputs.x]  output x: float }
  step c { image = "t"  command = ["run", "${lr}", a.x, outputs.x]  output x: float }
  step d { image = "t"  command = ["run", "${lr}", b.x, outputs.x]  output x: float }
  step e { image = "u"  command = ["go", c.x, d.x]  timeout = "1m" }
}""")
    pipeline_spec(spec)
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["b"]["componentRef"] == tasks["c"]["componentRef"] == tasks["d"]["componentRef"]
    for task, producer in (("b", "a"), ("c", "a"), ("d", "b")):
        assert tasks[task]["inputs"]["parameters"] == {
            "lr": {"componentInputParameter": "lr"},
            "input2": {"taskOutputParameter": {"producerTask": producer,
                                               "outputParameterKey": "x"}}}
    assert tasks["e"]["dependentTasks"] == ["c", "d"]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors == {"exec-e": {"activeDeadlineSeconds": "60"}}


def test_generated_names_never_take_a_step_name() -> None:
    spec = compile_text("""
pipeline names {
  param x: int = 1
  dataset data { source = "s3://b/d"  path = "/d"  size = "1Gi" }
  step exit_handler_1 { image = "a"  command = ["a"] }
  step createpvc_data { image = "a"  command = ["a"] }
  step condition_2 { image = "a"  command = ["a"] }
  step gated when x > 0 { image = "a"  command = ["a"]  mount data }
}""")[0]
    assert set(spec["root"]["dag"]["tasks"]) == {"createpvc-data-2", "exit-handler-2",
                                                  "deletepvc-data"}
    assert group_of(spec, "gated")[0] == "condition-3"
    pipeline_spec(spec)


# ---- what KFP cannot express ----------------------------------------------------------------

UNSUPPORTED = {
    "env value with a reference, no command": (
        'param p: string = "x"\n  step s { image = "a"  env { V = "${p}" } }',
        "step `s` has no `command`, and the environment variable `V` holds a reference: on "
        "Kubeflow that takes an `sh` prefix before the command"),
    "fixed output path, no command": (
        'step s { image = "a"  output o: string at "/tmp/o" }\n'
        '  step t { image = "a"  command = ["t", s.o] }',
        "step `s` has no `command`, and output `o` is written to a fixed path: on Kubeflow "
        "that takes an `sh` prefix before the command"),
    "the status marker": (
        'step s { image = "a"  command = ["echo", "%CNAI_PIPELINE_STATUS%"] }',
        "step `s` has `%CNAI_PIPELINE_STATUS%` in its text, which stands for "
        "`pipeline.status` on Kubeflow"),
    "condition clause": (
        'step s { image = "a"  args = ["{\\"IfPresent\\": {}}"] }',
        'an argument of step `s` starts with `{"IfPresent":`, which KFP\'s driver reads as a '
        "condition"),
}


@pytest.mark.parametrize("body, message", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_what_kfp_cannot_express_is_a_diagnostic(body: str, message: str) -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_text(f"pipeline p {{\n  {body}\n}}\n")
    errors = [d for d in failure.value.diagnostics if d.code.startswith("E")]
    assert [(d.code, d.message) for d in errors] == [("E0401", message)]


def test_each_step_with_a_word_kfp_cannot_hold_is_told() -> None:
    # The backend renders a literal word once for all containers: a word it refuses is
    # refused again for every step that has it (kept apart by their images).
    with pytest.raises(CompileFailed) as failure:
        compile_text('pipeline p {\n'
                     '  step s { image = "a"  command = ["echo", "%CNAI_PIPELINE_STATUS%"] }\n'
                     '  step t { image = "b"  command = ["echo", "%CNAI_PIPELINE_STATUS%"] }\n'
                     '}\n')
    assert [d.message for d in failure.value.diagnostics if d.code == "E0401"] == [
        f"step `{name}` has `%CNAI_PIPELINE_STATUS%` in its text, which stands for "
        "`pipeline.status` on Kubeflow" for name in ("s", "t")]


def test_cli_reports_unsupported_without_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "bad.cnai"
    source.write_text('pipeline p {\n  step s { image = "a"  output o: int '
                      'at "/o" }\n  step t { image = "a"  command = ["t", s.o] }\n}\n')
    result = cli_compile(source, tmp_path / "out.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith("error[E0401]: step `s` has no `command`")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_yaml_text_round_trips(seed: list[Doc]) -> None:
    text = (ROOT / "tests/golden/model_pipeline.kfp.yaml").read_text()
    assert yaml_documents(text) == seed
