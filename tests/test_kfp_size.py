"""The run Workflow Kubeflow makes of a pipeline (backends/kfp_size.py) and W0404.

The model is checked against Kubeflow's own compiler: tests/fixtures/kfp/run_workflow holds
PipelineSpecs with the Workflows that backend/src/v2/compiler/argocompiler made of them
(kubeflow/pipelines 2.17.0, its golden files); each is rebuilt here and must match, byte
for byte once the container hashes are renamed (Go hashes its own struct encoding).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from cnai import compile_source
from cnai.backends import kfp_size
from cnai.backends.kfp_size import go_json, run_workflow, run_workflow_size, stable_json
from cnai.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kfp" / "run_workflow"
CASES = sorted(p.name.removesuffix(".pipeline.yaml") for p in FIXTURES.glob("*.pipeline.yaml"))
sys.path.insert(0, str(ROOT / "bench"))
from generate import generate  # noqa: E402


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with each string of ``names`` replaced whole (a placeholder or a name)."""
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("case", CASES)
def test_rebuilds_kubeflows_own_run_workflow(case: str) -> None:
    documents = _load(FIXTURES / f"{case}.pipeline.yaml")
    [expected] = _load(FIXTURES / f"{case}.workflow.yaml")
    # Go's encoder writes a zero creationTimestamp as null; KFP's golden writer leaves it out.
    expected["metadata"]["creationTimestamp"] = None
    built = run_workflow(documents, api_server=False)
    arguments = built["spec"]["arguments"]["parameters"]
    ours = {(p["name"].split("-")[0], p["value"]): p["name"] for p in arguments}
    names = {}
    for param in expected["spec"]["arguments"]["parameters"]:
        if param["name"] in [p["name"] for p in arguments]:  # kubernetes-<component>, DAGs
            continue
        name = ours[param["name"].split("-")[0], param["value"]]
        names[param["name"]] = name
        names[f"{{{{workflow.parameters.{param['name']}}}}}"] = (
            f"{{{{workflow.parameters.{name}}}}}")
    expected = _renamed(expected, names)
    by_name = {t["name"]: t for t in expected["spec"].pop("templates")}
    templates = {t["name"]: t for t in built["spec"].pop("templates")}
    assert templates == by_name
    assert built == expected
    built["spec"]["templates"] = list(templates.values())
    expected["spec"]["templates"] = list(by_name.values())
    assert run_workflow_size(documents, api_server=False) == len(go_json(expected).encode())


def test_components_of_one_container_share_their_arguments() -> None:
    """hashComponentContainer: three components running one container are saved once."""
    documents = _load(FIXTURES / "pipeline_with_reused_component.pipeline.yaml")
    assert len(documents[0]["components"]) == 3
    names = [p["name"] for p in run_workflow(documents)["spec"]["arguments"]["parameters"]]
    assert sorted(n.split("-")[0] for n in names) == ["components", "components",
                                                      "implementations"]


def _kfp(text: str) -> list[dict[str, Any]]:
    return compile_source(text, "p.cnai", target="kfp").documents


def test_task_json_is_protojson() -> None:
    """stable_json of our tasks and components is what Go's protojson, re-encoded, writes:
    checked against the kfp-pipeline-spec protos (json_format follows protojson's rules)."""
    spec = _kfp((ROOT / "tests" / "fixtures" / "kfp" / "features.cnai").read_text())[0]
    messages = [(t, pipeline_spec_pb2.PipelineTaskSpec())
                for c in [spec["root"], *spec["components"].values()] if "dag" in c
                for t in c["dag"]["tasks"].values()]
    messages += [(c, pipeline_spec_pb2.ComponentSpec()) for c in spec["components"].values()]
    messages += [(e["container"], pipeline_spec_pb2.PipelineDeploymentConfig
                  .PipelineContainerSpec()) for e in spec["deploymentSpec"]["executors"].values()]
    assert len(messages) > 10
    for value, message in messages:
        json_format.ParseDict(value, message)
        protojson = kfp_size._go_numbers(json_format.MessageToDict(message))
        assert stable_json(value) == go_json(protojson)
    uncached = [t for t, _ in messages if t.get("cachingOptions") == {"enableCache": False}]
    assert uncached and all('"cachingOptions":{}' in stable_json(t) for t in uncached)


def test_steps_of_one_shape_share_one_component_in_the_run() -> None:
    """The IR gives steps of one shape one component, one executor and one platform config;
    the run Workflow then embeds each once, and per task only the task's JSON."""
    steps = "\n".join(
        f'  step s{i} {{ image = "busybox:1.3{i % 2}"  command = ["sh", "-c", "echo hi"]\n'
        '    env { TOKEN = secret("hub", "token") } }' for i in range(6))
    documents = _kfp(f"pipeline p {{\n{steps}\n}}\n")
    spec = documents[0]
    assert len(spec["deploymentSpec"]["executors"]) == 2
    assert len(documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]) == 2
    names = [p["name"] for p in run_workflow(documents)["spec"]["arguments"]["parameters"]]
    assert sorted(n.split("-")[0] for n in names) == (
        ["components"] * 3 + ["implementations"] * 2 + ["kubernetes"] * 2)
    tasks = [t for t in run_workflow(documents)["spec"]["templates"] if t["name"] == "root"]
    assert len(tasks[0]["dag"]["tasks"]) == 12  # a driver and an executor per step


def _w0404(steps: int) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    result = compile_source(generate(steps), "b.cnai", target="kfp")
    return result.documents, [d for d in result.warnings if d.code == "W0404"]


def test_w0404_when_the_run_would_pass_argos_limit() -> None:
    """The generated layered DAG: 524 steps fit in 1 MiB, 329 under 700 KB (docs/kfp.md)."""
    documents, [close] = _w0404(524)
    assert run_workflow_size(documents) <= kfp_size.LIMIT_BYTES
    assert close.message.endswith("close to Argo's limit of 1 MiB; what a run adds to it may "
                                  "pass the limit")
    documents, [over] = _w0404(525)
    assert over.severity.value == "warning"
    assert over.message == (
        "a run of this pipeline on Kubeflow makes an Argo Workflow of about 1.00 MiB; Argo "
        "refuses Workflows over 1 MiB, so its runs would fail")
    assert over.help[1] == (
        "Kubeflow writes each task's JSON twice into the run's Workflow, with a driver and an "
        f"executor task: 526 tasks here, at least {kfp_size.task_floor()} bytes each; split "
        "the pipeline into pipelines of fewer steps")
    assert len(_w0404(330)[1]) == 1
    assert _w0404(329)[1] == []


@pytest.mark.parametrize("case", CASES)
def test_task_floor_is_a_lower_bound(case: str) -> None:
    """Past the limit by the floor alone, W0404 reports the floor: it must never exceed the
    Workflow the model builds."""
    documents = _load(FIXTURES / f"{case}.pipeline.yaml")
    tasks = kfp_size.container_tasks(documents[0])
    assert tasks and tasks * kfp_size.task_floor() < run_workflow_size(documents)


def test_w0404_reports_the_floor_past_the_limit() -> None:
    documents, warnings = _w0404(1200)
    floor = kfp_size.container_tasks(documents[0]) * kfp_size.task_floor()
    assert kfp_size.LIMIT_BYTES < floor < run_workflow_size(documents)
    assert [w.message for w in warnings] == [
        f"a run of this pipeline on Kubeflow makes an Argo Workflow of at least "
        f"{floor / 2**20:.2f} MiB; Argo refuses Workflows over 1 MiB, so its runs would fail"]


def _whole_size(documents: list[dict[str, Any]], api_server: bool = True) -> int:
    """The model's Workflow written out whole: what run_workflow_size measures without it."""
    return len(go_json(run_workflow(documents, api_server)).encode())


@pytest.mark.parametrize("case", CASES)
def test_measured_size_is_the_whole_workflows(case: str) -> None:
    """run_workflow_size counts the JSON texts the Workflow embeds instead of writing them
    again (RunWorkflow.embed): byte for byte what the whole Workflow's JSON is."""
    documents = _load(FIXTURES / f"{case}.pipeline.yaml")
    for api_server in (True, False):
        assert run_workflow_size(documents, api_server) == _whole_size(documents, api_server)


@pytest.mark.parametrize("shapes", [50, None])
def test_measured_size_of_generated_pipelines(shapes: int | None) -> None:
    documents = compile_source(generate(60, shapes=shapes), "b.cnai", target="kfp").documents
    assert run_workflow_size(documents) == _whole_size(documents)


def test_measured_size_counts_escapes_and_other_scripts() -> None:
    """Quotes, backslashes, Go's escaped <>& and text beyond ASCII in what a task embeds."""
    documents = _kfp(
        'pipeline p {\n  param note: string = "a \\"b\\" \\\\ <c> & d é 字 \u2028"\n'
        '  step s { image = "busybox:1.36"  command = ["sh", "-c", "echo \'<x>\' & é \\\\n"]\n'
        '    env { NOTE = note } }\n'
        '  step t after s { image = "busybox:1.36"  command = ["echo", "字 \\"q\\""] }\n}\n')
    text = go_json(run_workflow(documents))
    assert all(part in text for part in ("\\\\u003c", "\\\\\\\\", "é", "字"))
    assert run_workflow_size(documents) == _whole_size(documents)


def _spec(tasks: dict[str, dict[str, Any]], kubernetes: bool) -> list[dict[str, Any]]:
    components = {t["componentRef"]["name"] for t in tasks.values()}
    spec = {"pipelineInfo": {"name": "p"}, "root": {"dag": {"tasks": tasks}},
            "components": {c: {"executorLabel": f"exec-{c}"} for c in components},
            "deploymentSpec": {"executors": {f"exec-{c}": {"container": {
                "image": "busybox:1.36", "command": [c]}} for c in components}}}
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {
        f"exec-{c}": {"nodeSelector": {"labels": {"pool": c}}} for c in components}}}}}
    return [spec, platform] if kubernetes else [spec]


@pytest.mark.parametrize("kubernetes", [False, True])
def test_counted_container_tasks_are_the_built_ones(kubernetes: bool) -> None:
    """A plain container task's driver and executor are counted, not built, when measuring
    (RunWorkflow.counted_task): with and without depends, a condition and a kubernetes
    config, names written with escapes and beyond ASCII, next to tasks built in full (a
    retry policy, an exit hook) and alone in their DAG."""
    names = ["a", "b-2", 'q"uo\\te', "<&>", "é字", "tab\there", "\u2028x", "z" * 40]
    tasks: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        task: dict[str, Any] = {"componentRef": {"name": f"comp-{names[i % 3]}"},
                                "taskInfo": {"name": name}}
        if i % 2:
            task["dependentTasks"] = names[:i]
        if i % 3 == 1:
            task["triggerPolicy"] = {"condition": "inputs.parameter_values['x'] > 1"}
        tasks[name] = task
    for alone in (True, False):
        documents = _spec(tasks, kubernetes)
        assert run_workflow_size(documents) == _whole_size(documents)
        assert run_workflow_size(documents, False) == _whole_size(documents, False)
        if alone:  # then with tasks task() builds in full beside the counted ones
            tasks["retried"] = {"componentRef": {"name": "comp-a"}, "taskInfo": {"name": "r"},
                                "retryPolicy": {"maxRetryCount": 2}}
            tasks["hook"] = {"componentRef": {"name": "comp-a"}, "taskInfo": {"name": "h"},
                             "dependentTasks": ["a"],
                             "triggerPolicy": {"strategy": kfp_size.EXIT_STRATEGY}}


def test_counted_tasks_of_one_dag_alone() -> None:
    """Every task of the DAG counted: the list written holds none of them."""
    tasks = {n: {"componentRef": {"name": "comp-a"}, "taskInfo": {"name": n}} for n in "abc"}
    documents = _spec(tasks, kubernetes=False)
    model = kfp_size.RunWorkflow(documents[0], measure=True)
    workflow = model.workflow()
    assert [t["dag"]["tasks"] for t in workflow["spec"]["templates"]
            if t["name"] == "root"] == [[]]
    assert run_workflow_size(documents) == _whole_size(documents)
