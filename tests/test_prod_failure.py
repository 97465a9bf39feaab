"""Workflow hygiene and failure handling: what each target makes of the run's
own settings (timeout, ttl, pod_gc, parallelism, labels, annotations, run_priority), of
retries that tell errors from failures, ``continue_on_failure``, ``after X.failed`` /
``after X.done``; what the checker refuses, where; and ``cnai run --local`` agreeing with
Argo's rules (lowering/outcomes.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import schemacheck
from cnai.driver import CompileFailed, compile_source
from cnai.lowering import build_plan
from cnai.lowering.outcomes import accepts, dag_failed, retried
from cnai.semantics import ir
from exprlang import evaluate
from test_kfp_support import platform_spec
from test_run_local import RunLocal, run_local  # noqa: F401  (the fixture)
from testpaths import FIXTURES

VALID = FIXTURES / "valid"


def compiled(source: str, target: str = "argo") -> list[dict[str, Any]]:
    return compile_source(source, "t.cnai", target).documents


def codes(source: str, target: str = "argo") -> list[tuple[str, str, str]]:
    """(code, message, the text its span covers) of each diagnostic, errors or warnings."""
    try:
        result = compile_source(source, "t.cnai", target)
        found = result.warnings
    except CompileFailed as failure:
        found = failure.diagnostics
    return [(d.code, d.message, source[d.span.start:d.span.end]) for d in found]


def tasks(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    main = next(t for t in spec["templates"] if t["name"] == "main")
    return {t["name"]: t for t in main["dag"]["tasks"]}


def templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    return {t["name"]: t for t in spec["templates"]}


# ---- the run's own settings -----------------------------------------------------------------

def test_argo_puts_the_runs_settings_on_the_workflow() -> None:
    (workflow,) = compiled((VALID / "prod_hygiene.cnai").read_text())
    schemacheck.assert_valid(workflow)
    spec, metadata = workflow["spec"], workflow["metadata"]
    assert spec["activeDeadlineSeconds"] == 6 * 3600
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 86400}
    assert spec["podGC"] == {"strategy": "OnWorkflowCompletion"}
    assert spec["priority"] == 5
    assert metadata["labels"] == {"team": "ml", "app.kubernetes.io/part-of": "nightly",
                                  "cnai.dev/pipeline": "prod-hygiene"}
    assert metadata["annotations"] == {"example.com/owner": "ml platform",
                                       "runbook": "https://wiki/ml/nightly"}
    # The pipeline's timeout is the run's, not every step's: `prepare` has none of its own,
    # `train` keeps its own.
    found = templates(workflow)
    assert "activeDeadlineSeconds" not in found[tasks(workflow)["prepare"]["template"]]
    assert found[tasks(workflow)["train"]["template"]]["activeDeadlineSeconds"] == "7200"


def test_a_cron_workflows_runs_carry_the_labels_and_annotations() -> None:
    (cron,) = compiled((VALID / "argo_failure.cnai").read_text())
    schemacheck.assert_valid(cron)
    assert cron["kind"] == "CronWorkflow"
    run = cron["spec"]["workflowMetadata"]
    assert run["labels"] == {"team": "ml", "cnai.dev/pipeline": "argo-failure"}
    assert run["annotations"] == {"example.com/owner": "ml-platform"}
    assert cron["spec"]["workflowSpec"]["parallelism"] == 3


def test_parallelism_is_the_tighter_of_the_pipelines_and_the_gpu_quotas() -> None:
    source = """pipeline p {
      parallelism = 5
      quota { gpu = 4 }
      step a { image = "i"  resources { gpu = 2 } }
    }"""
    (workflow, *_) = compiled(source)
    assert workflow["spec"]["parallelism"] == 2


def test_kfp_writes_timeout_and_ttl_in_the_pipeline_config() -> None:
    documents = compiled((VALID / "prod_hygiene.cnai").read_text(), "kfp")
    platform = json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec(),
                                     ignore_unknown_fields=False)
    config = platform.platforms["kubernetes"].pipelineConfig
    assert (config.active_deadline_seconds, config.resource_ttl_on_completion) == (21600,
                                                                                   86400)
    configs = platform_spec(documents[1])  # the executors still parse strictly
    assert [c.active_deadline_seconds for c in configs.values()] == [7200]


def test_kfp_warns_of_the_settings_it_ignores() -> None:
    found = codes((VALID / "prod_hygiene.cnai").read_text(), "kfp")
    assert [(code, message) for code, message, _ in found] == [
        ("W0405", f"`{name}` has no effect on Kubeflow")
        for name in ("pod_gc", "labels", "annotations", "run_priority")]


@pytest.mark.parametrize(("text", "message"), [
    ("parallelism = 2", "Kubeflow has no run-wide limit on pods at once"),
])
def test_kfp_refuses_a_run_wide_pod_limit(text: str, message: str) -> None:
    found = codes(f'pipeline p {{ {text}  step a {{ image = "i" }} }}', "kfp")
    assert [(c, m) for c, m, _ in found] == [("E0401", message)]


@pytest.mark.parametrize(("step", "message"), [
    ("continue_on_failure = true",
     "`a` continues on failure: a Kubeflow run fails with any of its tasks"),
    ('retry { limit = 2  on = "error" }',
     "`a` retries only some failures: Kubeflow's retry policy retries every failed attempt"),
    ("retry { limit = 2  exit_codes = [1] }",
     "`a` retries only some failures: Kubeflow's retry policy retries every failed attempt"),
])
def test_kfp_refuses_failure_handling_it_cannot_express(step: str, message: str) -> None:
    found = codes(f'pipeline p {{ step a {{ image = "i"  {step} }} }}', "kfp")
    assert [(c, m) for c, m, _ in found] == [("E0401", message)]


@pytest.mark.parametrize("outcome", ["failed", "done"])
def test_kfp_refuses_waiting_for_an_outcome(outcome: str) -> None:
    source = (f'pipeline p {{ step a {{ image = "i" }}  '
              f'step b after a.{outcome} {{ image = "i" }} }}')
    ((code, message, span),) = codes(source, "kfp")
    assert (code, span) == ("E0401", "a")
    assert message.startswith(f"`after a.{outcome}`: Kubeflow runs a task after")


# ---- retries, continue_on_failure, outcomes on Argo --------------------------------------------

def test_argo_retry_policies_and_exit_codes() -> None:
    (cron,) = compiled((VALID / "argo_failure.cnai").read_text())
    found = templates(cron)
    train = found["train"]["retryStrategy"]
    assert train == {"limit": "3", "retryPolicy": "OnFailure",
                     "expression": "lastRetry.exitCode in ['1', '137']"}
    # Argo passes the exit code as a string, "-1" when the attempt has none.
    for code, retried_ in (("137", True), ("1", True), ("2", False), ("-1", False)):
        assert evaluate(train["expression"], {"lastRetry": {"exitCode": code}}) is retried_
    assert found["preempted"]["retryStrategy"]["retryPolicy"] == "OnError"
    (plain,) = compiled('pipeline p { step a { image = "i"  retry { limit = 1 } } }')
    assert templates(plain)["a"]["retryStrategy"]["retryPolicy"] == "Always"


def test_argo_depends_on_outcomes_and_continues_on_failure() -> None:
    (cron,) = compiled((VALID / "argo_failure.cnai").read_text())
    found = tasks(cron)
    assert found["lint"]["continueOn"] == {"error": True, "failed": True}
    assert found["publish"]["depends"] == (
        "(lint.Succeeded || lint.Failed || lint.Errored) && train.Succeeded")
    assert found["rollback"]["depends"] == "(train.Failed || train.Errored)"
    assert found["report"]["depends"] == (
        "preempted.Succeeded && (train.Succeeded || train.Failed || train.Errored)")
    assert "continueOn" not in found["publish"]


def test_a_failed_handler_may_be_skipped_so_its_outputs_get_defaults() -> None:
    source = """pipeline p {
      step a { image = "i" }
      step fix after a.failed { image = "i"  command = ["fix", outputs.n]  output n: int }
      step reader after fix { image = "i"  command = ["read", fix.n] }
    }"""
    plan = build_plan(compile_source(source, "t.cnai", "argo").graph)  # type: ignore[arg-type]
    assert {"fix", "reader"} <= plan.skippable
    assert plan.member("fix").may_skip


# ---- the rules, shared by Argo's rendering and the local runner --------------------------------

def test_outcomes_accept_argo_phases() -> None:
    assert accepts("succeeded", "Succeeded") and not accepts("succeeded", "Failed")
    assert accepts("failed", "Error") and not accepts("failed", "Succeeded")
    assert all(accepts("done", p) for p in ("Succeeded", "Failed", "Error"))
    assert not accepts("done", "Omitted")


def test_a_dag_fails_only_through_an_unhandled_failure() -> None:
    source = """pipeline p {
      step a { image = "i" }
      step fix after a.failed { image = "i" }
      step b { image = "i" }
      step c after b { image = "i" }
    }"""
    plan = build_plan(compile_source(source, "t.cnai", "argo").graph)  # type: ignore[arg-type]
    members = plan.members(None)
    handled = {"a": "Failed", "fix": "Succeeded", "b": "Succeeded", "c": "Succeeded"}
    assert not dag_failed(members, handled.__getitem__, lambda _: False)
    unhandled = {**handled, "b": "Failed", "c": "Omitted"}
    assert dag_failed(members, unhandled.__getitem__, lambda _: False)
    leaf = {**handled, "c": "Failed"}
    assert not dag_failed(members, leaf.__getitem__, lambda name: name == "c")


@pytest.mark.parametrize(("on", "codes_", "errored", "exit_code", "expected"), [
    ("any", [], True, None, True), ("any", [], False, 1, True),
    ("error", [], False, 1, False), ("error", [], True, None, True),
    ("failure", [], True, None, False), ("failure", [137], False, 137, True),
    ("any", [137], False, 1, False), ("any", [137], True, None, False),
])
def test_which_attempts_are_retried(on: ir.RetryOn, codes_: list[int], errored: bool,
                                    exit_code: int | None, expected: bool) -> None:
    retry = ir.Retry(limit=1, on=on, exit_codes=codes_)
    assert retried(retry, errored, exit_code) is expected


# ---- the checker --------------------------------------------------------------------------

PIPELINE_BAD = [
    ('ttl = 3', "E0201", "expected a string, found an integer", "3"),
    ('timeout = "forever"', "E0207", 'invalid duration "forever"', '"forever"'),
    ('pod_gc = "always"', "E0208",
     '`pod_gc` is one of "on_pod_success", "on_pod_completion", "on_workflow_success", '
     '"on_workflow_completion"', '"always"'),
    ("parallelism = 0", "E0208", "`0` is below the minimum 1", "0"),
    ('run_priority = "high"', "E0201", "expected an integer, found a string", '"high"'),
    ('labels { "Team/x" = "ml" }', "E0208", "`Team/x` is not a valid key", '"Team/x"'),
    ('labels { team = "not ok" }', "E0208", 'invalid label value "not ok"', '"not ok"'),
    ("labels { team = 3 }", "E0201", "expected a string, found an integer", "3"),
    ('labels { team = "a"  team = "b" }', "E0110", "label `team` is set twice", "team"),
    ('annotations { "-bad" = "x" }', "E0208", "`-bad` is not a valid key", '"-bad"'),
    ('labels = "x"', "E0201", "`labels` is a block", "labels"),
]


@pytest.mark.parametrize(("text", "code", "message", "span"), PIPELINE_BAD)
def test_bad_pipeline_settings(text: str, code: str, message: str, span: str) -> None:
    found = codes(f'pipeline p {{\n  {text}\n  step a {{ image = "i" }}\n}}')
    assert found == [(code, message, span)]


STEP_BAD = [
    ('continue_on_failure = "yes"', "E0201", "expected `true` or `false`, found a string",
     '"yes"'),
    ('retry { limit = 1  on = "errors" }', "E0208",
     '`on` is one of "any", "error", "failure"', '"errors"'),
    ("retry { limit = 1  exit_codes = 1 }", "E0201", "`exit_codes` is a list of exit codes",
     "1"),
    ('retry { limit = 1  exit_codes = ["1"] }', "E0201", "expected an integer, found a string",
     '"1"'),
    ("retry { limit = 1  exit_codes = [0] }", "E0208", "`0` is below the minimum 1", "0"),
    ("retry { limit = 1  exit_codes = [1, 1] }", "E0110", "exit code 1 is listed twice", "1"),
    ('retry { limit = 1  on = "error"  exit_codes = [1] }', "E0208",
     '`exit_codes` are a failure\'s; `on = "error"` retries lost pods only, which exit with '
     "none", "[1]"),
    ("retry { limit = 1  exit_code = [1] }", "E0105", "unknown field `exit_code` in retry",
     "exit_code"),
]


@pytest.mark.parametrize(("text", "code", "message", "span"), STEP_BAD)
def test_bad_step_settings(text: str, code: str, message: str, span: str) -> None:
    found = codes(f'pipeline p {{\n  step a {{ image = "i"  {text} }}\n}}')
    assert found == [(code, message, span)]


def test_an_unknown_outcome_lists_the_outcomes() -> None:
    source = 'pipeline p { step a { image = "i" }  step b after a.faild { image = "i" } }'
    try:
        compile_source(source, "t.cnai", "argo")
    except CompileFailed as failure:
        (diagnostic,) = failure.diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E0208", "unknown outcome `faild`")
    assert source[diagnostic.span.start:diagnostic.span.end] == "faild"
    assert diagnostic.help[0] == "did you mean `failed`?"
    assert "`failed`" in diagnostic.help[-1] and "`done`" in diagnostic.help[-1]


def test_an_outcome_across_a_loop_is_refused() -> None:
    source = """pipeline p {
      step a { image = "i" }
      for x in [1, 2] { step b after a.failed { image = "i" } }
    }"""
    ((code, message, span),) = codes(source)
    assert (code, span) == ("E0401", "a.failed")
    assert message == "`after a.failed` waits for a step in another loop"


# ---- defaults and templates -------------------------------------------------------------------

def test_a_templates_failure_settings_reach_its_steps_and_a_step_overrides_them() -> None:
    source = """pipeline p {
      timeout = "1h"
      template flaky() {
        image = "i"
        continue_on_failure = true
        retry { limit = 2  on = "error" }
      }
      step a { use flaky() }
      step b { use flaky()  continue_on_failure = false  retry { limit = 1  on = "failure" } }
    }"""
    graph = compile_source(source, "t.cnai", "argo").graph
    assert graph is not None
    a, b = graph.step("a"), graph.step("b")
    assert (a.continue_on_failure, a.retry) == (True, ir.Retry(limit=2, on="error"))
    assert (b.continue_on_failure, b.retry) == (False, ir.Retry(limit=1, on="failure"))
    # The pipeline's timeout is the run's: no step takes it.
    assert graph.timeout_seconds == 3600 and a.timeout_seconds is None
    (workflow,) = compiled(source)
    assert tasks(workflow)["a"]["template"] != tasks(workflow)["b"]["template"]


# ---- cnai run --local -------------------------------------------------------------------------

def test_local_a_handled_failure_does_not_fail_the_run(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("failure.cnai")
    assert run.code == 0 and run.data["status"] == "Succeeded"
    assert run.status("flaky") == "Failed"
    assert run.node("flaky")["attempts"] == 1  # exit 3 is not among the codes retried
    assert run.status("lint") == "Failed"
    assert [run.status(s) for s in ("publish", "rollback", "report")] == ["Succeeded"] * 3
    assert "rolled back" in run.log("rollback")


def test_local_an_unhandled_failure_fails_the_run(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("unhandled.cnai")
    assert run.code == 1 and run.data["status"] == "Failed"
    assert run.node("broken")["attempts"] == 1  # `on = "error"`: a non-zero exit is no error
    assert run.status("next") == "Omitted"
    assert run.status("fine") == "Succeeded"
    assert run.status("on_fine_failed") == "Omitted"


@pytest.mark.parametrize(("code", "status", "alert"), [
    ("0", "Succeeded", "Skipped"), ("3", "Failed", "Succeeded")])
def test_local_a_finally_step_gated_on_the_pipelines_status(
        run_local: RunLocal, code: str, status: str, alert: str) -> None:  # noqa: F811
    run = run_local("status_gate.cnai", "-p", f"code={code}")
    assert run.data["status"] == status
    assert (run.status("alert"), run.status("tidy")) == (alert, "Succeeded")


def test_argo_gates_a_finally_step_on_the_workflows_status() -> None:
    source = (FIXTURES / "local" / "status_gate.cnai").read_text()
    (workflow,) = compiled(source)
    schemacheck.assert_valid(workflow)
    final = templates(workflow)[workflow["spec"]["onExit"]]
    alert = next(t for t in final["dag"]["tasks"] if t["name"] == "alert")
    assert alert["when"] == '{{=workflow.status == "Failed"}}'
    for phase, runs in (("Failed", True), ("Error", False), ("Succeeded", False)):
        body = alert["when"][3:-2]
        assert evaluate(body, {"workflow": {"status": phase}}) is runs


def test_kfp_refuses_a_gate_on_the_pipelines_status() -> None:
    source = (FIXTURES / "local" / "status_gate.cnai").read_text()
    ((code, message, span),) = codes(source, "kfp")
    assert (code, span) == ("E0401", 'pipeline.status == "Failed"')
    assert message.startswith("a gate on `pipeline.status`")


def test_pipeline_status_gates_only_in_finally() -> None:
    source = 'pipeline p { step a when pipeline.status == "Failed" { image = "i" } }'
    assert codes(source) == [("E0201", "`pipeline.status` is known only in `finally`",
                              "pipeline.status")]


def test_local_the_pipelines_timeout_stops_the_run(run_local: RunLocal) -> None:  # noqa: F811
    run = run_local("run_timeout.cnai")
    assert run.code == 1 and run.data["status"] == "Failed"
    assert run.status("slow") == "Failed"
    assert run.node("slow")["message"] == "stopped: the pipeline's timeout passed"
    assert run.status("later") == "Failed"
    assert run.status("tidy") == "Succeeded"
    assert "tidy Failed" in run.log("tidy")


def test_a_failure_handler_cannot_read_the_failed_steps_outputs() -> None:
    source = """pipeline p {
      step a { image = "i"  command = ["a", outputs.n]  output n: int }
      step fix after a.failed { image = "i"  command = ["fix", a.n] }
    }"""
    assert codes(source) == [
        ("E0201", "`fix` runs after `a.failed` but reads its output `n`", "a.n")]


def test_an_edge_implied_only_through_a_failure_handler_is_kept() -> None:
    source = """pipeline p {
      step a { image = "i" }
      step b after a.failed { image = "i" }
      step c after a, b { image = "i" }
    }"""
    (workflow,) = compiled(source)
    assert tasks(workflow)["c"]["depends"] == "a.Succeeded && b.Succeeded"


# ---- the Argo output and the local runner agree -------------------------------------------------

_DEPENDED = re.compile(r"([\w-]+)\.(?:Succeeded|Failed|Errored)")


def argo_run(workflow: dict[str, Any], ends: dict[str, str]) -> tuple[dict[str, str], str]:
    """The main DAG as Argo's controller runs it (workflow/controller/dag.go, v4.1.2): a task
    whose ``depends`` (expr-lang over its dependencies' TaskResults) is false is Omitted,
    else it ends as ``ends`` says; the DAG fails when a task nothing depends on has a failed
    branch phase (its own, or, Omitted, its dependencies') and no ``continueOn`` for it
    (assessDAGPhase)."""
    found = tasks(workflow)
    waits = {name: _DEPENDED.findall(task.get("depends", "")) for name, task in found.items()}
    phases: dict[str, str] = {}
    while len(phases) < len(found):
        for name, task in found.items():
            if name in phases or any(w not in phases for w in waits[name]):
                continue
            scope = {w.replace("-", "_"): {"Succeeded": phases[w] == "Succeeded",
                                           "Failed": phases[w] == "Failed",
                                           "Errored": phases[w] == "Error"} for w in waits[name]}
            depends = task.get("depends", "").replace("-", "_")
            runs = not depends or evaluate(depends, scope)
            phases[name] = ends[name] if runs else "Omitted"
    branch: dict[str, str] = {}
    for name in phases:  # dependencies first: `found` is in an order Argo accepts
        inherited = [branch[w] for w in waits[name] if branch[w] in ("Failed", "Error")]
        branch[name] = phases[name] if phases[name] != "Omitted" else (
            inherited[0] if inherited else "Succeeded")
    targets = set(found) - {w for names in waits.values() for w in names}
    failed = any(branch[t] in ("Failed", "Error") and not found[t].get("continueOn")
                 for t in targets)
    return phases, "Failed" if failed else "Succeeded"


@pytest.mark.parametrize("fixture", ["failure.cnai", "unhandled.cnai"])
def test_argo_and_the_local_runner_agree(run_local: RunLocal, fixture: str) -> None:  # noqa: F811
    run = run_local(fixture)
    (workflow,) = compiled((FIXTURES / "local" / fixture).read_text())
    ran = {n["id"].replace("_", "-"): n["status"] for n in run.data["nodes"]}  # task names
    ends = {name: ran[name] if ran[name] != "Omitted" else "Succeeded" for name in ran}
    phases, status = argo_run(workflow, ends)
    assert phases == ran
    assert status == run.data["status"]


def test_a_failure_handler_cut_from_its_step_by_partitioning_is_refused() -> None:
    """Over Argo's 200 tasks a DAG is cut into parts, and a later part waits for the earlier
    ones to succeed (lowering/partition.py): a handler of `s0`'s failure in a later part would
    never run, so the compile refuses it rather than emitting it; one part is fine."""
    def pipeline(width: int) -> str:
        steps = ['  step s0 { image = "busybox" }']
        steps += [f'  step a{i} after s0 {{ image = "busybox"  command = ["run", "{i}"] }}'
                  for i in range(width)]
        steps.append('  step h after s0.failed { image = "busybox" }')
        return "pipeline big {\n" + "\n".join(steps) + "\n}\n"

    with pytest.raises(CompileFailed) as failure:
        compile_source(pipeline(250), "t.cnai", "argo")
    ((code, message),) = [(d.code, d.message) for d in failure.value.diagnostics]
    assert code == "E0401" and message.startswith("`h` waits for `s0` to fail or end")
    compile_source(pipeline(150), "t.cnai", "argo")
