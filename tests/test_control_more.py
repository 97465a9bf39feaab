"""More control flow (issue #18, item 4): locks (``mutexes``, ``semaphores``), approvals
(``suspend``), stdout as an output. What each target makes of them, what the checker refuses,
where, and what ``cnai run --local`` does with them."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from kfp import components
from kfp.pipeline_spec import pipeline_spec_pb2

import schemacheck
from cnai import compile_file
from cnai.driver import CompileFailed, compile_source
from k8s_expansion import run_container
from test_kfp_support import pipeline_spec
from test_run_local import RunLocal, run_local  # noqa: F401  (the fixture)
from test_runtime_contract_kfp import SHELLS, shell_command, with_own_command
from testpaths import FIXTURES

VALID = FIXTURES / "valid"


def compiled(source: str, target: str = "argo") -> list[dict[str, Any]]:
    return compile_source(source, "t.cnai", target).documents


def codes(source: str, target: str = "argo") -> list[tuple[str, str, str]]:
    """(code, message, the text its span covers) of each diagnostic, errors or warnings."""
    try:
        found = compile_source(source, "t.cnai", target).warnings
    except CompileFailed as failure:
        found = failure.diagnostics
    return [(d.code, d.message, source[d.span.start:d.span.end]) for d in found]


def templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


# ---- locks ----------------------------------------------------------------------------------

def test_argo_puts_a_steps_locks_on_its_template_and_the_pipelines_on_the_workflow() -> None:
    (workflow,) = compiled((VALID / "argo_locks.cnai").read_text())
    schemacheck.assert_valid(workflow)
    assert workflow["spec"]["synchronization"] == {"mutexes": [{"name": "nightly"}]}
    found = templates(workflow)
    assert found["train"]["synchronization"] == {
        "mutexes": [{"name": "gpu-node-1"}],
        "semaphores": [{"configMapKeyRef": {"name": "limits", "key": "train"}}]}
    assert found["tune"]["synchronization"] == {
        "semaphores": [{"configMapKeyRef": {"name": "limits", "key": "train"}}]}
    assert found["deploy"]["synchronization"] == {"mutexes": [{"name": "deploy"}]}
    assert "synchronization" not in found["main"]


def test_steps_with_different_locks_never_share_a_template() -> None:
    step = 'step {0} {{ image = "x"  command = ["run"]  mutexes = ["{1}"] }}'
    source = f"pipeline p {{\n{step.format('a', 'm')}\n{step.format('b', 'n')}\n}}\n"
    found = templates(compiled(source)[0])
    assert found["a"]["synchronization"] != found["b"]["synchronization"]


def test_a_cron_workflows_runs_each_hold_the_pipelines_locks() -> None:
    source = ('pipeline p {\n  schedule = "0 2 * * *"\n  mutexes = ["nightly"]\n'
              '  step a { image = "x" }\n}\n')
    (cron,) = compiled(source)
    schemacheck.assert_valid(cron)
    assert cron["spec"]["workflowSpec"]["synchronization"] == {
        "mutexes": [{"name": "nightly"}]}


def test_a_distributed_steps_locks_are_held_by_its_job_template() -> None:
    source = ('pipeline p {\n  step t {\n    image = "x"\n    mutexes = ["gpus"]\n'
              '    distributed pytorch { workers = 2 }\n  }\n}\n')
    (workflow,) = compiled(source)
    schemacheck.assert_valid(workflow)
    assert templates(workflow)["t"]["synchronization"] == {"mutexes": [{"name": "gpus"}]}


def test_kfp_refuses_locks_naming_the_pipeline_and_each_step() -> None:
    source = (VALID / "argo_locks.cnai").read_text()
    found = codes(source, "kfp")
    assert [(code, message, text.split()[0]) for code, message, text in found] == [
        ("E0401", "pipeline `argo_locks` holds mutex `nightly`: Kubeflow has no locks between "
         "runs", "pipeline"),
        ("E0401", "`train` holds mutex `gpu-node-1`, semaphore `limits` `train`: Kubeflow has "
         "no locks between tasks", "train"),
        ("E0401", "`tune` holds semaphore `limits` `train`: Kubeflow has no locks between "
         "tasks", "tune"),
        ("E0401", "`deploy` holds mutex `deploy`: Kubeflow has no locks between tasks",
         "deploy")]


def test_local_steps_holding_one_mutex_run_one_at_a_time(
        run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("locks.cnai")
    assert run.code == 0 and run.data["status"] == "Succeeded"
    spans = sorted((float(run.output(f"work[{i}]", "start")),
                    float(run.output(f"work[{i}]", "end"))) for i in range(3))
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


# ---- approvals (suspend) ----------------------------------------------------------------------

def test_argo_makes_an_approval_a_suspend_template_before_the_steps_own_task() -> None:
    (workflow,) = compiled((VALID / "argo_approval.cnai").read_text())
    schemacheck.assert_valid(workflow)
    found = templates(workflow)
    assert found["approve"] == {"name": "approve", "suspend": {}}
    assert found["deploy-approval"] == {"name": "deploy-approval",
                                        "suspend": {"duration": "2h"}}
    assert found["announce"] == {"name": "announce", "suspend": {"duration": "1h30m"}}
    assert "container" in found["deploy"]
    tasks = {t["name"]: t for t in found["main"]["dag"]["tasks"]}
    # The approval carries the step's dependencies and gate; the container waits for it.
    assert tasks["deploy-approval"]["depends"] == "approve.Succeeded && train.Succeeded"
    assert "train" in tasks["deploy-approval"]["when"] and "when" not in tasks["deploy"]
    assert tasks["deploy"]["depends"] == "deploy-approval.Succeeded"
    assert tasks["announce"]["depends"] == "deploy.Succeeded"


def test_kfp_refuses_an_approval_naming_the_step() -> None:
    source = (VALID / "argo_approval.cnai").read_text()
    assert [(code, text) for code, _, text in codes(source, "kfp")] == [
        ("E0401", "approve"), ("E0401", "deploy"), ("E0401", "announce")]
    message = codes(source, "kfp")[0][1]
    assert message == ("`approve` waits for approval (`suspend`): a Kubeflow task cannot be "
                       "suspended and resumed")


def test_an_approval_step_has_no_container_settings() -> None:
    source = 'pipeline p {\n  step a {\n    suspend = true\n    env { A = "1" }\n  }\n}\n'
    assert codes(source) == [("E0208", "`env` on `a`, an approval step without an image",
                              "env")]


def test_local_run_approves_at_once(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("approval.cnai")
    assert run.code == 0 and run.data["status"] == "Succeeded"
    assert run.node("approve")["message"] == ("approved at once: cnai run --local does not "
                                              "wait for `suspend`")
    assert "deployed" in run.log("deploy")


# ---- stdout as an output --------------------------------------------------------------------

def _argo_captures(dag: dict[str, Any], task: str) -> bool:
    """Whether Argo's controller captures ``task``'s stdout in the DAG template ``dag``: it
    does when the template's JSON names ``tasks.TASK.outputs.result`` or
    ``tasks['TASK'].outputs.result`` (workflow/controller/operator.go, hasOutputResultRef)."""
    text = json.dumps(dag)
    return bool(re.search(rf"tasks\.{task}\.outputs\.result", text)
                or re.search(rf"tasks\[['\"]{task}['\"]\]\.outputs.result", text))


def test_argo_reads_a_stdout_output_as_the_tasks_result() -> None:
    (workflow,) = compiled((VALID / "control_stdout.cnai").read_text())
    schemacheck.assert_valid(workflow)
    found = templates(workflow)
    assert "outputs" not in found["count"] and "outputs" not in found["shout"]
    tasks = {t["name"]: t for t in found["main"]["dag"]["tasks"]}
    assert tasks["report"]["arguments"]["parameters"] == [
        {"name": "count_n", "value": "{{tasks.count.outputs.result}}"}]
    assert "tasks['count'].outputs.result" in tasks["report"]["when"]
    assert _argo_captures(found["main"], "count")
    body = found["for-word-body"]
    assert body["outputs"]["parameters"][0]["valueFrom"]["expression"] == (
        "tasks['shout'].status == 'Succeeded' ? toJson([tasks['shout'].outputs.result]) : '[]'")
    assert _argo_captures(body, "shout")


def test_a_stdout_output_read_only_by_a_gate_is_still_captured() -> None:
    source = ('pipeline p {\n  step a {\n    image = "x"\n    command = ["n"]\n'
              '    output n: int at stdout\n  }\n'
              '  step b when a.n > 1 { image = "x"  command = ["b"] }\n}\n')
    (workflow,) = compiled(source)
    assert _argo_captures(templates(workflow)["main"], "a")


def test_kfp_copies_stdout_into_the_outputs_file(tmp_path: Path) -> None:
    compiled_file = compile_file(VALID / "control_stdout.cnai", "kfp")
    components.load_component_from_text(compiled_file.text)  # kfp 2.17.3 loads it
    documents = compiled_file.documents
    spec = pipeline_spec(documents[0])
    assert spec.components["comp-count"].output_definitions.parameters["n"].parameter_type == (
        pipeline_spec_pb2.ParameterType.NUMBER_INTEGER)
    container = documents[0]["deploymentSpec"]["executors"]["exec-count"]["container"]
    argv, _ = run_container(container)  # as the kubelet expands it
    out = tmp_path / "n"
    for shell in SHELLS:
        for own, code, value in ((["printf", "42\\n\\n"], 0, "42"),
                                 (["sh", "-c", "echo 7; exit 3"], 3, None)):
            out.unlink(missing_ok=True)
            words = [w.replace("{{$.outputs.parameters['n'].output_file}}", str(out))
                     for w in with_own_command(argv, own)]
            result = subprocess.run([*shell_command(shell), *words[1:]], capture_output=True,
                                    text=True, timeout=60, check=False)
            assert result.returncode == code, (shell, result.stderr)
            assert result.stdout.startswith("42" if code == 0 else "7")  # still in the log
            if value is not None:
                assert out.read_text() == value


def test_local_run_reads_stdout_outputs(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("stdout.cnai")
    assert run.code == 0 and run.data["status"] == "Succeeded"
    assert run.output("count", "n") == 42
    assert run.output("shout[0]", "loud") == "A" and run.output("shout[1]", "loud") == "B"
    assert run.status("report") == "Succeeded"
    assert "counted 42" in run.log("report")
    assert "42" in run.log("count")  # stdout is in the log too


# ---- a pipeline used as a step --------------------------------------------------------------

def test_argo_runs_a_nested_pipelines_steps_with_its_arguments() -> None:
    (workflow,) = compile_file(VALID / "control_nested.cnai", "argo").documents
    schemacheck.assert_valid(workflow)
    tasks = {t["name"]: t for t in templates(workflow)["main"]["dag"]["tasks"]}
    assert {"prep-clean", "prep-count", "prep-audit"} <= set(tasks)
    assert tasks["prep-clean"]["arguments"]["parameters"] == [
        {"name": "source", "value": "{{workflow.parameters.src}}"},
        {"name": "rows", "value": "{{tasks.size.outputs.result}}"}]
    # `after prep` waits for every step of it; `prep.n` is read from the step that makes it.
    assert tasks["report"]["depends"] == (
        "prep-audit.Succeeded && prep-clean.Succeeded && prep-count.Succeeded")
    assert {"name": "prep_n", "value": "{{tasks.prep-count.outputs.parameters.n}}"} in (
        tasks["report"]["arguments"]["parameters"])
    body = {t["name"] for t in templates(workflow)["for-k-body"]["dag"]["tasks"]}
    assert body == {"sample-clean", "sample-count", "sample-audit"}


def test_kfp_runs_a_nested_pipelines_steps() -> None:
    compiled_file = compile_file(VALID / "control_nested.cnai", "kfp")
    components.load_component_from_text(compiled_file.text)  # kfp 2.17.3 loads it
    documents = compiled_file.documents
    spec = pipeline_spec(documents[0])
    assert {"prep-clean", "prep-count", "report"} <= set(spec.root.dag.tasks)
    assert set(spec.components) >= {"comp-prep-clean", "comp-sample-clean"}


def test_local_run_of_a_nested_pipeline(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("pipeline_step.cnai")
    assert run.code == 0 and run.data["status"] == "Succeeded"
    assert run.output("prep_clean", "summary") == "s3://datasets/images 10"
    assert run.output("prep_count", "n") == 6
    assert run.status("prep_audit") == "Succeeded"
    assert [run.output(f"sample_count[{i}]", "n") for i in (0, 1)] == [2, 3]
    assert "report ['s3://datasets/images 10', '6']" in run.log("report")


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder / "main.cnai"


def _check(path: Path) -> list[tuple[str, str, str]]:
    try:
        found = compile_source(path.read_text(), str(path), "argo").warnings
    except CompileFailed as failure:
        found = failure.diagnostics
    return [(d.code, d.message, Path(d.span.file).name) for d in found]


def test_names_inside_a_nested_pipeline_are_its_own(tmp_path: Path) -> None:
    main = _write(tmp_path, {
        "inner.cnai": 'pipeline inner {\n  param n: int = 1\n'
                      '  step work { image = "x"  command = ["w", "${n}"] }\n}\n',
        "main.cnai": 'import "inner.cnai"\npipeline main {\n  param n: int = 2\n'
                     '  step work { image = "x"  command = ["w", "${n}"] }\n'
                     '  step inner { use inner(n = n) }\n}\n'})
    (workflow,) = compile_source(main.read_text(), str(main), "argo").documents
    assert {t["name"] for t in templates(workflow)["main"]["dag"]["tasks"]} == {
        "work", "inner-work"}


def test_a_nested_pipeline_cannot_set_its_runs_settings(tmp_path: Path) -> None:
    source = (FIXTURES / "imports" / "lib" / "run_settings_pipeline.cnai").read_text()
    main = _write(tmp_path, {"timed.cnai": source, "main.cnai": (
        'import "timed.cnai"\npipeline main {\n  step t { use timed() }\n}\n')})
    assert _check(main) == [
        ("E0201", "output `bad` is an output of a step: `STEP.OUTPUT`", "timed.cnai")]
    main = _write(tmp_path, {"timed.cnai": source.replace("  output bad: int = a.missing\n",
                                                          "")})
    assert _check(main) == [
        ("E0401", "pipeline `timed` sets its run's own `timeout`, which a pipeline used as a "
         "step cannot", "main.cnai")]


def test_an_import_cycle_of_pipelines_is_refused(tmp_path: Path) -> None:
    main = _write(tmp_path, {
        "a.cnai": 'import "main.cnai"\npipeline a { step s { image = "x" } }\n',
        "main.cnai": 'import "a.cnai"\npipeline main { step a { use a() } }\n'})
    assert [code for code, _, _ in _check(main)] == ["E0111"]


def test_what_a_nested_pipeline_gives_is_not_reported_unread(tmp_path: Path) -> None:
    main = _write(tmp_path, {
        "inner.cnai": 'pipeline inner {\n  step s {\n    image = "x"\n    command = ["s"]\n'
                      '    output given: int at stdout\n    output kept: int at "/k"\n  }\n'
                      '  output given: int = s.given\n}\n',
        "main.cnai": 'import "inner.cnai"\npipeline main {\n  step a { use inner() }\n}\n'})
    assert _check(main) == [("W0103", "output `kept` of `a_s` is never read", "inner.cnai")]
