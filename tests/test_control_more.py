"""More control flow (issue #18, item 4): locks (``mutexes``, ``semaphores``). What each
target makes of them, what the checker refuses, where, and ``cnai run --local`` holding them."""

from __future__ import annotations

import itertools
from typing import Any

import schemacheck
from cnai.driver import CompileFailed, compile_source
from test_run_local import RunLocal, run_local  # noqa: F401  (the fixture)
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
